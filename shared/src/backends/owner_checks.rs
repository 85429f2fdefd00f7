//! On the local backend's API, requests that read something of a project's (its conversation,
//! a run, its runs, its deployments) check who owns it without reading the project's
//! document, which holds its spec and design and can be many times the size of the answer.
//! Traced on SQLite, as the statements that ran.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use tower::ServiceExt;

use crate::model::{Intent, Message, Owner, Project, Run};
use crate::store::{ProjectStore, SqliteStore};

/// The statements run since the last `take`; a trace callback is a plain function.
static RAN: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn ran(event: rusqlite::trace::TraceEvent<'_>) {
    if let rusqlite::trace::TraceEvent::Stmt(stmt, _) = event {
        RAN.lock().unwrap().push(stmt.sql().into_owned());
    }
}

fn take() -> Vec<String> {
    std::mem::take(&mut *RAN.lock().unwrap())
}

async fn get(state: &crate::api::AppState, path: &str) -> (StatusCode, String) {
    let res = crate::api::router(state.clone())
        .oneshot(Request::get(path).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = res.status();
    let body = axum::body::to_bytes(res.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test(flavor = "multi_thread")]
async fn reads_under_a_project_do_not_read_its_document() {
    let dir = tempfile::tempdir().unwrap();
    let vars = HashMap::from([("KILN_DATA_DIR".to_owned(), dir.path().display().to_string())]);
    let config = crate::config::Config::from_vars(&vars).unwrap();
    let mut state = super::local_state(&config).await.unwrap();
    // The same database, through a store whose every statement is traced.
    let store = SqliteStore::open(&dir.path().join("kiln.db")).unwrap();
    store.trace(ran);
    let store = Arc::new(store);
    state.agents.projects = store.clone();

    let project = Project::new(Owner::local(), "Tasks".into(), "a task list".into());
    store.create_project(&project).await.unwrap();
    let message = Message::from_user(project.id, "a task has a title".into(), None);
    let run = Run::queued(project.id, message.id, Intent::Refine);
    store.post_user_message(&message, &run).await.unwrap();
    let other = Project::new(Owner("someone-else".into()), "Theirs".into(), String::new());
    store.create_project(&other).await.unwrap();

    let base = format!("/api/v2/projects/{}", project.id);
    for path in [
        format!("{base}/conversation?limit=10"),
        format!("{base}/conversation?latest=10"),
        format!("{base}/runs/{}", run.id),
        format!("{base}/runs"),
        format!("{base}/deployments"),
    ] {
        take();
        let (status, body) = get(&state, &path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        let statements = take();
        assert!(
            statements
                .iter()
                .any(|s| s.contains("SELECT owner FROM projects")),
            "{path} checked the owner: {statements:#?}"
        );
        let documents: Vec<&String> = statements
            .iter()
            .filter(|s| s.contains("doc FROM projects"))
            .collect();
        assert!(
            documents.is_empty(),
            "{path} read the project's document: {documents:#?}"
        );
        // Another owner's project looks like none.
        let theirs = path.replace(&project.id.to_string(), &other.id.to_string());
        let (status, body) = get(&state, &theirs).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{theirs}: {body}");
    }
}
