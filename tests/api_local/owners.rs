//! Owners and tokens: a token required when one is set, and another owner's project hidden
//! behind every endpoint as if it did not exist.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use kiln::api::Authenticator;
use kiln::model::Owner;
use serde_json::{json, Value};
use tower::ServiceExt;

use crate::common::{app, app_with};

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

/// `GET /api/v2/auth/config` tells a client, before it has signed in, what signing in takes:
/// nothing, or a bearer token; it answers without one and gives no secret away.
#[tokio::test]
async fn the_sign_in_a_server_needs_is_public() {
    let config = |app: &crate::common::App| {
        let app = app.router.clone();
        async move {
            let res = app
                .oneshot(
                    Request::builder()
                        .uri("/api/v2/auth/config")
                        .body(Body::empty())
                        .unwrap(),
                )
                .await
                .unwrap();
            let status = res.status();
            let bytes = res.into_body().collect().await.unwrap().to_bytes();
            (status, String::from_utf8(bytes.to_vec()).unwrap())
        }
    };
    let open = app().await;
    let (status, body) = config(&open).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({"mode": "none"})
    );

    let guarded = app_with(&[("KILN_TOKEN", "s3cret-token")]).await;
    let (status, body) = config(&guarded).await;
    assert_eq!(status, StatusCode::OK, "answered without a token: {body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({"mode": "token"})
    );
    assert!(!body.contains("s3cret"));

    let doc = kiln::api::openapi();
    let op = &doc.paths.paths["/api/v2/auth/config"].get.as_ref().unwrap();
    assert!(
        !op.responses.responses.contains_key("401"),
        "documented as public"
    );
    assert_eq!(
        serde_json::to_value(&op.security).unwrap(),
        json!([{}]),
        "no security requirement"
    );
}

#[tokio::test]
async fn another_owners_project_is_not_found() {
    let base = app().await;
    let mut state = base.state.clone();
    state.auth = Authenticator::Verified { sign_in: None };
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
            renames: Vec::new(),
            created_at: kiln::model::now(),
            author: kiln::model::Author::Kiln,
            note: None,
            generated: None,
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
            .replace("{environment}", "dev")
            .replace("{path}", "app/main.py")
            // The one required query parameter.
            + if path.contains("/merge/files/") { "?side=mine" } else { "" };
        for method in item.as_object().unwrap().keys() {
            let body = match method.as_str() {
                "post" if path.ends_with("/clone") => Some(json!({"name": "bob's copy"})),
                "post" if path.ends_with("/merge") => Some(json!({"files": []})),
                "post" => Some(json!({"content": "let me in"})),
                "put" if path.contains("/files/") => Some(json!({"content": "x = 2\n"})),
                "put" => Some(json!({"tables": {}})),
                _ => None,
            };
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
