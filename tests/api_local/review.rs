//! The review before deploy, end to end on the local backend: every build is reviewed (Kiln's
//! own checks, ruff, bandit and pip-audit in the runner's virtualenv, pip-audit asking a
//! stand-in of the vulnerability database), the review is a block in the conversation and a
//! record on the project, a high-severity finding refuses the deploy with `review_failed`, and
//! "deploy anyway" deploys over it, recorded on the run and the deployment.

use axum::http::StatusCode;
use kiln_integration_tests::fake_osv::{Advisory, FakeOsv};
use serde_json::Value;

use crate::common::{app_with, App};

/// The code reviewer's reply with its `review` block, for version `n`.
async fn review_of(app: &App, id: &str, n: u64) -> Value {
    let conversation = app.conversation(id).await;
    let reply = conversation
        .iter()
        .find(|m| {
            m["agent"] == "code_reviewer"
                && m["blocks"]
                    .as_array()
                    .is_some_and(|b| b.iter().any(|b| b["type"] == "review" && b["version"] == n))
        })
        .unwrap_or_else(|| panic!("no review of version {n}: {conversation:#?}"));
    reply.clone()
}

async fn project(app: &App, id: &str) -> Value {
    let (status, body) = app
        .call("GET", &format!("/api/v2/projects/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

#[tokio::test(flavor = "multi_thread")]
async fn a_clean_build_is_reviewed_with_every_tool_and_deploys() {
    let osv = FakeOsv::start(Vec::new());
    let app = app_with(&[("KILN_OSV_URL", &osv.url())]).await;
    let id = app.create_project("Reviewed").await;
    app.say(&id, "API for notes. Each note has a title").await;
    let (_, body) = app.say(&id, "build it").await;
    assert_eq!(body["run"]["status"], "succeeded", "{body}");
    let steps: Vec<&str> = body["run"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert!(
        steps.ends_with(&["Release", "Review", "ReviewCheck", "Complete"]),
        "{steps:?}"
    );

    let reply = review_of(&app, &id, 1).await;
    let review = &reply["blocks"][0]["review"];
    assert_eq!(review["counts"]["high"], 0, "{review:#}");
    // Every tool ran: none is reported as not run, and the database was asked about every
    // pinned requirement of the version.
    let rules: Vec<&str> = review["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    assert!(
        !rules
            .iter()
            .any(|r| r.ends_with("/did-not-run") || *r == "pip-audit/unreachable"),
        "{rules:?}"
    );
    let asked: Vec<String> = osv
        .queries()
        .iter()
        .map(|q| {
            format!(
                "{}=={}",
                q["package"]["name"].as_str().unwrap(),
                q["version"].as_str().unwrap()
            )
        })
        .collect();
    for pin in ["fastapi==0.165.0", "uvicorn==0.54.0", "pydantic==2.14.3"] {
        assert!(
            asked.contains(&pin.to_owned()),
            "{pin} not asked: {asked:?}"
        );
    }
    let p = project(&app, &id).await;
    assert_eq!(p["reviews"][0]["version"], 1, "{p:#}");
    assert_eq!(p["reviews"][0]["counts"]["high"], 0);

    // A deploy without a build reviews nothing again: the record answers.
    let queries = osv.queries().len();
    let (_, body) = app.say(&id, "deploy it").await;
    assert_eq!(body["run"]["status"], "succeeded", "{body}");
    assert_eq!(
        osv.queries().len(),
        queries,
        "no second review of version 1"
    );
    assert!(body["run"].get("review_override").is_none(), "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_high_finding_refuses_the_deploy_until_deploy_anyway() {
    // The database knows a vulnerability of the FastAPI every generated project pins.
    let osv = FakeOsv::start(vec![Advisory {
        package: "fastapi".into(),
        version: "0.165.0".into(),
        id: "GHSA-kiln-test-0001".into(),
        summary: "Requests can bypass route dependencies".into(),
        fixed: "0.165.1".into(),
    }]);
    let app = app_with(&[("KILN_OSV_URL", &osv.url())]).await;
    let id = app.create_project("Vulnerable").await;
    app.say(&id, "API for notes. Each note has a title").await;
    let (_, body) = app.say(&id, "build it").await;
    assert_eq!(
        body["run"]["status"], "succeeded",
        "a review never fails a build: {body}"
    );

    let reply = review_of(&app, &id, 1).await;
    let review = &reply["blocks"][0]["review"];
    assert_eq!(review["counts"]["high"], 1, "{review:#}");
    let first = &review["findings"][0];
    assert_eq!(first["rule"], "pip-audit/GHSA-kiln-test-0001");
    assert_eq!(first["severity"], "high");
    assert_eq!(first["file"], "requirements.txt");
    assert!(
        first["fix"].as_str().unwrap().contains("fastapi==0.165.1"),
        "{first}"
    );
    assert!(
        reply["content"].as_str().unwrap().contains("deploy anyway"),
        "{reply}"
    );

    // The tests pass, the review does not: refused, with the finding named.
    let (_, body) = app.say(&id, "deploy it").await;
    let run = &body["run"];
    assert_eq!(run["status"], "failed", "{run}");
    assert_eq!(run["error"]["code"], "review_failed", "{run}");
    assert!(
        run["error"]["message"]
            .as_str()
            .unwrap()
            .contains("requirements.txt pip-audit/GHSA-kiln-test-0001"),
        "{run}"
    );
    let (_, deployments) = app
        .call("GET", &format!("/api/v2/projects/{id}/deployments"), None)
        .await;
    assert_eq!(deployments["items"], serde_json::json!([]), "{deployments}");

    // "Deploy anyway": deployed, and said and recorded as an override.
    let (_, body) = app.say(&id, "I know, deploy it anyway").await;
    let run = &body["run"];
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["review_override"]["version"], 1, "{run}");
    assert_eq!(run["review_override"]["high"], 1, "{run}");
    assert_eq!(run["review_override"]["said"], "I know, deploy it anyway");
    let (_, deployments) = app
        .call("GET", &format!("/api/v2/projects/{id}/deployments"), None)
        .await;
    let deployed = &deployments["items"][0];
    assert_eq!(deployed["status"], "running", "{deployed}");
    assert_eq!(deployed["review_override"]["version"], 1, "{deployed}");
    let conversation = app.conversation(&id).await;
    assert!(
        conversation.iter().any(|m| m["agent"] == "code_reviewer"
            && m["content"]
                .as_str()
                .unwrap()
                .starts_with("Deploying version 1 over its review")),
        "the override is said"
    );
    let p = project(&app, &id).await;
    assert_eq!(p["status"], "deployed", "{p:#}");
}
