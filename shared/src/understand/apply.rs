//! Each operation of a patch applied to the spec, with what it changed and, when it cannot
//! apply, why, in words a model (or a person) can act on.

use serde_json::Value;

use super::patch::{FieldSpec, Operation, MAX_SUMMARY_CHARS, TYPES};
use crate::spec::{
    check_identifier, check_resource_name, describe_field, pluralize, AppSpec, AuthFeature,
    DatabaseFeature, Field, FieldType, RelationKind, Renamed, SpecChange,
};

pub(super) fn op_name(op: &Operation) -> &'static str {
    match op {
        Operation::AddResource { .. } => "add_resource",
        Operation::RemoveResource { .. } => "remove_resource",
        Operation::RenameResource { .. } => "rename_resource",
        Operation::AddField { .. } => "add_field",
        Operation::RemoveField { .. } => "remove_field",
        Operation::RenameField { .. } => "rename_field",
        Operation::ChangeField { .. } => "change_field",
        Operation::AddRelation { .. } => "add_relation",
        Operation::RemoveRelation { .. } => "remove_relation",
        Operation::SetFeatures { .. } => "set_features",
        Operation::SetSearch { .. } => "set_search",
        Operation::SetSummary { .. } => "set_summary",
    }
}

fn index(spec: &AppSpec, name: &str) -> Result<usize, String> {
    spec.resources
        .iter()
        .position(|r| r.name == name)
        .ok_or_else(|| {
            let known: Vec<&str> = spec.resources.iter().map(|r| r.name.as_str()).collect();
            format!(
                "there is no resource `{name}` (resources are named by their singular: {})",
                if known.is_empty() {
                    "none yet".to_owned()
                } else {
                    known.join(", ")
                }
            )
        })
}

fn field_index(spec: &AppSpec, r: usize, name: &str) -> Result<usize, String> {
    let res = &spec.resources[r];
    res.fields
        .iter()
        .position(|f| f.name == name)
        .ok_or_else(|| {
            let known: Vec<&str> = res.fields.iter().map(|f| f.name.as_str()).collect();
            format!(
                "`{}` has no field `{name}` (its fields: {})",
                res.name,
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            )
        })
}

fn field_type(ty: &str, values: Option<&Vec<String>>) -> Result<FieldType, String> {
    Ok(match ty {
        "string" => FieldType::String,
        "text" => FieldType::Text,
        "integer" => FieldType::Integer,
        "number" => FieldType::Number,
        "boolean" => FieldType::Boolean,
        "date" => FieldType::Date,
        "datetime" => FieldType::Datetime,
        "email" => FieldType::Email,
        "url" => FieldType::Url,
        "enum" => {
            let values = values.cloned().unwrap_or_default();
            if values.is_empty() {
                return Err("an `enum` field needs its `values`".into());
            }
            for v in &values {
                check_identifier(v).map_err(|e| format!("choice `{v}`: {e}"))?;
            }
            FieldType::Enum { values }
        }
        other => {
            return Err(format!(
                "unknown type `{other}` (one of {})",
                TYPES.join(", ")
            ))
        }
    })
}

/// Whether `value` is a default a field of type `ty` can have.
fn default_fits(ty: &FieldType, value: &Value) -> bool {
    match (ty, value) {
        (FieldType::Integer, Value::Number(n)) => n.is_i64(),
        (FieldType::Number, Value::Number(_)) | (FieldType::Boolean, Value::Bool(_)) => true,
        (FieldType::Enum { values }, Value::String(s)) => values.contains(s),
        (
            FieldType::String
            | FieldType::Text
            | FieldType::Email
            | FieldType::Url
            | FieldType::Date
            | FieldType::Datetime,
            Value::String(s),
        ) => s.chars().count() <= 200,
        _ => false,
    }
}

fn make_field(spec: &FieldSpec) -> Result<Field, String> {
    check_identifier(&spec.name).map_err(|e| format!("field `{}`: {e}", spec.name))?;
    let ty = field_type(&spec.ty, spec.values.as_ref())?;
    if spec.values.as_ref().is_some_and(|v| !v.is_empty()) && spec.ty != "enum" {
        return Err(format!(
            "`values` are only for `enum` fields, not `{}`",
            spec.ty
        ));
    }
    let default = spec.default.clone().filter(|v| !v.is_null());
    if let Some(d) = &default {
        if !default_fits(&ty, d) {
            return Err(format!("default {d} does not fit a `{}` field", spec.ty));
        }
    }
    Ok(Field {
        name: spec.name.clone(),
        ty,
        required: spec.required,
        unique: spec.unique,
        default,
    })
}

pub(super) fn apply_one(
    spec: &mut AppSpec,
    op: &Operation,
    change: &mut SpecChange,
) -> Result<(), String> {
    match op {
        Operation::AddResource {
            name,
            plural,
            fields,
        } => {
            check_resource_name(name).map_err(|e| format!("`{name}`: {e}"))?;
            if spec.resource(name).is_some() {
                return Err(format!("a resource `{name}` exists already"));
            }
            let plural = plural.clone().unwrap_or_else(|| pluralize(name));
            check_identifier(&plural).map_err(|e| format!("plural `{plural}`: {e}"))?;
            // A field that cannot be made is an error; the resource is still added with the
            // others, so that later operations on it are judged on their own.
            let (made, refused): (Vec<_>, Vec<_>) =
                fields.iter().map(make_field).partition(Result::is_ok);
            let fields: Vec<Field> = made.into_iter().map(Result::unwrap).collect();
            let refused: Vec<String> = refused.into_iter().filter_map(Result::err).collect();
            change.added.push(format!("resource `{plural}`"));
            for f in &fields {
                change
                    .added
                    .push(format!("field `{name}.{}` ({})", f.name, describe_field(f)));
                change.touched(name, &f.name);
            }
            spec.resources.push(crate::spec::Resource {
                name: name.clone(),
                plural,
                fields,
                relations: Vec::new(),
            });
            if !refused.is_empty() {
                return Err(refused.join("; "));
            }
        }
        Operation::RemoveResource { name } => {
            let r = index(spec, name)?;
            let gone = spec.resources.remove(r);
            for other in &mut spec.resources {
                other.relations.retain(|rel| rel.target != gone.name);
            }
            let prefix = format!("{}.", gone.name);
            spec.features.search.retain(|k| !k.starts_with(&prefix));
            if change
                .focus
                .as_ref()
                .is_some_and(|f| f.resource == gone.name)
            {
                change.focus = None;
            }
            change.removed.push(format!("resource `{}`", gone.plural));
        }
        Operation::RenameResource { name, to } => {
            let r = index(spec, name)?;
            check_resource_name(to).map_err(|e| format!("`{to}`: {e}"))?;
            if spec.resource(to).is_some() {
                return Err(format!("a resource `{to}` exists already"));
            }
            let plural = pluralize(to);
            spec.resources[r].name = to.clone();
            spec.resources[r].plural = plural;
            for other in &mut spec.resources {
                for rel in &mut other.relations {
                    if rel.target == *name {
                        rel.target = to.clone();
                    }
                }
            }
            for key in &mut spec.features.search {
                if let Some(field) = key.strip_prefix(&format!("{name}.")) {
                    *key = format!("{to}.{field}");
                }
            }
            change
                .changed
                .push(format!("resource `{name}` renamed to `{to}`"));
            change.renamed.push(Renamed::Resource {
                from: name.clone(),
                to: to.clone(),
            });
        }
        Operation::AddField { resource, field } => {
            let r = index(spec, resource)?;
            let f = make_field(field)?;
            if spec.resources[r].fields.iter().any(|x| x.name == f.name) {
                return Err(format!("`{resource}` has a field `{}` already", f.name));
            }
            change.added.push(format!(
                "field `{resource}.{}` ({})",
                f.name,
                describe_field(&f)
            ));
            change.touched(resource, &f.name);
            spec.resources[r].fields.push(f);
        }
        Operation::RemoveField { resource, name } => {
            let r = index(spec, resource)?;
            let i = field_index(spec, r, name)?;
            spec.resources[r].fields.remove(i);
            let key = format!("{resource}.{name}");
            spec.features.search.retain(|k| *k != key);
            change.removed.push(format!("field `{key}`"));
        }
        Operation::RenameField { resource, name, to } => {
            let r = index(spec, resource)?;
            let i = field_index(spec, r, name)?;
            check_identifier(to).map_err(|e| format!("`{to}`: {e}"))?;
            if spec.resources[r].fields.iter().any(|x| x.name == *to) {
                return Err(format!("`{resource}` has a field `{to}` already"));
            }
            spec.resources[r].fields[i].name = to.clone();
            let (old, new) = (format!("{resource}.{name}"), format!("{resource}.{to}"));
            for key in &mut spec.features.search {
                if *key == old {
                    *key = new.clone();
                }
            }
            change
                .changed
                .push(format!("field `{old}` renamed to `{to}`"));
            change.renamed.push(Renamed::Field {
                resource: resource.clone(),
                from: name.clone(),
                to: to.clone(),
            });
            change.touched(resource, to);
        }
        Operation::ChangeField {
            resource,
            name,
            ty,
            values,
            required,
            unique,
            default,
            clear_default,
        } => {
            let r = index(spec, resource)?;
            let i = field_index(spec, r, name)?;
            let mut f = spec.resources[r].fields[i].clone();
            match (ty, values) {
                (Some(ty), values) => f.ty = field_type(ty, values.as_ref())?,
                (None, Some(values)) => f.ty = field_type("enum", Some(values))?,
                (None, None) => {}
            }
            if let Some(x) = required {
                f.required = *x;
            }
            if let Some(x) = unique {
                f.unique = *x;
            }
            if *clear_default == Some(true) {
                f.default = None;
            }
            if let Some(d) = default.clone().filter(|v| !v.is_null()) {
                f.default = Some(d);
            }
            if let Some(d) = &f.default {
                if !default_fits(&f.ty, d) {
                    return Err(format!("default {d} does not fit the field's type"));
                }
            }
            if f != spec.resources[r].fields[i] {
                change.changed.push(format!(
                    "field `{resource}.{name}` is now {}",
                    describe_field(&f)
                ));
                spec.resources[r].fields[i] = f;
            }
            change.touched(resource, name);
        }
        Operation::AddRelation {
            resource,
            belongs_to,
        } => {
            match (index(spec, resource), index(spec, belongs_to)) {
                (Ok(_), Ok(_)) => {}
                // Both ends named, when both are wrong.
                (Err(a), Err(b)) => return Err(format!("{a}; {b}")),
                (Err(e), _) | (_, Err(e)) => return Err(e),
            }
            // The rules' own linking (both sides, the old link field dropped, no loop and no
            // link both ways); what it declines it says in a note, which here is the error.
            let said = change.notes.len();
            crate::spec::relate_names(spec, resource, belongs_to, change);
            if change.notes.len() > said {
                return Err(change.notes.split_off(said).join("; "));
            }
        }
        Operation::RemoveRelation {
            resource,
            belongs_to,
        } => {
            let (c, p) = (index(spec, resource)?, index(spec, belongs_to)?);
            let before = spec.resources[c].relations.len();
            spec.resources[c]
                .relations
                .retain(|r| !(r.kind == RelationKind::BelongsTo && r.target == *belongs_to));
            if spec.resources[c].relations.len() == before {
                return Err(format!("`{resource}` does not belong to `{belongs_to}`"));
            }
            spec.resources[p]
                .relations
                .retain(|r| !(r.kind == RelationKind::HasMany && r.target == *resource));
            change
                .removed
                .push(format!("relation: `{resource}` belongs to `{belongs_to}`"));
        }
        Operation::SetFeatures {
            auth,
            database,
            pagination,
            timestamps,
            soft_delete,
            cors,
            rate_limit,
        } => {
            set_features(
                spec,
                change,
                *auth,
                *database,
                [
                    (*pagination, "pagination"),
                    (*timestamps, "created/updated timestamps"),
                    (*soft_delete, "soft delete"),
                    (*cors, "CORS"),
                    (*rate_limit, "rate limiting"),
                ],
            );
        }
        Operation::SetSearch {
            resource,
            field,
            searchable,
        } => {
            let r = index(spec, resource)?;
            field_index(spec, r, field)?;
            let key = format!("{resource}.{field}");
            let on = spec.features.search.contains(&key);
            if *searchable && !on {
                spec.features.search.push(key.clone());
                change.added.push(format!("search on `{key}`"));
            } else if !*searchable && on {
                spec.features.search.retain(|k| *k != key);
                change.removed.push(format!("search on `{key}`"));
            }
        }
        Operation::SetSummary { summary } => {
            if summary.chars().count() > MAX_SUMMARY_CHARS {
                return Err(format!(
                    "a summary of at most {MAX_SUMMARY_CHARS} characters"
                ));
            }
            if spec.summary != *summary {
                spec.summary = summary.clone();
            }
        }
    }
    Ok(())
}

fn set_features(
    spec: &mut AppSpec,
    change: &mut SpecChange,
    auth: Option<AuthFeature>,
    database: Option<DatabaseFeature>,
    toggles: [(Option<bool>, &str); 5],
) {
    if let Some(want) = auth {
        crate::spec::set_auth(spec, want, change);
    }
    if let Some(want) = database {
        crate::spec::set_database(spec, want, change);
    }
    let f = &mut spec.features;
    let slots = [
        &mut f.pagination,
        &mut f.timestamps,
        &mut f.soft_delete,
        &mut f.cors,
        &mut f.rate_limit,
    ];
    for (slot, (want, label)) in slots.into_iter().zip(toggles) {
        if let Some(want) = want {
            if *slot != want {
                *slot = want;
                if want {
                    change.added.push(label.into());
                } else {
                    change.removed.push(label.into());
                }
            }
        }
    }
}
