//! Rules that read an `AppSpec` change out of one chat message.
//!
//! A message is cut into clauses; each clause is tried against the rules in turn (removal,
//! rename, relation, fields, search, features, resources). The rules only ever produce checked
//! identifiers: a word of the user's that cannot be one is dropped with a note, never passed on.

mod fields;
mod grammar;
mod lex;
mod words;

pub(crate) use fields::{describe_field, type_word};
pub(crate) use grammar::relate_names;
pub use words::{pluralize, singularize};

use super::{
    check_identifier, check_resource_name, AppSpec, AuthFeature, DatabaseFeature, Field, FieldType,
    Resource,
};
use words::looks_plural;

/// What one message changed in the spec, one line per change, for the reply.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SpecChange {
    /// Things added.
    pub added: Vec<String>,
    /// Things removed.
    pub removed: Vec<String>,
    /// Things changed.
    pub changed: Vec<String>,
    /// Things the message asked for that were not done, with the reason.
    pub notes: Vec<String>,
    /// Questions instead of guesses: parts of the message that could mean two different specs
    /// and were left out until answered.
    pub questions: Vec<super::Question>,
    /// The field the conversation is about after the message: the last one it added, changed
    /// or renamed, else the one it came with. "make it required" in the next message means it.
    pub focus: Option<super::FieldRef>,
}

impl SpecChange {
    /// Notes that the message was last about `resource.field`.
    pub(crate) fn touched(&mut self, resource: &str, field: &str) {
        self.focus = Some(super::FieldRef {
            resource: resource.to_owned(),
            field: field.to_owned(),
        });
    }

    /// Whether the message changed nothing.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}

/// Applies one message to `spec`, returning what changed.
///
/// `describes_app` is true for a message that describes the app (intent create): the summary
/// is then set from it if it has none.
pub fn apply_message(spec: &mut AppSpec, text: &str, describes_app: bool) -> SpecChange {
    apply_message_after(spec, text, describes_app, None)
}

/// [`apply_message`] after a message about the field `focus`.
pub(crate) fn apply_message_after(
    spec: &mut AppSpec,
    text: &str,
    describes_app: bool,
    focus: Option<super::FieldRef>,
) -> SpecChange {
    let mut change = SpecChange {
        focus: focus.filter(|f| {
            spec.resource(&f.resource)
                .is_some_and(|r| r.fields.iter().any(|x| x.name == f.field))
        }),
        ..SpecChange::default()
    };
    if describes_app && spec.summary.is_empty() {
        spec.summary = text.trim().chars().take(500).collect();
    }
    // Read once ahead on a copy, to know every resource the message names.
    let mut ahead = spec.clone();
    let mut ahead_ctx = grammar::Context::about(change.focus.as_ref().map(|f| f.resource.as_str()));
    read_sentences(&mut ahead, text, &mut ahead_ctx, &mut change.clone());
    let about = change.focus.as_ref().map(|f| f.resource.clone());
    let mut ctx = grammar::Context {
        known: ahead.resources.iter().map(|r| r.name.clone()).collect(),
        ..grammar::Context::about(about.as_deref())
    };
    read_sentences(spec, text, &mut ctx, &mut change);
    change
}

fn read_sentences(
    spec: &mut AppSpec,
    text: &str,
    ctx: &mut grammar::Context,
    change: &mut SpecChange,
) {
    let ctx = &mut *ctx;
    let change = &mut *change;
    for sentence in lex::sentences(text) {
        // "…, then …" and "whereas" join two statements.
        let mut current = Vec::new();
        let mut i = 0;
        while i < sentence.len() {
            let t = &sentence[i];
            let next = sentence.get(i + 1).map(String::as_str);
            let after = sentence.get(i + 2).map(String::as_str);
            // "…, each harvest picks from one block", "…, where an ascent is by one climber":
            // a new statement inside the sentence.
            let joined = matches!(next, Some("and" | "so" | "also" | "where" | "while"));
            let new_statement = t == ","
                && (matches!(next, Some("each" | "every"))
                    || joined && matches!(after, Some("each" | "every"))
                    || next == Some("where") && matches!(after, Some("a" | "an")));
            if matches!(t.as_str(), "then" | "whereas") && !current.is_empty() || new_statement {
                if !current.is_empty() {
                    apply_clause(spec, &std::mem::take(&mut current), ctx, change);
                }
                i += if new_statement && joined { 2 } else { 1 };
                continue;
            }
            current.push(t.clone());
            i += 1;
        }
        if !current.is_empty() {
            apply_clause(spec, &current, ctx, change);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Words and clauses

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
        "authorization",
    ]
    .iter()
    .any(|p| mentions(words, p))
}

const ARTICLES: &[&str] = &[
    "a", "an", "the", "its", "their", "his", "her", "some", "each", "every", "all", "any", "my",
    "our", "your", "one",
];
const FIELD_NOUNS: &[&str] = &[
    "field",
    "fields",
    "column",
    "columns",
    "property",
    "properties",
    "attribute",
    "attributes",
    "value",
];
const RESOURCE_NOUNS: &[&str] = &[
    "resource",
    "resources",
    "entity",
    "entities",
    "model",
    "models",
    "table",
    "tables",
    "endpoint",
    "endpoints",
];

fn is_sep(t: &str) -> bool {
    matches!(t, "," | "and" | "&" | "plus" | "as well as")
}

/// Identifier from words: `["due", "date"]` → `due_date`.
fn ident(words: &[&str]) -> Option<String> {
    let joined = words
        .iter()
        .map(|w| w.replace('-', "_"))
        .collect::<Vec<_>>()
        .join("_");
    let cleaned: String = joined
        .chars()
        .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
        .collect();
    let cleaned = cleaned.trim_matches('_').to_owned();
    (!cleaned.is_empty()).then_some(cleaned)
}

// ---------------------------------------------------------------------------------------------
// Clause rules

/// Words that open a sentence without being part of what it says.
const MARKERS: &[&str] = &[
    "also",
    "oh",
    "and",
    "so",
    "ok",
    "okay",
    "actually",
    "hmm",
    "well",
    "plus",
    "now",
    "please",
    "pls",
    "btw",
    "finally",
    "wait",
    "lastly",
    "basically",
    "additionally",
    "next",
    "anyway",
    "right",
    "alright",
    "hi",
    "hello",
    "hey",
    "great",
    "cool",
    "nice",
    "sorry",
    "lovely",
    "perfect",
    "thanks",
    "yes",
    "yeah",
    "no",
    "nope",
    "oops",
    ",",
    "ah",
    "ugh",
    "one",
    "more",
    "thing",
    "correction",
    "scratch",
    "that",
    "i",
    "think",
    "guess",
    "maybe",
    "could",
    "can",
    "would",
    "you",
    "u",
    "kindly",
    "just",
    "lets",
    "let",
    "us",
    "then",
];

fn apply_clause(
    spec: &mut AppSpec,
    t: &[String],
    ctx: &mut grammar::Context,
    change: &mut SpecChange,
) {
    // "oh and also, …": markers go; "one more thing:" too. A marker that is the whole
    // clause ("that") stays.
    let mut start = t
        .iter()
        .position(|w| !MARKERS.contains(&w.as_str()))
        .unwrap_or(0);
    // "that should be optional": here `that` is the subject, not a marker.
    if start > 0
        && matches!(t[start - 1].as_str(), "that" | "this")
        && matches!(
            t[start].as_str(),
            "should"
                | "must"
                | "is"
                | "needs"
                | "has"
                | "will"
                | "shall"
                | "ought"
                | "field"
                | "column"
        )
    {
        start -= 1;
    }
    let start = if t.get(start).is_some_and(|w| w == ":") {
        start + 1
    } else {
        start
    };
    let mended = mend_keywords(spec, &t[start.min(t.len())..]);
    let t = &mended[..];
    let words: Vec<&str> = t.iter().map(String::as_str).collect();
    let feature_only = read_features(spec, t, change);
    if feature_only {
        return;
    }
    if read_removal(spec, &words, change)
        || read_rename(spec, &words, change)
        || read_search(spec, &words, change)
        || read_retype(spec, &words, change)
        || grammar::read_statement(spec, &words, ctx, change)
        || grammar::read_fragment(spec, &words, ctx, change)
    {
        return;
    }
    read_resources(spec, &words, change);
}

/// A reply to a question about the field `about` that names its choices ("low, medium or
/// high", "it's one of draft/sent", "choices: Not Urgent, Urgent"): the spec with the field made
/// one of them, if the reply does that and nothing else ("hold on, I also need users" is not).
pub(crate) fn choices_for(
    spec: &AppSpec,
    about: &super::FieldRef,
    reply: &str,
) -> Option<(AppSpec, SpecChange)> {
    let tokens = lex::tokens_of(reply);
    let mut words: Vec<&str> = tokens.iter().map(String::as_str).collect();
    // What opens and closes a list of choices goes: "make it …", "please use the options …",
    // "one of: …", "either … or …", "… pls".
    let opening = |w: &str| {
        matches!(
            w,
            "it" | "is"
                | "its"
                | "that"
                | "they"
                | "are"
                | "make"
                | "hmm"
                | "ok"
                | "okay"
                | "so"
                | "please"
                | "pls"
                | "use"
                | "the"
                | "a"
                | "an"
                | "options"
                | "option"
                | "choices"
                | "choice"
                | "values"
                | "one"
                | "of"
                | "either"
                | ":"
                | ","
                | "with"
                | "text"
                | "enum"
                | "list"
                | "should"
                | "be"
                | "can"
                | "could"
                | "you"
                | "just"
                | "like"
        )
    };
    while words.first().is_some_and(|w| opening(w)) {
        words.remove(0);
    }
    while words
        .last()
        .is_some_and(|w| matches!(*w, "pls" | "please" | "thanks" | "thx" | "ty"))
    {
        words.pop();
    }
    let (values, end) = fields::read_values(&words, 0);
    if values.len() < 2 || end < words.len() {
        return None;
    }
    let mut item = vec![about.field.as_str(), "("];
    item.extend(words.iter().copied());
    item.push(")");
    let draft = fields::parse_fields(&item).into_iter().next()?;
    let mut change = SpecChange::default();
    let field = draft.into_field(&about.resource, &mut change)?;
    if !matches!(field.ty, FieldType::Enum { .. }) {
        return None;
    }
    let mut next = spec.clone();
    let r = next
        .resources
        .iter()
        .position(|r| r.name == about.resource)?;
    let existing = next.resources[r]
        .fields
        .iter_mut()
        .find(|f| f.name == about.field)?;
    existing.ty = field.ty;
    existing.default = None;
    let described = describe_field(existing);
    change.changed.push(format!(
        "field `{}.{}` is now {described}",
        about.resource, about.field
    ));
    change.touched(&about.resource, &about.field);
    Some((next, change))
}

/// The words the rules turn on, which a typo must not hide.
const KEYWORDS: &[&str] = &[
    "required",
    "optional",
    "mandatory",
    "unique",
    "that",
    "this",
    "remove",
    "rename",
    "delete",
    "change",
    "integer",
    "decimal",
    "boolean",
    "number",
    "field",
    "column",
];

/// "pls make tht requird": a word one slip (a missing, extra or swapped letter after the first;
/// not a changed one, which as often makes another word) from exactly one keyword is that
/// keyword, unless it names something in the spec or only inflects the keyword ("dates",
/// "renamed"). "his" and "hat" stay.
fn mend_keywords(spec: &AppSpec, t: &[String]) -> Vec<String> {
    let named = |w: &str| {
        spec.resources
            .iter()
            .any(|r| r.name == w || r.plural == w || r.fields.iter().any(|f| f.name == w))
    };
    t.iter()
        .map(|w| {
            if w.len() < 3 || KEYWORDS.contains(&w.as_str()) || named(w) {
                return w.clone();
            }
            let near: Vec<&&str> = KEYWORDS
                .iter()
                .filter(|k| {
                    !w.starts_with(**k)
                        && k.chars().next() == w.chars().next()
                        && words::one_edit(k, w)
                        && (k.len() != w.len()
                            || k.chars().zip(w.chars()).filter(|(a, b)| a != b).count() == 2)
                })
                .collect();
            match near.as_slice() {
                [one] => (**one).to_owned(),
                _ => w.clone(),
            }
        })
        .collect()
}

/// A yes/no feature: the phrases that name it, where it lives in the spec, its label.
type Toggle = (
    &'static [&'static str],
    fn(&mut AppSpec) -> &mut bool,
    &'static str,
);

/// Feature toggles. Returns true when the clause was only about features.
fn read_features(spec: &mut AppSpec, t: &[String], change: &mut SpecChange) -> bool {
    let words: Vec<String> = t
        .iter()
        .filter(|w| w.chars().all(char::is_alphanumeric))
        .cloned()
        .collect();
    let has = |phrases: &[&str]| phrases.iter().any(|p| mentions(&words, p));
    let plain: Vec<String> = words
        .iter()
        .enumerate()
        .filter(|(i, w)| !(*w == "delete" || *w == "deletes") || *i == 0 || words[i - 1] != "soft")
        .map(|(_, w)| w.clone())
        .collect();
    let negated = [
        "remove",
        "drop",
        "without",
        "no longer",
        "disable",
        "delete",
        "dont",
        "turn off",
        "no",
    ]
    .iter()
    .any(|p| mentions(&plain, p));
    let mut touched = false;
    if mentions_auth(&words) {
        touched = true;
        let want = if negated {
            AuthFeature::None
        } else {
            AuthFeature::Jwt
        };
        if spec.features.auth != want {
            spec.features.auth = want;
            match want {
                AuthFeature::Jwt => change
                    .added
                    .push("JWT authentication (register, login, protected routes)".into()),
                AuthFeature::None => change.removed.push("authentication".into()),
            }
        }
    }
    let db = if has(&["postgres", "postgresql", "psql"]) {
        Some(if negated {
            DatabaseFeature::Sqlite
        } else {
            DatabaseFeature::Postgres
        })
    } else if has(&[
        "database",
        "sqlite",
        "persist",
        "persistence",
        "persistent",
        "sql",
        "db",
        "sqlalchemy",
    ]) {
        Some(if negated {
            DatabaseFeature::None
        } else {
            DatabaseFeature::Sqlite
        })
    } else if has(&["in memory", "in-memory"]) {
        Some(DatabaseFeature::None)
    } else {
        None
    };
    if let Some(db) = db {
        touched = true;
        if spec.features.database != db {
            let label = match db {
                DatabaseFeature::None => "in-memory storage",
                DatabaseFeature::Sqlite => "SQLite database (SQLAlchemy)",
                DatabaseFeature::Postgres => "PostgreSQL database (SQLAlchemy)",
            };
            change.changed.push(format!("storage: {label}"));
            spec.features.database = db;
        }
    }
    let toggles: [Toggle; 5] = [
        (
            &[
                "paginate",
                "pagination",
                "paginated",
                "page through",
                "pages of",
                "paging",
            ],
            |s| &mut s.features.pagination,
            "pagination",
        ),
        (
            &["timestamps", "timestamp", "created at", "track when"],
            |s| &mut s.features.timestamps,
            "created/updated timestamps",
        ),
        (
            &["soft delete", "soft-delete", "soft deletes", "soft deleted"],
            |s| &mut s.features.soft_delete,
            "soft delete",
        ),
        (
            &["cors", "cross-origin", "cross origin"],
            |s| &mut s.features.cors,
            "CORS",
        ),
        (
            &[
                "rate limit",
                "rate limiting",
                "rate-limit",
                "throttle",
                "throttling",
                "rate limited",
            ],
            |s| &mut s.features.rate_limit,
            "rate limiting",
        ),
    ];
    let joined = t.join(" ");
    for (phrases, flag, label) in toggles {
        if phrases
            .iter()
            .any(|p| mentions(&words, p) || joined.contains(p))
        {
            touched = true;
            let slot = flag(spec);
            if *slot == negated {
                *slot = !negated;
                if negated {
                    change.removed.push(label.into());
                } else {
                    change.added.push(label.into());
                }
            }
        }
    }
    // A clause that named a feature and no field or resource noun is about features only.
    touched
        && !words.iter().any(|w| {
            matches!(
                w.as_str(),
                "has" | "have" | "belong" | "belongs" | "field" | "rename"
            )
        })
}

fn verb_at(words: &[&str], verbs: &[&str]) -> Option<usize> {
    words.iter().position(|w| verbs.contains(w))
}

/// "drop the priority field", "remove due date from tasks", "we don't need comments anymore".
fn read_removal(spec: &mut AppSpec, words: &[&str], change: &mut SpecChange) -> bool {
    let Some(v) = verb_at(
        words,
        &["drop", "remove", "delete", "rid", "stop", "need", "without"],
    ) else {
        return false;
    };
    let negative_need =
        words[v] == "need" && v > 0 && matches!(words[v - 1], "dont" | "not" | "no" | "longer");
    let stop = words[v] == "stop" && words.get(v + 1).is_some_and(|w| w.ends_with("ing"));
    if words[v] == "need" && !negative_need || words[v] == "stop" && !stop {
        return false;
    }
    let mut rest: Vec<&str> = words[v + 1..].to_vec();
    // "remove the description from tasks, we don't need it": the explanation goes.
    if let Some(k) = rest.windows(2).position(|w| {
        w[0] == ","
            && matches!(
                w[1],
                "we" | "i"
                    | "it"
                    | "they"
                    | "since"
                    | "because"
                    | "as"
                    | "so"
                    | "that"
                    | "this"
                    | "not"
                    | "dont"
                    | "no"
                    | "its"
                    | "thats"
            )
    }) {
        rest.truncate(k);
    }
    if stop || words[v] == "rid" {
        rest.remove(0); // "stop tracking …", "get rid of …"
    }
    // "remove quantity in stock from products": the scope is the last "from"/"in"/"on" that
    // names a resource.
    let scoped = rest
        .iter()
        .enumerate()
        .rev()
        .filter(|(_, w)| matches!(**w, "from" | "in" | "on" | "of"))
        .find_map(|(i, _)| find_resource(spec, &rest[i + 1..]).map(|r| (i, r)));
    let (object, scope) = match scoped {
        Some((i, r)) => (rest[..i].to_vec(), Some(r)),
        None => (rest.clone(), None),
    };
    let mut removed_any = false;
    for item in split_items(&object) {
        // "drop that field", "remove it": the field the conversation is about.
        let pointed = referred(spec, &item, change).filter(|(r, _)| scope.is_none_or(|s| s == *r));
        let item: Vec<&str> = match &pointed {
            Some((_, name)) => vec![name.as_str()],
            None => item,
        };
        let scope = scope.or(pointed.as_ref().map(|(r, _)| *r));
        let item: Vec<&str> = item
            .into_iter()
            .filter(|w| {
                !ARTICLES.contains(w)
                    && !FIELD_NOUNS.contains(w)
                    && !RESOURCE_NOUNS.contains(w)
                    && !matches!(*w, "flag" | "anymore" | "please" | "too" | "also")
            })
            .collect();
        let Some(name) = ident(&item) else { continue };
        let name = resolve_field(spec, scope, &name).unwrap_or(name);
        if let Some(idx) = spec
            .resources
            .iter()
            .position(|r| r.name == name || r.plural == name || r.name == singularize(&name))
        {
            if scope.is_none() {
                let gone = spec.resources.remove(idx);
                for r in &mut spec.resources {
                    r.relations.retain(|rel| rel.target != gone.name);
                    r.fields.retain(|f| f.name != format!("{}_id", gone.name));
                }
                spec.features
                    .search
                    .retain(|s| !s.starts_with(&format!("{}.", gone.name)));
                change.removed.push(format!("resource `{}`", gone.plural));
                if change
                    .focus
                    .as_ref()
                    .is_some_and(|f| f.resource == gone.name)
                {
                    change.focus = None;
                }
                removed_any = true;
                continue;
            }
        }
        let mut hit = false;
        for (ri, r) in spec.resources.iter_mut().enumerate() {
            if scope.is_some_and(|s| s != ri) {
                continue;
            }
            let before = r.fields.len();
            r.fields.retain(|f| f.name != name);
            if r.fields.len() < before {
                hit = true;
                change.removed.push(format!("field `{}.{}`", r.name, name));
                if change
                    .focus
                    .as_ref()
                    .is_some_and(|f| f.resource == r.name && f.field == name)
                {
                    change.focus = None;
                }
                let key = format!("{}.{}", r.name, name);
                spec.features.search.retain(|s| *s != key);
            }
        }
        if hit {
            removed_any = true;
        } else if spec.resources.iter().any(|r| !r.fields.is_empty()) {
            change.notes.push(format!(
                "there is no field or resource called `{name}` to remove"
            ));
            removed_any = true;
        }
    }
    removed_any
}

/// "rename tasks to todos", "rename title to name".
fn read_rename(spec: &mut AppSpec, words: &[&str], change: &mut SpecChange) -> bool {
    // "call it `sku` not code", "sku instead of code": the new name first.
    if let Some(k) = words
        .windows(2)
        .position(|w| w[0] == "not" || w == ["instead", "of"])
    {
        let skip = if words[k] == "instead" { 2 } else { 1 };
        let new_words: Vec<&str> = words[..k]
            .iter()
            .copied()
            .filter(|w| {
                !matches!(
                    *w,
                    "call"
                        | "it"
                        | "that"
                        | "name"
                        | "use"
                        | "should"
                        | "be"
                        | "is"
                        | "the"
                        | "field"
                        | "called"
                        | "named"
                        | ","
                )
            })
            .collect();
        let old_words: Vec<&str> = words[k + skip..]
            .iter()
            .copied()
            .filter(|w| !ARTICLES.contains(w) && !FIELD_NOUNS.contains(w))
            .collect();
        if let (Some(new), Some(old)) = (ident(&new_words), ident(&old_words)) {
            if let Some(old) = resolve_field(spec, None, &old) {
                let mut phrase = vec!["rename", old.as_str(), "to"];
                phrase.push(new.as_str());
                return read_rename(spec, &phrase, change);
            }
        }
    }
    let Some(v) = verb_at(words, &["rename", "call"]) else {
        return false;
    };
    let Some(to) = words[v + 1..]
        .iter()
        .position(|w| *w == "to" || *w == "instead")
        .map(|i| i + v + 1)
    else {
        return false;
    };
    let clean = |ws: &[&str]| -> Vec<String> {
        ws.iter()
            .filter(|w| {
                !ARTICLES.contains(w)
                    && !FIELD_NOUNS.contains(w)
                    && !RESOURCE_NOUNS.contains(w)
                    && **w != "flag"
            })
            .map(|w| w.to_string())
            .collect()
    };
    // "rename it to …", "call that field …": the field the conversation is about.
    let pointed = referred(spec, &words[v + 1..to], change).map(|(_, name)| vec![name]);
    let old = pointed.unwrap_or_else(|| clean(&words[v + 1..to]));
    let new = clean(&words[to + 1..]);
    let (Some(old), Some(new)) = (
        ident(&old.iter().map(String::as_str).collect::<Vec<_>>()),
        ident(&new.iter().map(String::as_str).collect::<Vec<_>>()),
    ) else {
        return false;
    };
    let old = if spec.resource(&old).is_some() {
        old
    } else {
        resolve_field(spec, None, &old).unwrap_or(old)
    };
    if let Some(r) = spec
        .resources
        .iter()
        .position(|r| r.plural == old || r.name == old)
    {
        let (singular, plural) = if looks_plural(&new) {
            (singularize(&new), new.clone())
        } else {
            (new.clone(), pluralize(&new))
        };
        if let Err(e) = check_resource_name(&singular).and(check_identifier(&plural)) {
            change.notes.push(format!("can't rename to `{new}`: {e}"));
            return true;
        }
        if spec.resource(&singular).is_some() || spec.resource(&plural).is_some() {
            change.notes.push(format!("`{plural}` already exists"));
            return true;
        }
        let old_name = spec.resources[r].name.clone();
        let old_plural = spec.resources[r].plural.clone();
        spec.resources[r].name = singular.clone();
        spec.resources[r].plural = plural.clone();
        for res in &mut spec.resources {
            for rel in &mut res.relations {
                if rel.target == old_name {
                    rel.target = singular.clone();
                }
            }
            for f in &mut res.fields {
                if f.name == format!("{old_name}_id") {
                    f.name = format!("{singular}_id");
                }
            }
        }
        for s in &mut spec.features.search {
            if let Some(field) = s.strip_prefix(&format!("{old_name}.")) {
                *s = format!("{singular}.{field}");
            }
        }
        if let Some(f) = change.focus.as_mut().filter(|f| f.resource == old_name) {
            f.resource = singular.clone();
        }
        change
            .changed
            .push(format!("resource `{old_plural}` renamed to `{plural}`"));
        return true;
    }
    let mut hit = false;
    for r in &mut spec.resources {
        if r.fields.iter().any(|f| f.name == new) {
            continue;
        }
        if let Some(f) = r.fields.iter_mut().find(|f| f.name == old) {
            if let Err(e) = check_identifier(&new) {
                change.notes.push(format!("can't rename to `{new}`: {e}"));
                return true;
            }
            f.name = new.clone();
            change
                .changed
                .push(format!("field `{}.{old}` renamed to `{new}`", r.name));
            change.touched(&r.name, &new);
            let (from, to) = (format!("{}.{old}", r.name), format!("{}.{new}", r.name));
            for s in &mut spec.features.search {
                if *s == from {
                    *s = to.clone();
                }
            }
            hit = true;
        }
    }
    if !hit {
        change
            .notes
            .push(format!("there is nothing called `{old}` to rename"));
    }
    true
}

/// "the price should be a decimal", "make priority low/normal/urgent", "returned date can be
/// empty", "change status to draft/published/archived", "make that field required": a field
/// that exists gets a new type, choices or constraint.
fn read_retype(spec: &mut AppSpec, words: &[&str], change: &mut SpecChange) -> bool {
    let (target, rest): (&[&str], &[&str]) =
        if matches!(words.first(), Some(&"make" | &"change" | &"set" | &"mark")) {
            match words
                .iter()
                .position(|w| matches!(*w, "to" | "into" | "be" | "as"))
            {
                Some(k) if k > 1 => (&words[1..k], &words[k + 1..]),
                _ => {
                    // "make priority low/normal/urgent", "make email unique": the field is the
                    // longest prefix that names one.
                    let Some(k) = (2..words.len())
                        .rev()
                        .find(|&k| field_named(spec, &words[1..k], change).is_some())
                    else {
                        return false;
                    };
                    (&words[1..k], &words[k..])
                }
            }
        } else {
            let Some(c) = words
                .iter()
                .position(|w| matches!(*w, "is" | "are" | "be" | ":"))
            else {
                return false;
            };
            let mut k = c + 1;
            while k < words.len() && matches!(words[k], "be" | "a" | "an" | "now") {
                k += 1;
            }
            let mut end = c;
            while end > 0
                && matches!(
                    words[end - 1],
                    "should"
                        | "must"
                        | "can"
                        | "could"
                        | "will"
                        | "needs"
                        | "need"
                        | "to"
                        | "has"
                        | "have"
                        | "may"
                )
            {
                end -= 1;
            }
            // "should be a whole number", "(that one) can be optional": no subject but the
            // field the conversation is about.
            if end == 0 && words[c] != ":" {
                (&["it"][..], &words[k..])
            } else {
                (&words[..end], &words[k..])
            }
        };
    // "long text, not a short string": what it is not goes.
    let rest = match rest
        .windows(2)
        .position(|w| matches!(w, [",", "not" | "instead" | "rather"] | ["not", "a" | "an"]))
    {
        Some(k) if k > 0 => &rest[..k],
        _ => rest,
    };
    let Some((r, name)) = field_named(spec, target, change) else {
        return false;
    };
    if rest.is_empty() {
        return false;
    }
    let mut item: Vec<&str> = vec![name.as_str(), "("];
    let optional = rest.iter().any(|w| {
        matches!(
            *w,
            "empty" | "blank" | "null" | "nullable" | "optional" | "missing"
        )
    }) || rest.windows(2).any(|w| w == ["not", "required"]);
    item.extend(rest.iter().copied().filter(|w| {
        !matches!(
            *w,
            "empty" | "blank" | "null" | "nullable" | "missing" | "not" | "if" | "when"
        )
    }));
    item.push(")");
    let Some(draft) = fields::parse_fields(&item).into_iter().next() else {
        return false;
    };
    let resource = spec.resources[r].name.clone();
    let said_type = draft.has_type();
    let Some(mut new) = draft.into_field(&resource, change) else {
        return false;
    };
    let field = spec.resources[r]
        .fields
        .iter_mut()
        .find(|f| f.name == name)
        .expect("found above");
    if !said_type {
        new.ty = field.ty.clone();
        new.default = field.default.clone();
    }
    if optional {
        new.required = false;
    } else if !rest.iter().any(|w| matches!(*w, "required" | "mandatory")) {
        new.required = field.required && new.default.is_none();
    }
    new.unique |= field.unique && !said_type;
    change.touched(&resource, &name);
    if *field == new {
        return true;
    }
    *field = new.clone();
    change.changed.push(format!(
        "field `{resource}.{name}` is now {}",
        describe_field(&new)
    ));
    true
}

/// The resource and field a phrase names ("the price", "returned date", "tasks' priority"), or
/// the field the conversation is about ("that field", "it", "the new column").
fn field_named(spec: &AppSpec, words: &[&str], change: &SpecChange) -> Option<(usize, String)> {
    if let Some(f) = referred(spec, words, change) {
        return Some(f);
    }
    let cleaned: Vec<&str> = words
        .iter()
        .copied()
        .filter(|w| {
            !ARTICLES.contains(w)
                && !FIELD_NOUNS.contains(w)
                && !matches!(
                    *w,
                    "that" | "this" | "and" | "also" | "actually" | "oh" | "no" | "wait" | "ok"
                )
        })
        .collect();
    if cleaned.is_empty() || cleaned.len() > 4 {
        return None;
    }
    // "task priority": a resource, then its field.
    if cleaned.len() > 1 {
        if let Some(r) = find_resource(spec, &cleaned[..1]) {
            if let Some(name) = ident(&cleaned[1..]).and_then(|n| resolve_field(spec, Some(r), &n))
            {
                return Some((r, name));
            }
        }
    }
    let name = ident(&cleaned)?;
    if spec.resource(&name).is_some() {
        return None;
    }
    let name = resolve_field(spec, None, &name)?;
    let r = spec
        .resources
        .iter()
        .position(|r| r.fields.iter().any(|f| f.name == name))?;
    Some((r, name))
}

/// Words that point back at something already said, without naming it.
const POINTERS: &[&str] = &["it", "that", "this"];

/// The field a phrase made only of pointers refers to ("it", "that field", "this one", "the new
/// column", "the one i just added"): the one the conversation is about.
fn referred(spec: &AppSpec, words: &[&str], change: &SpecChange) -> Option<(usize, String)> {
    // A pointer, or "the field", "the new column"; "properties" alone names a thing.
    let points = words.iter().any(|w| POINTERS.contains(w))
        || words
            .iter()
            .any(|w| matches!(*w, "field" | "column" | "attribute" | "property"))
            && words
                .iter()
                .any(|w| matches!(*w, "the" | "new" | "last" | "latest"));
    let only_pointers = words.iter().all(|w| {
        POINTERS.contains(w)
            || FIELD_NOUNS.contains(w)
            || ARTICLES.contains(w)
            || matches!(
                *w,
                "new"
                    | "last"
                    | "latest"
                    | "previous"
                    | "same"
                    | "just"
                    | "added"
                    | "i"
                    | "we"
                    | "anymore"
                    | "entirely"
                    | "completely"
                    | "altogether"
                    | "too"
                    | "please"
                    | "either"
            )
    });
    if !points || !only_pointers {
        return None;
    }
    let focus = change.focus.as_ref()?;
    let r = spec
        .resources
        .iter()
        .position(|r| r.name == focus.resource && r.fields.iter().any(|f| f.name == focus.field))?;
    Some((r, focus.field.clone()))
}

/// "let me search tasks by title", "make books searchable by title and author".
fn read_search(spec: &mut AppSpec, words: &[&str], change: &mut SpecChange) -> bool {
    let Some(v) = verb_at(
        words,
        &[
            "search",
            "searchable",
            "filter",
            "filterable",
            "find",
            "look",
        ],
    ) else {
        return false;
    };
    let Some(by) = words[v..].iter().position(|w| *w == "by").map(|i| i + v) else {
        return false;
    };
    let subject: Vec<&str> = if words[v] == "searchable" || words[v] == "filterable" {
        noun_phrase(&words[..v])
    } else {
        noun_phrase(&words[v + 1..by])
    };
    let target = if subject.is_empty() {
        (spec.resources.len() == 1).then_some(0)
    } else {
        find_resource(spec, &subject)
    };
    let Some(r) = target else {
        change
            .notes
            .push("say which resource to search, e.g. \"search tasks by title\"".into());
        return true;
    };
    // "by name, if that's doable": the list ends where an explanation begins.
    let list_end = words[by + 1..]
        .iter()
        .position(|w| {
            matches!(
                *w,
                "if" | "so"
                    | "when"
                    | "because"
                    | "please"
                    | "pls"
                    | "too"
                    | "as"
                    | "since"
                    | "that"
                    | "which"
            )
        })
        .map_or(words.len(), |k| by + 1 + k);
    // "filter orders by status, and search customers by name": a second search of its own.
    let list_end = match words[by + 1..list_end].windows(2).position(|w| {
        matches!(w[0], "and" | ",") && matches!(w[1], "search" | "filter" | "find" | "let" | "make")
    }) {
        Some(k) => {
            let rest = words[by + 1 + k + 1..].to_vec();
            read_search(spec, &rest, change);
            let mut end = by + 1 + k;
            while end > by + 1 && matches!(words[end - 1], "," | "and") {
                end -= 1;
            }
            end
        }
        None => list_end,
    };
    for item in split_items(&words[by + 1..list_end]) {
        let item: Vec<&str> = item
            .into_iter()
            .filter(|w| !ARTICLES.contains(w) && !FIELD_NOUNS.contains(w))
            .collect();
        let Some(name) = ident(&item) else { continue };
        if check_identifier(&name).is_err() {
            change.notes.push(format!("`{name}` can't be a field name"));
            continue;
        }
        let res = &mut spec.resources[r];
        if !res.fields.iter().any(|f| f.name == name) {
            res.fields.push(Field {
                name: name.clone(),
                ty: FieldType::String,
                required: false,
                unique: false,
                default: None,
            });
            change
                .added
                .push(format!("field `{}.{name}` (string)", res.name));
        }
        change.touched(&res.name.clone(), &name);
        let key = format!("{}.{name}", res.name);
        if !spec.features.search.contains(&key) {
            spec.features.search.push(key.clone());
            change.added.push(format!("search on `{key}`"));
        }
    }
    true
}

/// Resources named after a trigger word: "an API for managing tasks and projects".
fn read_resources(spec: &mut AppSpec, words: &[&str], change: &mut SpecChange) {
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
        "cataloguing",
        "catalog",
        "catalogue",
    ];
    const STOPS: &[&str] = &[
        "with",
        "that",
        "which",
        "where",
        "so",
        "to",
        "in",
        "using",
        "who",
        "when",
        "by",
        "via",
        "on",
        "from",
        "including",
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
        "like",
    ];
    let mut i = 0;
    while i < words.len() {
        if !TRIGGERS.contains(&words[i]) {
            i += 1;
            continue;
        }
        i += 1;
        let start = i;
        while i < words.len() && !(STOPS.contains(&words[i]) && i > start) {
            i += 1;
        }
        for item in split_items(&words[start..i]) {
            let phrase = noun_phrase(&item);
            if phrase.last().is_some_and(|w| looks_plural(w)) {
                ensure_resource(spec, &phrase, change);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Noun phrases and resources

const FILLERS: &[&str] = &[
    "about",
    "couple",
    "hundred",
    "hundreds",
    "dozen",
    "dozens",
    "thousand",
    "thousands",
    "lots",
    "lot",
    "around",
    "approximately",
    "roughly",
    "were",
    "im",
    "short",
    "brief",
    "detailed",
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
    "lists",
    "list",
    "data",
    "records",
    "many",
    "several",
    "multiple",
    "different",
    "own",
    "we",
    "i",
    "let",
    "me",
    "us",
    "just",
    "of",
    "please",
    "want",
    "like",
    "would",
    "now",
    "too",
    "both",
    "instead",
    "then",
];

/// Words that describe features or actions, never a resource.
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
    "deployments",
    "them",
    "everything",
    "things",
    "stuff",
    "jwt",
    "tokens",
    "token",
    "details",
    "features",
    "fields",
    "endpoints",
    "resources",
    "timestamps",
    "apis",
    "requests",
    "passwords",
    "permissions",
    "ids",
];

/// The noun phrase of a span: articles, fillers and filler nouns dropped, at most the last two words.
fn noun_phrase<'a>(words: &[&'a str]) -> Vec<&'a str> {
    let start = words
        .iter()
        .rposition(|w| {
            matches!(
                *w,
                ":" | "," | "(" | ")" | "that" | "which" | "who" | "whose" | "where"
            )
        })
        .map_or(0, |i| i + 1);
    let kept: Vec<&str> = words[start..]
        .iter()
        .copied()
        .filter(|w| {
            !ARTICLES.contains(w)
                && !FILLERS.contains(w)
                && !RESOURCE_NOUNS.contains(w)
                && !matches!(*w, "," | "/" | "(" | ")" | ":" | "|")
                && !w.chars().all(|c| c.is_ascii_digit())
        })
        .collect();
    // "the tables": a noun like "table" or "model" is the thing itself when nothing else is.
    let kept = if kept.is_empty() {
        words[start..]
            .iter()
            .rev()
            .find(|w| RESOURCE_NOUNS.contains(w))
            .map(|w| vec![*w])
            .unwrap_or_default()
    } else {
        kept
    };
    let n = kept.len();
    kept[n.saturating_sub(2)..].to_vec()
}

fn split_items<'a>(words: &[&'a str]) -> Vec<Vec<&'a str>> {
    let mut items = vec![Vec::new()];
    for w in words {
        if is_sep(w) || *w == "or" || *w == ":" {
            items.push(Vec::new());
        } else {
            items.last_mut().expect("never empty").push(*w);
        }
    }
    items.retain(|i| !i.is_empty());
    items
}

/// The field a user's words refer to, in `scope` or anywhere: the name itself, else the one
/// field within one typo of it ("titel"), else the one field it begins ("quantity" for
/// `quantity_in_stock`).
fn resolve_field(spec: &AppSpec, scope: Option<usize>, name: &str) -> Option<String> {
    let fields = || {
        spec.resources
            .iter()
            .enumerate()
            .filter(move |(i, _)| scope.is_none_or(|s| s == *i))
            .flat_map(|(_, r)| r.fields.iter().map(|f| f.name.as_str()))
    };
    if fields().any(|f| f == name) {
        return Some(name.to_owned());
    }
    let unique = |found: Vec<&str>| -> Option<String> {
        let mut found = found;
        found.sort_unstable();
        found.dedup();
        (found.len() == 1).then(|| found[0].to_owned())
    };
    unique(
        fields()
            .filter(|f| name.len() >= 4 && words::one_edit(f, name))
            .collect(),
    )
    .or_else(|| {
        unique(
            fields()
                .filter(|f| f.starts_with(&format!("{name}_")))
                .collect(),
        )
    })
}

/// The index of the resource a noun phrase names, matching singular or plural.
fn find_resource(spec: &AppSpec, phrase: &[&str]) -> Option<usize> {
    find_resource_by(spec, phrase, true)
}

/// The resource a phrase names; with `typos`, also one a single typo away. A name that may be
/// new (a subject, an item of a list) is matched exactly: "obbcs" beside "obbbs" is another.
fn find_resource_by(spec: &AppSpec, phrase: &[&str], typos: bool) -> Option<usize> {
    let phrase = noun_phrase(phrase);
    let full = ident(&phrase)?;
    let last = ident(&phrase[phrase.len().saturating_sub(1)..])?;
    [
        full.clone(),
        singularize(&full),
        last.clone(),
        singularize(&last),
    ]
    .iter()
    .find_map(|n| {
        spec.resources
            .iter()
            .position(|r| r.name == *n || r.plural == *n)
    })
    .or_else(|| {
        if !typos {
            return None;
        }
        // "recipies" for `recipes`: one typo away from exactly one resource's name.
        let near: Vec<usize> = spec
            .resources
            .iter()
            .enumerate()
            .filter(|(_, r)| {
                full.len() >= 5
                    && (words::one_edit(&r.name, &full) || words::one_edit(&r.plural, &full))
            })
            .map(|(i, _)| i)
            .collect();
        (near.len() == 1).then(|| near[0])
    })
}

/// The resource a noun phrase names, added to the spec if it is new.
fn ensure_resource(spec: &mut AppSpec, phrase: &[&str], change: &mut SpecChange) -> Option<usize> {
    if let Some(i) = find_resource_by(spec, phrase, false) {
        return Some(i);
    }
    let phrase: Vec<&str> = noun_phrase(phrase)
        .into_iter()
        .filter(|w| {
            !NOT_RESOURCES.contains(w) && w.chars().all(|c| c.is_ascii_lowercase() || c == '-')
        })
        .collect();
    let name = ident(&phrase)?;
    let (singular, plural) = if looks_plural(&name) {
        (singularize(&name), name.clone())
    } else {
        (name.clone(), pluralize(&name))
    };
    if singular == plural || NOT_RESOURCES.contains(&plural.as_str()) {
        return None;
    }
    if let Some(i) = spec.resources.iter().position(|r| {
        r.name == singular || r.plural == plural || r.name == plural || r.plural == singular
    }) {
        return Some(i);
    }
    let (singular, plural) = match check_resource_name(&singular).and(check_identifier(&plural)) {
        Ok(()) => (singular, plural),
        // "classes" in a gym app: `class` is a Python keyword, so `gym_class`.
        Err(super::IdentifierError::Reserved(_))
            if matches!(
                singular.as_str(),
                "class"
                    | "type"
                    | "match"
                    | "case"
                    | "session"
                    | "list"
                    | "object"
                    | "pass"
                    | "return"
                    | "break"
                    | "setting"
                    | "model"
                    | "health"
                    | "base"
            ) =>
        {
            let prefix = words_of(&spec.name)
                .into_iter()
                .find(|w| {
                    w.chars().all(|c| c.is_ascii_lowercase())
                        && !matches!(
                            w.as_str(),
                            "my" | "the"
                                | "a"
                                | "an"
                                | "our"
                                | "api"
                                | "app"
                                | "rest"
                                | "simple"
                                | "new"
                        )
                })
                .unwrap_or_else(|| "app".to_owned());
            let (one, many) = (format!("{prefix}_{singular}"), format!("{prefix}_{plural}"));
            if let Err(e) = check_resource_name(&one).and(check_identifier(&many)) {
                change
                    .notes
                    .push(format!("`{plural}` can't be a resource: {e}"));
                return None;
            }
            if let Some(i) = spec.resources.iter().position(|r| r.name == one) {
                return Some(i);
            }
            change.notes.push(format!(
                "`{singular}` is a reserved word in the generated code, so the resource is called `{one}`"
            ));
            (one, many)
        }
        Err(e) => {
            change
                .notes
                .push(format!("`{plural}` can't be a resource: {e}"));
            return None;
        }
    };
    spec.resources.push(Resource {
        name: singular,
        plural: plural.clone(),
        fields: Vec::new(),
        relations: Vec::new(),
    });
    change.added.push(format!("resource `{plural}`"));
    // "add comments. remove it": `it` is no longer a field named earlier.
    change.focus = None;
    Some(spec.resources.len() - 1)
}

#[cfg(test)]
mod tests;
