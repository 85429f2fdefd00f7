//! Removal: "drop the priority field", "remove due date from tasks", "we don't need comments
//! anymore" take a field or a whole resource out of the spec.

use super::phrases::split_items;
use super::reference::{referred, resolve_field};
use super::resources::find_resource;
use super::words::singularize;
use super::{ident, verb_at, SpecChange, ARTICLES, FIELD_NOUNS, RESOURCE_NOUNS};
use crate::spec::AppSpec;

/// "drop the priority field", "remove due date from tasks", "we don't need comments anymore".
pub(super) fn read_removal(spec: &mut AppSpec, words: &[&str], change: &mut SpecChange) -> bool {
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
