//! Versions and their files: a build makes an immutable version whose files, diffs, ZIP export
//! and git commits read back, and a build before anything is described is refused.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::json;
use tower::ServiceExt;

use crate::common::{app, App};

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
            "Plan",
            "BackendDeveloper",
            "DocumentationWriter",
            "Release",
            "Review",
            "ReviewCheck",
            "Complete"
        ]
    );
    // The release's reply, before the reviewer's.
    let reply = app
        .conversation(&id)
        .await
        .into_iter()
        .rev()
        .find(|m| m["agent"] == "backend_developer")
        .unwrap();
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
    let (status, main) = app.text(&format!("{base}/1/files/app/main.py")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(main.contains("def create_app("));
    let (_, readme) = app.text(&format!("{base}/1/files/README.md")).await;
    assert!(readme.starts_with("# Task Management API"));
    for (path, want) in [
        ("..%2F..%2Fkiln.db", StatusCode::BAD_REQUEST),
        ("app%2F..%2F..%2Fkiln.db", StatusCode::BAD_REQUEST),
        ("%2Fetc%2Fpasswd", StatusCode::BAD_REQUEST),
        ("app%00.py", StatusCode::BAD_REQUEST),
        ("app%5C..%5Cx", StatusCode::BAD_REQUEST),
        ("app/nothing.py", StatusCode::NOT_FOUND),
    ] {
        let (status, body) = app.text(&format!("{base}/1/files/{path}")).await;
        assert_eq!(status, want, "{path}: {body}");
    }
    assert_eq!(
        app.text(&format!("{base}/9/files/app/main.py")).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.text(&format!("{base}/abc")).await.0,
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

    let (status, diff) = app.text(&format!("{base}/2/diff")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(diff.contains("--- /dev/null\n+++ b/app/auth.py"), "{diff}");
    assert!(diff.contains("+++ b/app/main.py"));
    assert_eq!(app.text(&format!("{base}/2/diff?from=2")).await.1, "");
    assert_eq!(
        app.text(&format!("{base}/2/diff?from=7")).await.0,
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

/// A project of tasks kept in a database, built once.
async fn tasks_in_a_database() -> (App, String) {
    let app = app().await;
    let id = app.create_project("Tasks").await;
    app.say(
        &id,
        "Build a REST API for managing tasks. Each task has a title and a due date",
    )
    .await;
    app.say(&id, "add database support").await;
    let (_, built) = app.say(&id, "build it").await;
    assert_eq!(built["run"]["status"], "succeeded", "{built}");
    (app, id)
}

/// A rename said in the conversation reaches the next version's migration as a rename: the
/// data moves with the name, and is not dropped and made again empty.
#[tokio::test]
async fn names_changed_in_the_conversation_move_the_data_in_the_next_migration() {
    let (app, id) = tasks_in_a_database().await;
    app.say(&id, "rename title to headline").await;
    app.say(&id, "rename tasks to chores").await;
    let (_, built) = app.say(&id, "build it").await;
    assert_eq!(built["run"]["status"], "succeeded", "{built}");
    let (status, v2) = app
        .call("GET", &format!("/api/v2/projects/{id}/versions/2"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        v2["renames"],
        json!([
            {"kind": "field", "resource": "chore", "from": "title", "to": "headline"},
            {"kind": "resource", "from": "task", "to": "chore"},
        ]),
        "{v2}"
    );
    let (status, revision) = app
        .text(&format!(
            "/api/v2/projects/{id}/versions/2/files/migrations/versions/v0002.py"
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{revision}");
    assert!(
        revision.contains(r#"op.rename_table("tasks", "chores")"#),
        "{revision}"
    );
    assert!(
        revision.contains(r#"batch.alter_column("title", new_column_name="headline")"#),
        "{revision}"
    );
    assert!(!revision.contains("drop_column"), "{revision}");

    // Built, the renames are done: the next version changes no table, and has no revision.
    app.say(&id, "add rate limiting").await;
    let (_, built) = app.say(&id, "build it").await;
    assert_eq!(built["run"]["status"], "succeeded", "{built}");
    let (status, _) = app
        .text(&format!(
            "/api/v2/projects/{id}/versions/3/files/migrations/versions/v0003.py"
        ))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, project) = app
        .call("GET", &format!("/api/v2/projects/{id}"), None)
        .await;
    assert!(
        project.get("renamed").is_none_or(|r| r == &json!([])),
        "{project}"
    );
}

/// A field the stored rows cannot have (required, no default, on a table the last version
/// keeps) is asked about before the next build: a default for them, or optional.
#[tokio::test]
async fn a_required_field_stored_rows_lack_is_asked_about_before_the_build() {
    let (app, id) = tasks_in_a_database().await;
    // An optional field asks nothing.
    app.say(&id, "tasks also have notes").await;
    let (_, project) = app
        .call("GET", &format!("/api/v2/projects/{id}"), None)
        .await;
    assert!(project["pending_question"].is_null(), "{project}");

    app.say(&id, "tasks also have an estimate (a number)").await;
    let (_, project) = app
        .call("GET", &format!("/api/v2/projects/{id}"), None)
        .await;
    assert!(project["pending_question"].is_null(), "optional: {project}");
    app.say(&id, "make it required").await;
    let (_, project) = app
        .call("GET", &format!("/api/v2/projects/{id}"), None)
        .await;
    let task = &project["spec"]["resources"][0];
    let estimate = task["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "estimate")
        .unwrap_or_else(|| panic!("{project}"));
    assert_eq!(estimate["required"], true, "{estimate}");
    let question = &project["pending_question"];
    assert!(
        question["text"]
            .as_str()
            .is_some_and(|t| t.contains("tasks stored so far have no estimate")),
        "{project}"
    );
    let conversation = app.conversation(&id).await;
    let asked = conversation
        .iter()
        .rev()
        .find(|m| m["agent"] == "product_manager")
        .unwrap();
    assert!(
        asked["blocks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|b| b["type"] == "question" && b.to_string().contains("estimate optional")),
        "the reply asks it, with both choices: {asked}"
    );

    app.say(&id, "the first").await;
    let (_, project) = app
        .call("GET", &format!("/api/v2/projects/{id}"), None)
        .await;
    let fields = project["spec"]["resources"][0]["fields"]
        .as_array()
        .unwrap();
    let estimate = fields.iter().find(|f| f["name"] == "estimate").unwrap();
    assert!(!estimate["default"].is_null(), "{estimate}");
    assert!(project["pending_question"].is_null(), "{project}");
    let (_, built) = app.say(&id, "build it").await;
    assert_eq!(built["run"]["status"], "succeeded", "{built}");
    let (_, revision) = app
        .text(&format!(
            "/api/v2/projects/{id}/versions/2/files/migrations/versions/v0002.py"
        ))
        .await;
    assert!(
        revision.contains("tasks.estimate is new; rows written before get its default"),
        "{revision}"
    );
}

/// A type the stored values may not read as ("title becomes a number") is asked about before
/// the build: a default for the values that do not, or leaving them empty; the migration then
/// reads each value and keeps what converts.
#[tokio::test]
async fn a_type_stored_values_may_not_convert_to_is_asked_about_before_the_build() {
    let (app, id) = tasks_in_a_database().await;
    // Every date reads as text: nothing to ask.
    app.say(&id, "the due date should be text").await;
    let (_, project) = app
        .call("GET", &format!("/api/v2/projects/{id}"), None)
        .await;
    assert!(project["pending_question"].is_null(), "{project}");

    app.say(&id, "the title should be an integer").await;
    let (_, project) = app
        .call("GET", &format!("/api/v2/projects/{id}"), None)
        .await;
    let title = project["spec"]["resources"][0]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "title")
        .cloned()
        .unwrap_or_else(|| panic!("{project}"));
    assert_eq!(title["type"]["kind"], "integer", "{title}");
    let question = &project["pending_question"];
    let asked = question["text"].as_str().unwrap_or_default();
    assert!(
        asked.contains("tasks stored so far") && asked.contains("whole number"),
        "{project}"
    );
    let labels: Vec<&str> = question["options"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["a default of 0", "title left empty"], "{question}");

    app.say(&id, "the first").await;
    let (_, built) = app.say(&id, "build it").await;
    assert_eq!(built["run"]["status"], "succeeded", "{built}");
    let (_, revision) = app
        .text(&format!(
            "/api/v2/projects/{id}/versions/2/files/migrations/versions/v0002.py"
        ))
        .await;
    assert!(
        revision.contains("tasks.title changes type from String(200) to Integer: each stored value that reads as one is kept, any other given its default, 0"),
        "{revision}"
    );
}
