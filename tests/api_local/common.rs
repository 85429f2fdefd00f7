//! The app under test: the v2 router on a fresh local backend in a directory of its own, and
//! the calls the tests make to it, as a client following its runs would make them.

use std::collections::HashMap;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use kiln::api::AppState;
use kiln::config::Config;
use serde_json::{json, Value};
use tower::ServiceExt;

pub struct App {
    pub router: Router,
    pub state: AppState,
    pub _dir: tempfile::TempDir,
}

/// The settings `vars` make for a server whose data is in a directory of its own.
pub fn config_with(vars: &[(&str, &str)]) -> (Config, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    map.insert("KILN_DATA_DIR".into(), dir.path().display().to_string());
    map.insert(
        "KILN_VENV_DIR".into(),
        kiln_integration_tests::runtime_venv_dir(),
    );
    map.insert("KILN_PIPELINE_TIME_SCALE".into(), "0.1".into());
    // Reviews ask a stand-in of the vulnerability database, never the network.
    map.entry("KILN_OSV_URL".into())
        .or_insert_with(|| NO_ADVISORIES.url());
    (Config::from_vars(&map).unwrap(), dir)
}

/// The vulnerability database the tests' reviews ask unless a test gives its own: it knows of
/// no vulnerability.
static NO_ADVISORIES: std::sync::LazyLock<kiln_integration_tests::fake_osv::FakeOsv> =
    std::sync::LazyLock::new(|| kiln_integration_tests::fake_osv::FakeOsv::start(Vec::new()));

pub async fn app_with(vars: &[(&str, &str)]) -> App {
    let (config, dir) = config_with(vars);
    let state = kiln::backends::local_state(&config).await.unwrap();
    App {
        router: kiln::api::router(state.clone()),
        state,
        _dir: dir,
    }
}

pub async fn app() -> App {
    app_with(&[]).await
}

impl App {
    pub async fn send(&self, req: Request<Body>) -> (StatusCode, Value) {
        let res = self.router.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|_| {
                panic!("not JSON ({status}): {}", String::from_utf8_lossy(&bytes))
            })
        };
        (status, body)
    }

    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut req = Request::builder().method(method).uri(path);
        let body = match body {
            Some(v) => {
                req = req.header("content-type", "application/json");
                Body::from(v.to_string())
            }
            None => Body::empty(),
        };
        self.send(req.body(body).unwrap()).await
    }

    pub async fn raw(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> (StatusCode, Value) {
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", content_type)
            .body(Body::from(body))
            .unwrap();
        self.send(req).await
    }

    pub async fn create_project(&self, name: &str) -> String {
        let (status, body) = self
            .call(
                "POST",
                "/api/v2/projects",
                // No description: these tests count the messages they post themselves.
                Some(json!({"name": name})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["id"].as_str().unwrap().to_owned()
    }

    /// Posts a message and waits for its run to finish, as a client following the run would.
    pub async fn say(&self, id: &str, content: &str) -> (StatusCode, Value) {
        let (status, mut body) = self
            .call(
                "POST",
                &format!("/api/v2/projects/{id}/messages"),
                Some(json!({ "content": content })),
            )
            .await;
        if status.is_success() {
            let run_id = body["run"]["id"].as_str().unwrap().to_owned();
            body["run"] = self.wait_for_run(id, &run_id).await;
        }
        (status, body)
    }

    pub async fn wait_for_run(&self, id: &str, run_id: &str) -> Value {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
        loop {
            let (_, run) = self
                .call("GET", &format!("/api/v2/projects/{id}/runs/{run_id}"), None)
                .await;
            if run["status"] == "succeeded" || run["status"] == "failed" {
                return run;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the run did not finish: {run}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// A text answer: its status and its body.
    pub async fn text(&self, path: &str) -> (StatusCode, String) {
        let req = Request::builder().uri(path).body(Body::empty()).unwrap();
        let res = self.router.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8_lossy(&bytes).into_owned())
    }

    /// A file of a version, or `None` when the version has no such file.
    pub async fn file(&self, id: &str, version: u64, path: &str) -> Option<String> {
        let uri = format!("/api/v2/projects/{id}/versions/{version}/files/{path}");
        let (status, body) = self.text(&uri).await;
        match status {
            StatusCode::OK => Some(body),
            StatusCode::NOT_FOUND => None,
            other => panic!("{other} reading {path}: {body}"),
        }
    }

    /// The project's current version.
    pub async fn current_version(&self, id: &str) -> u64 {
        let (_, project) = self
            .call("GET", &format!("/api/v2/projects/{id}"), None)
            .await;
        project["current_version"].as_u64().unwrap()
    }

    pub async fn conversation(&self, id: &str) -> Vec<Value> {
        let (status, body) = self
            .call("GET", &format!("/api/v2/projects/{id}/conversation"), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["items"].as_array().unwrap().clone()
    }

    /// Runs the fix run `run`'s FixStart step again by hand, as Step Functions retries a Task
    /// whose answer was lost, from the state after try 0 failed on `broken_at` with failures
    /// tracing to `traced`; its answer.
    pub async fn fix_start_again(&self, run: &Value, broken_at: u64, traced: &[&str]) -> Value {
        let id = |v: &Value| v.as_str().unwrap().parse().unwrap();
        let input = kiln::model::RunInput {
            project_id: id(&run["project_id"]),
            run_id: id(&run["id"]),
            message_id: id(&run["message_id"]),
            intent: kiln::model::Intent::Fix,
            owner: kiln::model::Owner::local(),
        };
        let state = json!({"fix": {
            "base": broken_at, "attempt": 0, "version": broken_at, "set_aside": [],
            "job": {"id": "try-0"}, "next": "again",
            "tried": [{
                "attempt": 0, "version": broken_at, "set_aside": [], "failing": 6,
                "total": 16, "signature": "s", "failures": [], "traced": traced,
            }],
        }});
        let request = kiln::agents::StepRequest {
            step: kiln::agents::Step::FixStart,
            run: input,
            state,
            error: None,
        };
        kiln::agents::run_step(&self.state.agents, &request)
            .await
            .unwrap()
    }
}
