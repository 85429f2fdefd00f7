//! Runs: one execution of the pipeline for one message, what it was asked to do, and its steps.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{new_id, now, Owner};

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
    /// The language-model calls it made, when a model read its message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<super::ModelUsage>,
    /// The review's blocking findings this run deployed over, because its message said so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review_override: Option<super::ReviewOverride>,
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
            usage: None,
            review_override: None,
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

impl RunError {
    /// The code of a run whose message was stored but whose workflow never started: the same
    /// message again (same `client_id`) starts it.
    pub const NOT_STARTED: &'static str = "not_started";

    /// The error of a run whose pipeline did not start, `why`, with how to start it.
    pub fn not_started(why: &str) -> Self {
        RunError {
            code: Self::NOT_STARTED.into(),
            message: format!("{why}; send the message again with the same client_id to start it."),
        }
    }
}

/// What a message asks for; the workflow routes on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Intent {
    /// Describe a new app.
    Create,
    /// Change the existing spec.
    Refine,
    /// Generate the code.
    Build,
    /// Run the generated tests.
    Test,
    /// Deploy the current version.
    Deploy,
    /// Ask about the project.
    Question,
    /// Go back to an earlier version.
    Rollback,
    /// Copy the project into a new one.
    Clone,
    /// Repair the current version so its tests pass.
    Fix,
}

impl Intent {
    /// The lower-case name used in the workflow's input.
    pub fn as_str(self) -> &'static str {
        match self {
            Intent::Create => "create",
            Intent::Refine => "refine",
            Intent::Build => "build",
            Intent::Test => "test",
            Intent::Deploy => "deploy",
            Intent::Question => "question",
            Intent::Rollback => "rollback",
            Intent::Clone => "clone",
            Intent::Fix => "fix",
        }
    }
}

/// The input of one execution of the pipeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunInput {
    /// The project.
    pub project_id: Uuid,
    /// The run to record progress in.
    pub run_id: Uuid,
    /// The user message that started it.
    pub message_id: Uuid,
    /// What the message asked for.
    pub intent: Intent,
    /// Whose project it is.
    pub owner: Owner,
}
