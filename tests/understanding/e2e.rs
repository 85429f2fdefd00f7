//! The understanding benchmark end to end: each conversation through a real `kiln serve` — the
//! project created with its name and description, every message posted and its run followed —
//! then deployed, and the deployed app's own OpenAPI document read back: a path per resource,
//! and in its create schema a property per field and link.

use std::time::{Duration, Instant};

use kiln::spec::{class_name, AppSpec, RelationKind};
use serde_json::{json, Value};

use super::{score, Case, Outcome, Score};

/// What one conversation did through the API.
#[derive(Debug)]
pub struct E2eResult {
    /// The case id.
    pub id: String,
    /// The score of the spec the server ended with, against the case's expectation.
    pub score: Score,
    /// The spec the server ended with.
    pub spec: AppSpec,
    /// Things that went wrong on the way (failed runs, a missing deployment, paths or fields
    /// missing from the deployed app's OpenAPI document).
    pub problems: Vec<String>,
}

async fn call(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = client.request(method, url);
    if let Some(b) = body {
        req = req.json(&b);
    }
    match req.send().await {
        Ok(res) => {
            let status = res.status().as_u16();
            let text = res.text().await.unwrap_or_default();
            (
                status,
                serde_json::from_str(&text).unwrap_or(Value::String(text)),
            )
        }
        Err(e) => (0, Value::String(e.to_string())),
    }
}

async fn wait_for_run(client: &reqwest::Client, api: &str, project: &str, run: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let (_, body) = call(
            client,
            reqwest::Method::GET,
            &format!("{api}/projects/{project}/runs/{run}"),
            None,
        )
        .await;
        if body["status"] == "succeeded" || body["status"] == "failed" || Instant::now() > deadline
        {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Plays one case against the server at `base` (e.g. `http://127.0.0.1:8080`).
pub async fn play(client: &reqwest::Client, base: &str, case: &Case) -> E2eResult {
    let api = format!("{base}/api/v2");
    let mut problems = Vec::new();
    let (status, project) = call(
        client,
        reqwest::Method::POST,
        &format!("{api}/projects"),
        Some(json!({"name": case.project.name, "description": case.project.description})),
    )
    .await;
    let id = project["id"].as_str().unwrap_or_default().to_owned();
    if status != 201 {
        problems.push(format!("create answered {status}: {project}"));
    }
    // The description's run, if any, first.
    let (_, conversation) = call(
        client,
        reqwest::Method::GET,
        &format!("{api}/projects/{id}/conversation"),
        None,
    )
    .await;
    if let Some(run) = conversation["items"][0]["run_id"].as_str() {
        let run = wait_for_run(client, &api, &id, run).await;
        if run["status"] != "succeeded" {
            problems.push(format!("the description's run: {}", run["error"]));
        }
    }
    let mut intents = Vec::new();
    for m in &case.messages {
        let (status, posted) = call(
            client,
            reqwest::Method::POST,
            &format!("{api}/projects/{id}/messages"),
            Some(json!({"content": m.text})),
        )
        .await;
        if status != 202 {
            problems.push(format!("{:?} answered {status}: {posted}", m.text));
            continue;
        }
        let run = posted["run"]["id"].as_str().unwrap_or_default().to_owned();
        let intent: kiln::model::Intent = serde_json::from_value(posted["run"]["intent"].clone())
            .unwrap_or(kiln::model::Intent::Question);
        intents.push(super::label(intent));
        let run = wait_for_run(client, &api, &id, &run).await;
        // A refused request (nothing built yet, say) is an answer; a failed build, test run
        // or deployment is a problem.
        if run["status"] != "succeeded"
            && matches!(
                intent,
                kiln::model::Intent::Build
                    | kiln::model::Intent::Test
                    | kiln::model::Intent::Deploy
            )
        {
            problems.push(format!("{:?}: {} {}", m.text, run["status"], run["error"]));
        }
    }
    let (_, mut project) = call(
        client,
        reqwest::Method::GET,
        &format!("{api}/projects/{id}"),
        None,
    )
    .await;
    let spec: AppSpec = serde_json::from_value(project["spec"].clone()).unwrap_or_default();
    if project["deployments"]
        .as_array()
        .is_none_or(|d| d.is_empty())
        && !spec.resources.is_empty()
    {
        let (_, posted) = call(
            client,
            reqwest::Method::POST,
            &format!("{api}/projects/{id}/messages"),
            Some(json!({"content": "deploy it"})),
        )
        .await;
        let run = wait_for_run(
            client,
            &api,
            &id,
            posted["run"]["id"].as_str().unwrap_or_default(),
        )
        .await;
        if run["status"] != "succeeded" {
            problems.push(format!("deploy: {} {}", run["status"], run["error"]));
        }
        project = call(
            client,
            reqwest::Method::GET,
            &format!("{api}/projects/{id}"),
            None,
        )
        .await
        .1;
    }
    if let Some(url) = project["deployments"][0]["url"].as_str() {
        let url = url.trim_end_matches('/');
        let (status, doc) = call(
            client,
            reqwest::Method::GET,
            &format!("{url}/openapi.json"),
            None,
        )
        .await;
        if status != 200 {
            problems.push(format!("the deployed app's openapi.json answered {status}"));
        }
        for r in &spec.resources {
            if doc["paths"].get(format!("/{}", r.plural)).is_none() {
                problems.push(format!("/{} is not in the deployed app", r.plural));
            }
            let schema = &doc["components"]["schemas"][format!("{}Create", class_name(&r.name))]
                ["properties"];
            let mut names: Vec<String> = r.fields.iter().map(|f| f.name.clone()).collect();
            names.extend(
                r.relations
                    .iter()
                    .filter(|rel| rel.kind == RelationKind::BelongsTo)
                    .map(|rel| format!("{}_id", rel.target)),
            );
            for n in names {
                if schema.get(&n).is_none() {
                    problems.push(format!("{}Create has no {n}", class_name(&r.name)));
                }
            }
        }
    } else if !spec.resources.is_empty() {
        problems.push("not deployed".into());
    }
    let outcome = Outcome {
        spec: spec.clone(),
        intents,
    };
    let mut notes = Vec::new();
    let score = score(case, &outcome, &mut notes);
    let (_, _) = call(
        client,
        reqwest::Method::DELETE,
        &format!("{api}/projects/{id}"),
        None,
    )
    .await;
    E2eResult {
        id: case.id.clone(),
        score,
        spec,
        problems,
    }
}
