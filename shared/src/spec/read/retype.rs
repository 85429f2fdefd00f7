//! Changing a field that exists: "the price should be a decimal", "make priority
//! low/normal/urgent", "returned date can be empty" give it a new type, choices or constraint.

use super::fields::types::describe_field;
use super::reference::field_named;
use super::{fields, SpecChange};
use crate::spec::AppSpec;

/// "the price should be a decimal", "make priority low/normal/urgent", "returned date can be
/// empty", "change status to draft/published/archived", "make that field required": a field
/// that exists gets a new type, choices or constraint.
pub(super) fn read_retype(spec: &mut AppSpec, words: &[&str], change: &mut SpecChange) -> bool {
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
