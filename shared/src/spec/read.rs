//! Rules that read an `AppSpec` change out of one chat message.
//!
//! The rules only ever produce checked identifiers: a word of the user's that cannot be one is
//! dropped, never passed on.

use super::{check_identifier, AppSpec, AuthFeature, DatabaseFeature, Resource};

/// What one message changed in the spec, one line per change, for the reply.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpecChange {
    /// Things added.
    pub added: Vec<String>,
    /// Things removed.
    pub removed: Vec<String>,
    /// Things changed.
    pub changed: Vec<String>,
}

impl SpecChange {
    /// Whether the message changed nothing.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}

/// Words after which the things an API manages are named.
const TRIGGERS: &[&str] = &[
    "managing",
    "manage",
    "manages",
    "tracking",
    "track",
    "tracks",
    "storing",
    "store",
    "handling",
    "handle",
    "organizing",
    "organising",
    "organize",
    "organise",
    "for",
    "of",
    "with",
    "about",
];

/// Words that end a list of resource names.
const STOPS: &[&str] = &[
    "with",
    "that",
    "which",
    "where",
    "so",
    "to",
    "in",
    "using",
    "where",
    "who",
    "when",
    "by",
    "via",
    "on",
    "from",
    "including",
    "plus",
    "please",
    "it",
    "each",
    "every",
    "having",
    "has",
    "have",
    "should",
    "must",
    "can",
    "will",
    "is",
    "are",
    "for",
];

/// Words dropped from a noun phrase.
const FILLERS: &[&str] = &[
    "a",
    "an",
    "the",
    "my",
    "our",
    "your",
    "their",
    "some",
    "all",
    "simple",
    "basic",
    "small",
    "new",
    "rest",
    "restful",
    "http",
    "json",
    "web",
    "api",
    "apis",
    "service",
    "backend",
    "app",
    "application",
    "crud",
    "managing",
    "manage",
    "also",
    "more",
    "few",
    "user's",
    "users'",
    "lists",
    "list",
    "endpoints",
    "endpoint",
    "data",
    "records",
];

/// Words that describe features, not resources.
const NOT_RESOURCES: &[&str] = &[
    "authentication",
    "auth",
    "login",
    "logins",
    "database",
    "db",
    "postgres",
    "postgresql",
    "sqlite",
    "pagination",
    "search",
    "support",
    "docker",
    "tests",
    "test",
    "deployment",
    "me",
    "us",
    "them",
    "everything",
    "things",
    "stuff",
    "jwt",
    "tokens",
    "token",
];

/// Applies one message to `spec`, returning what changed.
///
/// `describes_app` is true for a message that describes the app (intent create): then the
/// resources it names are read too, and the summary is set from the message.
pub fn apply_message(spec: &mut AppSpec, text: &str, describes_app: bool) -> SpecChange {
    let mut change = SpecChange::default();
    let lower = text.to_lowercase();
    if describes_app && spec.summary.is_empty() {
        spec.summary = text.trim().chars().take(500).collect();
    }
    for (singular, plural) in resource_names(&lower) {
        if spec.resource(&singular).is_none() && spec.resource(&plural).is_none() {
            spec.resources.push(Resource {
                name: singular.clone(),
                plural: plural.clone(),
                fields: Vec::new(),
                relations: Vec::new(),
            });
            change.added.push(format!("resource `{plural}`"));
        }
    }
    read_features(spec, &lower, &mut change);
    change
}

/// The lower-case words of a text, in order.
pub(crate) fn words_of(text: &str) -> Vec<String> {
    text.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Whether the words contain `phrase` (space-separated words) as a whole-word sequence.
pub(crate) fn mentions(words: &[String], phrase: &str) -> bool {
    let want: Vec<&str> = phrase.split(' ').collect();
    words
        .windows(want.len())
        .any(|w| w.iter().zip(&want).all(|(a, b)| a == b))
}

/// Whether a text asks about or for authentication ("auth", "login"; not "authors").
pub(crate) fn mentions_auth(words: &[String]) -> bool {
    [
        "authentication",
        "auth",
        "authenticate",
        "authenticated",
        "login",
        "logins",
        "log in",
        "sign in",
        "sign up",
        "jwt",
    ]
    .iter()
    .any(|p| mentions(words, p))
}

fn read_features(spec: &mut AppSpec, lower: &str, change: &mut SpecChange) {
    let words = words_of(lower);
    let has = |phrases: &[&str]| phrases.iter().any(|p| mentions(&words, p));
    let negated = has(&[
        "remove",
        "drop",
        "without",
        "no longer",
        "disable",
        "delete",
    ]);
    if mentions_auth(&words) {
        let want = if negated {
            AuthFeature::None
        } else {
            AuthFeature::Jwt
        };
        if spec.features.auth != want {
            spec.features.auth = want;
            match want {
                AuthFeature::Jwt => change.added.push("JWT authentication".into()),
                AuthFeature::None => change.removed.push("authentication".into()),
            }
        }
    }
    let db = if has(&["postgres", "postgresql"]) {
        Some(DatabaseFeature::Postgres)
    } else if has(&[
        "database",
        "sqlite",
        "persist",
        "persistence",
        "persistent",
        "sql",
        "db",
    ]) {
        Some(if negated {
            DatabaseFeature::None
        } else {
            DatabaseFeature::Sqlite
        })
    } else {
        None
    };
    if let Some(db) = db {
        if spec.features.database != db {
            let label = match db {
                DatabaseFeature::None => "in-memory storage",
                DatabaseFeature::Sqlite => "SQLite database",
                DatabaseFeature::Postgres => "PostgreSQL database",
            };
            change.changed.push(format!("storage: {label}"));
            spec.features.database = db;
        }
    }
    let paginate =
        words.iter().any(|w| w.starts_with("paginat")) || has(&["page through", "pages of"]);
    if paginate && spec.features.pagination == negated {
        spec.features.pagination = !negated;
        if negated {
            change.removed.push("pagination".into());
        } else {
            change.added.push("pagination".into());
        }
    }
}

/// The (singular, plural) resource names a message mentions after a trigger word.
fn resource_names(lower: &str) -> Vec<(String, String)> {
    let words: Vec<&str> = lower
        .split(|c: char| !(c.is_alphanumeric() || c == '\'' || c == ',' || c == '&' || c == '/'))
        .filter(|w| !w.is_empty())
        .collect();
    let mut out: Vec<(String, String)> = Vec::new();
    let mut i = 0;
    while i < words.len() {
        if !TRIGGERS.contains(&words[i]) {
            i += 1;
            continue;
        }
        i += 1;
        let mut phrase: Vec<&str> = Vec::new();
        while i < words.len() {
            let raw = words[i];
            let word = raw.trim_matches(|c: char| c == ',' || c == '\'');
            let ends_item = raw.ends_with(',') || word == "and" || word == "&" || word == "or";
            if STOPS.contains(&word) && !phrase.is_empty() {
                break;
            }
            if !ends_item || word != "and" && word != "&" && word != "or" {
                for part in word.split('/') {
                    if !part.is_empty() && !FILLERS.contains(&part) {
                        phrase.push(part);
                    }
                }
            }
            i += 1;
            if ends_item {
                push_resource(&mut out, &phrase);
                phrase.clear();
            }
        }
        push_resource(&mut out, &phrase);
    }
    out
}

fn push_resource(out: &mut Vec<(String, String)>, phrase: &[&str]) {
    // The head noun is last; keep at most one modifier ("blog posts" → blog_post).
    let words: Vec<&str> = phrase
        .iter()
        .rev()
        .take(2)
        .rev()
        .copied()
        .filter(|w| !NOT_RESOURCES.contains(w) && w.chars().all(|c| c.is_ascii_lowercase()))
        .collect();
    let Some(head) = words.last() else { return };
    if !looks_plural(head) {
        return;
    }
    let prefix: String = words[..words.len() - 1]
        .iter()
        .map(|w| format!("{w}_"))
        .collect();
    let plural = format!("{prefix}{head}");
    let singular = format!("{prefix}{}", singularize(head));
    if check_identifier(&singular).is_ok()
        && check_identifier(&plural).is_ok()
        && singular != plural
        && !out.iter().any(|(s, _)| *s == singular)
    {
        out.push((singular, plural));
    }
}

fn looks_plural(word: &str) -> bool {
    word == "people"
        || word == "children"
        || (word.ends_with('s') && !word.ends_with("ss") && word.len() > 2)
}

/// English singular of a plural noun, by the common rules.
pub fn singularize(word: &str) -> String {
    match word {
        "people" => return "person".into(),
        "children" => return "child".into(),
        "statuses" => return "status".into(),
        "addresses" => return "address".into(),
        _ => {}
    }
    if let Some(stem) = word.strip_suffix("ies") {
        if stem.len() > 1 {
            return format!("{stem}y");
        }
    }
    for suffix in ["sses", "shes", "ches", "xes", "zes"] {
        if word.ends_with(suffix) {
            return word[..word.len() - 2].to_owned();
        }
    }
    word.strip_suffix('s').unwrap_or(word).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(text: &str) -> Vec<String> {
        let mut spec = AppSpec::default();
        apply_message(&mut spec, text, true);
        spec.resources.into_iter().map(|r| r.plural).collect()
    }

    #[test]
    fn reads_resources_from_descriptions() {
        assert_eq!(names("Build a REST API for managing tasks"), ["tasks"]);
        assert_eq!(
            names("a REST API for managing tasks and projects"),
            ["tasks", "projects"]
        );
        assert_eq!(
            names("An API to track books, authors and categories"),
            ["books", "authors", "categories"]
        );
        assert_eq!(
            names("api for blog posts with comments"),
            ["blog_posts", "comments"]
        );
        assert_eq!(names("Build it"), Vec::<String>::new());
    }

    #[test]
    fn hostile_words_never_become_identifiers() {
        let n = names("api for managing __import__('os')s, class's and \"; drop table x;--s");
        for name in n {
            assert!(check_identifier(&name).is_ok(), "{name}");
        }
    }

    #[test]
    fn features_are_toggled() {
        let mut spec = AppSpec::default();
        let c = apply_message(&mut spec, "Add user authentication", false);
        assert_eq!(spec.features.auth, AuthFeature::Jwt);
        assert_eq!(c.added, ["JWT authentication"]);
        let c = apply_message(&mut spec, "Add database support", false);
        assert_eq!(spec.features.database, DatabaseFeature::Sqlite);
        assert!(!c.is_empty());
        apply_message(&mut spec, "use postgres instead", false);
        assert_eq!(spec.features.database, DatabaseFeature::Postgres);
        let c = apply_message(&mut spec, "remove the authentication", false);
        assert_eq!(spec.features.auth, AuthFeature::None);
        assert_eq!(c.removed, ["authentication"]);
    }

    #[test]
    fn feature_words_match_whole_words_only() {
        let mut spec = AppSpec::default();
        apply_message(
            &mut spec,
            "an API for books and authors, with a dashboard",
            true,
        );
        assert_eq!(spec.features.auth, AuthFeature::None, "authors is not auth");
        assert_eq!(
            spec.features.database,
            DatabaseFeature::None,
            "dashboard is not db"
        );
    }

    #[test]
    fn singulars() {
        for (p, s) in [
            ("tasks", "task"),
            ("categories", "category"),
            ("boxes", "box"),
            ("people", "person"),
            ("addresses", "address"),
            ("watches", "watch"),
        ] {
            assert_eq!(singularize(p), s);
        }
    }
}
