//! The agents Lambda's handler: one pipeline step per invocation.

use kiln::agents::{run_recorded_step, AgentContext, StepRequest};
use lambda_runtime::Diagnostic;
use serde_json::Value;

/// Runs the step a Task state asked for. Failures carry the ASL error name as their type
/// (`Kiln.Transient`, `Kiln.nothing_to_build`, …), which the state machine's Retry and Catch
/// rules match, as the local interpreter does.
pub async fn handle(ctx: &AgentContext, payload: Value) -> Result<Value, Diagnostic> {
    let request: StepRequest = serde_json::from_value(payload).map_err(|e| Diagnostic {
        error_type: "Kiln.bad_step_input".into(),
        error_message: format!("the input is not a step request: {e}"),
    })?;
    run_recorded_step(ctx, &request)
        .await
        .map_err(|e| Diagnostic {
            error_type: e.error_name(),
            error_message: e.to_string(),
        })
}
