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
    /// "which desk": the item points at another thing.
    pub(super) pointer: bool,
}

impl FieldDraft {
    /// Whether the item says its type (so it is a field, not a link).
    pub(super) fn has_type(&self) -> bool {
        self.explicit.is_some() || !self.enum_values.is_empty() || self.flag || self.number_of
    }
}

pub(super) fn type_word(w: &str) -> Option<FieldType> {
    Some(match w {
        "string" | "str" | "varchar" | "name" => FieldType::String,
        "text" | "paragraph" | "markdown" => FieldType::Text,
        "integer" | "int" | "whole" | "count" => FieldType::Integer,
        "number" | "float" | "decimal" | "double" | "numeric" | "money" => FieldType::Number,
        "boolean" | "bool" | "flag" | "checkbox" | "yes-no" => FieldType::Boolean,
        "date" => FieldType::Date,
        "datetime" | "timestamp" | "time" => FieldType::Datetime,
        "email" | "e-mail" => FieldType::Email,
        "url" | "link" | "uri" => FieldType::Url,
        _ => return None,
    })
}

/// Splits a field list into drafts: "a title, a priority from low/medium/high and a done flag".
pub(super) fn parse_fields(words: &[&str]) -> Vec<FieldDraft> {
    let mut out = Vec::new();
    let mut cur = FieldDraft::default();
    let mut i = 0;
    let flush = |cur: &mut FieldDraft, out: &mut Vec<FieldDraft>| {
        if !cur.words.is_empty() {
            out.push(std::mem::take(cur));
        } else {
            *cur = FieldDraft::default();
        }
    };
    while i < words.len() {
        let w = words[i];
        let next = words.get(i + 1).copied();
        match w {
            _ if is_sep(w) => flush(&mut cur, &mut out),
            "(" => {
                let end = words[i..]
                    .iter()
                    .position(|t| *t == ")")
                    .map_or(words.len(), |e| e + i);
                let inside = &words[i + 1..end];
                let (values, _) = read_values(inside, 0);
                if values.len() >= 2 {
                    cur.enum_values = values;
                } else {
                    for t in inside {
                        match *t {
                            "required" | "mandatory" => cur.required = Some(true),
                            "optional" => cur.required = Some(false),
                            "unique" => cur.unique = true,
                            other => {
                                if let Some(ty) = type_word(other) {
                                    cur.explicit = Some(ty);
                                }
                            }
                        }
                    }
                }
                i = end;
            }
            "from" | "either" | "one" if !cur.words.is_empty() => {
                let mut j = i + 1;
                if w == "one" && next == Some("of") {
                    j += 1;
                } else if w == "one" {
                    cur.words.push(w.to_owned());
                    i += 1;
                    continue;
                }
                let (values, end) = read_values(words, j);
                if values.len() >= 2 {
                    cur.enum_values = values;
                    i = end;
                    continue;
                }
                i += 1;
                continue;
            }
            ":" if !cur.words.is_empty() => {
                let (values, end) = read_values(words, i + 1);
                if values.len() >= 2 {
                    cur.enum_values = values;
                    i = end;
                    continue;
                } else if let Some(ty) = next.and_then(type_word) {
                    cur.explicit = Some(ty);
                    i += 2;
                    continue;
                }
            }
            "as" | "of" if next.is_some() => {
                // "as a number", "of type date", "number of pages"
                let mut j = i + 1;
                while j < words.len() && (ARTICLES.contains(&words[j]) || words[j] == "type") {
                    j += 1;
                }
                if w == "of" && cur.words.last().is_some_and(|l| l == "number") {
                    cur.words.pop();
                    cur.number_of = true;
                    i += 1;
                    continue;
                }
                if let Some(ty) = words.get(j).copied().and_then(type_word) {
                    cur.explicit = Some(ty);
                    i = j + 1;
                    continue;
                }
                if w == "of" {
                    // "a list of tags" keeps its words
                    i += 1;
                    continue;
                }
            }
            "required" | "mandatory" => cur.required = Some(true),
            "optional" => cur.required = Some(false),
            "unique" | "distinct" => cur.unique = true,
            "flag" | "checkbox" | "boolean" | "bool" => cur.flag = true,
            "which" | "what" if cur.words.is_empty() => cur.pointer = true,
            "which" | "that" | "is" | "are" | "should" | "be" | "must" => {}
            _ if ARTICLES.contains(&w)
                || FIELD_NOUNS.contains(&w)
                || matches!(w, "," | "/" | ")" | "|") => {}
            _ if type_word(w).is_some()
                && cur.words.is_empty()
                && next.is_some_and(|n| !is_sep(n) && n != "of")
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

/// Reads enum values from `start`: `low/medium/high`, `low, medium or high`.
fn read_values(words: &[&str], start: usize) -> (Vec<String>, usize) {
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
        let words: Vec<&str> = self.words.iter().map(String::as_str).collect();
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
    if matches!(last, "date" | "birthday" | "dob" | "deadline" | "day") || name.ends_with("_on") {
        return FieldType::Date;
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
