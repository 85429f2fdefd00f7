//! The role agents. Each step loads what it needs from the stores, does its work, writes its
//! result and its reply, and returns a small result: the same function runs in-process locally
//! and inside the agents Lambda on AWS.

mod architect;
mod product_manager;

pub use architect::design_for;

use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

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
}

impl Step {
    /// The step's name in the state machine and in a run's steps.
    pub fn name(self) -> &'static str {
        match self {
            Step::ProductManager => "ProductManager",
            Step::Architect => "Architect",
            Step::Answer => "Answer",
        }
    }
}

impl FromStr for Step {
    type Err = AgentError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Step::ProductManager, Step::Architect, Step::Answer]
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
        }
    }
}

/// Runs one step of the pipeline for a run.
pub async fn run_step(
    ctx: &AgentContext,
    step: Step,
    input: &RunInput,
) -> Result<StepOutput, AgentError> {
    let span = tracing::info_span!("agent_step", step = step.name(), run_id = %input.run_id);
    let _enter = span.enter();
    match step {
        Step::ProductManager => product_manager::read_requirements(ctx, input).await,
        Step::Architect => architect::design(ctx, input).await,
        Step::Answer => product_manager::answer(ctx, input).await,
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
        for step in [Step::ProductManager, Step::Architect, Step::Answer] {
            assert_eq!(step.name().parse::<Step>().unwrap(), step);
        }
        assert!(matches!(
            "Rm -rf".parse::<Step>(),
            Err(AgentError::UnknownStep(_))
        ));
    }
}
