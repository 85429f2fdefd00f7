//! References to a field without its name: "make that required", "rename it to …", "drop that
//! one". Conversations written blind (by someone given only what Kiln is for, asked for a later
//! message that points back at a field named earlier), each with the field it must end as.
//! They live in `tests/understanding/references/` and are never edited to fit the reader.

use kiln::intent::classify;
use kiln::model::Intent;
use kiln::spec::{understand_after, AppSpec, FieldRef, FieldType};
use serde::Deserialize;

/// One conversation and what must become of the field it points at.
#[derive(Debug, Clone, Deserialize)]
pub struct Reference {
    /// Short id, e.g. `r07`.
    pub id: String,
    /// The user's messages, the first one describing the app.
    pub messages: Vec<String>,
    /// The field at the end.
    pub expect: Expect,
}

/// The field at the end of a conversation; `None` means "not checked".
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// Plural of the resource.
    pub resource: String,
    /// The field's name at the end (`None` when it was removed).
    pub field: Option<String>,
    /// Its type label (`date`, `enum`, …).
    #[serde(rename = "type")]
    pub ty: Option<String>,
    /// Whether it is required.
    pub required: Option<bool>,
    /// Whether it is unique.
    pub unique: Option<bool>,
    /// An enum's values.
    #[serde(default)]
    pub values: Option<Vec<String>>,
    /// A field that must be gone.
    #[serde(default)]
    pub removed: Option<String>,
    /// The last message must leave the fields as the one before left them.
    #[serde(default)]
    pub unchanged: Option<bool>,
}

/// Every case, from `tests/understanding/references/`.
pub fn references() -> Vec<Reference> {
    super::json_lists("references")
}

/// Replays a case as the product manager reads it (classifier, then the reader with the field
/// the conversation is about), and says what is wrong with the end, if anything.
pub fn check(case: &Reference) -> Result<(), String> {
    let mut spec: Option<AppSpec> = None;
    let mut focus: Option<FieldRef> = None;
    let mut before_last: Option<AppSpec> = None;
    for (i, text) in case.messages.iter().enumerate() {
        if i + 1 == case.messages.len() {
            before_last = spec.clone();
        }
        let intent = if i == 0 {
            Intent::Create
        } else {
            classify(text, spec.is_some())
        };
        if !matches!(intent, Intent::Create | Intent::Refine) {
            continue;
        }
        let (next, change) = understand_after(
            spec.as_ref(),
            "App",
            text,
            intent == Intent::Create,
            focus.as_ref(),
        )
        .map_err(|e| format!("{text:?} refused: {e}"))?;
        focus = change.focus.clone();
        spec = Some(next);
    }
    let spec = spec.ok_or("nothing understood")?;
    let want = &case.expect;
    let r = spec
        .resources
        .iter()
        .find(|r| r.plural == want.resource)
        .ok_or_else(|| format!("no resource `{}` in {}", want.resource, spec.describe()))?;
    if want.unchanged == Some(true) {
        let before = before_last.unwrap_or_default();
        let was = before.resources.iter().find(|b| b.name == r.name);
        if was.map(|b| &b.fields) != Some(&r.fields) {
            return Err(format!(
                "the last message changed fields: {}",
                spec.describe()
            ));
        }
    }
    if let Some(gone) = &want.removed {
        if r.fields.iter().any(|f| &f.name == gone) {
            return Err(format!("`{gone}` is still there: {}", spec.describe()));
        }
    }
    let Some(name) = &want.field else {
        return Ok(());
    };
    let f = r
        .fields
        .iter()
        .find(|f| &f.name == name)
        .ok_or_else(|| format!("no field `{name}`: {}", spec.describe()))?;
    if let Some(ty) = &want.ty {
        let got = kiln::spec::type_label(&f.ty);
        if got != ty {
            return Err(format!("`{name}` is {got}, not {ty}"));
        }
    }
    if let Some(values) = &want.values {
        match &f.ty {
            FieldType::Enum { values: got } if got == values => {}
            other => return Err(format!("`{name}` is {other:?}, not one of {values:?}")),
        }
    }
    if let Some(req) = want.required {
        if f.required != req {
            return Err(format!("`{name}` required is {}, not {req}", f.required));
        }
    }
    if let Some(unique) = want.unique {
        if f.unique != unique {
            return Err(format!("`{name}` unique is {}, not {unique}", f.unique));
        }
    }
    Ok(())
}

/// A reply to the question "Is `priority` of tickets a number or text?", and what it must
/// make of the field. Written blind, like the conversations; kept in
/// `tests/understanding/answers/`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TypeReply {
    /// What the user typed.
    pub reply: String,
    /// `integer`, `string`, `enum` or `not_an_answer`.
    pub outcome: String,
    /// An enum's values.
    #[serde(default)]
    pub values: Vec<String>,
}

/// Every reply, from `tests/understanding/answers/`.
pub fn type_replies() -> Vec<TypeReply> {
    super::json_lists("answers")
}

/// Asks the question as the product manager does (a description, then "tickets have a subject
/// and a priority"), replies, and says what is wrong with the field after the reply, if
/// anything. The reply goes where the pipeline sends it: a build, test, deploy or rollback
/// request never reaches the reader; anything else is tried as an answer, then read as a
/// message about the field the conversation is on.
pub fn check_type_reply(case: &TypeReply) -> Result<(), String> {
    let (spec, _) = understand_after(None, "Helpdesk", "An API for tickets", true, None)
        .map_err(|e| e.to_string())?;
    let (spec, change) = understand_after(
        Some(&spec),
        "Helpdesk",
        "tickets have a subject and a priority",
        false,
        None,
    )
    .map_err(|e| e.to_string())?;
    let question = change
        .questions
        .first()
        .ok_or("no question asked about `priority`")?;
    // While a question is open, the server reads a question as a reply to it.
    let intent = classify(&case.reply, true);
    let after = match intent {
        Intent::Create | Intent::Refine | Intent::Question => {
            match kiln::spec::answer(&spec, question, &case.reply) {
                Some(answered) => answered.map_err(|e| e.to_string())?.0,
                None => {
                    understand_after(
                        Some(&spec),
                        "Helpdesk",
                        &case.reply,
                        false,
                        change.focus.as_ref(),
                    )
                    .map_err(|e| e.to_string())?
                    .0
                }
            }
        }
        _ => spec.clone(),
    };
    // The resource may have been renamed ("can you rename tickets to issues?").
    let priority = after
        .resources
        .first()
        .and_then(|r| r.fields.iter().find(|f| f.name == "priority"))
        .ok_or_else(|| format!("no `priority`: {}", after.describe()))?;
    let got = match &priority.ty {
        FieldType::Enum { values } => format!("enum {values:?}"),
        // The question's "text" is short text; a reply asking for text may get either.
        FieldType::Text => "string".to_owned(),
        other => kiln::spec::type_label(other).to_owned(),
    };
    let want = match case.outcome.as_str() {
        "enum" => format!("enum {:?}", case.values),
        // Not an answer: the guess stands.
        "not_an_answer" => "integer".to_owned(),
        other => other.to_owned(),
    };
    if got != want {
        return Err(format!("`priority` is {got}, not {want}"));
    }
    Ok(())
}
