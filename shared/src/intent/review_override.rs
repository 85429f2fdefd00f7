//! "Deploy anyway": a deploy request that overrides the code review's gate, and only that gate
//! (failing tests are never overridden).
//!
//! An explicit turn against the review ("ignore the review", "skip the review", "bypass the
//! gate", "override the findings", "force deploy") counts anywhere in the message; a softer
//! word ("anyway", "regardless", "despite", "even though", "nonetheless", "over the findings")
//! counts in a clause that asks to deploy ("deploy it anyway", not "deploy it, the tests pass
//! anyway"). A clause that is a question ("is it safe to deploy anyway?") or negated ("don't
//! deploy anyway") never counts. Measured on `tests/understanding/intents/review_override.tsv`,
//! written before this reader.

/// Verbs (and the noun) of deploying.
const DEPLOY: &[&str] = &[
    "deploy",
    "deploying",
    "deployment",
    "ship",
    "push",
    "release",
    "publish",
    "ahead",
    "live",
    "rollout",
];
/// Words that go ahead in spite of something, in a clause that deploys.
const IN_SPITE: &[&str] = &[
    "anyway",
    "anyways",
    "regardless",
    "nonetheless",
    "nevertheless",
    "despite",
    "notwithstanding",
    "force",
    "forced",
];
/// Two-word turns of the same kind: "even though", "even with", "in spite", "over the".
const IN_SPITE_PAIRS: &[(&str, &str)] = &[
    ("even", "though"),
    ("even", "with"),
    ("even", "if"),
    ("in", "spite"),
];
/// What the review is called.
const REVIEW: &[&str] = &[
    "review", "reviews", "reviewer", "gate", "finding", "findings", "warning", "warnings", "issue",
    "issues", "check", "checks", "audit",
];
/// Turning against it: "ignore the review", "skip the checks".
const AGAINST: &[&str] = &[
    "ignore",
    "ignoring",
    "skip",
    "skipping",
    "bypass",
    "bypassing",
    "override",
    "overriding",
    "overrule",
    "disregard",
];
/// Words that negate a clause.
const NEGATIONS: &[&str] = &[
    "don't",
    "dont",
    "do not",
    "never",
    "not",
    "no",
    "shouldn't",
    "mustn't",
    "won't",
    "cannot",
    "can't",
];

/// Whether the message asks to deploy over the review's findings.
pub fn overrides_review(text: &str) -> bool {
    clauses(text).iter().any(|clause| {
        let owned = words_of(clause.text);
        let words: Vec<&str> = owned.iter().map(String::as_str).collect();
        if clause.question || negated(&words) {
            return false;
        }
        let against = words
            .windows(2)
            .any(|w| AGAINST.contains(&w[0]) && REVIEW.contains(&w[1]))
            || words.windows(3).any(|w| {
                AGAINST.contains(&w[0])
                    && matches!(w[1], "the" | "its" | "this" | "that" | "all")
                    && REVIEW.contains(&w[2])
            })
            || words
                .windows(4)
                .any(|w| AGAINST.contains(&w[0]) && w[1] == "the" && REVIEW.contains(&w[3]));
        let deploys = words.iter().any(|w| DEPLOY.contains(w));
        let in_spite = words.iter().any(|w| IN_SPITE.contains(w))
            || words
                .windows(2)
                .any(|w| IN_SPITE_PAIRS.contains(&(w[0], w[1])))
            || words
                .windows(3)
                .any(|w| w[0] == "over" && (REVIEW.contains(&w[1]) || REVIEW.contains(&w[2])));
        against || (deploys && in_spite)
    })
}

struct Clause<'a> {
    text: &'a str,
    question: bool,
}

/// The message cut at `.`, `,`, `;`, `!`, `?` and line ends, each piece knowing whether it
/// ends in a question mark.
fn clauses(text: &str) -> Vec<Clause<'_>> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, c) in text.char_indices() {
        if matches!(c, '.' | ',' | ';' | '!' | '?' | '\n') {
            out.push(Clause {
                text: &text[start..i],
                question: c == '?',
            });
            start = i + c.len_utf8();
        }
    }
    out.push(Clause {
        text: &text[start..],
        question: false,
    });
    out
}

fn words_of(clause: &str) -> Vec<String> {
    clause
        .to_lowercase()
        .replace('’', "'")
        .split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

fn negated(words: &[&str]) -> bool {
    words.iter().any(|w| NEGATIONS.contains(w))
        || words.windows(2).any(|w| w[0] == "do" && w[1] == "not")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intent::classify;
    use crate::model::Intent;

    const CASES: &str = include_str!("../../../tests/understanding/intents/review_override.tsv");

    /// Every labelled message: an override is a deploy request whose words override the
    /// review; nothing else is.
    #[test]
    fn the_labelled_messages_are_read_right() {
        let mut wrong = Vec::new();
        let mut n = 0;
        for line in CASES
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        {
            let (label, text) = line.split_once('\t').expect("label<TAB>text");
            let read = classify(text, true) == Intent::Deploy && overrides_review(text);
            if read != (label == "override") {
                wrong.push(format!("{label}: {text}"));
            }
            n += 1;
        }
        assert!(n > 50, "{n} cases");
        assert!(wrong.is_empty(), "read wrong:\n{}", wrong.join("\n"));
    }
}
