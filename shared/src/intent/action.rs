//! Actions: build, test, deploy or roll back, asked for by a verb in verb position whose object
//! is the project ("build it", "run the tests", "push to staging", "go back to v2"); a verb
//! whose object is a thing of the app ("build an API for …") asks for none.

use super::extract::version_in;
use super::openers::OPENERS;
use super::{has, seq, Action};

/// Objects that make a verb an action on the current project.
const THIS: &[&str] = &[
    "it",
    "this",
    "that",
    "everything",
    "all",
    "them",
    "em",
    "'em",
    "code",
    "project",
    "app",
    "api",
    "service",
    "thing",
    "whole",
    "latest",
    "current",
    "implementation",
    "files",
    "server",
    "backend",
    "application",
    "source",
    "endpoints",
    "routes",
    "models",
    "handlers",
    "scaffolding",
    "fastapi",
    "flask",
    "what",
    "stuff",
    "spec",
    "again",
    "now",
];
/// Where a deployment goes.
pub(super) const TARGETS: &[&str] = &[
    "staging",
    "stage",
    "production",
    "prod",
    "dev",
    "live",
    "online",
    "aws",
    "cloud",
    "public",
    "uat",
    "there",
    "internet",
    "web",
];

/// The action a word names when it is used as a verb or an action noun.
pub(super) fn action_word(w: &str) -> Option<Action> {
    Some(match w {
        "build" | "rebuild" | "building" | "generate" | "regenerate" | "generating" | "regen"
        | "codegen" | "scaffold" | "compile" | "implement" | "coding" | "code" | "generation" => {
            Action::Build
        }
        "test" | "tests" | "testing" | "retest" | "pytest" | "qa" | "testcases" | "suite"
        | "testsuite" => Action::Test,
        "deploy" | "redeploy" | "deploying" | "deployment" | "ship" | "shipit" | "release"
        | "publish" | "launch" => Action::Deploy,
        "rollback" | "revert" | "rewind" | "downgrade" => Action::Rollback,
        _ => return None,
    })
}

/// A version named or pointed at: "v2", "version 3", "the previous one", "yesterday's build".
fn names_version(words: &[String]) -> bool {
    version_in(&words.join(" ")).is_some()
        || has(
            words,
            &[
                "previous",
                "prev",
                "earlier",
                "older",
                "original",
                "stable",
                "yesterday",
                "yesterdays",
                "last",
                "prior",
            ],
        ) && has(
            words,
            &[
                "version", "build", "one", "release", "api", "versions", "state", "night",
                "morning",
            ],
        )
        || seq(words, "the one before")
        || seq(words, "version before")
        || seq(words, "old version")
        || seq(words, "old one")
        || seq(words, "old api")
        || seq(words, "first version")
}

pub(super) fn action_in(core: &[String], words: &[String], schema: bool) -> Option<Action> {
    let head = core[0].as_str();
    // Rollback: its own verbs, or going back to a version.
    // "back to" a version or a moment, not "switch ids back to integers".
    let back_to_a_version = words.windows(3).any(|w| {
        w[0] == "back"
            && w[1] == "to"
            && (matches!(
                w[2].as_str(),
                "the"
                    | "version"
                    | "before"
                    | "how"
                    | "stable"
                    | "previous"
                    | "yesterday"
                    | "first"
                    | "original"
                    | "old"
                    | "earlier"
                    | "where"
                    | "when"
                    | "v1"
                    | "last"
            ) || version_in(&w[2]).is_some())
    });
    if has(
        words,
        &[
            "rollback",
            "revert",
            "reverting",
            "rewind",
            "downgrade",
            "rolback",
            "revrt",
            "undo",
        ],
    ) || seq(words, "roll back")
        || seq(words, "roll it back")
        || seq(words, "roll the deployment back")
        || seq(words, "go back")
        || back_to_a_version
        || head == "restore"
            && (!has(words, &["field", "fields", "column"]) || has(words, &["version", "build"]))
            && !seq(words, "restore deleted")
        || names_version(words)
            && !has(
                words,
                &["add", "remove", "rename", "drop", "field", "resource"],
            )
    {
        return Some(Action::Rollback);
    }
    if (!schema || !has(words, &["field", "fields", "resource"]))
        && (seq(words, "back to version")
            || seq(words, "bring back")
            || seq(words, "take it back")
            || seq(words, "put it back")
            || seq(words, "back one")
            || seq(words, "one step back")
            || seq(words, "go bak")
            || seq(words, "undo the last")
            || seq(words, "the way it was")
            || seq(words, "like it was")
            || names_version(words)
                && (has(
                    words,
                    &[
                        "restore", "return", "reset", "back", "again", "switch", "use", "bring",
                        "redeploy", "revert", "live", "current", "go", "start", "want", "need",
                        "get", "give", "discard", "scrap", "forget",
                    ],
                ) || core.len() <= 3))
    {
        return Some(Action::Rollback);
    }
    // A verb whose object is a thing of the app ("build an api for …", "create a resource for
    // invoices", "a deployment resource with …") describes the app.
    let describing_object = |i: usize| -> bool {
        let next = core.get(i + 1).map(String::as_str);
        matches!(next, Some("a" | "an" | "me" | "us" | "some" | "another" | "new"))
            && !core.get(i + 2).is_some_and(|w| matches!(w.as_str(), "code" | "build" | "test" | "tests" | "deployment" | "deploy" | "quick" | "release"))
            || schema && has(&core[i..], &["with", "has", "have", "resource", "field", "fields", "needs", "need", "belong", "belongs", "are"])
            // "build statuses are queued, running, …": the word names a thing of the app.
            || core.get(i + 1).is_some_and(|n| !THIS.contains(&n.as_str()) && n.ends_with('s'))
                && core.get(i + 2).is_some_and(|n| matches!(n.as_str(), "are" | "have" | "has" | "belong" | "need" | "can" | "should"))
    };
    let mut found: Option<Action> = None;
    let mut note = |a: Action| found = Some(found.map_or(a, |f: Action| f.max(a)));
    for (i, w) in core.iter().enumerate() {
        let w = w.as_str();
        let next = core.get(i + 1).map(String::as_str);
        // After a list's colon, words are items ("episodes: title, publish date").
        if core[..i].iter().any(|w| w == ":") {
            continue;
        }
        // A request ends at the verb or goes on with its object ("…, deploy to staging");
        // "…, publish date" names a field.
        let ends_request = next.is_none_or(|n| {
            matches!(
                n,
                "it" | "this"
                    | "em"
                    | "'em"
                    | "them"
                    | "to"
                    | "now"
                    | "please"
                    | "pls"
                    | "again"
                    | ","
                    | "and"
                    | "everything"
                    | "all"
                    | "the"
                    | "run"
                    | "time"
                    | "asap"
                    | "then"
                    | "on"
                    | "my"
                    | "our"
                    | "suite"
                    | "written"
                    | "generated"
                    | "built"
                    | "done"
                    | "deployed"
            )
        });
        let verb_position = i == 0
            || matches!(
                core[i - 1].as_str(),
                "and"
                    | "then"
                    | "to"
                    | "please"
                    | "pls"
                    | "now"
                    | "lets"
                    | "let's"
                    | "us"
                    | "start"
                    | "begin"
                    | "proceed"
                    | "with"
                    | "mind"
                    | "get"
                    | "its"
                    | "it's"
                    | "time"
                    | "for"
                    | "kick"
                    | "trigger"
                    | "perform"
                    | "fire"
                    | "hit"
                    | "smash"
                    | "that"
                    | "off"
                    | "you"
                    | "u"
                    | "go"
                    | "ahead"
                    | "can"
                    | "could"
                    | "will"
                    | "would"
                    | "do"
                    | "make"
                    | "we"
                    | "shall"
                    | "code"
            )
            || matches!(core[i - 1].as_str(), "," | "the" | "a" | "full" | "quick") && ends_request
            || core.len() <= 3
            || next.is_some_and(|n| matches!(n, "it" | "this" | "em" | "'em" | "them"));
        if let Some(a) = action_word(w) {
            // A word after "with", "has" or "belongs to" is in a list of the app's things.
            let listed = core[..i].iter().enumerate().any(|(k, p)| {
                matches!(p.as_str(), "has" | "have" | "having" | "belong" | "belongs")
                    || p == "with"
                        && !(k > 0
                            && matches!(core[k - 1].as_str(), "proceed" | "ahead" | "on" | "go"))
            });
            let on_this = next
                .is_some_and(|n| matches!(n, "it" | "this" | "em" | "'em" | "them" | "everything"));
            // "build quotes from a price list": a verb whose object is a thing of the app.
            let things = next.is_some_and(|n| {
                n.len() > 3
                    && n.ends_with('s')
                    && !n.ends_with("ss")
                    && !THIS.contains(&n)
                    && !OPENERS.contains(&n)
                    && action_word(n).is_none()
            });
            if !verb_position || !on_this && (describing_object(i) || listed || things) {
                continue;
            }
            // "code" builds as an object ("the code", "code it up", "some code"), not as a
            // word in a description ("a discount code").
            if w == "code"
                && i > 0
                && !matches!(
                    core[i - 1].as_str(),
                    "the"
                        | "some"
                        | "get"
                        | "start"
                        | "to"
                        | "whole"
                        | "now"
                        | "pls"
                        | "please"
                        | ","
                        | "with"
                )
                && core.len() > 3
            {
                continue;
            }
            // "launch the test suite" tests.
            if a == Action::Deploy && w == "launch" && has(core, &["test", "tests", "suite"]) {
                note(Action::Test);
                continue;
            }
            note(a);
            continue;
        }
        match w {
            // "run the tests", "run em", "run them again".
            "run" | "rerun" | "execute" | "exectue"
                if (i == 0
                    || matches!(
                        core[i - 1].as_str(),
                        "and" | "then" | "," | "to" | "please" | "now" | "pls"
                    ))
                    && (next.is_none_or(|n| {
                        matches!(
                            n,
                            "em" | "'em" | "them" | "it" | "again" | "all" | "everything"
                        )
                    }) || has(
                        core,
                        &[
                            "test",
                            "tests",
                            "testcases",
                            "suite",
                            "pytest",
                            "checks",
                            "testing",
                        ],
                    )) =>
            {
                note(Action::Test);
            }
            // "make sure it works", "check that everything passes", "verify with tests".
            "verify" | "check" | "confirm" | "ensure" | "validate" | "sanity"
                if has(
                    core,
                    &[
                        "passes",
                        "pass",
                        "works",
                        "work",
                        "green",
                        "tests",
                        "test",
                        "everything",
                        "broken",
                        "breaks",
                        "it",
                        "code",
                    ],
                ) || core.len() <= 2 =>
            {
                note(Action::Test);
            }
            "see" if has(core, &["passes", "pass", "fails", "works", "green"]) => {
                note(Action::Test)
            }
            "make"
                if core.get(i + 1).is_some_and(|n| n == "sure")
                    && core.get(i + 2).is_some_and(|n| {
                        matches!(
                            n.as_str(),
                            "it" | "everything" | "all" | "tests" | "nothing" | "the"
                        )
                    })
                    && (core.get(i + 2).is_some_and(|n| n != "the")
                        || core.get(i + 3).is_some_and(|n| {
                            matches!(n.as_str(), "tests" | "code" | "app" | "api")
                        })) =>
            {
                note(Action::Test)
            }
            // "write the code", "create the project", "make the code", "whip up the code".
            "write" | "wirte" | "create" | "make" | "produce" | "redo" | "rewrite" | "update"
            | "convert" | "turn" | "whip" | "crank" | "bang" | "give" | "assemble" => {
                let object: Vec<&str> = core[i + 1..]
                    .iter()
                    .map(String::as_str)
                    .filter(|o| {
                        !matches!(
                            *o,
                            "the"
                                | "my"
                                | "our"
                                | "up"
                                | "out"
                                | "all"
                                | "some"
                                | "for"
                                | "me"
                                | "us"
                        )
                    })
                    .collect();
                let first_object = object.first().copied();
                if w == "make" && seq(core, "make it so") {
                    continue;
                }
                if w == "make" && first_object == Some("build") {
                    note(Action::Build);
                    continue;
                }
                if describing_object(i) && !has(core, &["code"]) {
                    continue;
                }
                // The object ends the request ("write the server code", "create the project
                // now"); "make the api for a school: …" goes on to describe the app.
                let tail_ok =
                    object.len() <= 3 || has(core, &["described", "discussed", "spec", "code"]);
                let buildable = first_object.is_some_and(|o| matches!(o, "it" | "everything"))
                    && w != "make"
                    || tail_ok
                        && (first_object.is_some_and(|o| {
                            THIS.contains(&o)
                                && !matches!(o, "that" | "what" | "again" | "now" | "all")
                        }) || first_object == Some("it") && w != "make"
                            || has(core, &["code", "files", "implementation"]));
                if w == "make"
                    && first_object.is_some_and(|o| TARGETS.contains(&o) || o == "it")
                    && object
                        .get(1)
                        .is_some_and(|o| TARGETS.contains(o) || *o == "available")
                {
                    note(Action::Deploy);
                } else if buildable && !(w == "make" && first_object == Some("it")) {
                    note(Action::Build);
                }
            }
            // "push it to prod", "put it live", "yeet it to prod", "send it", "get it out there".
            "push" | "put" | "send" | "move" | "take" | "get" | "yeet" | "promote" | "roll"
            | "go" | "bring" | "host" => {
                let rest: Vec<String> = core[i + 1..]
                    .iter()
                    .filter(|o| *o != "the")
                    .cloned()
                    .collect();
                let rest = rest.as_slice();
                if has(rest, TARGETS) && !schema
                    || w == "send" && rest.first().is_some_and(|o| o == "it") && rest.len() <= 2
                    || w == "push" && rest.first().is_some_and(|o| o == "it") && rest.len() <= 1
                    || w == "get" && seq(rest, "it deployed")
                    || w == "roll"
                        && rest.first().is_some_and(|o| {
                            o == "out" || o == "it" && rest.get(1).is_some_and(|x| x == "out")
                        })
                    || w == "host" && rest.first().is_some_and(|o| THIS.contains(&o.as_str()))
                {
                    note(Action::Deploy);
                }
            }
            // "to prod", "prod pls", "straight to prod", "i want it live".
            _ if TARGETS.contains(&w)
                && !matches!(w, "web" | "there" | "public")
                && !schema
                && core.len() <= 4 =>
            {
                note(Action::Deploy)
            }
            "deployed" if !schema => note(Action::Deploy),
            "built" if core.len() <= 4 => note(Action::Build),
            "fails" | "fail" if seq(core, "see if") => note(Action::Test),
            _ => {}
        }
    }
    if found.is_none() && seq(core, "go ahead") && core.len() <= 3 {
        return Some(Action::Build);
    }
    // "regenerate" and "rebuild" build whatever follows them.
    found
}
