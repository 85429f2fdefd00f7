//! Conversations and runs: a description answered with a plan, questions answered from the
//! project, refusals that say what is missing, a retried post answered once, runs interrupted
//! by a restart, and the event stream of one project.

use std::collections::HashMap;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use kiln::config::Config;
use kiln::model::Owner;
use serde_json::json;
use tower::ServiceExt;

use crate::common::app;

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

/// Following without a stream: the last page of the conversation hands out an `after` mark;
/// asking with it answers only what is new (messages and the runs they belong to), and a mark
/// the server did not hand out, or one mixed with paging, is a bad request.
#[tokio::test]
async fn after_a_mark_only_what_changed_is_answered() {
    let app = app().await;
    let id = app.create_project("p").await;
    app.say(&id, "Build a REST API for managing tasks").await;
    let (status, page) = app
        .call("GET", &format!("/api/v2/projects/{id}/conversation"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let before = page["items"].as_array().unwrap().len();
    assert!(before >= 3, "{page}");
    let mark = page["after"]
        .as_str()
        .expect("the last page hands out a mark")
        .to_owned();
    let changes = |mark: String| {
        let app = &app;
        let id = id.clone();
        async move {
            app.call(
                "GET",
                &format!("/api/v2/projects/{id}/conversation?after={mark}"),
                None,
            )
            .await
        }
    };
    let (status, nothing) = changes(mark.clone()).await;
    assert_eq!(status, StatusCode::OK, "{nothing}");
    assert_eq!(nothing["items"], json!([]), "nothing new: {nothing}");
    assert!(nothing.get("runs").is_none(), "no run going: {nothing}");

    let (_, said) = app.say(&id, "what can you do?").await;
    let (_, news) = changes(nothing["after"].as_str().unwrap().to_owned()).await;
    let items = news["items"].as_array().unwrap();
    let roles: Vec<&str> = items.iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["user", "assistant"], "{news}");
    assert_eq!(items[0]["content"], "what can you do?");
    let runs = news["runs"].as_array().expect("the new message's run");
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["id"], said["run"]["id"]);
    assert_eq!(runs[0]["status"], "succeeded");
    // Asked again with the new mark: nothing is said twice.
    let (_, again) = changes(news["after"].as_str().unwrap().to_owned()).await;
    assert_eq!(again["items"], json!([]), "{again}");
    // The whole conversation still reads the same.
    let all = app.conversation(&id).await;
    assert_eq!(all.len(), before + 2);

    for bad in ["nonsense", "eyJ0IjowfQ", "%00"] {
        let (status, body) = changes(bad.to_owned()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert_eq!(body["error"]["code"], "invalid_query");
    }
    let (status, _) = app
        .call(
            "GET",
            &format!("/api/v2/projects/{id}/conversation?after={mark}&limit=5"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}
