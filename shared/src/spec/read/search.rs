//! Search: "let me search tasks by title", "make books searchable by title and author" add
//! search keys (and the fields they name, when missing).

use super::phrases::{noun_phrase, split_items};
use super::resources::find_resource;
use super::{ident, verb_at, SpecChange, ARTICLES, FIELD_NOUNS};
use crate::spec::{check_identifier, AppSpec, Field, FieldType};

/// "let me search tasks by title", "make books searchable by title and author".
pub(super) fn read_search(spec: &mut AppSpec, words: &[&str], change: &mut SpecChange) -> bool {
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
