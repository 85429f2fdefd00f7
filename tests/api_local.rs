//! The v2 router on the local backend (SQLite on disk), driven request by request.

use std::collections::HashMap;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use kiln::api::{AppState, Authenticator};
use kiln::config::Config;
use kiln::model::Owner;
use serde_json::{json, Value};
use tower::ServiceExt;

struct App {
    router: Router,
    state: AppState,
    _dir: tempfile::TempDir,
}

async fn app_with(vars: &[(&str, &str)]) -> App {
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
    let config = Config::from_vars(&map).unwrap();
    let state = kiln::backends::local_state(&config).await.unwrap();
    App {
        router: kiln::api::router(state.clone()),
        state,
        _dir: dir,
    }
}

async fn app() -> App {
    app_with(&[]).await
}

impl App {
    async fn send(&self, req: Request<Body>) -> (StatusCode, Value) {
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

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (StatusCode, Value) {
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

    async fn raw(
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

    async fn create_project(&self, name: &str) -> String {
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
    async fn say(&self, id: &str, content: &str) -> (StatusCode, Value) {
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

    async fn wait_for_run(&self, id: &str, run_id: &str) -> Value {
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

    async fn conversation(&self, id: &str) -> Vec<Value> {
        let (status, body) = self
            .call("GET", &format!("/api/v2/projects/{id}/conversation"), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["items"].as_array().unwrap().clone()
    }
}

#[tokio::test]
async fn a_description_gets_a_plan_from_the_product_manager_and_architect() {
    let app = app().await;
    let id = app.create_project("Task Management API").await;
    let (status, body) = app.say(&id, "Build a REST API for managing tasks").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["message"]["role"], "user");
    assert_eq!(body["run"]["intent"], "create");
    assert_eq!(body["run"]["status"], "succeeded");
    let steps: Vec<&str> = body["run"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(steps, ["ProductManager", "Architect", "Complete"]);

    let run_id = body["run"]["id"].as_str().unwrap();
    let (status, run) = app
        .call("GET", &format!("/api/v2/projects/{id}/runs/{run_id}"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(run["status"], "succeeded");

    let messages = app.conversation(&id).await;
    let who: Vec<(&str, &str)> = messages
        .iter()
        .map(|m| {
            (
                m["role"].as_str().unwrap(),
                m["agent"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        who,
        [
            ("user", ""),
            ("assistant", "product_manager"),
            ("assistant", "architect")
        ]
    );
    assert!(messages[1]["content"].as_str().unwrap().contains("tasks"));
    let plan = &messages[2]["blocks"][0];
    assert_eq!(plan["type"], "plan");
    assert!(plan["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i.as_str().unwrap().starts_with("DELETE /tasks/{id}")));

    let (_, project) = app
        .call("GET", &format!("/api/v2/projects/{id}"), None)
        .await;
    assert_eq!(project["status"], "specified");
    assert_eq!(project["spec"]["resources"][0]["plural"], "tasks");
    assert_eq!(project["design"]["endpoints"].as_array().unwrap().len(), 6);

    // A refinement merges into the spec.
    let (_, body) = app.say(&id, "Add user authentication").await;
    assert_eq!(body["run"]["intent"], "refine");
    let (_, project) = app
        .call("GET", &format!("/api/v2/projects/{id}"), None)
        .await;
    assert_eq!(project["spec"]["features"]["auth"], "jwt");
    assert_eq!(project["spec"]["resources"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn testing_before_describing_anything_says_what_is_missing() {
    let app = app().await;
    let id = app.create_project("p").await;
    let (status, body) = app.say(&id, "run the tests").await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(body["run"]["intent"], "test");
    assert_eq!(body["run"]["status"], "failed");
    assert_eq!(body["run"]["error"]["code"], "nothing_to_build");
    let last = app.conversation(&id).await.pop().unwrap();
    assert_eq!(last["role"], "system");
    assert!(
        last["content"]
            .as_str()
            .unwrap()
            .contains("nothing to build"),
        "{last}"
    );
}

#[tokio::test]
async fn rolling_back_with_one_version_is_refused_clearly() {
    let app = app().await;
    let id = app.create_project("p").await;
    app.say(&id, "Build a REST API for managing tasks").await;
    app.say(&id, "build it").await;
    let (_, body) = app.say(&id, "roll back").await;
    assert_eq!(body["run"]["status"], "failed");
    assert_eq!(body["run"]["error"]["code"], "refused");
    let last = app.conversation(&id).await.pop().unwrap();
    assert!(
        last["content"]
            .as_str()
            .unwrap()
            .contains("version 1 is the only version"),
        "{last}"
    );
}

async fn text(app: &App, path: &str) -> (StatusCode, String) {
    let req = Request::builder().uri(path).body(Body::empty()).unwrap();
    let res = app.router.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

#[tokio::test]
async fn building_makes_immutable_versions_with_files_diffs_exports_and_commits() {
    let app = app().await;
    let id = app.create_project("Task Management API").await;
    app.say(
        &id,
        "Build a REST API for managing tasks. Each task has a title and a due date",
    )
    .await;
    let (status, body) = app.say(&id, "build it").await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(body["run"]["status"], "succeeded", "{body}");
    let steps: Vec<&str> = body["run"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        steps,
        [
            "BackendDeveloper",
            "DocumentationWriter",
            "Release",
            "Complete"
        ]
    );
    let reply = app.conversation(&id).await.pop().unwrap();
    assert_eq!(reply["agent"], "backend_developer");
    assert_eq!(reply["blocks"][0]["type"], "file_list");
    let files: Vec<&str> = reply["blocks"][0]["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    for want in [
        "app/main.py",
        "app/routers/tasks.py",
        "tests/test_tasks.py",
        "README.md",
        "Dockerfile",
        "buildspec.yml",
    ] {
        assert!(files.contains(&want), "{want} not in {files:?}");
    }
    let (_, project) = app
        .call("GET", &format!("/api/v2/projects/{id}"), None)
        .await;
    assert_eq!(
        (
            project["status"].as_str(),
            project["current_version"].as_u64()
        ),
        (Some("built"), Some(1))
    );

    let base = format!("/api/v2/projects/{id}/versions");
    let (status, main) = text(&app, &format!("{base}/1/files/app/main.py")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(main.contains("def create_app("));
    let (_, readme) = text(&app, &format!("{base}/1/files/README.md")).await;
    assert!(readme.starts_with("# Task Management API"));
    for (path, want) in [
        ("..%2F..%2Fkiln.db", StatusCode::BAD_REQUEST),
        ("app%2F..%2F..%2Fkiln.db", StatusCode::BAD_REQUEST),
        ("%2Fetc%2Fpasswd", StatusCode::BAD_REQUEST),
        ("app%00.py", StatusCode::BAD_REQUEST),
        ("app%5C..%5Cx", StatusCode::BAD_REQUEST),
        ("app/nothing.py", StatusCode::NOT_FOUND),
    ] {
        let (status, body) = text(&app, &format!("{base}/1/files/{path}")).await;
        assert_eq!(status, want, "{path}: {body}");
    }
    assert_eq!(
        text(&app, &format!("{base}/9/files/app/main.py")).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        text(&app, &format!("{base}/abc")).await.0,
        StatusCode::NOT_FOUND
    );
    let (_, v1_before) = app.call("GET", &format!("{base}/1"), None).await;

    app.say(&id, "Add user authentication").await;
    let (_, body) = app.say(&id, "build it").await;
    assert_eq!(body["run"]["status"], "succeeded");
    let (_, versions) = app.call("GET", &base, None).await;
    let numbers: Vec<u64> = versions["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["number"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, [2, 1]);
    assert_eq!(
        app.call("GET", &format!("{base}/1"), None).await.1,
        v1_before,
        "version 1 never changes"
    );

    let (status, diff) = text(&app, &format!("{base}/2/diff")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(diff.contains("--- /dev/null\n+++ b/app/auth.py"), "{diff}");
    assert!(diff.contains("+++ b/app/main.py"));
    assert_eq!(text(&app, &format!("{base}/2/diff?from=2")).await.1, "");
    assert_eq!(
        text(&app, &format!("{base}/2/diff?from=7")).await.0,
        StatusCode::NOT_FOUND
    );

    let req = Request::builder()
        .uri(format!("/api/v2/projects/{id}/export?version=1"))
        .body(Body::empty())
        .unwrap();
    let res = app.router.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "application/zip");
    assert!(res.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains("task-management-api-v1.zip"));
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
    let names: Vec<String> = archive.file_names().map(str::to_owned).collect();
    assert_eq!(names.len(), v1_before["manifest"].as_array().unwrap().len());
    let mut main_in_zip = String::new();
    std::io::Read::read_to_string(
        &mut archive.by_name("task-management-api/app/main.py").unwrap(),
        &mut main_in_zip,
    )
    .unwrap();
    assert_eq!(main_in_zip, main);

    let repo = app._dir.path().join("repos").join(&id);
    let log = std::process::Command::new("git")
        .args(["log", "--format=%s"])
        .current_dir(&repo)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&log.stdout),
        "Version 2\nVersion 1\n"
    );
    let shown = std::process::Command::new("git")
        .args(["show", "v1:app/main.py"])
        .current_dir(&repo)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&shown.stdout),
        main,
        "the v1 tag holds version 1"
    );
}

#[tokio::test]
async fn building_before_describing_says_what_is_missing() {
    let app = app().await;
    let id = app.create_project("empty").await;
    let (_, body) = app.say(&id, "build it").await;
    assert_eq!(body["run"]["status"], "failed");
    assert_eq!(body["run"]["error"]["code"], "nothing_to_build");
    let last = app.conversation(&id).await.pop().unwrap();
    assert!(
        last["content"]
            .as_str()
            .unwrap()
            .contains("nothing to build"),
        "{last}"
    );
    let (status, _) = app
        .call("GET", &format!("/api/v2/projects/{id}/export"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_builds_get_distinct_version_numbers() {
    let app = app().await;
    let id = app.create_project("race").await;
    app.say(&id, "Build a REST API for managing tasks").await;
    let builds = (0..4).map(|_| app.say(&id, "build it"));
    for (status, body) in futures_join_all(builds).await {
        assert_eq!(status, StatusCode::ACCEPTED);
        assert_eq!(body["run"]["status"], "succeeded", "{body}");
    }
    let (_, versions) = app
        .call("GET", &format!("/api/v2/projects/{id}/versions"), None)
        .await;
    let numbers: Vec<u64> = versions["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["number"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, [4, 3, 2, 1]);
    let (_, project) = app
        .call("GET", &format!("/api/v2/projects/{id}"), None)
        .await;
    assert_eq!(project["current_version"], 4);
}

async fn futures_join_all<F: std::future::Future>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output> {
    let mut set = Vec::new();
    for f in futures {
        set.push(f);
    }
    let mut out = Vec::new();
    // Poll them together so the builds really overlap.
    let mut pinned: Vec<std::pin::Pin<Box<F>>> = set.into_iter().map(Box::pin).collect();
    let mut results: Vec<Option<F::Output>> = (0..pinned.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in pinned.iter_mut().enumerate() {
            if results[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => results[i] = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.extend(results.into_iter().map(|r| r.unwrap()));
    out
}

#[tokio::test]
async fn questions_are_answered_from_the_project() {
    let app = app().await;
    let id = app.create_project("p").await;
    let (_, body) = app.say(&id, "what can you do?").await;
    assert_eq!(body["run"]["intent"], "question");
    app.say(&id, "Build a REST API for managing books and authors")
        .await;
    let (_, body) = app.say(&id, "What endpoints does it have?").await;
    assert_eq!(body["run"]["status"], "succeeded");
    let answer = app.conversation(&id).await.pop().unwrap();
    assert_eq!(answer["agent"], "product_manager");
    assert!(
        answer["content"].as_str().unwrap().contains("11 endpoints"),
        "{answer}"
    );
    let (_, _) = app.say(&id, "does it have authentication?").await;
    let answer = app.conversation(&id).await.pop().unwrap();
    assert!(
        answer["content"].as_str().unwrap().starts_with("No"),
        "{answer}"
    );
}

#[tokio::test]
async fn a_retry_with_the_same_client_id_returns_the_first_answer() {
    let app = app().await;
    let id = app.create_project("p").await;
    let path = format!("/api/v2/projects/{id}/messages");
    let body =
        json!({"content": "Build a REST API for managing tasks", "client_id": "tab-1/msg-1"});
    let (s1, first) = app.call("POST", &path, Some(body.clone())).await;
    let (s2, second) = app.call("POST", &path, Some(body)).await;
    assert_eq!((s1, s2), (StatusCode::ACCEPTED, StatusCode::OK));
    assert_eq!(first["message"]["id"], second["message"]["id"]);
    assert_eq!(first["run"]["id"], second["run"]["id"]);
    let users = app
        .conversation(&id)
        .await
        .into_iter()
        .filter(|m| m["role"] == "user")
        .count();
    assert_eq!(users, 1, "the retry stored nothing");
}

/// (method, path, content type, body, expected status, expected error code)
type BadRequest = (
    &'static str,
    String,
    &'static str,
    Vec<u8>,
    StatusCode,
    &'static str,
);

#[tokio::test]
async fn bad_input_gets_a_json_error_and_changes_nothing() {
    let app = app_with(&[
        ("KILN_MAX_BODY_BYTES", "4096"),
        ("KILN_MAX_MESSAGE_CHARS", "100"),
    ])
    .await;
    let id = app.create_project("keep me").await;
    app.say(&id, "Build a REST API for managing tasks").await;
    let before_projects = app.call("GET", "/api/v2/projects", None).await.1;
    let before_conversation = app.conversation(&id).await;

    let projects = "/api/v2/projects".to_owned();
    let messages = format!("/api/v2/projects/{id}/messages");
    let ghost = "01a20d2f-8732-7369-8d1f-33154ddffaec";
    let json = "application/json";
    let cases: Vec<BadRequest> = vec![
        (
            "POST",
            projects.clone(),
            json,
            b"{\"name\":".to_vec(),
            StatusCode::BAD_REQUEST,
            "malformed_json",
        ),
        (
            "POST",
            projects.clone(),
            json,
            b"[1,2".to_vec(),
            StatusCode::BAD_REQUEST,
            "malformed_json",
        ),
        (
            "POST",
            projects.clone(),
            json,
            b"".to_vec(),
            StatusCode::BAD_REQUEST,
            "malformed_json",
        ),
        (
            "POST",
            projects.clone(),
            "text/plain",
            b"{\"name\":\"x\"}".to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            "POST",
            projects.clone(),
            json,
            br#"{"name":""}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
        ),
        (
            "POST",
            projects.clone(),
            json,
            br#"{"name":"  \t "}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
        ),
        (
            "POST",
            projects.clone(),
            json,
            br#"{"name":"a\u0000b"}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
        ),
        (
            "POST",
            projects.clone(),
            json,
            br#"{"name":"two\nlines"}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
        ),
        (
            "POST",
            projects.clone(),
            json,
            format!(r#"{{"name":"{}"}}"#, "n".repeat(101)).into_bytes(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
        ),
        (
            "POST",
            projects.clone(),
            json,
            br#"{"name":42}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
        ),
        (
            "POST",
            projects.clone(),
            json,
            br#"{"nmae":"typo"}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
        ),
        (
            "POST",
            projects.clone(),
            json,
            format!(r#"{{"name":"{}"}}"#, "x".repeat(5000)).into_bytes(),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
        (
            "POST",
            messages.clone(),
            json,
            br#"{"content":""}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
        ),
        (
            "POST",
            messages.clone(),
            json,
            br#"{"content":"   "}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
        ),
        (
            "POST",
            messages.clone(),
            json,
            format!(r#"{{"content":"{}"}}"#, "y".repeat(101)).into_bytes(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
        ),
        (
            "POST",
            messages.clone(),
            json,
            br#"{"content":"hi","client_id":"a\u0007"}"#.to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
        ),
        (
            "POST",
            messages.clone(),
            json,
            b"{content: 'hi'}".to_vec(),
            StatusCode::BAD_REQUEST,
            "malformed_json",
        ),
        (
            "POST",
            format!("/api/v2/projects/{ghost}/messages"),
            json,
            br#"{"content":"hi"}"#.to_vec(),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            "POST",
            "/api/v2/projects/not-an-id/messages".into(),
            json,
            br#"{"content":"hi"}"#.to_vec(),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            "GET",
            format!("/api/v2/projects/{ghost}"),
            json,
            vec![],
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            "GET",
            "/api/v2/projects/..%2F..%2Fetc".into(),
            json,
            vec![],
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            "DELETE",
            format!("/api/v2/projects/{ghost}"),
            json,
            vec![],
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            "GET",
            format!("/api/v2/projects/{ghost}/conversation"),
            json,
            vec![],
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            "GET",
            format!("/api/v2/projects/{id}/runs/{ghost}"),
            json,
            vec![],
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            "GET",
            format!("/api/v2/projects/{id}/runs/zzz"),
            json,
            vec![],
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            "GET",
            "/api/v2/projects?limit=abc".into(),
            json,
            vec![],
            StatusCode::BAD_REQUEST,
            "invalid_query",
        ),
        (
            "GET",
            "/api/v2/projects?limit=-1".into(),
            json,
            vec![],
            StatusCode::BAD_REQUEST,
            "invalid_query",
        ),
        (
            "GET",
            "/api/v2/projects?cursor=%%%".into(),
            json,
            vec![],
            StatusCode::BAD_REQUEST,
            "invalid_cursor",
        ),
        (
            "GET",
            "/api/v2/projects?cursor=bm9wZQ".into(),
            json,
            vec![],
            StatusCode::BAD_REQUEST,
            "invalid_cursor",
        ),
        (
            "GET",
            format!("/api/v2/projects/{id}/conversation?cursor=eA"),
            json,
            vec![],
            StatusCode::BAD_REQUEST,
            "invalid_cursor",
        ),
        (
            "GET",
            "/api/v2/nothing-here".into(),
            json,
            vec![],
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            "PUT",
            projects.clone(),
            json,
            b"{}".to_vec(),
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
        (
            "PATCH",
            format!("/api/v2/projects/{id}"),
            json,
            b"{}".to_vec(),
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        ),
    ];
    for (method, path, content_type, body, want_status, want_code) in cases {
        let shown = String::from_utf8_lossy(&body[..body.len().min(40)]).into_owned();
        let (status, err) = app.raw(method, &path, content_type, body).await;
        assert_eq!(status, want_status, "{method} {path} {shown}: {err}");
        assert_eq!(
            err["error"]["code"], want_code,
            "{method} {path} {shown}: {err}"
        );
        assert!(!err["error"]["message"].as_str().unwrap().is_empty());
    }

    assert_eq!(
        app.call("GET", "/api/v2/projects", None).await.1,
        before_projects
    );
    assert_eq!(
        app.conversation(&id).await,
        before_conversation,
        "nothing was lost or added"
    );
}

#[tokio::test]
async fn hostile_text_is_kept_verbatim_and_never_becomes_a_name() {
    let app = app().await;
    let name = "Robert'); DROP TABLE projects;-- \"\"\" <script>alert(1)</script>";
    let id = app.create_project(name).await;
    let hostile = "Build an API for managing __import__('os').system('rm -rf /')s, \
                   \"\"\"quotes\"\"\", class and x'; DROP TABLE messages;--s. Also manage tasks";
    let (status, _) = app.say(&id, hostile).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let (_, project) = app
        .call("GET", &format!("/api/v2/projects/{id}"), None)
        .await;
    assert_eq!(project["name"], name);
    let resources = project["spec"]["resources"].as_array().unwrap();
    assert!(!resources.is_empty(), "{project}");
    for r in resources {
        for key in ["name", "plural"] {
            let ident = r[key].as_str().unwrap();
            assert!(kiln::spec::check_identifier(ident).is_ok(), "{ident}");
        }
    }
    let conversation = app.conversation(&id).await;
    assert_eq!(conversation[0]["content"], hostile);
    assert_eq!(
        app.call("GET", "/api/v2/projects", None).await.1["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn lists_page_with_cursors() {
    let app = app().await;
    for i in 0..5 {
        app.create_project(&format!("p{i}")).await;
    }
    let (_, first) = app.call("GET", "/api/v2/projects?limit=2", None).await;
    assert_eq!(first["items"].as_array().unwrap().len(), 2);
    assert_eq!(first["items"][0]["name"], "p4", "newest first");
    let mut names = Vec::new();
    let mut path = "/api/v2/projects?limit=2".to_owned();
    loop {
        let (_, page) = app.call("GET", &path, None).await;
        names.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["name"].as_str().unwrap().to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/api/v2/projects?limit=2&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(names, ["p4", "p3", "p2", "p1", "p0"]);
}

#[tokio::test]
async fn a_token_is_required_when_set() {
    let app = app_with(&[("KILN_TOKEN", "s3cret-token")]).await;
    let req = |auth: Option<&str>| {
        let mut r = Request::builder().uri("/api/v2/projects");
        if let Some(a) = auth {
            r = r.header("authorization", a);
        }
        r.body(Body::empty()).unwrap()
    };
    for bad in [
        None,
        Some("Bearer wrong"),
        Some("s3cret-token"),
        Some("Basic czNjcmV0"),
    ] {
        let (status, body) = app.send(req(bad)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{bad:?}");
        assert_eq!(body["error"]["code"], "unauthorized");
    }
    assert_eq!(
        app.send(req(Some("Bearer s3cret-token"))).await.0,
        StatusCode::OK
    );
    let health = Request::builder()
        .uri("/healthz")
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        app.send(health).await.0,
        StatusCode::OK,
        "health needs no token"
    );
}

#[tokio::test]
async fn another_owners_project_is_not_found() {
    let base = app().await;
    let mut state = base.state.clone();
    state.auth = Authenticator::Verified;
    // Stands in for the entry point that puts the verified caller into the request.
    let router = kiln::api::router(state).layer(axum::middleware::map_request(
        |mut req: Request<Body>| async move {
            if let Some(o) = req
                .headers()
                .get("x-test-owner")
                .and_then(|v| v.to_str().ok())
            {
                let owner = Owner(o.to_owned());
                req.extensions_mut().insert(owner);
            }
            req
        },
    ));
    let call =
        |owner: Option<&'static str>, method: &'static str, path: String, body: Option<Value>| {
            let router = router.clone();
            async move {
                let mut r = Request::builder().method(method).uri(path);
                if let Some(o) = owner {
                    r = r.header("x-test-owner", o);
                }
                let body = match body {
                    Some(b) => {
                        r = r.header("content-type", "application/json");
                        Body::from(b.to_string())
                    }
                    None => Body::empty(),
                };
                let res = router.oneshot(r.body(body).unwrap()).await.unwrap();
                let status = res.status();
                let bytes = res.into_body().collect().await.unwrap().to_bytes();
                (
                    status,
                    serde_json::from_slice::<Value>(&bytes).unwrap_or(Value::Null),
                )
            }
        };
    let (status, p) = call(
        Some("alice"),
        "POST",
        "/api/v2/projects".into(),
        Some(json!({"name": "mine"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let id = p["id"].as_str().unwrap().to_owned();
    let (_, posted) = call(
        Some("alice"),
        "POST",
        format!("/api/v2/projects/{id}/messages"),
        Some(json!({"content": "Build a REST API for managing tasks"})),
    )
    .await;
    let run = posted["run"]["id"].as_str().unwrap().to_owned();

    for (method, path, body) in [
        ("GET", format!("/api/v2/projects/{id}"), None),
        ("DELETE", format!("/api/v2/projects/{id}"), None),
        ("GET", format!("/api/v2/projects/{id}/conversation"), None),
        (
            "POST",
            format!("/api/v2/projects/{id}/messages"),
            Some(json!({"content": "hi"})),
        ),
        ("GET", format!("/api/v2/projects/{id}/runs/{run}"), None),
    ] {
        let (status, body) = call(Some("bob"), method, path.clone(), body).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {body}");
    }
    let (_, bobs) = call(Some("bob"), "GET", "/api/v2/projects".into(), None).await;
    assert!(bobs["items"].as_array().unwrap().is_empty());
    let (status, _) = call(None, "GET", "/api/v2/projects".into(), None).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "no verified owner, no access"
    );
    let (status, _) = call(Some("alice"), "GET", format!("/api/v2/projects/{id}"), None).await;
    assert_eq!(status, StatusCode::OK, "bob's attempts changed nothing");
}

#[tokio::test]
async fn the_project_limit_is_enforced() {
    let app = app_with(&[("KILN_MAX_PROJECTS", "2")]).await;
    app.create_project("one").await;
    app.create_project("two").await;
    let (status, body) = app
        .call("POST", "/api/v2/projects", Some(json!({"name": "three"})))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["error"]["code"], "project_limit");
}

#[tokio::test]
async fn deleting_a_project_removes_it() {
    let app = app().await;
    let id = app.create_project("gone").await;
    app.say(&id, "Build a REST API for managing tasks").await;
    let (status, body) = app
        .call("DELETE", &format!("/api/v2/projects/{id}"), None)
        .await;
    assert_eq!((status, body), (StatusCode::NO_CONTENT, Value::Null));
    assert_eq!(
        app.call("GET", &format!("/api/v2/projects/{id}"), None)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.call("GET", &format!("/api/v2/projects/{id}/conversation"), None)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn runs_left_unfinished_are_failed_at_the_next_start() {
    let dir = tempfile::tempdir().unwrap();
    let vars: HashMap<String, String> =
        [("KILN_DATA_DIR".to_owned(), dir.path().display().to_string())].into();
    let config = Config::from_vars(&vars).unwrap();
    let state = kiln::backends::local_state(&config).await.unwrap();
    let project = kiln::model::Project::new(Owner::local(), "p".into(), String::new());
    state
        .agents
        .projects
        .create_project(&project)
        .await
        .unwrap();
    let mut message = kiln::model::Message::from_user(project.id, "build it".into(), None);
    let run = kiln::model::Run::queued(project.id, message.id, kiln::model::Intent::Build);
    message.run_id = Some(run.id);
    state
        .agents
        .projects
        .post_user_message(&message, &run)
        .await
        .unwrap();
    drop(state);

    let state = kiln::backends::local_state(&config).await.unwrap();
    let after = state
        .agents
        .projects
        .get_run(project.id, run.id)
        .await
        .unwrap();
    assert_eq!(after.status, kiln::model::RunStatus::Failed);
    assert_eq!(after.error.unwrap().code, "interrupted");
    let page = state
        .agents
        .projects
        .list_messages(project.id, &kiln::store::PageRequest::default())
        .await
        .unwrap();
    let notice = page.items.last().unwrap();
    assert_eq!(notice.role, kiln::model::Role::System);
    assert!(notice.content.contains("did not finish"));
}

#[tokio::test]
async fn the_openapi_document_is_served() {
    let app = app_with(&[("KILN_TOKEN", "t")]).await;
    let (status, doc) = app.call("GET", "/api/v2/openapi.json", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["paths"]["/api/v2/projects/{id}/messages"]["post"].is_object());
    assert!(doc["components"]["schemas"]["Project"].is_object());
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
}

#[tokio::test]
async fn events_stream_this_projects_messages_and_run_progress() {
    let app = app().await;
    let id = app.create_project("watched").await;
    let other = app.create_project("other").await;
    let req = Request::builder()
        .uri(format!("/api/v2/projects/{id}/events"))
        .body(Body::empty())
        .unwrap();
    let res = app.router.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "text/event-stream");
    let mut body = res.into_body();

    app.say(&other, "Build a REST API for managing books").await;
    app.say(&id, "Build a REST API for managing tasks").await;
    let mut seen = String::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !(seen.contains("\"agent\":\"architect\"") && seen.contains("\"status\":\"succeeded\"")) {
        assert!(
            std::time::Instant::now() < deadline,
            "events so far:\n{seen}"
        );
        let frame = tokio::time::timeout(std::time::Duration::from_secs(10), body.frame())
            .await
            .expect("an event in time")
            .expect("the stream stays open")
            .unwrap();
        if let Ok(data) = frame.into_data() {
            seen.push_str(&String::from_utf8_lossy(&data));
        }
    }
    assert!(seen.contains("event: message\ndata: {"), "{seen}");
    assert!(seen.contains("event: run\ndata: {"), "{seen}");
    assert!(
        seen.contains("\"name\":\"ProductManager\""),
        "run events carry the steps: {seen}"
    );
    assert!(
        !seen.contains(&other),
        "another project's events leaked: {seen}"
    );
    assert!(!seen.contains("books"), "{seen}");

    let (status, _) = app
        .call(
            "GET",
            "/api/v2/projects/01a20d2f-8732-7369-8d1f-33154ddffaec/events",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn every_endpoint_hides_another_owners_project() {
    let app = app_with(&[("KILN_TOKENS", "alice:alice-token-123,bob:bob-token-4567")]).await;
    let as_user = |token: &'static str, method: &str, path: String, body: Option<Value>| {
        let mut r = Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {token}"));
        let body = match body {
            Some(b) => {
                r = r.header("content-type", "application/json");
                Body::from(b.to_string())
            }
            None => Body::empty(),
        };
        r.body(body).unwrap()
    };
    let (status, project) = app
        .send(as_user(
            "alice-token-123",
            "POST",
            "/api/v2/projects".into(),
            Some(json!({"name": "alice's"})),
        ))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(project["owner"], "alice");
    let id = project["id"].as_str().unwrap().to_owned();
    let (_, posted) = app
        .send(as_user(
            "alice-token-123",
            "POST",
            format!("/api/v2/projects/{id}/messages"),
            Some(json!({"content": "API for tasks"})),
        ))
        .await;
    let run = posted["run"]["id"].as_str().unwrap().to_owned();
    // Version 1 exists, so that the version endpoints have something to hide.
    app.state
        .agents
        .projects
        .create_version(&kiln::model::Version {
            project_id: id.parse().unwrap(),
            number: 1,
            message_id: None,
            manifest: vec![kiln::model::FileEntry {
                path: "app/main.py".into(),
                sha256: app
                    .state
                    .agents
                    .artifacts
                    .put_blob(b"x = 1\n")
                    .await
                    .unwrap(),
                size: 6,
            }],
            spec: None,
            created_at: kiln::model::now(),
        })
        .await
        .unwrap();

    let (_, doc) = app.call("GET", "/api/v2/openapi.json", None).await;
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        if !path.contains("{id}") {
            continue;
        }
        let concrete = path
            .replace("{id}", &id)
            .replace("{run_id}", &run)
            .replace("{number}", "1")
            .replace("{path}", "app/main.py");
        for method in item.as_object().unwrap().keys() {
            let body = (method == "post").then(|| json!({"content": "let me in"}));
            let (status, err) = app
                .send(as_user(
                    "bob-token-4567",
                    &method.to_uppercase(),
                    concrete.clone(),
                    body.clone(),
                ))
                .await;
            assert_eq!(
                status,
                StatusCode::NOT_FOUND,
                "bob: {method} {concrete}: {err}"
            );
            // And alice may.
            let (status, _) = app
                .send(as_user(
                    "alice-token-123",
                    "GET",
                    format!("/api/v2/projects/{id}"),
                    None,
                ))
                .await;
            assert_eq!(status, StatusCode::OK);
            checked += 1;
        }
    }
    assert!(checked >= 11, "only {checked} endpoints checked");
    let (_, bobs) = app
        .send(as_user(
            "bob-token-4567",
            "GET",
            "/api/v2/projects".into(),
            None,
        ))
        .await;
    assert_eq!(bobs["items"], json!([]));
    let (status, _) = app
        .send(as_user(
            "carol-token-xyz",
            "GET",
            "/api/v2/projects".into(),
            None,
        ))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (_, versions) = app
        .send(as_user(
            "alice-token-123",
            "GET",
            format!("/api/v2/projects/{id}/versions"),
            None,
        ))
        .await;
    assert_eq!(
        versions["items"].as_array().unwrap().len(),
        1,
        "bob's attempts changed nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hundred_concurrent_messages_and_twenty_builds_lose_nothing() {
    let app = app().await;
    let id = app.create_project("busy").await;
    app.say(&id, "API for tasks and projects").await;
    let path = format!("/api/v2/projects/{id}/messages");
    let started = std::time::Instant::now();
    // 100 refinements at once, and a retry of every other one with the same client id.
    let posts = (0..150).map(|k| {
        let i = if k < 100 { k } else { (k - 100) * 2 };
        let body =
            json!({"content": format!("{} have a note{i}", if i % 2 == 0 { "tasks" } else { "projects" }), "client_id": format!("client-{i}")});
        app.call("POST", &path, Some(body))
    });
    let answers = futures_join_all(posts).await;
    let accepted = answers
        .iter()
        .filter(|(s, _)| *s == StatusCode::ACCEPTED)
        .count();
    let replayed = answers.iter().filter(|(s, _)| *s == StatusCode::OK).count();
    assert_eq!(
        (accepted, replayed),
        (100, 50),
        "every message stored once, every retry recognised"
    );
    let mut runs: Vec<String> = answers
        .iter()
        .map(|(_, b)| b["run"]["id"].as_str().unwrap().to_owned())
        .collect();
    runs.sort();
    runs.dedup();
    assert_eq!(runs.len(), 100);
    for run in &runs {
        let done = app.wait_for_run(&id, run).await;
        assert_eq!(done["status"], "succeeded", "{done}");
    }
    println!(
        "100 concurrent messages (+50 retries): all runs done in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let conversation = {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let q = cursor
                .as_ref()
                .map(|c| format!("&cursor={c}"))
                .unwrap_or_default();
            let (_, page) = app
                .call(
                    "GET",
                    &format!("/api/v2/projects/{id}/conversation?limit=200{q}"),
                    None,
                )
                .await;
            items.extend(page["items"].as_array().unwrap().iter().cloned());
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => break,
            }
        }
        items
    };
    let users: Vec<&Value> = conversation
        .iter()
        .filter(|m| m["role"] == "user")
        .collect();
    assert_eq!(
        users.len(),
        101,
        "the description and 100 refinements, each once"
    );
    // Every reply comes after the message it answers.
    for (index, m) in conversation.iter().enumerate() {
        if m["role"] != "user" {
            let asked = conversation
                .iter()
                .position(|u| u["role"] == "user" && u["run_id"] == m["run_id"])
                .unwrap();
            assert!(asked < index, "a reply before its question: {m}");
        }
    }
    let (_, project) = app
        .call("GET", &format!("/api/v2/projects/{id}"), None)
        .await;
    for i in 0..100 {
        let fields = project["spec"]["resources"][i % 2]["fields"]
            .as_array()
            .unwrap();
        assert!(
            fields.iter().any(|f| f["name"] == format!("note{i}")),
            "the refinement note{i} was lost"
        );
    }

    let started = std::time::Instant::now();
    let builds = futures_join_all(
        (0..20).map(|_| app.call("POST", &path, Some(json!({"content": "build it"})))),
    )
    .await;
    for (_, b) in &builds {
        let done = app
            .wait_for_run(&id, b["run"]["id"].as_str().unwrap())
            .await;
        assert_eq!(done["status"], "succeeded", "{done}");
    }
    println!(
        "20 concurrent builds: all done in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let (_, versions) = app
        .call(
            "GET",
            &format!("/api/v2/projects/{id}/versions?limit=50"),
            None,
        )
        .await;
    let items = versions["items"].as_array().unwrap();
    let numbers: Vec<u64> = items
        .iter()
        .map(|v| v["number"].as_u64().unwrap())
        .collect();
    assert_eq!(
        numbers,
        (1..=20).rev().collect::<Vec<u64>>(),
        "versions 1 to 20, none skipped or repeated"
    );
    let times: Vec<&str> = items
        .iter()
        .map(|v| v["created_at"].as_str().unwrap())
        .collect();
    assert!(
        times.windows(2).all(|w| w[0] >= w[1]),
        "higher numbers are newer"
    );
}

#[tokio::test]
async fn an_app_larger_than_kiln_builds_is_refused_with_the_limit() {
    let app = app().await;
    let id = app.create_project("huge").await;
    let letters: Vec<char> = "bcdfghjklmnprtvwxz".chars().collect();
    let names: Vec<String> = (0..45)
        .map(|i| {
            format!(
                "ob{}{}s",
                letters[i / letters.len()],
                letters[i % letters.len()]
            )
        })
        .collect();
    let (_, body) = app
        .say(&id, &format!("An API for managing {}", names.join(", ")))
        .await;
    assert_eq!(body["run"]["status"], "failed", "{body}");
    assert_eq!(body["run"]["error"]["code"], "invalid_spec");
    assert!(
        body["run"]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("at most 40 resources"),
        "{body}"
    );
    let (_, project) = app
        .call("GET", &format!("/api/v2/projects/{id}"), None)
        .await;
    assert!(project["spec"].is_null(), "nothing of it was kept");
}
