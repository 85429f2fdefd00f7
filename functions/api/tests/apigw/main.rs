//! The api function's handler on API Gateway v2 (HTTP API) events, with the AWS backends on a
//! moto server: DynamoDB, S3 and Step Functions.

use std::sync::Arc;

use axum::Router;
use base64::Engine;
use kiln_integration_tests::{Moto, Unreachable};
use serde_json::{json, Value};

mod files;

async fn app(moto: &Moto) -> (Router, aws_sdk_sfn::Client, String) {
    let sdk = moto.sdk_config().await;
    let sfn = aws_sdk_sfn::Client::new(&sdk);
    let definition = kiln::workflow::PIPELINE_JSON.replace(
        "${AgentsFunctionArn}",
        "arn:aws:lambda:us-east-1:123456789012:function:kiln-agents",
    );
    let machine = sfn
        .create_state_machine()
        .name("kiln-pipeline")
        .definition(definition)
        .role_arn("arn:aws:iam::123456789012:role/kiln-states")
        .send()
        .await
        .unwrap()
        .state_machine_arn;
    let (config, _) = kiln_integration_tests::aws_installation(moto, &machine).await;
    let state = kiln::backends::aws_state_with(&config, &sdk).await.unwrap();
    (kiln_api_function::app(state), sfn, machine)
}

/// The AWS backend's state on moto (as `app` makes it), with these settings changed.
async fn state_with(moto: &Moto, changed: &[(&str, &str)]) -> (kiln::api::AppState, String) {
    let sdk = moto.sdk_config().await;
    let (_, _, machine) = app(moto).await;
    let mut vars: std::collections::HashMap<String, String> =
        kiln_integration_tests::aws_settings("kiln", &machine)
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
    for (k, v) in changed {
        vars.insert((*k).to_owned(), (*v).to_owned());
    }
    let config = kiln::config::Config::from_vars(&vars).unwrap();
    let state = kiln::backends::aws_state_with(&config, &sdk).await.unwrap();
    (state, machine)
}

/// Creates a project named `name` for `sub` and returns its id.
async fn new_project(app: &Router, name: &str, sub: &str) -> String {
    let (status, project) = send(
        app,
        event(
            "POST",
            "/api/v2/projects",
            Some(json!({"name": name})),
            Some(sub),
        ),
    )
    .await;
    assert_eq!(status, 201, "{project}");
    project["id"].as_str().unwrap().to_owned()
}

/// An API Gateway v2 event, as the HTTP API sends it after its JWT authorizer accepted `sub`,
/// on the `$default` stage.
fn event(method: &str, path: &str, body: Option<Value>, sub: Option<&str>) -> String {
    event_through(method, path, body, sub, "$default", "api.example.com")
}

/// The same, through `stage` on `domain`, with `rawPath` as API Gateway fills it: with the
/// stage on the API's own `execute-api` address, without it behind a custom domain.
fn event_through(
    method: &str,
    path: &str,
    body: Option<Value>,
    sub: Option<&str>,
    stage: &str,
    domain: &str,
) -> String {
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    // An HTTP API hands the path over percent-decoded, the query string as it came.
    let path = percent_encoding::percent_decode_str(path)
        .decode_utf8()
        .unwrap()
        .into_owned();
    let raw_path = if stage != "$default" && domain.contains(".execute-api.") {
        format!("/{stage}{path}")
    } else {
        path.to_owned()
    };
    let mut e = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": raw_path,
        "rawQueryString": query,
        "headers": {"content-type": "application/json", "host": domain, "user-agent": "curl/8"},
        "requestContext": {
            "accountId": "123456789012", "apiId": "kilnapi", "domainName": domain,
            "domainPrefix": domain.split('.').next().unwrap(), "requestId": "req-1",
            "routeKey": "$default", "stage": stage,
            "time": "24/Nov/2026:10:00:00 +0000", "timeEpoch": 1795000000000u64,
            "http": {"method": method, "path": raw_path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.9", "userAgent": "curl/8"}
        },
        "isBase64Encoded": false
    });
    if let Some(b) = body {
        e["body"] = json!(b.to_string());
    }
    if let Some(sub) = sub {
        e["requestContext"]["authorizer"] = json!({"jwt": {"claims": {"sub": sub, "email": format!("{sub}@example.com")}, "scopes": null}});
    }
    e.to_string()
}

/// What API Gateway makes of the function's answer to `event`, from the JSON the function
/// hands the Runtime API (payload format 2.0): the status, the headers, and the body, decoded
/// from base64 where `isBase64Encoded` says so.
async fn answer(app: &Router, event: &str) -> (u16, serde_json::Map<String, Value>, Vec<u8>) {
    let event = serde_json::from_str(event).expect("a valid API Gateway event");
    let wire = serde_json::to_value(kiln_api_function::handle(app, event).await).unwrap();
    let status = wire["statusCode"].as_u64().expect("a status") as u16;
    let headers = wire["headers"].as_object().cloned().unwrap_or_default();
    let body = match &wire["body"] {
        Value::String(text) if wire["isBase64Encoded"] == true => {
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .expect("base64, as isBase64Encoded says")
        }
        Value::String(text) => text.clone().into_bytes(),
        _ => Vec::new(),
    };
    (status, headers, body)
}

async fn send(app: &Router, event: String) -> (u16, Value) {
    let (status, _, body) = answer(app, &event).await;
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread")]
async fn create_post_and_read_back_through_api_gateway_events() {
    let moto = Moto::start();
    let (app, sfn, machine) = app(&moto).await;

    let (status, project) = send(
        &app,
        event(
            "POST",
            "/api/v2/projects",
            Some(json!({"name": "Task Management API"})),
            Some("alice"),
        ),
    )
    .await;
    assert_eq!(status, 201, "{project}");
    assert_eq!(project["owner"], "alice");
    let id = project["id"].as_str().unwrap().to_owned();

    let body = json!({"content": "Build a REST API for managing tasks", "client_id": "c-1"});
    let (status, posted) = send(
        &app,
        event(
            "POST",
            &format!("/api/v2/projects/{id}/messages"),
            Some(body.clone()),
            Some("alice"),
        ),
    )
    .await;
    assert_eq!(status, 202, "{posted}");
    assert_eq!(posted["run"]["intent"], "create");
    // Queued until its first step records itself: the API writes nothing to a run it started.
    assert_eq!(posted["run"]["status"], "queued");
    let run_id = posted["run"]["id"].as_str().unwrap().to_owned();
    let (status, again) = send(
        &app,
        event(
            "POST",
            &format!("/api/v2/projects/{id}/messages"),
            Some(body),
            Some("alice"),
        ),
    )
    .await;
    assert_eq!(
        (status, &again["run"]["id"]),
        (200, &posted["run"]["id"]),
        "a retry is recognised"
    );

    // The run started one execution of the pipeline, named after it, with the run as input.
    let executions = sfn
        .list_executions()
        .state_machine_arn(&machine)
        .send()
        .await
        .unwrap()
        .executions;
    assert_eq!(executions.len(), 1);
    assert_eq!(executions[0].name, run_id);
    let described = sfn
        .describe_execution()
        .execution_arn(&executions[0].execution_arn)
        .send()
        .await
        .unwrap();
    let input: Value = serde_json::from_str(described.input.as_deref().unwrap()).unwrap();
    assert_eq!(input["run"]["project_id"], id.as_str());
    assert_eq!(input["run"]["intent"], "create");
    assert_eq!(input["run"]["owner"], "alice");

    let (status, conversation) = send(
        &app,
        event(
            "GET",
            &format!("/api/v2/projects/{id}/conversation?limit=10"),
            None,
            Some("alice"),
        ),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        conversation["items"][0]["content"],
        "Build a REST API for managing tasks"
    );
    let (status, run) = send(
        &app,
        event(
            "GET",
            &format!("/api/v2/projects/{id}/runs/{run_id}"),
            None,
            Some("alice"),
        ),
    )
    .await;
    // No Lambda runs here, so no step has marked it running.
    assert_eq!((status, run["status"].as_str()), (200, Some("queued")));

    // Another owner sees nothing; no verified owner gets 401.
    let (status, _) = send(
        &app,
        event("GET", &format!("/api/v2/projects/{id}"), None, Some("bob")),
    )
    .await;
    assert_eq!(status, 404);
    let (_, bobs) = send(&app, event("GET", "/api/v2/projects", None, Some("bob"))).await;
    assert_eq!(bobs["items"], json!([]));
    let (status, err) = send(&app, event("GET", "/api/v2/projects", None, None)).await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (401, Some("unauthorized"))
    );
    let (status, err) = send(
        &app,
        event(
            "POST",
            "/api/v2/projects",
            Some(json!({"name": ""})),
            Some("alice"),
        ),
    )
    .await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (422, Some("invalid_request"))
    );

    let (status, _) = send(
        &app,
        event(
            "DELETE",
            &format!("/api/v2/projects/{id}"),
            None,
            Some("alice"),
        ),
    )
    .await;
    assert_eq!(status, 204);
    let (status, _) = send(
        &app,
        event(
            "GET",
            &format!("/api/v2/projects/{id}"),
            None,
            Some("alice"),
        ),
    )
    .await;
    assert_eq!(status, 404);
}

/// Every stage and domain an installation can be reached through lands on the same routes:
/// `$default` (what the template publishes) and a named stage, each on the API's own address
/// and behind a custom domain.
#[tokio::test(flavor = "multi_thread")]
async fn every_stage_and_domain_reaches_the_routes() {
    let moto = Moto::start();
    let (app, _, _) = app(&moto).await;
    let own = "kilnapi.execute-api.us-east-1.amazonaws.com";
    let custom = "kiln.example.com";
    let (status, created) = send(
        &app,
        event_through(
            "POST",
            "/api/v2/projects",
            Some(json!({"name": "Staged"})),
            Some("carol"),
            "v2",
            own,
        ),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    for (stage, domain) in [
        ("$default", own),
        ("$default", custom),
        ("v2", own),
        ("v2", custom),
        ("api", custom),
        ("api", own),
    ] {
        let (status, page) = send(
            &app,
            event_through(
                "GET",
                "/api/v2/projects?limit=5",
                None,
                Some("carol"),
                stage,
                domain,
            ),
        )
        .await;
        assert_eq!(status, 200, "{stage} on {domain}: {page}");
        assert_eq!(
            page["items"][0]["name"], "Staged",
            "{stage} on {domain}: {page}"
        );
    }
}

/// The SDK settings a Lambda makes from what Lambda sets in its environment.
fn lambda_sdk() -> aws_config::SdkConfig {
    let vars = std::collections::HashMap::from([
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_SESSION_TOKEN", "testing"),
    ]);
    kiln::aws_http::lambda_sdk_from(|name| vars.get(name).map(|v| v.to_string())).unwrap()
}

/// A Lambda configured with the local backend refuses to start, before it opens anything: its
/// data would live on one instance's disk and go with it.
#[tokio::test]
async fn a_lambda_refuses_the_local_backend() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("kiln");
    let vars = std::collections::HashMap::from([
        ("KILN_BACKEND".to_owned(), "local".to_owned()),
        ("KILN_DATA_DIR".to_owned(), data.display().to_string()),
    ]);
    let config = kiln::config::Config::from_vars(&vars).unwrap();
    let sdk = lambda_sdk();
    for (function, started) in [
        ("api", kiln::backends::api_lambda_state(&config, &sdk).await),
        (
            "agents",
            kiln::backends::agents_lambda_state(&config, &sdk).await,
        ),
    ] {
        match started {
            Err(e @ kiln::backends::StartError::LocalInLambda) => {
                assert!(
                    e.to_string().contains("KILN_BACKEND=aws"),
                    "{function}: {e}"
                )
            }
            Err(e) => panic!("{function}: refused for another reason: {e}"),
            Ok(_) => panic!("the {function} function started with the local backend"),
        }
    }
    assert!(!data.exists(), "nothing is opened before the refusal");
}

/// The model is the agents function's: the api function runs no step, so even given a model's
/// settings it reads with the rules and makes no model client (the template gives it none).
#[tokio::test]
async fn only_the_agents_function_builds_the_model() {
    let mut vars: std::collections::HashMap<String, String> = kiln_integration_tests::aws_settings(
        "kiln",
        "arn:aws:states:us-east-1:123456789012:stateMachine:kiln-pipeline",
    )
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    for (k, v) in [
        ("KILN_LLM", "openai"),
        ("KILN_LLM_MODEL", "a-model"),
        ("KILN_LLM_BASE_URL", "http://127.0.0.1:9/v1"),
    ] {
        vars.insert(k.to_owned(), v.to_owned());
    }
    let config = kiln::config::Config::from_vars(&vars).unwrap();
    let sdk = lambda_sdk();
    let api = kiln::backends::api_lambda_state(&config, &sdk)
        .await
        .unwrap();
    assert!(!api.agents.understander.answers_questions(), "the rules");
    let agents = kiln::backends::agents_lambda_state(&config, &sdk)
        .await
        .unwrap();
    assert!(agents.agents.understander.answers_questions(), "the model");
}

/// StartExecution failing after the message and its run are stored leaves no run queued for
/// ever: the run fails with the reason, the answer is an error, and sending the message again
/// with the same `client_id` starts that run (one execution, named after it).
#[tokio::test(flavor = "multi_thread")]
async fn a_run_that_could_not_start_fails_with_the_reason_and_a_retry_starts_it() {
    let moto = Moto::start();
    let sdk = moto.sdk_config().await;
    let (mut state, machine) = state_with(&moto, &[]).await;
    let sfn = aws_sdk_sfn::Client::new(&sdk);
    let down = Unreachable::default();
    let flaky = aws_sdk_sfn::Client::from_conf(
        aws_sdk_sfn::config::Builder::from(&sdk)
            .interceptor(down.clone())
            .build(),
    );
    state.workflow = Arc::new(kiln::workflow::StepFunctionsWorkflow::new(
        flaky,
        machine.clone(),
    ));
    let app = kiln_api_function::app(state);
    let id = new_project(&app, "Tasks", "bob").await;
    let body = json!({"content": "build it", "client_id": "c-9"});
    let post = || {
        event(
            "POST",
            &format!("/api/v2/projects/{id}/messages"),
            Some(body.clone()),
            Some("bob"),
        )
    };

    down.set(true);
    let (status, failed) = send(&app, post()).await;
    assert!(status >= 500, "{status} {failed}");
    let (_, conversation) = send(
        &app,
        event(
            "GET",
            &format!("/api/v2/projects/{id}/conversation"),
            None,
            Some("bob"),
        ),
    )
    .await;
    let message = &conversation["items"][0];
    assert_eq!(message["content"], "build it", "the message is kept");
    let run_id = message["run_id"].as_str().unwrap().to_owned();
    let (_, run) = send(
        &app,
        event(
            "GET",
            &format!("/api/v2/projects/{id}/runs/{run_id}"),
            None,
            Some("bob"),
        ),
    )
    .await;
    assert_eq!(run["status"], "failed", "{run}");
    assert_eq!(run["error"]["code"], "not_started", "{run}");
    assert!(
        run["error"]["message"]
            .as_str()
            .unwrap()
            .contains("same client_id"),
        "{run}"
    );
    let executions = || async {
        sfn.list_executions()
            .state_machine_arn(&machine)
            .send()
            .await
            .unwrap()
            .executions()
            .to_vec()
    };
    assert!(executions().await.is_empty());

    // The same message again, once the service answers: the same run starts.
    down.set(false);
    let (status, retried) = send(&app, post()).await;
    assert_eq!(status, 202, "{retried}");
    assert_eq!(retried["run"]["id"], json!(run_id));
    assert_eq!(retried["run"]["status"], "queued");
    assert!(retried["run"]["error"].is_null(), "{retried}");
    let started = executions().await;
    assert_eq!(started.len(), 1);
    assert_eq!(started[0].name(), run_id);
    // And again: it is running now, so nothing starts twice.
    let (status, _) = send(&app, post()).await;
    assert_eq!(status, 200);
    assert_eq!(executions().await.len(), 1);
}
