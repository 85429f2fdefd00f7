//! Field lists: "a title, a priority from low/medium/high and a done flag" → fields.
//!
//! An item is a noun phrase with its modifiers: a type before or after it ("a text
//! description", "an estimate as a number", "(integer)", ": date"), choices ("from
//! low/medium/high", "(todo, in progress, done)", "one of a, b or c"), a unit that says the type
//! and is not part of the name ("in minutes", "in kg"), yes/no markers, "required", "unique",
//! "optional", and trailing words that only explain it ("for stuff like …", "too").

pub(super) mod choices;
pub(super) mod naming;
pub(super) mod types;

use super::{is_sep, ARTICLES, FIELD_NOUNS};
use crate::spec::FieldType;
use choices::{read_parenthesis, read_values, set_choices};
use naming::COMMON_FIELDS;
use types::{type_word, unit_type, FIELD_WORDS};

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
            // "in whole cm": a unit counted whole is an integer.
            "in" if next == Some("whole")
                && words.get(i + 2).copied().and_then(unit_type).is_some()
                && !cur.words.is_empty() =>
            {
                cur.unit = Some(FieldType::Integer);
                i += 3;
                continue;
            }
            // "no separate owners table": what is not wanted is no field.
            "no" | "without"
                if cur.words.is_empty() && next.is_some_and(|n| !is_sep(n) && n != "of") =>
            {
                cur.closed = true;
            }
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
            // "the date it was issued" → issued_on, "the time they arrived" → arrived_at.
            _ if matches!(cur.words.as_slice(), [one] if matches!(one.as_str(), "date" | "day" | "time" | "datetime"))
                && EVENT_WORDS.contains(&w) =>
            {
                if let Some((verb, end)) = event_verb(words, i) {
                    let on = matches!(cur.words[0].as_str(), "date" | "day");
                    cur.words = vec![format!("{verb}_{}", if on { "on" } else { "at" })];
                    i = end;
                    continue;
                }
                cur.closed = true;
            }
            // "when it was published" → published_at.
            "when" if cur.words.is_empty() => {
                if let Some((verb, end)) = event_verb(words, i + 1) {
                    cur.words = vec![format!("{verb}_at")];
                    i = end;
                    continue;
                }
                cur.words.push(w.to_owned());
            }
            // "from a donor", "for a bike": an item that opens with a preposition and a
            // determiner names what it points at.
            "from" | "for" | "by" | "to" | "on" | "in" | "at" | "under"
                if cur.words.is_empty()
                    && next.is_some_and(|n| matches!(n, "a" | "an" | "one" | "the" | "each")) =>
            {
                i += 2;
                continue;
            }
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

/// Pronouns and auxiliaries between "when" (or "the date") and the verb of an event.
const EVENT_WORDS: &[&str] = &[
    "it", "they", "he", "she", "we", "was", "were", "is", "are", "got", "gets", "get", "been",
    "has", "have", "had", "first", "last", "actually", "being", "its", "theyre", "were",
];

/// "it was published", "they joined": the verb of an event from `i` on, when one word ends the
/// item, and where the item ends.
fn event_verb(words: &[&str], i: usize) -> Option<(String, usize)> {
    let mut j = i;
    while j < words.len() && EVENT_WORDS.contains(&words[j]) {
        j += 1;
    }
    let verb = *words.get(j)?;
    let ends = words.get(j + 1).is_none_or(|n| is_sep(n) || *n == "(");
    (j > i && ends && verb.len() > 2 && verb.chars().all(|c| c.is_ascii_lowercase()))
        .then(|| (verb.to_owned(), j + 1))
}

/// "1-5", "1 to 5", "0-100": a numeric range.
fn is_number_range(w: &str, next: Option<&str>, after: Option<&str>) -> bool {
    let numeric = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
    match w.split_once('-') {
        Some((a, b)) => numeric(a) && numeric(b),
        None => numeric(w) && next == Some("to") && after.is_some_and(numeric),
    }
}
