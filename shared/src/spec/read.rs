//! Rules that read an `AppSpec` change out of one chat message.
//!
//! A message is cut into clauses; each clause is tried against the rules in turn (removal,
//! rename, relation, fields, search, features, resources). The rules only ever produce checked
//! identifiers: a word of the user's that cannot be one is dropped with a note, never passed on.

use super::{
    check_identifier, check_resource_name, AppSpec, AuthFeature, DatabaseFeature, Field, FieldType,
    Relation, RelationKind, Resource,
};

/// What one message changed in the spec, one line per change, for the reply.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpecChange {
    /// Things added.
    pub added: Vec<String>,
    /// Things removed.
    pub removed: Vec<String>,
    /// Things changed.
    pub changed: Vec<String>,
    /// Things the message asked for that were not done, with the reason.
    pub notes: Vec<String>,
}

impl SpecChange {
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
    let mut change = SpecChange::default();
    if describes_app && spec.summary.is_empty() {
        spec.summary = text.trim().chars().take(500).collect();
    }
    for clause in clauses(text) {
        apply_clause(spec, &clause, &mut change);
    }
    change
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

/// Tokens of a clause: lower-case words, and `,` `/` `(` `)` `:` as tokens of their own.
fn tokens_of(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let lower = text.to_lowercase().replace(['’', '‘'], "'");
    for c in lower.chars() {
        if c.is_alphanumeric() || c == '_' || c == '-' {
            word.push(c);
            continue;
        }
        if c == '\'' && !word.is_empty() {
            // "task's" → "task"; "don't" → "dont"
            word.push('\'');
            continue;
        }
        flush_word(&mut word, &mut out);
        if matches!(c, ',' | '/' | '(' | ')' | ':' | '|') {
            out.push(c.to_string());
        }
    }
    flush_word(&mut word, &mut out);
    out
}

fn flush_word(word: &mut String, out: &mut Vec<String>) {
    if word.is_empty() {
        return;
    }
    let w = word.trim_matches(|c| c == '-' || c == '\'');
    let w = w.strip_suffix("'s").unwrap_or(w).replace('\'', "");
    if !w.is_empty() {
        out.push(w);
    }
    word.clear();
}

/// Splits a message into clauses at sentence ends, semicolons and "where"/"then".
fn clauses(text: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for sentence in text.split(['.', ';', '!', '?', '\n']) {
        let tokens = tokens_of(sentence);
        let mut current = Vec::new();
        for t in tokens {
            if matches!(t.as_str(), "where" | "then" | "whereas") && !current.is_empty() {
                out.push(std::mem::take(&mut current));
                continue;
            }
            current.push(t);
        }
        if !current.is_empty() {
            out.push(current);
        }
    }
    out
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

fn apply_clause(spec: &mut AppSpec, t: &[String], change: &mut SpecChange) {
    let words: Vec<&str> = t.iter().map(String::as_str).collect();
    let feature_only = read_features(spec, t, change);
    if feature_only {
        return;
    }
    if read_removal(spec, &words, change)
        || read_rename(spec, &words, change)
        || read_relation(spec, &words, change)
        || read_search(spec, &words, change)
        || read_fields(spec, &words, change)
    {
        return;
    }
    read_resources(spec, &words, change);
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
    if stop || words[v] == "rid" {
        rest.remove(0); // "stop tracking …", "get rid of …"
    }
    let (object, from) = match rest.iter().position(|w| matches!(*w, "from" | "in" | "on")) {
        Some(i) => (rest[..i].to_vec(), Some(rest[i + 1..].to_vec())),
        None => (rest.clone(), None),
    };
    let scope = from.as_deref().and_then(|f| find_resource(spec, f));
    let mut removed_any = false;
    for item in split_items(&object) {
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
        if let Some(idx) = spec.resources.iter().position(|r| {
            r.name == name || r.plural == name || r.name == super::read::singularize(&name)
        }) {
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
    let old = clean(&words[v + 1..to]);
    let new = clean(&words[to + 1..]);
    let (Some(old), Some(new)) = (
        ident(&old.iter().map(String::as_str).collect::<Vec<_>>()),
        ident(&new.iter().map(String::as_str).collect::<Vec<_>>()),
    ) else {
        return false;
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

/// "tasks belong to a project", "a project has many tasks".
fn read_relation(spec: &mut AppSpec, words: &[&str], change: &mut SpecChange) -> bool {
    let (child_words, parent_words) =
        if let Some(v) = verb_at(words, &["belong", "belongs", "belonging"]) {
            if words.get(v + 1) != Some(&"to") {
                return false;
            }
            (words[..v].to_vec(), words[v + 2..].to_vec())
        } else if let Some(v) = words.windows(2).position(|w| {
            matches!(w[0], "has" | "have" | "with" | "contains" | "contain") && w[1] == "many"
        }) {
            (
                words[v + 2..].to_vec(),
                words[..v]
                    .iter()
                    .filter(|w| !matches!(**w, "can" | "may" | "should"))
                    .copied()
                    .collect(),
            )
        } else {
            return false;
        };
    let child_words: Vec<&str> = noun_phrase(&child_words);
    let parent_words: Vec<&str> = noun_phrase(&parent_words);
    let (Some(child), Some(parent)) = (
        ensure_resource(spec, &child_words, change),
        ensure_resource(spec, &parent_words, change),
    ) else {
        return true;
    };
    if child == parent {
        change
            .notes
            .push("a resource can't belong to itself".into());
        return true;
    }
    let (child_name, parent_name) = (
        spec.resources[child].name.clone(),
        spec.resources[parent].name.clone(),
    );
    if spec.resources[parent]
        .relations
        .iter()
        .any(|r| r.kind == RelationKind::BelongsTo && r.target == child_name)
    {
        change.notes.push(format!(
            "`{parent_name}` already belongs to `{child_name}`; relations can't go both ways"
        ));
        return true;
    }
    if spec.resources[child]
        .relations
        .iter()
        .any(|r| r.kind == RelationKind::BelongsTo && r.target == parent_name)
    {
        return true;
    }
    spec.resources[child].relations.push(Relation {
        kind: RelationKind::BelongsTo,
        target: parent_name.clone(),
    });
    spec.resources[parent].relations.push(Relation {
        kind: RelationKind::HasMany,
        target: child_name.clone(),
    });
    if spec.validate().is_err() {
        spec.resources[child].relations.pop();
        spec.resources[parent].relations.pop();
        change.notes.push(format!(
            "`{child_name}` → `{parent_name}` would make a cycle"
        ));
        return true;
    }
    change.added.push(format!(
        "relation: each `{child_name}` belongs to a `{parent_name}`"
    ));
    true
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
    for item in split_items(&words[by + 1..]) {
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
        let key = format!("{}.{name}", res.name);
        if !spec.features.search.contains(&key) {
            spec.features.search.push(key.clone());
            change.added.push(format!("search on `{key}`"));
        }
    }
    true
}

/// "each task has a title, a due date and a done flag", "add a priority field to tasks".
fn read_fields(spec: &mut AppSpec, words: &[&str], change: &mut SpecChange) -> bool {
    const HAS: &[&str] = &[
        "has", "have", "having", "contain", "contains", "include", "includes", "need", "needs",
        "store", "stores", "track", "tracks", "hold", "holds", "with",
    ];
    let only_resource: String;
    let (subject, list): (Vec<&str>, Vec<&str>) =
        if let Some(v) = verb_at(words, &["add", "adding"]) {
            match words[v + 1..]
                .iter()
                .rposition(|w| matches!(*w, "to" | "on" | "for"))
            {
                Some(i) => (
                    words[v + 2 + i..].to_vec(),
                    words[v + 1..v + 1 + i].to_vec(),
                ),
                None => {
                    // "add a due date" with one resource: that one.
                    if spec.resources.len() != 1 {
                        return false;
                    }
                    only_resource = spec.resources[0].plural.clone();
                    (vec![only_resource.as_str()], words[v + 1..].to_vec())
                }
            }
        } else if let Some(v) = verb_at(words, HAS) {
            if v == 0 {
                return false;
            }
            let mut list = words[v + 1..].to_vec();
            // "should have", "must have", "will have", "can have"
            let subject: Vec<&str> = words[..v]
                .iter()
                .filter(|w| {
                    !matches!(
                        **w,
                        "should" | "must" | "will" | "can" | "also" | "may" | "always" | "to"
                    )
                })
                .copied()
                .collect();
            if matches!(list.first(), Some(&"fields") | Some(&"field")) {
                list.remove(0);
            }
            // "an inventory system with products" names resources, not fields.
            if words[v] == "with" && find_resource(spec, &subject).is_none() {
                return false;
            }
            (subject, list)
        } else {
            return false;
        };
    let subject = noun_phrase(&subject);
    if subject.is_empty() || list.is_empty() {
        return false;
    }
    let Some(r) = ensure_resource(spec, &subject, change) else {
        return false;
    };
    let resource_name = spec.resources[r].name.clone();
    let mut any = false;
    for draft in parse_fields(&list) {
        let Some(field) = draft.into_field(&resource_name, change) else {
            continue;
        };
        let res = &mut spec.resources[r];
        if let Some(existing) = res.fields.iter_mut().find(|f| f.name == field.name) {
            if *existing != field {
                *existing = field.clone();
                change.changed.push(format!(
                    "field `{resource_name}.{}` is now {}",
                    field.name,
                    describe_field(&field)
                ));
            }
        } else {
            change.added.push(format!(
                "field `{resource_name}.{}` ({})",
                field.name,
                describe_field(&field)
            ));
            res.fields.push(field);
        }
        any = true;
    }
    any
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
    "sessions",
    "permissions",
    "ids",
];

/// The noun phrase of a span: articles, fillers and filler nouns dropped, at most the last two words.
fn noun_phrase<'a>(words: &[&'a str]) -> Vec<&'a str> {
    let start = words
        .iter()
        .rposition(|w| matches!(*w, ":" | "," | "(" | ")"))
        .map_or(0, |i| i + 1);
    let kept: Vec<&str> = words[start..]
        .iter()
        .copied()
        .filter(|w| {
            !ARTICLES.contains(w)
                && !FILLERS.contains(w)
                && !RESOURCE_NOUNS.contains(w)
                && !matches!(*w, "," | "/" | "(" | ")" | ":" | "|")
        })
        .collect();
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

/// The index of the resource a noun phrase names, matching singular or plural.
fn find_resource(spec: &AppSpec, phrase: &[&str]) -> Option<usize> {
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
}

/// The resource a noun phrase names, added to the spec if it is new.
fn ensure_resource(spec: &mut AppSpec, phrase: &[&str], change: &mut SpecChange) -> Option<usize> {
    if let Some(i) = find_resource(spec, phrase) {
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
    if let Err(e) = check_identifier(&singular).and(check_identifier(&plural)) {
        change
            .notes
            .push(format!("`{plural}` can't be a resource: {e}"));
        return None;
    }
    spec.resources.push(Resource {
        name: singular,
        plural: plural.clone(),
        fields: Vec::new(),
        relations: Vec::new(),
    });
    change.added.push(format!("resource `{plural}`"));
    Some(spec.resources.len() - 1)
}

fn looks_plural(word: &str) -> bool {
    let last = word.rsplit('_').next().unwrap_or(word);
    matches!(last, "people" | "children" | "data")
        || (last.ends_with('s')
            && !last.ends_with("ss")
            && !last.ends_with("us")
            && !last.ends_with("is")
            && last.len() > 2)
}

/// English singular of a plural noun, by the common rules.
pub fn singularize(word: &str) -> String {
    let (prefix, last) = match word.rsplit_once('_') {
        Some((p, l)) => (format!("{p}_"), l),
        None => (String::new(), word),
    };
    let one = match last {
        "people" => "person".to_owned(),
        "children" => "child".to_owned(),
        "statuses" => "status".to_owned(),
        "addresses" => "address".to_owned(),
        "analyses" => "analysis".to_owned(),
        "movies" | "cookies" | "pies" | "ties" | "lies" | "zombies" | "calories" | "rookies"
        | "selfies" | "brownies" | "smoothies" | "hoodies" | "goalies" | "species" | "series" => {
            last.strip_suffix('s')
                .filter(|_| !matches!(last, "species" | "series"))
                .unwrap_or(last)
                .to_owned()
        }
        _ => {
            if let Some(stem) = last.strip_suffix("ies").filter(|s| s.len() > 1) {
                format!("{stem}y")
            } else if ["sses", "shes", "ches", "xes", "zes"]
                .iter()
                .any(|s| last.ends_with(s))
            {
                last[..last.len() - 2].to_owned()
            } else {
                last.strip_suffix('s').unwrap_or(last).to_owned()
            }
        }
    };
    format!("{prefix}{one}")
}

/// English plural of a singular noun, by the common rules.
pub fn pluralize(word: &str) -> String {
    let (prefix, last) = match word.rsplit_once('_') {
        Some((p, l)) => (format!("{p}_"), l),
        None => (String::new(), word),
    };
    let many = match last {
        "person" => "people".to_owned(),
        "child" => "children".to_owned(),
        _ if last.ends_with('y')
            && !last.ends_with("ay")
            && !last.ends_with("ey")
            && !last.ends_with("oy") =>
        {
            format!("{}ies", &last[..last.len() - 1])
        }
        _ if ["s", "x", "z", "ch", "sh"]
            .iter()
            .any(|s| last.ends_with(s)) =>
        {
            format!("{last}es")
        }
        _ => format!("{last}s"),
    };
    format!("{prefix}{many}")
}

// ---------------------------------------------------------------------------------------------
// Fields

#[derive(Debug, Default)]
struct FieldDraft {
    words: Vec<String>,
    explicit: Option<FieldType>,
    enum_values: Vec<String>,
    required: Option<bool>,
    unique: bool,
    flag: bool,
    number_of: bool,
}

fn type_word(w: &str) -> Option<FieldType> {
    Some(match w {
        "string" | "str" | "varchar" | "name" => FieldType::String,
        "text" | "paragraph" | "markdown" => FieldType::Text,
        "integer" | "int" | "whole" | "count" => FieldType::Integer,
        "number" | "float" | "decimal" | "double" | "numeric" | "money" => FieldType::Number,
        "boolean" | "bool" | "flag" | "checkbox" | "yes-no" => FieldType::Boolean,
        "date" => FieldType::Date,
        "datetime" | "timestamp" | "time" => FieldType::Datetime,
        "email" | "e-mail" => FieldType::Email,
        "url" | "link" | "uri" => FieldType::Url,
        _ => return None,
    })
}

/// Splits a field list into drafts: "a title, a priority from low/medium/high and a done flag".
fn parse_fields(words: &[&str]) -> Vec<FieldDraft> {
    let mut out = Vec::new();
    let mut cur = FieldDraft::default();
    let mut i = 0;
    let flush = |cur: &mut FieldDraft, out: &mut Vec<FieldDraft>| {
        if !cur.words.is_empty() {
            out.push(std::mem::take(cur));
        } else {
            *cur = FieldDraft::default();
        }
    };
    while i < words.len() {
        let w = words[i];
        let next = words.get(i + 1).copied();
        match w {
            _ if is_sep(w) => flush(&mut cur, &mut out),
            "(" => {
                let end = words[i..]
                    .iter()
                    .position(|t| *t == ")")
                    .map_or(words.len(), |e| e + i);
                let inside = &words[i + 1..end];
                let (values, _) = read_values(inside, 0);
                if values.len() >= 2 {
                    cur.enum_values = values;
                } else {
                    for t in inside {
                        match *t {
                            "required" | "mandatory" => cur.required = Some(true),
                            "optional" => cur.required = Some(false),
                            "unique" => cur.unique = true,
                            other => {
                                if let Some(ty) = type_word(other) {
                                    cur.explicit = Some(ty);
                                }
                            }
                        }
                    }
                }
                i = end;
            }
            "from" | "either" | "one" if !cur.words.is_empty() => {
                let mut j = i + 1;
                if w == "one" && next == Some("of") {
                    j += 1;
                } else if w == "one" {
                    cur.words.push(w.to_owned());
                    i += 1;
                    continue;
                }
                let (values, end) = read_values(words, j);
                if values.len() >= 2 {
                    cur.enum_values = values;
                    i = end;
                    continue;
                }
                i += 1;
                continue;
            }
            ":" if !cur.words.is_empty() => {
                let (values, end) = read_values(words, i + 1);
                if values.len() >= 2 {
                    cur.enum_values = values;
                    i = end;
                    continue;
                } else if let Some(ty) = next.and_then(type_word) {
                    cur.explicit = Some(ty);
                    i += 2;
                    continue;
                }
            }
            "as" | "of" if next.is_some() => {
                // "as a number", "of type date", "number of pages"
                let mut j = i + 1;
                while j < words.len() && (ARTICLES.contains(&words[j]) || words[j] == "type") {
                    j += 1;
                }
                if w == "of" && cur.words.last().is_some_and(|l| l == "number") {
                    cur.words.pop();
                    cur.number_of = true;
                    i += 1;
                    continue;
                }
                if let Some(ty) = words.get(j).copied().and_then(type_word) {
                    cur.explicit = Some(ty);
                    i = j + 1;
                    continue;
                }
                if w == "of" {
                    // "a list of tags" keeps its words
                    i += 1;
                    continue;
                }
            }
            "required" | "mandatory" => cur.required = Some(true),
            "optional" => cur.required = Some(false),
            "unique" | "distinct" => cur.unique = true,
            "flag" | "checkbox" | "boolean" | "bool" => cur.flag = true,
            "which" | "that" | "is" | "are" | "should" | "be" | "must" => {}
            _ if ARTICLES.contains(&w)
                || FIELD_NOUNS.contains(&w)
                || matches!(w, "," | "/" | ")" | "|") => {}
            _ if type_word(w).is_some()
                && cur.words.is_empty()
                && next.is_some_and(|n| !is_sep(n) && n != "of")
                && w != "name"
                && w != "date"
                && w != "email"
                && w != "url"
                && w != "link"
                && w != "time" =>
            {
                // "a text description", "an integer count" (a type before the name)
                cur.explicit = type_word(w);
            }
            _ => cur.words.push(w.to_owned()),
        }
        i += 1;
    }
    flush(&mut cur, &mut out);
    out
}

/// Reads enum values from `start`: `low/medium/high`, `low, medium or high`.
fn read_values(words: &[&str], start: usize) -> (Vec<String>, usize) {
    let mut values: Vec<String> = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    let mut i = start;
    while i < words.len() {
        let w = words[i];
        if matches!(w, "/" | "," | "|" | "or") {
            if !current.is_empty() {
                values.push(current.join("_"));
                current.clear();
            }
        } else if w == "and" {
            // "and" ends the list unless the next word is its last value.
            let next = words.get(i + 1).copied();
            let last_value = next.is_some_and(|n| !ARTICLES.contains(&n))
                && words.get(i + 2).is_none_or(|n| is_sep(n) || *n == ")");
            if !current.is_empty() {
                values.push(current.join("_"));
                current.clear();
            }
            if !last_value {
                break;
            }
        } else if ARTICLES.contains(&w) || w == "(" || w == ")" {
            break;
        } else {
            current.push(w);
            // A value is one or two words; a third word ends the list.
            if current.len() > 2 {
                current.pop();
                break;
            }
        }
        i += 1;
    }
    if !current.is_empty() {
        values.push(current.join("_"));
    }
    let values: Vec<String> = values.into_iter().filter(|v| !v.is_empty()).collect();
    (values, i)
}

impl FieldDraft {
    fn into_field(self, resource: &str, change: &mut SpecChange) -> Option<Field> {
        let words: Vec<&str> = self.words.iter().map(String::as_str).collect();
        let mut name = ident(&words)?;
        if name == "id" || name == format!("{resource}_id") {
            return None;
        }
        let ty = if !self.enum_values.is_empty() {
            let mut values = Vec::new();
            for v in &self.enum_values {
                let Some(v) = ident(&[v.as_str()]) else {
                    continue;
                };
                let v = if v.starts_with(|c: char| c.is_ascii_digit()) {
                    format!("v{v}")
                } else {
                    v
                };
                match check_identifier(&v) {
                    Ok(()) if !values.contains(&v) => values.push(v),
                    Ok(()) => {}
                    Err(_) => {
                        let alt = format!("{v}_value");
                        if check_identifier(&alt).is_ok() && !values.contains(&alt) {
                            values.push(alt);
                        } else {
                            change
                                .notes
                                .push(format!("`{v}` can't be a choice of `{name}`"));
                        }
                    }
                }
            }
            if values.is_empty() {
                return None;
            }
            FieldType::Enum { values }
        } else if self.number_of {
            FieldType::Integer
        } else if self.flag {
            FieldType::Boolean
        } else if let Some(t) = self.explicit {
            t
        } else {
            infer_type(&name)
        };
        if check_identifier(&name).is_err() {
            let alt = format!("{resource}_{name}");
            match check_identifier(&alt) {
                Ok(()) => {
                    change.notes.push(format!(
                        "`{name}` is a reserved word, so the field is called `{alt}`"
                    ));
                    name = alt;
                }
                Err(e) => {
                    change
                        .notes
                        .push(format!("`{name}` can't be a field name: {e}"));
                    return None;
                }
            }
        }
        let default = matches!(ty, FieldType::Boolean).then(|| serde_json::Value::Bool(false));
        let required = self
            .required
            .unwrap_or(matches!(name.as_str(), "title" | "name") && ty == FieldType::String);
        Some(Field {
            name,
            ty,
            required: required && default.is_none(),
            unique: self.unique,
            default,
        })
    }
}

fn infer_type(name: &str) -> FieldType {
    let last = name.rsplit('_').next().unwrap_or(name);
    let first = name.split('_').next().unwrap_or(name);
    if matches!(first, "is" | "has" | "can" | "allow" | "allows")
        || matches!(
            name,
            "done"
                | "completed"
                | "complete"
                | "active"
                | "enabled"
                | "archived"
                | "verified"
                | "paid"
                | "available"
                | "visible"
                | "public"
                | "private"
                | "read"
                | "starred"
                | "featured"
                | "pinned"
                | "approved"
                | "finished"
                | "resolved"
                | "in_stock"
        )
    {
        return FieldType::Boolean;
    }
    if matches!(last, "date" | "birthday" | "dob" | "deadline" | "day") || name.ends_with("_on") {
        return FieldType::Date;
    }
    if matches!(last, "time" | "timestamp" | "datetime" | "at") {
        return FieldType::Datetime;
    }
    if matches!(last, "email" | "mail") {
        return FieldType::Email;
    }
    if matches!(
        last,
        "url" | "website" | "link" | "homepage" | "uri" | "site"
    ) {
        return FieldType::Url;
    }
    if matches!(
        last,
        "price"
            | "amount"
            | "cost"
            | "rating"
            | "score"
            | "weight"
            | "height"
            | "width"
            | "length"
            | "latitude"
            | "longitude"
            | "lat"
            | "lng"
            | "balance"
            | "total"
            | "salary"
            | "percentage"
            | "rate"
            | "budget"
            | "temperature"
            | "distance"
            | "fee"
            | "tax"
            | "discount"
    ) {
        return FieldType::Number;
    }
    if matches!(
        last,
        "count"
            | "quantity"
            | "age"
            | "year"
            | "pages"
            | "stock"
            | "number"
            | "qty"
            | "position"
            | "rank"
            | "duration"
            | "minutes"
            | "seconds"
            | "hours"
            | "days"
            | "capacity"
            | "size"
            | "votes"
            | "likes"
            | "views"
            | "level"
            | "floor"
            | "seats"
            | "servings"
            | "calories"
            | "priority"
            | "order"
            | "year_published"
            | "copies"
            | "attempts"
            | "points"
    ) {
        return FieldType::Integer;
    }
    if matches!(
        last,
        "description"
            | "body"
            | "content"
            | "notes"
            | "note"
            | "bio"
            | "summary"
            | "details"
            | "comment"
            | "text"
            | "message"
            | "biography"
            | "instructions"
            | "abstract"
            | "review"
            | "ingredients"
            | "steps"
            | "answer"
            | "question"
    ) {
        return FieldType::Text;
    }
    FieldType::String
}

/// A short human description of a field: `date, required`.
pub(crate) fn describe_field(f: &Field) -> String {
    let mut s = match &f.ty {
        FieldType::Enum { values } => format!("one of {}", values.join("/")),
        other => super::type_label(other).to_owned(),
    };
    if f.required {
        s.push_str(", required");
    }
    if f.unique {
        s.push_str(", unique");
    }
    s
}

#[cfg(test)]
mod tests;
