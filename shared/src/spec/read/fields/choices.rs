//! Choices of a field ("from low/medium/high", "one of a, b or c"), and what a parenthesis
//! after an item says: choices, a type, a unit, required, optional or unique.

use super::types::{type_word, unit_type};
use super::FieldDraft;
use crate::spec::read::{is_sep, ARTICLES};
use crate::spec::FieldType;

/// Choices, unless they are a yes/no pair, which is a flag.
pub(super) fn set_choices(cur: &mut FieldDraft, values: Vec<String>) {
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
pub(super) fn read_parenthesis(cur: &mut FieldDraft, inside: &[&str]) {
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
pub(in crate::spec::read) fn read_values(words: &[&str], start: usize) -> (Vec<String>, usize) {
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
