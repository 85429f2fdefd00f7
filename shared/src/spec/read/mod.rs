//! Rules that read an `AppSpec` change out of one chat message.
//!
//! A message is cut into clauses; each clause is tried against the rules in turn (removal,
//! rename, relation, fields, search, features, resources). The rules only ever produce checked
//! identifiers: a word of the user's that cannot be one is dropped with a note, never passed on.

pub(super) mod answer;
mod features;
mod fields;
mod grammar;
mod lex;
mod phrases;
mod reference;
mod removal;
mod rename;
mod resources;
mod retype;
mod search;
mod words;

pub(crate) use features::{set_auth, set_database};
pub(crate) use fields::types::{describe_field, type_word};
pub(crate) use grammar::relations::relate_names;
pub use words::{pluralize, singularize};

use super::AppSpec;
use features::read_features;
use removal::read_removal;
use rename::read_rename;
use resources::read_resources;
use retype::read_retype;
use search::read_search;
use words::looks_plural;

/// What one message changed in the spec, one line per change, for the reply.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SpecChange {
    /// Things added.
    pub added: Vec<String>,
    /// Things removed.
    pub removed: Vec<String>,
    /// Things changed.
    pub changed: Vec<String>,
    /// Things the message asked for that were not done, with the reason.
    pub notes: Vec<String>,
    /// Questions instead of guesses: parts of the message that could mean two different specs
    /// and were left out until answered.
    pub questions: Vec<super::Question>,
    /// The field the conversation is about after the message: the last one it added, changed
    /// or renamed, else the one it came with. "make it required" in the next message means it.
    pub focus: Option<super::FieldRef>,
    /// Names the message changed, so that the data under them moves with them.
    pub renamed: Vec<super::Renamed>,
}

impl SpecChange {
    /// Notes that the message was last about `resource.field`.
    pub(crate) fn touched(&mut self, resource: &str, field: &str) {
        self.focus = Some(super::FieldRef {
            resource: resource.to_owned(),
            field: field.to_owned(),
        });
    }

    /// Whether the message changed nothing.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}

/// Applies one message to `spec`, returning what changed.
///
/// `describes_app` is true for a message that describes the app (intent create): the summary
/// is then set from it if it has none.
pub fn apply_message(spec: &mut AppSpec, text: &str, describes_app: bool) -> SpecChange {
    apply_message_after(spec, text, describes_app, None)
}

/// [`apply_message`] after a message about the field `focus`.
pub(crate) fn apply_message_after(
    spec: &mut AppSpec,
    text: &str,
    describes_app: bool,
    focus: Option<super::FieldRef>,
) -> SpecChange {
    let mut change = SpecChange {
        focus: focus.filter(|f| {
            spec.resource(&f.resource)
                .is_some_and(|r| r.fields.iter().any(|x| x.name == f.field))
        }),
        ..SpecChange::default()
    };
    if describes_app && spec.summary.is_empty() {
        spec.summary = text.trim().chars().take(500).collect();
    }
    // Read once ahead on a copy, to know every resource the message names.
    let mut ahead = spec.clone();
    let mut ahead_ctx = grammar::Context::about(change.focus.as_ref().map(|f| f.resource.as_str()));
    read_sentences(&mut ahead, text, &mut ahead_ctx, &mut change.clone());
    let about = change.focus.as_ref().map(|f| f.resource.clone());
    let mut ctx = grammar::Context {
        known: ahead.resources.iter().map(|r| r.name.clone()).collect(),
        ..grammar::Context::about(about.as_deref())
    };
    read_sentences(spec, text, &mut ctx, &mut change);
    change
}

fn read_sentences(
    spec: &mut AppSpec,
    text: &str,
    ctx: &mut grammar::Context,
    change: &mut SpecChange,
) {
    let ctx = &mut *ctx;
    let change = &mut *change;
    for sentence in lex::sentences(text) {
        // "…, then …" and "whereas" join two statements.
        let mut current = Vec::new();
        let mut i = 0;
        while i < sentence.len() {
            let t = &sentence[i];
            let next = sentence.get(i + 1).map(String::as_str);
            let after = sentence.get(i + 2).map(String::as_str);
            // "…, each harvest picks from one block", "…, where an ascent is by one climber":
            // a new statement inside the sentence.
            let joined = matches!(next, Some("and" | "so" | "also" | "where" | "while"));
            let new_statement = t == ","
                && (matches!(next, Some("each" | "every"))
                    || joined && matches!(after, Some("each" | "every"))
                    || next == Some("where") && matches!(after, Some("a" | "an")));
            if matches!(t.as_str(), "then" | "whereas") && !current.is_empty() || new_statement {
                if !current.is_empty() {
                    apply_clause(spec, &std::mem::take(&mut current), ctx, change);
                }
                i += if new_statement && joined { 2 } else { 1 };
                continue;
            }
            current.push(t.clone());
            i += 1;
        }
        if !current.is_empty() {
            apply_clause(spec, &current, ctx, change);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Words and clauses

/// The lower-case words of a text, in order.
pub(crate) fn words_of(text: &str) -> Vec<String> {
    text.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Whether the words contain `phrase` (space-separated words) as a whole-word sequence.
pub(crate) fn mentions(words: &[String], phrase: &str) -> bool {
    let want: Vec<&str> = phrase.split(' ').collect();
    words
        .windows(want.len())
        .any(|w| w.iter().zip(&want).all(|(a, b)| a == b))
}

/// Whether a text asks about or for authentication ("auth", "login"; not "authors").
pub(crate) fn mentions_auth(words: &[String]) -> bool {
    [
        "authentication",
        "auth",
        "authenticate",
        "authenticated",
        "login",
        "logins",
        "log in",
        "sign in",
        "sign up",
        "jwt",
        "authorization",
    ]
    .iter()
    .any(|p| mentions(words, p))
}

const ARTICLES: &[&str] = &[
    "a", "an", "the", "its", "their", "his", "her", "some", "each", "every", "all", "any", "my",
    "our", "your", "one",
];
const FIELD_NOUNS: &[&str] = &[
    "field",
    "fields",
    "column",
    "columns",
    "property",
    "properties",
    "attribute",
    "attributes",
    "value",
];
const RESOURCE_NOUNS: &[&str] = &[
    "resource",
    "resources",
    "entity",
    "entities",
    "model",
    "models",
    "table",
    "tables",
    "endpoint",
    "endpoints",
];

fn is_sep(t: &str) -> bool {
    matches!(t, "," | "and" | "&" | "plus" | "as well as")
}

/// Identifier from words: `["due", "date"]` → `due_date`.
fn ident(words: &[&str]) -> Option<String> {
    let joined = words
        .iter()
        .map(|w| w.replace('-', "_"))
        .collect::<Vec<_>>()
        .join("_");
    let cleaned: String = joined
        .chars()
        .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
        .collect();
    let cleaned = cleaned.trim_matches('_').to_owned();
    (!cleaned.is_empty()).then_some(cleaned)
}

fn verb_at(words: &[&str], verbs: &[&str]) -> Option<usize> {
    words.iter().position(|w| verbs.contains(w))
}

// ---------------------------------------------------------------------------------------------
// Clause rules

/// Words that open a sentence without being part of what it says.
const MARKERS: &[&str] = &[
    "also",
    "oh",
    "and",
    "so",
    "ok",
    "okay",
    "actually",
    "hmm",
    "well",
    "plus",
    "now",
    "please",
    "pls",
    "btw",
    "finally",
    "wait",
    "lastly",
    "basically",
    "additionally",
    "next",
    "anyway",
    "right",
    "alright",
    "hi",
    "hello",
    "hey",
    "great",
    "cool",
    "nice",
    "sorry",
    "lovely",
    "perfect",
    "thanks",
    "yes",
    "yeah",
    "no",
    "nope",
    "oops",
    ",",
    "ah",
    "ugh",
    "one",
    "more",
    "thing",
    "correction",
    "scratch",
    "that",
    "i",
    "think",
    "guess",
    "mean",
    "meant",
    "maybe",
    "could",
    "can",
    "would",
    "you",
    "u",
    "kindly",
    "just",
    "lets",
    "let",
    "us",
    "then",
];

fn apply_clause(
    spec: &mut AppSpec,
    t: &[String],
    ctx: &mut grammar::Context,
    change: &mut SpecChange,
) {
    // "oh and also, …": markers go; "one more thing:" too. A marker that is the whole
    // clause ("that") stays.
    let mut start = t
        .iter()
        .position(|w| !MARKERS.contains(&w.as_str()))
        .unwrap_or(0);
    // "that should be optional": here `that` is the subject, not a marker.
    if start > 0
        && matches!(t[start - 1].as_str(), "that" | "this")
        && matches!(
            t[start].as_str(),
            "should"
                | "must"
                | "is"
                | "needs"
                | "has"
                | "will"
                | "shall"
                | "ought"
                | "field"
                | "column"
        )
    {
        start -= 1;
    }
    let start = if t.get(start).is_some_and(|w| w == ":") {
        start + 1
    } else {
        start
    };
    let mended = mend_keywords(spec, &t[start.min(t.len())..]);
    let t = &mended[..];
    let words: Vec<&str> = t.iter().map(String::as_str).collect();
    let feature_only = read_features(spec, t, change);
    if feature_only {
        return;
    }
    if read_removal(spec, &words, change)
        || read_rename(spec, &words, change)
        || read_search(spec, &words, change)
        || read_retype(spec, &words, change)
        || grammar::read_statement(spec, &words, ctx, change)
        || grammar::read_fragment(spec, &words, ctx, change)
    {
        return;
    }
    read_resources(spec, &words, change);
}

/// The words the rules turn on, which a typo must not hide.
const KEYWORDS: &[&str] = &[
    "required",
    "optional",
    "mandatory",
    "unique",
    "that",
    "this",
    "remove",
    "rename",
    "delete",
    "change",
    "integer",
    "decimal",
    "boolean",
    "number",
    "field",
    "column",
];

/// "pls make tht requird": a word one slip (a missing, extra or swapped letter after the first;
/// not a changed one, which as often makes another word) from exactly one keyword is that
/// keyword, unless it names something in the spec or only inflects the keyword ("dates",
/// "renamed"). "his" and "hat" stay.
fn mend_keywords(spec: &AppSpec, t: &[String]) -> Vec<String> {
    let named = |w: &str| {
        spec.resources
            .iter()
            .any(|r| r.name == w || r.plural == w || r.fields.iter().any(|f| f.name == w))
    };
    t.iter()
        .map(|w| {
            if w.len() < 3 || KEYWORDS.contains(&w.as_str()) || named(w) {
                return w.clone();
            }
            let near: Vec<&&str> = KEYWORDS
                .iter()
                .filter(|k| {
                    !w.starts_with(**k)
                        && k.chars().next() == w.chars().next()
                        && words::one_edit(k, w)
                        && (k.len() != w.len()
                            || k.chars().zip(w.chars()).filter(|(a, b)| a != b).count() == 2)
                })
                .collect();
            match near.as_slice() {
                [one] => (**one).to_owned(),
                _ => w.clone(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests;
