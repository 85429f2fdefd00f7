//! A local server whose people sign in with an OpenID Connect provider (the tests' fake one,
//! on loopback): it says where to sign in, acts for each token's subject, refuses every token
//! that is not good, and keeps up with the provider's keys.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use kiln_integration_tests::fake_oidc::FakeOidc;
use serde_json::{json, Value};
use tower::ServiceExt;

use crate::common::{app_with, config_with, App};

const CLIENT: &str = "kiln-web-test";

async fn oidc_app(provider: &FakeOidc) -> App {
    app_with(&[
        ("KILN_OIDC_ISSUER", &provider.issuer()),
        ("KILN_OIDC_AUDIENCE", CLIENT),
    ])
    .await
}

/// Status, body and `WWW-Authenticate` of a call with a bearer token.
async fn call(
    app: &App,
    token: Option<&str>,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value, Option<String>) {
    let mut req = Request::builder().method(method).uri(path);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let req = match body {
        Some(b) => req
            .header("content-type", "application/json")
            .body(Body::from(b.to_string())),
        None => req.body(Body::empty()),
    }
    .unwrap();
    let res = app.router.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let challenge = res
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, body, challenge)
}

#[tokio::test]
async fn the_server_says_where_people_sign_in() {
    let provider = FakeOidc::start(CLIENT, 600);
    let app = oidc_app(&provider).await;
    let (status, body, _) = call(&app, None, "GET", "/api/v2/auth/config", None).await;
    assert_eq!(status, StatusCode::OK);
    let i = provider.issuer();
    assert_eq!(
        body,
        json!({
            "mode": "oidc",
            "oidc": {
                "issuer": i,
                "client_id": CLIENT,
                "scopes": "openid email profile",
                "authorization_endpoint": format!("{i}/authorize"),
                "token_endpoint": format!("{i}/token"),
                "end_session_endpoint": format!("{i}/logout"),
            }
        })
    );
    // The document says a token is needed, as it is.
    let (_, doc, _) = call(&app, None, "GET", "/api/v2/openapi.json", None).await;
    assert!(
        doc["components"]["securitySchemes"]["bearer"].is_object(),
        "{doc}"
    );
    assert!(doc["paths"]["/api/v2/projects"]["get"]["responses"]["401"].is_object());
}

#[tokio::test]
async fn each_person_sees_only_their_own_projects() {
    let provider = FakeOidc::start(CLIENT, 600);
    let app = oidc_app(&provider).await;
    let alice = provider.mint("alice-sub", json!({"email": "alice@example.com"}));
    let bob = provider.mint("bob-sub", json!({}));

    let (status, _, challenge) = call(&app, None, "GET", "/api/v2/projects", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(challenge.as_deref(), Some("Bearer"));

    let (status, project, _) = call(
        &app,
        Some(&alice),
        "POST",
        "/api/v2/projects",
        Some(json!({"name": "Alice's tasks", "description": "todo"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{project}");
    let id = project["id"].as_str().unwrap();

    let (_, mine, _) = call(&app, Some(&alice), "GET", "/api/v2/projects", None).await;
    assert_eq!(mine["items"].as_array().unwrap().len(), 1, "{mine}");
    let (_, theirs, _) = call(&app, Some(&bob), "GET", "/api/v2/projects", None).await;
    assert_eq!(theirs["items"], json!([]), "{theirs}");
    let (status, _, _) = call(
        &app,
        Some(&bob),
        "GET",
        &format!("/api/v2/projects/{id}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // An access token (Cognito's carry `client_id` instead of `aud`) acts for its subject too.
    let access = provider.mint(
        "alice-sub",
        json!({"aud": null, "client_id": CLIENT, "token_use": "access"}),
    );
    let (status, _, _) = call(
        &app,
        Some(&access),
        "GET",
        &format!("/api/v2/projects/{id}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}

fn unsigned(header: Value, claims: Value) -> String {
    use base64::Engine;
    let b = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    format!("{}.{}.", b(&header), b(&claims))
}

#[tokio::test]
async fn tokens_that_are_not_good_are_refused_and_say_why() {
    let provider = FakeOidc::start(CLIENT, 600);
    let app = oidc_app(&provider).await;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let good = provider.mint("carol", json!({}));
    let payload = good.split('.').nth(1).unwrap().to_owned();
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "expired",
            provider.mint("carol", json!({"exp": now - 120})),
            "expired",
        ),
        (
            "another issuer",
            provider.mint("carol", json!({"iss": "https://elsewhere.example"})),
            "another issuer",
        ),
        (
            "another client",
            provider.mint("carol", json!({"aud": "someone-else"})),
            "another client",
        ),
        (
            "no audience",
            provider.mint("carol", json!({"aud": null})),
            "another client",
        ),
        (
            "not yet valid",
            provider.mint("carol", json!({"nbf": now + 3600})),
            "not valid yet",
        ),
        (
            "no subject",
            provider.mint("carol", json!({"sub": null})),
            "no subject",
        ),
        (
            "no expiry",
            provider.mint("carol", json!({"exp": null})),
            "no expiry",
        ),
        (
            "a refresh token's use",
            provider.mint("carol", json!({"token_use": "refresh"})),
            "not an ID or access",
        ),
        ("signed by a stranger", provider.forge("carol"), "signature"),
        (
            "alg none",
            unsigned(
                json!({"alg": "none"}),
                json!({"iss": provider.issuer(), "aud": CLIENT, "sub": "carol", "exp": now + 600}),
            ),
            "RS256",
        ),
        (
            "HS256",
            format!(
                "{}.{payload}.c2ln",
                unsigned(json!({"alg": "HS256"}), json!({}))
                    .split('.')
                    .next()
                    .unwrap()
            ),
            "RS256",
        ),
        (
            "claims swapped under a good signature",
            {
                let mut parts: Vec<&str> = good.split('.').collect();
                let other = provider.mint("mallory", json!({}));
                let other_payload = other.split('.').nth(1).unwrap().to_owned();
                parts[1] = Box::leak(other_payload.into_boxed_str());
                parts.join(".")
            },
            "signature",
        ),
        (
            "not a JWT",
            "opaque-access-token".to_owned(),
            "not a JSON Web Token",
        ),
    ];
    for (what, token, says) in cases {
        let (status, body, challenge) =
            call(&app, Some(&token), "GET", "/api/v2/projects", None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}: {body}");
        assert_eq!(
            challenge.as_deref(),
            Some(r#"Bearer error="invalid_token""#),
            "{what}"
        );
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(says), "{what}: {message}");
    }
    let (status, _, _) = call(&app, Some(&good), "GET", "/api/v2/projects", None).await;
    assert_eq!(status, StatusCode::OK, "the good token itself is accepted");
}

#[tokio::test]
async fn keys_are_read_once_and_again_when_the_provider_rotates_them() {
    let provider = FakeOidc::start(CLIENT, 600);
    let app = oidc_app(&provider).await;
    assert_eq!(provider.counts().jwks, 1, "read once at start");
    for n in 0..20 {
        let token = provider.mint(&format!("user-{n}"), json!({}));
        let (status, _, _) = call(&app, Some(&token), "GET", "/api/v2/projects", None).await;
        assert_eq!(status, StatusCode::OK);
    }
    assert_eq!(provider.counts().jwks, 1, "kept, not read per request");

    let before = provider.mint("dave", json!({}));
    provider.rotate();
    let after = provider.mint("dave", json!({}));
    let (status, _, _) = call(&app, Some(&after), "GET", "/api/v2/projects", None).await;
    assert_eq!(status, StatusCode::OK, "a token signed with the new key");
    assert_eq!(provider.counts().jwks, 2, "read again for the new key");
    let (status, _, _) = call(&app, Some(&before), "GET", "/api/v2/projects", None).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the retired key is no longer trusted"
    );

    // Tokens naming keys nobody published make at most one read per interval.
    for n in 0..30 {
        let header = json!({"alg": "RS256", "kid": format!("made-up-{n}")});
        let token = format!("{}{}", unsigned(header, json!({})), "c2ln");
        let (status, _, _) = call(&app, Some(&token), "GET", "/api/v2/projects", None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    assert!(provider.counts().jwks <= 3, "{:?}", provider.counts());
}

async fn start_error(vars: &[(&str, &str)]) -> String {
    let (config, _dir) = config_with(vars);
    match kiln::backends::local_state(&config).await {
        Ok(_) => panic!("started with {vars:?}"),
        Err(e) => e.to_string(),
    }
}

#[tokio::test]
async fn a_server_that_cannot_check_tokens_does_not_start() {
    let unreachable = start_error(&[
        ("KILN_OIDC_ISSUER", "http://127.0.0.1:9"),
        ("KILN_OIDC_AUDIENCE", CLIENT),
    ])
    .await;
    assert!(
        unreachable.contains("http://127.0.0.1:9/.well-known/openid-configuration"),
        "{unreachable}"
    );
    let provider = FakeOidc::start(CLIENT, 600);
    let mismatch = start_error(&[
        ("KILN_OIDC_ISSUER", &format!("{}/", provider.issuer())),
        ("KILN_OIDC_AUDIENCE", CLIENT),
    ])
    .await;
    assert!(mismatch.contains("names the issuer"), "{mismatch}");
}

#[tokio::test]
async fn off_loopback_a_provider_is_enough() {
    let provider = FakeOidc::start(CLIENT, 600);
    let app = app_with(&[
        ("KILN_OIDC_ISSUER", &provider.issuer()),
        ("KILN_OIDC_AUDIENCE", CLIENT),
        ("KILN_BIND", "0.0.0.0:0"),
    ])
    .await;
    let (status, _, _) = call(&app, None, "GET", "/api/v2/projects", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

/// Requests that arrive together with tokens signed by a key just rotated in are all accepted,
/// and the keys are read once for them, not once per request.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rotation_met_by_many_requests_at_once_is_one_read() {
    let provider = FakeOidc::start(CLIENT, 600);
    let app = std::sync::Arc::new(oidc_app(&provider).await);
    provider.rotate();
    let tokens: Vec<String> = (0..24)
        .map(|n| provider.mint(&format!("user-{n}"), json!({})))
        .collect();
    let calls: Vec<_> = tokens
        .into_iter()
        .map(|token| {
            let app = app.clone();
            tokio::spawn(async move {
                call(&app, Some(&token), "GET", "/api/v2/projects", None)
                    .await
                    .0
            })
        })
        .collect();
    for handle in calls {
        assert_eq!(handle.await.unwrap(), StatusCode::OK);
    }
    assert_eq!(provider.counts().jwks, 2, "{:?}", provider.counts());
}
