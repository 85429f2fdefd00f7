//! What holds a spec together: its size limits, unique names, links and search keys that
//! point at things that exist, and belongs-to links without a cycle.

use super::{check_identifier, check_resource_name, AppSpec, FieldType, RelationKind, Resource};

/// Most resources one app may have.
pub const MAX_RESOURCES: usize = 40;
/// Most fields one resource may have.
pub const MAX_FIELDS: usize = 60;
/// Most choices one enum field may have.
pub const MAX_CHOICES: usize = 50;
/// Most bytes a whole spec may take as JSON. The per-part limits alone allow megabytes; a
/// spec travels whole in the project's DynamoDB item (400 KB at most, with its design) and its
/// plan in a reply, so the whole is bounded too. Real apps take a few kilobytes.
pub const MAX_SPEC_BYTES: usize = 48 * 1024;

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
        let bytes = serde_json::to_vec(self)
            .map(|v| v.len())
            .unwrap_or(usize::MAX);
        if bytes > MAX_SPEC_BYTES {
            return Err(SpecError::TooLarge(format!(
                "at most {} KB in all (this would take {} KB): fewer resources, fields or choices",
                MAX_SPEC_BYTES / 1024,
                bytes.div_ceil(1024)
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
    use crate::spec::{Field, Relation};

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
