//! A case of the benchmark: the project, what the user says, and the spec it should end in, as
//! the JSON files in `tests/understanding/cases/` hold them.

use serde::Deserialize;

/// One conversation and the spec it should end in.
#[derive(Debug, Clone, Deserialize)]
pub struct Case {
    /// Short id, e.g. `a07`.
    pub id: String,
    /// How it is written (terse, chatty, bullets, ...).
    #[serde(default)]
    pub style: String,
    /// The project as created.
    pub project: NewProject,
    /// What the user says, in order.
    pub messages: Vec<CaseMessage>,
    /// The spec after every message.
    pub expect: Expected,
}

/// The project's name and description.
#[derive(Debug, Clone, Deserialize)]
pub struct NewProject {
    /// Name.
    pub name: String,
    /// Description (may be empty).
    #[serde(default)]
    pub description: String,
}

/// One user message and the intent its writer meant.
#[derive(Debug, Clone, Deserialize)]
pub struct CaseMessage {
    /// What the user typed.
    pub text: String,
    /// describe, build, test, deploy, question or rollback.
    pub intent: String,
}

/// The spec a conversation should end in.
#[derive(Debug, Clone, Deserialize)]
pub struct Expected {
    /// Resources.
    pub resources: Vec<ExpectedResource>,
    /// Features.
    pub features: ExpectedFeatures,
}

/// An expected resource.
#[derive(Debug, Clone, Deserialize)]
pub struct ExpectedResource {
    /// Singular name.
    pub name: String,
    /// Other acceptable singular names.
    #[serde(default)]
    pub aka: Vec<String>,
    /// Fields.
    #[serde(default)]
    pub fields: Vec<ExpectedField>,
    /// Resources it belongs to.
    #[serde(default)]
    pub belongs_to: Vec<String>,
}

/// An expected field.
#[derive(Debug, Clone, Deserialize)]
pub struct ExpectedField {
    /// Name.
    pub name: String,
    /// Type label (string, text, integer, number, boolean, date, datetime, email, url, enum).
    #[serde(rename = "type")]
    pub ty: String,
    /// Enum values (none listed: any choices will do).
    #[serde(default)]
    pub values: Vec<String>,
    /// Other acceptable names.
    #[serde(default)]
    pub aka: Vec<String>,
}

/// Expected features.
#[derive(Debug, Clone, Deserialize)]
pub struct ExpectedFeatures {
    /// Authentication on.
    #[serde(default)]
    pub auth: bool,
    /// "sqlite", "postgres" or null.
    #[serde(default)]
    pub database: Option<String>,
    /// Pagination.
    #[serde(default)]
    pub pagination: bool,
    /// Timestamps.
    #[serde(default)]
    pub timestamps: bool,
    /// Soft delete.
    #[serde(default)]
    pub soft_delete: bool,
    /// CORS.
    #[serde(default)]
    pub cors: bool,
    /// Rate limiting.
    #[serde(default)]
    pub rate_limit: bool,
    /// `resource.field` keys searchable.
    #[serde(default)]
    pub search: Vec<String>,
}

/// Every case, from the JSON files in `tests/understanding/cases/`.
pub fn cases() -> Vec<Case> {
    json_lists("cases")
}

/// The items of every JSON list in `tests/understanding/{dir}/`, files in name order.
pub fn json_lists<T: serde::de::DeserializeOwned>(dir: &str) -> Vec<T> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("understanding")
        .join(dir);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
        .iter()
        .flat_map(|p| {
            let text = std::fs::read_to_string(p).unwrap();
            serde_json::from_str::<Vec<T>>(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        })
        .collect()
}
