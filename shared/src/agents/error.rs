//! Why a step failed: the kinds, the stable codes runs record, and the ASL error names the
//! state machine's Retry and Catch rules match.

use crate::generator::GenerateError;
use crate::model::ErrorKind;
use crate::runner::RunnerError;
use crate::spec::SpecError;
use crate::store::StoreError;

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
    /// A step got input it cannot use (a defect of the pipeline, not of the user).
    #[error("the step got unusable input: {0}")]
    BadInput(String),
    /// The generator refused the spec.
    #[error(transparent)]
    Generate(#[from] GenerateError),
    /// The project's git repository could not be written.
    #[error("the project's repository: {0}")]
    Repository(String),
    /// A test or deployment runner failed.
    #[error(transparent)]
    Runner(#[from] RunnerError),
    /// What the user asked for cannot be done, for the reason given.
    #[error("{0}")]
    Refused(String),
    /// A fix request ended with the tests still failing.
    #[error("the tests still fail after {0} repair(s): the diagnosis is above")]
    NotFixed(u32),
    /// A build met the user's own changes and some files conflict: no version was made; it
    /// waits on the project for a decision on each.
    #[error(
        "{0} file(s) conflict with your own changes, so no version was made: for each, keep \
         yours, take the generated one, or edit it"
    )]
    MergeConflicts(usize),
}

impl AgentError {
    /// What the failure means: the store's and the runner's kinds pass through; what the
    /// user asked for that cannot be done is invalid; a defect of the pipeline is permanent.
    pub fn kind(&self) -> ErrorKind {
        match self {
            AgentError::Store(e) => e.kind(),
            AgentError::Contended => ErrorKind::Conflict,
            AgentError::InvalidSpec(_)
            | AgentError::NothingToBuild
            | AgentError::Generate(GenerateError::NoResources)
            | AgentError::Refused(_)
            | AgentError::MergeConflicts(_)
            | AgentError::NotFixed(_) => ErrorKind::Invalid,
            AgentError::UnknownStep(_)
            | AgentError::BadInput(_)
            | AgentError::Generate(_)
            | AgentError::Repository(_) => ErrorKind::Permanent,
            AgentError::Runner(e) => e.kind(),
        }
    }

    /// Stable code, used as the run's error code.
    pub fn code(&self) -> &'static str {
        match self {
            AgentError::Store(StoreError::Conflict(_)) | AgentError::Contended => "conflict",
            AgentError::Store(StoreError::NotFound(_)) => "not_found",
            AgentError::Store(StoreError::Unavailable(_)) => "storage_unavailable",
            AgentError::Store(StoreError::Corrupt(_)) => "storage_corrupt",
            AgentError::Store(_) => "storage_failed",
            AgentError::InvalidSpec(_) => "invalid_spec",
            AgentError::UnknownStep(_) => "unknown_step",
            AgentError::NothingToBuild | AgentError::Generate(GenerateError::NoResources) => {
                "nothing_to_build"
            }
            AgentError::BadInput(_) => "bad_step_input",
            AgentError::Generate(_) => "generate_failed",
            AgentError::Repository(_) => "repository_failed",
            AgentError::Runner(RunnerError::Environment(_)) => "environment_failed",
            AgentError::Runner(RunnerError::Unavailable(_)) => "runner_unavailable",
            AgentError::Runner(_) => "runner_failed",
            AgentError::Refused(_) => "refused",
            AgentError::MergeConflicts(_) => "merge_conflicts",
            AgentError::NotFixed(_) => "not_fixed",
        }
    }

    /// The ASL error name: `Kiln.Transient` for what a retry may fix (the state machine's
    /// Retry rules match it), `Kiln.<code>` otherwise (caught, never retried: corrupt data
    /// reads the same on every attempt).
    pub fn error_name(&self) -> String {
        if self.kind().is_retryable() {
            "Kiln.Transient".to_owned()
        } else {
            format!("Kiln.{}", self.code())
        }
    }
}
