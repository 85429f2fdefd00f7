//! What the claims share: the spec every test starts from, and posting a message, following its
//! run and reading the test report its replies carry.

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::{self, call};

/// The spec every test starts from: one resource with one field, no auth, so apps answer at once.
pub const NOTES: &str = "API for notes. Each note has a title";

/// Says something and expects the run to succeed.
pub async fn say(client: &reqwest::Client, api: &str, id: &str, content: &str) -> Value {
    let run = common::say(client, api, id, content).await;
    assert_eq!(run["status"], "succeeded", "{content}: {run}");
    run
}

/// Posts a message and returns its run's id without waiting for it.
pub async fn post(client: &reqwest::Client, api: &str, id: &str, content: &str) -> String {
    let (status, posted) = call(
        client,
        Method::POST,
        format!("{api}/projects/{id}/messages"),
        Some(json!({ "content": content })),
    )
    .await;
    assert_eq!(status, 202, "{content}: {posted}");
    posted["run"]["id"].as_str().unwrap().to_owned()
}

pub async fn get_run(client: &reqwest::Client, api: &str, id: &str, run_id: &str) -> Value {
    let (status, run) = call(
        client,
        Method::GET,
        format!("{api}/projects/{id}/runs/{run_id}"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{run}");
    run
}

/// The test report a run's replies carry.
pub fn test_report(replies: &[Value]) -> Value {
    replies
        .iter()
        .flat_map(|m| m["blocks"].as_array().unwrap().iter())
        .find(|b| b["type"] == "test_report")
        .unwrap_or_else(|| panic!("no test report in {replies:#?}"))
        .clone()
}
