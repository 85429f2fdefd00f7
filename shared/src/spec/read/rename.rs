//! Renaming: "rename tasks to todos", "call it sku, not code" give a resource or a field a
//! new name, and carry the new name into links and search keys.

use super::reference::{referred, resolve_field};
use super::words::{looks_plural, pluralize, singularize};
use super::{ident, verb_at, SpecChange, ARTICLES, FIELD_NOUNS, RESOURCE_NOUNS};
use crate::spec::{check_identifier, check_resource_name, AppSpec};

/// "rename tasks to todos", "rename title to name".
pub(super) fn read_rename(spec: &mut AppSpec, words: &[&str], change: &mut SpecChange) -> bool {
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
        change.renamed.push(crate::spec::Renamed::Resource {
            from: old_name,
            to: singular,
        });
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
            change.renamed.push(crate::spec::Renamed::Field {
                resource: r.name.clone(),
                from: old.clone(),
                to: new.clone(),
            });
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
