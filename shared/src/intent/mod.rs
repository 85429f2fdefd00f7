//! Message → `Intent`: what the user asks the crew to do.
//!
//! Rules, not a model: deterministic and offline. Each sentence is read as a clause: openers
//! and politeness are set aside; its form (a wh-question, a yes/no question, "can I …", an
//! imperative, a fragment) and its words decide. An action verb in verb position whose object is
//! the project ("build it", "ship this", "run the tests") is an action; a verb whose object is
//! a thing of the app ("build an API for…", "a deployment resource with…") describes it. Typos
//! one edit from the action vocabulary are read as the word. Measured on the labelled messages
//! of `tests/understanding/intents/`, written by people who had not read these rules.

mod action;
mod clone;
mod confirm;
mod describe;
mod extract;
mod fix;
mod openers;
mod question;
mod review_override;
mod sentences;
mod typos;

pub use clone::clone_name_in;
pub use confirm::confirms;
pub use extract::{environment_in, version_in};
pub use review_override::overrides_review;

use crate::model::Intent;
use action::action_in;
use describe::{describes, SCHEMA};
use openers::strip_openers;
use question::{asks_permission, clause_opens_question, is_do_request, AUX, TELL, WH};
use sentences::{sentences, Sentence};

/// Classifies a message. `has_spec` tells whether the project already has a spec, which
/// decides between `Create` and `Refine` for a description.
///
/// The message is cut into sentences; each is read as a clause: openers ("ok", "please",
/// "can you", "let's") are set aside, then its form (a question, an imperative, a fragment)
/// and its words decide. Words within one edit of the action vocabulary ("deplyo", "tset")
/// are read as that word. When sentences disagree, the last request wins ("does it work? run
/// the tests" is a test), and a question only wins when no sentence asks for anything.
pub fn classify(text: &str, has_spec: bool) -> Intent {
    let describe = if has_spec {
        Intent::Refine
    } else {
        Intent::Create
    };
    let mut verdict: Option<Reading> = None;
    for sentence in sentences(text) {
        let reading = read_sentence(&sentence);
        verdict = Some(match (verdict, reading) {
            (None, r) => r,
            // An action outranks a description, which outranks a question.
            (Some(Reading::Action(a)), Reading::Action(b)) => Reading::Action(a.max(b)),
            (Some(Reading::Action(a)), _) | (_, Reading::Action(a)) => Reading::Action(a),
            (Some(Reading::Describe), _) | (_, Reading::Describe) => Reading::Describe,
            _ => Reading::Question,
        });
    }
    match verdict {
        None | Some(Reading::Question) => Intent::Question,
        Some(Reading::Describe) => describe,
        Some(Reading::Action(a)) => a.intent(),
    }
}

/// Requests for the crew, in rising precedence: "build and test it" tests, "build, test and
/// deploy" deploys (each step builds and tests first when it must).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Action {
    Build,
    Test,
    Deploy,
    Rollback,
    Clone,
    Fix,
}

impl Action {
    fn intent(self) -> Intent {
        match self {
            Action::Build => Intent::Build,
            Action::Test => Intent::Test,
            Action::Deploy => Intent::Deploy,
            Action::Rollback => Intent::Rollback,
            Action::Clone => Intent::Clone,
            Action::Fix => Intent::Fix,
        }
    }
}

/// What one sentence is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reading {
    Action(Action),
    Describe,
    Question,
}

fn read_sentence(s: &Sentence) -> Reading {
    let words = &s.words;
    let first = words[0].as_str();
    let schema = words
        .iter()
        .any(|w| SCHEMA.contains(&w.as_str()) || w.contains('_'));
    // "how about …" and "what about …" suggest a change.
    if (first == "how" || first == "what") && words.get(1).is_some_and(|w| w == "about") {
        return Reading::Describe;
    }
    let core = strip_openers(words);
    if core.is_empty() {
        return Reading::Question;
    }
    let head = core[0].as_str();
    // Questions by form: a wh-word, an auxiliary, or "can I …" (asking what is possible).
    let second = words.get(1).map_or("", String::as_str);
    let request = matches!(first, "will" | "shall" | "would" | "could" | "can")
        && matches!(second, "you" | "u" | "we" | "ya");
    // "when a user is deleted, keep their posts": "when" and "if" open a condition too.
    let conditional = matches!(first, "when" | "if")
        && !s.asks
        && !AUX.contains(&second)
        && !matches!(second, "can" | "could" | "should" | "would" | "will");
    let questioning = !request
        && !conditional
        && (WH.contains(&first)
            || WH.contains(&head) && !words.iter().any(|w| w == "you" || w == "u")
            || AUX.contains(&first) && !is_do_request(words)
            || asks_permission(words)
            // "quick question, does the api …?", "sorry if this is dumb but what's …?"
            || (s.asks || has(words, &["but"])) && clause_opens_question(words)
            || s.asks && seq(words, "or not"));
    // "clone this project as Inventory v2", "can you make a copy of this app?": a request to
    // copy the project itself; "can I clone a project?" and "if I clone this, …?" ask about it.
    if clone::asks_to_clone(words)
        && (!questioning
            || [
                "can you",
                "could you",
                "would you",
                "will you",
                "can u",
                "could u",
                "can we",
                "could we",
                "can i get",
                "could i get",
                "can i have",
                "could i have",
            ]
            .iter()
            .any(|s| seq(words, s)))
    {
        return Reading::Action(Action::Clone);
    }
    // "fix it", "could you repair the failing tests?", "make the tests pass": a request to
    // repair the project; "why does it fail?" and "can I fix it myself?" ask about it.
    if fix::asks_to_fix(words)
        && (!questioning
            // "do the fix": an imperative, not a question.
            || first == "do" && !s.asks
            || ["can you", "could you", "would you", "will you", "can u", "could u", "pls", "please"]
                .iter()
                .any(|s| seq(words, s)))
    {
        return Reading::Action(Action::Fix);
    }
    if questioning {
        // "do the tests pass?", "does everything pass?": asking for a test run.
        if matches!(first, "do" | "does")
            && second != "you"
            && has(words, &["pass", "passes", "green", "work", "works"])
        {
            return Reading::Action(Action::Test);
        }
        // "is necessary a table for the suppliers": a statement of need, worded as a question.
        if AUX.contains(&first)
            && matches!(second, "necessary" | "needed" | "possible" | "required")
        {
            return Reading::Describe;
        }
        return Reading::Question;
    }
    if (TELL.contains(&head) || head == "give" && has(&core, &["example"]))
        && !(head == "give" && has(&core, &["code"]))
    {
        return Reading::Question;
    }
    if let Some(action) = action_in(&core, words, schema) {
        return Reading::Action(action);
    }
    if describes(&core, words, schema) {
        return Reading::Describe;
    }
    // Nothing asked for and nothing described: small talk, thanks, a status check.
    Reading::Question
}

fn has(words: &[String], set: &[&str]) -> bool {
    words.iter().any(|w| set.contains(&w.as_str()))
}

fn seq(words: &[String], phrase: &str) -> bool {
    let want: Vec<&str> = phrase.split(' ').collect();
    words
        .windows(want.len())
        .any(|w| w.iter().zip(&want).all(|(a, b)| a == b))
}

#[cfg(test)]
mod corpus_tests;

#[cfg(test)]
mod tests {
    use super::*;
    use Intent::*;

    /// (message, project already has a spec, expected intent)
    const TABLE: &[(&str, bool, Intent)] = &[
        // create: describing an app
        ("Build a REST API for managing tasks", false, Create),
        ("I want an API to track books and authors", false, Create),
        (
            "Create a service for a bakery's orders and customers",
            false,
            Create,
        ),
        ("Make me a todo list backend", false, Create),
        (
            "An inventory system with products and warehouses",
            false,
            Create,
        ),
        ("Let's make an app for managing recipes", false, Create),
        (
            "build an api for a library: books, members, loans",
            false,
            Create,
        ),
        (
            "I need a backend for my blog with posts and comments",
            false,
            Create,
        ),
        (
            "Could you create an API for tracking expenses?",
            false,
            Create,
        ),
        ("We want to manage events and attendees", false, Create),
        // refine: changing the spec
        ("Add user authentication", true, Refine),
        ("Add database support", true, Refine),
        ("tasks have a due date and a priority", true, Refine),
        ("Use postgres instead of sqlite", true, Refine),
        ("drop the priority field", true, Refine),
        (
            "Also manage projects; tasks belong to a project",
            true,
            Refine,
        ),
        ("Let me search tasks by title", true, Refine),
        ("paginate the lists please", true, Refine),
        (
            "Each book has an ISBN, a title and a published date",
            true,
            Refine,
        ),
        ("rename tasks to todos", true, Refine),
        ("Can you add a done flag to tasks?", true, Refine),
        ("Build an API for managing invoices too", true, Refine),
        ("make it so you need to log in", true, Refine),
        ("when a task is deleted, keep its comments", true, Refine),
        ("tests please", true, Test),
        ("does it work? run the tests", true, Test),
        ("ok great, deplyo it to staging", true, Deploy),
        ("will you build it?", true, Build),
        (
            "a deployment resource with a version and an environment",
            true,
            Refine,
        ),
        (
            "test cases have a name and an expected output",
            true,
            Refine,
        ),
        (
            "quick question, is there a health endpoint?",
            true,
            Question,
        ),
        ("undo that change", true, Rollback),
        (
            "I run a small bakery and want to track orders",
            false,
            Create,
        ),
        // build
        ("Build it", true, Build),
        ("build", true, Build),
        ("Build the code", true, Build),
        ("Generate the code", true, Build),
        ("OK, build it!", true, Build),
        ("please generate the project", true, Build),
        ("Go ahead and build it", true, Build),
        ("write the code now", true, Build),
        ("rebuild", true, Build),
        ("Can you build the app?", true, Build),
        ("let's generate it", true, Build),
        ("Implement it", true, Build),
        ("regenerate the files", true, Build),
        ("build this", false, Build),
        // test
        ("Run the tests", true, Test),
        ("can you run the test suite?", true, Test),
        ("test it", true, Test),
        ("Run pytest", true, Test),
        ("please run the tests again", true, Test),
        ("Make sure it works", true, Test),
        ("kick off the test suite", true, Test),
        ("verify that everything passes", true, Test),
        ("Run the QA", true, Test),
        ("build and test it", true, Test),
        ("execute the tests", true, Test),
        ("check it", true, Test),
        // deploy
        ("Deploy it", true, Deploy),
        ("ship it", true, Deploy),
        ("push to staging", true, Deploy),
        ("Deploy it to staging", true, Deploy),
        ("Can you deploy this to prod?", true, Deploy),
        ("let's go live", true, Deploy),
        ("put it online", true, Deploy),
        ("release it to production", true, Deploy),
        ("build, test and deploy", true, Deploy),
        ("redeploy", true, Deploy),
        ("ship this to dev please", true, Deploy),
        ("take it live", true, Deploy),
        ("publish the api", true, Deploy),
        ("roll it out", true, Deploy),
        // rollback
        ("Roll back to version 2", true, Rollback),
        ("rollback", true, Rollback),
        ("revert to the previous version", true, Rollback),
        ("undo the last build", true, Rollback),
        ("go back to v1", true, Rollback),
        ("please roll it back", true, Rollback),
        ("restore version 3", true, Rollback),
        // question
        ("What endpoints does it have?", true, Question),
        ("How do I authenticate?", true, Question),
        ("Why did the tests fail?", true, Question),
        ("Is it deployed?", true, Question),
        ("where is it running?", true, Question),
        ("which version is live?", true, Question),
        ("does it have authentication?", true, Question),
        ("what can you do?", false, Question),
        ("help", false, Question),
        ("thanks!", true, Question),
        ("hello", false, Question),
        ("what's the URL?", true, Question),
        ("Can you explain the design?", true, Question),
    ];

    #[test]
    fn classifies_phrasings() {
        assert!(TABLE.len() >= 60);
        let failures: Vec<String> = TABLE
            .iter()
            .filter_map(|(text, has_spec, want)| {
                let got = classify(text, *has_spec);
                (got != *want).then(|| format!("{text:?}: want {want:?}, got {got:?}"))
            })
            .collect();
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn hostile_text_is_just_text() {
        // Nothing asked for: each is read as a question (answered, never acted on).
        for t in [
            "",
            "   ",
            "\0\0",
            "🙂🙂",
            "\u{202e}\u{200b}",
            &"x".repeat(100_000),
        ] {
            assert_eq!(classify(t, false), Question, "{t:?}");
            assert_eq!(classify(t, true), Question, "{t:?}");
        }
        // SQL in a message is words: at most a change to the spec, never a build, deploy or
        // rollback of anything.
        for has_spec in [false, true] {
            let got = classify("'; DROP TABLE projects;--", has_spec);
            assert!(
                matches!(got, Question | Create | Refine),
                "{has_spec}: {got:?}"
            );
        }
    }
}
