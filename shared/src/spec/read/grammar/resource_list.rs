//! Lists of resources: "we have cars (make, model) and customers (name, email)", "Products
//! (name, sku)", "my plants with a name and a species": each item a resource, with its fields.

use super::items::declare_items;
use super::subjects::strip_triggers;
use super::{top_level, Context};
use crate::spec::read::phrases::noun_phrase;
use crate::spec::read::resources::ensure_resource;
use crate::spec::read::words::looks_plural;
use crate::spec::read::SpecChange;
use crate::spec::AppSpec;

/// "we have cars (make, model) and customers (name, email)", "Products (name, sku)": each item
/// a resource, with the fields in its parentheses or after "with".
pub(super) fn declare_resources(
    spec: &mut AppSpec,
    words: &[&str],
    ctx: &mut Context,
    change: &mut SpecChange,
) -> bool {
    // "my plants with a name, the species, …": after "with", the items are its fields.
    if let Some(w) = top_level(words, "with") {
        let before = &words[..w];
        if !before.contains(&"(") && !before.contains(&",") {
            let mut any = declare_resources(spec, before, ctx, change);
            if let Some(r) = ctx.last(spec).filter(|_| any) {
                declare_items(spec, r, &words[w + 1..], ctx, change);
                any = true;
            }
            return any;
        }
    }
    let mut any = false;
    let mut depth = 0usize;
    let mut start = 0;
    for i in 0..=words.len() {
        let at_sep =
            i == words.len() || depth == 0 && matches!(words[i], "," | "and" | "&" | "plus");
        if i < words.len() {
            match words[i] {
                "(" => depth += 1,
                ")" => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        if !at_sep {
            continue;
        }
        let item = &words[start..i];
        start = i + 1;
        if item.is_empty() {
            continue;
        }
        let (name, fields): (&[&str], &[&str]) = match item.iter().position(|w| *w == "(") {
            Some(o) => {
                let close = item.iter().rposition(|w| *w == ")").unwrap_or(item.len());
                (&item[..o], &item[o + 1..close.max(o + 1)])
            }
            None => match item.iter().position(|w| matches!(*w, "with" | ":")) {
                Some(k) => (&item[..k], &item[k + 1..]),
                None => (item, &[]),
            },
        };
        // "something to keep track of orders" → orders
        let name = match name.iter().rposition(|w| {
            matches!(
                *w,
                "track"
                    | "manage"
                    | "of"
                    | "for"
                    | "store"
                    | "handle"
                    | "keep"
                    | "list"
                    | "about"
                    | "add"
                    | "create"
                    | "see"
                    | "get"
                    | "have"
                    | "need"
                    | "want"
                    | "save"
                    | "log"
                    | "record"
                    | "book"
                    | "view"
            )
        }) {
            Some(k) => &name[k + 1..],
            None => name,
        };
        let np = noun_phrase(&strip_triggers(name));
        if np.is_empty() {
            continue;
        }
        let plural_or_fields = !fields.is_empty() || np.last().is_some_and(|w| looks_plural(w));
        if !plural_or_fields {
            continue;
        }
        if let Some(r) = ensure_resource(spec, &np, change) {
            ctx.set_last(spec, r);
            any = true;
            if !fields.is_empty() {
                declare_items(spec, r, fields, ctx, change);
            }
        }
    }
    any
}
