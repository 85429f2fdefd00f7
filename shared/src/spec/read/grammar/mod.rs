//! The grammar of requirement sentences.
//!
//! A sentence is a subject and one or more predicates that share it:
//!
//! ```text
//! sentence   = subject predicate { ("," | "and" | ", and" | ";") [pronoun] predicate }
//!            | subject ":" (predicate | items)            "members: name, email"
//!            | subject "(" items ")" { "and" subject "(" items ")" }
//!            | "add" items ["to" subject]                   "add a due date to tasks"
//! predicate  = [modal] have-verb items                      "have a title and a due date"
//!            | [modal] belong-verb targets [items]          "belong to a book and a member"
//!            | [modal] has-many-verb targets                "has many tasks"
//!            | link-verb targets [items]                    "link a playlist and a song with a position"
//! items      = item { ("," | "and" | "plus" | …) item }     see `fields`
//! ```
//!
//! A pronoun subject ("they", "it", "each one") is the last subject named in the message. An
//! item that names another resource ("has a speaker", "which desk", "one supplier") is a
//! relation, not a field. A subject "we" or "the app" with a have-verb names resources ("we have
//! cars (make, model) and customers (name)").

mod add;
mod items;
mod keeping;
mod predicates;
mod questions;
pub(super) mod relations;
mod resource_list;
mod subjects;
mod verbs;

use super::fields::parse_fields;
use super::fields::types::FIELD_WORDS;
use super::phrases::noun_phrase;
use super::resources::{ensure_resource, find_resource};
use super::SpecChange;
use crate::spec::AppSpec;
use add::read_add;
use items::{declare_items, ATTRIBUTE_PLURALS};
use predicates::{apply_predicates, split_top};
use resource_list::declare_resources;
use subjects::{is_app_subject, names_app, strip_triggers, subject_resource, PEOPLE};
use verbs::{first_verb, skip_modals, trim_modals, Verb};

/// What the sentences of one message share: the last subject named.
#[derive(Debug, Default)]
pub(super) struct Context {
    /// The name of the last resource that was a subject (a name, not an index: a removal in
    /// the same message moves indices).
    pub last_name: Option<String>,
    /// Resources the whole message names, found by reading it once ahead: "each line item is
    /// a product" links to products even when "products have a name" comes after it.
    pub known: Vec<String>,
    /// The resource the conversation was about before this message (of the field it was
    /// last about): "add a due date" and "also an isbn" with no subject in view go there.
    pub about: Option<String>,
}

impl Context {
    /// A context whose subject, until the message names one, is `resource` (the one the
    /// conversation was about).
    pub(super) fn about(resource: Option<&str>) -> Self {
        Context {
            about: resource.map(str::to_owned),
            ..Context::default()
        }
    }

    /// The subject in view: the last one of this message, else the one the conversation was
    /// about, else the only resource.
    fn in_view(&self, spec: &AppSpec) -> Option<usize> {
        self.last(spec)
            .or_else(|| {
                let name = self.about.as_deref()?;
                spec.resources.iter().position(|r| r.name == name)
            })
            .or_else(|| (spec.resources.len() == 1).then_some(0))
    }

    /// Remembers resource `r` as the subject pronouns refer to.
    fn set_last(&mut self, spec: &AppSpec, r: usize) {
        self.last_name = spec.resources.get(r).map(|res| res.name.clone());
    }

    /// The resource pronouns refer to, if it still exists.
    fn last(&self, spec: &AppSpec) -> Option<usize> {
        let name = self.last_name.as_deref()?;
        spec.resources.iter().position(|r| r.name == name)
    }
}

/// Reads a declaration, relation or "add" sentence. Returns whether it understood one.
pub(super) fn read_statement(
    spec: &mut AppSpec,
    words: &[&str],
    ctx: &mut Context,
    change: &mut SpecChange,
) -> bool {
    if words.is_empty() {
        return false;
    }
    if matches!(words[0], "add" | "adding" | "include" | "create") {
        if let Some(done) = read_add(spec, words, ctx, change) {
            return done;
        }
    }
    // "members: name, email", "track exercises: name, sets and reps".
    if let Some(colon) = top_level(words, ":") {
        let head = strip_triggers(&words[..colon]);
        let rest = &words[colon + 1..];
        // "api for a library: books, members and loans", "Task API: tasks have a title".
        if first_verb(&head, 0).is_none() && names_app(&head) {
            if first_verb(rest, 0).is_some() || rest.first() == Some(&"add") {
                return read_statement(spec, rest, ctx, change);
            }
            // "api for books: title, author, published year": the one thing the app is for,
            // then its fields.
            let drafts = parse_fields(rest);
            let singular = !drafts.is_empty()
                && drafts.iter().all(|d| {
                    d.words.last().is_some_and(|w| {
                        !super::looks_plural(w) || ATTRIBUTE_PLURALS.contains(&w.as_str())
                    })
                });
            if singular && declare_resources(spec, &head, ctx, change) {
                if let Some(r) = ctx.last(spec) {
                    declare_items(spec, r, rest, ctx, change);
                    return true;
                }
            }
            return declare_resources(spec, rest, ctx, change);
        }
        // "hikers can leave reviews: a review belongs to a trail, …": the part after the colon
        // says it all.
        let rest_has_subject = first_verb(rest, 0).is_some_and(|(v, _, _)| {
            v > 0
                && rest[..v]
                    .iter()
                    .any(|w| matches!(*w, "a" | "an" | "each" | "every" | "the"))
        });
        let head_is_clause = head.iter().any(|w| {
            matches!(
                *w,
                "can" | "could" | "should" | "will" | "want" | "need" | "is" | "are" | "do"
            )
        });
        if rest_has_subject && first_verb(&head, 0).is_none() {
            // "stock levels: a stock level belongs to …" names it, then says it.
            let np = noun_phrase(&head);
            if !head_is_clause && np.last().is_some_and(|w| super::looks_plural(w)) {
                ensure_resource(spec, &np, change);
            }
            return read_statement(spec, rest, ctx, change);
        }
        // "also status: confirmed, cancelled, finished": a field of the last subject.
        if head.len() == 1 && FIELD_WORDS.contains(&head[0]) {
            if let Some(r) = ctx
                .last(spec)
                .or_else(|| spec.resources.len().checked_sub(1))
            {
                declare_items(spec, r, &words[colon - 1..], ctx, change);
                return true;
            }
        }
        // "artworks by an artist: title, year": the head names what they belong to.
        let by = head.iter().position(|w| {
            matches!(
                *w,
                "by" | "for" | "from" | "of" | "in" | "on" | "at" | "under"
            )
        });
        if let Some(p) = by.filter(|p| {
            *p > 0
                && head.len() <= 7
                && first_verb(&head, 0).is_none()
                && head
                    .get(p + 1)
                    .is_some_and(|d| matches!(*d, "a" | "an" | "one" | "each" | "the" | "some"))
        }) {
            let parent = find_resource(spec, &head[p + 2..]);
            if let Some(parent) = parent {
                if let Some(r) = subject_resource(spec, &head[..p], ctx, change) {
                    if r != parent {
                        relations::relate(spec, r, parent, change);
                        ctx.set_last(spec, r);
                        declare_items(spec, r, rest, ctx, change);
                        return true;
                    }
                }
            }
        }
        if first_verb(&head, 0).is_none() && !head.is_empty() && head.len() <= 5 {
            if let Some(r) = subject_resource(spec, &head, ctx, change) {
                ctx.set_last(spec, r);
                let rest = &words[colon + 1..];
                let rest_start = skip_modals(rest, 0);
                if let Some((0, verb, n)) = first_verb(&rest[rest_start..], 0) {
                    apply_predicates(spec, r, verb, &rest[rest_start + n..], ctx, change);
                } else {
                    declare_items(spec, r, rest, ctx, change);
                }
                return true;
            }
        }
    }
    if keeping::read_keeping(spec, words, ctx, change)
        || keeping::read_contribution(spec, words, ctx, change)
    {
        return true;
    }
    // "a loan is one piece of equipment lent to one employee": a copula before any verb.
    let verb = first_verb(words, 0);
    if let Some(c) = words
        .iter()
        .position(|w| matches!(*w, "is" | "are"))
        .filter(|c| verb.is_none_or(|(v, _, _)| *c + 1 < v))
    {
        let subject = trim_modals(&words[..c]);
        // "customers are just a name and an email".
        let mut a = c + 1;
        while words
            .get(a)
            .is_some_and(|w| matches!(*w, "just" | "only" | "simply" | "basically"))
        {
            a += 1;
        }
        let after = &words[a..];
        let points = after
            .first()
            .is_some_and(|w| matches!(*w, "one" | "a" | "an" | "exactly" | "a single"));
        let plain = !subject.is_empty()
            && subject.len() <= 4
            && subject
                .iter()
                .all(|w| w.chars().all(|ch| ch.is_alphanumeric() || ch == '_'));
        if points
            && plain
            && !is_app_subject(subject)
            && !subject.iter().any(|w| PEOPLE.contains(w))
        {
            if let Some(r) = subject_resource(spec, subject, ctx, change) {
                ctx.set_last(spec, r);
                apply_predicates(spec, r, Verb::Be, after, ctx, change);
                return true;
            }
        }
    }
    match verb {
        Some((v, verb, n)) => {
            let subject_words = &words[..v];
            let subject_words = trim_modals(subject_words);
            // "… spreadsheets that three people have edited": a relative clause, not a
            // requirement.
            if subject_words
                .iter()
                .any(|w| matches!(*w, "that" | "which" | "who" | "whom" | "whose"))
            {
                return false;
            }
            // "for each artifact we'd want the title, …": the thing after "for each".
            if let Some(k) = subject_words.windows(2).position(|w| {
                w[0] == "for" && matches!(w[1], "each" | "every" | "all" | "a" | "an" | "the")
            }) {
                let np: Vec<&str> = subject_words[k + 2..]
                    .iter()
                    .copied()
                    .take_while(|w| !matches!(*w, "we" | "i" | "you" | "wed" | "id" | "," | "they"))
                    .collect();
                if let Some(r) = subject_resource(spec, &np, ctx, change) {
                    ctx.set_last(spec, r);
                    apply_predicates(spec, r, verb, &words[v + n..], ctx, change);
                    return true;
                }
            }
            // "guests and vendors both belong to a wedding": each subject gets the predicate.
            if subject_words.contains(&"and")
                && !is_app_subject(subject_words)
                && subject_words.len() <= 6
            {
                let subjects: Vec<Vec<&str>> = split_top(subject_words)
                    .into_iter()
                    .map(|s| {
                        s.into_iter()
                            .filter(|w| !matches!(*w, "both" | "all"))
                            .collect()
                    })
                    .collect();
                if subjects.len() >= 2
                    && subjects
                        .iter()
                        .all(|s: &Vec<&str>| !s.is_empty() && s.len() <= 3)
                {
                    let mut any = false;
                    for subject in subjects {
                        if let Some(r) = subject_resource(spec, &subject, ctx, change) {
                            ctx.set_last(spec, r);
                            apply_predicates(spec, r, verb, &words[v + n..], ctx, change);
                            any = true;
                        }
                    }
                    return any;
                }
            }
            if (is_app_subject(subject_words) || subject_words.iter().any(|w| PEOPLE.contains(w)))
                && verb == Verb::Have
            {
                return declare_resources(spec, &words[v + n..], ctx, change);
            }
            if subject_words.is_empty() && matches!(words[v], "want" | "need" | "needs") {
                return declare_resources(spec, &words[v + n..], ctx, change);
            }
            let Some(r) = subject_resource(spec, subject_words, ctx, change) else {
                return false;
            };
            ctx.set_last(spec, r);
            apply_predicates(spec, r, verb, &words[v + n..], ctx, change);
            true
        }
        // "Products (name, sku) and suppliers (name, phone)".
        None if words.contains(&"(") => declare_resources(spec, words, ctx, change),
        // "a fertilized yes/no on each watering", "a due date for every task".
        None if on_each(words).is_some() => {
            let k = on_each(words).expect("checked");
            match find_resource(spec, &noun_phrase(&words[k + 2..])) {
                Some(r) => {
                    declare_items(spec, r, &words[..k], ctx, change);
                    true
                }
                None => false,
            }
        }
        // "oh and a notes field for …", "and a checked_in flag": a field of the last subject.
        None if words
            .iter()
            .take(5)
            .any(|w| super::FIELD_NOUNS.contains(w) || *w == "flag") =>
        {
            match ctx.last(spec) {
                Some(r) => {
                    declare_items(spec, r, words, ctx, change);
                    true
                }
                None => false,
            }
        }
        None => false,
    }
}

/// Where "on each", "for every", "per" … begins, if anywhere.
fn on_each(words: &[&str]) -> Option<usize> {
    words.windows(2).position(|w| {
        matches!(w[0], "on" | "for" | "to" | "per") && matches!(w[1], "each" | "every" | "all")
    })
}

/// Index of the first `token` outside parentheses.
fn top_level(words: &[&str], token: &str) -> Option<usize> {
    let mut depth = 0usize;
    for (i, w) in words.iter().enumerate() {
        match *w {
            "(" => depth += 1,
            ")" => depth = depth.saturating_sub(1),
            t if t == token && depth == 0 => return Some(i),
            _ => {}
        }
    }
    None
}

/// "also an isbn", "and a body", "plus a due date": a bare item, with a subject in view, is a
/// field of it.
pub(super) fn read_fragment(
    spec: &mut AppSpec,
    words: &[&str],
    ctx: &mut Context,
    change: &mut SpecChange,
) -> bool {
    let Some(r) = ctx.in_view(spec) else {
        return false;
    };
    let starts_item = words
        .first()
        .is_some_and(|w| matches!(*w, "a" | "an" | "the" | "their" | "its"));
    if !starts_item || words.len() > 8 || first_verb(words, 0).is_some() {
        return false;
    }
    let np = noun_phrase(words);
    // A plural or a known resource is a thing of its own, read elsewhere.
    if np.is_empty()
        || find_resource(spec, &np).is_some()
        || np
            .last()
            .is_some_and(|w| super::looks_plural(w) && !ATTRIBUTE_PLURALS.contains(w))
    {
        return false;
    }
    declare_items(spec, r, words, ctx, change);
    true
}
