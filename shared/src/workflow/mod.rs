//! The workflow port: starts the pipeline for a run.
//!
//! The pipeline is `statemachines/agent_pipeline.asl.json`, the same definition Step Functions
//! runs on AWS. Locally, [`LocalWorkflow`] interprets it on a tokio task; its Task states call
//! [`crate::agents::run_step`], as the agents Lambda does on AWS.

pub mod asl;
#[cfg(test)]
mod shape_tests;
#[cfg(feature = "aws")]
mod step_functions;

#[cfg(feature = "aws")]
pub use step_functions::StepFunctionsWorkflow;

use std::sync::{Arc, OnceLock};

use tracing::Instrument;

use async_trait::async_trait;
use serde_json::{json, Value};

use crate::agents::{report_failure, run_recorded_step, AgentContext, StepRequest};
use crate::model::{now, Cause, ErrorKind, Owner, RunInput, RunStatus};
use crate::store::StoreError;
use asl::{Failure, Options, StateMachine, TaskHandler};

/// Why a workflow could not be started.
#[derive(Debug, thiserror::Error)]
pub enum WorkflowError {
    /// A store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The workflow service is busy or unreachable now; a retry may succeed.
    #[error("the workflow is unavailable: {0}")]
    Unavailable(#[source] Cause),
    /// The workflow could not start the run, and a retry will not change that.
    #[error("the workflow failed: {0}")]
    Failed(#[source] Cause),
}

#[cfg(feature = "aws")]
impl From<crate::aws::CallFailure> for WorkflowError {
    fn from(failure: crate::aws::CallFailure) -> Self {
        match failure {
            crate::aws::CallFailure::Transient(cause) => WorkflowError::Unavailable(cause),
            crate::aws::CallFailure::Permanent(cause) => WorkflowError::Failed(cause),
        }
    }
}

impl WorkflowError {
    /// What the failure means.
    pub fn kind(&self) -> ErrorKind {
        match self {
            WorkflowError::Store(e) => e.kind(),
            WorkflowError::Unavailable(_) => ErrorKind::Transient,
            WorkflowError::Failed(_) => ErrorKind::Permanent,
        }
    }
}

/// Starts pipeline executions.
#[async_trait]
pub trait Workflow: Send + Sync {
    /// Starts the pipeline for `input` and returns at once; progress and outcome are
    /// recorded in the run.
    async fn start(&self, input: RunInput) -> Result<(), WorkflowError>;
}

/// The pipeline definition, as committed.
pub const PIPELINE_JSON: &str = include_str!("../../../statemachines/agent_pipeline.asl.json");

/// The parsed pipeline.
pub fn pipeline() -> Arc<StateMachine> {
    static MACHINE: OnceLock<Arc<StateMachine>> = OnceLock::new();
    MACHINE
        .get_or_init(|| {
            Arc::new(
                StateMachine::from_json(PIPELINE_JSON).expect("the committed pipeline is valid"),
            )
        })
        .clone()
}

/// The execution input for a run: `{"run": …, "state": {}}`.
pub fn execution_input(input: &RunInput) -> Value {
    json!({"run": input, "state": {}})
}

/// Interprets the pipeline in this process, each run in a task of its own. The runs of one
/// project still execute one at a time, in the order their messages arrived: the pipeline's
/// first state (`WaitTurn`) holds a run until every earlier run of its project has finished,
/// exactly as it does on Step Functions.
pub struct LocalWorkflow {
    ctx: AgentContext,
    machine: Arc<StateMachine>,
    options: Options,
}

impl LocalWorkflow {
    /// A workflow over these agents; `time_scale` shortens Wait and Retry intervals (1.0 is
    /// real time).
    pub fn new(ctx: AgentContext, time_scale: f64) -> Self {
        LocalWorkflow {
            ctx,
            machine: pipeline(),
            options: Options { time_scale },
        }
    }
}

/// Runs one execution to its end and records how it ended.
async fn execute_run(
    ctx: &AgentContext,
    machine: &StateMachine,
    options: Options,
    input: RunInput,
) {
    let span = tracing::info_span!(
        "run",
        project_id = %input.project_id,
        run_id = %input.run_id,
        intent = input.intent.as_str(),
    );
    execute_run_in_span(ctx, machine, options, input)
        .instrument(span)
        .await;
}

async fn execute_run_in_span(
    ctx: &AgentContext,
    machine: &StateMachine,
    options: Options,
    input: RunInput,
) {
    let started = async {
        let mut run = ctx.projects.get_run(input.project_id, input.run_id).await?;
        run.status = RunStatus::Running;
        run.updated_at = now();
        ctx.projects.update_run(&run).await
    };
    if let Err(e) = started.await {
        tracing::warn!(error = %e, "the run vanished before it started");
        return;
    }
    let handler = LocalTasks { ctx: ctx.clone() };
    let outcome = asl::execute(machine, execution_input(&input), &handler, options, None).await;
    if let Err(e) = finish(ctx, &input, outcome).await {
        tracing::error!(error = %e, "could not record the end of the run");
    }
}

#[async_trait]
impl Workflow for LocalWorkflow {
    async fn start(&self, input: RunInput) -> Result<(), WorkflowError> {
        let (ctx, machine, options) = (self.ctx.clone(), self.machine.clone(), self.options);
        tokio::spawn(async move {
            execute_run(&ctx, &machine, options, input).await;
        });
        Ok(())
    }
}

/// Records how an execution ended, unless a step already did.
async fn finish(
    ctx: &AgentContext,
    input: &RunInput,
    outcome: Result<Value, Failure>,
) -> Result<(), WorkflowError> {
    let mut run = ctx.projects.get_run(input.project_id, input.run_id).await?;
    if run.status.is_final() {
        return Ok(());
    }
    match outcome {
        Ok(_) => {
            run.status = RunStatus::Succeeded;
            run.updated_at = now();
            ctx.projects.update_run(&run).await?;
        }
        Err(f) => {
            let error = json!({"Error": f.error, "Cause": f.cause});
            if let Err(e) = report_failure(ctx, input, &error).await {
                tracing::error!(error = %e, "could not report the failure");
            }
        }
    }
    Ok(())
}

/// Runs Task states in-process, as the agents Lambda does on AWS.
struct LocalTasks {
    ctx: AgentContext,
}

#[async_trait]
impl TaskHandler for LocalTasks {
    async fn invoke(&self, _state: &str, _resource: &str, input: Value) -> Result<Value, Failure> {
        let request: StepRequest = serde_json::from_value(input).map_err(|e| {
            Failure::new(
                "Kiln.bad_step_input",
                format!("the task input is not a step request: {e}"),
            )
        })?;
        run_recorded_step(&self.ctx, &request)
            .await
            .map_err(|e| Failure::new(e.error_name(), e.to_string()))
    }
}

/// Marks every run that a previous process left queued or running as failed, with a reason
/// in the run and in the conversation. Call once at start, before serving.
pub async fn fail_interrupted_runs(ctx: &AgentContext) -> Result<usize, WorkflowError> {
    let runs = ctx.projects.unfinished_runs().await?;
    let n = runs.len();
    for run in runs {
        let input = RunInput {
            project_id: run.project_id,
            run_id: run.id,
            message_id: run.message_id,
            intent: run.intent,
            owner: Owner::local(),
        };
        let error = json!({
            "Error": "Kiln.interrupted",
            "Cause": "Kiln stopped while this run was in progress, so it did not finish. Send the message again to retry."
        });
        match report_failure(ctx, &input, &error).await {
            Ok(()) | Err(crate::agents::AgentError::Store(StoreError::NotFound(_))) => {}
            Err(crate::agents::AgentError::Store(e)) => return Err(e.into()),
            Err(e) => tracing::warn!(error = %e, "could not mark an interrupted run failed"),
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pipeline_calls_only_steps_that_exist() {
        let machine = pipeline();
        let steps = machine.task_steps();
        assert!(steps.len() >= 15, "{steps:?}");
        for name in steps {
            assert!(
                name.parse::<crate::agents::Step>().is_ok(),
                "the pipeline calls {name}, which no agent runs"
            );
        }
    }

    #[test]
    fn the_committed_pipeline_is_valid_and_routes_every_intent() {
        let def: Value = serde_json::from_str(PIPELINE_JSON).unwrap();
        StateMachine::from_value(&def).unwrap();
        let route = def["States"]["Route"].to_string();
        for intent in [
            "create", "refine", "build", "test", "deploy", "rollback", "clone",
        ] {
            assert!(
                route.contains(&format!("\"{intent}\"")),
                "{intent} is not routed"
            );
        }
        assert_eq!(
            def["States"]["Route"]["Default"], "Answer",
            "questions and the rest get an answer"
        );
        for (name, state) in def["States"].as_object().unwrap() {
            if state["Type"] == "Task" && name != "ReportFailure" {
                if name != "Complete" {
                    assert_ne!(
                        state["Next"], "Done",
                        "{name} must end through Complete, which marks the run succeeded"
                    );
                }
                assert_eq!(
                    state["Catch"][0]["Next"], "ReportFailure",
                    "{name} must report its failures"
                );
                assert!(
                    state["Retry"].is_array(),
                    "{name} must retry transient errors"
                );
                assert!(
                    state["TimeoutSeconds"].is_number(),
                    "{name} needs a time limit"
                );
            }
        }
    }
}
