//! A project's runs and deployments, listed newest first a page at a time, each list taking
//! back only the cursors it handed out.

use axum::http::StatusCode;
use kiln::model::{Deployment, DeploymentStatus, Environment};
use serde_json::Value;

use crate::common::app;

/// Every page of `path`, `limit` at a time, as the ids in the order given.
async fn walk(app: &crate::common::App, path: &str, limit: u32) -> (Vec<String>, usize) {
    let mut ids = Vec::new();
    let mut pages = 0;
    let mut cursor: Option<String> = None;
    loop {
        let url = match &cursor {
            Some(c) => format!("{path}?limit={limit}&cursor={c}"),
            None => format!("{path}?limit={limit}"),
        };
        let (status, body) = app.call("GET", &url, None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        pages += 1;
        let items = body["items"].as_array().unwrap();
        assert!(items.len() <= limit as usize);
        ids.extend(items.iter().map(|i| i["id"].as_str().unwrap().to_owned()));
        match body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    (ids, pages)
}

#[tokio::test]
async fn runs_are_listed_newest_first_a_page_at_a_time() {
    let app = app().await;
    let id = app.create_project("Pages").await;
    let mut runs = Vec::new();
    for text in [
        "tasks with a title",
        "add a due date",
        "add a priority from low/high",
        "make the title required",
        "what endpoints does it have?",
    ] {
        let (_, body) = app.say(&id, text).await;
        runs.push(body["run"]["id"].as_str().unwrap().to_owned());
    }
    runs.reverse();
    let (listed, pages) = walk(&app, &format!("/api/v2/projects/{id}/runs"), 2).await;
    assert_eq!(listed, runs);
    assert_eq!(pages, 3);
    let (_, first) = app
        .call("GET", &format!("/api/v2/projects/{id}/runs?limit=1"), None)
        .await;
    assert_eq!(first["items"][0]["status"], "succeeded");
    assert_eq!(first["items"][0]["intent"], "question");
    // Exactly a page's worth: no cursor to a page that would be empty.
    let (_, all) = app
        .call("GET", &format!("/api/v2/projects/{id}/runs?limit=5"), None)
        .await;
    assert_eq!(all["items"].as_array().unwrap().len(), 5);
    assert!(all["next_cursor"].is_null(), "{all}");
}

#[tokio::test]
async fn deployments_are_listed_newest_first_a_page_at_a_time() {
    let app = app().await;
    let id = app.create_project("Deployed").await;
    let project_id: uuid::Uuid = id.parse().unwrap();
    let mut made = Vec::new();
    for (i, env) in [Environment::Dev, Environment::Staging, Environment::Dev]
        .into_iter()
        .enumerate()
    {
        let d = Deployment {
            id: uuid::Uuid::now_v7(),
            project_id,
            environment: env,
            version: i as u32 + 1,
            status: DeploymentStatus::Running,
            url: Some(format!("http://127.0.0.1:{}/", 9000 + i)),
            resources: Default::default(),
            logs: String::new(),
            review_override: None,
            monthly_usd: None,
            confirmed_by: None,
            created_at: time::OffsetDateTime::now_utc(),
        };
        app.state.agents.projects.put_deployment(&d).await.unwrap();
        made.push(d.id.to_string());
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    made.reverse();
    let (listed, pages) = walk(&app, &format!("/api/v2/projects/{id}/deployments"), 2).await;
    assert_eq!((listed, pages), (made, 2));
    let (_, one) = app
        .call(
            "GET",
            &format!("/api/v2/projects/{id}/deployments?limit=1"),
            None,
        )
        .await;
    assert_eq!(one["items"][0]["version"], 3);
    assert_eq!(one["items"][0]["environment"], "dev");
}

#[tokio::test]
async fn each_list_takes_back_only_its_own_cursors() {
    let app = app().await;
    let id = app.create_project("Cursors").await;
    for text in ["tasks with a title", "add a due date"] {
        app.say(&id, text).await;
    }
    let (_, runs) = app
        .call("GET", &format!("/api/v2/projects/{id}/runs?limit=1"), None)
        .await;
    let run_cursor = runs["next_cursor"].as_str().unwrap().to_owned();
    let (_, projects) = app.call("GET", "/api/v2/projects?limit=1", None).await;
    let wrong: Vec<String> = ["not%20a%20cursor!".to_owned(), "bm90LWEtcnVu".to_owned()]
        .into_iter()
        .chain(projects["next_cursor"].as_str().map(str::to_owned))
        .collect();
    for cursor in wrong {
        let (status, body) = app
            .call(
                "GET",
                &format!("/api/v2/projects/{id}/runs?cursor={cursor}"),
                None,
            )
            .await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_cursor")),
            "{cursor}: {body}"
        );
    }
    let (status, body) = app
        .call(
            "GET",
            &format!("/api/v2/projects/{id}/deployments?cursor={run_cursor}"),
            None,
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_cursor")),
        "{body}"
    );
    let (status, _) = app
        .call("GET", &format!("/api/v2/projects/{id}/runs?limit=0"), None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let missing = uuid::Uuid::now_v7();
    for list in ["runs", "deployments"] {
        let (status, body): (StatusCode, Value) = app
            .call("GET", &format!("/api/v2/projects/{missing}/{list}"), None)
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    }
}
