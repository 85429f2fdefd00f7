//! Message → `Intent`: what the user asks the crew to do.
//!
//! Rules, not a model: deterministic, offline, and tested on paraphrases. An imperative with a
//! pronoun or "the code" as object ("build it", "ship this") is an action; a verb with an
//! indefinite object ("build an API for…") describes the app.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::model::Environment;

/// What a message asks for; the workflow routes on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Intent {
    /// Describe a new app.
    Create,
    /// Change the existing spec.
    Refine,
    /// Generate the code.
    Build,
    /// Run the generated tests.
    Test,
    /// Deploy the current version.
    Deploy,
    /// Ask about the project.
    Question,
    /// Go back to an earlier version.
    Rollback,
}

impl Intent {
    /// The lower-case name used in the workflow's input.
    pub fn as_str(self) -> &'static str {
        match self {
            Intent::Create => "create",
            Intent::Refine => "refine",
            Intent::Build => "build",
            Intent::Test => "test",
            Intent::Deploy => "deploy",
            Intent::Question => "question",
            Intent::Rollback => "rollback",
        }
    }
}

/// Words that open a question.
const WH: &[&str] = &[
    "what", "which", "how", "why", "where", "when", "who", "whose", "whom",
];
/// Auxiliaries that open a yes/no question.
const AUX: &[&str] = &[
    "is", "are", "does", "do", "did", "has", "have", "was", "were", "am", "isn't", "doesn't",
];
/// Openers of a polite request: "can you …", "please …".
const POLITE: &[&str] = &[
    "can", "could", "would", "will", "please", "pls", "kindly", "now", "ok", "okay", "great",
    "cool", "nice", "perfect", "thanks", "alright", "so", "and", "then", "lets", "let's", "let",
    "us", "you", "we", "i", "want", "to", "go", "ahead", "and", "just", "also", "next", "yes",
    "yep", "sure", "maybe", "need", "like", "i'd",
];
/// Objects that make a verb an action on the current project.
const THIS: &[&str] = &[
    "it",
    "this",
    "that",
    "the",
    "everything",
    "now",
    "again",
    "me",
    "my",
    "our",
    "them",
    "code",
    "project",
    "app",
    "api",
    "service",
    "thing",
    "latest",
    "current",
];

/// Classifies a message. `has_spec` tells whether the project already has a spec, which
/// decides between `Create` and `Refine` for a description.
pub fn classify(text: &str, has_spec: bool) -> Intent {
    let words = normalize(text);
    let asks = text.trim_end().ends_with('?');
    // "what's" opens a question as "what" does.
    let first = words
        .first()
        .and_then(|w| w.split('\'').next())
        .unwrap_or("");
    let describe = if has_spec {
        Intent::Refine
    } else {
        Intent::Create
    };
    if words.is_empty() {
        return Intent::Question;
    }
    if WH.contains(&first) && !starts_with(&words, &["how", "about"]) {
        return Intent::Question;
    }
    if AUX.contains(&first) {
        return Intent::Question;
    }
    // Strip polite openers so that "can you please ship it" reads as "ship it".
    let start = words
        .iter()
        .position(|w| !POLITE.contains(&w.as_str()))
        .unwrap_or(words.len());
    let core = &words[start..];
    if is_rollback(&words) {
        return Intent::Rollback;
    }
    if is_deploy(&words) {
        return Intent::Deploy;
    }
    if is_test(&words) {
        return Intent::Test;
    }
    if is_build(core, &words) {
        return Intent::Build;
    }
    if asks && words.len() <= 3 && !has_spec {
        return Intent::Question;
    }
    let small_talk = ["hi", "hello", "hey", "thanks", "thank", "help"];
    if core.len() <= 2 && core.iter().all(|w| small_talk.contains(&w.as_str())) {
        return Intent::Question;
    }
    if asks && (first == "can" || first == "could") && !describes_change(&words) {
        return Intent::Question;
    }
    describe
}

/// The environment a deploy message names, if any.
pub fn environment_in(text: &str) -> Option<Environment> {
    let words = normalize(text);
    words.iter().find_map(|w| match w.as_str() {
        "staging" | "stage" | "preprod" | "pre-production" | "uat" => Some(Environment::Staging),
        "prod" | "production" | "live" => Some(Environment::Prod),
        "dev" | "development" => Some(Environment::Dev),
        _ => None,
    })
}

/// The version number a message names ("roll back to version 2", "v3"), if any.
pub fn version_in(text: &str) -> Option<u32> {
    let words = normalize(text);
    for (i, w) in words.iter().enumerate() {
        if let Some(n) = w.strip_prefix('v').and_then(|n| n.parse().ok()) {
            return Some(n);
        }
        if matches!(w.as_str(), "version" | "build" | "release" | "#") {
            if let Some(n) = words
                .get(i + 1)
                .and_then(|n| n.trim_start_matches('#').parse().ok())
            {
                return Some(n);
            }
        }
    }
    None
}

fn normalize(text: &str) -> Vec<String> {
    text.to_lowercase()
        .replace(['’', '‘'], "'")
        .split(|c: char| !(c.is_alphanumeric() || c == '\'' || c == '-' || c == '#'))
        .filter(|w| !w.is_empty())
        .map(|w| w.trim_matches('\'').to_owned())
        .filter(|w| !w.is_empty())
        .collect()
}

fn has_word(words: &[String], set: &[&str]) -> bool {
    words.iter().any(|w| set.contains(&w.as_str()))
}

fn has_seq(words: &[String], seq: &[&str]) -> bool {
    words
        .windows(seq.len())
        .any(|w| w.iter().zip(seq).all(|(a, b)| a == b))
}

fn starts_with(words: &[String], seq: &[&str]) -> bool {
    words.len() >= seq.len() && words.iter().zip(seq).all(|(a, b)| a == b)
}

/// The word after `verb`, if `verb` occurs.
fn objects_of<'a>(words: &'a [String], verbs: &[&str]) -> Vec<Option<&'a str>> {
    words
        .iter()
        .enumerate()
        .filter(|(_, w)| verbs.contains(&w.as_str()))
        .map(|(i, _)| words.get(i + 1).map(String::as_str))
        .collect()
}

fn is_rollback(words: &[String]) -> bool {
    has_word(words, &["rollback", "revert", "undo", "downgrade"])
        || has_seq(words, &["roll", "back"])
        || has_seq(words, &["roll", "it", "back"])
        || has_seq(words, &["go", "back", "to"])
        || has_seq(words, &["back", "to", "version"])
        || has_seq(words, &["back", "to", "the", "previous"])
        || has_seq(words, &["restore", "version"])
        || has_seq(words, &["restore", "the", "previous"])
        || has_seq(words, &["previous", "version"])
            && has_word(words, &["use", "restore", "switch"])
}

fn is_deploy(words: &[String]) -> bool {
    const TARGETS: &[&str] = &[
        "staging",
        "production",
        "prod",
        "dev",
        "live",
        "online",
        "aws",
        "cloud",
    ];
    if has_word(words, &["deploy", "redeploy", "deploying"]) {
        return true;
    }
    let ship = objects_of(
        words,
        &["ship", "launch", "release", "publish", "promote", "host"],
    );
    if ship
        .iter()
        .any(|o| o.is_none_or(|o| THIS.contains(&o) || TARGETS.contains(&o) || o == "to"))
    {
        return true;
    }
    (has_word(
        words,
        &["push", "put", "move", "take", "get", "roll", "send", "make"],
    ) && has_word(words, TARGETS)
        && !has_word(words, &["field", "fields", "resource"]))
        || has_seq(words, &["go", "live"])
        || has_seq(words, &["roll", "out"])
        || has_seq(words, &["roll", "it", "out"])
}

fn is_test(words: &[String]) -> bool {
    if has_word(words, &["pytest", "qa", "retest"]) {
        return true;
    }
    let nouns = ["test", "tests", "testsuite", "suite", "checks", "specs"];
    let runs = [
        "run", "rerun", "execute", "launch", "start", "kick", "trigger",
    ];
    if has_word(words, &runs) && has_word(words, &nouns) {
        return true;
    }
    let tested = objects_of(words, &["test", "verify", "check", "validate"]);
    if tested
        .iter()
        .any(|o| o.is_none_or(|o| THIS.contains(&o) || o == "that" || o == "whether" || o == "if"))
        && !has_word(words, &["add", "write", "field", "fields"])
    {
        return true;
    }
    has_seq(words, &["make", "sure", "it", "works"])
        || has_seq(words, &["tests", "pass"])
        || has_seq(words, &["it", "works"]) && has_word(words, &["check", "see", "confirm"])
}

fn is_build(core: &[String], words: &[String]) -> bool {
    const VERBS: &[&str] = &[
        "build",
        "rebuild",
        "generate",
        "regenerate",
        "write",
        "create",
        "implement",
        "code",
        "scaffold",
        "make",
        "produce",
        "compile",
        "assemble",
    ];
    if has_word(words, &["rebuild", "regenerate", "codegen"]) {
        return true;
    }
    if starts_with(core, &["build"]) && core.len() == 1 {
        return true;
    }
    for (i, w) in core.iter().enumerate() {
        if !VERBS.contains(&w.as_str()) {
            continue;
        }
        let next = core.get(i + 1).map(String::as_str);
        let after = core.get(i + 2).map(String::as_str);
        let object_is_this = match next {
            None => w == "build" || w == "generate" || w == "compile",
            Some("it" | "this" | "that" | "everything" | "now" | "again") => true,
            Some("the" | "my" | "our") => {
                after.is_some_and(|a| {
                    [
                        "code",
                        "project",
                        "app",
                        "api",
                        "service",
                        "thing",
                        "files",
                        "source",
                        "backend",
                        "application",
                    ]
                    .contains(&a)
                }) && core.len() <= i + 4
            }
            Some("code" | "source" | "files") => true,
            Some("out") => w == "build",
            _ => false,
        };
        if object_is_this {
            return true;
        }
    }
    has_seq(words, &["go", "ahead"]) && words.len() <= 4 || has_seq(words, &["make", "it", "so"])
}

fn describes_change(words: &[String]) -> bool {
    const CHANGES: &[&str] = &[
        "add", "remove", "drop", "rename", "change", "include", "support", "use", "require", "set",
    ];
    const MAKES: &[&str] = &["create", "build", "design", "write", "make"];
    has_word(words, CHANGES)
        || objects_of(words, MAKES)
            .iter()
            .any(|o| matches!(o, Some("a" | "an" | "me" | "us" | "some")))
}

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
    fn environments() {
        assert_eq!(
            environment_in("push to staging"),
            Some(Environment::Staging)
        );
        assert_eq!(
            environment_in("deploy it to production"),
            Some(Environment::Prod)
        );
        assert_eq!(environment_in("Deploy it"), None);
        assert_eq!(environment_in("deploy to dev"), Some(Environment::Dev));
    }

    #[test]
    fn versions() {
        assert_eq!(version_in("roll back to version 2"), Some(2));
        assert_eq!(version_in("go back to v13"), Some(13));
        assert_eq!(version_in("rollback"), None);
    }

    #[test]
    fn hostile_text_is_just_text() {
        for t in [
            "",
            "   ",
            "\0\0",
            "'; DROP TABLE projects;--",
            "🙂🙂",
            &"x".repeat(100_000),
        ] {
            let _ = classify(t, false);
            let _ = classify(t, true);
        }
    }
}
