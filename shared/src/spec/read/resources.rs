//! Resources: the one a noun phrase names (by singular, plural or one typo), added to the spec
//! when it is new, and the resources named after a trigger word ("an API for managing tasks").

use super::phrases::{noun_phrase, split_items};
use super::words::{self, looks_plural, pluralize, singularize};
use super::{ident, words_of, SpecChange};
use crate::spec::{check_identifier, check_resource_name, AppSpec, IdentifierError, Resource};

/// Resources named after a trigger word: "an API for managing tasks and projects".
pub(super) fn read_resources(spec: &mut AppSpec, words: &[&str], change: &mut SpecChange) {
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

/// The index of the resource a noun phrase names, matching singular or plural.
pub(super) fn find_resource(spec: &AppSpec, phrase: &[&str]) -> Option<usize> {
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
pub(super) fn ensure_resource(
    spec: &mut AppSpec,
    phrase: &[&str],
    change: &mut SpecChange,
) -> Option<usize> {
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
        Err(IdentifierError::Reserved(_))
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
