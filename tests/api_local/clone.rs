//! Cloning a project: `POST /api/v2/projects/{id}/clone` and "clone this project as …" in
//! the chat make a new project of the same owner with the original's spec, its current
//! version's files as version 1 and a summary of its conversation; the copy's own history
//! goes on from there, and the original does not change.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::common::{app, app_with, App};

/// Every file of a version, read from the stores.
async fn files(app: &App, project: &str, number: u32) -> BTreeMap<String, String> {
    let agents = &app.state.agents;
    let version = agents
        .projects
        .get_version(project.parse::<Uuid>().unwrap(), number)
        .await
        .unwrap();
    let mut out = BTreeMap::new();
    for entry in version.manifest {
        let bytes = agents.artifacts.get_blob(&entry.sha256).await.unwrap();
        out.insert(entry.path, String::from_utf8(bytes).unwrap());
    }
    out
}

fn migrations(files: &BTreeMap<String, String>) -> Vec<&str> {
    files
        .keys()
        .filter(|p| p.starts_with("migrations/versions/"))
        .map(String::as_str)
        .collect()
}

async fn clone(app: &App, id: &str, body: Value) -> (StatusCode, Value) {
    app.call("POST", &format!("/api/v2/projects/{id}/clone"), Some(body))
        .await
}

async fn said(app: &App, id: &str, text: &str) -> Value {
    let (status, body) = app.say(id, text).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["run"]["status"], "succeeded", "{text}: {body}");
    body
}

#[tokio::test(flavor = "multi_thread")]
async fn a_copy_has_the_spec_and_current_files_and_a_history_of_its_own() {
    let app = app().await;
    let id = app.create_project("Tasks").await;
    said(&app, &id, "An API for tasks. Each task has a title").await;
    said(&app, &id, "Add database support").await;
    said(&app, &id, "build it").await;
    said(&app, &id, "tasks have a due date").await;
    said(&app, &id, "build it").await;
    let (_, before) = app
        .call("GET", &format!("/api/v2/projects/{id}"), None)
        .await;
    assert_eq!(before["current_version"], 2);
    let original = files(&app, &id, 2).await;
    assert_eq!(
        migrations(&original).len(),
        2,
        "{:?}",
        migrations(&original)
    );

    let (status, copy) = clone(&app, &id, json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{copy}");
    assert_eq!(copy["name"], "Tasks (copy)");
    assert_eq!(copy["status"], "built");
    assert_eq!(copy["current_version"], 1);
    assert_eq!(copy["spec"], before["spec"]);
    assert_eq!(copy["design"], before["design"]);
    assert_eq!(copy["deployments"], json!([]));
    assert_eq!(copy["tested_version"], Value::Null);
    let copy_id = copy["id"].as_str().unwrap().to_owned();
    assert_ne!(copy_id, id);

    // Version 1 of the copy is the original's version 2, but for a migration history that
    // starts at its own version 1 and a README under its own name.
    let (_, versions) = app
        .call("GET", &format!("/api/v2/projects/{copy_id}/versions"), None)
        .await;
    assert_eq!(versions["items"].as_array().unwrap().len(), 1, "{versions}");
    let copied = files(&app, &copy_id, 1).await;
    for (path, contents) in &original {
        if path.starts_with("migrations/versions/") || path == "README.md" {
            continue;
        }
        assert_eq!(
            copied.get(path),
            Some(contents),
            "{path} was not copied as it is"
        );
    }
    assert_eq!(migrations(&copied), ["migrations/versions/v0001.py"]);
    let first = &copied["migrations/versions/v0001.py"];
    assert!(first.contains("op.create_table"), "{first}");
    assert!(
        first.contains("due_date"),
        "the first revision makes today's tables: {first}"
    );
    // Markdown's own characters are escaped in the README's text.
    assert!(
        copied["README.md"].contains("Tasks \\(copy\\)"),
        "{}",
        copied["README.md"]
    );
    assert!(!original["README.md"].contains("copy"));
    assert_eq!(
        copied
            .keys()
            .filter(|p| !p.starts_with("migrations/versions/"))
            .count(),
        original
            .keys()
            .filter(|p| !p.starts_with("migrations/versions/"))
            .count()
    );

    // Its conversation opens with what the original's asked for.
    let opening = app.conversation(&copy_id).await;
    assert_eq!(opening.len(), 1, "{opening:?}");
    assert!(opening[0]["content"]
        .as_str()
        .unwrap()
        .contains("\"Tasks\""));
    let asked = opening[0]["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["type"] == "plan" && b["title"].as_str().unwrap().contains("asked for"))
        .unwrap_or_else(|| panic!("no summary: {opening:?}"));
    assert_eq!(
        asked["items"],
        json!([
            "An API for tasks. Each task has a title",
            "Add database support",
            "tasks have a due date"
        ])
    );

    // The original is as it was.
    let (_, after) = app
        .call("GET", &format!("/api/v2/projects/{id}"), None)
        .await;
    assert_eq!(after, before);
    assert_eq!(files(&app, &id, 2).await, original);

    // The copy goes on from its version 1: its next version migrates from it, and its tests
    // pass (pytest for real, migrations included).
    said(&app, &copy_id, "tasks also have a priority from low/high").await;
    said(&app, &copy_id, "build it").await;
    let next = files(&app, &copy_id, 2).await;
    assert_eq!(
        migrations(&next),
        [
            "migrations/versions/v0001.py",
            "migrations/versions/v0002.py"
        ]
    );
    assert_eq!(next["migrations/versions/v0001.py"], *first);
    assert!(next["migrations/versions/v0002.py"].contains("priority"));
    let tested = said(&app, &copy_id, "run the tests").await;
    assert_eq!(tested["run"]["intent"], "test");
    let (_, project) = app
        .call("GET", &format!("/api/v2/projects/{copy_id}"), None)
        .await;
    assert_eq!(project["tested_version"], 2, "{project}");
}

#[tokio::test]
async fn a_copy_is_named_as_asked_and_its_name_is_only_text() {
    let app = app().await;
    let id = app.create_project("Shop").await;
    said(&app, &id, "products with a name and a price").await;
    let hostile = "<script>alert(1)</script> \"; DROP TABLE projects; --";
    let (status, copy) = clone(&app, &id, json!({ "name": format!("  {hostile}  ") })).await;
    assert_eq!(status, StatusCode::CREATED, "{copy}");
    assert_eq!(copy["name"], hostile);
    // Nothing was built: the copy has the spec only.
    assert_eq!(copy["status"], "specified");
    assert_eq!(copy["current_version"], Value::Null);
    let (_, listed) = app.call("GET", "/api/v2/projects", None).await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 2);

    // A long name's copy stays within the limit.
    let long = "n".repeat(100);
    let (_, named) = app
        .call("POST", "/api/v2/projects", Some(json!({ "name": long })))
        .await;
    let long_id = named["id"].as_str().unwrap();
    let (status, copy) = clone(&app, long_id, json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{copy}");
    let name = copy["name"].as_str().unwrap();
    assert_eq!(name.chars().count(), 100);
    assert!(name.ends_with(" (copy)"));
    assert_eq!(copy["status"], "new");
}

#[tokio::test]
async fn bad_clone_requests_are_refused_and_change_nothing() {
    let app = app_with(&[("KILN_MAX_PROJECTS", "2")]).await;
    let id = app.create_project("Only").await;
    let cases = [
        (json!({"name": ""}), StatusCode::UNPROCESSABLE_ENTITY),
        (json!({"name": "   "}), StatusCode::UNPROCESSABLE_ENTITY),
        (
            json!({"name": "bell\u{7}"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"name": "x".repeat(101)}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (json!({"name": 5}), StatusCode::UNPROCESSABLE_ENTITY),
        (json!({"title": "x"}), StatusCode::UNPROCESSABLE_ENTITY),
    ];
    for (body, want) in cases {
        let (status, err) = clone(&app, &id, body.clone()).await;
        assert_eq!(status, want, "{body}: {err}");
        assert!(err["error"]["message"].as_str().is_some(), "{err}");
    }
    let (status, err) = app
        .raw(
            "POST",
            &format!("/api/v2/projects/{id}/clone"),
            "application/json",
            b"{\"name\": ".to_vec(),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{err}");
    let (status, _) = clone(&app, &Uuid::now_v7().to_string(), json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = clone(&app, "not-an-id", json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, listed) = app.call("GET", "/api/v2/projects", None).await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1, "{listed}");

    // The copy counts against the owner's projects like any other.
    let (status, _) = clone(&app, &id, json!({})).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, err) = clone(&app, &id, json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{err}");
    assert_eq!(err["error"]["code"], "project_limit");
}

#[tokio::test]
async fn the_chat_clones_too() {
    let app = app().await;
    let id = app.create_project("Inventory").await;
    said(&app, &id, "items with a name and a quantity").await;
    said(&app, &id, "build it").await;
    let body = said(
        &app,
        &id,
        "Looks good. Now clone this project as Inventory v2, please",
    )
    .await;
    assert_eq!(body["run"]["intent"], "clone");
    let reply = app.conversation(&id).await.pop().unwrap();
    let block = reply["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["type"] == "project")
        .unwrap_or_else(|| panic!("no project block: {reply}"))
        .clone();
    assert_eq!(block["name"], "Inventory v2");
    let copy_id = block["project_id"].as_str().unwrap();
    let (status, copy) = app
        .call("GET", &format!("/api/v2/projects/{copy_id}"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(copy["name"], "Inventory v2");
    assert_eq!(copy["current_version"], 1);
    // Without a name, the copy is "<name> (copy)".
    said(&app, &id, "duplicate this project").await;
    let (_, listed) = app.call("GET", "/api/v2/projects", None).await;
    let mut names: Vec<&str> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["Inventory", "Inventory (copy)", "Inventory v2"]);
}
