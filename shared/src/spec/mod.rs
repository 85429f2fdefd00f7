//! `AppSpec`: what the user wants, and the architect's `Design` for it.
//!
//! Everything downstream is rendered from these types, so their invariants (identifiers are
//! checked, names are unique) are what keeps generated code valid whatever the user typed.

mod identifier;
mod question;
mod read;
mod validate;

pub use identifier::{
    check_identifier, check_resource_name, class_name, IdentifierError, MAX_IDENTIFIER_LEN,
};
pub use question::{stored_rows_question, Patch, Question, QuestionOption};
pub use validate::{SpecError, MAX_CHOICES, MAX_FIELDS, MAX_RESOURCES, MAX_SPEC_BYTES};

pub use read::{apply_message, pluralize, singularize, SpecChange};

/// What the product manager makes of one message: the spec it leaves (a new one, named after
/// the project, when there was none) and what changed. `describes_app` is true for a message
/// that describes the whole app (a project's description, or a first message). The result
/// always validates; a message that would break the spec is refused whole.
pub fn understand(
    spec: Option<&AppSpec>,
    project_name: &str,
    text: &str,
    describes_app: bool,
) -> Result<(AppSpec, SpecChange), SpecError> {
    understand_after(spec, project_name, text, describes_app, None)
}

/// [`understand`], in a conversation whose last message was about the field `focus`: "make it
/// required", "that field", "rename it to …" refer to it. The change's `focus` is the field
/// the conversation is about after this message.
pub fn understand_after(
    spec: Option<&AppSpec>,
    project_name: &str,
    text: &str,
    describes_app: bool,
    focus: Option<&FieldRef>,
) -> Result<(AppSpec, SpecChange), SpecError> {
    let mut next = spec.cloned().unwrap_or_else(|| AppSpec {
        name: project_name.to_owned(),
        ..AppSpec::default()
    });
    let change = read::apply_message_after(&mut next, text, describes_app, focus.cloned());
    next.validate()?;
    Ok((next, change))
}

/// A name the user changed: the data stays, under the new name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Renamed {
    /// A resource, by its singular names.
    Resource {
        /// The old name.
        from: String,
        /// The new name.
        to: String,
    },
    /// A field of a resource (named as it is after).
    Field {
        /// The resource's singular name.
        resource: String,
        /// The old name.
        from: String,
        /// The new name.
        to: String,
    },
}

impl Renamed {
    /// Adds `new` renames to those made since a version was built, composed: a renamed again
    /// to c is a renamed to c, a rename back is none, and a field's resource is named as it
    /// is now.
    pub fn record(since: &mut Vec<Renamed>, new: &[Renamed]) {
        for r in new {
            match r {
                Renamed::Resource { from, to } => {
                    let earlier = since.iter_mut().find_map(|x| match x {
                        Renamed::Resource { to: t, .. } if t == from => Some(t),
                        _ => None,
                    });
                    match earlier {
                        Some(t) => *t = to.clone(),
                        None => since.push(r.clone()),
                    }
                    for x in since.iter_mut() {
                        if let Renamed::Field { resource, .. } = x {
                            if resource == from {
                                *resource = to.clone();
                            }
                        }
                    }
                }
                Renamed::Field { resource, from, to } => {
                    let earlier = since.iter_mut().find_map(|x| match x {
                        Renamed::Field {
                            resource: res,
                            to: t,
                            ..
                        } if res == resource && t == from => Some(t),
                        _ => None,
                    });
                    match earlier {
                        Some(t) => *t = to.clone(),
                        None => since.push(r.clone()),
                    }
                }
            }
        }
        since.retain(|x| match x {
            Renamed::Resource { from, to } | Renamed::Field { from, to, .. } => from != to,
        });
    }
}

/// A field of a resource, by name: what "that field" or "it" refers to in the next message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FieldRef {
    /// The resource's singular name.
    pub resource: String,
    /// The field's name.
    pub field: String,
}

/// Reads a reply to a question the product manager asked: `Some` when the reply picks one of
/// its options (the spec with that option's change applied), `None` when it does not answer
/// it (the reply is then read as an ordinary message).
pub fn answer(
    spec: &AppSpec,
    question: &Question,
    reply: &str,
) -> Option<Result<(AppSpec, SpecChange), SpecError>> {
    if let Some(i) = question::picked(question, reply) {
        return Some(question::apply(spec, &question.options[i].patch));
    }
    let about = question.about.as_ref()?;
    let (next, change) = read::answer::choices_for(spec, about, reply)?;
    Some(next.validate().map(|()| (next, change)))
}
pub(crate) use read::{
    describe_field, mentions, mentions_auth, relate_names, set_auth, set_database, words_of,
};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What the user wants built.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AppSpec {
    /// Human name of the app (free text, only ever rendered as an escaped literal).
    pub name: String,
    /// One-paragraph summary (free text, escaped literal).
    pub summary: String,
    /// The things the API manages.
    pub resources: Vec<Resource>,
    /// Cross-cutting features.
    pub features: Features,
}

/// One managed thing, e.g. `task` / `tasks`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Resource {
    /// Singular identifier, checked by [`check_identifier`].
    pub name: String,
    /// Plural identifier, used in paths.
    pub plural: String,
    /// Its fields, `id` excluded.
    pub fields: Vec<Field>,
    /// Links to other resources.
    #[serde(default)]
    pub relations: Vec<Relation>,
}

/// A field of a resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Field {
    /// Identifier, checked by [`check_identifier`].
    pub name: String,
    /// Its type.
    #[serde(rename = "type")]
    pub ty: FieldType,
    /// Whether a create request must carry it.
    pub required: bool,
    /// Whether two records may share a value.
    #[serde(default)]
    pub unique: bool,
    /// Default value, if any.
    #[serde(default)]
    pub default: Option<serde_json::Value>,
}

/// The types a field may have.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FieldType {
    /// Short text.
    String,
    /// Long text.
    Text,
    /// Whole number.
    Integer,
    /// Decimal number.
    Number,
    /// True or false.
    Boolean,
    /// Calendar date.
    Date,
    /// Date and time.
    Datetime,
    /// E-mail address.
    Email,
    /// URL.
    Url,
    /// One of a fixed set of values (each checked like an identifier).
    Enum {
        /// The allowed values.
        values: Vec<String>,
    },
}

/// A relation between two resources.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Relation {
    /// Direction of the link.
    pub kind: RelationKind,
    /// The other resource's singular name.
    pub target: String,
}

/// Direction of a relation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RelationKind {
    /// This resource holds the other's id.
    BelongsTo,
    /// The other resource holds this one's id.
    HasMany,
}

/// Cross-cutting features of the generated app.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Features {
    /// Authentication scheme.
    pub auth: AuthFeature,
    /// Storage.
    pub database: DatabaseFeature,
    /// Paginated lists.
    pub pagination: bool,
    /// Fields searchable by substring, as `resource.field`.
    #[serde(default)]
    pub search: Vec<String>,
    /// `created_at`/`updated_at` on every record.
    pub timestamps: bool,
    /// Deletes mark records instead of removing them.
    pub soft_delete: bool,
    /// Cross-origin requests allowed.
    pub cors: bool,
    /// Requests per client limited.
    pub rate_limit: bool,
}

/// Authentication scheme of the generated app.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuthFeature {
    /// Open API.
    #[default]
    None,
    /// Register/login endpoints issuing JWTs; resource routes require one.
    Jwt,
}

/// Storage of the generated app.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DatabaseFeature {
    /// An in-memory repository.
    #[default]
    None,
    /// SQLAlchemy on SQLite.
    Sqlite,
    /// SQLAlchemy on PostgreSQL.
    Postgres,
}

/// The architect's design: what will be built and how.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Design {
    /// Every HTTP endpoint of the app.
    pub endpoints: Vec<Endpoint>,
    /// One line per table or collection.
    pub data_model: Vec<String>,
    /// Frameworks and libraries.
    pub stack: Vec<String>,
}

impl Design {
    /// One line per endpoint: `METHOD /path — summary`.
    pub fn endpoint_lines(&self) -> Vec<String> {
        self.endpoints
            .iter()
            .map(|e| format!("{} {} — {}", e.method, e.path, e.summary))
            .collect()
    }
}

/// One endpoint of the designed app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Endpoint {
    /// HTTP method.
    pub method: String,
    /// Path template.
    pub path: String,
    /// What it does.
    pub summary: String,
}

/// The lower-case name of a field type, as the spec's JSON spells it.
pub fn type_label(ty: &FieldType) -> &'static str {
    match ty {
        FieldType::String => "string",
        FieldType::Text => "text",
        FieldType::Integer => "integer",
        FieldType::Number => "number",
        FieldType::Boolean => "boolean",
        FieldType::Date => "date",
        FieldType::Datetime => "datetime",
        FieldType::Email => "email",
        FieldType::Url => "url",
        FieldType::Enum { .. } => "enum",
    }
}

impl AppSpec {
    /// A compact one-line form, for tests and logs:
    /// `task(title:string!, done:boolean, >project) project(name:string!) | auth=jwt db=sqlite`.
    pub fn describe(&self) -> String {
        let mut parts: Vec<String> = self
            .resources
            .iter()
            .map(|r| {
                let mut items: Vec<String> = r
                    .fields
                    .iter()
                    .map(|f| {
                        let ty = match &f.ty {
                            FieldType::Enum { values } => format!("enum({})", values.join("|")),
                            other => type_label(other).to_owned(),
                        };
                        format!(
                            "{}:{ty}{}{}",
                            f.name,
                            if f.required { "!" } else { "" },
                            if f.unique { "*" } else { "" }
                        )
                    })
                    .collect();
                items.extend(
                    r.relations
                        .iter()
                        .filter(|rel| rel.kind == RelationKind::BelongsTo)
                        .map(|rel| format!(">{}", rel.target)),
                );
                let plural = if r.plural == read::pluralize(&r.name) {
                    String::new()
                } else {
                    format!("/{}", r.plural)
                };
                format!("{}{plural}({})", r.name, items.join(", "))
            })
            .collect();
        let f = &self.features;
        let mut flags = Vec::new();
        if f.auth == AuthFeature::Jwt {
            flags.push("auth=jwt".to_owned());
        }
        match f.database {
            DatabaseFeature::None => {}
            DatabaseFeature::Sqlite => flags.push("db=sqlite".into()),
            DatabaseFeature::Postgres => flags.push("db=postgres".into()),
        }
        for (on, name) in [
            (f.pagination, "pagination"),
            (f.timestamps, "timestamps"),
            (f.soft_delete, "soft_delete"),
            (f.cors, "cors"),
            (f.rate_limit, "rate_limit"),
        ] {
            if on {
                flags.push(name.into());
            }
        }
        if !f.search.is_empty() {
            flags.push(format!("search={}", f.search.join(",")));
        }
        if !flags.is_empty() {
            parts.push(format!("| {}", flags.join(" ")));
        }
        parts.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renames_since_a_build_compose() {
        let field = |resource: &str, from: &str, to: &str| Renamed::Field {
            resource: resource.into(),
            from: from.into(),
            to: to.into(),
        };
        let resource = |from: &str, to: &str| Renamed::Resource {
            from: from.into(),
            to: to.into(),
        };
        let mut since = Vec::new();
        Renamed::record(&mut since, &[field("task", "title", "name")]);
        Renamed::record(&mut since, &[field("task", "name", "headline")]);
        Renamed::record(&mut since, &[resource("task", "chore")]);
        Renamed::record(&mut since, &[resource("chore", "job")]);
        assert_eq!(
            since,
            [field("job", "title", "headline"), resource("task", "job")]
        );
        // Back to where it started: no rename left.
        Renamed::record(&mut since, &[field("job", "headline", "title")]);
        assert_eq!(since, [resource("task", "job")]);
    }

    #[test]
    fn understanding_names_a_new_spec_after_the_project_and_keeps_the_focus() {
        let (spec, change) = understand(
            None,
            "Helpdesk",
            "tickets have a subject and a due date",
            true,
        )
        .unwrap();
        assert_eq!(spec.name, "Helpdesk");
        assert_eq!(spec.describe(), "ticket(subject:string, due_date:date)");
        let focus = change.focus.expect("the last field named");
        assert_eq!(
            (focus.resource.as_str(), focus.field.as_str()),
            ("ticket", "due_date")
        );
        let (next, change) = understand_after(
            Some(&spec),
            "Helpdesk",
            "make it required",
            false,
            Some(&focus),
        )
        .unwrap();
        assert_eq!(next.describe(), "ticket(subject:string, due_date:date!)");
        assert_eq!(change.changed.len(), 1, "{change:?}");
        // The spec given is kept: its name is not the project's.
        let (kept, _) = understand(Some(&next), "Other name", "add a title", false).unwrap();
        assert_eq!(kept.name, "Helpdesk");
    }

    #[test]
    fn endpoint_lines_read_method_path_and_summary() {
        let design = Design {
            endpoints: vec![Endpoint {
                method: "GET".into(),
                path: "/tasks".into(),
                summary: "list tasks".into(),
            }],
            data_model: vec![],
            stack: vec![],
        };
        assert_eq!(design.endpoint_lines(), ["GET /tasks — list tasks"]);
    }
}
