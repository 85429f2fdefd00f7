//! The workflow on AWS: one Step Functions execution per run, of the same state machine.

use async_trait::async_trait;
use std::sync::Arc;

use super::{execution_input, Workflow, WorkflowError};
use crate::model::{now, RunInput, RunStatus};
use crate::store::ProjectStore;

/// Starts executions of the pipeline's state machine; the agent steps record progress in the
/// run, which the API reads back from the store.
pub struct StepFunctionsWorkflow {
    client: aws_sdk_sfn::Client,
    state_machine_arn: String,
    projects: Arc<dyn ProjectStore>,
}

impl StepFunctionsWorkflow {
    /// The IAM actions this workflow calls.
    pub const IAM_ACTIONS: &'static [&'static str] = &["states:StartExecution"];

    /// A workflow that starts executions of `state_machine_arn`.
    pub fn new(
        client: aws_sdk_sfn::Client,
        state_machine_arn: impl Into<String>,
        projects: Arc<dyn ProjectStore>,
    ) -> Self {
        StepFunctionsWorkflow {
            client,
            state_machine_arn: state_machine_arn.into(),
            projects,
        }
    }
}

#[async_trait]
impl Workflow for StepFunctionsWorkflow {
    async fn start(&self, input: RunInput) -> Result<(), WorkflowError> {
        let body = execution_input(&input).to_string();
        // The run id names the execution: a retried start cannot run the pipeline twice.
        self.client
            .start_execution()
            .state_machine_arn(&self.state_machine_arn)
            .name(input.run_id.to_string())
            .input(body)
            .send()
            .await
            .map_err(|e| WorkflowError::from(crate::aws::call_failed("Step Functions", e)))?;
        let mut run = self
            .projects
            .get_run(input.project_id, input.run_id)
            .await?;
        if run.status == RunStatus::Queued {
            run.status = RunStatus::Running;
            run.updated_at = now();
            self.projects.update_run(&run).await?;
        }
        Ok(())
    }
}
