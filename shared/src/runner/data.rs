//! An environment's data, moved through its running app: the generated app answers
//! `GET {base}/_kiln/data` (every table's rows as JSON) and `PUT {base}/_kiln/data` (every
//! table replaced, in one transaction) to the bearer of the data token its deployer started it
//! with (`KILN_DATA_TOKEN`). Both deployers call it through here.

use std::time::Duration;

use serde_json::Value;

use super::RunnerError;
use crate::model::Cause;

/// The environment variable that hands an app its data token.
pub const DATA_TOKEN_VARIABLE: &str = "KILN_DATA_TOKEN";

/// Longest an export or import may take.
const TIMEOUT: Duration = Duration::from_secs(60);

/// `GET` (export, `body` `None`) or `PUT` (import) of the app at `base_url`.
pub(crate) async fn exchange(
    base_url: &str,
    token: &str,
    body: Option<&Value>,
) -> Result<Value, RunnerError> {
    // Only the app's own address, never a redirect away from it.
    let app = super::AppUrl::new(base_url)?;
    let client = app.client(TIMEOUT, 1)?;
    let url = app.join("/_kiln/data")?;
    let request = match body {
        None => client.get(url),
        Some(b) => client.put(url).json(b),
    };
    let response = request
        .bearer_auth(token)
        .send()
        .await
        .map_err(|e| RunnerError::Unavailable(Cause::with("the app did not answer", e)))?;
    let status = response.status().as_u16();
    let text = response
        .text()
        .await
        .map_err(|e| RunnerError::Unavailable(Cause::with("the app's answer broke off", e)))?;
    let parsed: Option<Value> = serde_json::from_str(&text).ok();
    match status {
        200 => parsed.ok_or_else(|| {
            RunnerError::Process("the app answered its data in a body that is not JSON".into())
        }),
        404 => Err(RunnerError::NotRunning(
            "the version running there cannot export or import its data (it keeps none, or it \
             was built before Kiln could move data): deploy a newer version first"
                .into(),
        )),
        400 | 409 | 413 | 422 => Err(RunnerError::Refused(refusal(parsed.as_ref(), &text))),
        502..=504 => Err(RunnerError::Unavailable(Cause::new(format!(
            "the app did not answer (HTTP {status}); try again when it is up"
        )))),
        _ => Err(RunnerError::Process(format!(
            "the app answered HTTP {status} to a data request: {}",
            text.chars().take(300).collect::<String>()
        ))),
    }
}

/// What the app said was wrong: its `detail`, one problem or a list of them.
fn refusal(body: Option<&Value>, text: &str) -> String {
    match body.and_then(|b| b.get("detail")) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| match i {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect::<Vec<_>>()
            .join("; "),
        _ => text.chars().take(300).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_refusal_lists_every_problem_the_app_named() {
        let body =
            json!({"detail": ["tasks row 1 has no id", "tasks row 2: title may not be null"]});
        assert_eq!(
            refusal(Some(&body), ""),
            "tasks row 1 has no id; tasks row 2: title may not be null"
        );
        assert_eq!(
            refusal(Some(&json!({"detail": "Malformed JSON"})), ""),
            "Malformed JSON"
        );
        assert_eq!(refusal(None, "plain words"), "plain words");
    }
}
