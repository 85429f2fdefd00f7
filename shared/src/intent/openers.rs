//! Openers: the words that open a clause without being its verb ("ok great", "please", "can
//! you", "let's"), set aside before the clause is read.

/// Words that open a clause without being its verb: politeness, acknowledgement, "let's".
pub(super) const OPENERS: &[&str] = &[
    "ok",
    "okay",
    "k",
    "kk",
    "great",
    "cool",
    "nice",
    "perfect",
    "thanks",
    "thank",
    "thx",
    "ty",
    "alright",
    "allright",
    "so",
    "and",
    "then",
    "now",
    "yes",
    "yeah",
    "yep",
    "yup",
    "sure",
    "awesome",
    "excellent",
    "good",
    "lgtm",
    "please",
    "pls",
    "plz",
    "kindly",
    "just",
    "lets",
    "let's",
    "let",
    "us",
    "go",
    "ahead",
    "also",
    "next",
    "right",
    "well",
    "hmm",
    "oh",
    "ah",
    "finally",
    "fine",
    "sounds",
    "looks",
    "look",
    "seems",
    "done",
    "that",
    "that's",
    "thats",
    ",",
    "wow",
    "i'd",
    "id",
    "we'd",
    "love",
    "to",
    "all",
];
/// Subjects and modals of a request: "I want to …", "can you …", "would you mind …".
const REQUESTERS: &[&str] = &[
    "i", "we", "want", "wanna", "would", "like", "need", "can", "could", "will", "you", "u",
    "mind", "shall", "should", "must", "may", "might", "gonna", "going", "to", "now", "please",
    "pls", "plz",
];

/// The words after the openers and requesters: "ok great, can you please build it" → "build it".
pub(super) fn strip_openers(words: &[String]) -> Vec<String> {
    let start = words
        .iter()
        .position(|w| !OPENERS.contains(&w.as_str()) && !REQUESTERS.contains(&w.as_str()))
        .unwrap_or(words.len());
    words[start..].to_vec()
}
