//! Questions the product manager asks instead of guessing.
//!
//! When a sentence could mean two different specs — "orders have line items" (a text field of
//! orders, or records of their own?), "loans belong to returned" (a yes/no field, or a thing
//! loans belong to?) — the reader changes nothing for that part and asks one question with the
//! options it sees. Each option carries the exact change it makes; the next message picks one
//! ("the second", "2", "a separate thing", "just a field") and that change is applied.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::read::{relate_names, SpecChange};
use super::{check_identifier, describe_field, AppSpec, Field, FieldType, Resource, SpecError};

/// A question, with what each answer would change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Question {
    /// The question, as the user reads it.
    pub text: String,
    /// The answers it offers, in order.
    pub options: Vec<QuestionOption>,
    /// The field the question is about, if it is about one: a reply that names choices ("low,
    /// medium or high") makes it one of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub about: Option<super::FieldRef>,
}

/// One answer to a question.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct QuestionOption {
    /// How the option reads ("a text field of orders").
    pub label: String,
    /// What choosing it changes.
    pub patch: Patch,
}

/// The change an answer makes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Patch {
    /// A field of a resource.
    Field {
        /// The resource's singular name.
        resource: String,
        /// The field.
        field: Field,
    },
    /// A new resource that belongs to `parent`.
    Child {
        /// The resource it belongs to.
        parent: String,
        /// Singular name.
        name: String,
        /// Plural name.
        plural: String,
    },
    /// A new resource that `child` belongs to.
    Parent {
        /// The resource that belongs to it.
        child: String,
        /// Singular name.
        name: String,
        /// Plural name.
        plural: String,
    },
}

/// The question a spec change raises for the rows the last built version stored, about a
/// resource `built` already kept in its database:
/// - a field `next` requires, with no default, that those rows do not have;
/// - a field whose new type some stored values may not read as ("title becomes a whole
///   number"), with no default.
///
/// It asks for a default (the type's plain value, which those rows then get), or to leave
/// the field empty there.
pub fn stored_rows_question(built: &AppSpec, next: &AppSpec) -> Option<Question> {
    use super::DatabaseFeature::None as NoDatabase;
    if built.features.database == NoDatabase || next.features.database == NoDatabase {
        return None;
    }
    next.resources.iter().find_map(|r| {
        let before = built.resources.iter().find(|b| b.name == r.name)?;
        let label = r.plural.replace('_', " ");
        let missing = r.fields.iter().find(|f| {
            f.required && f.default.is_none() && !before.fields.iter().any(|b| b.name == f.name)
        });
        if let Some(field) = missing {
            let name = field.name.replace('_', " ");
            let (value, says) = plain_value(&field.ty);
            return Some(ask(
                r,
                field,
                (value, &says),
                format!(
                    "The {label} stored so far have no {name}. Should they get {says} (its \
                     default from now on), or may {name} stay empty?"
                ),
                format!("{name} optional"),
            ));
        }
        r.fields.iter().find_map(|field| {
            let was = before.fields.iter().find(|b| b.name == field.name)?;
            if field.default.is_some() || every_value_converts(&was.ty, &field.ty) {
                return None;
            }
            let name = field.name.replace('_', " ");
            let (value, says) = plain_value(&field.ty);
            Some(ask(
                r,
                field,
                (value, &says),
                format!(
                    "The {label} stored so far have a {name} that is {}; those that do not read \
                     as {} cannot be kept as they are. Should they get {says} (its default from \
                     now on), or be left empty?",
                    type_words(&was.ty),
                    type_words(&field.ty)
                ),
                format!("{name} left empty"),
            ))
        })
    })
}

/// Whether every value of type `from` reads as a value of type `to`.
pub fn every_value_converts(from: &FieldType, to: &FieldType) -> bool {
    use FieldType::*;
    match (from, to) {
        (a, b) if a == b => true,
        (Enum { values: a }, Enum { values: b }) => a.iter().all(|v| b.contains(v)),
        (_, Text) => true,
        (Integer | Number | Boolean | Date | Datetime | Enum { .. }, String) => true,
        (Integer, Number) | (Date, Datetime) => true,
        _ => false,
    }
}

/// A type in words: "a whole number", "one of low, medium or high".
fn type_words(ty: &FieldType) -> std::string::String {
    match ty {
        FieldType::String | FieldType::Text => "text".into(),
        FieldType::Integer => "a whole number".into(),
        FieldType::Number => "a number".into(),
        FieldType::Boolean => "true or false".into(),
        FieldType::Date => "a date".into(),
        FieldType::Datetime => "a date and time".into(),
        FieldType::Email => "an e-mail address".into(),
        FieldType::Url => "a URL".into(),
        FieldType::Enum { values } => match values.split_last() {
            Some((last, [])) => format!("\"{last}\""),
            Some((last, rest)) => format!("one of {} or {last}", rest.join(", ")),
            None => "a choice".into(),
        },
    }
}

/// The plain value of a type, and how it reads.
fn plain_value(ty: &FieldType) -> (serde_json::Value, std::string::String) {
    match ty {
        FieldType::Enum { values } => (
            serde_json::Value::String(values[0].clone()),
            format!("\"{}\"", values[0]),
        ),
        FieldType::Integer | FieldType::Number => (serde_json::json!(0), "0".to_owned()),
        FieldType::Boolean => (serde_json::Value::Bool(false), "false".to_owned()),
        FieldType::Date => (serde_json::json!("1970-01-01"), "1970-01-01".to_owned()),
        FieldType::Datetime => (
            serde_json::json!("1970-01-01T00:00:00Z"),
            "1970-01-01T00:00:00Z".to_owned(),
        ),
        _ => (serde_json::json!(""), "an empty text".to_owned()),
    }
}

/// The question with its two answers: `field` with a default of `value`, or optional.
fn ask(
    r: &Resource,
    field: &Field,
    (value, says): (serde_json::Value, &str),
    text: std::string::String,
    optional: std::string::String,
) -> Question {
    Question {
        text,
        options: vec![
            QuestionOption {
                label: format!("a default of {says}"),
                patch: Patch::Field {
                    resource: r.name.clone(),
                    field: Field {
                        default: Some(value),
                        ..field.clone()
                    },
                },
            },
            QuestionOption {
                label: optional,
                patch: Patch::Field {
                    resource: r.name.clone(),
                    field: Field {
                        required: false,
                        ..field.clone()
                    },
                },
            },
        ],
        about: None,
    }
}

/// Words that pick the first or the second option.
const FIRST: &[&str] = &["1", "first", "former", "1st"];
const SECOND: &[&str] = &["2", "second", "latter", "2nd"];

/// The option a reply picks, if it picks one: by number or order ("2", "the second one", "b"),
/// or by the words of one kind of option and not the other ("a separate thing", "a field").
pub fn picked(question: &Question, reply: &str) -> Option<usize> {
    // "2) text please, people type whatever they want": a reply that opens with an option's
    // number picks it, however long the rest.
    let lead = reply.trim_start().trim_start_matches(['#', '(']);
    let lead = lead
        .strip_prefix("option ")
        .or_else(|| lead.strip_prefix("Option "))
        .unwrap_or(lead);
    let mut chars = lead.chars();
    if let Some(n) = chars.next().and_then(|c| c.to_digit(10)) {
        let marked = chars
            .next()
            .is_none_or(|c| matches!(c, ')' | '.' | ':' | ',' | '-'));
        if marked && n >= 1 && (n as usize) <= question.options.len() {
            return Some(n as usize - 1);
        }
    }
    let words = super::words_of(reply);
    // An answer is short; a longer message says something else ("… a rating from 1 to 5").
    if words.len() > 8 {
        return None;
    }
    let has = |set: &[&str]| words.iter().any(|w| set.contains(&w.as_str()));
    // A letter counts only as the whole reply ("b", "b)").
    let letter = |l: &str| words.len() == 1 && words[0] == l;
    let first = has(FIRST) || letter("a");
    let second = has(SECOND) || letter("b");
    match (first, second) {
        (true, false) => return Some(0),
        (false, true) if question.options.len() > 1 => return Some(1),
        _ => {}
    }
    // A reply that only names a type ("a number", "just text", "make it an integer") picks
    // the one option of that type; "add a number field called score" says something else.
    let only_type = words.iter().all(|w| {
        super::read::type_word(w).is_some()
            || matches!(
                w.as_str(),
                "a" | "an"
                    | "it"
                    | "its"
                    | "is"
                    | "s"
                    | "just"
                    | "make"
                    | "please"
                    | "pls"
                    | "plain"
                    | "should"
                    | "be"
                    | "as"
                    | "ok"
                    | "okay"
                    | "numbers"
                    | "free"
                    | "words"
                    | "i"
                    | "think"
                    | "guess"
                    | "thanks"
            )
    });
    let types: Vec<FieldType> = words
        .iter()
        .filter_map(|w| super::read::type_word(w))
        .map(|t| {
            if t == FieldType::Text {
                FieldType::String
            } else {
                t
            }
        })
        .collect();
    let typed: Vec<usize> = question
        .options
        .iter()
        .enumerate()
        .filter(|(_, o)| match &o.patch {
            Patch::Field { field, .. } => types.iter().any(|t| {
                *t == field.ty
                    || *t == FieldType::Number && field.ty == FieldType::Integer
                    || *t == FieldType::String && field.ty == FieldType::Text
            }),
            _ => false,
        })
        .map(|(i, _)| i)
        .collect();
    if let [one] = typed.as_slice() {
        if only_type {
            return Some(*one);
        }
    }
    // Words that say which kind of option: a field, or a thing of its own.
    let field_words = [
        "field",
        "column",
        "attribute",
        "flag",
        "yes",
        "no",
        "boolean",
        "text",
        "just",
        "value",
        "property",
    ];
    let thing_words = [
        "separate", "own", "resource", "thing", "table", "records", "entity", "model", "list",
        "objects", "endpoint",
    ];
    let says_field = words.iter().any(|w| field_words.contains(&w.as_str()));
    let says_thing = words.iter().any(|w| thing_words.contains(&w.as_str()));
    let kind = |p: &Patch| matches!(p, Patch::Field { .. });
    // Only between a field and a thing of its own; between two types, "text" said it above.
    if question.options.iter().all(|o| kind(&o.patch)) {
        return None;
    }
    match (says_field, says_thing) {
        (true, false) => question.options.iter().position(|o| kind(&o.patch)),
        (false, true) => question.options.iter().position(|o| !kind(&o.patch)),
        _ => None,
    }
}

/// Applies an answer's change to a copy of `spec`.
pub fn apply(spec: &AppSpec, patch: &Patch) -> Result<(AppSpec, SpecChange), SpecError> {
    let mut next = spec.clone();
    let mut change = SpecChange::default();
    let find = |s: &AppSpec, name: &str| s.resources.iter().position(|r| r.name == name);
    match patch {
        Patch::Field { resource, field } => {
            let r =
                find(&next, resource).ok_or_else(|| SpecError::UnknownTarget(resource.clone()))?;
            check_identifier(&field.name).map_err(|e| SpecError::Identifier(e.to_string()))?;
            let fields = &mut next.resources[r].fields;
            match fields.iter_mut().find(|f| f.name == field.name) {
                Some(f) if f == field => {}
                Some(f) => {
                    *f = field.clone();
                    change.changed.push(format!(
                        "field `{resource}.{}` is now {}",
                        field.name,
                        describe_field(field)
                    ));
                }
                None => {
                    fields.push(field.clone());
                    change.added.push(format!(
                        "field `{resource}.{}` ({})",
                        field.name,
                        describe_field(field)
                    ));
                }
            }
            change.touched(resource, &field.name);
        }
        Patch::Child {
            parent,
            name,
            plural,
        }
        | Patch::Parent {
            child: parent,
            name,
            plural,
        } => {
            if find(&next, parent).is_none() {
                return Err(SpecError::UnknownTarget(parent.clone()));
            }
            if find(&next, name).is_none() {
                next.resources.push(Resource {
                    name: name.clone(),
                    plural: plural.clone(),
                    fields: Vec::new(),
                    relations: Vec::new(),
                });
                change.added.push(format!("resource `{plural}`"));
            }
            let (child, parent) = match patch {
                Patch::Child { .. } => (name.as_str(), parent.as_str()),
                _ => (parent.as_str(), name.as_str()),
            };
            relate_names(&mut next, child, parent, &mut change);
        }
    }
    next.validate()?;
    Ok((next, change))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(name: &str, ty: FieldType) -> Field {
        Field {
            name: name.into(),
            ty,
            required: false,
            unique: false,
            default: None,
        }
    }

    /// "Is `priority` a number or text?", with one option of each type.
    fn type_question(options: usize) -> Question {
        let option = |label: &str, ty| QuestionOption {
            label: label.into(),
            patch: Patch::Field {
                resource: "ticket".into(),
                field: field("priority", ty),
            },
        };
        let mut options_list = vec![
            option("a whole number", FieldType::Integer),
            option("text", FieldType::String),
        ];
        options_list.truncate(options);
        Question {
            text: "Is `priority` of tickets a number or text?".into(),
            options: options_list,
            about: None,
        }
    }

    #[test]
    fn an_option_number_at_the_start_picks_it_whatever_follows() {
        let q = type_question(2);
        for (reply, want) in [
            ("1", Some(0)),
            (
                "2) text please, people type whatever they want in there",
                Some(1),
            ),
            ("(2) that one", Some(1)),
            ("#1", Some(0)),
            ("option 2", Some(1)),
            ("2.", Some(1)),
            // Not an option: no such number, or a number that starts a sentence.
            ("0)", None),
            ("3)", None),
            (
                "25 tickets a day, and they have an owner and a due date",
                None,
            ),
        ] {
            assert_eq!(picked(&q, reply), want, "{reply:?}");
        }
        // With one option, "2" picks nothing.
        assert_eq!(picked(&type_question(1), "2"), None);
        assert_eq!(picked(&type_question(1), "the second"), None);
    }

    #[test]
    fn order_words_and_letters_pick_only_when_alone() {
        let q = type_question(2);
        assert_eq!(picked(&q, "the first one"), Some(0));
        assert_eq!(picked(&q, "the latter"), Some(1));
        assert_eq!(picked(&q, "b"), Some(1));
        assert_eq!(picked(&q, "a"), Some(0));
        // Both, or a letter inside a sentence: nothing picked.
        assert_eq!(picked(&q, "first or second"), None);
        assert_eq!(picked(&q, "b is fine i guess but not sure"), None);
        // Eight words are still an answer; more are a message, not an answer.
        assert_eq!(
            picked(&q, "i think the first one is right, thanks"),
            Some(0)
        );
        assert_eq!(
            picked(
                &q,
                "the first one but also tickets have an owner and a due date"
            ),
            None
        );
    }

    #[test]
    fn a_type_named_alone_picks_the_option_of_that_type() {
        let q = type_question(2);
        for (reply, want) in [
            ("a whole number", Some(0)),
            ("integer", Some(0)),
            ("make it a number", Some(0)),
            ("text", Some(1)),
            ("just text please", Some(1)),
            ("a string", Some(1)),
            // A type inside a request is that request's.
            ("add a number field called score", None),
            // "a field" tells a field from a thing; here both options are fields.
            ("just a field", None),
            ("a date", None),
        ] {
            assert_eq!(picked(&q, reply), want, "{reply:?}");
        }
    }

    #[test]
    fn a_field_answer_replaces_the_guess_and_an_equal_one_changes_nothing() {
        let mut spec = AppSpec::default();
        spec.resources.push(Resource {
            name: "ticket".into(),
            plural: "tickets".into(),
            fields: vec![field("priority", FieldType::Integer)],
            relations: vec![],
        });
        let q = type_question(2);
        let (next, change) = apply(&spec, &q.options[1].patch).unwrap();
        assert_eq!(
            next.resources[0].fields,
            [field("priority", FieldType::String)]
        );
        assert_eq!(change.changed.len(), 1, "{change:?}");
        assert!(change.added.is_empty());
        assert_eq!(
            change.focus,
            Some(super::super::FieldRef {
                resource: "ticket".into(),
                field: "priority".into()
            })
        );
        let (same, change) = apply(&spec, &q.options[0].patch).unwrap();
        assert_eq!(same, spec);
        assert!(change.is_empty(), "{change:?}");
    }
}
