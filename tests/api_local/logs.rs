//! An app's log through the API, on a real deployment: uvicorn under the local deployer writes
//! one JSON line per request, `GET …/deployments/{environment}/logs` reads them back, and
//! `since` follows on with only what was written after.

use crate::common::{app, App};
use axum::http::StatusCode;

/// Requests to the deployed app at `url`, one after the other, each with its own request id.
/// The app logs a request once it has answered it whole, so each answer is read to its end.
async fn requests(url: &str, paths: &[(&str, &str)]) {
    let client = reqwest::Client::new();
    for (path, id) in paths {
        let res = client
            .get(format!("{url}{path}"))
            .header("X-Request-ID", *id)
            .send()
            .await
            .unwrap();
        assert_eq!(res.headers()["x-request-id"], *id);
        res.bytes().await.unwrap();
        // The app logs a request just after its answer: a moment apart, the lines keep the
        // requests' order (the limits below count from the newest).
        tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    }
}

/// The request lines of a page, as (request id, method, path, status), and its cursor.
async fn page(app: &App, path: &str) -> (Vec<(String, String, String, u64)>, String) {
    let (status, body) = app.call("GET", path, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let lines = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|l| l["fields"].as_object())
        .filter(|f| f.contains_key("request_id"))
        .map(|f| {
            assert!(f["duration_ms"].as_f64().unwrap() >= 0.0, "{f:?}");
            (
                f["request_id"].as_str().unwrap().to_owned(),
                f["method"].as_str().unwrap().to_owned(),
                f["path"].as_str().unwrap().to_owned(),
                f["status"].as_u64().unwrap(),
            )
        })
        .collect();
    (lines, body["next_since"].as_str().unwrap().to_owned())
}

/// The test's own request lines, by request id: the app writes a line once it has answered
/// in full, so two requests one after the other may be logged in either order.
fn ours(lines: &[(String, String, String, u64)]) -> Vec<(&str, &str, u64)> {
    let mut ours: Vec<(&str, &str, u64)> = lines
        .iter()
        .filter(|l| l.0.starts_with("test-"))
        .map(|l| (l.0.as_str(), l.2.as_str(), l.3))
        .collect();
    ours.sort_unstable();
    ours
}

/// A page read again (for up to 10 s) until it holds `want` of the test's own lines: a line is
/// written a moment after its answer.
async fn page_with(
    app: &App,
    path: &str,
    want: usize,
) -> (Vec<(String, String, String, u64)>, String) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let (lines, next) = page(app, path).await;
        if ours(&lines).len() >= want || std::time::Instant::now() > deadline {
            return (lines, next);
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deployed_apps_requests_come_back_as_lines_and_since_follows_on() {
    let app = app().await;
    let id = app.create_project("Logged").await;
    app.say(&id, "API for notes. Each note has a title").await;
    let (_, body) = app.say(&id, "deploy it").await;
    assert_eq!(body["run"]["status"], "succeeded", "{body}");
    let (_, project) = app
        .call("GET", &format!("/api/v2/projects/{id}"), None)
        .await;
    let url: String = project["deployments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["environment"] == "dev")
        .and_then(|d| d["url"].as_str())
        .unwrap()
        .trim_end_matches('/')
        .to_owned();
    let logs = format!("/api/v2/projects/{id}/deployments/dev/logs");

    requests(
        &url,
        &[("/notes?title=secret", "test-1"), ("/notes/999", "test-2")],
    )
    .await;
    let (first, since) = page_with(&app, &logs, 2).await;
    assert_eq!(
        ours(&first),
        [("test-1", "/notes", 200), ("test-2", "/notes/999", 404)]
    );
    assert!(first.iter().all(|l| l.1 == "GET"));
    // Kiln's own health check while it rolled the app out is a line too, before ours.
    assert!(first.iter().any(|l| l.2 == "/health"), "{first:?}");

    // Following on: nothing new, then only what was asked after.
    let (nothing, same) = page(&app, &format!("{logs}?since={since}")).await;
    assert!(nothing.is_empty(), "{nothing:?}");
    requests(&url, &[("/notes", "test-3"), ("/docs", "test-4")]).await;
    let (next, after) = page_with(&app, &format!("{logs}?since={same}"), 2).await;
    assert_eq!(
        ours(&next),
        [("test-3", "/notes", 200), ("test-4", "/docs", 200)]
    );
    assert_eq!(next.len(), 2, "{next:?}");

    // A page holds at most `limit` lines: the latest ones without `since`, the next ones with.
    requests(
        &url,
        &[
            ("/notes", "test-5"),
            ("/notes", "test-6"),
            ("/notes", "test-7"),
        ],
    )
    .await;
    page_with(&app, &format!("{logs}?since={after}"), 3).await;
    let (latest, _) = page(&app, &format!("{logs}?limit=2")).await;
    assert_eq!(
        ours(&latest),
        [("test-6", "/notes", 200), ("test-7", "/notes", 200)]
    );
    let (one, then) = page(&app, &format!("{logs}?since={after}&limit=1")).await;
    assert_eq!(ours(&one), [("test-5", "/notes", 200)]);
    let (rest, _) = page(&app, &format!("{logs}?since={then}")).await;
    assert_eq!(
        ours(&rest),
        [("test-6", "/notes", 200), ("test-7", "/notes", 200)]
    );

    // The query's values never reach the log.
    let (_, raw) = app.call("GET", &logs, None).await;
    assert!(!raw.to_string().contains("secret"), "{raw}");

    // A cursor not handed out, or another backend's, is refused.
    for bad in ["nonsense", "local.e30", "cloudwatch.eyJ0IjoxfQ"] {
        let (status, body) = app.call("GET", &format!("{logs}?since={bad}"), None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert_eq!(body["error"]["code"], "invalid_cursor", "{body}");
    }
}

#[tokio::test]
async fn logs_of_what_is_not_there_are_refused_clearly() {
    let app = app().await;
    let id = app.create_project("Quiet").await;
    let call = |path: String| {
        let app = &app;
        async move { app.call("GET", &path, None).await }
    };
    let base = format!("/api/v2/projects/{id}/deployments");
    let (status, body) = call(format!("{base}/dev/logs")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["error"]["code"], "not_deployed", "{body}");
    let (status, _) = call(format!("{base}/qa/logs")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let other = uuid::Uuid::now_v7();
    let (status, _) = call(format!("/api/v2/projects/{other}/deployments/dev/logs")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    for bad in ["limit=0", "limit=501", "limit=x"] {
        let (status, body) = call(format!("{base}/dev/logs?{bad}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }
}
