//! A small OpenID Connect provider for tests, on 127.0.0.1. It speaks what a real provider
//! (Cognito's managed login, Keycloak, Auth0…) speaks to a browser and a relying party:
//! the discovery document, the JSON Web Key Set, `/authorize` (a page with one button per
//! test user, standing in for the provider's sign-in form), `/token` (authorization code with
//! PKCE `S256` checked, and refresh), and `/logout` (RP-initiated, and Cognito's `logout_uri`).
//! Tokens are RS256 JSON Web Tokens signed with keys `openssl` makes at start.
//!
//! It is not a provider anyone should use: users are fixed, nothing is persisted, and it
//! trusts any redirect URI on 127.0.0.1.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Form, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine;
use ring::signature::{KeyPair, RsaKeyPair, RsaPublicKeyComponents, RSA_PKCS1_SHA256};
use serde_json::{json, Value};
use sha2::Digest;

/// The test users: (subject, email).
pub const USERS: &[(&str, &str)] = &[
    ("3f1c9a52-alice", "alice@example.com"),
    ("8b7e0d14-bob", "bob@example.com"),
];

struct SigningKey {
    kid: String,
    pair: RsaKeyPair,
}

struct Grant {
    sub: String,
    email: String,
    redirect_uri: String,
    challenge: String,
    nonce: Option<String>,
}

/// How often each endpoint was called.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Counts {
    /// Reads of the key set.
    pub jwks: u32,
    /// Codes exchanged for tokens.
    pub code_grants: u32,
    /// Refresh tokens exchanged for tokens.
    pub refresh_grants: u32,
    /// Token requests refused.
    pub refused_grants: u32,
    /// Visits to the sign-out endpoint.
    pub logouts: u32,
}

struct Shared {
    issuer: String,
    client_id: String,
    /// Published keys; the first one signs.
    keys: Mutex<Vec<SigningKey>>,
    ttl_secs: Mutex<i64>,
    codes: Mutex<HashMap<String, Grant>>,
    refresh: Mutex<HashMap<String, (String, String)>>,
    counts: Mutex<Counts>,
}

/// A running fake provider; it stops with the process.
#[derive(Clone)]
pub struct FakeOidc {
    shared: Arc<Shared>,
}

impl FakeOidc {
    /// Starts a provider for one client id, with ID tokens good for `ttl_secs`.
    pub fn start(client_id: &str, ttl_secs: i64) -> FakeOidc {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let issuer = format!("http://{}", listener.local_addr().unwrap());
        let shared = Arc::new(Shared {
            issuer,
            client_id: client_id.to_owned(),
            keys: Mutex::new(vec![new_key()]),
            ttl_secs: Mutex::new(ttl_secs),
            codes: Mutex::default(),
            refresh: Mutex::default(),
            counts: Mutex::default(),
        });
        let app = router(shared.clone());
        crate::serve_on_own_thread(listener, app, None);
        FakeOidc { shared }
    }

    /// The issuer URL (also the base of every endpoint).
    pub fn issuer(&self) -> String {
        self.shared.issuer.clone()
    }

    /// A signed ID token for `sub`, with `extra` claims over the usual ones (`iss`, `aud`,
    /// `sub`, `iat`, `exp`, `token_use`); a `null` in `extra` removes a claim.
    pub fn mint(&self, sub: &str, extra: Value) -> String {
        let now = now();
        let mut claims = json!({
            "iss": self.shared.issuer,
            "aud": self.shared.client_id,
            "sub": sub,
            "iat": now,
            "exp": now + *self.shared.ttl_secs.lock().unwrap(),
            "token_use": "id",
        });
        for (k, v) in extra.as_object().cloned().unwrap_or_default() {
            if v.is_null() {
                claims.as_object_mut().unwrap().remove(&k);
            } else {
                claims[k] = v;
            }
        }
        sign(&self.shared.keys.lock().unwrap()[0], &claims)
    }

    /// A token signed by a key the provider never published, under a published key's id.
    pub fn forge(&self, sub: &str) -> String {
        let mut stranger = new_key();
        stranger.kid = self.shared.keys.lock().unwrap()[0].kid.clone();
        let now = now();
        sign(
            &stranger,
            &json!({"iss": self.shared.issuer, "aud": self.shared.client_id, "sub": sub,
                    "iat": now, "exp": now + 600}),
        )
    }

    /// Publishes a new key, signs with it from now on, and stops publishing the old ones.
    pub fn rotate(&self) {
        *self.shared.keys.lock().unwrap() = vec![new_key()];
    }

    /// How often each endpoint was called so far.
    pub fn counts(&self) -> Counts {
        self.shared.counts.lock().unwrap().clone()
    }
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn new_key() -> SigningKey {
    let out = std::process::Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-outform",
            "DER",
        ])
        .output()
        .expect("openssl makes the fake provider's keys");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // OpenSSL 3 writes an RSA key in DER as PKCS#1 RSAPrivateKey.
    let pair = RsaKeyPair::from_der(&out.stdout).expect("an RSAPrivateKey");
    SigningKey {
        kid: uuid::Uuid::new_v4().to_string(),
        pair,
    }
}

fn sign(key: &SigningKey, claims: &Value) -> String {
    let header = json!({"alg": "RS256", "typ": "JWT", "kid": key.kid});
    let signed = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let mut sig = vec![0; key.pair.public().modulus_len()];
    key.pair
        .sign(
            &RSA_PKCS1_SHA256,
            &ring::rand::SystemRandom::new(),
            signed.as_bytes(),
            &mut sig,
        )
        .unwrap();
    format!("{signed}.{}", b64(&sig))
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/jwks", get(jwks))
        .route("/authorize", get(authorize_page).post(authorize))
        .route("/token", axum::routing::post(token).options(preflight))
        .route("/logout", get(logout))
        .route("/_counts", get(counts))
        .with_state(shared)
}

async fn discovery(State(s): State<Arc<Shared>>) -> Json<Value> {
    let i = &s.issuer;
    Json(json!({
        "issuer": i,
        "authorization_endpoint": format!("{i}/authorize"),
        "token_endpoint": format!("{i}/token"),
        "end_session_endpoint": format!("{i}/logout"),
        "jwks_uri": format!("{i}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "code_challenge_methods_supported": ["S256"],
    }))
}

async fn jwks(State(s): State<Arc<Shared>>) -> Response {
    s.counts.lock().unwrap().jwks += 1;
    let keys: Vec<Value> = s
        .keys
        .lock()
        .unwrap()
        .iter()
        .map(|k| {
            let public: RsaPublicKeyComponents<Vec<u8>> = k.pair.public_key().into();
            json!({
                "kty": "RSA", "use": "sig", "alg": "RS256", "kid": k.kid,
                "n": b64(&public.n), "e": b64(&public.e),
            })
        })
        .collect();
    (
        [(header::CACHE_CONTROL, "public, max-age=3600")],
        Json(json!({ "keys": keys })),
    )
        .into_response()
}

fn bad(message: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Html(format!("<p id=error>{message}</p>")),
    )
        .into_response()
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
}

async fn authorize_page(
    State(s): State<Arc<Shared>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let field = |k: &str| q.get(k).map(String::as_str).unwrap_or_default();
    if field("response_type") != "code" {
        return bad("response_type must be code");
    }
    if field("client_id") != s.client_id {
        return bad("unknown client_id");
    }
    if field("code_challenge_method") != "S256" || field("code_challenge").len() < 43 {
        return bad("PKCE with S256 is required");
    }
    if !field("redirect_uri").starts_with("http://127.0.0.1:") {
        return bad("redirect_uri is not registered");
    }
    if !field("scope").split(' ').any(|s| s == "openid") {
        return bad("scope must include openid");
    }
    let hidden: String = ["redirect_uri", "state", "code_challenge", "nonce"]
        .iter()
        .map(|k| {
            format!(
                r#"<input type=hidden name={k} value="{}">"#,
                escape(field(k))
            )
        })
        .collect();
    let buttons: String = USERS
        .iter()
        .map(|(sub, email)| {
            format!(r#"<button name=sub value="{sub}">Sign in as {email}</button>"#)
        })
        .collect();
    Html(format!(
        "<!doctype html><title>Fake provider: sign in</title><link rel=icon href=\"data:,\"><h1>Fake provider</h1>\
         <form method=post action=/authorize>{hidden}{buttons}</form>"
    ))
    .into_response()
}

async fn authorize(
    State(s): State<Arc<Shared>>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    let field = |k: &str| f.get(k).cloned().unwrap_or_default();
    let Some((sub, email)) = USERS.iter().find(|(sub, _)| *sub == field("sub")) else {
        return bad("no such user");
    };
    let code = b64(uuid::Uuid::new_v4().as_bytes());
    s.codes.lock().unwrap().insert(
        code.clone(),
        Grant {
            sub: sub.to_string(),
            email: email.to_string(),
            redirect_uri: field("redirect_uri"),
            challenge: field("code_challenge"),
            nonce: f.get("nonce").filter(|n| !n.is_empty()).cloned(),
        },
    );
    let mut target = reqwest::Url::parse(&field("redirect_uri")).unwrap();
    target
        .query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", &field("state"));
    Redirect::to(target.as_str()).into_response()
}

fn cors(res: impl IntoResponse) -> Response {
    let mut res = res.into_response();
    res.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        header::HeaderValue::from_static("*"),
    );
    res
}

async fn preflight() -> Response {
    let mut res = cors(StatusCode::NO_CONTENT);
    res.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        header::HeaderValue::from_static("content-type"),
    );
    res
}

async fn token(State(s): State<Arc<Shared>>, Form(f): Form<HashMap<String, String>>) -> Response {
    let field = |k: &str| f.get(k).cloned().unwrap_or_default();
    let refuse = |error: &str| {
        s.counts.lock().unwrap().refused_grants += 1;
        cors((StatusCode::BAD_REQUEST, Json(json!({ "error": error }))))
    };
    if field("client_id") != s.client_id {
        return refuse("invalid_client");
    }
    let (sub, email, nonce) = match field("grant_type").as_str() {
        "authorization_code" => {
            let Some(grant) = s.codes.lock().unwrap().remove(&field("code")) else {
                return refuse("invalid_grant");
            };
            let verifier = field("code_verifier");
            let challenge = b64(&sha2::Sha256::digest(verifier.as_bytes()));
            if verifier.len() < 43 || challenge != grant.challenge {
                return refuse("invalid_grant");
            }
            if field("redirect_uri") != grant.redirect_uri {
                return refuse("invalid_grant");
            }
            s.counts.lock().unwrap().code_grants += 1;
            (grant.sub, grant.email, grant.nonce)
        }
        "refresh_token" => {
            let Some((sub, email)) = s
                .refresh
                .lock()
                .unwrap()
                .get(&field("refresh_token"))
                .cloned()
            else {
                return refuse("invalid_grant");
            };
            s.counts.lock().unwrap().refresh_grants += 1;
            (sub, email, None)
        }
        _ => return refuse("unsupported_grant_type"),
    };
    let ttl = *s.ttl_secs.lock().unwrap();
    let now = now();
    let mut claims = json!({
        "iss": s.issuer, "aud": s.client_id, "sub": sub, "email": email,
        "iat": now, "exp": now + ttl, "token_use": "id",
    });
    if let Some(nonce) = nonce {
        claims["nonce"] = json!(nonce);
    }
    let key = &s.keys.lock().unwrap()[0];
    let id_token = sign(key, &claims);
    let access_token = sign(
        key,
        &json!({"iss": s.issuer, "client_id": s.client_id, "sub": sub, "iat": now,
                "exp": now + ttl, "token_use": "access"}),
    );
    let refresh_token = if f.contains_key("refresh_token") {
        field("refresh_token")
    } else {
        let t = b64(uuid::Uuid::new_v4().as_bytes());
        s.refresh.lock().unwrap().insert(t.clone(), (sub, email));
        t
    };
    cors(Json(json!({
        "token_type": "Bearer",
        "expires_in": ttl,
        "id_token": id_token,
        "access_token": access_token,
        "refresh_token": refresh_token,
    })))
}

async fn logout(
    State(s): State<Arc<Shared>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    s.counts.lock().unwrap().logouts += 1;
    match q
        .get("post_logout_redirect_uri")
        .or_else(|| q.get("logout_uri"))
    {
        Some(to) if to.starts_with("http://127.0.0.1:") => Redirect::to(to).into_response(),
        _ => Html("<p>Signed out.</p>").into_response(),
    }
}

async fn counts(State(s): State<Arc<Shared>>) -> Json<Counts> {
    Json(s.counts.lock().unwrap().clone())
}
