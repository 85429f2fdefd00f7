//! The role agents. Each step loads what it needs from the stores, does its work, writes its
//! result and its reply, and returns a small result: the same function runs in-process locally
//! and inside the agents Lambda on AWS.

mod architect;
mod backend_developer;
mod documentation_writer;
mod product_manager;

pub use architect::design_for;
pub use backend_developer::is_safe_relative_path;

use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::generator::GenerateError;
use crate::model::FileEntry;
use crate::spec::SpecError;
use crate::store::{ArtifactStore, ProjectStore, StoreError};
use crate::workflow::RunInput;

/// What every step may use.
#[derive(Clone)]
pub struct AgentContext {
    /// Metadata.
    pub projects: Arc<dyn ProjectStore>,
    /// File contents.
    pub artifacts: Arc<dyn ArtifactStore>,
    /// Where each project's git repository lives (`{repos}/{project_id}`), when the backend
    /// keeps one (locally).
    pub repos: Option<std::path::PathBuf>,
}

/// The pipeline steps an agent can run, by the name the state machine uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Step {
    /// Reads the message into the spec.
    ProductManager,
    /// Designs the app from the spec.
    Architect,
    /// Answers a question about the project.
    Answer,
    /// Writes the code into a draft.
    BackendDeveloper,
    /// Adds the README to the draft.
    DocumentationWriter,
    /// Makes the draft a version.
    Release,
}

/// Every step, for lookups by name.
const STEPS: [Step; 6] = [
    Step::ProductManager,
    Step::Architect,
    Step::Answer,
    Step::BackendDeveloper,
    Step::DocumentationWriter,
    Step::Release,
];

impl Step {
    /// The step's name in the state machine and in a run's steps.
    pub fn name(self) -> &'static str {
        match self {
            Step::ProductManager => "ProductManager",
            Step::Architect => "Architect",
            Step::Answer => "Answer",
            Step::BackendDeveloper => "BackendDeveloper",
            Step::DocumentationWriter => "DocumentationWriter",
            Step::Release => "Release",
        }
    }
}

impl FromStr for Step {
    type Err = AgentError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        STEPS
            .into_iter()
            .find(|step| step.name() == s)
            .ok_or_else(|| AgentError::UnknownStep(s.chars().take(64).collect()))
    }
}

/// What a step reports back to the workflow.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StepOutput {
    /// Whether the step changed the project.
    pub changed: bool,
    /// Files written so far by a build, for the next step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub draft: Option<Vec<FileEntry>>,
}

/// Why a step failed.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// A store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The spec would become invalid.
    #[error("the spec would not be valid: {0}")]
    InvalidSpec(#[from] SpecError),
    /// The state machine named a step no agent runs.
    #[error("no agent runs the step `{0}`")]
    UnknownStep(String),
    /// Another writer kept changing the project.
    #[error("the project kept changing while the step ran; try again")]
    Contended,
    /// A build was asked for before anything was described.
    #[error("there is nothing to build yet: describe what the API should manage first")]
    NothingToBuild,
    /// A step that needs the previous step's files was run without them.
    #[error("the step needs the files of the previous build step")]
    NoDraft,
    /// The generator refused the spec.
    #[error(transparent)]
    Generate(#[from] GenerateError),
    /// The project's git repository could not be written.
    #[error("the project's repository: {0}")]
    Repository(String),
}

impl AgentError {
    /// Stable code for the run's error and for `Retry`/`Catch` matching.
    pub fn code(&self) -> &'static str {
        match self {
            AgentError::Store(StoreError::Conflict(_)) | AgentError::Contended => "conflict",
            AgentError::Store(StoreError::NotFound(_)) => "not_found",
            AgentError::Store(_) => "storage_failed",
            AgentError::InvalidSpec(_) => "invalid_spec",
            AgentError::UnknownStep(_) => "unknown_step",
            AgentError::NothingToBuild | AgentError::Generate(GenerateError::NoResources) => {
                "nothing_to_build"
            }
            AgentError::NoDraft => "no_draft",
            AgentError::Generate(_) => "generate_failed",
            AgentError::Repository(_) => "repository_failed",
        }
    }
}

/// Runs one step of the pipeline for a run; `draft` is the previous step's `draft`, if any.
pub async fn run_step(
    ctx: &AgentContext,
    step: Step,
    input: &RunInput,
    draft: Option<&[FileEntry]>,
) -> Result<StepOutput, AgentError> {
    let span = tracing::info_span!("agent_step", step = step.name(), run_id = %input.run_id);
    let _enter = span.enter();
    match step {
        Step::ProductManager => product_manager::read_requirements(ctx, input).await,
        Step::Architect => architect::design(ctx, input).await,
        Step::Answer => product_manager::answer(ctx, input).await,
        Step::BackendDeveloper => backend_developer::write_code(ctx, input).await,
        Step::DocumentationWriter => documentation_writer::write_readme(ctx, input, draft).await,
        Step::Release => backend_developer::release(ctx, input, draft).await,
    }
}

/// Loads the project, applies `change` and saves it, retrying when another writer got there
/// first. `change` returns false to skip the write.
pub(crate) async fn update_project<F>(
    ctx: &AgentContext,
    project_id: uuid::Uuid,
    mut change: F,
) -> Result<crate::model::Project, AgentError>
where
    F: FnMut(&mut crate::model::Project) -> Result<bool, AgentError>,
{
    for _ in 0..5 {
        let mut project = ctx.projects.load_project(project_id).await?;
        if !change(&mut project)? {
            return Ok(project);
        }
        match ctx.projects.update_project(&project).await {
            Ok(saved) => return Ok(saved),
            Err(StoreError::Conflict(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(AgentError::Contended)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_names_round_trip() {
        for step in STEPS {
            assert_eq!(step.name().parse::<Step>().unwrap(), step);
        }
        assert!(matches!(
            "Rm -rf".parse::<Step>(),
            Err(AgentError::UnknownStep(_))
        ));
    }
}
