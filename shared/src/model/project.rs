//! A project and where it stands: its status, its environments, its deployments by environment.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{new_id, now, Owner};
use crate::spec::{AppSpec, Design, FieldRef, Question};

/// Where a project stands in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProjectStatus {
    /// Created, nothing described yet.
    New,
    /// A spec and design exist.
    Specified,
    /// At least one version was generated.
    Built,
    /// The current version's tests passed.
    Tested,
    /// The current version runs somewhere.
    Deployed,
}

/// A deployment target.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Environment {
    /// The default target.
    Dev,
    /// Pre-production.
    Staging,
    /// Production.
    Prod,
}

impl Environment {
    /// Every environment, in promotion order.
    pub const ALL: [Environment; 3] = [Environment::Dev, Environment::Staging, Environment::Prod];

    /// The lower-case name used in keys and URLs.
    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Dev => "dev",
            Environment::Staging => "staging",
            Environment::Prod => "prod",
        }
    }
}

/// Longest project name, in characters.
pub const MAX_PROJECT_NAME_CHARS: usize = 100;

/// What is wrong with a project name (already trimmed), if anything: empty, longer than
/// [`MAX_PROJECT_NAME_CHARS`], or holding control characters. A name is only ever shown as text.
pub fn project_name_error(name: &str) -> Option<String> {
    let n = name.chars().count();
    if name.trim().is_empty() {
        Some("`name` must not be empty".to_owned())
    } else if n > MAX_PROJECT_NAME_CHARS {
        Some(format!(
            "`name` is {n} characters long; at most {MAX_PROJECT_NAME_CHARS} are allowed"
        ))
    } else if name.chars().any(char::is_control) {
        Some("`name` may not contain control characters".to_owned())
    } else {
        None
    }
}

/// The name of a copy of the project named `name`: "`name` (copy)", the original shortened
/// to keep it within [`MAX_PROJECT_NAME_CHARS`].
pub fn copy_name(name: &str) -> String {
    const SUFFIX: &str = " (copy)";
    let room = MAX_PROJECT_NAME_CHARS - SUFFIX.chars().count();
    let base: String = name.trim().chars().take(room).collect();
    format!("{}{SUFFIX}", base.trim_end())
}

/// The shape of a [`Project`]'s JSON as this build writes it (as [`super::MESSAGE_FORMAT`]
/// is a message's): a store that keeps it beside the JSON answers a project stored in this
/// shape as it was stored, and reads one in an older shape and writes it again. Raise it with
/// any change to what a Project is written as: `project_format_follows_the_schema` fails
/// until it is.
pub const PROJECT_FORMAT: i64 = 1;

/// A project: one app being described, built, tested and deployed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Project {
    /// UUIDv7.
    pub id: Uuid,
    /// Who may see and change it.
    pub owner: Owner,
    /// Display name, as the user typed it (validated, never code).
    pub name: String,
    /// Free text from the user.
    pub description: String,
    /// Where the project stands.
    pub status: ProjectStatus,
    /// What the user wants, as read from the conversation.
    pub spec: Option<AppSpec>,
    /// The architect's design for the spec.
    pub design: Option<Design>,
    /// The number of the current version, if any was built.
    pub current_version: Option<u32>,
    /// The latest version whose tests all passed.
    #[serde(default)]
    pub tested_version: Option<u32>,
    /// The latest deployment per environment.
    #[serde(default)]
    pub deployments: Vec<DeploymentRef>,
    /// A question the product manager asked instead of guessing, until it is answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_question: Option<Question>,
    /// The field the conversation was last about: what "make it required" refers to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub focus: Option<FieldRef>,
    /// The last steps that changed the project, as `{run}/{step}`, oldest first and at most
    /// [`Project::CHANGED_BY_KEPT`]: a step run again (a retry after a lost answer) finds
    /// itself here and does not apply its change twice.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changed_by: Vec<String>,
    /// Names changed since the current version was built: the next version's migration moves
    /// the data under them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub renamed: Vec<crate::spec::Renamed>,
    /// The reviews of its latest versions (at most [`super::ReviewRecord::KEPT`], oldest
    /// first): whether each may be deployed, and what stops it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reviews: Vec<super::ReviewRecord>,
    /// A deploy that waits for the user's confirmation (of prod, or of going over budget):
    /// the next deploy message that confirms it goes on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub awaiting_confirmation: Option<AwaitingConfirmation>,
    /// A build that met conflicts with the user's own changes, waiting for the user to decide
    /// each conflicting file; no version was made from it. The merge itself is in the
    /// artifact store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merge: Option<super::MergeRef>,
    /// What reading its messages with a language model has cost so far.
    #[serde(default, skip_serializing_if = "super::UsageTotal::is_zero")]
    pub model_usage: super::UsageTotal,
    /// Creation time.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Last change.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// Optimistic-locking counter: every successful update increments it by one.
    pub revision: u64,
}

impl Project {
    /// A new, empty project.
    pub fn new(owner: Owner, name: String, description: String) -> Self {
        let t = now();
        Project {
            id: new_id(),
            owner,
            name,
            description,
            status: ProjectStatus::New,
            spec: None,
            design: None,
            current_version: None,
            tested_version: None,
            deployments: Vec::new(),
            pending_question: None,
            focus: None,
            changed_by: Vec::new(),
            renamed: Vec::new(),
            reviews: Vec::new(),
            model_usage: Default::default(),
            awaiting_confirmation: None,
            merge: None,
            created_at: t,
            updated_at: t,
            revision: 0,
        }
    }

    /// How many of the steps that changed the project it remembers.
    pub const CHANGED_BY_KEPT: usize = 16;

    /// The review of version `number`, if it was reviewed.
    pub fn review_of(&self, number: u32) -> Option<&super::ReviewRecord> {
        self.reviews.iter().rev().find(|r| r.version == number)
    }

    /// The short form used in lists.
    pub fn summary(&self) -> ProjectSummary {
        ProjectSummary {
            id: self.id,
            name: self.name.clone(),
            status: self.status,
            current_version: self.current_version,
            updated_at: self.updated_at,
        }
    }
}

/// A deploy the DevOps engineer asked the user to confirm, with what it was shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AwaitingConfirmation {
    /// Where it would deploy.
    pub environment: Environment,
    /// Which version.
    pub version: u32,
    /// The monthly estimate shown, in US dollars.
    pub monthly_usd: f64,
    /// Whether the deploy that waits asked to go over its review's blocking findings ("deploy
    /// to prod anyway"): the confirmation carries that on.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub review_override: bool,
}

/// The deployment that currently serves one environment of a project.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DeploymentRef {
    /// Target environment.
    pub environment: Environment,
    /// The deployment record.
    pub deployment_id: Uuid,
    /// Where it answers.
    pub url: Option<String>,
    /// Which version runs there.
    pub version: u32,
    /// What it was estimated to cost a month on AWS when it was deployed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monthly_usd: Option<f64>,
}

/// A project as listed in the sidebar.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ProjectSummary {
    /// UUIDv7.
    pub id: Uuid,
    /// Display name.
    pub name: String,
    /// Where the project stands.
    pub status: ProjectStatus,
    /// The current version, if any.
    pub current_version: Option<u32>,
    /// Last change.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

#[cfg(test)]
mod summary_tests {
    use super::*;

    /// A summary's JSON, byte for byte: SQLite hands stored summaries out as they are
    /// (`store/sqlite/lists.rs`), so a change to how one is written (a serde attribute, which
    /// the schema's fingerprint in `api::tests` may not see) needs a schema migration that
    /// writes every stored summary again.
    #[test]
    fn a_summary_is_written_as_it_is_stored() {
        let summary = ProjectSummary {
            id: "01a20d2f-8732-7369-8d1f-33154ddffaec".parse().unwrap(),
            name: "Tasks \"API\"".into(),
            status: ProjectStatus::Built,
            current_version: Some(3),
            updated_at: time::macros::datetime!(2026-11-28 10:00:00.5 UTC),
        };
        assert_eq!(
            serde_json::to_string(&summary).unwrap(),
            r#"{"id":"01a20d2f-8732-7369-8d1f-33154ddffaec","name":"Tasks \"API\"","status":"built","current_version":3,"updated_at":"2026-11-28T10:00:00.5Z"}"#,
            "how a summary is written changed: add a migration that writes the stored ones again"
        );
    }

    /// The stores list projects by reading each stored document as a summary: the two types
    /// must name and write their common fields alike.
    #[test]
    fn a_projects_document_reads_as_its_summary() {
        let mut p = Project::new(Owner("ann".into()), "Tasks".into(), "a description".into());
        p.status = ProjectStatus::Built;
        p.current_version = Some(3);
        let doc = serde_json::to_string(&p).unwrap();
        let read: ProjectSummary = serde_json::from_str(&doc).unwrap();
        assert_eq!(read, p.summary());
    }
}
