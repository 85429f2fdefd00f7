//! Message → `Intent`: what the user asks the crew to do.
//!
//! Rules, not a model: deterministic and offline. Each sentence is read as a clause: openers
//! and politeness are set aside; its form (a wh-question, a yes/no question, "can I …", an
//! imperative, a fragment) and its words decide. An action verb in verb position whose object is
//! the project ("build it", "ship this", "run the tests") is an action; a verb whose object is
//! a thing of the app ("build an API for…", "a deployment resource with…") describes it. Typos
//! one edit from the action vocabulary are read as the word. Measured on the labelled messages
//! of `tests/understanding/intents/`, written by people who had not read these rules.

use crate::model::{Environment, Intent};

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
}

impl Action {
    fn intent(self) -> Intent {
        match self {
            Action::Build => Intent::Build,
            Action::Test => Intent::Test,
            Action::Deploy => Intent::Deploy,
            Action::Rollback => Intent::Rollback,
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

/// One sentence as words, and whether it ended with a question mark.
struct Sentence {
    words: Vec<String>,
    asks: bool,
}

fn sentences(text: &str) -> Vec<Sentence> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        // A full stop inside a word ("v1.2", "e.g") does not end a sentence.
        let ends = matches!(c, '?' | '!' | '\n' | ';')
            || c == '.' && chars.peek().is_none_or(|n| n.is_whitespace());
        if ends {
            push_sentence(&mut out, &current, c == '?');
            current.clear();
        } else {
            current.push(c);
        }
    }
    push_sentence(&mut out, &current, false);
    out
}

fn push_sentence(out: &mut Vec<Sentence>, text: &str, asks: bool) {
    // Commas and colons stay as words of their own: they end a clause inside a sentence.
    let spaced = text.replace(',', " , ").replace(':', " : ");
    let words: Vec<String> = spaced
        .split_whitespace()
        .flat_map(|chunk| {
            if chunk == "," || chunk == ":" {
                vec![chunk.to_owned()]
            } else {
                // "re-generate" is "regenerate"; "yesterday's" is "yesterday".
                let joined = chunk.replace('-', "");
                normalize(&joined)
                    .into_iter()
                    .map(|w| correct(w.strip_suffix("'s").unwrap_or(&w)))
                    .collect()
            }
        })
        .collect();
    let words = if words.iter().all(|w| w == "," || w == ":") {
        Vec::new()
    } else {
        words
    };
    if words.is_empty() {
        if asks {
            if let Some(last) = out.last_mut() {
                last.asks = true;
            }
        }
        return;
    }
    out.push(Sentence { words, asks });
}

/// The action vocabulary, which typos are read against.
const VOCABULARY: &[&str] = &[
    "build",
    "rebuild",
    "built",
    "generate",
    "regenerate",
    "code",
    "write",
    "implement",
    "compile",
    "deploy",
    "redeploy",
    "deployment",
    "deploying",
    "deployed",
    "release",
    "publish",
    "production",
    "staging",
    "ship",
    "test",
    "tests",
    "testing",
    "pytest",
    "run",
    "execute",
    "rollback",
    "revert",
    "restore",
    "rewind",
    "previous",
    "version",
    "back",
    "roll",
    "the",
    "it",
    "what",
    "where",
    "how",
    "whats",
    "current",
    "push",
    "launch",
    "please",
    "generating",
    "building",
    "generation",
    "switch",
    "postgres",
    "testsuite",
    "search",
];
/// Words one edit from the vocabulary that are words of their own.
const NOT_TYPOS: &[&str] = &[
    "were", "hat", "wear", "lunch", "texts", "guild", "shop", "ships", "there", "these", "those",
    "here", "whole", "whom",
];

/// A word read as the vocabulary word one edit away, if there is one: a swap of two adjacent
/// letters at any length ("tset", "hwo"), a letter more or less from four letters on ("deply",
/// "buil"), another letter from five letters on ("genarate"). Plural `-s` is never taken off.
fn correct(word: &str) -> String {
    if VOCABULARY.contains(&word)
        || NOT_TYPOS.contains(&word)
        || word.len() < 2
        || !word.chars().all(|c| c.is_ascii_lowercase())
    {
        return word.to_owned();
    }
    let w: Vec<char> = word.chars().collect();
    for v in VOCABULARY {
        let t: Vec<char> = v.chars().collect();
        let ok = if w.len() == t.len() {
            let diff: Vec<usize> = (0..w.len()).filter(|&i| w[i] != t[i]).collect();
            match diff.as_slice() {
                [a, b] => *b == a + 1 && w[*a] == t[*b] && w[*b] == t[*a],
                [_] => w.len() >= 5,
                _ => false,
            }
        } else if w.len() + 1 == t.len() {
            w.len() >= 3 && t.len() >= 4 && one_insertion(&w, &t)
        } else if w.len() == t.len() + 1 {
            w.len() >= 5
                && one_insertion(&t, &w)
                && !(w.last() == Some(&'s') && w[..w.len() - 1] == t[..])
        } else {
            false
        };
        if ok {
            return (*v).to_owned();
        }
    }
    word.to_owned()
}

/// Whether `long` is `short` with one letter inserted.
fn one_insertion(short: &[char], long: &[char]) -> bool {
    let i = short.iter().zip(long).take_while(|(a, b)| a == b).count();
    short[i..] == long[i + 1..]
}

/// Words that open a clause without being its verb: politeness, acknowledgement, "let's".
const OPENERS: &[&str] = &[
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
    "right",
];
/// Subjects and modals of a request: "I want to …", "can you …", "would you mind …".
const REQUESTERS: &[&str] = &[
    "i", "we", "want", "wanna", "would", "like", "need", "can", "could", "will", "you", "u",
    "mind", "shall", "should", "must", "may", "might", "gonna", "going", "to", "now", "please",
    "pls", "plz",
];
/// Words that open a question.
const WH: &[&str] = &[
    "what", "whats", "what's", "which", "how", "hows", "how's", "why", "where", "wheres",
    "where's", "when", "who", "whose", "whom", "wat", "wats",
];
/// Auxiliaries that open a yes/no question.
const AUX: &[&str] = &[
    "is", "are", "does", "do", "did", "has", "have", "was", "were", "am", "isn't", "doesn't",
    "aren't", "didn't", "r", "will", "shall", "if",
];
/// Verbs that ask to be told something rather than to change or do it.
const TELL: &[&str] = &[
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
const TARGETS: &[&str] = &[
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
/// Words that show a sentence describes the app's data or features.
const SCHEMA: &[&str] = &[
    "default",
    "max",
    "min",
    "maximum",
    "minimum",
    "markdown",
    "decimal",
    "float",
    "int",
    "datetime",
    "timestamp",
    "email",
    "url",
    "kg",
    "km",
    "cm",
    "minutes",
    "hours",
    "mongodb",
    "mysql",
    "mariadb",
    "redis",
    "one",
    "null",
    "nullable",
    "search",
    "persist",
    "persistence",
    "field",
    "fields",
    "column",
    "columns",
    "resource",
    "resources",
    "entity",
    "entities",
    "table",
    "tables",
    "attribute",
    "attributes",
    "property",
    "properties",
    "belong",
    "belongs",
    "relation",
    "relationship",
    "enum",
    "string",
    "integer",
    "boolean",
    "required",
    "optional",
    "unique",
    "searchable",
    "filterable",
    "sortable",
    "authentication",
    "auth",
    "login",
    "database",
    "db",
    "postgres",
    "postgresql",
    "sqlite",
    "pagination",
    "paginate",
    "paginated",
    "timestamps",
    "cors",
    "crud",
    "users",
    "editable",
    "flag",
];
/// Verbs that change the spec.
const CHANGES: &[&str] = &[
    "add", "adding", "remove", "drop", "delete", "rename", "change", "include", "support", "use",
    "require", "set", "allow", "track", "store", "manage", "keep", "make", "need", "needs", "want",
    "let", "give", "record", "log", "save", "replace", "swap", "switch", "turn", "enable",
    "disable", "limit", "protect", "secure", "restrict", "only", "mark", "split", "merge",
    "create", "build", "design", "have", "has", "having", "with", "w", "contain", "contains",
    "hold", "holds", "each", "every", "per", "should", "must", "can", "belong", "belongs",
    "called", "named", "rather", "instead", "actually", "also", "plus", "from", "into", "scratch",
    "forget", "undo", "call",
];

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

/// Whether a clause after a comma or "but" opens with a wh-word or an auxiliary.
fn clause_opens_question(words: &[String]) -> bool {
    words.windows(3).any(|w| {
        matches!(w[0].as_str(), "," | "but" | "so" | ":")
            && (WH.contains(&w[1].as_str()) && w[2] != "about"
                || matches!(w[1].as_str(), "is" | "are" | "does" | "do" | "did")
                || w[1] == "can" && !matches!(w[2].as_str(), "we" | "you" | "u"))
    })
}

/// "do the build", "do a test run", "do you mind deploying": "do" as a request.
fn is_do_request(words: &[String]) -> bool {
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
fn asks_permission(words: &[String]) -> bool {
    matches!(words[0].as_str(), "can" | "could" | "may")
        && words.get(1).is_some_and(|w| {
            !matches!(
                w.as_str(),
                "you" | "u" | "ya" | "we" | "someone" | "somebody"
            )
        })
        && !matches!(words.get(1).map(String::as_str), Some("please" | "pls"))
}

/// The words after the openers and requesters: "ok great, can you please build it" → "build it".
fn strip_openers(words: &[String]) -> Vec<String> {
    let start = words
        .iter()
        .position(|w| !OPENERS.contains(&w.as_str()) && !REQUESTERS.contains(&w.as_str()))
        .unwrap_or(words.len());
    words[start..].to_vec()
}

/// The action a word names when it is used as a verb or an action noun.
fn action_word(w: &str) -> Option<Action> {
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

fn has(words: &[String], set: &[&str]) -> bool {
    words.iter().any(|w| set.contains(&w.as_str()))
}

fn seq(words: &[String], phrase: &str) -> bool {
    let want: Vec<&str> = phrase.split(' ').collect();
    words
        .windows(want.len())
        .any(|w| w.iter().zip(&want).all(|(a, b)| a == b))
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

fn action_in(core: &[String], words: &[String], schema: bool) -> Option<Action> {
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

/// Whether a sentence describes or changes the app.
fn describes(core: &[String], words: &[String], schema: bool) -> bool {
    // "status: confirmed, cancelled", "fields a, b, c": a list describes.
    schema
        || words.iter().any(|w| w == ":")
        // "that should be a yes/no", "needs to be unique": a constraint on what was said.
        || ["should be", "must be", "needs to be", "has to be", "can be", "cannot be", "cant be"]
            .iter()
            .any(|p| seq(words, p))
        // "also an isbn", "and a body": one more item of what was described.
        || words.len() <= 6
            && matches!(words[0].as_str(), "also" | "and" | "plus" | "oh")
            && words.get(1).is_some_and(|w| matches!(w.as_str(), "a" | "an"))
        || words.iter().filter(|w| *w == ",").count() >= 2
        || has(core, CHANGES)
        || has(
            core,
            &[
                "api",
                "app",
                "backend",
                "service",
                "system",
                "application",
                "crud",
                "rest",
                "endpoint",
                "endpoints",
                "tracker",
                "catalog",
                "catalogue",
                "inventory",
                "platform",
            ],
        )
        || core.iter().any(|w| {
            w.len() > 3
                && w.ends_with('s')
                && !w.ends_with("ss")
                && !matches!(
                    w.as_str(),
                    "thanks"
                        | "thx"
                        | "yes"
                        | "this"
                        | "does"
                        | "was"
                        | "is"
                        | "has"
                        | "its"
                        | "lets"
                        | "tests"
                        | "always"
                        | "works"
                        | "passes"
                        | "versions"
                        | "questions"
                        | "progress"
                        | "status"
                        | "details"
                )
        })
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
        .split(|c: char| !(c.is_alphanumeric() || c == '\'' || c == '-' || c == '#' || c == '_'))
        .filter(|w| !w.is_empty())
        .map(|w| w.trim_matches(|c| c == '\'' || c == '-').to_owned())
        .filter(|w| !w.is_empty())
        .collect()
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
