//! The view of one field: its Python and SQL types, its default, the sample, changed and
//! invalid values the generated tests use, and the exact-match filter a non-text field gets.

use serde::Serialize;

use super::literal::{python_literal, python_value};
use super::schema::ColumnType;
use crate::spec::{Field, FieldType};

/// An exact-match filter on a non-text field: `GET /tickets?status=open`.
#[derive(Serialize)]
pub(super) struct FilterView {
    pub(super) name: String,
    /// The query parameter's Python type.
    pub(super) query_type: String,
    /// Extra arguments of its `Query(...)`: the bounds the database can hold.
    bounds: String,
    /// Two different valid values (Python literals), for the generated test.
    sample: String,
    other: String,
    /// `sample` as it is written in a query string (a Python literal).
    sample_param: String,
}

impl FilterView {
    /// A filter for a field of a type that is not text, `None` for text (text is searched).
    pub(super) fn new(f: &Field) -> Option<Self> {
        let (query_type, sample, other, param) = match &f.ty {
            FieldType::String | FieldType::Text | FieldType::Email | FieldType::Url => return None,
            FieldType::Enum { values } => (
                FieldView::new(f).input,
                values[0].clone(),
                values.get(1).cloned().unwrap_or_default(),
                values[0].clone(),
            ),
            FieldType::Boolean => ("bool".into(), "True".into(), "False".into(), "true".into()),
            FieldType::Integer => ("int".into(), "7".into(), "8".into(), "7".into()),
            FieldType::Number => ("float".into(), "1.5".into(), "2.5".into(), "1.5".into()),
            FieldType::Date => (
                "datetime.date".into(),
                "2026-02-03".into(),
                "2026-02-04".into(),
                "2026-02-03".into(),
            ),
            FieldType::Datetime => (
                "schemas.UtcDateTime".into(),
                "2026-02-03T10:00:00Z".into(),
                "2026-02-03T11:00:00Z".into(),
                "2026-02-03T10:00:00Z".into(),
            ),
        };
        let literal = |v: &str| match &f.ty {
            FieldType::Enum { .. } | FieldType::Date | FieldType::Datetime => python_literal(v),
            _ => v.to_owned(),
        };
        let bounds = match &f.ty {
            FieldType::Integer => ", ge=-(2**53 - 1), le=2**53 - 1".to_owned(),
            FieldType::Number => ", allow_inf_nan=False".to_owned(),
            _ => String::new(),
        };
        Some(FilterView {
            name: f.name.clone(),
            query_type,
            bounds,
            sample: literal(&sample),
            // An enum with one choice has no other value: the test then checks only a match.
            other: if other.is_empty() {
                String::new()
            } else {
                literal(&other)
            },
            sample_param: python_literal(&param),
        })
    }
}

#[derive(Serialize, Clone)]
pub(super) struct FieldView {
    pub(super) name: String,
    label: String,
    input: String,
    output: String,
    mapped: String,
    column: String,
    required: bool,
    has_default: bool,
    default: String,
    pub(super) sample: String,
    pub(super) invalid: String,
}

#[derive(Serialize)]
pub(super) struct InvalidCase {
    pub(super) name: String,
    pub(super) invalid: String,
}

impl FieldView {
    pub(super) fn new(f: &Field) -> Self {
        let (input, output, py, sample, invalid) = match &f.ty {
            FieldType::String => (
                "_ShortText".to_owned(),
                "str",
                "str",
                "f\"example {n}\"",
                "\"\"".to_owned(),
            ),
            FieldType::Text => (
                "_LongText".into(),
                "str",
                "str",
                "f\"Some longer text, number {n}.\"",
                "12345".into(),
            ),
            FieldType::Integer => ("_Int".into(), "int", "int", "n", "\"many\"".into()),
            FieldType::Number => (
                "_Number".into(),
                "float",
                "float",
                "n + 0.5",
                "\"lots\"".into(),
            ),
            FieldType::Boolean => ("_Bool".into(), "bool", "bool", "True", "\"perhaps\"".into()),
            FieldType::Date => (
                "_Date".into(),
                "datetime.date",
                "datetime.date",
                "f\"2026-01-{n % 28 + 1:02d}\"",
                "\"not-a-date\"".into(),
            ),
            FieldType::Datetime => (
                "_DateTime".into(),
                "_DateTimeOut",
                "datetime.datetime",
                "f\"2026-01-15T10:{n % 60:02d}:00Z\"",
                "\"yesterday at noon\"".into(),
            ),
            FieldType::Email => (
                "_Email".into(),
                "str",
                "str",
                "f\"user{n}@example.com\"",
                "\"not-an-email\"".into(),
            ),
            FieldType::Url => (
                "_Url".into(),
                "str",
                "str",
                "f\"https://example.com/items/{n}\"",
                "\"ftp:/nowhere\"".into(),
            ),
            FieldType::Enum { values } => {
                let literal = format!(
                    "Literal[{}]",
                    values
                        .iter()
                        .map(|v| python_literal(v))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                (literal, "str", "str", "", python_literal("not_one_of_them"))
            }
        };
        let sample = match &f.ty {
            FieldType::Enum { values } => python_literal(&values[0]),
            _ => sample.to_owned(),
        };
        let has_default = f.default.is_some();
        let nullable = !f.required && !has_default;
        let mut column = ColumnType::of(&f.ty).model();
        if nullable {
            column.push_str(", nullable=True");
        }
        if f.unique && unique_makes_sense(&f.ty) {
            column.push_str(", unique=True");
        }
        if let Some(d) = &f.default {
            column.push_str(&format!(", default={}", python_value(d)));
        }
        FieldView {
            name: f.name.clone(),
            label: match &f.ty {
                FieldType::Enum { values } => format!("one of {}", values.join(", ")),
                other => crate::spec::type_label(other).to_owned(),
            },
            input,
            output: output.to_owned(),
            mapped: if nullable {
                format!("{py} | None")
            } else {
                py.to_owned()
            },
            column,
            required: f.required,
            has_default,
            default: f
                .default
                .as_ref()
                .map(python_value)
                .unwrap_or_else(|| "None".into()),
            sample,
            invalid,
        }
    }

    /// A valid value different from every sample, for the update test.
    pub(super) fn changed_value(f: &Field) -> String {
        match &f.ty {
            FieldType::String => python_literal("changed value"),
            FieldType::Text => python_literal("Changed text."),
            FieldType::Integer => "4242".into(),
            FieldType::Number => "42.25".into(),
            FieldType::Boolean => "False".into(),
            FieldType::Date => python_literal("2027-02-02"),
            FieldType::Datetime => python_literal("2027-02-02T08:00:00Z"),
            FieldType::Email => python_literal("changed@example.com"),
            FieldType::Url => python_literal("https://example.org/changed"),
            FieldType::Enum { values } => {
                python_literal(values.last().expect("validated: not empty"))
            }
        }
    }
}

/// A uniqueness constraint on a boolean or a three-valued enum would make a table of two rows.
pub(super) fn unique_makes_sense(ty: &FieldType) -> bool {
    !matches!(ty, FieldType::Boolean | FieldType::Enum { .. })
}
