//! Items of a field list: each a field of the resource, or a link when it names another
//! resource ("a speaker", "which desk", "one supplier"), or a resource of its own when it is a
//! plural this message defines ("orders have line items"); a plural that could be either is
//! asked about.

use super::questions::type_question;
use super::relations::{relate, with_article};
use super::Context;
use crate::spec::read::fields::naming::COMMON_FIELDS;
use crate::spec::read::fields::types::{describe_field, infer_type, uncertain_type};
use crate::spec::read::fields::{parse_fields, FieldDraft};
use crate::spec::read::phrases::noun_phrase;
use crate::spec::read::resources::{ensure_resource, find_resource};
use crate::spec::read::words::{looks_plural, singularize};
use crate::spec::read::{ident, is_sep, SpecChange};
use crate::spec::{check_resource_name, AppSpec, Field, Patch, Question, QuestionOption};

/// Adds the items of a field list to resource `r`: fields, and relations for the items that
/// name another resource.
pub(super) fn declare_items(
    spec: &mut AppSpec,
    r: usize,
    words: &[&str],
    ctx: &mut Context,
    change: &mut SpecChange,
) {
    if things_with_fields(spec, r, words, ctx, change) {
        return;
    }
    let resource_name = spec.resources[r].name.clone();
    for draft in parse_fields(words) {
        // "a member books a class": an item naming two things links to both.
        let named: Vec<usize> = draft
            .words
            .iter()
            .filter_map(|w| {
                let one = singularize(w);
                spec.resources
                    .iter()
                    .position(|o| o.name == *w || o.name == one || o.plural == *w)
                    .or_else(|| {
                        ctx_known(&ctx.known, &one)
                            .then(|| {
                                ensure_resource(spec, &[one.as_str()], &mut SpecChange::default())
                            })
                            .flatten()
                    })
            })
            .filter(|t| *t != r)
            .collect();
        if named.len() >= 2 && draft.words.len() <= 5 && !draft.has_type() {
            for t in named {
                relate(spec, r, t, change);
            }
            continue;
        }
        if let Some(target) = relation_target(spec, r, &draft, &ctx.known) {
            if target != r {
                relate(spec, r, target, change);
            }
            continue;
        }
        // A plural that may be a thing of its own: linked, or asked about (then `r` itself).
        if let Some(child) = child_resource(spec, r, &draft, &ctx.known, change) {
            if child != r {
                relate(spec, child, r, change);
            }
            continue;
        }
        let said_type = draft.has_type();
        let Some(field) = draft.into_field(&resource_name, change) else {
            continue;
        };
        change.touched(&resource_name, &field.name);
        let is_new = !spec.resources[r]
            .fields
            .iter()
            .any(|f| f.name == field.name);
        if is_new && !said_type && change.questions.is_empty() && uncertain_type(&field.name) {
            change
                .questions
                .push(type_question(&spec.resources[r], &field));
        }
        let res = &mut spec.resources[r];
        if let Some(existing) = res.fields.iter_mut().find(|f| f.name == field.name) {
            if *existing != field {
                *existing = field.clone();
                change.changed.push(format!(
                    "field `{resource_name}.{}` is now {}",
                    field.name,
                    describe_field(&field)
                ));
            }
        } else {
            change.added.push(format!(
                "field `{resource_name}.{}` ({})",
                field.name,
                describe_field(&field)
            ));
            res.fields.push(field);
        }
    }
}

/// "reviews with a rating from 1 to 5" among the items of `r`: a plural with fields of its own
/// is a thing of its own that belongs to `r`; the items before it stay `r`'s.
fn things_with_fields(
    spec: &mut AppSpec,
    r: usize,
    words: &[&str],
    ctx: &mut Context,
    change: &mut SpecChange,
) -> bool {
    let Some(w) = words.iter().position(|w| *w == "with") else {
        return false;
    };
    let start = words[..w]
        .iter()
        .rposition(|x| is_sep(x))
        .map_or(0, |k| k + 1);
    let head = noun_phrase(&words[start..w]);
    let plain = w - start <= 4
        && words[start..w]
            .iter()
            .all(|x| x.chars().all(|c| c.is_ascii_alphabetic()));
    if !plain
        || words[..w].contains(&"(")
        || !(1..=2).contains(&head.len())
        || !head.last().is_some_and(|l| looks_plural(l))
        || words
            .get(w + 1)
            .is_none_or(|n| matches!(*n, "decimals" | "decimal" | "cents"))
    {
        return false;
    }
    let Some(child) = ensure_resource(spec, &head, change).filter(|c| *c != r) else {
        return false;
    };
    relate(spec, child, r, change);
    if start > 0 {
        declare_items(spec, r, &words[..start], ctx, change);
    }
    declare_items(spec, child, &words[w + 1..], ctx, change);
    true
}

/// Plurals that are values of a record, not things of their own.
pub(super) const ATTRIBUTE_PLURALS: &[&str] = &[
    "tags",
    "notes",
    "ingredients",
    "instructions",
    "steps",
    "images",
    "photos",
    "pictures",
    "skills",
    "keywords",
    "features",
    "amenities",
    "allergies",
    "symptoms",
    "details",
    "links",
    "attachments",
    "hours",
    "credits",
    "bedrooms",
    "bathrooms",
    "sets",
    "reps",
    "guests",
    "players",
    "minutes",
    "seconds",
    "days",
    "years",
    "miles",
    "points",
    "pages",
    "seats",
    "servings",
    "votes",
    "likes",
    "views",
    "calories",
    "copies",
    "attempts",
    "stars",
    "comments",
    "requirements",
    "terms",
    "dimensions",
    "specs",
    "ratings",
    "genres",
    "languages",
    "topics",
    "colors",
    "colours",
    "sizes",
    "labels",
    "aliases",
    "permissions",
    "roles",
    "members",
    "participants",
    "attendees",
    "persons",
    "people",
    "kids",
    "children",
    "adults",
    "items",
    "units",
    "pieces",
    "rooms",
    "floors",
    "beds",
    "spots",
    "slots",
    "sessions",
    "lessons",
    "episodes",
    "chapters",
    "tracks",
    "songs",
    "goals",
    "assists",
    "wins",
    "losses",
    "laps",
];

/// A plural item of a have-list that names a thing of its own: "orders have line items" makes
/// `line_item` a resource that belongs to `order`.
fn child_resource(
    spec: &mut AppSpec,
    r: usize,
    draft: &FieldDraft,
    known: &[String],
    change: &mut SpecChange,
) -> Option<usize> {
    if draft.has_type() || draft.pointer || draft.words.is_empty() || draft.words.len() > 2 {
        return None;
    }
    let words: Vec<&str> = draft.words.iter().map(String::as_str).collect();
    let last = *words.last()?;
    if !looks_plural(last)
        || words.len() == 1 && ATTRIBUTE_PLURALS.contains(&last)
        || COMMON_FIELDS.contains(&singularize(last).as_str())
    {
        return None;
    }
    let name = ident(&words)?;
    if spec.resources[r].fields.iter().any(|f| f.name == name)
        || infer_type(&name) != crate::spec::FieldType::String
    {
        return None;
    }
    // An existing resource, or one this message names elsewhere.
    if let Some(c) = find_resource(spec, &words) {
        return Some(c).filter(|c| *c != r);
    }
    let singular = singularize(&name);
    if ctx_known(known, &singular) {
        return ensure_resource(spec, &words, change).filter(|c| *c != r);
    }
    // Otherwise it could be either: ask, and add nothing for it until answered.
    let parent = &spec.resources[r];
    let (label, many) = (name.replace('_', " "), parent.plural.replace('_', " "));
    if check_resource_name(&singular).is_err() {
        return None;
    }
    {
        change.questions.push(Question {
            text: format!(
                "Are `{label}` a list kept as text on each {one}, or records of their own that belong to {a_one}?",
                one = parent.name.replace('_', " "),
                a_one = with_article(&parent.name.replace('_', " "))
            ),
            options: vec![
                QuestionOption {
                    label: format!("a text field of {many}"),
                    patch: Patch::Field {
                        resource: parent.name.clone(),
                        field: Field {
                            name: name.clone(),
                            ty: crate::spec::FieldType::Text,
                            required: false,
                            unique: false,
                            default: None,
                        },
                    },
                },
                QuestionOption {
                    label: format!(
                        "separate {label}, each belonging to {}",
                        with_article(&parent.name.replace('_', " "))
                    ),
                    patch: Patch::Child {
                        parent: parent.name.clone(),
                        name: singular,
                        plural: name,
                    },
                },
            ],
            about: None,
        });
    }
    Some(r)
}

/// Whether `name` is one of the resources the message or the spec already has.
fn ctx_known(known: &[String], name: &str) -> bool {
    known.iter().any(|k| k == name)
}

/// The resource an item names, when it is a link rather than a field: "a speaker" when
/// speakers exist, "which desk", "one supplier".
fn relation_target(
    spec: &mut AppSpec,
    r: usize,
    draft: &FieldDraft,
    known: &[String],
) -> Option<usize> {
    if draft.has_type() {
        return None;
    }
    let words: Vec<&str> = draft.words.iter().map(String::as_str).collect();
    let (pointer, rest): (bool, Vec<&str>) = match words.first() {
        Some(&"one") | Some(&"which") | Some(&"single") => (true, words[1..].to_vec()),
        _ => (draft.pointer, words.clone()),
    };
    if rest.is_empty() || rest.len() > 2 {
        return None;
    }
    let name = ident(&rest)?;
    // A field of this resource by that name stays a field.
    if spec.resources[r].fields.iter().any(|f| f.name == name) {
        return None;
    }
    if let Some(i) = spec
        .resources
        .iter()
        .position(|o| o.name == name || o.plural == name)
    {
        return Some(i);
    }
    if pointer || ctx_known(known, &name) {
        let mut scratch = SpecChange::default();
        return ensure_resource(spec, &rest, &mut scratch);
    }
    None
}
