//! The rules' reading as a patch: the operations that take one spec to another, renames
//! first (as the reading said them), so that the data under a renamed name moves with it.

use super::patch::{FieldSpec, Operation, SpecPatch};
use crate::spec::{pluralize, type_label, AppSpec, Field, FieldType, RelationKind, Renamed};

impl SpecPatch {
    /// The patch that takes `before` to `after`, given the renames the reading made.
    pub fn between(before: &AppSpec, after: &AppSpec, renamed: &[Renamed]) -> SpecPatch {
        let mut ops = Vec::new();
        // The names as they are after each rename, to compare like with like.
        let mut cur = before.clone();
        for r in renamed {
            if let Renamed::Resource { from, to } = r {
                if cur.resources.iter().any(|x| x.name == *from) && after.resource(to).is_some() {
                    ops.push(Operation::RenameResource {
                        name: from.clone(),
                        to: to.clone(),
                    });
                    for res in &mut cur.resources {
                        if res.name == *from {
                            res.name = to.clone();
                        }
                        for rel in res.relations.iter_mut().filter(|x| x.target == *from) {
                            rel.target = to.clone();
                        }
                    }
                    for key in &mut cur.features.search {
                        if let Some(field) = key.strip_prefix(&format!("{from}.")) {
                            *key = format!("{to}.{field}");
                        }
                    }
                }
            }
        }
        for r in renamed {
            if let Renamed::Field { resource, from, to } = r {
                let exists = |s: &AppSpec, f: &str| {
                    s.resources
                        .iter()
                        .any(|x| x.name == *resource && x.fields.iter().any(|y| y.name == f))
                };
                if exists(&cur, from) && exists(after, to) && !exists(&cur, to) {
                    ops.push(Operation::RenameField {
                        resource: resource.clone(),
                        name: from.clone(),
                        to: to.clone(),
                    });
                    for res in cur.resources.iter_mut().filter(|x| x.name == *resource) {
                        for f in res.fields.iter_mut().filter(|f| f.name == *from) {
                            f.name = to.clone();
                        }
                    }
                    let old = format!("{resource}.{from}");
                    for key in cur.features.search.iter_mut().filter(|k| **k == old) {
                        *key = format!("{resource}.{to}");
                    }
                }
            }
        }
        for res in &cur.resources {
            if after.resources.iter().all(|a| a.name != res.name) {
                ops.push(Operation::RemoveResource {
                    name: res.name.clone(),
                });
            }
        }
        let mut links = Vec::new();
        for a in &after.resources {
            let belongs = |rels: &[crate::spec::Relation]| -> Vec<String> {
                rels.iter()
                    .filter(|r| r.kind == RelationKind::BelongsTo)
                    .map(|r| r.target.clone())
                    .collect()
            };
            match cur.resources.iter().find(|b| b.name == a.name) {
                None => {
                    ops.push(Operation::AddResource {
                        name: a.name.clone(),
                        plural: (a.plural != pluralize(&a.name)).then(|| a.plural.clone()),
                        fields: a.fields.iter().map(field_spec).collect(),
                    });
                    for t in belongs(&a.relations) {
                        links.push((a.name.clone(), t));
                    }
                }
                Some(b) => {
                    for f in &b.fields {
                        if a.fields.iter().all(|x| x.name != f.name) {
                            ops.push(Operation::RemoveField {
                                resource: a.name.clone(),
                                name: f.name.clone(),
                            });
                        }
                    }
                    for t in belongs(&b.relations) {
                        if !belongs(&a.relations).contains(&t)
                            && after.resources.iter().any(|x| x.name == t)
                        {
                            ops.push(Operation::RemoveRelation {
                                resource: a.name.clone(),
                                belongs_to: t,
                            });
                        }
                    }
                    for f in &a.fields {
                        match b.fields.iter().find(|x| x.name == f.name) {
                            None => ops.push(Operation::AddField {
                                resource: a.name.clone(),
                                field: field_spec(f),
                            }),
                            Some(old) if old != f => ops.push(change_field(&a.name, old, f)),
                            Some(_) => {}
                        }
                    }
                    for t in belongs(&a.relations) {
                        if !belongs(&b.relations).contains(&t) {
                            links.push((a.name.clone(), t));
                        }
                    }
                }
            }
        }
        // Links after every resource exists, in an order that leaves each resource's links
        // listed as the reading left them.
        for (resource, belongs_to) in link_order(&cur, after, links) {
            ops.push(Operation::AddRelation {
                resource,
                belongs_to,
            });
        }
        features(&cur, after, &mut ops);
        for key in &cur.features.search {
            if !after.features.search.contains(key) {
                if let Some((resource, field)) = key.split_once('.') {
                    if after
                        .resource(resource)
                        .is_some_and(|r| r.fields.iter().any(|f| f.name == field))
                    {
                        ops.push(search(resource, field, false));
                    }
                }
            }
        }
        for key in &after.features.search {
            if !cur.features.search.contains(key) {
                if let Some((resource, field)) = key.split_once('.') {
                    ops.push(search(resource, field, true));
                }
            }
        }
        if cur.summary != after.summary {
            ops.push(Operation::SetSummary {
                summary: after.summary.clone(),
            });
        }
        SpecPatch { operations: ops }
    }
}

fn search(resource: &str, field: &str, searchable: bool) -> Operation {
    Operation::SetSearch {
        resource: resource.to_owned(),
        field: field.to_owned(),
        searchable,
    }
}

fn type_and_values(ty: &FieldType) -> (String, Option<Vec<String>>) {
    match ty {
        FieldType::Enum { values } => ("enum".into(), Some(values.clone())),
        other => (type_label(other).into(), None),
    }
}

/// A field in the patch's words.
pub(super) fn field_spec(f: &Field) -> FieldSpec {
    let (ty, values) = type_and_values(&f.ty);
    FieldSpec {
        name: f.name.clone(),
        ty,
        values,
        required: f.required,
        unique: f.unique,
        default: f.default.clone(),
    }
}

fn change_field(resource: &str, old: &Field, new: &Field) -> Operation {
    let (ty, values) = type_and_values(&new.ty);
    let retyped = old.ty != new.ty;
    Operation::ChangeField {
        resource: resource.to_owned(),
        name: new.name.clone(),
        ty: retyped.then_some(ty),
        values: if retyped { values } else { None },
        required: (old.required != new.required).then_some(new.required),
        unique: (old.unique != new.unique).then_some(new.unique),
        default: new.default.clone().filter(|_| old.default != new.default),
        clear_default: (old.default.is_some() && new.default.is_none()).then_some(true),
    }
}

fn features(before: &AppSpec, after: &AppSpec, ops: &mut Vec<Operation>) {
    let (b, a) = (&before.features, &after.features);
    let flag = |x: bool, y: bool| (x != y).then_some(y);
    let op = Operation::SetFeatures {
        auth: (b.auth != a.auth).then_some(a.auth),
        database: (b.database != a.database).then_some(a.database),
        pagination: flag(b.pagination, a.pagination),
        timestamps: flag(b.timestamps, a.timestamps),
        soft_delete: flag(b.soft_delete, a.soft_delete),
        cors: flag(b.cors, a.cors),
        rate_limit: flag(b.rate_limit, a.rate_limit),
    };
    let unchanged = Operation::SetFeatures {
        auth: None,
        database: None,
        pagination: None,
        timestamps: None,
        soft_delete: None,
        cors: None,
        rate_limit: None,
    };
    if op != unchanged {
        ops.push(op);
    }
}

/// The new links (child, parent) ordered so that, each appended to both ends' lists as it is
/// made, every resource's links end in `after`'s order: each resource's new links, in that
/// order, constrain the order of the links they belong to; any order meeting them all will do.
fn link_order(
    before: &AppSpec,
    after: &AppSpec,
    links: Vec<(String, String)>,
) -> Vec<(String, String)> {
    let position =
        |child: &str, parent: &str| links.iter().position(|l| l.0 == child && l.1 == parent);
    let mut after_edges: Vec<(usize, usize)> = Vec::new();
    for r in &after.resources {
        let old = before
            .resources
            .iter()
            .find(|b| b.name == r.name)
            .map(|b| b.relations.clone())
            .unwrap_or_default();
        let new: Vec<usize> = r
            .relations
            .iter()
            .filter(|rel| !old.contains(rel))
            .filter_map(|rel| match rel.kind {
                RelationKind::BelongsTo => position(&r.name, &rel.target),
                RelationKind::HasMany => position(&rel.target, &r.name),
            })
            .collect();
        after_edges.extend(new.windows(2).map(|w| (w[0], w[1])));
    }
    let mut done = vec![false; links.len()];
    let mut order = Vec::with_capacity(links.len());
    while order.len() < links.len() {
        let ready = (0..links.len())
            .find(|&i| !done[i] && after_edges.iter().all(|&(a, b)| b != i || done[a]));
        // A loop in the constraints cannot come from one reading; the given order then.
        let next = ready.unwrap_or_else(|| (0..links.len()).find(|&i| !done[i]).unwrap());
        done[next] = true;
        order.push(links[next].clone());
    }
    order
}
