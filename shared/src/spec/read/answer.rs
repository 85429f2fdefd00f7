//! A reply that names a field's choices: "low, medium or high" in answer to "is `priority` a
//! number or text?" makes the field one of them.

use super::fields::types::describe_field;
use super::{fields, lex, SpecChange};
use crate::spec::{AppSpec, FieldRef, FieldType};

/// A reply to a question about the field `about` that names its choices ("low, medium or
/// high", "it's one of draft/sent", "choices: Not Urgent, Urgent"): the spec with the field made
/// one of them, if the reply does that and nothing else ("hold on, I also need users" is not).
pub(crate) fn choices_for(
    spec: &AppSpec,
    about: &FieldRef,
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
    let (values, end) = fields::choices::read_values(&words, 0);
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
