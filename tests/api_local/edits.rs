//! Code the user owns: edits, added and deleted files made versions of their own through the
//! API, kept when a spec change generates the code again (merged three ways), and a
//! conflicting edit held for the user's decision, with no version made until it is given.

use axum::http::StatusCode;
use serde_json::{json, Value};

use crate::common::{app, App};

async fn put(app: &App, id: &str, path: &str, body: Value) -> (StatusCode, Value) {
    app.call(
        "PUT",
        &format!("/api/v2/projects/{id}/files/{path}"),
        Some(body),
    )
    .await
}

const MY_ROUTE: &str = "\n\n@router.get(\"/mine/ping\")\ndef my_own_ping() -> dict:\n    \"\"\"Written by hand.\"\"\"\n    return {\"pong\": True}\n";
const MY_TEST: &str = "\n\ndef test_my_own_helper_shouts() -> None:\n    from app.helpers import shout\n\n    assert shout(\"hi\") == \"HI!\"\n";
const MY_FILE: &str = "\"\"\"Helpers of my own.\"\"\"\n\n\ndef shout(text: str) -> str:\n    return text.upper() + \"!\"\n";

#[tokio::test]
async fn edits_survive_a_spec_change_and_conflicts_wait_for_a_decision() {
    let app = app().await;
    let id = app.create_project("Tasks of my own").await;
    app.say(
        &id,
        "Build a REST API for managing tasks. Each task has a title",
    )
    .await;
    let (_, built) = app.say(&id, "build it").await;
    assert_eq!(built["run"]["status"], "succeeded", "{built}");
    let v1 = app.current_version(&id).await;
    let router = app.file(&id, v1, "app/routers/tasks.py").await.unwrap();

    // An edited router: a route of the user's own at its end.
    let (status, edit) = put(
        &app,
        &id,
        "app/routers/tasks.py",
        json!({"content": format!("{router}{MY_ROUTE}"), "message": "my ping route", "version": v1}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{edit}");
    assert_eq!(edit["made"], true);
    assert_eq!(edit["version"]["author"], "user");
    assert_eq!(edit["version"]["note"], "my ping route");
    let v2 = edit["version"]["number"].as_u64().unwrap();
    assert_eq!(v2, v1 + 1);
    assert_eq!(app.current_version(&id).await, v2);

    // The same text again makes nothing (a version written `2.0` is version 2, as JSON Schema
    // reads it; `2.5` is no version).
    let (status, half) = put(
        &app,
        &id,
        "app/routers/tasks.py",
        json!({"content": "x", "version": v2 as f64 + 0.5}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{half}");
    let (status, same) = put(
        &app,
        &id,
        "app/routers/tasks.py",
        json!({"content": format!("{router}{MY_ROUTE}"), "version": v2 as f64}),
    )
    .await;
    assert_eq!(
        (status, &same["made"]),
        (StatusCode::OK, &json!(false)),
        "{same}"
    );
    // An edit made on a version no longer current is refused, and changes nothing.
    let (status, stale) = put(
        &app,
        &id,
        "app/helpers.py",
        json!({"content": MY_FILE, "version": v1}),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{stale}");
    assert_eq!(stale["error"]["code"], "stale_version");
    assert_eq!(app.current_version(&id).await, v2);

    // A test of the user's own at the end of the generated tests, for their own helpers.
    let tests1 = app.file(&id, v2, "tests/test_tasks.py").await.unwrap();
    let (status, edit) = put(
        &app,
        &id,
        "tests/test_tasks.py",
        json!({"content": format!("{tests1}{MY_TEST}")}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{edit}");

    // An added file, and a deleted one.
    let (status, added) = put(&app, &id, "app/helpers.py", json!({"content": MY_FILE})).await;
    assert_eq!(status, StatusCode::CREATED, "{added}");
    let (status, deleted) = app
        .call(
            "DELETE",
            &format!("/api/v2/projects/{id}/files/.github/workflows/ci.yml?message=no%20CI"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{deleted}");
    let v5 = deleted["version"]["number"].as_u64().unwrap();
    assert_eq!(v5, v1 + 4);
    assert!(app
        .file(&id, v5, ".github/workflows/ci.yml")
        .await
        .is_none());
    // Deleting it again: there is no such file.
    let (status, gone) = app
        .call(
            "DELETE",
            &format!("/api/v2/projects/{id}/files/.github/workflows/ci.yml"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{gone}");

    // A spec change, built: the new code merged with all four.
    app.say(&id, "tasks have a priority").await;
    let (_, rebuilt) = app.say(&id, "build it").await;
    assert_eq!(rebuilt["run"]["status"], "succeeded", "{rebuilt}");
    let v6 = app.current_version(&id).await;
    assert_eq!(v6, v5 + 1);
    let (_, version) = app
        .call("GET", &format!("/api/v2/projects/{id}/versions/{v6}"), None)
        .await;
    assert_eq!(version["author"], "kiln");
    let generated: Vec<&str> = version["generated"]
        .as_array()
        .expect("what Kiln generated is kept beside the user's files")
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert!(generated.contains(&".github/workflows/ci.yml"));
    assert!(!generated.contains(&"app/helpers.py"));
    let router6 = app.file(&id, v6, "app/routers/tasks.py").await.unwrap();
    assert!(router6.ends_with(MY_ROUTE), "{router6}");
    let schemas6 = app.file(&id, v6, "app/schemas.py").await.unwrap();
    assert!(schemas6.contains("priority"), "{schemas6}");
    assert_eq!(
        app.file(&id, v6, "app/helpers.py").await.as_deref(),
        Some(MY_FILE)
    );
    assert!(app
        .file(&id, v6, ".github/workflows/ci.yml")
        .await
        .is_none());
    // Both changed the tests, in different places: both land.
    let tests6 = app.file(&id, v6, "tests/test_tasks.py").await.unwrap();
    assert!(tests6.ends_with(MY_TEST), "{tests6}");
    assert!(tests6.contains("\"priority\": \"many\""), "{tests6}");
    // And the merged project passes its own tests, the user's among them.
    let (_, tested) = app.say(&id, "run the tests").await;
    assert_eq!(tested["run"]["status"], "succeeded", "{tested}");
    let report = app
        .conversation(&id)
        .await
        .into_iter()
        .rev()
        .find_map(|m| {
            m["blocks"]
                .as_array()?
                .iter()
                .find(|b| b["type"] == "test_report")
                .cloned()
        })
        .unwrap();
    assert_eq!(report["version"], v6);
    assert_eq!(report["report"]["failed"], 0, "{report}");

    // A conflicting edit: the user's line where the next spec change adds one beside it (a
    // new field goes after the last, `priority`).
    let mine = schemas6.replacen(
        "    priority: _Int | None = None\n",
        "    priority: _Int | None = None  # 1 is urgent, written by hand\n",
        1,
    );
    assert_ne!(mine, schemas6);
    let (status, _) = put(&app, &id, "app/schemas.py", json!({"content": mine})).await;
    assert_eq!(status, StatusCode::CREATED);
    let v7 = app.current_version(&id).await;
    app.say(&id, "tasks also have a due date").await;
    let (_, held) = app.say(&id, "build it").await;
    assert_eq!(held["run"]["status"], "failed", "{held}");
    assert_eq!(held["run"]["error"]["code"], "merge_conflicts", "{held}");
    assert_eq!(app.current_version(&id).await, v7, "no version was made");
    let (status, waiting) = app
        .call("GET", &format!("/api/v2/projects/{id}/merge"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{waiting}");
    let merge = &waiting["merge"];
    assert_eq!(merge["ours"], v7);
    let conflicts: Vec<&str> = merge["conflicts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["path"].as_str().unwrap())
        .collect();
    assert_eq!(conflicts, ["app/schemas.py"]);
    // The conversation shows both sides.
    let shown = app
        .conversation(&id)
        .await
        .into_iter()
        .rev()
        .find_map(|m| {
            m["blocks"]
                .as_array()?
                .iter()
                .find(|b| b["type"] == "merge_conflicts")
                .cloned()
        })
        .expect("a merge_conflicts block");
    let hunk = &shown["conflicts"][0]["hunks"][0];
    assert_eq!(shown["conflicts"][0]["kind"], "both_changed");
    assert!(
        hunk["ours"].as_str().unwrap().contains("written by hand"),
        "{hunk}"
    );
    assert!(
        hunk["theirs"].as_str().unwrap().contains("due_date"),
        "{hunk}"
    );
    let (status, marked) = app
        .text(&format!(
            "/api/v2/projects/{id}/merge/files/app/schemas.py?side=marked"
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(marked.contains("<<<<<<< yours\n") && marked.contains(">>>>>>> generated\n"));

    // Decisions: every conflicting file, once, without markers left.
    let merge_path = format!("/api/v2/projects/{id}/merge");
    let resolve = |files: Value| app.call("POST", &merge_path, Some(json!({"files": files})));
    let (status, body) = resolve(json!([])).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) =
        resolve(json!([{"path": "app/schemas.py", "take": "edited", "content": marked}])).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = resolve(json!([{"path": "app/other.py", "take": "mine"}])).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(app.current_version(&id).await, v7, "still no version");
    // Both lines kept, by hand.
    let both = resolve_by_hand(&marked);
    let (status, made) =
        resolve(json!([{"path": "app/schemas.py", "take": "edited", "content": both}])).await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let v8 = made["number"].as_u64().unwrap();
    assert_eq!((v8, made["author"].as_str()), (v7 + 1, Some("user")));
    assert_eq!(app.current_version(&id).await, v8);
    let schemas8 = app.file(&id, v8, "app/schemas.py").await.unwrap();
    assert!(schemas8.contains("written by hand") && schemas8.contains("due_date"));
    assert!(app
        .file(&id, v8, "app/routers/tasks.py")
        .await
        .unwrap()
        .ends_with(MY_ROUTE));
    let (status, done) = app
        .call("GET", &format!("/api/v2/projects/{id}/merge"), None)
        .await;
    assert_eq!(
        (status, &done["merge"]),
        (StatusCode::OK, &Value::Null),
        "the merge is done"
    );
    // Deciding again: no build waits.
    let (status, again) = resolve(json!([{"path": "app/schemas.py", "take": "mine"}])).await;
    assert_eq!(status, StatusCode::CONFLICT, "{again}");
    assert_eq!(again["error"]["code"], "no_merge");
    // The spec it was built from is the version's: asking for a build finds nothing to do.
    let (_, tested) = app.say(&id, "run the tests").await;
    assert_eq!(tested["run"]["status"], "succeeded", "{tested}");
    let steps: Vec<&str> = tested["run"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert!(!steps.contains(&"BackendDeveloper"), "{steps:?}");
}

/// Each conflict of `marked` resolved by keeping the user's lines, then the generated ones.
fn resolve_by_hand(marked: &str) -> String {
    marked
        .lines()
        .filter(|l| !["<<<<<<< yours", "=======", ">>>>>>> generated"].contains(l))
        .map(|l| format!("{l}\n"))
        .collect()
}

#[tokio::test]
async fn a_file_where_a_folder_is_or_a_path_with_an_empty_segment_is_refused_and_changes_nothing() {
    let app = app().await;
    let id = app.create_project("Paths of mine").await;
    app.say(&id, "Build a REST API for managing tasks").await;
    let (_, built) = app.say(&id, "build it").await;
    assert_eq!(built["run"]["status"], "succeeded", "{built}");
    let v = app.current_version(&id).await;
    let body = json!({"content": "x = 1\n"});
    for (path, says) in [
        ("app/main.py/x.py", "`app/main.py` cannot both be files"),
        ("app", "`app/__init__.py` cannot both be files"),
        ("app/mine.py/", "not a plain relative path"),
        ("app//mine.py", "not a plain relative path"),
    ] {
        let (status, answer) = put(&app, &id, path, body.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{path}: {answer}");
        let message = answer["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(says), "{path}: {answer}");
    }
    assert_eq!(app.current_version(&id).await, v, "no version made");
}
