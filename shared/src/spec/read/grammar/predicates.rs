//! Predicates: what is said of a subject ("have a title and a due date", "belong to a book
//! and a member", "has many tasks", "is one product and a quantity"), several of them
//! coordinated, each applied to its subject as fields or relations.

use super::items::declare_items;
use super::questions::adjective_target;
use super::relations::relate;
use super::subjects::{subject_resource, PRONOUNS};
use super::verbs::{first_verb, skip_infinitive, skip_modals, trim_modals, verb_at, Verb};
use super::Context;
use crate::spec::read::phrases::noun_phrase;
use crate::spec::read::resources::{ensure_resource, find_resource};
use crate::spec::read::words::{looks_plural, singularize};
use crate::spec::read::{ident, SpecChange};
use crate::spec::AppSpec;

/// Applies a predicate and the predicates coordinated after it to resource `r`.
pub(super) fn apply_predicates(
    spec: &mut AppSpec,
    r: usize,
    verb: Verb,
    rest: &[&str],
    ctx: &mut Context,
    change: &mut SpecChange,
) {
    // Cut the rest where a connector is followed by another predicate, with the same subject
    // ("and have a due date", ", they have …", "and we need …") or a new one ("and each
    // vehicle is assigned to a driver").
    let mut segments: Vec<(usize, Verb, Vec<&str>)> = vec![(r, verb, Vec::new())];
    let mut i = 0;
    let mut depth = 0usize;
    while i < rest.len() {
        let w = rest[i];
        match w {
            "(" => depth += 1,
            ")" => depth = depth.saturating_sub(1),
            _ => {}
        }
        if depth == 0 && matches!(w, "," | "and" | "but" | "while" | "plus" | "so") {
            let mut j = i + 1;
            while j < rest.len() && matches!(rest[j], "and" | "," | "also" | "so" | "then") {
                j += 1;
            }
            let same = j < rest.len()
                && (PRONOUNS.contains(&rest[j]) && rest[j] != "one" && rest[j] != "each"
                    || matches!(rest[j], "we" | "i" | "you" | "were" | "id" | "wed"));
            let subject_end = if same { j + 1 } else { j };
            let k = skip_modals(rest, subject_end);
            let k = skip_infinitive(rest, k);
            if let Some((v, n)) = (k < rest.len()).then(|| verb_at(rest, k)).flatten() {
                if !(rest[k] == "with" && v == Verb::Have) || k > j {
                    segments.push((r, v, Vec::new()));
                    i = k + n;
                    continue;
                }
            }
            // A new subject: "and each vehicle is assigned to a driver".
            if !same {
                if let Some((v_at, v, n)) = first_verb(&rest[..rest.len().min(j + 6)], j) {
                    let np_words = trim_modals(&rest[j..v_at]);
                    let opens = np_words.first().is_some_and(|f| {
                        matches!(*f, "each" | "every" | "a" | "an" | "the" | "all")
                    });
                    let plain = !np_words.is_empty()
                        && np_words.len() <= 4
                        && np_words.iter().all(|x| {
                            x.chars().all(|c| c.is_alphanumeric() || c == '_')
                                && !matches!(*x, "and" | "or" | "plus" | "with")
                        });
                    let known = find_resource(spec, np_words).is_some()
                        || noun_phrase(np_words)
                            .last()
                            .is_some_and(|w| ctx.known.iter().any(|k| *k == singularize(w)));
                    // "…, students have a name": a plural right before its verb.
                    let plural_subject = np_words.len() <= 2
                        && np_words.last().is_some_and(|w| looks_plural(w))
                        && v_at == j + np_words.len();
                    if plain && (opens || known || plural_subject) {
                        if let Some(r2) = subject_resource(spec, np_words, ctx, change) {
                            ctx.set_last(spec, r2);
                            segments.push((r2, v, Vec::new()));
                            i = v_at + n;
                            continue;
                        }
                    }
                }
            }
        }
        segments.last_mut().expect("never empty").2.push(w);
        i += 1;
    }
    for (r, verb, words) in segments {
        let words = &words[skip_infinitive(&words, 0)..];
        match verb {
            Verb::Have => declare_items(spec, r, words, ctx, change),
            Verb::Belong | Verb::Link => {
                let fields_from = relate_targets(spec, r, words, change);
                if fields_from < words.len() {
                    declare_items(spec, r, &words[fields_from..], ctx, change);
                }
            }
            Verb::Be => be_items(spec, r, words, ctx, change),
            Verb::HasMany => {
                for item in split_top(words) {
                    let np = noun_phrase(&item);
                    if let Some(child) = ensure_resource(spec, &np, change) {
                        relate(spec, child, r, change);
                    }
                }
            }
        }
    }
}

/// "one piece of equipment lent to one employee", "a product and a quantity": items that
/// name a resource (existing, or named in this message) are what the subject belongs to; a
/// verb phrase among them goes on as a predicate; the rest are fields.
fn be_items(
    spec: &mut AppSpec,
    r: usize,
    words: &[&str],
    ctx: &mut Context,
    change: &mut SpecChange,
) {
    let (items, tail) = match first_verb(words, 0) {
        Some((v, verb, n)) => (&words[..v], Some((verb, &words[v + n..]))),
        None => (words, None),
    };
    let mut fields = Vec::new();
    for item in split_top(items) {
        let np = noun_phrase(&item);
        let known = find_resource(spec, &np).is_some()
            || ident(&np)
                .is_some_and(|n| ctx.known.iter().any(|k| *k == n || *k == singularize(&n)));
        if known {
            if let Some(parent) = ensure_resource(spec, &np, change) {
                if parent != r {
                    relate(spec, r, parent, change);
                }
            }
        } else {
            if !fields.is_empty() {
                fields.push(",");
            }
            fields.extend(item);
        }
    }
    if !fields.is_empty() {
        declare_items(spec, r, &fields, ctx, change);
    }
    if let Some((verb, rest)) = tail {
        apply_predicates(spec, r, verb, rest, ctx, change);
    }
}

/// Splits at top-level separators: `,` `and` `or` `&` `plus` `to` is not one.
pub(super) fn split_top<'a>(words: &[&'a str]) -> Vec<Vec<&'a str>> {
    let mut items = vec![Vec::new()];
    let mut depth = 0usize;
    for w in words {
        match *w {
            "(" => depth += 1,
            ")" => depth = depth.saturating_sub(1),
            _ => {}
        }
        if depth == 0 && matches!(*w, "," | "and" | "&" | "plus" | "or") {
            items.push(Vec::new());
        } else {
            items.last_mut().expect("never empty").push(*w);
        }
    }
    items.retain(|i| !i.is_empty());
    items
}

/// Determiners that open a noun phrase naming one thing.
const DETERMINERS: &[&str] = &[
    "a", "an", "one", "the", "single", "exactly", "some", "which", "what", "its", "their", "each",
];

/// Reads the targets of a belong- or link-verb ("a book and a member", "one guest and one
/// room, check-in date") as relations of `r`; returns where the rest (fields) begins.
fn relate_targets(spec: &mut AppSpec, r: usize, words: &[&str], change: &mut SpecChange) -> usize {
    // "a tank that has a code and a capacity": the fields are the target's.
    if let Some(k) = words.windows(2).position(|w| {
        matches!(w[0], "that" | "which" | "who")
            && matches!(w[1], "has" | "have" | "holds" | "with")
    }) {
        let consumed = relate_targets(spec, r, &words[..k], change);
        if consumed >= k {
            let np = noun_phrase(&words[..k]);
            if let Some(target) = find_resource(spec, &np) {
                let items: Vec<&str> = words[k + 2..].to_vec();
                let mut ctx = Context::default();
                declare_items(spec, target, &items, &mut ctx, change);
            }
            return words.len();
        }
        return consumed;
    }
    // Targets end at "with", "having", "that has" or ", plus".
    let end = words
        .iter()
        .position(|w| matches!(*w, "with" | "having" | "where" | "plus"))
        .unwrap_or(words.len());
    let mut consumed = 0;
    let mut depth = 0usize;
    let mut start = 0;
    let mut n = 0;
    let mut i = 0;
    while i <= end {
        // "by one climber on one route": a preposition before a determiner starts a target.
        let at_sep = i == end
            || depth == 0
                && (matches!(words[i], "," | "and" | "&" | "or" | "to")
                    || i > start
                        && matches!(words[i], "on" | "at" | "in" | "by" | "from" | "into")
                        && words.get(i + 1).is_some_and(|d| DETERMINERS.contains(d)));
        if i < end {
            match words[i] {
                "(" => depth += 1,
                ")" => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        if at_sep {
            let mut item = &words[start..i];
            while item.first().is_some_and(|p| {
                matches!(
                    *p,
                    "by" | "on" | "at" | "in" | "from" | "into" | "to" | "both"
                )
            }) {
                item = &item[1..];
            }
            if !item.is_empty() {
                let names_thing =
                    DETERMINERS.contains(&item[0]) || find_resource(spec, item).is_some();
                if !(names_thing || n == 0) {
                    return consumed;
                }
                let np = noun_phrase(item);
                if let Some(q) = adjective_target(spec, r, &np) {
                    // "loans belong to returned": a quality, or a thing? Ask.
                    change.questions.push(q);
                } else if let Some(parent) = ensure_resource(spec, &np, change) {
                    if parent != r {
                        relate(spec, r, parent, change);
                    }
                }
                n += 1;
            }
            consumed = (i + 1).min(words.len());
            start = i + 1;
        }
        i += 1;
    }
    if end < words.len() {
        end + 1
    } else {
        words.len()
    }
}
