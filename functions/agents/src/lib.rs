//! The agents Lambda's handler: one pipeline step per invocation, and the end of an execution
//! that the pipeline did not report itself.

use kiln::agents::{execution_ended, run_recorded_step, AgentContext, StepRequest};
use kiln::model::RunInput;
use lambda_runtime::Diagnostic;
use serde_json::Value;

/// EventBridge's `detail-type` for a state machine execution that changed status.
pub const EXECUTION_STATUS_CHANGE: &str = "Step Functions Execution Status Change";

/// Runs the step a Task state asked for, or, for EventBridge's event of an execution that
/// ended FAILED, TIMED_OUT or ABORTED, marks its run failed with the reason. Failures carry the ASL error name as their type
/// (`Kiln.Transient`, `Kiln.nothing_to_build`, …), which the state machine's Retry and Catch
/// rules match, as the local interpreter does.
pub async fn handle(ctx: &AgentContext, payload: Value) -> Result<Value, Diagnostic> {
    if payload["detail-type"] == EXECUTION_STATUS_CHANGE {
        return ended(ctx, &payload["detail"]).await.map(|()| Value::Null);
    }
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

/// Reads the run from the ended execution's input (`{"run": …}`, as the API started it).
async fn ended(ctx: &AgentContext, detail: &Value) -> Result<(), Diagnostic> {
    let bad = |what: String| Diagnostic {
        error_type: "Kiln.bad_event".into(),
        error_message: what,
    };
    let input: Value = serde_json::from_str(detail["input"].as_str().unwrap_or_default())
        .map_err(|e| bad(format!("the execution's input is not JSON: {e}")))?;
    let run: RunInput = serde_json::from_value(input["run"].clone())
        .map_err(|e| bad(format!("the execution's input has no run: {e}")))?;
    let status = detail["status"].as_str().unwrap_or_default();
    execution_ended(
        ctx,
        &run,
        status,
        detail["error"].as_str(),
        detail["cause"].as_str(),
    )
    .await
    .map_err(|e| Diagnostic {
        error_type: e.error_name(),
        error_message: e.to_string(),
    })
}
