//! "Fix it" on the local backend, with real pytest: a user's change that breaks the tests is
//! found by its traceback and set aside by a repair, which becomes current while the user's
//! other changes stay; and a failure no repair can touch (a test of the user's own that fails
//! whatever the code) stops the loop early, when a repair fails the same way, with a
//! diagnosis.

use axum::http::StatusCode;
use serde_json::{json, Value};

use crate::common::{app, App};

async fn put(app: &App, id: &str, path: &str, content: String) -> u64 {
    let (status, body) = app
        .call(
            "PUT",
            &format!("/api/v2/projects/{id}/files/{path}"),
            Some(json!({ "content": content })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["version"]["number"].as_u64().unwrap()
}

/// The replies of the run `run_id`, in order.
async fn replies(app: &App, id: &str, run_id: &str) -> Vec<Value> {
    app.conversation(id)
        .await
        .into_iter()
        .filter(|m| m["run_id"] == run_id && m["role"] != "user")
        .collect()
}

async fn built(app: &App) -> (String, u64) {
    let id = app.create_project("Tasks to fix").await;
    app.say(
        &id,
        "Build a REST API for managing tasks. Each task has a title",
    )
    .await;
    let (_, built) = app.say(&id, "build it").await;
    assert_eq!(built["run"]["status"], "succeeded", "{built}");
    let v = app.current_version(&id).await;
    (id, v)
}

const MY_FILE: &str = "def shout(text: str) -> str:\n    return text.upper()\n";

#[tokio::test]
async fn a_fix_sets_aside_the_change_the_failures_trace_to_and_keeps_the_others() {
    let app = app().await;
    let (id, v1) = built(&app).await;
    let router = app.file(&id, v1, "app/routers/tasks.py").await.unwrap();
    let def = "def create_task(body: TaskCreate, session: SessionDep) -> Any:\n";
    assert!(router.contains(def), "{router}");
    let broken = router.replacen(
        def,
        &format!("{def}    raise RuntimeError(\"a slip of mine\")\n"),
        1,
    );
    put(&app, &id, "app/routers/tasks.py", broken).await;
    let readme = app.file(&id, v1, "README.md").await.unwrap();
    put(&app, &id, "README.md", format!("{readme}\nMy own notes.\n")).await;
    // A harmless change in the app's code too: only the file the tracebacks name is set aside.
    let schemas = app.file(&id, v1, "app/schemas.py").await.unwrap();
    let schemas_mine = format!("{schemas}\n# Reviewed by hand.\n");
    put(&app, &id, "app/schemas.py", schemas_mine.clone()).await;
    let broken_at = put(&app, &id, "app/helpers.py", MY_FILE.into()).await;

    // The QA report names the failing tests and what raised where.
    let (_, tested) = app.say(&id, "run the tests").await;
    let reply = replies(&app, &id, tested["run"]["id"].as_str().unwrap())
        .await
        .into_iter()
        .find(|m| m["agent"] == "qa_engineer" && m["content"].as_str().unwrap().contains("failed"))
        .expect("a failing report");
    let text = reply["content"].as_str().unwrap();
    assert!(
        text.contains("RuntimeError at app/routers/tasks.py:"),
        "{text}"
    );
    assert!(text.contains("fix it"), "{text}");

    let (status, fixing) = app.say(&id, "the tests are red, can you fix it?").await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(fixing["run"]["intent"], "fix");
    assert_eq!(fixing["run"]["status"], "succeeded", "{fixing}");
    let fixed = app.current_version(&id).await;
    assert!(fixed > broken_at, "a repair became current");
    let (_, version) = app
        .call(
            "GET",
            &format!("/api/v2/projects/{id}/versions/{fixed}"),
            None,
        )
        .await;
    assert_eq!(version["author"], "kiln");
    assert!(version["note"]
        .as_str()
        .unwrap()
        .contains("app/routers/tasks.py"));
    // The breaking change is set aside; the others are kept.
    let router_now = app.file(&id, fixed, "app/routers/tasks.py").await.unwrap();
    assert_eq!(router_now, router);
    assert!(app
        .file(&id, fixed, "README.md")
        .await
        .unwrap()
        .ends_with("My own notes.\n"));
    assert_eq!(
        app.file(&id, fixed, "app/helpers.py").await.as_deref(),
        Some(MY_FILE)
    );
    assert_eq!(
        app.file(&id, fixed, "app/schemas.py").await.as_deref(),
        Some(schemas_mine.as_str())
    );
    let (_, project) = app
        .call("GET", &format!("/api/v2/projects/{id}"), None)
        .await;
    assert_eq!(project["status"], "tested");
    let said: Vec<String> = replies(&app, &id, fixing["run"]["id"].as_str().unwrap())
        .await
        .iter()
        .map(|m| m["content"].as_str().unwrap().to_owned())
        .collect();
    let last = said.last().unwrap();
    assert!(last.contains("fixed it"), "{said:#?}");
    assert!(
        last.contains("the failures trace to your change of `app/routers/tasks.py`"),
        "{last}"
    );
    // The version the user broke is still there to compare with.
    assert!(app
        .file(&id, broken_at, "app/routers/tasks.py")
        .await
        .unwrap()
        .contains("a slip of mine"));

    // The repair's step run again (Step Functions retries a Task whose answer was lost) finds
    // the repair it made and the suite it started: no other version, no other job.
    let traced = ["tests/test_tasks.py", "app/routers/tasks.py"];
    let mut answers = Vec::new();
    for _ in 0..2 {
        answers.push(
            app.fix_start_again(&fixing["run"], broken_at, &traced)
                .await,
        );
    }
    assert_eq!(answers[0], answers[1]);
    assert_eq!(answers[0]["version"], fixed, "{}", answers[0]);
    let (_, versions) = app
        .call(
            "GET",
            &format!("/api/v2/projects/{id}/versions?limit=1"),
            None,
        )
        .await;
    assert_eq!(versions["items"][0]["number"], fixed, "no other version");

    // Fixing a version whose tests pass finds nothing to do.
    let (_, again) = app.say(&id, "fix it").await;
    assert_eq!(again["run"]["status"], "succeeded", "{again}");
    assert_eq!(app.current_version(&id).await, fixed);
    let said = replies(&app, &id, again["run"]["id"].as_str().unwrap()).await;
    assert!(said.last().unwrap()["content"]
        .as_str()
        .unwrap()
        .contains("nothing to fix"));
}

#[tokio::test]
async fn a_repair_that_fails_the_same_way_stops_the_loop_with_a_diagnosis() {
    let app = app().await;
    let (id, v1) = built(&app).await;
    let readme = app.file(&id, v1, "README.md").await.unwrap();
    put(&app, &id, "README.md", format!("{readme}\nMy own notes.\n")).await;
    let mine = "def test_my_own_expectation() -> None:\n    assert 1 + 1 == 3\n";
    let broken_at = put(&app, &id, "tests/test_mine.py", mine.into()).await;

    let (_, fixing) = app.say(&id, "fix the failing tests").await;
    assert_eq!(fixing["run"]["intent"], "fix");
    assert_eq!(fixing["run"]["status"], "failed", "{fixing}");
    assert_eq!(fixing["run"]["error"]["code"], "not_fixed");
    // Nothing became current.
    assert_eq!(app.current_version(&id).await, broken_at);
    let said: Vec<String> = replies(&app, &id, fixing["run"]["id"].as_str().unwrap())
        .await
        .iter()
        .map(|m| m["content"].as_str().unwrap().to_owned())
        .collect();
    let diagnosis = said
        .iter()
        .find(|t| t.starts_with("I could not fix"))
        .unwrap_or_else(|| panic!("{said:#?}"));
    assert!(
        diagnosis.contains("failed the same way as version"),
        "{diagnosis}"
    );
    assert!(
        diagnosis.contains("tests.test_mine::test_my_own_expectation (AssertionError"),
        "{diagnosis}"
    );
    assert!(
        diagnosis.contains("do not trace to your changes"),
        "{diagnosis}"
    );
    // Tried: the version as it is, and one repair (the README set aside); not three.
    assert_eq!(
        diagnosis.matches("failing;").count() + diagnosis.matches("failing.").count(),
        2,
        "{diagnosis}"
    );
}
