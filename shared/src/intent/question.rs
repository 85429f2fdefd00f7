//! Questions by their form: a wh-word, an auxiliary ("is it deployed?"), "can I …" asking what
//! is possible, a question after a comma; and "do the build", which asks for something.

use super::action::action_word;

/// Words that open a question.
pub(super) const WH: &[&str] = &[
    "what", "whats", "what's", "which", "how", "hows", "how's", "why", "where", "wheres",
    "where's", "when", "who", "whose", "whom", "wat", "wats",
];
/// Auxiliaries that open a yes/no question.
pub(super) const AUX: &[&str] = &[
    "is", "are", "does", "do", "did", "has", "have", "was", "were", "am", "isn't", "doesn't",
    "aren't", "didn't", "r", "will", "shall", "if",
];
/// Verbs that ask to be told something rather than to change or do it.
pub(super) const TELL: &[&str] = &[
    "explain",
    "tell",
    "show",
    "list",
    "repeat",
    "summarize",
    "summarise",
    "display",
    "remind",
    "print",
    "clarify",
];

/// Whether a clause after a comma or "but" opens with a wh-word or an auxiliary.
pub(super) fn clause_opens_question(words: &[String]) -> bool {
    words.windows(3).any(|w| {
        matches!(w[0].as_str(), "," | "but" | "so" | ":")
            && (WH.contains(&w[1].as_str()) && w[2] != "about"
                || matches!(w[1].as_str(), "is" | "are" | "does" | "do" | "did")
                || w[1] == "can" && !matches!(w[2].as_str(), "we" | "you" | "u"))
    })
}

/// "do the build", "do a test run", "do you mind deploying": "do" as a request.
pub(super) fn is_do_request(words: &[String]) -> bool {
    if words[0] != "do"
        || words
            .get(1)
            .is_some_and(|w| matches!(w.as_str(), "i" | "we"))
    {
        return false;
    }
    if words.get(1).is_some_and(|w| w == "you") && words.get(2).is_some_and(|w| w == "mind") {
        return true;
    }
    // "do the tests pass" asks; "do the test please" requests.
    let rest: Vec<&str> = words[1..]
        .iter()
        .map(String::as_str)
        .filter(|w| {
            !matches!(
                *w,
                "the" | "a" | "an" | "some" | "it" | "please" | "pls" | "now" | "quick"
            )
        })
        .collect();
    !rest.is_empty()
        && !rest
            .iter()
            .any(|w| matches!(*w, "pass" | "work" | "fail" | "have" | "exist" | "support"))
        && rest.iter().any(|w| action_word(w).is_some())
}

/// "can I …", "can my teammate …", "could two users …": asking what is possible.
pub(super) fn asks_permission(words: &[String]) -> bool {
    matches!(words[0].as_str(), "can" | "could" | "may")
        && words.get(1).is_some_and(|w| {
            !matches!(
                w.as_str(),
                "you" | "u" | "ya" | "we" | "someone" | "somebody"
            )
        })
        && !matches!(words.get(1).map(String::as_str), Some("please" | "pls"))
}
