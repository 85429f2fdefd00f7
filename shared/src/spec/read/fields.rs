//! Field lists: "a title, a priority from low/medium/high and a done flag" → fields.
//!
//! An item is a noun phrase with its modifiers: a type before or after it ("a text
//! description", "an estimate as a number", "(integer)", ": date"), choices ("from
//! low/medium/high", "(todo, in progress, done)", "one of a, b or c"), a unit that says the type
//! and is not part of the name ("in minutes", "in kg"), yes/no markers, "required", "unique",
//! "optional", and trailing words that only explain it ("for stuff like …", "too").

use super::{ident, is_sep, SpecChange, ARTICLES, FIELD_NOUNS};
use crate::spec::{check_identifier, Field, FieldType};

// ---------------------------------------------------------------------------------------------
// Fields

#[derive(Debug, Default)]
pub(super) struct FieldDraft {
    pub(super) words: Vec<String>,
    explicit: Option<FieldType>,
    enum_values: Vec<String>,
    required: Option<bool>,
    unique: bool,
    flag: bool,
    number_of: bool,
    /// The type a unit implies ("in minutes" → integer, "in kg" → number).
    unit: Option<FieldType>,
    /// "which desk": the item points at another thing.
    pub(super) pointer: bool,
    /// The rest of the item only explains it ("for stuff like …", "since …").
    closed: bool,
}

impl FieldDraft {
    /// Whether the item says its type (so it is a field, not a link).
    pub(super) fn has_type(&self) -> bool {
        self.explicit.is_some()
            || !self.enum_values.is_empty()
            || self.flag
            || self.number_of
            || self.unit.is_some()
    }
}

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
fn unit_type(w: &str) -> Option<FieldType> {
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
pub(super) const FIELD_WORDS: &[&str] = &[
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

/// Field names common enough that a run of them without commas is a list.
pub(super) const COMMON_FIELDS: &[&str] = &[
    "name",
    "email",
    "phone",
    "title",
    "date",
    "address",
    "price",
    "description",
    "notes",
    "status",
    "city",
    "country",
    "age",
    "bio",
    "website",
    "url",
    "quantity",
    "amount",
    "total",
    "location",
    "category",
    "type",
    "rating",
    "comment",
    "body",
    "content",
    "time",
    "duration",
    "capacity",
    "position",
    "role",
    "salary",
    "department",
    "company",
    "color",
    "colour",
    "size",
    "weight",
    "height",
    "genre",
    "year",
    "author",
    "isbn",
    "sku",
    "code",
    "priority",
    "level",
    "score",
    "species",
    "breed",
    "gender",
    "summary",
    "slug",
    "image",
    "photo",
    "username",
    "release",
    "instructions",
    "ingredients",
    "servings",
    "description",
];

/// Words after which the rest of an item only explains it.
const EXPLAINERS: &[&str] = &[
    "it",
    "its",
    "for",
    "like",
    "since",
    "because",
    "so",
    "if",
    "when",
    "eg",
    "e",
    "such",
    "i",
    "we",
    "they",
    "that",
    "who",
    "to",
    "where",
    "which",
    "about",
    "including",
    "etc",
    "whatever",
    "incl",
    "maybe",
    "just",
    "but",
    "unless",
    "except",
];
/// Words that only qualify an item.
const QUALIFIERS: &[&str] = &[
    "too",
    "also",
    "etc",
    "please",
    "pls",
    "plus",
    "again",
    "instead",
    "actually",
    "really",
    "basically",
    "probably",
    "maybe",
    "currently",
    "own",
];
/// Words between "whether" and the quality it asks about.
const WHETHER_FILLERS: &[&str] = &[
    "it",
    "its",
    "been",
    "has",
    "have",
    "is",
    "are",
    "was",
    "were",
    "they",
    "theyre",
    "re",
    "currently",
    "already",
    "still",
    "the",
    "a",
    "an",
    "be",
    "being",
    "got",
    "gotten",
    "or",
    "not",
    "he",
    "she",
    "hes",
    "shes",
    "we",
    "were",
    "item",
    "this",
    "one",
];

/// Splits a field list into drafts: "a title, a priority from low/medium/high and a done flag".
pub(super) fn parse_fields(words: &[&str]) -> Vec<FieldDraft> {
    let mut out = Vec::new();
    let mut cur = FieldDraft::default();
    let mut i = 0;
    let flush = |cur: &mut FieldDraft, out: &mut Vec<FieldDraft>| {
        // "name email phone": common field names in a row, with no commas, are a list.
        if cur.words.len() >= 3
            && cur
                .words
                .iter()
                .all(|w| COMMON_FIELDS.contains(&w.as_str()))
        {
            let last = std::mem::take(cur);
            for w in &last.words[..last.words.len() - 1] {
                out.push(FieldDraft {
                    words: vec![w.clone()],
                    ..FieldDraft::default()
                });
            }
            out.push(FieldDraft {
                words: vec![last.words[last.words.len() - 1].clone()],
                ..last
            });
        } else if !cur.words.is_empty() {
            out.push(std::mem::take(cur));
        } else {
            *cur = FieldDraft::default();
        }
    };
    while i < words.len() {
        let w = words[i];
        let next = words.get(i + 1).copied();
        if is_sep(w) {
            flush(&mut cur, &mut out);
            i += 1;
            continue;
        }
        if w == "(" {
            let end = words[i..]
                .iter()
                .position(|t| *t == ")")
                .map_or(words.len(), |e| e + i);
            read_parenthesis(&mut cur, &words[i + 1..end]);
            i = end + 1;
            continue;
        }
        if cur.closed {
            i += 1;
            continue;
        }
        // yes/no, y/n, true/false: a flag.
        if matches!(w, "yes" | "y" | "true")
            && next == Some("/")
            && words
                .get(i + 2)
                .is_some_and(|n| matches!(*n, "no" | "n" | "false"))
        {
            cur.flag = true;
            i += 3;
            continue;
        }
        match w {
            "whether" | "hectares" | "hectare" | "ha" | "acres" | "acre" | "tonnes" | "tons"
            | "tonne" | "brix" | "ppm" | "psi" | "volts" | "amps" => {
                // "whether it's been paid or not" → paid
                let mut j = i + 1;
                let mut quality = Vec::new();
                while j < words.len() && !is_sep(words[j]) && words[j] != "or" {
                    if !WHETHER_FILLERS.contains(&words[j]) {
                        quality.push(words[j].to_owned());
                    }
                    j += 1;
                }
                if let Some(q) = quality.pop() {
                    cur.words.push(q);
                    cur.flag = true;
                }
                cur.closed = true;
                i = j;
                continue;
            }
            // "in minutes", "in kg": the unit says the type and leaves the name.
            "in" if next.and_then(unit_type).is_some() && !cur.words.is_empty() => {
                cur.unit = next.and_then(unit_type);
                i += 2;
                continue;
            }
            // "out of 10", "1-5", "1 to 5": a score.
            "out" if next == Some("of") => {
                if cur.unit.is_none() {
                    cur.unit = Some(FieldType::Integer);
                }
                i += 3;
                continue;
            }
            "with" if next.is_some_and(|n| matches!(n, "decimals" | "decimal" | "cents")) => {
                cur.explicit = Some(FieldType::Number);
                i += 2;
                continue;
            }
            _ if !cur.words.is_empty() && is_number_range(w, next, words.get(i + 2).copied()) => {
                if cur.unit.is_none() {
                    cur.unit = Some(FieldType::Integer);
                }
                i += if w.contains('-') { 1 } else { 3 };
                continue;
            }
            "how" if next == Some("many") => {
                cur.number_of = true;
                i += 2;
                continue;
            }
            // "where it is in the house" → location; "how often to water it" → frequency;
            // "how much it costs" → amount.
            "where" | "how" if cur.words.is_empty() => {
                let name = match (w, next) {
                    ("where", _) => "location",
                    (_, Some("often")) => "frequency",
                    (_, Some("much")) => "amount",
                    (_, Some("long")) => "duration",
                    _ => "",
                };
                if !name.is_empty() {
                    cur.words.push(name.to_owned());
                    if name == "frequency" || name == "duration" {
                        // "how often … in days": the unit, if given, still says the type.
                        if let Some(u) = words[i..]
                            .iter()
                            .take_while(|t| !is_sep(t))
                            .find_map(|t| unit_type(t))
                        {
                            cur.unit = Some(u);
                        }
                    }
                    cur.closed = true;
                }
                i += 1;
                continue;
            }
            "from" | "either" | "one" | "be" if !cur.words.is_empty() => {
                let mut j = i + 1;
                if w == "one" && next == Some("of") {
                    j += 1;
                } else if w == "one" {
                    cur.words.push(w.to_owned());
                    i += 1;
                    continue;
                }
                if w == "be" && next == Some("one") && words.get(i + 2) == Some(&"of") {
                    j += 2;
                }
                if w == "be" && next.is_some_and(|n| matches!(n, "either" | "a" | "an")) {
                    j += 1;
                }
                let (values, end) = read_values(words, j);
                if values.len() >= 2 {
                    set_choices(&mut cur, values);
                    i = end;
                    continue;
                }
                if let Some(ty) = words.get(j).copied().and_then(type_word) {
                    cur.explicit = Some(ty);
                    i = j + 1;
                    continue;
                }
                if w == "be"
                    && next.is_some_and(|n| {
                        matches!(n, "empty" | "blank" | "null" | "missing" | "optional")
                    })
                {
                    cur.required = Some(false);
                    i += 2;
                    continue;
                }
                // "a priority from 1 to 5", "a rating from 1-10": a score.
                if let Some(&first) = words.get(j) {
                    if is_number_range(first, words.get(j + 1).copied(), words.get(j + 2).copied())
                    {
                        cur.unit.get_or_insert(FieldType::Integer);
                        i = j + if first.contains('-') { 1 } else { 3 };
                        continue;
                    }
                }
                // "notes from the vet": the rest explains.
                cur.closed = w == "from";
                i += 1;
                continue;
            }
            ":" if !cur.words.is_empty() => {
                let (values, end) = read_values(words, i + 1);
                if values.len() >= 2 {
                    set_choices(&mut cur, values);
                    i = end;
                    continue;
                } else if let Some(ty) = next.and_then(type_word) {
                    cur.explicit = Some(ty);
                    i += 2;
                    continue;
                }
            }
            // "status draft/scheduled/sent": choices right after the name.
            "/" if cur.words.len() >= 2 && cur.enum_values.is_empty() => {
                let first = cur.words.pop().expect("two words");
                let (rest, end) = read_values(words, i + 1);
                if !rest.is_empty() && rest.iter().all(|v| !v.contains('_')) {
                    let mut values = vec![first];
                    values.extend(rest);
                    set_choices(&mut cur, values);
                    i = end;
                    continue;
                }
                // "check in / check out dates": two items sharing the last noun.
                cur.words.push(first);
                let end = words[i + 1..]
                    .iter()
                    .position(|t| is_sep(t) || *t == "(")
                    .map_or(words.len(), |e| e + i + 1);
                let second: Vec<String> =
                    words[i + 1..end].iter().map(|w| (*w).to_owned()).collect();
                if let Some(head) = second
                    .last()
                    .filter(|h| super::looks_plural(h) && second.len() > 1)
                {
                    let one = super::singularize(head);
                    cur.words.push(one.clone());
                    flush(&mut cur, &mut out);
                    let mut next_words = second.clone();
                    *next_words.last_mut().expect("not empty") = one;
                    cur.words = next_words;
                    i = end;
                    continue;
                }
                flush(&mut cur, &mut out);
                i += 1;
                continue;
            }
            "as" if next == Some("well") => {
                i += 2;
                continue;
            }
            "as" | "of" if next.is_some() => {
                // "as a number", "of type date", "number of pages"
                let mut j = i + 1;
                while j < words.len() && (ARTICLES.contains(&words[j]) || words[j] == "type") {
                    j += 1;
                }
                if w == "of"
                    && cur
                        .words
                        .last()
                        .is_some_and(|l| l == "number" || l == "count")
                {
                    cur.words.pop();
                    cur.number_of = true;
                    i += 1;
                    continue;
                }
                if let Some(ty) = words.get(j).copied().and_then(type_word) {
                    cur.explicit = Some(ty);
                    // "as a whole number": one type word, two words.
                    let whole = words[j] == "whole"
                        && words
                            .get(j + 1)
                            .is_some_and(|n| matches!(*n, "number" | "numbers"));
                    i = j + if whole { 2 } else { 1 };
                    continue;
                }
                if w == "of" && cur.words.len() == 1 && FIELD_WORDS.contains(&cur.words[0].as_str())
                {
                    // "a status of draft, sent or paid"
                    let (values, end) = read_values(words, i + 1);
                    if values.len() >= 2 {
                        set_choices(&mut cur, values);
                        i = end;
                        continue;
                    }
                }
                if w == "of" {
                    // "date of birth" keeps its "of"; "description of the work" ends there.
                    if j > i + 1 || cur.words.is_empty() {
                        cur.closed = !cur.words.is_empty();
                    } else {
                        cur.words.push("of".to_owned());
                    }
                    i += 1;
                    continue;
                }
                if w == "as" && !cur.words.is_empty() {
                    cur.closed = true;
                    i += 1;
                    continue;
                }
            }
            "required" | "mandatory" => cur.required = Some(true),
            "optional" | "optionally" | "optionaly" => cur.required = Some(false),
            "unique" | "distinct" => cur.unique = true,
            "flag" | "checkbox" | "boolean" | "bool" => cur.flag = true,
            "which" | "what" if cur.words.is_empty() => cur.pointer = true,
            _ if EXPLAINERS.contains(&w) && !cur.words.is_empty() => cur.closed = true,
            // "the mileage at service" ends at "at"; "created at" keeps it.
            "at" if !cur.words.is_empty()
                && next.is_some_and(|n| !is_sep(n) && type_word(n).is_none()) =>
            {
                cur.closed = true
            }
            // "a placed at datetime", "an estimate decimal": a type word after the name.
            "datetime" | "timestamp" | "integer" | "int" | "decimal" | "float" | "string"
            | "str"
                if !cur.words.is_empty() && next.is_none_or(is_sep) =>
            {
                cur.explicit = type_word(w)
            }
            // "has monitor (yes/no)": a name that starts with "has".
            "has"
                if cur.words.is_empty()
                    && next.is_some_and(|n| !is_sep(n) && !ARTICLES.contains(&n)) =>
            {
                cur.words.push(w.to_owned());
            }
            "which" | "that" | "is" | "are" | "should" | "must" | "can" | "will" | "has"
            | "have" => {}
            _ if QUALIFIERS.contains(&w) => {}
            _ if ARTICLES.contains(&w)
                || FIELD_NOUNS.contains(&w)
                || matches!(w, "," | "/" | ")" | "|") => {}
            _ if type_word(w).is_some()
                && cur.words.is_empty()
                && next.is_some_and(|n| !is_sep(n) && n != "of" && n != "(" && n != ":")
                && w != "name"
                && w != "date"
                && w != "email"
                && w != "url"
                && w != "link"
                && w != "time" =>
            {
                // "a text description", "an integer count" (a type before the name)
                cur.explicit = type_word(w);
            }
            _ => cur.words.push(w.to_owned()),
        }
        i += 1;
    }
    flush(&mut cur, &mut out);
    out
}

/// "1-5", "1 to 5", "0-100": a numeric range.
fn is_number_range(w: &str, next: Option<&str>, after: Option<&str>) -> bool {
    let numeric = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
    match w.split_once('-') {
        Some((a, b)) => numeric(a) && numeric(b),
        None => numeric(w) && next == Some("to") && after.is_some_and(numeric),
    }
}

/// Choices, unless they are a yes/no pair, which is a flag.
fn set_choices(cur: &mut FieldDraft, values: Vec<String>) {
    let yes_no = values.len() == 2
        && matches!(values[0].as_str(), "yes" | "y" | "true")
        && matches!(values[1].as_str(), "no" | "n" | "false");
    if yes_no {
        cur.flag = true;
    } else {
        cur.enum_values = values;
    }
}

/// What a parenthesis after an item says: choices, a type, a unit, required/optional/unique;
/// an example ("like A-12", "e.g. …") says nothing.
fn read_parenthesis(cur: &mut FieldDraft, inside: &[&str]) {
    // "a list of choices: a, b, c", "one of: a, b", "a choice of a, b or c": the words that
    // announce choices go when choices follow.
    let lead = inside
        .iter()
        .take_while(|w| CHOICE_LEADS.contains(w) || ARTICLES.contains(w))
        .count();
    if lead > 0 && lead < inside.len() && read_values(inside, lead).0.len() >= 2 {
        set_choices(cur, read_values(inside, lead).0);
        return;
    }
    // "a whole number": one type, not two.
    if let Some(k) = inside.windows(2).position(|w| w == ["whole", "number"]) {
        let mut rest = inside.to_vec();
        rest.drain(k..k + 2);
        read_parenthesis(cur, &rest);
        if type_word_in(&rest).is_none() {
            cur.explicit = Some(FieldType::Integer);
        }
        return;
    }
    if inside
        .first()
        .is_some_and(|w| matches!(*w, "like" | "eg" | "e" | "example" | "such" | "ex"))
    {
        return;
    }
    if inside.first() == Some(&"in") && inside.get(1).and_then(|u| unit_type(u)).is_some() {
        cur.unit = inside.get(1).and_then(|u| unit_type(u));
        return;
    }
    let (values, _) = read_values(inside, 0);
    if values.len() >= 2
        && !inside.iter().any(|w| {
            type_word(w).is_some()
                && inside.len() <= 3
                && matches!(
                    *w,
                    "date"
                        | "integer"
                        | "int"
                        | "number"
                        | "text"
                        | "string"
                        | "boolean"
                        | "email"
                        | "url"
                )
        })
    {
        set_choices(cur, values);
        return;
    }
    for t in inside {
        match *t {
            "required" | "mandatory" => cur.required = Some(true),
            "optional" => cur.required = Some(false),
            "unique" => cur.unique = true,
            other => {
                if let Some(ty) = type_word(other) {
                    cur.explicit = Some(ty);
                } else if let Some(ty) = unit_type(other) {
                    cur.unit = Some(ty);
                }
            }
        }
    }
}

/// Words that announce a list of choices ("a list of choices:", "one of", "either").
const CHOICE_LEADS: &[&str] = &[
    "list",
    "set",
    "of",
    "choices",
    "choice",
    "options",
    "option",
    "values",
    "either",
    "between",
    ":",
    "be",
    "following",
    "dropdown",
    "enum",
    "select",
];

/// The first type word among `words`, if any.
fn type_word_in(words: &[&str]) -> Option<FieldType> {
    words.iter().find_map(|w| type_word(w))
}

/// Reads enum values from `start`: `low/medium/high`, `low, medium or high`.
pub(super) fn read_values(words: &[&str], start: usize) -> (Vec<String>, usize) {
    let mut values: Vec<String> = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    let mut i = start;
    while i < words.len() {
        let w = words[i];
        if matches!(w, "/" | "," | "|" | "or") {
            if !current.is_empty() {
                values.push(current.join("_"));
                current.clear();
            }
        } else if w == "and" {
            // "and" ends the list unless the next word is its last value.
            let next = words.get(i + 1).copied();
            let last_value = next.is_some_and(|n| !ARTICLES.contains(&n))
                && words.get(i + 2).is_none_or(|n| is_sep(n) || *n == ")");
            if !current.is_empty() {
                values.push(current.join("_"));
                current.clear();
            }
            if !last_value {
                break;
            }
        } else if ARTICLES.contains(&w) || w == "(" || w == ")" {
            // "from open/closed, a priority …": the comma ends this item, not a choice.
            if i > start && words[i - 1] == "," {
                i -= 1;
            }
            break;
        } else {
            current.push(w);
            // A value is one or two words; a third word ends the list.
            if current.len() > 2 {
                current.pop();
                break;
            }
        }
        i += 1;
    }
    if !current.is_empty() {
        values.push(current.join("_"));
    }
    let values: Vec<String> = values.into_iter().filter(|v| !v.is_empty()).collect();
    (values, i)
}

impl FieldDraft {
    pub(super) fn into_field(self, resource: &str, change: &mut SpecChange) -> Option<Field> {
        let mut words: Vec<&str> = self.words.iter().map(String::as_str).collect();
        // "a short bio", "a detailed description": the adjective says nothing of the data.
        while words.len() > 1
            && matches!(
                words[0],
                "short"
                    | "long"
                    | "longer"
                    | "shorter"
                    | "brief"
                    | "detailed"
                    | "little"
                    | "quick"
                    | "small"
                    | "big"
            )
        {
            words.remove(0);
        }
        // "titel", "descripton", "pirce": a word one typo from exactly one common field name is
        // that name (said in the reply).
        let corrected: Vec<String> = words
            .iter()
            .map(|w| {
                if COMMON_FIELDS.contains(w)
                    || w.len() < 4
                    || !w.chars().all(|c| c.is_ascii_lowercase())
                {
                    return (*w).to_owned();
                }
                // A swap, a missing or an extra letter; not another letter, which as often
                // makes another word ("nodes" is not "notes").
                let near: Vec<&&str> = COMMON_FIELDS
                    .iter()
                    .filter(|c| {
                        // "serving" is not a slip of "servings", nor "levels" of "level".
                        let inflected = **c == format!("{w}s") || *w == format!("{c}s");
                        !inflected
                            && super::words::one_edit(c, w)
                            && (c.len() != w.len()
                                || c.chars().zip(w.chars()).filter(|(a, b)| a != b).count() == 2)
                    })
                    .collect();
                match near.as_slice() {
                    [one] => {
                        change.notes.push(format!("read `{w}` as `{one}`"));
                        (**one).to_owned()
                    }
                    _ => (*w).to_owned(),
                }
            })
            .collect();
        let mut words: Vec<&str> = corrected.iter().map(String::as_str).collect();
        // "the pet's name" of a pet is its name.
        if words.len() == 2 && words[0] == resource && matches!(words[1], "name" | "title") {
            words.remove(0);
        }
        let mut name = ident(&words)?;
        if name == "id" || name == format!("{resource}_id") {
            return None;
        }
        let ty = if !self.enum_values.is_empty() {
            let mut values = Vec::new();
            for v in &self.enum_values {
                let Some(v) = ident(&[v.as_str()]) else {
                    continue;
                };
                let v = if v.starts_with(|c: char| c.is_ascii_digit()) {
                    format!("v{v}")
                } else {
                    v
                };
                match check_identifier(&v) {
                    Ok(()) if !values.contains(&v) => values.push(v),
                    Ok(()) => {}
                    Err(_) => {
                        let alt = format!("{v}_value");
                        if check_identifier(&alt).is_ok() && !values.contains(&alt) {
                            values.push(alt);
                        } else {
                            change
                                .notes
                                .push(format!("`{v}` can't be a choice of `{name}`"));
                        }
                    }
                }
            }
            if values.is_empty() {
                return None;
            }
            FieldType::Enum { values }
        } else if self.number_of {
            FieldType::Integer
        } else if self.flag {
            FieldType::Boolean
        } else if let Some(t) = self.explicit {
            t
        } else if let Some(t) = self.unit {
            t
        } else {
            infer_type(&name)
        };
        if check_identifier(&name).is_err() {
            let alt = format!("{resource}_{name}");
            match check_identifier(&alt) {
                Ok(()) => {
                    change.notes.push(format!(
                        "`{name}` is a reserved word, so the field is called `{alt}`"
                    ));
                    name = alt;
                }
                Err(e) => {
                    change
                        .notes
                        .push(format!("`{name}` can't be a field name: {e}"));
                    return None;
                }
            }
        }
        let default = matches!(ty, FieldType::Boolean).then(|| serde_json::Value::Bool(false));
        let required = self
            .required
            .unwrap_or(matches!(name.as_str(), "title" | "name") && ty == FieldType::String);
        Some(Field {
            name,
            ty,
            required: required && default.is_none(),
            unique: self.unique,
            default,
        })
    }
}

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

pub(super) fn infer_type(name: &str) -> FieldType {
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
pub(super) fn uncertain_type(name: &str) -> bool {
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
