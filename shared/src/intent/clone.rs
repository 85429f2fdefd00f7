//! Cloning: a request to copy the project into a new one ("clone this project as Inventory
//! v2", "make a copy of this app called Shop 2", "fork it"), and the name it gives the copy.
//!
//! The verbs are also words of apps ("users can clone a playlist", "duplicate emails are
//! refused", "books have copies"), so the object decides: the project itself ("it", "this",
//! "the project", "my app"), never a thing of the app.

use super::action::TARGETS;
use super::typos::{slip, Slip};

/// Verbs that copy something.
const VERBS: &[&str] = &["clone", "duplicate", "copy", "fork", "replicate", "dupe"];
/// The same as nouns ("a copy of this project").
const NOUNS: &[&str] = &[
    "clone",
    "copy",
    "duplicate",
    "fork",
    "replica",
    "dupe",
    "twin",
];
/// What a copy may be called before its noun: "a separate copy", "an exact duplicate".
const COPY_ADJECTIVES: &[&str] = &[
    "separate",
    "new",
    "exact",
    "full",
    "second",
    "fresh",
    "quick",
    "independent",
    "complete",
    "identical",
];
/// Words that make the next "project" another one: "a new project", "a separate project".
const ANOTHER: &[&str] = &[
    "new",
    "another",
    "second",
    "separate",
    "fresh",
    "independent",
    "own",
    "more",
    "different",
];
/// Words that point at the project itself.
const PROJECT: &[&str] = &[
    "project",
    "proj",
    "app",
    "api",
    "application",
    "service",
    "backend",
    "thing",
    "one",
    "whole",
    "entire",
    "current",
    "repo",
    "codebase",
    "spec",
    "everything",
];
/// Words after which a verb stands in verb position.
const BEFORE_VERB: &[&str] = &[
    "please", "pls", "plz", "you", "u", "to", "lets", "let's", "and", "then", "now", "just",
    "also", "go", "ahead", "can", "could", "would", "will", "kindly", "quickly", "simply", "ok",
    "okay", "yo", "hey", "let", ",", "mean", "we",
];
/// What may follow the copy when the sentence goes on to name it or ends.
const AFTER: &[&str] = &[
    "as", "called", "named", "into", "titled", "with", "under", "for", "please", "pls", "plz",
    "and", ",", "then", "now", "too", "name", "call", "to", "so",
];
/// Verbs that ask for a copy as a thing ("make a copy", "spin up a duplicate").
const GETTING: &[&str] = &[
    "make", "create", "save", "spin", "want", "need", "get", "give", "have", "do", "keep",
    "produce", "set", "like",
];
/// Words that deny what follows ("not a copy", "don't clone anything").
const NEGATIONS: &[&str] = &["not", "no", "don't", "dont", "never", "without"];

/// Whether `word` is `target` or a slip of a typist away from it: two adjacent letters
/// swapped ("clnoe", "porject"), from seven letters on one letter wrong ("dublicate"), from
/// six on one letter more or less ("projet").
fn is(word: &str, target: &str) -> bool {
    let (w, t): (Vec<char>, Vec<char>) = (word.chars().collect(), target.chars().collect());
    word == target
        || match slip(&w, &t) {
            Some(Slip::Swap) => w.len() >= 4,
            Some(Slip::Substitution) => w.len() >= 7,
            Some(Slip::Insertion | Slip::Deletion) => t.len() >= 6,
            None => false,
        }
}

fn one_of(word: &str, set: &[&str]) -> bool {
    set.iter().any(|t| is(word, t))
}

/// Whether the words of one sentence (lower case, openers kept) ask to clone the project.
pub(super) fn asks_to_clone(words: &[String]) -> bool {
    let at = |i: usize| words.get(i).map(String::as_str);
    // "the project", "this app", "it": the object is the project itself, and what follows
    // it (if anything) names the copy or ends the request.
    let project_object = |i: usize| -> bool {
        match at(i) {
            None => true,
            Some("it" | "itself") => true,
            Some(n) if one_of(n, PROJECT) => true,
            Some("this" | "that" | "the" | "my" | "our") => match at(i + 1) {
                None => true,
                Some(n) if one_of(n, PROJECT) => true,
                Some("whole" | "current" | "entire" | "existing") => {
                    at(i + 2).is_some_and(|n| one_of(n, PROJECT))
                }
                Some(n) => matches!(at(i), Some("this" | "that")) && AFTER.contains(&n),
            },
            // "clone to 'Rollback Experiments'", not "clone to staging" (a deploy, if anything).
            Some("to") => at(i + 1).is_some_and(|n| !TARGETS.contains(&n)),
            Some(n) => AFTER.contains(&n),
        }
    };
    let denied = |i: usize| {
        words[i.saturating_sub(3)..i]
            .iter()
            .any(|w| NEGATIONS.contains(&w.as_str()))
    };
    for (i, w) in words.iter().enumerate() {
        let w = w.as_str();
        if denied(i) {
            continue;
        }
        let verb_position = i == 0 || BEFORE_VERB.contains(&words[i - 1].as_str());
        if one_of(w, VERBS) && verb_position && project_object(i + 1) {
            return true;
        }
        if !one_of(w, NOUNS) {
            continue;
        }
        // "make a copy of this project", "a separate copy of the app", "duplicate of project".
        let of_project = at(i + 1) == Some("of") && at(i + 2).is_some() && project_object(i + 2);
        // "save a copy as Shop 2", "make me a copy", "spin up a duplicate project called X".
        let article_at = |k: usize| matches!(words[k].as_str(), "a" | "an" | "another");
        let article = i > 0
            && (article_at(i - 1)
                || i > 1 && article_at(i - 2) && COPY_ADJECTIVES.contains(&words[i - 1].as_str()));
        let asked = words[..i].iter().any(|p| GETTING.contains(&p.as_str()));
        let then = |j: usize| at(j).is_none_or(|n| AFTER.contains(&n) && n != "to" && n != "with");
        let naming = then(i + 1) || at(i + 1).is_some_and(|n| one_of(n, PROJECT)) && then(i + 2);
        if of_project || article && asked && naming {
            return true;
        }
    }
    new_project_from_this(words)
}

/// "start a new project from this one", "another project just like this one", "use this as a
/// template for a new project": another project, made from the one the conversation is about.
/// Not when the sentence speaks of the app's own users or things ("users can create a new
/// project from a template").
fn new_project_from_this(words: &[String]) -> bool {
    let has = |set: &[&str]| words.iter().any(|w| set.contains(&w.as_str()));
    if has(&[
        "users",
        "user",
        "customers",
        "endpoint",
        "endpoints",
        "field",
        "fields",
        "resource",
    ]) {
        return false;
    }
    let another = words.iter().enumerate().any(|(i, w)| {
        one_of(w, &["project"])
            && words[i.saturating_sub(3)..i]
                .iter()
                .any(|p| ANOTHER.contains(&p.as_str()))
            || w == "one" && i > 0 && words[i - 1] == "new" && has(&["project", "app"])
    });
    let this = words.windows(2).any(|p| {
        matches!(
            (p[0].as_str(), p[1].as_str()),
            ("this" | "that", _) | ("from" | "using" | "use" | "of" | "on", "it") | (_, "here")
        )
    }) || has(&["same"]);
    another && this
}

/// Markers that name the copy, stronger than "as" and "into": "… as a backup called X".
const STRONG: &[&str] = &[
    " called ",
    " named ",
    " name it ",
    " call it ",
    " titled ",
    " under the name ",
    " with the name ",
    " with name ",
    " new name is ",
    " name is ",
    " name the copy ",
    " name the clone ",
    " name the fork ",
    " name the new one ",
    " call the copy ",
    " call the clone ",
    " call the fork ",
    " call the new one ",
    " name: ",
    " name = ",
    " name ",
];
/// What "as …" says that is not a name: "as is", "as a backup called …".
const NOT_NAMES: &[&str] = &[
    "is",
    "a",
    "an",
    "well",
    "before",
    "it is",
    "the same",
    "usual",
    "such",
    "it was",
    "its own",
    "their own",
    "my own",
];
/// What follows "name" or "name is" that says no name is wanted.
const NO_NAME: &[&str] = &[
    "fine",
    "ok",
    "okay",
    "good",
    "needed",
    "required",
    "necessary",
    "whatever",
    "anything",
    "matter",
    "doesn't matter",
    "does not matter",
];

/// The name a clone request gives the copy, as the user wrote it (quotes, trailing
/// politeness and the end of the sentence taken off); `None` when it gives none.
pub fn clone_name_in(text: &str) -> Option<String> {
    let padded = format!(" {} ", text.replace(['\n', '\r', '\t'], " \n "));
    // ASCII lower case keeps byte offsets, so positions found in it hold in the original.
    let lower = padded.to_ascii_lowercase();
    // The first marker in the text; of markers starting at one place, the longest.
    let strong = STRONG
        .iter()
        .filter_map(|m| lower.find(m).map(|at| (at, std::cmp::Reverse(m.len()))))
        .min()
        .map(|(at, len)| at + len.0);
    let start = strong.or_else(|| {
        [
            " as ", " into ", " → ", " -> ", ": ", " to \"", " to '", " to “",
        ]
        .iter()
        .find_map(|m| {
            lower
                .match_indices(m)
                .map(|(at, _)| at + m.trim_end_matches(['"', '\'', '“']).len())
                .find(|&after| {
                    let rest = lower[after..].trim();
                    !NOT_NAMES.iter().any(|n| {
                        rest.strip_prefix(n)
                            .is_some_and(|r| r.is_empty() || r.starts_with([' ', ',', '.', '!']))
                    })
                })
        })
    })?;
    name_at(&padded[start..]).filter(|name| {
        let lower = name.to_lowercase();
        !NO_NAME.contains(&lower.as_str())
    })
}

/// The name that starts `rest`: a quoted name whole, otherwise up to the sentence's end.
fn name_at(rest: &str) -> Option<String> {
    let rest = rest.trim_start_matches(|c: char| c.is_whitespace() || matches!(c, '=' | ':'));
    let mut chars = rest.chars();
    let first = chars.next()?;
    let close = match first {
        '"' => Some('"'),
        '\'' => Some('\''),
        '“' => Some('”'),
        '‘' => Some('’'),
        '«' => Some('»'),
        '`' => Some('`'),
        _ => None,
    };
    if let Some(close) = close {
        let inner = &rest[first.len_utf8()..];
        if let Some(end) = inner.find(close) {
            return clean(&inner[..end]);
        }
    }
    // Up to the end of the sentence: a line break, "!" or "?", or a full stop before a space.
    let mut end = rest.len();
    for (i, c) in rest.char_indices() {
        let next = rest[i + c.len_utf8()..].chars().next();
        if c == '\n' || c == '!' || c == '?' || c == '.' && next.is_none_or(char::is_whitespace) {
            end = i;
            break;
        }
    }
    let mut name = rest[..end].trim().to_owned();
    // "…, then deploy it", "… and then build"
    for cut in [
        ", then ",
        " and then ",
        ", and ",
        " then ",
        " so ",
        " because ",
        " and keep ",
        " and i ",
        " and i'",
        " and we ",
    ] {
        if let Some(at) = name.to_ascii_lowercase().find(cut) {
            name.truncate(at);
        }
    }
    loop {
        let lower = name.to_ascii_lowercase();
        let before = name.len();
        for tail in [
            " please",
            " pls",
            " plz",
            " thanks",
            " thank you",
            " thx",
            " for me",
            ",",
            " ok",
        ] {
            if lower.ends_with(tail) {
                name.truncate(name.len() - tail.len());
                name = name.trim_end().to_owned();
                break;
            }
        }
        if name.len() == before {
            break;
        }
    }
    clean(&name)
}

fn clean(name: &str) -> Option<String> {
    let name = name
        .trim()
        .trim_matches(|c: char| matches!(c, '"' | '\'' | '“' | '”' | '‘' | '’' | '«' | '»' | '`'))
        .trim();
    (!name.is_empty()).then(|| name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        super::super::sentences::sentences(s)
            .into_iter()
            .flat_map(|s| s.words)
            .collect()
    }

    #[test]
    fn the_object_decides_whether_a_copy_is_of_the_project() {
        for yes in [
            "clone this project as Inventory v2",
            "clone it",
            "make a copy of this project called Shop 2",
            "fork this into Tasks Two",
            "please duplicate the app",
            "save a copy as Draft",
        ] {
            assert!(asks_to_clone(&words(yes)), "{yes}");
        }
        for no in [
            "users can clone a playlist",
            "duplicate emails should be rejected",
            "books have several copies",
            "add an endpoint to duplicate an invoice",
            "copy the address from the customer",
        ] {
            assert!(!asks_to_clone(&words(no)), "{no}");
        }
    }

    #[test]
    fn the_name_is_taken_as_written() {
        let cases = [
            ("clone this project as Inventory v2", Some("Inventory v2")),
            ("Clone it as 'Shop API 2' please", Some("Shop API 2")),
            (
                "make a copy of this app called Recipe Box 2.0.",
                Some("Recipe Box 2.0"),
            ),
            ("clone this as a new project called Notes", Some("Notes")),
            (
                "fork this into tasks-api (staging copy)",
                Some("tasks-api (staging copy)"),
            ),
            ("clone it", None),
            ("clone it as is", None),
            ("duplicate this, name it Zed! thanks", Some("Zed")),
        ];
        for (text, want) in cases {
            assert_eq!(clone_name_in(text).as_deref(), want, "{text}");
        }
    }
}
