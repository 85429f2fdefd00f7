//! Verb phrases: the words that join a subject to its predicate ("has", "belongs to", "has
//! many", "links", "is for one"), and the modals and infinitives around them that change
//! nothing ("should", "can also", "to know").

use crate::spec::read::ARTICLES;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verb {
    Have,
    Belong,
    HasMany,
    Link,
    /// "a loan is one piece of equipment …", "each line item is a product and a quantity".
    Be,
}

/// Verb phrases, longest first within each kind.
const VERBS: &[(&str, Verb)] = &[
    ("has many", Verb::HasMany),
    ("have many", Verb::HasMany),
    ("has multiple", Verb::HasMany),
    ("have multiple", Verb::HasMany),
    ("has several", Verb::HasMany),
    ("have several", Verb::HasMany),
    ("has lots of", Verb::HasMany),
    ("have lots of", Verb::HasMany),
    ("has one or more", Verb::HasMany),
    ("have one or more", Verb::HasMany),
    ("has zero or more", Verb::HasMany),
    ("contains many", Verb::HasMany),
    ("contain many", Verb::HasMany),
    ("belongs to", Verb::Belong),
    ("belong to", Verb::Belong),
    ("belonging to", Verb::Belong),
    ("assigned to", Verb::Belong),
    ("linked to", Verb::Belong),
    ("part of", Verb::Belong),
    ("owned by", Verb::Belong),
    ("written by", Verb::Belong),
    ("given by", Verb::Belong),
    ("taught by", Verb::Belong),
    ("led by", Verb::Belong),
    ("run by", Verb::Belong),
    ("hosted by", Verb::Belong),
    ("made by", Verb::Belong),
    ("placed by", Verb::Belong),
    ("created by", Verb::Belong),
    ("submitted by", Verb::Belong),
    ("booked by", Verb::Belong),
    ("scheduled in", Verb::Belong),
    ("held in", Verb::Belong),
    ("happens in", Verb::Belong),
    ("happen in", Verb::Belong),
    ("takes place in", Verb::Belong),
    ("take place in", Verb::Belong),
    ("located in", Verb::Belong),
    ("located at", Verb::Belong),
    ("tied to", Verb::Belong),
    ("attached to", Verb::Belong),
    ("associated with", Verb::Belong),
    ("related to", Verb::Belong),
    ("connected to", Verb::Belong),
    ("refers to", Verb::Belong),
    ("refer to", Verb::Belong),
    ("points to", Verb::Belong),
    ("comes from", Verb::Belong),
    ("come from", Verb::Belong),
    ("lent to", Verb::Belong),
    ("references", Verb::Belong),
    ("links", Verb::Link),
    ("link", Verb::Link),
    ("connects", Verb::Link),
    ("connect", Verb::Link),
    ("joins", Verb::Link),
    ("consists of", Verb::Have),
    ("comes with", Verb::Have),
    ("come with", Verb::Have),
    ("has", Verb::Have),
    ("have", Verb::Have),
    ("having", Verb::Have),
    ("with", Verb::Have),
    ("needs", Verb::Have),
    ("know", Verb::Have),
    ("want", Verb::Have),
    ("need", Verb::Have),
    ("contains", Verb::Have),
    ("contain", Verb::Have),
    ("includes", Verb::Have),
    ("include", Verb::Have),
    ("carries", Verb::Have),
    ("carry", Verb::Have),
    ("gets", Verb::Have),
    ("requires", Verb::Have),
    ("require", Verb::Have),
];

/// Prepositions that link a subject to what it belongs to, when a copula or the subject itself
/// stands right before them and a determiner right after: "a visit is for one pet", "bookings
/// for one guest", "each line item is on one invoice".
const LINKING_PREPOSITIONS: &[&str] = &[
    "for", "in", "on", "at", "from", "of", "under", "between", "to",
];
/// Words between a subject and its verb that do not change it.
const MODALS: &[&str] = &[
    "is",
    "are",
    "should",
    "must",
    "will",
    "can",
    "could",
    "may",
    "might",
    "also",
    "always",
    "each",
    "only",
    "just",
    "then",
    "be",
    "gets",
    "get",
    "would",
    "need",
    "needs",
    "to",
    "all",
    "both",
    "usually",
    "typically",
    "too",
];

/// The verb phrase at `i`, if any: its kind and its length in tokens.
pub(super) fn verb_at(words: &[&str], i: usize) -> Option<(Verb, usize)> {
    for (phrase, verb) in VERBS {
        let parts: Vec<&str> = phrase.split(' ').collect();
        if words.len() >= i + parts.len() && words[i..i + parts.len()] == parts[..] {
            // "with" only joins a subject to its items at the start of a clause, not inside
            // an item ("a room with a view" is fine; "start time with timezone" too rare).
            return Some((*verb, parts.len()));
        }
    }
    // "is for one pet", "bookings for one guest": a linking preposition before a determiner.
    if LINKING_PREPOSITIONS.contains(&words[i])
        && i > 0
        && words
            .get(i + 1)
            .is_some_and(|n| matches!(*n, "one" | "a" | "an" | "exactly" | "single" | "the"))
        && (matches!(words[i - 1], "is" | "are" | "be")
            || words[i] == "between"
            || words[i] == "for")
    {
        // "is of a type" and "is in the morning" are rare enough; "for" needs "one".
        if words[i] == "for"
            && !matches!(words[i + 1], "one" | "exactly" | "single")
            && !matches!(words[i - 1], "is" | "are")
        {
            return None;
        }
        return Some((Verb::Belong, 1));
    }
    // "is set on a wall", "is played at a venue", "picks from one block", "goes into a tank":
    // a verb, then a preposition and a determiner, says what the subject belongs to.
    const PREPOSITIONS: &[&str] = &[
        "on", "in", "at", "by", "to", "from", "into", "under", "inside", "within", "for",
    ];
    let w = words[i];
    let participle = w.ends_with("ed")
        || matches!(
            w,
            "set"
                | "made"
                | "held"
                | "given"
                | "taught"
                | "run"
                | "led"
                | "kept"
                | "sent"
                | "built"
                | "written"
                | "taken"
                | "done"
                | "paid"
                | "sold"
                | "bought"
                | "found"
                | "shown"
                | "hung"
                | "put"
                | "stored"
                | "grown"
        );
    let after_copula = i > 0
        && matches!(
            words[i - 1],
            "is" | "are" | "be" | "gets" | "get" | "was" | "were"
        );
    let third_person = i > 0
        && w.len() > 3
        && w.ends_with('s')
        && !w.ends_with("ss")
        && !matches!(
            words[i - 1],
            "a" | "an" | "the" | "of" | "and" | "," | "each" | "every" | "one"
        )
        && !ARTICLES.contains(&words[i - 1]);
    if (participle && after_copula || third_person)
        && words.get(i + 1).is_some_and(|p| PREPOSITIONS.contains(p))
        && words.get(i + 2).is_some_and(|d| {
            matches!(
                *d,
                "one" | "a" | "an" | "exactly" | "single" | "the" | "which"
            )
        })
    {
        return Some((Verb::Belong, 2));
    }
    None
}

/// The first verb phrase outside parentheses, from `from` on.
pub(super) fn first_verb(words: &[&str], from: usize) -> Option<(usize, Verb, usize)> {
    let mut depth = 0usize;
    for i in from..words.len() {
        match words[i] {
            "(" => depth += 1,
            ")" => depth = depth.saturating_sub(1),
            _ if depth == 0 => {
                if let Some((v, n)) = verb_at(words, i) {
                    // "people have edited", "we've been using": an auxiliary, not "have".
                    let auxiliary = v == Verb::Have
                        && words.get(i + n).is_some_and(|p| {
                            (p.ends_with("ed") && p.len() > 4 && !p.ends_with("eed"))
                                || matches!(*p, "been" | "got" | "done" | "made" | "seen" | "to")
                        });
                    if !auxiliary {
                        return Some((i, v, n));
                    }
                }
            }
            _ => {}
        }
    }
    None
}

/// Skips "to know", "to track", "to keep" before a list ("we need to know whether …").
pub(super) fn skip_infinitive(words: &[&str], i: usize) -> usize {
    if words.get(i) == Some(&"to")
        && words.get(i + 1).is_some_and(|v| {
            matches!(
                *v,
                "know"
                    | "track"
                    | "store"
                    | "keep"
                    | "record"
                    | "see"
                    | "have"
                    | "save"
                    | "capture"
                    | "log"
            )
        })
    {
        i + 2
    } else {
        i
    }
}

pub(super) fn skip_modals(words: &[&str], mut i: usize) -> usize {
    while i < words.len() && MODALS.contains(&words[i]) && verb_at(words, i).is_none() {
        i += 1;
    }
    i
}

/// A subject without trailing modals ("cars also" → "cars", "each order should" → "each order").
pub(super) fn trim_modals<'a, 'b>(words: &'b [&'a str]) -> &'b [&'a str] {
    let mut end = words.len();
    while end > 0 && MODALS.contains(&words[end - 1]) {
        end -= 1;
    }
    &words[..end]
}
