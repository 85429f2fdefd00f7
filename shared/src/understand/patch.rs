//! The spec patch: what an understander proposes for one message. A language model never
//! writes the spec; it proposes these operations, which are parsed strictly (an unknown key is
//! refused), applied to a copy of the spec and checked by the same validator and identifier
//! rules as the rules' own reading. The rules' reading is expressed in the same type
//! ([`SpecPatch::between`]), so both are applied by one function.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::apply::{apply_one, op_name};
use crate::spec::{AppSpec, AuthFeature, DatabaseFeature, SpecChange};

/// Longest summary a patch may set.
pub const MAX_SUMMARY_CHARS: usize = 1000;
/// Most operations one patch may carry.
pub const MAX_OPERATIONS: usize = 200;

/// What one message changes in the spec.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpecPatch {
    /// Applied in order.
    pub operations: Vec<Operation>,
}

/// A field as a patch describes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldSpec {
    /// Identifier (snake_case).
    pub name: String,
    /// One of [`TYPES`].
    #[serde(rename = "type")]
    pub ty: String,
    /// The choices of an `enum` field.
    #[serde(default)]
    pub values: Option<Vec<String>>,
    /// Whether a create request must carry it.
    pub required: bool,
    /// Whether two records may share a value.
    pub unique: bool,
    /// Default value, if any.
    #[serde(default)]
    pub default: Option<Value>,
}

/// One change to the spec.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Operation {
    /// A new resource with its fields.
    AddResource {
        /// Singular identifier.
        name: String,
        /// Plural identifier (`null`: the usual plural).
        #[serde(default)]
        plural: Option<String>,
        /// Its fields.
        fields: Vec<FieldSpec>,
    },
    /// Drops a resource and every link to it.
    RemoveResource {
        /// Its singular name.
        name: String,
    },
    /// Renames a resource; its data moves with it.
    RenameResource {
        /// Its singular name.
        name: String,
        /// The new singular name.
        to: String,
    },
    /// A new field.
    AddField {
        /// The resource's singular name.
        resource: String,
        /// The field.
        field: FieldSpec,
    },
    /// Drops a field.
    RemoveField {
        /// The resource's singular name.
        resource: String,
        /// The field's name.
        name: String,
    },
    /// Renames a field; its data moves with it.
    RenameField {
        /// The resource's singular name.
        resource: String,
        /// The field's name.
        name: String,
        /// The new name.
        to: String,
    },
    /// Changes what is given of a field; `null` leaves a part as it is.
    ChangeField {
        /// The resource's singular name.
        resource: String,
        /// The field's name.
        name: String,
        /// New type.
        #[serde(default, rename = "type")]
        ty: Option<String>,
        /// New choices (an `enum` field).
        #[serde(default)]
        values: Option<Vec<String>>,
        /// Required or not.
        #[serde(default)]
        required: Option<bool>,
        /// Unique or not.
        #[serde(default)]
        unique: Option<bool>,
        /// New default.
        #[serde(default)]
        default: Option<Value>,
        /// `true`: the field has no default any more.
        #[serde(default)]
        clear_default: Option<bool>,
    },
    /// Each `resource` belongs to one `belongs_to` (it holds its id).
    AddRelation {
        /// The resource that holds the link.
        resource: String,
        /// The resource it belongs to.
        belongs_to: String,
    },
    /// Drops a belongs-to link.
    RemoveRelation {
        /// The resource that holds the link.
        resource: String,
        /// The resource it belongs to.
        belongs_to: String,
    },
    /// Turns features on or off; `null` leaves one as it is.
    SetFeatures {
        /// `none` or `jwt`.
        #[serde(default)]
        auth: Option<AuthFeature>,
        /// `none`, `sqlite` or `postgres`.
        #[serde(default)]
        database: Option<DatabaseFeature>,
        /// Paginated lists.
        #[serde(default)]
        pagination: Option<bool>,
        /// `created_at`/`updated_at`.
        #[serde(default)]
        timestamps: Option<bool>,
        /// Deletes mark records.
        #[serde(default)]
        soft_delete: Option<bool>,
        /// Cross-origin requests.
        #[serde(default)]
        cors: Option<bool>,
        /// Requests per client limited.
        #[serde(default)]
        rate_limit: Option<bool>,
    },
    /// Text search on a field, on or off.
    SetSearch {
        /// The resource's singular name.
        resource: String,
        /// The field.
        field: String,
        /// Whether `?q=` searches it.
        searchable: bool,
    },
    /// The app's one-paragraph summary.
    SetSummary {
        /// Free text (only ever rendered as an escaped literal).
        summary: String,
    },
}

/// The field types a patch may name.
pub const TYPES: &[&str] = &[
    "string", "text", "integer", "number", "boolean", "date", "datetime", "email", "url", "enum",
];

impl SpecPatch {
    /// Parses a patch strictly: unknown keys, unknown operations and wrong types are refused.
    pub fn parse(value: &Value) -> Result<Self, String> {
        let patch: SpecPatch =
            serde_json::from_value(value.clone()).map_err(|e| format!("not a valid patch: {e}"))?;
        if patch.operations.len() > MAX_OPERATIONS {
            return Err(format!("at most {MAX_OPERATIONS} operations"));
        }
        Ok(patch)
    }

    /// Applies the patch to a copy of `spec`: the new spec, validated, and what changed; or
    /// every reason it cannot apply, each naming what it is about.
    pub fn apply(&self, spec: &AppSpec) -> Result<(AppSpec, SpecChange), Vec<String>> {
        let mut next = spec.clone();
        let mut change = SpecChange::default();
        let mut errors = Vec::new();
        for (i, op) in self.operations.iter().enumerate() {
            if let Err(e) = apply_one(&mut next, op, &mut change) {
                errors.push(format!("operation {} ({}): {e}", i + 1, op_name(op)));
            }
        }
        if errors.is_empty() {
            if let Err(e) = next.validate() {
                errors.push(format!("the spec would not be valid: {e}"));
            }
        }
        if errors.is_empty() {
            Ok((next, change))
        } else {
            Err(errors)
        }
    }
}
