//! The domain: projects, their conversation, versions, runs and deployments.
//!
//! Identifiers are UUIDv7 (time-ordered) and timestamps are RFC 3339 UTC, as DESIGN.md says.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::intent::Intent;
use crate::spec::{AppSpec, Design};

/// Who a project belongs to: the JWT `sub` on AWS, the holder of the server's token locally.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(transparent)]
pub struct Owner(pub String);

impl Owner {
    /// The owner of everything on a single-user local server.
    pub fn local() -> Self {
        Owner("local".to_owned())
    }
}

impl std::fmt::Display for Owner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A fresh time-ordered identifier.
///
/// `Uuid::now_v7` keeps ids created by one process strictly increasing, so sorting by id is
/// sorting by creation.
pub fn new_id() -> Uuid {
    Uuid::now_v7()
}

/// The current time, truncated to microseconds so that it survives a round trip through every store.
pub fn now() -> OffsetDateTime {
    let t = OffsetDateTime::now_utc();
    t.replace_nanosecond(t.nanosecond() / 1_000 * 1_000)
        .unwrap_or(t)
}

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
    pub pending_question: Option<crate::spec::Question>,
    /// The field the conversation was last about: what "make it required" refers to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub focus: Option<crate::spec::FieldRef>,
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
            created_at: t,
            updated_at: t,
            revision: 0,
        }
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

/// The deployment that currently serves one environment of a project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DeploymentRef {
    /// Target environment.
    pub environment: Environment,
    /// The deployment record.
    pub deployment_id: Uuid,
    /// Where it answers.
    pub url: Option<String>,
    /// Which version runs there.
    pub version: u32,
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

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The person.
    User,
    /// One of the agents.
    Assistant,
    /// Kiln itself (errors, notices).
    System,
}

/// The role agents of the crew.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Agent {
    /// Reads what the user wants into a spec.
    ProductManager,
    /// Turns the spec into a design.
    Architect,
    /// Writes the code.
    BackendDeveloper,
    /// Runs the tests.
    QaEngineer,
    /// Builds and deploys.
    DevopsEngineer,
    /// Writes the README.
    DocumentationWriter,
}

/// One message of a project's conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Message {
    /// UUIDv7.
    pub id: Uuid,
    /// The project it belongs to.
    pub project_id: Uuid,
    /// Who wrote it.
    pub role: Role,
    /// Which agent answered, for assistant messages.
    pub agent: Option<Agent>,
    /// Plain text; never interpreted as markup or code.
    pub content: String,
    /// Structured attachments.
    #[serde(default)]
    pub blocks: Vec<Block>,
    /// The run this message started or answers.
    pub run_id: Option<Uuid>,
    /// The client's idempotency key, for user messages.
    pub client_id: Option<String>,
    /// Creation time.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl Message {
    /// A message written by the user.
    pub fn from_user(project_id: Uuid, content: String, client_id: Option<String>) -> Self {
        Message {
            id: new_id(),
            project_id,
            role: Role::User,
            agent: None,
            content,
            blocks: Vec::new(),
            run_id: None,
            client_id,
            created_at: now(),
        }
    }

    /// A reply from one of the agents.
    pub fn from_agent(project_id: Uuid, agent: Agent, run_id: Uuid, content: String) -> Self {
        Message {
            id: new_id(),
            project_id,
            role: Role::Assistant,
            agent: Some(agent),
            content,
            blocks: Vec::new(),
            run_id: Some(run_id),
            client_id: None,
            created_at: now(),
        }
    }

    /// A notice from Kiln itself, such as the reason a run failed.
    pub fn from_system(project_id: Uuid, run_id: Uuid, content: String) -> Self {
        Message {
            id: new_id(),
            project_id,
            role: Role::System,
            agent: None,
            content,
            blocks: Vec::new(),
            run_id: Some(run_id),
            client_id: None,
            created_at: now(),
        }
    }
}

/// A structured attachment to a message, rendered by the UI.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Block {
    /// A titled list of points: a plan, a set of endpoints.
    Plan {
        /// Heading.
        title: String,
        /// One line each.
        items: Vec<String>,
    },
    /// What changed in the spec.
    SpecDiff {
        /// Added things, one line each.
        added: Vec<String>,
        /// Removed things, one line each.
        removed: Vec<String>,
        /// Changed things, one line each.
        changed: Vec<String>,
    },
    /// The files of a version.
    FileList {
        /// Version number.
        version: u32,
        /// Paths with sizes.
        files: Vec<FileEntry>,
    },
    /// The results of a test run.
    TestReport {
        /// The version tested.
        version: u32,
        /// Counts and failures.
        report: crate::runner::TestReport,
    },
    /// A question the product manager asks instead of guessing, with the answers it offers.
    Question {
        /// The question.
        text: String,
        /// The answers, in order; replying with one (or its number) picks it.
        options: Vec<String>,
    },
    /// A link, such as a deployment URL.
    Link {
        /// What it is.
        label: String,
        /// Where it goes.
        url: String,
    },
}

/// One file of a version's manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FileEntry {
    /// Relative path inside the project, `/`-separated.
    pub path: String,
    /// Hex SHA-256 of the contents.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
}

/// A generated version of a project. Versions never change once written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Version {
    /// The project.
    pub project_id: Uuid,
    /// 1, 2, … in order of creation.
    pub number: u32,
    /// The message that asked for it.
    pub message_id: Option<Uuid>,
    /// Every file with its hash and size; contents live in the artifact store.
    pub manifest: Vec<FileEntry>,
    /// The spec it was built from.
    #[serde(default)]
    pub spec: Option<AppSpec>,
    /// Creation time.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// The state of a run or of one of its steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Waiting to start.
    Queued,
    /// In progress.
    Running,
    /// Finished well.
    Succeeded,
    /// Finished with an error.
    Failed,
}

impl RunStatus {
    /// Whether nothing more will happen to it.
    pub fn is_final(self) -> bool {
        matches!(self, RunStatus::Succeeded | RunStatus::Failed)
    }
}

/// One step of a run, as the workflow executed it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RunStep {
    /// The step's name in the pipeline, e.g. `ProductManager`.
    pub name: String,
    /// Its state.
    pub status: RunStatus,
    /// When it started.
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub started_at: Option<OffsetDateTime>,
    /// When it ended.
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub finished_at: Option<OffsetDateTime>,
    /// Why it failed.
    pub error: Option<String>,
}

/// One execution of the pipeline, started by one user message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Run {
    /// UUIDv7.
    pub id: Uuid,
    /// The project.
    pub project_id: Uuid,
    /// The message that started it.
    pub message_id: Uuid,
    /// What the message asked for.
    pub intent: Intent,
    /// Overall state.
    pub status: RunStatus,
    /// Steps in the order they ran.
    #[serde(default)]
    pub steps: Vec<RunStep>,
    /// Why it failed.
    pub error: Option<RunError>,
    /// Creation time.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Last change.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl Run {
    /// A queued run for a message.
    pub fn queued(project_id: Uuid, message_id: Uuid, intent: Intent) -> Self {
        let t = now();
        Run {
            id: new_id(),
            project_id,
            message_id,
            intent,
            status: RunStatus::Queued,
            steps: Vec::new(),
            error: None,
            created_at: t,
            updated_at: t,
        }
    }
}

/// Why a run failed, in a form both people and programs can read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RunError {
    /// Stable machine-readable code, e.g. `not_available`, `interrupted`.
    pub code: String,
    /// One sentence for a person.
    pub message: String,
}

/// The state of a deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeploymentStatus {
    /// Being rolled out.
    Pending,
    /// Answering at its URL.
    Running,
    /// Replaced or torn down.
    Stopped,
    /// Did not come up.
    Failed,
}

/// One rollout of a version to an environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Deployment {
    /// UUIDv7.
    pub id: Uuid,
    /// The project.
    pub project_id: Uuid,
    /// Target environment.
    pub environment: Environment,
    /// The version deployed.
    pub version: u32,
    /// Its state.
    pub status: DeploymentStatus,
    /// Where it answers.
    pub url: Option<String>,
    /// Provider-specific handles (process id, ECS service ARN, …).
    #[serde(default)]
    pub resources: serde_json::Map<String, serde_json::Value>,
    /// The last lines of its log.
    #[serde(default)]
    pub logs: String,
    /// Creation time.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_time_ordered() {
        let ids: Vec<Uuid> = (0..1000).map(|_| new_id()).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(ids[0].get_version_num(), 7);
    }

    #[test]
    fn project_round_trips_through_json() {
        let p = Project::new(Owner::local(), "Tasks".into(), "d".into());
        let json = serde_json::to_string(&p).unwrap();
        assert!(json.contains("\"status\":\"new\""));
        let back: Project = serde_json::from_str(&json).unwrap();
        assert_eq!(back, p);
    }

    #[test]
    fn blocks_are_tagged_by_type() {
        let b = Block::Link {
            label: "dev".into(),
            url: "http://127.0.0.1:1/".into(),
        };
        let v = serde_json::to_value(&b).unwrap();
        assert_eq!(v["type"], "link");
    }
}
