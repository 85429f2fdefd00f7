//! Relations: one resource belongs to another, recorded on both sides, unless it would go
//! both ways or round in a circle.

use crate::spec::read::SpecChange;
use crate::spec::{AppSpec, Relation, RelationKind};

/// "a order" → "an order".
pub(super) fn with_article(noun: &str) -> String {
    let vowel = noun.starts_with(['a', 'e', 'i', 'o', 'u']);
    format!("{} {noun}", if vowel { "an" } else { "a" })
}

/// Records that the resource named `child` belongs to the one named `parent`.
pub(crate) fn relate_names(spec: &mut AppSpec, child: &str, parent: &str, change: &mut SpecChange) {
    let find = |n: &str| spec.resources.iter().position(|r| r.name == n);
    if let (Some(c), Some(p)) = (find(child), find(parent)) {
        relate(spec, c, p, change);
    }
}

/// Records that resource `child` belongs to `parent`.
pub(super) fn relate(spec: &mut AppSpec, child: usize, parent: usize, change: &mut SpecChange) {
    if child == parent {
        change
            .notes
            .push("a resource can't belong to itself".into());
        return;
    }
    let (child_name, parent_name) = (
        spec.resources[child].name.clone(),
        spec.resources[parent].name.clone(),
    );
    if spec.resources[parent]
        .relations
        .iter()
        .any(|r| r.kind == RelationKind::BelongsTo && r.target == child_name)
    {
        change.notes.push(format!(
            "`{parent_name}` already belongs to `{child_name}`; relations can't go both ways"
        ));
        return;
    }
    if spec.resources[child]
        .relations
        .iter()
        .any(|r| r.kind == RelationKind::BelongsTo && r.target == parent_name)
    {
        return;
    }
    // A field named after the parent ("a customer" read earlier as text) becomes the link.
    let link_field = format!("{parent_name}_id");
    spec.resources[child]
        .fields
        .retain(|f| f.name != parent_name && f.name != link_field);
    spec.resources[child].relations.push(Relation {
        kind: RelationKind::BelongsTo,
        target: parent_name.clone(),
    });
    spec.resources[parent].relations.push(Relation {
        kind: RelationKind::HasMany,
        target: child_name.clone(),
    });
    if spec.validate().is_err() {
        spec.resources[child].relations.pop();
        spec.resources[parent].relations.pop();
        change.notes.push(format!(
            "`{child_name}` → `{parent_name}` would make a cycle"
        ));
        return;
    }
    let article = if with_article(&parent_name).starts_with("an ") {
        "an"
    } else {
        "a"
    };
    change.added.push(format!(
        "relation: each `{child_name}` belongs to {article} `{parent_name}`"
    ));
}
