//! The database schema a spec asks for, table by table, as the generated models declare it:
//! what migrations compare from one version to the next.

use serde_json::Value;

use super::fields::unique_makes_sense;
use super::with_defaults;
use crate::spec::{AppSpec, AuthFeature, DatabaseFeature, FieldType};

/// A column's type, as SQLAlchemy and the generated models name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ColumnType {
    String(u32),
    Text,
    Integer,
    Float,
    Boolean,
    Date,
    DateTime,
    /// `DateTime(timezone=True)`: the timestamps Kiln keeps itself.
    Timestamp,
}

impl ColumnType {
    pub(super) fn of(ty: &FieldType) -> Self {
        match ty {
            FieldType::String => ColumnType::String(200),
            FieldType::Text => ColumnType::Text,
            FieldType::Integer => ColumnType::Integer,
            FieldType::Number => ColumnType::Float,
            FieldType::Boolean => ColumnType::Boolean,
            FieldType::Date => ColumnType::Date,
            FieldType::Datetime => ColumnType::DateTime,
            FieldType::Email => ColumnType::String(320),
            FieldType::Url => ColumnType::String(2048),
            FieldType::Enum { .. } => ColumnType::String(50),
        }
    }

    /// The type as the models write it (`String(200)`).
    pub(super) fn model(self) -> String {
        match self {
            ColumnType::String(n) => format!("String({n})"),
            ColumnType::Text => "Text".into(),
            ColumnType::Integer => "Integer".into(),
            ColumnType::Float => "Float".into(),
            ColumnType::Boolean => "Boolean".into(),
            ColumnType::Date => "Date".into(),
            ColumnType::DateTime => "DateTime".into(),
            ColumnType::Timestamp => "DateTime(timezone=True)".into(),
        }
    }

    /// The type in a migration (`sa.String(200)`).
    pub(super) fn migration(self) -> String {
        match self {
            ColumnType::String(n) => format!("sa.String({n})"),
            ColumnType::Timestamp => "sa.DateTime(timezone=True)".into(),
            other => format!("sa.{}()", other.model()),
        }
    }

    /// PostgreSQL's name of the type, for converting a column's values in place.
    pub(super) fn postgres(self) -> String {
        match self {
            ColumnType::String(n) => format!("VARCHAR({n})"),
            ColumnType::Text => "TEXT".into(),
            ColumnType::Integer => "INTEGER".into(),
            ColumnType::Float => "DOUBLE PRECISION".into(),
            ColumnType::Boolean => "BOOLEAN".into(),
            ColumnType::Date => "DATE".into(),
            ColumnType::DateTime => "TIMESTAMP WITHOUT TIME ZONE".into(),
            ColumnType::Timestamp => "TIMESTAMP WITH TIME ZONE".into(),
        }
    }
}

/// The pattern the app's schemas check e-mail addresses with (and a retyped column's values).
pub(super) const EMAIL_PATTERN: &str = r"^[^@\s]+@[^@\s]+\.[^@\s]+$";
/// The pattern the app's schemas check URLs with.
pub(super) const URL_PATTERN: &str = r"^https?://[^\s/?#]+[^\s]*$";

/// What a column's values must be beyond their type (the app's schemas check it on every
/// read): a value that breaks it cannot be kept when a column changes.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Rule {
    /// Any value of the type.
    Any,
    /// An e-mail address.
    Email,
    /// An http(s) URL.
    Url,
    /// One of these.
    Choices(Vec<String>),
}

impl Rule {
    fn of(ty: &FieldType) -> Self {
        match ty {
            FieldType::Email => Rule::Email,
            FieldType::Url => Rule::Url,
            FieldType::Enum { values } => Rule::Choices(values.clone()),
            _ => Rule::Any,
        }
    }

    /// Whether every value that keeps `self` keeps `to`.
    fn fits(&self, to: &Rule) -> bool {
        match (self, to) {
            (_, Rule::Any) => true,
            (Rule::Choices(a), Rule::Choices(b)) => a.iter().all(|v| b.contains(v)),
            (a, b) => a == b,
        }
    }
}

/// What a row written before the column existed holds, when nothing better is known.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Fill {
    /// The field's default.
    Value(Value),
    /// The type's zero: "", 0, false, the first choice, 1970-01-01.
    Zero,
    /// The time of the migration (Kiln's own timestamps).
    Now,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Column {
    pub(super) name: String,
    pub(super) ty: ColumnType,
    pub(super) nullable: bool,
    pub(super) unique: bool,
    /// The field's default, also the value rows written before it existed get.
    pub(super) default: Option<Value>,
    /// What the type's zero value is for an enum: its first choice.
    pub(super) first_choice: Option<String>,
    /// What its values must be beyond their type.
    pub(super) rule: Rule,
    /// The table a foreign key points at.
    pub(super) references: Option<String>,
    /// An index of its own (foreign keys and searchable fields).
    pub(super) indexed: bool,
    /// Kept by Kiln (`created_at`, `updated_at`): filled with the migration's time.
    pub(super) kept_by_kiln: bool,
}

impl Column {
    /// Whether the values of `self` need reading one by one to become values of `to`: a
    /// type that the database's own conversion could spoil (SQLite's CAST reads
    /// "2024-05-01" as 2024), or a rule (a choice, an address) some may break.
    pub(super) fn needs_reading_as(&self, to: &Column) -> bool {
        use ColumnType::{Float, Integer, String, Text};
        let plain = match (self.ty, to.ty) {
            (a, b) if a == b => true,
            (String(a), String(b)) => a <= b,
            (String(_), Text) | (Integer, Float) => true,
            _ => false,
        };
        !plain || !self.rule.fits(&to.rule)
    }

    /// What existing rows get when this column becomes one they must have.
    pub(super) fn fill(&self) -> Fill {
        match (&self.default, self.kept_by_kiln) {
            (Some(v), _) => Fill::Value(v.clone()),
            (None, true) => Fill::Now,
            (None, false) => Fill::Zero,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(super) struct Table {
    pub(super) name: String,
    pub(super) columns: Vec<Column>,
}

/// The tables of `spec` in the order they can be made (a table after those it points at), or
/// `None` when its app keeps no database.
pub(super) fn schema_of(spec: &AppSpec) -> Option<Vec<Table>> {
    let spec = with_defaults(spec);
    if spec.features.database == DatabaseFeature::None {
        return None;
    }
    let f = &spec.features;
    let mut tables = Vec::new();
    if f.auth == AuthFeature::Jwt {
        tables.push(Table {
            name: "auth_accounts".into(),
            columns: vec![
                plain("username", ColumnType::String(50), false, true, true),
                plain(
                    "password_hash",
                    ColumnType::String(255),
                    false,
                    false,
                    false,
                ),
            ],
        });
    }
    let searched =
        |resource: &str, field: &str| f.search.iter().any(|s| s == &format!("{resource}.{field}"));
    let mut resources: Vec<Table> = Vec::new();
    for r in &spec.resources {
        let mut columns: Vec<Column> = r
            .fields
            .iter()
            .map(|field| Column {
                name: field.name.clone(),
                ty: ColumnType::of(&field.ty),
                nullable: !field.required && field.default.is_none(),
                unique: field.unique && unique_makes_sense(&field.ty),
                default: field.default.clone(),
                first_choice: match &field.ty {
                    FieldType::Enum { values } => values.first().cloned(),
                    _ => None,
                },
                rule: Rule::of(&field.ty),
                references: None,
                indexed: searched(&r.name, &field.name),
                kept_by_kiln: false,
            })
            .collect();
        for parent in spec.parents_of(r) {
            columns.push(Column {
                references: Some(parent.plural.clone()),
                ..plain(
                    &format!("{}_id", parent.name),
                    ColumnType::Integer,
                    false,
                    false,
                    true,
                )
            });
        }
        if f.timestamps {
            for name in ["created_at", "updated_at"] {
                columns.push(Column {
                    kept_by_kiln: true,
                    ..plain(name, ColumnType::Timestamp, false, false, false)
                });
            }
        }
        if f.soft_delete {
            columns.push(plain(
                "deleted_at",
                ColumnType::Timestamp,
                true,
                false,
                false,
            ));
        }
        resources.push(Table {
            name: r.plural.clone(),
            columns,
        });
    }
    // Parents first: a table is made after every table it points at.
    while !resources.is_empty() {
        let made: Vec<String> = tables.iter().map(|t: &Table| t.name.clone()).collect();
        let ready = resources
            .iter()
            .position(|t| {
                t.columns
                    .iter()
                    .filter_map(|c| c.references.as_ref())
                    .all(|p| made.contains(p) || *p == t.name)
            })
            // A circle of links (each points at the other) is made in the spec's order; the
            // keys are checked when rows are written, not when tables are made.
            .unwrap_or(0);
        tables.push(resources.remove(ready));
    }
    Some(tables)
}

fn plain(name: &str, ty: ColumnType, nullable: bool, unique: bool, indexed: bool) -> Column {
    Column {
        name: name.to_owned(),
        ty,
        nullable,
        unique,
        default: None,
        first_choice: None,
        rule: Rule::Any,
        references: None,
        indexed,
        kept_by_kiln: false,
    }
}
