//! A revision file: its docstring in words, the tables it leaves, and its upgrade and
//! downgrade; and the values a migration writes into rows.

use serde_json::Value;

use super::Step;
use crate::generator::literal::python_literal;
use crate::generator::schema::{Column, ColumnType, Fill, Table};

pub(super) fn fill_words(c: &Column) -> String {
    match c.fill() {
        Fill::Value(v) => format!("its default, {v}"),
        Fill::Now => "the time of the migration".to_owned(),
        Fill::Zero => match (c.ty, &c.first_choice) {
            (_, Some(choice)) => format!("{choice:?}, the first choice"),
            (ColumnType::String(_) | ColumnType::Text, _) => "an empty text".to_owned(),
            (ColumnType::Integer | ColumnType::Float, _) => "0".to_owned(),
            (ColumnType::Boolean, _) => "false".to_owned(),
            _ => "1970-01-01".to_owned(),
        },
    }
}

/// A value as SQL sees it in a migration: a server default, or what an UPDATE sets.
pub(super) fn sql_value(c: &Column, fill: &Fill) -> String {
    match fill {
        Fill::Now => "sa.func.now()".to_owned(),
        Fill::Value(Value::Bool(b)) => (if *b { "sa.true()" } else { "sa.false()" }).to_owned(),
        Fill::Value(Value::Number(n)) => format!("sa.text({})", python_literal(&n.to_string())),
        Fill::Value(Value::String(s)) => python_literal(s),
        Fill::Value(_) | Fill::Zero => match (c.ty, &c.first_choice) {
            (_, Some(choice)) => python_literal(choice),
            (ColumnType::String(_) | ColumnType::Text, _) => "\"\"".to_owned(),
            (ColumnType::Integer | ColumnType::Float, _) => "sa.text(\"0\")".to_owned(),
            (ColumnType::Boolean, _) => "sa.false()".to_owned(),
            (ColumnType::Date, _) => "\"1970-01-01\"".to_owned(),
            (ColumnType::DateTime | ColumnType::Timestamp, _) => {
                "\"1970-01-01 00:00:00\"".to_owned()
            }
        },
    }
}

/// What a row's value becomes when it cannot be kept, as Python: `None` for a column that may
/// be empty, else the column's default or its type's zero.
pub(super) fn python_fill(c: &Column) -> String {
    if c.nullable {
        return "None".to_owned();
    }
    let iso = |v: &str| match c.ty {
        ColumnType::Date => format!("datetime.date.fromisoformat({})", python_literal(v)),
        ColumnType::DateTime | ColumnType::Timestamp => {
            format!("datetime.datetime.fromisoformat({})", python_literal(v))
        }
        _ => python_literal(v),
    };
    match c.fill() {
        Fill::Now => "datetime.datetime.now(datetime.UTC)".to_owned(),
        Fill::Value(Value::Bool(b)) => (if b { "True" } else { "False" }).to_owned(),
        Fill::Value(Value::Number(n)) if c.ty == ColumnType::Float => {
            format!("{:?}", n.as_f64().unwrap_or(0.0))
        }
        Fill::Value(Value::Number(n)) => n.to_string(),
        Fill::Value(Value::String(s)) => iso(&s),
        Fill::Value(_) | Fill::Zero => match (c.ty, &c.first_choice) {
            (_, Some(choice)) => python_literal(choice),
            (ColumnType::String(_) | ColumnType::Text, _) => "\"\"".to_owned(),
            (ColumnType::Integer, _) => "0".to_owned(),
            (ColumnType::Float, _) => "0.0".to_owned(),
            (ColumnType::Boolean, _) => "False".to_owned(),
            (ColumnType::Date, _) => "datetime.date(1970, 1, 1)".to_owned(),
            (ColumnType::DateTime, _) => "datetime.datetime(1970, 1, 1)".to_owned(),
            (ColumnType::Timestamp, _) => {
                "datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)".to_owned()
            }
        },
    }
}

/// The helper revisions that retype a column carry (`_retype`, `_read`).
const RETYPE: &str = include_str!("../../../templates/migrations/retype.py");

pub(super) fn revision_file(
    number: u32,
    revision: &str,
    down_revision: Option<&str>,
    (up, down): (&[Step], &[Step]),
    tables: &[Table],
) -> String {
    let body = |steps: &[Step]| -> String {
        if steps.is_empty() {
            return "    pass\n".to_owned();
        }
        steps
            .iter()
            .map(|s| format!("    # {}\n{}", comment(&s.says), s.code))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let summary: Vec<String> = up
        .iter()
        .map(|s| format!("- {}", comment(&s.says)))
        .collect();
    let columns = |t: &Table| -> String {
        std::iter::once("\"id\"".to_owned())
            .chain(t.columns.iter().map(|c| python_literal(&c.name)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let tables: String = tables
        .iter()
        .map(|t| format!("    {}: ({},),\n", python_literal(&t.name), columns(t)))
        .collect();
    let (up_body, down_body) = (body(up), body(down));
    // SQLite keeps no name for a unique constraint a table was made with by hand (or by an
    // app before it had migrations); read back, it is named as Kiln names its own.
    let retypes = up_body.contains("_retype(") || down_body.contains("_retype(");
    let naming = if retypes
        || up_body.contains("naming_convention=NAMING")
        || down_body.contains("naming_convention=NAMING")
    {
        "\n# How a unique constraint without a name is called when a table is read back.\nNAMING = {\"uq\": \"uq_%(table_name)s_%(column_0_name)s\"}\n"
    } else {
        ""
    };
    // Only what the revision uses: ruff's default rules refuse an unused import.
    let imports = if retypes {
        "import datetime\nimport math\nimport re\nfrom typing import Any\n\nimport sqlalchemy as sa\nfrom alembic import op\n"
    } else if up_body.contains("sa.") || down_body.contains("sa.") {
        "import sqlalchemy as sa\nfrom alembic import op\n"
    } else {
        "from alembic import op\n"
    };
    format!(
        "\"\"\"Version {number}: what changed in the tables.\n\n{}\n\nRevision ID: {revision}\nRevises: {}\n\"\"\"\n\n{imports}\nrevision = {}\ndown_revision = {}\nbranch_labels = None\ndepends_on = None\n{naming}\n# The tables and their columns once this revision has run.\nTABLES = {{\n{}}}\n\n\ndef upgrade() -> None:\n{}\n\ndef downgrade() -> None:\n{}",
        summary.join("\n"),
        down_revision.unwrap_or("(none: the first)"),
        python_literal(revision),
        down_revision.map_or("None".to_owned(), python_literal),
        tables,
        up_body,
        down_body,
    ) + if retypes { RETYPE } else { "" }
}

/// Text safe in a Python comment or docstring: one line, no quotes that end a docstring.
fn comment(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() || c == '"' || c == '\\' {
                ' '
            } else {
                c
            }
        })
        .collect()
}
