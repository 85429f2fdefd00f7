//! Limits and hostile input: malformed, oversized and unknown requests answered with a JSON
//! error that changes nothing, hostile text kept verbatim, and the limits on projects and on
//! the size of an app.

use axum::http::StatusCode;
use serde_json::json;

use crate::common::{app, app_with};

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
