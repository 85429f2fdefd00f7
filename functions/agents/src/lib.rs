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
pub async fn handle(ctx: &AgentContext, mut payload: Value) -> Result<Value, Diagnostic> {
    if payload["detail-type"] == EXECUTION_STATUS_CHANGE {
        return ended(ctx, &payload["detail"]).await.map(|()| Value::Null);
    }
    if let Some(cause) = payload.pointer_mut("/error/Cause") {
        if let Some(text) = cause.as_str() {
            *cause = Value::from(readable_cause(text));
        }
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
        detail["cause"].as_str().map(readable_cause).as_deref(),
    )
    .await
    .map_err(|e| Diagnostic {
        error_type: e.error_name(),
        error_message: e.to_string(),
    })
}

/// What went wrong, from the `Cause` Step Functions gives with a Lambda function's error.
///
/// Step Functions passes on the function's error as Lambda returned it: `Cause` is the error
/// object the runtime posted, as a JSON string (`{"errorType": …, "errorMessage": …}`, with
/// `trace` or `stackTrace` from other runtimes); for an error Lambda gave no type to
/// (`Lambda.Unknown`: out of memory, some timeouts) it is a sentence followed by
/// `Returned payload: ` and that object. When the environment itself ended (a process that
/// exited, a timeout), Lambda writes the message and begins it with `RequestId: <id> Error: `
/// (or, in older runtimes, a time and the request id). The run's error and the conversation
/// get the message alone, or the error's type when it has no message; a cause that holds no
/// such object (the local interpreter's, a state's own) is kept whole.
pub fn readable_cause(cause: &str) -> String {
    let object = cause
        .rsplit_once("Returned payload: ")
        .map_or(cause, |(_, payload)| payload);
    let said = serde_json::from_str::<Value>(object)
        .ok()
        .and_then(|error| {
            let text = |key: &str| {
                error
                    .get(key)
                    .and_then(Value::as_str)
                    .filter(|t| !t.trim().is_empty())
                    .map(str::to_owned)
            };
            text("errorMessage").or_else(|| text("errorType"))
        });
    match said {
        Some(message) => without_request_id(&message).to_owned(),
        None => cause.to_owned(),
    }
}

/// `message` without the request id Lambda begins its own messages with: `RequestId: <id>
/// Error: …`, or `<time> <id> …`.
fn without_request_id(message: &str) -> &str {
    let is_id = |id: &str| {
        id.len() >= 8 && id.chars().all(|c| c.is_ascii_hexdigit() || c == '-') && id.contains('-')
    };
    if let Some((id, rest)) = message
        .strip_prefix("RequestId: ")
        .and_then(|rest| rest.split_once(" Error: "))
    {
        if !id.contains(' ') {
            return rest;
        }
    }
    let mut words = message.splitn(3, ' ');
    match (words.next(), words.next(), words.next()) {
        (Some(time), Some(id), Some(rest))
            if time.contains('T') && time.ends_with('Z') && is_id(id) =>
        {
            rest
        }
        _ => message,
    }
}

#[cfg(test)]
mod tests {
    use super::readable_cause;

    #[test]
    fn a_cause_is_read_out_of_the_error_object_lambda_returned() {
        // A handled error, as this runtime posts it.
        assert_eq!(
            readable_cause(
                r#"{"errorType":"Kiln.nothing_to_build","errorMessage":"Describe the API first: nothing to build yet."}"#
            ),
            "Describe the API first: nothing to build yet."
        );
        // Another runtime's, with its trace.
        assert_eq!(
            readable_cause(
                r#"{"errorMessage": "bad \"input\"", "errorType": "ValueError", "stackTrace": ["  File \"/var/task/app.py\", line 3"]}"#
            ),
            "bad \"input\""
        );
        // The environment ended: Lambda's own message, without its request id.
        assert_eq!(
            readable_cause(
                r#"{"errorMessage":"RequestId: a5f18efa-2f0f-49b9-8edc-6d062570fe18 Error: Runtime exited with error: signal: aborted","errorType":"Runtime.ExitError"}"#
            ),
            "Runtime exited with error: signal: aborted"
        );
        assert_eq!(
            readable_cause(
                r#"{"errorMessage":"RequestId: 0c4e Error: Task timed out after 300.00 seconds","errorType":"Sandbox.Timedout"}"#
            ),
            "Task timed out after 300.00 seconds"
        );
        // Lambda gave the error no type: a sentence, then the payload; an older runtime's
        // timeout begins with the time and the request id.
        assert_eq!(
            readable_cause(
                r#"The cause could not be determined because Lambda did not return an error type. Returned payload: {"errorMessage":"2021-06-03T19:51:07.207Z 3a6c8e9e-8f1d-4a60-9b5c-1d2e3f4a5b6c Task timed out after 30.03 seconds"}"#
            ),
            "Task timed out after 30.03 seconds"
        );
        // No message: the error's type.
        assert_eq!(
            readable_cause(r#"{"errorType":"Runtime.OutOfMemory","errorMessage":""}"#),
            "Runtime.OutOfMemory"
        );
        // A message that only looks like one is kept.
        assert_eq!(
            readable_cause(
                r#"{"errorType":"Kiln.refused","errorMessage":"RequestId: not a request Error: x"}"#
            ),
            "RequestId: not a request Error: x"
        );
        // Not Lambda's object: the cause is the message.
        for cause in [
            "Task timed out after 300.00 seconds",
            "{\"Error\": 1}",
            r#"{"errorMessage": 3}"#,
            "",
        ] {
            assert_eq!(readable_cause(cause), cause);
        }
    }
}
