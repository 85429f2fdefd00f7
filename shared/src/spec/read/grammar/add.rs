//! "Add" sentences: "add a due date to tasks", "add invoices: number, date", "add stock
//! levels", "add a priority field" with a subject in view.

use super::items::declare_items;
use super::subjects::names_app;
use super::verbs::first_verb;
use super::{top_level, Context};
use crate::spec::read::phrases::noun_phrase;
use crate::spec::read::resources::{ensure_resource, find_resource};
use crate::spec::read::words::looks_plural;
use crate::spec::read::{ident, SpecChange, FIELD_NOUNS};
use crate::spec::AppSpec;

/// "add a due date to tasks", "add stock levels", "add a priority field".
pub(super) fn read_add(
    spec: &mut AppSpec,
    words: &[&str],
    ctx: &mut Context,
    change: &mut SpecChange,
) -> Option<bool> {
    let body = &words[1..];
    // "create an api for subscribers" says what the app is for, read as such elsewhere.
    if names_app(body) {
        return None;
    }
    // "add X to/on/for R"
    if let Some(i) = body
        .iter()
        .rposition(|w| matches!(*w, "to" | "on" | "for" | "in"))
    {
        let target = noun_phrase(&body[i + 1..]);
        if let Some(r) = find_resource(spec, &target) {
            ctx.set_last(spec, r);
            declare_items(spec, r, &body[..i], ctx, change);
            return Some(true);
        }
    }
    // "add invoices: number, date", "add stock levels - each …", "add projects with a name".
    if let Some(k) = top_level(body, ":")
        .or_else(|| top_level(body, "with"))
        .or_else(|| top_level(body, "("))
    {
        let head = noun_phrase(&body[..k]);
        if head.last().is_some_and(|w| looks_plural(w)) || find_resource(spec, &head).is_some() {
            if let Some(r) = ensure_resource(spec, &head, change) {
                ctx.set_last(spec, r);
                let fields: Vec<&str> = body[k + 1..]
                    .iter()
                    .copied()
                    .filter(|w| *w != ")")
                    .collect();
                declare_items(spec, r, &fields, ctx, change);
                return Some(true);
            }
        }
    }
    let np = noun_phrase(body);
    // "add stock levels", "add invoices too": a plural that is no field of anything.
    if np.last().is_some_and(|w| looks_plural(w))
        && !np.iter().any(|w| FIELD_NOUNS.contains(w))
        && body.iter().all(|w| !matches!(*w, "," | "("))
        && ident(&np).is_some_and(|n| {
            !spec
                .resources
                .iter()
                .any(|r| r.fields.iter().any(|f| f.name == n))
        })
    {
        return Some(ensure_resource(spec, &np, change).is_some());
    }
    // "add a due date" with a subject in view; the resource the conversation was about only
    // for a plain list of items ("add a harvest log: each harvest belongs to …" says more).
    let plain = first_verb(body, 0).is_none()
        && !body
            .iter()
            .any(|w| matches!(*w, ":" | "(" | "each" | "every" | "-"));
    let r = if plain {
        ctx.in_view(spec)?
    } else {
        ctx.last(spec)
            .or_else(|| (spec.resources.len() == 1).then_some(0))?
    };
    declare_items(spec, r, body, ctx, change);
    Some(true)
}
