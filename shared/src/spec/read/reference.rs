//! Which field a phrase means: a field's name (or one slip from it, or the start of it), a
//! resource and its field ("task priority"), or "it", "that field", "the new column" for the
//! field the conversation is about.

use super::resources::find_resource;
use super::{ident, words, SpecChange, ARTICLES, FIELD_NOUNS};
use crate::spec::AppSpec;

/// The resource and field a phrase names ("the price", "returned date", "tasks' priority"), or
/// the field the conversation is about ("that field", "it", "the new column").
pub(super) fn field_named(
    spec: &AppSpec,
    words: &[&str],
    change: &SpecChange,
) -> Option<(usize, String)> {
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
pub(super) fn referred(
    spec: &AppSpec,
    words: &[&str],
    change: &SpecChange,
) -> Option<(usize, String)> {
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

/// The field a user's words refer to, in `scope` or anywhere: the name itself, else the one
/// field within one typo of it ("titel"), else the one field it begins ("quantity" for
/// `quantity_in_stock`).
pub(super) fn resolve_field(spec: &AppSpec, scope: Option<usize>, name: &str) -> Option<String> {
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
