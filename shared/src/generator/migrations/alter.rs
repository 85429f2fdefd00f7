//! The changes to a table both versions have: its columns added, dropped, renamed, retyped,
//! made required or optional, unique or not, searched or not.

use std::fmt::Write as _;

use super::revision::{fill_words, python_fill, sql_value};
use super::{column_def, drop_unique, index_name, unique_name, Rename, Step};
use crate::generator::literal::python_literal;
use crate::generator::schema::{Column, ColumnType, Rule, Table, EMAIL_PATTERN, URL_PATTERN};

/// The changes to one table that both versions have, in one batch (SQLite rebuilds the table
/// for what its ALTER TABLE cannot do).
pub(super) fn alter_table(
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
            batch.push_str(&drop_unique(&old.name, &o.name));
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
        let retype = o.needs_reading_as(c);
        if retype {
            retype_column((old, o), (new, c), &mut says, &mut batch, &mut after);
        } else if o.ty != c.ty {
            says.push(format!(
                "{}.{} changes type from {} to {} (every value kept)",
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
        if retype {
            // Its type, nullability, constraint and index were all made anew.
            continue;
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
            batch.push_str(&drop_unique(&old.name, &o.name));
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
                    batch.push_str(&drop_unique(&old.name, &o.name));
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

/// A column whose values are read one by one into its new type (`_retype` in the revision):
/// its constraint and index go first and come back after.
fn retype_column(
    (old, o): (&Table, &Column),
    (new, c): (&Table, &Column),
    says: &mut Vec<String>,
    batch: &mut String,
    after: &mut String,
) {
    let rest = if c.nullable {
        "left empty".to_owned()
    } else {
        format!("given {}", fill_words(c))
    };
    says.push(if o.ty == c.ty {
        format!(
            "{}.{} takes fewer values: each stored one it still takes is kept, any other {rest}",
            new.name, c.name
        )
    } else {
        format!(
            "{}.{} changes type from {} to {}: each stored value that reads as one is kept, \
             any other {rest}",
            new.name,
            c.name,
            o.ty.model(),
            c.ty.model()
        )
    });
    if o.indexed {
        let _ = writeln!(
            batch,
            "        batch.drop_index({})",
            python_literal(&index_name(&old.name, &o.name))
        );
    }
    if o.unique && old.name == new.name {
        batch.push_str(&drop_unique(&old.name, &o.name));
    }
    let kind = match c.ty {
        ColumnType::String(_) | ColumnType::Text => "text",
        ColumnType::Integer => "integer",
        ColumnType::Float => "float",
        ColumnType::Boolean => "boolean",
        ColumnType::Date => "date",
        ColumnType::DateTime => "datetime",
        ColumnType::Timestamp => "timestamp",
    };
    let mut rules: Vec<String> = Vec::new();
    if let ColumnType::String(n) = c.ty {
        rules.push(format!("\"length\": {n}"));
    }
    match &c.rule {
        Rule::Any => {}
        Rule::Email => rules.push(format!("\"pattern\": {}", python_literal(EMAIL_PATTERN))),
        Rule::Url => rules.push(format!("\"pattern\": {}", python_literal(URL_PATTERN))),
        Rule::Choices(values) => rules.push(format!(
            "\"choices\": ({},)",
            values
                .iter()
                .map(|v| python_literal(v))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
    let table = python_literal(&new.name);
    let name = python_literal(&c.name);
    let _ = writeln!(
        after,
        "    _retype(\n        {table},\n        {name},\n        ({}, {}),\n        {},\n        fill={},\n        nullable={},\n        rules={{{}}},\n    )",
        o.ty.migration(),
        c.ty.migration(),
        python_literal(kind),
        python_fill(c),
        if c.nullable { "True" } else { "False" },
        rules.join(", ")
    );
    if c.unique {
        let _ = writeln!(
            after,
            "    with op.batch_alter_table({table}, naming_convention=NAMING) as batch:\n        batch.create_unique_constraint({}, [{name}])",
            python_literal(&unique_name(&new.name, &c.name))
        );
    }
    if c.indexed {
        let _ = writeln!(
            after,
            "    op.create_index({}, {table}, [{name}])",
            python_literal(&index_name(&new.name, &c.name))
        );
    }
}
