//! Alembic migrations: one revision per version whose tables differ from the version before,
//! made from the two versions' specs, written as ordinary, readable revision files
//! (`migrations/versions/v0003_….py`). The app runs them at start, so a version deployed over
//! the previous one's database brings its rows along.
//!
//! Every revision has a real `downgrade()`, the same comparison made the other way round, so
//! that a rollback can bring the database back to what the earlier version reads (what was
//! dropped comes back empty or with its default; nothing else is lost).

use std::fmt::Write as _;

use serde_json::Value;

use super::literal::python_literal;
use super::schema::{schema_of, Column, ColumnType, Fill, Table};
use super::GeneratedFile;
use crate::spec::AppSpec;

/// A name the user changed between two versions: the rows stay, under the new name.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Rename {
    /// A table (a resource's plural).
    Table {
        /// The old name.
        from: String,
        /// The new name.
        to: String,
    },
    /// A column of a table (named as it is after the version).
    Column {
        /// The table.
        table: String,
        /// The old name.
        from: String,
        /// The new name.
        to: String,
    },
}

/// One version of a project, as migrations see it.
#[derive(Debug, Clone, Copy)]
pub struct SchemaVersion<'a> {
    /// The version's number.
    pub number: u32,
    /// What it was built from.
    pub spec: &'a AppSpec,
    /// Names changed since the version before.
    pub renames: &'a [Rename],
}

/// The migration files of the last of `versions` (oldest first): Alembic's settings, its
/// environment, and one revision per version whose tables changed. Empty when the last
/// version keeps no database.
pub fn migration_files(versions: &[SchemaVersion]) -> Vec<GeneratedFile> {
    let Some(last) = versions.last() else {
        return Vec::new();
    };
    if schema_of(last.spec).is_none() {
        return Vec::new();
    }
    let mut files = vec![
        file("alembic.ini", ALEMBIC_INI),
        file("migrations/env.py", ENV_PY),
        file("migrations/script.py.mako", SCRIPT_MAKO),
    ];
    let mut before: Option<Vec<Table>> = None;
    let mut down_revision: Option<String> = None;
    for v in versions {
        let Some(after) = schema_of(v.spec) else {
            // A version without a database leaves the tables where they were.
            continue;
        };
        let empty = Vec::new();
        let prev = before.as_ref().unwrap_or(&empty);
        let up = steps(prev, &after, v.renames);
        if !up.is_empty() {
            let inverse: Vec<Rename> = v.renames.iter().map(invert).collect();
            let down = steps(&after, prev, &inverse);
            let revision = format!("v{:04}", v.number);
            files.push(file(
                &format!("migrations/versions/{revision}.py"),
                &revision_file(
                    v.number,
                    &revision,
                    down_revision.as_deref(),
                    (&up, &down),
                    &after,
                ),
            ));
            down_revision = Some(revision);
        }
        before = Some(after);
    }
    files
}

fn file(path: &str, contents: &str) -> GeneratedFile {
    GeneratedFile {
        path: path.to_owned(),
        contents: contents.to_owned(),
    }
}

fn invert(r: &Rename) -> Rename {
    match r {
        Rename::Table { from, to } => Rename::Table {
            from: to.clone(),
            to: from.clone(),
        },
        Rename::Column { table, from, to } => Rename::Column {
            table: table.clone(),
            from: to.clone(),
            to: from.clone(),
        },
    }
}

/// One step of a revision: a line of what it does in words, and its code.
struct Step {
    says: String,
    code: String,
}

/// What turns the tables `before` into `after`.
fn steps(before: &[Table], after: &[Table], renames: &[Rename]) -> Vec<Step> {
    // Which table of `before` each table of `after` was, if any.
    let was = |t: &Table| -> Option<&Table> {
        let old = renames
            .iter()
            .find_map(|r| match r {
                Rename::Table { from, to } if *to == t.name => Some(from.as_str()),
                _ => None,
            })
            .unwrap_or(&t.name);
        before.iter().find(|b| b.name == old)
    };
    let kept: Vec<(&Table, &Table)> = after.iter().filter_map(|t| Some((was(t)?, t))).collect();
    let mut out = Vec::new();
    for t in after.iter().filter(|t| was(t).is_none()) {
        out.push(create_table(t));
    }
    for (old, new) in &kept {
        if old.name != new.name {
            // Its unique constraints go first, under the names they have, and come back
            // under the new table's name (alter_table).
            let mut code = String::new();
            let uniques: Vec<&Column> = old.columns.iter().filter(|c| c.unique).collect();
            if !uniques.is_empty() {
                let _ = writeln!(
                    code,
                    "    with op.batch_alter_table({}, naming_convention=NAMING) as batch:",
                    python_literal(&old.name)
                );
                for c in uniques {
                    let _ = writeln!(
                        code,
                        "        batch.drop_constraint({}, type_=\"unique\")",
                        python_literal(&unique_name(&old.name, &c.name))
                    );
                }
            }
            let _ = writeln!(
                code,
                "    op.rename_table({}, {})",
                python_literal(&old.name),
                python_literal(&new.name)
            );
            out.push(Step {
                says: format!("the table {} is now {}", old.name, new.name),
                code,
            });
        }
    }
    for (old, new) in &kept {
        let renamed_tables: Vec<(&str, &str)> = kept
            .iter()
            .map(|(o, n)| (o.name.as_str(), n.name.as_str()))
            .collect();
        if let Some(step) = alter_table(old, new, renames, &renamed_tables) {
            out.push(step);
        }
    }
    for t in before.iter().rev() {
        if !kept.iter().any(|(old, _)| old.name == t.name) {
            out.push(Step {
                says: format!("the table {} is gone, and its rows with it", t.name),
                code: format!("    op.drop_table({})\n", python_literal(&t.name)),
            });
        }
    }
    out
}

fn column_def(table: &str, c: &Column, fill: bool) -> String {
    let mut s = format!(
        "sa.Column({}, {}",
        python_literal(&c.name),
        c.ty.migration()
    );
    if let Some(parent) = &c.references {
        let _ = write!(
            s,
            ", sa.ForeignKey({}, name={})",
            python_literal(&format!("{parent}.id")),
            python_literal(&format!("fk_{table}_{}", c.name))
        );
    }
    let _ = write!(
        s,
        ", nullable={}",
        if c.nullable { "True" } else { "False" }
    );
    if fill && !c.nullable {
        let _ = write!(s, ", server_default={}", sql_value(c, &c.fill()));
    }
    s.push(')');
    s
}

fn create_table(t: &Table) -> Step {
    let mut code = format!(
        "    op.create_table(\n        {},\n        sa.Column(\"id\", sa.Integer(), primary_key=True),\n",
        python_literal(&t.name)
    );
    for c in &t.columns {
        let _ = writeln!(code, "        {},", column_def(&t.name, c, false));
    }
    for c in t.columns.iter().filter(|c| c.unique) {
        let _ = writeln!(
            code,
            "        sa.UniqueConstraint({}, name={}),",
            python_literal(&c.name),
            python_literal(&unique_name(&t.name, &c.name))
        );
    }
    code.push_str("    )\n");
    for c in t.columns.iter().filter(|c| c.indexed) {
        let _ = writeln!(
            code,
            "    op.create_index({}, {}, [{}])",
            python_literal(&index_name(&t.name, &c.name)),
            python_literal(&t.name),
            python_literal(&c.name)
        );
    }
    Step {
        says: format!("a new table, {}", t.name),
        code,
    }
}

fn unique_name(table: &str, column: &str) -> String {
    format!("uq_{table}_{column}")
}

fn index_name(table: &str, column: &str) -> String {
    format!("ix_{table}_{column}")
}

/// The changes to one table that both versions have, in one batch (SQLite rebuilds the table
/// for what its ALTER TABLE cannot do).
fn alter_table(
    old: &Table,
    new: &Table,
    renames: &[Rename],
    renamed_tables: &[(&str, &str)],
) -> Option<Step> {
    let was = |c: &Column| -> Option<&Column> {
        let named = renames.iter().find_map(|r| match r {
            Rename::Column { table, from, to } if *table == new.name && *to == c.name => {
                Some(from.as_str())
            }
            _ => None,
        });
        if let Some(from) = named {
            return old.columns.iter().find(|o| o.name == from);
        }
        if let Some(same) = old.columns.iter().find(|o| o.name == c.name) {
            return Some(same);
        }
        // A link to a renamed table: `{old parent}_id` is `{new parent}_id`.
        let parent = c.references.as_deref()?;
        let (old_parent, _) = renamed_tables.iter().find(|(_, n)| *n == parent)?;
        old.columns.iter().find(|o| {
            o.references.as_deref() == Some(*old_parent)
                && !new.columns.iter().any(|n| n.name == o.name)
        })
    };
    let table = python_literal(&new.name);
    let mut says: Vec<String> = Vec::new();
    let mut before = String::new();
    let mut batch = String::new();
    let mut after = String::new();
    let kept: Vec<(&Column, &Column)> = new
        .columns
        .iter()
        .filter_map(|c| Some((was(c)?, c)))
        .collect();
    for o in &old.columns {
        if kept.iter().any(|(k, _)| k.name == o.name) {
            continue;
        }
        says.push(format!(
            "{}.{} is gone, and its values with it",
            new.name, o.name
        ));
        if o.indexed {
            let _ = writeln!(
                batch,
                "        batch.drop_index({})",
                python_literal(&index_name(&old.name, &o.name))
            );
        }
        if o.unique && old.name == new.name {
            let _ = writeln!(
                batch,
                "        batch.drop_constraint({}, type_=\"unique\")",
                python_literal(&unique_name(&old.name, &o.name))
            );
        }
        let _ = writeln!(
            batch,
            "        batch.drop_column({})",
            python_literal(&o.name)
        );
    }
    for (o, c) in &kept {
        let name = python_literal(&c.name);
        if o.name != c.name {
            says.push(format!("{}.{} is now {}", new.name, o.name, c.name));
            let _ = writeln!(
                batch,
                "        batch.alter_column({}, new_column_name={name})",
                python_literal(&o.name)
            );
        }
        if o.ty != c.ty {
            let how = if o.ty.widens_to(c.ty) {
                "every value kept"
            } else {
                "values converted where they can be"
            };
            says.push(format!(
                "{}.{} changes type from {} to {} ({how})",
                new.name,
                c.name,
                o.ty.model(),
                c.ty.model()
            ));
            let _ = writeln!(
                batch,
                "        batch.alter_column(\n            {name},\n            existing_type={},\n            type_={},\n            postgresql_using={},\n        )",
                o.ty.migration(),
                c.ty.migration(),
                python_literal(&format!("\"{}\"::{}", c.name, c.ty.postgres()))
            );
        }
        if o.nullable && !c.nullable {
            says.push(format!(
                "{}.{} must have a value now; rows without one get {}",
                new.name,
                c.name,
                fill_words(c)
            ));
            let _ = writeln!(
                before,
                "    op.execute(\n        sa.table({table}, sa.column({})).update().where(sa.column({}).is_(None)).values({{{}: {}}})\n    )",
                python_literal(&o.name),
                python_literal(&o.name),
                python_literal(&o.name),
                sql_value(c, &c.fill())
            );
            let _ = writeln!(batch, "        batch.alter_column({name}, nullable=False)");
        } else if !o.nullable && c.nullable {
            says.push(format!("{}.{} may be left empty now", new.name, c.name));
            let _ = writeln!(batch, "        batch.alter_column({name}, nullable=True)");
        }
        // Constraints and indexes are named after their table and column: a rename renames
        // them too, so that later versions find them by the names they have.
        let renamed = old.name != new.name || o.name != c.name;
        // A renamed table's unique constraints were dropped before the rename.
        let was_unique = o.unique && old.name == new.name;
        if was_unique && c.unique && renamed {
            let _ = writeln!(
                batch,
                "        batch.drop_constraint({}, type_=\"unique\")",
                python_literal(&unique_name(&old.name, &o.name)),
            );
        }
        if o.unique && c.unique && renamed {
            let _ = writeln!(
                batch,
                "        batch.create_unique_constraint({}, [{name}])",
                python_literal(&unique_name(&new.name, &c.name)),
            );
        }
        if o.unique != c.unique {
            let constraint = python_literal(&unique_name(&new.name, &c.name));
            if c.unique {
                says.push(format!("{}.{} values must be unique now", new.name, c.name));
                let _ = writeln!(
                    batch,
                    "        batch.create_unique_constraint({constraint}, [{name}])"
                );
            } else {
                says.push(format!("{}.{} values may repeat now", new.name, c.name));
                if was_unique {
                    let _ = writeln!(
                        batch,
                        "        batch.drop_constraint({}, type_=\"unique\")",
                        python_literal(&unique_name(&old.name, &o.name))
                    );
                }
            }
        }
        if o.indexed != c.indexed {
            says.push(if c.indexed {
                format!("{}.{} is searched: an index finds it", new.name, c.name)
            } else {
                format!(
                    "{}.{} is no longer searched: its index goes",
                    new.name, c.name
                )
            });
        }
        if o.indexed != c.indexed || (c.indexed && renamed) {
            if o.indexed {
                let _ = writeln!(
                    batch,
                    "        batch.drop_index({})",
                    python_literal(&index_name(&old.name, &o.name))
                );
            }
            if c.indexed {
                let _ = writeln!(
                    batch,
                    "        batch.create_index({}, [{name}])",
                    python_literal(&index_name(&new.name, &c.name))
                );
            }
        }
    }
    for c in &new.columns {
        if kept.iter().any(|(_, k)| k.name == c.name) {
            continue;
        }
        says.push(if c.nullable {
            format!("{}.{} is new", new.name, c.name)
        } else {
            format!(
                "{}.{} is new; rows written before get {}",
                new.name,
                c.name,
                fill_words(c)
            )
        });
        let _ = writeln!(
            batch,
            "        batch.add_column({})",
            column_def(&new.name, c, true)
        );
        if c.unique {
            let _ = writeln!(
                batch,
                "        batch.create_unique_constraint({}, [{}])",
                python_literal(&unique_name(&new.name, &c.name)),
                python_literal(&c.name)
            );
        }
        if c.indexed {
            let _ = writeln!(
                after,
                "    op.create_index({}, {table}, [{}])",
                python_literal(&index_name(&new.name, &c.name)),
                python_literal(&c.name)
            );
        }
    }
    if says.is_empty() && batch.is_empty() {
        return None;
    }
    if says.is_empty() {
        says.push(format!(
            "the constraints and indexes of {} take its new name",
            new.name
        ));
    }
    let mut code = before;
    if !batch.is_empty() {
        let _ = writeln!(
            code,
            "    with op.batch_alter_table({table}, naming_convention=NAMING) as batch:"
        );
        code.push_str(&batch);
    }
    code.push_str(&after);
    Some(Step {
        says: says.join("; "),
        code,
    })
}

fn fill_words(c: &Column) -> String {
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
fn sql_value(c: &Column, fill: &Fill) -> String {
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

fn revision_file(
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
    let naming = if up_body.contains("naming_convention=NAMING")
        || down_body.contains("naming_convention=NAMING")
    {
        "\n# How a unique constraint without a name is called when a table is read back.\nNAMING = {\"uq\": \"uq_%(table_name)s_%(column_0_name)s\"}\n"
    } else {
        ""
    };
    // Only what the revision uses: ruff's default rules refuse an unused import.
    let imports = if up_body.contains("sa.") || down_body.contains("sa.") {
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
    )
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

const ALEMBIC_INI: &str = "\
# Alembic's settings: `alembic upgrade head` brings the database named by DATABASE_URL to this
# version's tables (the app does the same at start). Revisions are written by Kiln, one per
# version whose tables changed, in migrations/versions/.
[alembic]
script_location = %(here)s/migrations
path_separator = os

[loggers]
keys = root,alembic

[handlers]
keys = console

[formatters]
keys = generic

[logger_root]
level = WARNING
handlers = console

[logger_alembic]
level = INFO
handlers =
qualname = alembic

[handler_console]
class = StreamHandler
args = (sys.stderr,)
level = NOTSET
formatter = generic

[formatter_generic]
format = %(levelname)s %(name)s: %(message)s
";

const ENV_PY: &str = r#""""How Alembic reaches the database: the app's own connection when it migrates at start, or
DATABASE_URL when `alembic upgrade head` is run by hand."""

from alembic import context
from sqlalchemy import create_engine

from app.config import Settings

connection = context.config.attributes.get("connection")


def run(conn) -> None:
    # batch mode: SQLite rebuilds a table for what its ALTER TABLE cannot do.
    context.configure(connection=conn, target_metadata=None, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


if connection is not None:
    run(connection)
else:
    engine = create_engine(Settings().database_url)
    with engine.connect() as conn:
        run(conn)
        conn.commit()
    engine.dispose()
"#;

const SCRIPT_MAKO: &str = r#""""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
"""

import sqlalchemy as sa
from alembic import op

revision = ${repr(up_revision)}
down_revision = ${repr(down_revision)}
branch_labels = ${repr(branch_labels)}
depends_on = ${repr(depends_on)}


def upgrade() -> None:
    ${upgrades if upgrades else "pass"}


def downgrade() -> None:
    ${downgrades if downgrades else "pass"}
"#;
