//! Tracing you can follow: every request answers its id (`x-request-id`, also in error bodies),
//! and the logs of one message — its request and every step of its run — carry the same
//! `run_id` and `project_id` in their spans, so one `RUST_LOG` span filter follows it. The logs
//! are captured as JSON from the real local backend (SQLite on disk, the interpreted pipeline)
//! on a single-threaded runtime, so the run's task logs to the same subscriber.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn lines(&self) -> Vec<Value> {
        String::from_utf8_lossy(&self.0.lock().unwrap())
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    }
}

async fn send(router: &axum::Router, req: Request<Body>) -> (StatusCode, Option<String>, Value) {
    let res = router.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let id = res
        .headers()
        .get("x-request-id")
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, id, body)
}

fn post(path: &str, body: Value) -> Request<Body> {
    Request::post(path)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

/// Whether a JSON log line's spans carry `field` = `value`.
fn in_span(line: &Value, field: &str, value: &str) -> bool {
    line["spans"]
        .as_array()
        .is_some_and(|spans| spans.iter().any(|s| s[field] == value))
}

#[test]
fn one_run_id_follows_a_message_from_its_request_to_its_last_step() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_env_filter("info")
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let vars = std::collections::HashMap::from([
            ("KILN_DATA_DIR".to_owned(), dir.path().display().to_string()),
            ("KILN_PIPELINE_TIME_SCALE".to_owned(), "0.1".to_owned()),
        ]);
        let config = kiln::config::Config::from_vars(&vars).unwrap();
        let state = kiln::backends::local_state(&config).await.unwrap();
        let router = kiln::api::router(state);

        let (status, _, project) =
            send(&router, post("/api/v2/projects", json!({"name": "Notes"}))).await;
        assert_eq!(status, StatusCode::CREATED, "{project}");
        let project_id = project["id"].as_str().unwrap().to_owned();
        let path = format!("/api/v2/projects/{project_id}/messages");
        let (status, request_id, posted) = send(
            &router,
            post(
                &path,
                json!({"content": "API for notes. Each note has a title"}),
            ),
        )
        .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{posted}");
        let request_id = request_id.expect("every answer carries its request id");
        let run_id = posted["run"]["id"].as_str().unwrap().to_owned();
        let run_path = format!("/api/v2/projects/{project_id}/runs/{run_id}");
        for _ in 0..200 {
            let (_, _, run) = send(
                &router,
                Request::get(&run_path).body(Body::empty()).unwrap(),
            )
            .await;
            if run["status"] == "succeeded" || run["status"] == "failed" {
                assert_eq!(run["status"], "succeeded", "{run}");
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }

        let lines = captured.lines();
        let of_run: Vec<&Value> = lines
            .iter()
            .filter(|l| in_span(l, "run_id", &run_id))
            .collect();
        let posted_line = of_run
            .iter()
            .find(|l| l["fields"]["message"] == "message posted")
            .unwrap_or_else(|| panic!("the request's log carries the run: {lines:#?}"));
        assert!(
            in_span(posted_line, "request_id", &request_id),
            "{posted_line}"
        );
        assert!(
            in_span(posted_line, "project_id", &project_id),
            "{posted_line}"
        );
        let steps: Vec<&str> = of_run
            .iter()
            .filter(|l| l["fields"]["message"] == "step finished")
            .map(|l| l["span"]["step"].as_str().unwrap())
            .collect();
        assert_eq!(
            steps,
            ["WaitTurn", "ProductManager", "Architect", "Complete"],
            "{lines:#?}"
        );
        for line in of_run
            .iter()
            .filter(|l| l["fields"]["message"] == "step finished")
        {
            assert!(in_span(line, "project_id", &project_id), "{line}");
        }
    });
}

#[tokio::test]
async fn request_ids_come_back_in_the_header_and_in_error_bodies() {
    // A subscriber of its own (logging nowhere): tracing caches what a log site is interesting
    // to across threads, and a thread without one would blind the other test's subscriber.
    let sink = tracing_subscriber::fmt()
        .with_writer(std::io::sink)
        .finish();
    let _guard = tracing::subscriber::set_default(sink);
    let dir = tempfile::tempdir().unwrap();
    let vars = std::collections::HashMap::from([(
        "KILN_DATA_DIR".to_owned(),
        dir.path().display().to_string(),
    )]);
    let config = kiln::config::Config::from_vars(&vars).unwrap();
    let router = kiln::api::router(kiln::backends::local_state(&config).await.unwrap());
    let missing = "/api/v2/projects/0193a000-0000-7000-8000-000000000000";

    // A sane id of the caller's is kept and echoed, in the header and in the error.
    let req = Request::get(missing)
        .header("x-request-id", "trace-42.a_b:c")
        .body(Body::empty())
        .unwrap();
    let (status, id, body) = send(&router, req).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(id.as_deref(), Some("trace-42.a_b:c"));
    assert_eq!(body["error"]["request_id"], "trace-42.a_b:c", "{body}");

    // Anything else is replaced by a fresh id, never echoed.
    for hostile in ["<script>alert(1)</script>", &"x".repeat(200), ""] {
        let req = Request::get(missing)
            .header("x-request-id", hostile)
            .body(Body::empty())
            .unwrap();
        let (_, id, body) = send(&router, req).await;
        let id = id.unwrap();
        assert_ne!(id, hostile);
        assert_eq!(id.len(), 36, "{id}");
        assert_eq!(body["error"]["request_id"], id.as_str(), "{body}");
    }

    // Without one, every request gets its own.
    let (_, first, _) = send(&router, Request::get(missing).body(Body::empty()).unwrap()).await;
    let (_, second, _) = send(&router, Request::get(missing).body(Body::empty()).unwrap()).await;
    assert_ne!(first.unwrap(), second.unwrap());

    // Successful answers carry it too.
    let (status, id, _) = send(
        &router,
        Request::get("/healthz").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(id.is_some());
}
