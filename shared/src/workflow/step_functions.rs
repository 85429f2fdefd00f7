//! The workflow on AWS: one Step Functions execution per run, of the same state machine.

use async_trait::async_trait;

use super::{execution_input, Workflow, WorkflowError};
use crate::model::RunInput;

/// Starts executions of the pipeline's state machine; the agent steps record progress in the
/// run, which the API reads back from the store.
pub struct StepFunctionsWorkflow {
    client: aws_sdk_sfn::Client,
    state_machine_arn: String,
}

impl StepFunctionsWorkflow {
    /// The IAM actions this workflow calls.
    pub const IAM_ACTIONS: &'static [&'static str] = &["states:StartExecution"];

    /// A workflow that starts executions of `state_machine_arn`.
    pub fn new(client: aws_sdk_sfn::Client, state_machine_arn: impl Into<String>) -> Self {
        StepFunctionsWorkflow {
            client,
            state_machine_arn: state_machine_arn.into(),
        }
    }
}

#[async_trait]
impl Workflow for StepFunctionsWorkflow {
    async fn start(&self, input: RunInput) -> Result<(), WorkflowError> {
        let body = execution_input(&input).to_string();
        // The run id names the execution: a retried start cannot run the pipeline twice (a
        // start of a running execution with the same input answers as the first did; one of
        // an execution that has ended is refused as existing, and it did start). The run is
        // not written here: its first step marks it running, and a write from here could
        // land over what a step wrote.
        let started = self
            .client
            .start_execution()
            .state_machine_arn(&self.state_machine_arn)
            .name(input.run_id.to_string())
            .input(body)
            .send()
            .await;
        match started {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_execution_already_exists()) =>
            {
                Ok(())
            }
            Err(e) => Err(WorkflowError::from(crate::aws::call_failed(
                "Step Functions",
                e,
            ))),
        }
    }
}
