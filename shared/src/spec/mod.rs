//! `AppSpec`: what the user wants, and the architect's `Design` for it.
//!
//! Everything downstream is rendered from these types, so their invariants (identifiers are
//! checked, names are unique) are what keeps generated code valid whatever the user typed.

mod question;
mod read;

pub use question::{Patch, Question, QuestionOption};

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
    let (next, change) = read::choices_for(spec, about, reply)?;
    Some(next.validate().map(|()| (next, change)))
}
pub(crate) use read::{describe_field, mentions, mentions_auth, words_of};

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

/// Python keywords and names the generated code relies on; no identifier may be one of them.
const RESERVED: &[&str] = &[
    "false",
    "none",
    "true",
    "and",
    "as",
    "assert",
    "async",
    "await",
    "break",
    "class",
    "continue",
    "def",
    "del",
    "elif",
    "else",
    "except",
    "finally",
    "for",
    "from",
    "global",
    "if",
    "import",
    "in",
    "is",
    "lambda",
    "nonlocal",
    "not",
    "or",
    "pass",
    "raise",
    "return",
    "try",
    "while",
    "with",
    "yield",
    "match",
    "case",
    "type",
    "id",
    "self",
    "cls",
    "app",
    "db",
    "settings",
    "router",
    "models",
    "schemas",
    "auth",
    "auth_account",
    "auth_accounts",
    "base",
    "session",
    "health",
    "list",
    "dict",
    "str",
    "int",
    "float",
    "bool",
    "object",
    "print",
    "exec",
    "eval",
];

/// Longest identifier accepted.
pub const MAX_IDENTIFIER_LEN: usize = 40;
/// Most resources one app may have.
pub const MAX_RESOURCES: usize = 40;
/// Most fields one resource may have.
pub const MAX_FIELDS: usize = 60;
/// Most choices one enum field may have.
pub const MAX_CHOICES: usize = 50;

/// Why a word cannot be an identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentifierError {
    /// Empty after normalisation.
    #[error("an identifier may not be empty")]
    Empty,
    /// Longer than [`MAX_IDENTIFIER_LEN`].
    #[error("`{0}` is longer than {MAX_IDENTIFIER_LEN} characters")]
    TooLong(String),
    /// Not `[a-z][a-z0-9_]*`.
    #[error("`{0}` must start with a letter and hold only a-z, 0-9 and _")]
    Shape(String),
    /// A Python keyword or a name the generated code uses.
    #[error("`{0}` is reserved")]
    Reserved(String),
}

/// Checks that `name` is safe to use as a Python/SQL/URL identifier in generated code.
pub fn check_identifier(name: &str) -> Result<(), IdentifierError> {
    if name.is_empty() {
        return Err(IdentifierError::Empty);
    }
    if name.len() > MAX_IDENTIFIER_LEN {
        return Err(IdentifierError::TooLong(name.chars().take(60).collect()));
    }
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_lowercase());
    if !first_ok
        || !chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        || name.ends_with('_')
        || name.contains("__")
    {
        return Err(IdentifierError::Shape(name.chars().take(60).collect()));
    }
    if RESERVED.contains(&name) {
        return Err(IdentifierError::Reserved(name.to_owned()));
    }
    Ok(())
}

/// Names the generated code imports or defines, which a resource's class may not take.
const GENERATED_NAMES: &[&str] = &[
    "Any",
    "APIRouter",
    "Annotated",
    "AuthAccount",
    "AuthLogin",
    "AuthRegister",
    "AuthToken",
    "Awaitable",
    "Base",
    "BaseModel",
    "Boolean",
    "CORSMiddleware",
    "Callable",
    "ConfigDict",
    "Database",
    "Date",
    "DateTime",
    "DeclarativeBase",
    "Depends",
    "FastAPI",
    "Field",
    "Float",
    "ForeignKey",
    "HTTPAuthorizationCredentials",
    "HTTPBearer",
    "HTTPException",
    "Integer",
    "Iterator",
    "JSONResponse",
    "Literal",
    "Mapped",
    "MonkeyPatch",
    "Query",
    "Repository",
    "Request",
    "Response",
    "Session",
    "SessionDep",
    "Settings",
    "String",
    "TestClient",
    "Text",
];

/// The class name of a resource in generated code: `blog_post` → `BlogPost`.
pub fn class_name(name: &str) -> String {
    name.split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// Checks a resource name: an identifier whose class name the generated code does not use.
pub fn check_resource_name(name: &str) -> Result<(), IdentifierError> {
    check_identifier(name)?;
    if GENERATED_NAMES.contains(&class_name(name).as_str()) {
        return Err(IdentifierError::Reserved(name.to_owned()));
    }
    Ok(())
}

impl AppSpec {
    /// The resource with this singular or plural name.
    pub fn resource(&self, name: &str) -> Option<&Resource> {
        self.resources
            .iter()
            .find(|r| r.name == name || r.plural == name)
    }

    /// Checks every invariant the generator relies on.
    pub fn validate(&self) -> Result<(), SpecError> {
        if self.resources.len() > MAX_RESOURCES {
            return Err(SpecError::TooLarge(format!(
                "at most {MAX_RESOURCES} resources"
            )));
        }
        let mut seen = std::collections::HashSet::new();
        for r in &self.resources {
            check_resource_name(&r.name).map_err(|e| SpecError::Identifier(e.to_string()))?;
            check_identifier(&r.plural).map_err(|e| SpecError::Identifier(e.to_string()))?;
            if !seen.insert(r.name.as_str())
                || !seen.insert(r.plural.as_str()) && r.plural != r.name
            {
                return Err(SpecError::Duplicate(r.name.clone()));
            }
            if r.fields.len() > MAX_FIELDS {
                return Err(SpecError::TooLarge(format!(
                    "at most {MAX_FIELDS} fields per resource"
                )));
            }
            let mut fields = std::collections::HashSet::new();
            for f in &r.fields {
                check_identifier(&f.name).map_err(|e| SpecError::Identifier(e.to_string()))?;
                if !fields.insert(f.name.as_str()) {
                    return Err(SpecError::Duplicate(format!("{}.{}", r.name, f.name)));
                }
                if let FieldType::Enum { values } = &f.ty {
                    if values.len() > MAX_CHOICES {
                        return Err(SpecError::TooLarge(format!(
                            "at most {MAX_CHOICES} choices per field"
                        )));
                    }
                    if values.is_empty() {
                        return Err(SpecError::EmptyEnum(format!("{}.{}", r.name, f.name)));
                    }
                    for v in values {
                        check_identifier(v).map_err(|e| SpecError::Identifier(e.to_string()))?;
                    }
                }
            }
            for rel in &r.relations {
                if !self.resources.iter().any(|o| o.name == rel.target) {
                    return Err(SpecError::UnknownTarget(rel.target.clone()));
                }
                if r.fields
                    .iter()
                    .any(|f| f.name == format!("{}_id", rel.target))
                {
                    return Err(SpecError::Duplicate(format!(
                        "{}.{}_id",
                        r.name, rel.target
                    )));
                }
            }
        }
        for key in &self.features.search {
            let found = key.split_once('.').is_some_and(|(res, field)| {
                self.resources
                    .iter()
                    .any(|r| r.name == res && r.fields.iter().any(|f| f.name == field))
            });
            if !found {
                return Err(SpecError::UnknownTarget(key.clone()));
            }
        }
        self.parents_first().map(|_| ())
    }

    /// The resources ordered so that every resource comes after those it belongs to;
    /// `Cycle` if the belongs-to links loop.
    pub fn parents_first(&self) -> Result<Vec<&Resource>, SpecError> {
        let mut ordered: Vec<&Resource> = Vec::new();
        let mut left: Vec<&Resource> = self.resources.iter().collect();
        while !left.is_empty() {
            let ready = left.iter().position(|r| {
                r.relations
                    .iter()
                    .filter(|rel| rel.kind == RelationKind::BelongsTo)
                    .all(|rel| ordered.iter().any(|o| o.name == rel.target))
            });
            match ready {
                Some(i) => ordered.push(left.remove(i)),
                None => return Err(SpecError::Cycle(left[0].name.clone())),
            }
        }
        Ok(ordered)
    }

    /// The resources this one belongs to.
    pub fn parents_of<'a>(&'a self, r: &'a Resource) -> impl Iterator<Item = &'a Resource> + 'a {
        r.relations
            .iter()
            .filter(|rel| rel.kind == RelationKind::BelongsTo)
            .filter_map(|rel| self.resources.iter().find(|o| o.name == rel.target))
    }
}

/// Why a spec is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    /// A name is not a safe identifier.
    #[error("invalid name: {0}")]
    Identifier(String),
    /// Two things share a name.
    #[error("`{0}` is defined twice")]
    Duplicate(String),
    /// An enum without values.
    #[error("`{0}` has no allowed values")]
    EmptyEnum(String),
    /// A relation or search entry naming something that does not exist.
    #[error("`{0}` refers to something that does not exist")]
    UnknownTarget(String),
    /// The app would be larger than Kiln builds.
    #[error("the app would be too large: {0}")]
    TooLarge(String),
    /// Belongs-to links that go round in a circle.
    #[error("`{0}` belongs to itself through its relations")]
    Cycle(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_checked() {
        assert!(check_identifier("task").is_ok());
        assert!(check_identifier("due_date").is_ok());
        assert!(check_identifier("item2").is_ok());
        for bad in [
            "",
            "Task",
            "2task",
            "ta-sk",
            "class",
            "__import__",
            "a__b",
            "x_",
            "tâche",
        ] {
            assert!(check_identifier(bad).is_err(), "{bad:?} accepted");
        }
        assert!(check_identifier(&"a".repeat(41)).is_err());
        assert!(
            check_identifier(&"a".repeat(MAX_IDENTIFIER_LEN)).is_ok(),
            "the limit itself"
        );
    }

    fn resource(name: &str, plural: &str, fields: usize) -> Resource {
        Resource {
            name: name.into(),
            plural: plural.into(),
            fields: (0..fields)
                .map(|i| Field {
                    name: format!("f{i}"),
                    ty: FieldType::String,
                    required: false,
                    unique: false,
                    default: None,
                })
                .collect(),
            relations: vec![],
        }
    }

    fn spec_of(resources: Vec<Resource>) -> AppSpec {
        AppSpec {
            resources,
            ..AppSpec::default()
        }
    }

    #[test]
    fn the_limits_hold_at_the_limit_and_refuse_one_more() {
        let many = |n: usize| {
            spec_of(
                (0..n)
                    .map(|i| resource(&format!("r{i}"), &format!("r{i}s"), 0))
                    .collect(),
            )
        };
        assert!(many(MAX_RESOURCES).validate().is_ok());
        assert!(matches!(
            many(MAX_RESOURCES + 1).validate(),
            Err(SpecError::TooLarge(_))
        ));
        assert!(spec_of(vec![resource("task", "tasks", MAX_FIELDS)])
            .validate()
            .is_ok());
        assert!(matches!(
            spec_of(vec![resource("task", "tasks", MAX_FIELDS + 1)]).validate(),
            Err(SpecError::TooLarge(_))
        ));
        let with_choices = |n: usize| {
            let mut r = resource("task", "tasks", 1);
            r.fields[0].ty = FieldType::Enum {
                values: (0..n).map(|i| format!("v{i}")).collect(),
            };
            spec_of(vec![r])
        };
        assert!(with_choices(MAX_CHOICES).validate().is_ok());
        assert!(matches!(
            with_choices(MAX_CHOICES + 1).validate(),
            Err(SpecError::TooLarge(_))
        ));
        assert!(matches!(
            with_choices(0).validate(),
            Err(SpecError::EmptyEnum(_))
        ));
    }

    #[test]
    fn names_links_and_search_keys_must_hold_together() {
        // A plural that is the name itself ("series") is one name, not two.
        assert!(spec_of(vec![resource("series", "series", 0)])
            .validate()
            .is_ok());
        // Another resource's plural taken as a name is.
        assert!(matches!(
            spec_of(vec![
                resource("task", "tasks", 0),
                resource("tasks", "taskses", 0)
            ])
            .validate(),
            Err(SpecError::Duplicate(_))
        ));
        let mut child = resource("task", "tasks", 0);
        child.relations.push(Relation {
            kind: RelationKind::BelongsTo,
            target: "project".into(),
        });
        assert!(matches!(
            spec_of(vec![child.clone()]).validate(),
            Err(SpecError::UnknownTarget(_))
        ));
        let parent = resource("project", "projects", 0);
        let spec = spec_of(vec![child.clone(), parent.clone()]);
        spec.validate().unwrap();
        let parents: Vec<&str> = spec
            .parents_of(&spec.resources[0])
            .map(|r| r.name.as_str())
            .collect();
        assert_eq!(parents, ["project"]);
        assert!(spec.parents_of(&spec.resources[1]).next().is_none());
        let order: Vec<&str> = spec
            .parents_first()
            .unwrap()
            .iter()
            .map(|r| r.name.as_str())
            .collect();
        assert_eq!(order, ["project", "task"], "a parent before its child");
        // The link's own column, declared again as a field, is refused.
        let mut doubled = child.clone();
        doubled.fields.push(Field {
            name: "project_id".into(),
            ty: FieldType::Integer,
            required: false,
            unique: false,
            default: None,
        });
        assert!(matches!(
            spec_of(vec![doubled, parent.clone()]).validate(),
            Err(SpecError::Duplicate(_))
        ));
        // Links that loop have no order.
        let mut looping = parent;
        looping.relations.push(Relation {
            kind: RelationKind::BelongsTo,
            target: "task".into(),
        });
        assert!(matches!(
            spec_of(vec![child, looping]).validate(),
            Err(SpecError::Cycle(_))
        ));
        // A search key names a field of a resource, both existing.
        let mut searched = spec_of(vec![resource("task", "tasks", 1)]);
        searched.features.search = vec!["task.f0".into()];
        searched.validate().unwrap();
        for bad in ["task.nope", "nope.f0", "f0"] {
            searched.features.search = vec![bad.into()];
            assert!(
                matches!(searched.validate(), Err(SpecError::UnknownTarget(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_resource_is_found_by_either_name() {
        let spec = AppSpec {
            resources: vec![Resource {
                name: "person".into(),
                plural: "people".into(),
                fields: vec![],
                relations: vec![],
            }],
            ..AppSpec::default()
        };
        assert_eq!(spec.resource("person").unwrap().plural, "people");
        assert_eq!(spec.resource("people").unwrap().name, "person");
        assert!(spec.resource("persons").is_none());
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

    #[test]
    fn duplicate_resources_are_refused() {
        let r = Resource {
            name: "task".into(),
            plural: "tasks".into(),
            fields: vec![],
            relations: vec![],
        };
        let spec = AppSpec {
            resources: vec![r.clone(), r],
            ..AppSpec::default()
        };
        assert!(matches!(spec.validate(), Err(SpecError::Duplicate(_))));
    }
}
