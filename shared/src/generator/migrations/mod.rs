//! Alembic migrations: one revision per version whose tables differ from the version before,
//! made from the two versions' specs, written as ordinary, readable revision files
//! (`migrations/versions/v0003_….py`). The app runs them at start, so a version deployed over
//! the previous one's database brings its rows along.
//!
//! Every revision has a real `downgrade()`, the same comparison made the other way round, so
//! that a rollback can bring the database back to what the earlier version reads (what was
//! dropped comes back empty or with its default; nothing else is lost).

use std::fmt::Write as _;

mod alter;
mod revision;

use super::literal::python_literal;
use super::schema::{schema_of, Column, Table};
use super::GeneratedFile;
use crate::spec::{AppSpec, Renamed};
use alter::alter_table;
use revision::{revision_file, sql_value};

/// A table or column named anew between two versions: the rows stay, under the new name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Rename {
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
    pub renames: &'a [Renamed],
}

/// The tables and columns `renamed` names anew, from the spec `before` to the spec `after`.
fn table_renames(renamed: &[Renamed], before: Option<&AppSpec>, after: &AppSpec) -> Vec<Rename> {
    renamed
        .iter()
        .filter_map(|r| match r {
            Renamed::Resource { from, to } => Some(Rename::Table {
                from: before?.resource(from)?.plural.clone(),
                to: after.resource(to)?.plural.clone(),
            }),
            Renamed::Field { resource, from, to } => Some(Rename::Column {
                table: after.resource(resource)?.plural.clone(),
                from: from.clone(),
                to: to.clone(),
            }),
        })
        .collect()
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
        // The same for every project: Alembic's settings and how it reaches the database.
        file(
            "alembic.ini",
            include_str!("../../../templates/alembic.ini"),
        ),
        file(
            "migrations/env.py",
            include_str!("../../../templates/migrations/env.py"),
        ),
        file(
            "migrations/script.py.mako",
            include_str!("../../../templates/migrations/script.py.mako"),
        ),
    ];
    let mut before: Option<Vec<Table>> = None;
    let mut down_revision: Option<String> = None;
    let mut before_spec: Option<&AppSpec> = None;
    for v in versions {
        let renames = table_renames(v.renames, before_spec, v.spec);
        before_spec = Some(v.spec);
        let Some(after) = schema_of(v.spec) else {
            // A version without a database leaves the tables where they were.
            continue;
        };
        let empty = Vec::new();
        let prev = before.as_ref().unwrap_or(&empty);
        let up = steps(prev, &after, &renames);
        if !up.is_empty() {
            let inverse = invert(&renames);
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

/// The renames that undo `renames`: each the other way round, a column's table named as it
/// was before.
fn invert(renames: &[Rename]) -> Vec<Rename> {
    let table_before = |table: &String| -> String {
        renames
            .iter()
            .find_map(|r| match r {
                Rename::Table { from, to } if to == table => Some(from.clone()),
                _ => None,
            })
            .unwrap_or_else(|| table.clone())
    };
    renames
        .iter()
        .map(|r| match r {
            Rename::Table { from, to } => Rename::Table {
                from: to.clone(),
                to: from.clone(),
            },
            Rename::Column { table, from, to } => Rename::Column {
                table: table_before(table),
                from: to.clone(),
                to: from.clone(),
            },
        })
        .collect()
}

/// One step of a revision: a line of what it does in words, and its code.
pub(super) struct Step {
    pub(super) says: String,
    pub(super) code: String,
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
                    code.push_str(&drop_unique(&old.name, &c.name));
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

pub(super) fn column_def(table: &str, c: &Column, fill: bool) -> String {
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

/// The batch line that drops a column's unique constraint, by the name Kiln gave it.
pub(super) fn drop_unique(table: &str, column: &str) -> String {
    format!(
        "        batch.drop_constraint({}, type_=\"unique\")\n",
        python_literal(&unique_name(table, column))
    )
}

pub(super) fn unique_name(table: &str, column: &str) -> String {
    format!("uq_{table}_{column}")
}

pub(super) fn index_name(table: &str, column: &str) -> String {
    format!("ix_{table}_{column}")
}
