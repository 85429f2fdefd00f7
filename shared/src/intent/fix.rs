//! Fixing: a request to repair the project so that its failing tests pass ("fix it", "can you
//! repair the failing tests?", "make the tests pass", "get it green again").
//!
//! "Fix" is also how people correct the app itself ("fix the due date so it is optional",
//! "fix: users need a role"): those describe a change, and the object decides. A repair's
//! object is the project ("it", "the code") or what fails ("the tests", "the failures", "the
//! 500 on POST /tasks", "test_create_task", "my change"); a correction's is a thing of the app,
//! or it says what the thing should become ("so it …", "to be …", "should …").

use super::typos::{slip, Slip};

/// Verbs that repair (in the form a request uses them).
const VERBS: &[&str] = &[
    "fix",
    "repair",
    "mend",
    "resolve",
    "debug",
    "heal",
    "unbreak",
    "troubleshoot",
    "patch",
    "correct",
    "autofix",
];
/// Verbs of two words: "deal with the failing tests", "take care of the errors".
const PHRASES: &[&[&str]] = &[&["deal", "with"], &["take", "care", "of"], &["clean", "up"]];
/// The same as gerunds, after a word that makes them a request ("needs fixing", "have a go at
/// fixing these", "try repairing it").
const GERUNDS: &[&str] = &["fixing", "repairing", "mending", "debugging", "patching"];
const BEFORE_GERUND: &[&str] = &[
    "at", "try", "start", "keep", "needs", "need", "go", "continue",
];
/// What a repair is done to: the project, or what fails.
const OBJECTS: &[&str] = &[
    // the project
    "it",
    "this",
    "that",
    "them",
    "em",
    "everything",
    "all",
    "code",
    "project",
    "app",
    "api",
    "service",
    "backend",
    "thing",
    "stuff",
    "implementation",
    "version",
    "whatever",
    "something",
    "things",
    "mess",
    "what",
    "these",
    "those",
    // what fails
    "test",
    "tests",
    "testcase",
    "testcases",
    "suite",
    "failures",
    "failure",
    "failing",
    "fails",
    "failed",
    "errors",
    "error",
    "bug",
    "bugs",
    "build",
    "breakage",
    "issue",
    "issues",
    "problem",
    "problems",
    "red",
    "broken",
    "crash",
    "crashes",
    "exception",
    "exceptions",
    "traceback",
    "regression",
    "regressions",
    "pipeline",
    "ci",
    "breaking",
    "broke",
    "change",
    "changes",
    "edit",
    "edits",
    "mistake",
    "mistakes",
];
/// Words that say what a thing should become: a correction of the app, not a repair.
const BECOME: &[&str] = &[
    "should", "must", "needs", "need", "so", "to", "into", "as", "cannot", "can't", "cant",
];
/// Words after which the failing state is named ("get it green", "make the tests pass").
const PASSING: &[&str] = &[
    "pass", "passes", "passing", "green", "work", "works", "working", "succeed", "succeeds",
    "correct", "right", "fixed", "stops", "stop",
];
/// Words that say a thing should become something, before a repair verb whose object is a
/// pronoun: "the title should be required, fix that" corrects the app.
const OUGHT: &[&str] = &["should", "must", "shall", "spec"];

/// Words after which a verb is in a request's place ("please fix", "can you fix", "try to
/// fix", "and fix"): a repair verb elsewhere is a noun of the app ("a bike repair shop").
const LEAD_INS: &[&str] = &[
    "please", "pls", "plz", "kindly", "you", "u", "ya", "kiln", "and", "then", "now", "just", ",",
    "to", "lets", "let's", "also", "quickly", "me", "us", "go", "ahead", "!", "ok", "okay", "hey",
    "so", "pleaseee", "plss", "simply", "maybe", "quick", "asap", "again", "up",
    // modals: "could you fix", "you should fix"
    "can", "could", "would", "will", "shall", "should", "must", "might", "may",
    // greetings and addresses: "yo fix it", "por favor fix", "team, fix"
    "yo", "hi", "hello", "team", "guys", "folks", "favor", "mate", "dude", "bro", "sir",
];

/// A word read as a repair verb, typos one slip away included ("fxi", "fixe", "repiar"), but
/// not a past form ("resolved", "fixed").
fn is_verb(word: &str) -> bool {
    if word.ends_with("ed") {
        return false;
    }
    let w: Vec<char> = word.chars().collect();
    VERBS.iter().any(|v| {
        let t: Vec<char> = v.chars().collect();
        *v == word
            || match slip(&w, &t) {
                Some(Slip::Swap) => true,
                Some(Slip::Insertion) => {
                    w.len() >= 4 && !matches!(word, "fixed" | "fixes" | "fixer")
                }
                Some(Slip::Deletion) | Some(Slip::Substitution) => t.len() >= 6,
                None => false,
            }
    }) || word == "fx"
}

/// What fails, misspelt by one slip ("erors", "failrues"), from five letters on.
fn is_failure_typo(word: &str) -> bool {
    let w: Vec<char> = word.chars().collect();
    ["errors", "error", "failures", "failing", "tests", "broken"]
        .iter()
        .any(|t| {
            let t: Vec<char> = t.chars().collect();
            w.len() >= 4
                && matches!(
                    slip(&w, &t),
                    Some(Slip::Swap | Slip::Deletion | Slip::Insertion)
                )
        })
}

fn is_object(word: &str) -> bool {
    is_failure_typo(word)
        || OBJECTS.contains(&word)
        || word.starts_with("test_")
        || word.ends_with("error")
        || word.ends_with("exception")
        // an HTTP status ("the 500", "a 404")
        || (word.len() == 3 && word.starts_with(['4', '5']) && word.bytes().all(|b| b.is_ascii_digit()))
}

/// Whether the words ask to repair the project so its tests pass.
pub(super) fn asks_to_fix(words: &[String]) -> bool {
    let w: Vec<&str> = words.iter().map(String::as_str).collect();
    for (i, word) in w.iter().enumerate() {
        // After a determiner the word is a noun: "after the fix", "my fix".
        let noun = i > 0
            && matches!(
                w[i - 1],
                "the" | "a" | "an" | "my" | "your" | "this" | "that" | "each" | "every"
            );
        // At the start, after a lead-in, or after a dash or other mark: "… a KeyError — fix
        // the code".
        let placed = i == 0
            || LEAD_INS.contains(&w[i - 1])
            || !w[i - 1].chars().any(char::is_alphanumeric)
            // a mark the reading dropped, after what fails: "… a KeyError — fix the code"
            || is_object(w[i - 1]) && w[i - 1].len() > 4;
        let verb = is_verb(word) && !noun && placed
            || GERUNDS.contains(word) && i > 0 && BEFORE_GERUND.contains(&w[i - 1]);
        // "fix:" labels a change ("fix: users need a role").
        if verb && w.get(i + 1) != Some(&":") {
            let rest = &w[i + 1..];
            // "the title should be required, please fix that (in the spec)".
            let corrects = w[..i].iter().chain(rest).any(|x| OUGHT.contains(x))
                && !w
                    .iter()
                    .any(|x| matches!(*x, "test" | "tests" | "suite" | "failing" | "fails"));
            if !corrects && (rest.is_empty() || repairs(word, rest)) {
                return true;
            }
        }
        // "deal with the failing tests", "take care of the errors".
        for phrase in PHRASES {
            if w[i..].starts_with(phrase) && repairs(phrase[0], &w[i + phrase.len()..]) {
                return true;
            }
        }
        // "X needs fixing" after what fails: "the 500 on GET /orders needs fixing".
        if GERUNDS.contains(word)
            && i > 0
            && matches!(w[i - 1], "needs" | "need")
            && w[..i].iter().any(|x| is_object(x))
        {
            return true;
        }
        // "apply a fix", "try a fix", "find a fix for the failures".
        if *word == "fix"
            && i >= 2
            && matches!(w[i - 1], "a" | "the")
            && matches!(
                w[i - 2],
                "apply" | "try" | "find" | "attempt" | "push" | "make" | "need" | "do" | "ship"
            )
        {
            return true;
        }
        // "sort it out", "sort out the failures", "sort the broken tests"; not "sort them by
        // date".
        if *word == "sort"
            && w[i + 1..].iter().take(5).any(|x| is_object(x))
            && !w[i + 1..]
                .iter()
                .any(|x| matches!(*x, "by" | "order" | "alphabetically"))
        {
            return true;
        }
        // "make the tests pass", "get it green again", "make the red tests green".
        if matches!(*word, "make" | "get" | "turn")
            && !matches!(w.get(i + 1), Some(&"sure" | &"certain"))
            && w[i + 1..].iter().take(4).any(|x| is_object(x))
            && w[i + 1..].iter().take(6).any(|x| PASSING.contains(x))
            && !w[i + 1..]
                .iter()
                .take(6)
                .any(|x| matches!(*x, "deploy" | "deployed" | "live"))
        {
            return true;
        }
    }
    false
}

/// Whether what follows a repair verb is a repair's object: the project or what fails, before
/// any word saying what a thing should become.
fn repairs(verb: &str, rest: &[&str]) -> bool {
    for (j, word) in rest.iter().enumerate() {
        // "Kiln please repair, 2 tests fail": the verb ends its clause, no object.
        if *word == "," {
            // "correct, now write the code": an answer, not a request.
            return j == 0 && verb != "correct";
        }
        if BECOME.contains(word) || *word == ":" {
            return false;
        }
        if is_object(word) {
            // "fix it so that the price is a decimal": the project, then a correction; "fix
            // the code so the tests pass": then what should pass.
            let after = &rest[j + 1..];
            let so = after
                .first()
                .is_some_and(|a| matches!(*a, "so" | "to" | "as"));
            let passes = after.iter().take(8).any(|a| PASSING.contains(a))
                && after.iter().take(8).any(|a| is_object(a) || *a == "suite");
            return !so || passes || after.get(1).is_some_and(|a| PASSING.contains(a));
        }
        // Past the object's few words: a thing of the app.
        if j >= 5 {
            return false;
        }
    }
    // "fix please", "fix asap", "fix now": no object, a repair.
    rest.iter().all(|w| {
        matches!(
            *w,
            "please" | "pls" | "plz" | "now" | "asap" | "again" | "up" | "thanks" | "thx" | ","
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn repairs_of_the_project_and_of_what_fails_are_fix_requests() {
        for text in [
            "fix it",
            "fix",
            "fix the failing tests",
            "repair the code",
            "make the tests pass",
            "get it green",
            "fix the 500 on post",
            "sort it out",
            "fxi it",
        ] {
            assert!(asks_to_fix(&words(text)), "{text}");
        }
    }

    #[test]
    fn corrections_of_the_app_are_not() {
        for text in [
            "fix the due date so it is optional",
            "fix : users need a role",
            "fix the price field to be a decimal",
            "i fixed it myself , run the tests",
            "fix it so the price is a decimal",
            "make the title required",
        ] {
            assert!(!asks_to_fix(&words(text)), "{text}");
        }
    }
}

#[cfg(test)]
mod code_requests {
    use crate::intent::classify;
    use crate::model::Intent;

    /// Messages that name code keep going through the spec: what the app is changes in the
    /// spec, and the code follows it (a repair is only a request to make failing tests pass).
    #[test]
    fn messages_that_name_code_are_spec_changes() {
        for text in [
            "add a priority field to the Task schema",
            "in app/schemas.py, add a due_date to TaskCreate",
            "fix the Task model so the title is optional",
            "the tasks router should also filter by done",
        ] {
            assert_eq!(classify(text, true), Intent::Refine, "{text}");
        }
    }
}
