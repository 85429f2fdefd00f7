//! Field types: the words that say a type ("decimal", "yes/no"), the type a unit implies ("in
//! minutes", "in kg"), the type a field's name implies when nothing is said ("due date",
//! "price"), and a field's type in words for the reply.

use crate::spec::{Field, FieldType};

pub(crate) fn type_word(w: &str) -> Option<FieldType> {
    Some(match w {
        "string" | "str" | "varchar" | "name" => FieldType::String,
        "text" | "paragraph" | "markdown" => FieldType::Text,
        "integer" | "int" | "whole" | "count" => FieldType::Integer,
        "number" | "float" | "decimal" | "double" | "numeric" | "money" | "decimals" => {
            FieldType::Number
        }
        "boolean" | "bool" | "flag" | "checkbox" | "yes-no" => FieldType::Boolean,
        "date" => FieldType::Date,
        "datetime" | "timestamp" | "time" => FieldType::Datetime,
        "email" | "e-mail" => FieldType::Email,
        "url" | "link" | "uri" => FieldType::Url,
        _ => return None,
    })
}

/// The type a unit of measure implies: counts of time, cents and bytes are whole numbers,
/// other measures decimal.
pub(super) fn unit_type(w: &str) -> Option<FieldType> {
    Some(match w {
        "minutes" | "minute" | "mins" | "min" | "seconds" | "second" | "secs" | "sec" | "days"
        | "weeks" | "months" | "years" | "cents" | "bytes" | "pages" => FieldType::Integer,
        "hours" | "hrs" | "kg" | "kgs" | "kilos" | "kilograms" | "g" | "grams" | "lbs" | "lb"
        | "pounds" | "oz" | "ounces" | "km" | "kms" | "kilometers" | "kilometres" | "miles"
        | "mi" | "meters" | "metres" | "m" | "m2" | "sqm" | "sqft" | "ft" | "feet" | "cm"
        | "mm" | "inches" | "liters" | "litres" | "l" | "ml" | "dollars" | "usd" | "eur"
        | "euros" | "euro" | "gbp" | "percent" | "percentage" | "celsius" | "fahrenheit"
        | "degrees" | "mph" | "kmh" | "kb" | "mb" | "gb" | "watts" | "kw" | "kwh" | "calories"
        | "kcal" => FieldType::Number,
        _ => return None,
    })
}

/// Words that name a field whose values are a fixed set: "a status of draft or sent".
pub(in crate::spec::read) const FIELD_WORDS: &[&str] = &[
    "status",
    "state",
    "type",
    "kind",
    "category",
    "priority",
    "level",
    "stage",
    "role",
    "size",
    "color",
    "colour",
    "gender",
    "plan",
    "tier",
    "genre",
    "difficulty",
    "severity",
    "visibility",
    "format",
    "method",
    "mode",
    "source",
    "channel",
    "frequency",
    "condition",
    "currency",
    "language",
    "rating",
    "grade",
    "shift",
    "season",
    "weather",
    "mood",
    "style",
    "variety",
];

/// Whether "<word> time" is how long something takes ("cooking", "prep", "wait") rather than
/// when it happens ("opening", "start").
fn takes_time(word: &str) -> bool {
    let when = matches!(
        word,
        "opening"
            | "closing"
            | "starting"
            | "ending"
            | "meeting"
            | "boarding"
            | "morning"
            | "evening"
            | "wedding"
            | "landing"
    );
    word.ends_with("ing") && !when
        || matches!(
            word,
            "prep"
                | "preparation"
                | "wait"
                | "travel"
                | "response"
                | "lead"
                | "turnaround"
                | "cook"
                | "bake"
                | "run"
                | "screen"
                | "play"
                | "transit"
                | "commute"
                | "setup"
                | "build"
                | "down"
                | "idle"
                | "rest"
        )
}

pub(in crate::spec::read) fn infer_type(name: &str) -> FieldType {
    let last = name.rsplit('_').next().unwrap_or(name);
    let first = name.split('_').next().unwrap_or(name);
    if matches!(first, "is" | "has" | "can" | "allow" | "allows")
        || matches!(
            name,
            "done"
                | "completed"
                | "complete"
                | "active"
                | "enabled"
                | "archived"
                | "verified"
                | "paid"
                | "available"
                | "visible"
                | "public"
                | "private"
                | "read"
                | "starred"
                | "featured"
                | "pinned"
                | "approved"
                | "finished"
                | "resolved"
                | "in_stock"
        )
    {
        return FieldType::Boolean;
    }
    if matches!(
        last,
        "date" | "birthday" | "dob" | "deadline" | "day" | "birth"
    ) || name.ends_with("_on")
        || name.starts_with("date_")
    {
        return FieldType::Date;
    }
    // "phone number", "license number": an identifier written with digits, kept as text.
    if last == "number"
        && name.split('_').any(|w| {
            matches!(
                w,
                "phone"
                    | "mobile"
                    | "telephone"
                    | "cell"
                    | "fax"
                    | "license"
                    | "licence"
                    | "plate"
                    | "serial"
                    | "tracking"
                    | "account"
                    | "card"
                    | "passport"
                    | "reference"
                    | "registration"
                    | "vat"
                    | "tax"
                    | "social"
                    | "policy"
                    | "contact"
                    | "isbn"
                    | "part"
                    | "sku"
                    | "iban"
                    | "routing"
                    | "member"
                    | "membership"
                    | "order"
                    | "invoice"
                    | "booking"
                    | "confirmation"
                    | "id"
                    | "ticket"
                    | "flight"
            )
        })
    {
        return FieldType::String;
    }
    // "cooking time", "prep time", "wait time": how long something takes, not when.
    let words: Vec<&str> = name.split('_').collect();
    if last == "time" && words.len() >= 2 && takes_time(words[words.len() - 2]) {
        return FieldType::Integer;
    }
    if matches!(last, "time" | "timestamp" | "datetime" | "at") {
        return FieldType::Datetime;
    }
    if matches!(last, "email" | "mail") {
        return FieldType::Email;
    }
    if matches!(
        last,
        "url" | "website" | "link" | "homepage" | "uri" | "site"
    ) {
        return FieldType::Url;
    }
    if matches!(
        last,
        "price"
            | "amount"
            | "cost"
            | "rating"
            | "score"
            | "weight"
            | "height"
            | "width"
            | "length"
            | "latitude"
            | "longitude"
            | "lat"
            | "lng"
            | "balance"
            | "total"
            | "salary"
            | "percentage"
            | "rate"
            | "budget"
            | "temperature"
            | "distance"
            | "fee"
            | "tax"
            | "discount"
    ) {
        return FieldType::Number;
    }
    if matches!(
        last,
        "count"
            | "quantity"
            | "age"
            | "year"
            | "pages"
            | "stock"
            | "number"
            | "qty"
            | "position"
            | "rank"
            | "duration"
            | "minutes"
            | "seconds"
            | "hours"
            | "days"
            | "capacity"
            | "size"
            | "votes"
            | "likes"
            | "views"
            | "level"
            | "floor"
            | "seats"
            | "servings"
            | "calories"
            | "priority"
            | "order"
            | "credits"
            | "year_published"
            | "copies"
            | "attempts"
            | "points"
    ) {
        return FieldType::Integer;
    }
    if matches!(
        last,
        "description"
            | "body"
            | "content"
            | "notes"
            | "note"
            | "bio"
            | "summary"
            | "details"
            | "comment"
            | "text"
            | "message"
            | "biography"
            | "instructions"
            | "abstract"
            | "review"
            | "ingredients"
            | "steps"
            | "answer"
            | "question"
    ) {
        return FieldType::Text;
    }
    FieldType::String
}

/// Whether a field named `name`, with nothing said of its type, could as well be a number as a
/// label: its word names a set of choices ("priority", "size", "level", "rating") and the
/// inferred type is a number. The product manager asks rather than let the guess stand silently.
pub(in crate::spec::read) fn uncertain_type(name: &str) -> bool {
    let last = name.rsplit('_').next().unwrap_or(name);
    FIELD_WORDS.contains(&last)
        && matches!(infer_type(name), FieldType::Integer | FieldType::Number)
}

/// A short human description of a field: `date, required`.
pub(crate) fn describe_field(f: &Field) -> String {
    let mut s = match &f.ty {
        FieldType::Enum { values } => format!("one of {}", values.join("/")),
        other => crate::spec::type_label(other).to_owned(),
    };
    if f.required {
        s.push_str(", required");
    }
    if f.unique {
        s.push_str(", unique");
    }
    s
}
