//! Noun phrases: the words of a span that name a thing (articles, fillers and words like
//! "table" dropped), and a list cut into its items.

use super::{is_sep, ARTICLES, RESOURCE_NOUNS};

const FILLERS: &[&str] = &[
    "about",
    "couple",
    "hundred",
    "hundreds",
    "dozen",
    "dozens",
    "thousand",
    "thousands",
    "lots",
    "lot",
    "around",
    "approximately",
    "roughly",
    "were",
    "im",
    "short",
    "brief",
    "detailed",
    "simple",
    "basic",
    "small",
    "new",
    "rest",
    "restful",
    "http",
    "json",
    "web",
    "api",
    "apis",
    "service",
    "backend",
    "app",
    "application",
    "crud",
    "managing",
    "manage",
    "also",
    "more",
    "few",
    "lists",
    "list",
    "data",
    "records",
    "many",
    "several",
    "multiple",
    "different",
    "own",
    "we",
    "i",
    "let",
    "me",
    "us",
    "just",
    "of",
    "please",
    "want",
    "like",
    "would",
    "now",
    "too",
    "both",
    "instead",
    "then",
];

/// The noun phrase of a span: articles, fillers and filler nouns dropped, at most the last two words.
pub(super) fn noun_phrase<'a>(words: &[&'a str]) -> Vec<&'a str> {
    let start = words
        .iter()
        .rposition(|w| {
            matches!(
                *w,
                ":" | "," | "(" | ")" | "that" | "which" | "who" | "whose" | "where"
            )
        })
        .map_or(0, |i| i + 1);
    let kept: Vec<&str> = words[start..]
        .iter()
        .copied()
        .filter(|w| {
            !ARTICLES.contains(w)
                && !FILLERS.contains(w)
                && !RESOURCE_NOUNS.contains(w)
                && !matches!(*w, "," | "/" | "(" | ")" | ":" | "|")
                && !w.chars().all(|c| c.is_ascii_digit())
        })
        .collect();
    // "the tables": a noun like "table" or "model" is the thing itself when nothing else is.
    let kept = if kept.is_empty() {
        words[start..]
            .iter()
            .rev()
            .find(|w| RESOURCE_NOUNS.contains(w))
            .map(|w| vec![*w])
            .unwrap_or_default()
    } else {
        kept
    };
    let n = kept.len();
    kept[n.saturating_sub(2)..].to_vec()
}

pub(super) fn split_items<'a>(words: &[&'a str]) -> Vec<Vec<&'a str>> {
    let mut items = vec![Vec::new()];
    for w in words {
        if is_sep(w) || *w == "or" || *w == ":" {
            items.push(Vec::new());
        } else {
            items.last_mut().expect("never empty").push(*w);
        }
    }
    items.retain(|i| !i.is_empty());
    items
}
