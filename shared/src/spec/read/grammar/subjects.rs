//! Subjects: the resource a sentence is about, a pronoun for the last one named, or the app
//! itself ("we", "the api") and people talking, which are no resource.

use super::Context;
use crate::spec::read::phrases::noun_phrase;
use crate::spec::read::resources::ensure_resource;
use crate::spec::read::{SpecChange, ARTICLES};
use crate::spec::AppSpec;

/// Subjects that stand for the app itself: with a have-verb they name resources.
const APP_SUBJECTS: &[&str] = &[
    "we",
    "i",
    "it",
    "app",
    "api",
    "system",
    "service",
    "backend",
    "application",
    "platform",
    "there",
    "you",
    "site",
    "website",
    "tool",
    "database",
];
/// Words of a subject that is a person talking, not a thing of the app ("what she needs").
pub(super) const PEOPLE: &[&str] = &[
    "she",
    "he",
    "what",
    "who",
    "someone",
    "somebody",
    "everyone",
    "everybody",
    "anyone",
    "whoever",
    "whatever",
    "sister",
    "brother",
    "boss",
    "wife",
    "husband",
    "mom",
    "dad",
    "friend",
    "manager",
];
/// Pronouns that stand for the last subject.
pub(super) const PRONOUNS: &[&str] = &[
    "they", "it", "these", "those", "them", "each", "every", "one", "which",
];

/// Words that introduce what an app manages ("track exercises", "also manage projects").
const TRIGGERS: &[&str] = &[
    "track", "manage", "store", "keep", "handle", "list", "record", "log", "also", "and", "oh",
    "plus", "then", "now", "need", "want", "add", "a", "an", "the", "some", "lets", "let", "us",
    "we", "i", "ok", "so", "finally", "to",
];

pub(super) fn strip_triggers<'a>(words: &[&'a str]) -> Vec<&'a str> {
    let start = words
        .iter()
        .position(|w| !TRIGGERS.contains(w))
        .unwrap_or(words.len());
    words[start..].to_vec()
}

/// Whether a phrase names the app itself ("a REST API for a library", "conference app").
pub(super) fn names_app(words: &[&str]) -> bool {
    words.iter().any(|w| {
        matches!(
            *w,
            "api" | "apis" | "app" | "application" | "backend" | "service" | "system" | "platform"
        )
    })
}

pub(super) fn is_app_subject(words: &[&str]) -> bool {
    let np: Vec<&str> = words
        .iter()
        .copied()
        .filter(|w| {
            !ARTICLES.contains(w)
                && !matches!(
                    *w,
                    "also" | "so" | "and" | "ok" | "our" | "my" | "this" | "new"
                )
        })
        .collect();
    words
        .first()
        .is_some_and(|w| matches!(*w, "were" | "im" | "we" | "i" | "our" | "my"))
        || np.is_empty() && words.iter().any(|w| *w == "we" || *w == "i")
        || np.last().is_some_and(|w| APP_SUBJECTS.contains(w))
}

/// The resource a subject names: a pronoun is the last subject; otherwise the noun phrase,
/// found or added.
pub(super) fn subject_resource(
    spec: &mut AppSpec,
    words: &[&str],
    ctx: &Context,
    change: &mut SpecChange,
) -> Option<usize> {
    let np = noun_phrase(words);
    if np.is_empty() || np.len() == 1 && PRONOUNS.contains(&np[0]) {
        return ctx.last(spec);
    }
    if np.iter().any(|w| APP_SUBJECTS.contains(w) && np.len() == 1)
        || words.iter().any(|w| PEOPLE.contains(w))
    {
        return None;
    }
    ensure_resource(spec, &np, change)
}
