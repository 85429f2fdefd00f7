//! Projects: listed by pages newest first, deleted with everything they hold, and described by
//! the OpenAPI document.

use axum::http::StatusCode;
use serde_json::Value;

use crate::common::{app, app_with};

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
async fn the_openapi_document_is_served() {
    let app = app_with(&[("KILN_TOKEN", "t")]).await;
    let (status, doc) = app.call("GET", "/api/v2/openapi.json", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["paths"]["/api/v2/projects/{id}/messages"]["post"].is_object());
    assert!(doc["components"]["schemas"]["Project"].is_object());
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    assert_eq!(doc["security"], serde_json::json!([{"bearer": []}]));
    assert!(doc["paths"]["/api/v2/projects"]["get"]["responses"]["401"].is_object());
}

/// A server that asks for no token documents none: no security scheme, no requirement, no
/// 401 answer (a client generated from the document would otherwise send, or expect, what
/// the server never checks).
#[tokio::test]
async fn a_server_without_tokens_documents_no_authentication() {
    let app = crate::common::app().await;
    let (status, doc) = app.call("GET", "/api/v2/openapi.json", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        doc["components"]["securitySchemes"].is_null(),
        "{}",
        doc["components"]
    );
    assert!(doc["security"].is_null(), "{}", doc["security"]);
    let mut operations = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            operations += 1;
            assert!(op["security"].is_null(), "{method} {path}");
            assert!(
                op["responses"]["401"].is_null(),
                "{method} {path} documents a 401"
            );
        }
    }
    assert!(operations > 10);
}
