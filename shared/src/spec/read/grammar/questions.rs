//! Questions instead of guesses: a link to a word for a state ("belongs to returned": a yes/no
//! field or a thing?), and a type guessed from a word that as often names a label ("priority":
//! a number or text?).

use crate::spec::read::resources::find_resource;
use crate::spec::read::words::pluralize;
use crate::spec::{AppSpec, Field, Patch, Question, QuestionOption};

/// Words that describe a state rather than name a thing.
const STATES: &[&str] = &[
    "active",
    "open",
    "closed",
    "done",
    "paid",
    "public",
    "private",
    "available",
    "complete",
    "completed",
    "returned",
    "archived",
    "deleted",
    "draft",
    "pending",
    "approved",
    "verified",
    "enabled",
    "disabled",
    "visible",
    "hidden",
    "featured",
    "pinned",
    "urgent",
    "late",
    "overdue",
];

/// A question when a link's target is a word for a state ("belongs to returned"), which no
/// resource has as its name: a yes/no field, or a thing of its own?
pub(super) fn adjective_target(spec: &AppSpec, r: usize, np: &[&str]) -> Option<Question> {
    let [word] = np else { return None };
    if find_resource(spec, np).is_some()
        || !(STATES.contains(word) || word.ends_with("ed") && word.len() > 4)
    {
        return None;
    }
    let subject = &spec.resources[r];
    let (one, many) = (
        subject.name.replace('_', " "),
        subject.plural.replace('_', " "),
    );
    let plural = pluralize(word);
    Some(Question {
        text: format!(
            "Is `{word}` a yes/no field of {many}, or a separate thing {many} belong to?"
        ),
        options: vec![
            QuestionOption {
                label: format!("a yes/no field of {many}"),
                patch: Patch::Field {
                    resource: subject.name.clone(),
                    field: Field {
                        name: (*word).to_owned(),
                        ty: crate::spec::FieldType::Boolean,
                        required: false,
                        unique: false,
                        default: Some(serde_json::Value::Bool(false)),
                    },
                },
            },
            QuestionOption {
                label: format!("separate {plural}, each {one} belonging to one"),
                patch: Patch::Parent {
                    child: subject.name.clone(),
                    name: (*word).to_owned(),
                    plural,
                },
            },
        ],
        about: None,
    })
}

/// A question when a new field's type was guessed from a word that as often names a label:
/// "priority" could be 1–5 or low/high. The field stays with the guess until answered.
pub(super) fn type_question(resource: &crate::spec::Resource, field: &Field) -> Question {
    let guess = match field.ty {
        crate::spec::FieldType::Number => "a decimal number",
        _ => "a whole number",
    };
    let with = |ty: crate::spec::FieldType| Patch::Field {
        resource: resource.name.clone(),
        field: Field {
            ty,
            ..field.clone()
        },
    };
    Question {
        text: format!(
            "Is `{}` of {} a number or text? I took it as {guess} for now; you can also name \
             its choices, like \"low, medium or high\".",
            field.name,
            resource.plural.replace('_', " ")
        ),
        options: vec![
            QuestionOption {
                label: guess.to_owned(),
                patch: with(field.ty.clone()),
            },
            QuestionOption {
                label: "text".to_owned(),
                patch: with(crate::spec::FieldType::String),
            },
        ],
        about: Some(crate::spec::FieldRef {
            resource: resource.name.clone(),
            field: field.name.clone(),
        }),
    }
}
