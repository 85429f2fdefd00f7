//! The workflow port: starts the pipeline for a run and records each step in the run.
//!
//! `InlineWorkflow` executes the steps in the caller's task, in order, through
//! [`crate::agents::run_step`], the same function the state machine's Task states call.

pub mod asl;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::agents::{run_step, AgentContext, Step};
use crate::intent::Intent;
use crate::model::{now, Message, Owner, Run, RunError, RunStatus, RunStep};
use crate::store::StoreError;

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

/// Why a workflow could not be started.
#[derive(Debug, thiserror::Error)]
pub enum WorkflowError {
    /// A store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Starts pipeline executions.
#[async_trait]
pub trait Workflow: Send + Sync {
    /// Starts the pipeline for `input`. Progress and outcome are recorded in the run.
    async fn start(&self, input: RunInput) -> Result<(), WorkflowError>;
}

/// The steps an intent runs, or `None` when this build of Kiln cannot serve it yet.
pub fn steps_for(intent: Intent) -> Option<&'static [Step]> {
    match intent {
        Intent::Create | Intent::Refine => Some(&[Step::ProductManager, Step::Architect]),
        Intent::Question => Some(&[Step::Answer]),
        Intent::Build => Some(&[
            Step::BackendDeveloper,
            Step::DocumentationWriter,
            Step::Release,
        ]),
        Intent::Test | Intent::Deploy | Intent::Rollback => None,
    }
}

/// Runs every step of a run in the calling task.
pub struct InlineWorkflow {
    ctx: AgentContext,
}

impl InlineWorkflow {
    /// An executor over these stores.
    pub fn new(ctx: AgentContext) -> Self {
        InlineWorkflow { ctx }
    }
}

#[async_trait]
impl Workflow for InlineWorkflow {
    async fn start(&self, input: RunInput) -> Result<(), WorkflowError> {
        let store = &self.ctx.projects;
        let mut run = store.get_run(input.project_id, input.run_id).await?;
        run.status = RunStatus::Running;
        run.updated_at = now();
        store.update_run(&run).await?;

        let Some(steps) = steps_for(input.intent) else {
            let what = match input.intent {
                Intent::Test => "run tests",
                Intent::Deploy => "deploy",
                _ => "roll back",
            };
            let reason = format!(
                "This Kiln server can't {what} yet: it plans, answers questions and builds \
                 versions. Say \"build it\" to generate the code."
            );
            return fail(&self.ctx, run, "not_available", reason).await;
        };
        let mut draft: Option<Vec<crate::model::FileEntry>> = None;
        for step in steps {
            run.steps.push(RunStep {
                name: step.name().to_owned(),
                status: RunStatus::Running,
                started_at: Some(now()),
                finished_at: None,
                error: None,
            });
            run.updated_at = now();
            store.update_run(&run).await?;
            let outcome = run_step(&self.ctx, *step, &input, draft.as_deref()).await;
            let current = run.steps.last_mut().expect("just pushed");
            current.finished_at = Some(now());
            match outcome {
                Ok(output) => {
                    current.status = RunStatus::Succeeded;
                    draft = output.draft;
                }
                Err(e) => {
                    tracing::warn!(step = step.name(), error = %e, "step failed");
                    current.status = RunStatus::Failed;
                    current.error = Some(e.to_string());
                    let reason = format!("The {} step failed: {e}", step.name());
                    return fail(&self.ctx, run, e.code(), reason).await;
                }
            }
        }
        run.status = RunStatus::Succeeded;
        run.updated_at = now();
        store.update_run(&run).await?;
        Ok(())
    }
}

/// Marks the run failed and tells the user why in the conversation.
async fn fail(
    ctx: &AgentContext,
    mut run: Run,
    code: &str,
    reason: String,
) -> Result<(), WorkflowError> {
    run.status = RunStatus::Failed;
    run.error = Some(RunError {
        code: code.to_owned(),
        message: reason.clone(),
    });
    run.updated_at = now();
    ctx.projects.update_run(&run).await?;
    let notice = Message::from_system(run.project_id, run.id, reason);
    ctx.projects.append_message(&notice).await?;
    Ok(())
}

/// Marks every run that a previous process left queued or running as failed, with a reason
/// in the run and in the conversation. Call once at start, before serving.
pub async fn fail_interrupted_runs(ctx: &AgentContext) -> Result<usize, WorkflowError> {
    let runs = ctx.projects.unfinished_runs().await?;
    let n = runs.len();
    for mut run in runs {
        for step in run.steps.iter_mut().filter(|s| !s.status.is_final()) {
            step.status = RunStatus::Failed;
            step.finished_at = Some(now());
            step.error = Some("interrupted".into());
        }
        let reason = "Kiln stopped while this run was in progress, so it did not finish. \
                      Send the message again to retry."
            .to_owned();
        match fail(ctx, run, "interrupted", reason).await {
            Ok(()) | Err(WorkflowError::Store(StoreError::NotFound(_))) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}
