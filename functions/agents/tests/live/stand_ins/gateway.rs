//! API Gateway's part: the HTTP API's routes, its JWT authorizer, and the v2.0 events it
//! hands the api Lambda (see `stand_ins/mod.rs`).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Router;
use base64::Engine;
use serde_json::{json, Value};

use crate::installation::Installation;

/// A route of the HTTP API: method (`ANY` for all), path (`{proxy+}` for the rest) and
/// whether the JWT authorizer guards it.
#[derive(Debug, Clone)]
struct Route {
    method: String,
    path: String,
    authorized: bool,
}

impl Route {
    fn matches(&self, method: &str, path: &str) -> bool {
        let method_ok = self.method == "ANY" || self.method.eq_ignore_ascii_case(method);
        let path_ok = match self.path.strip_suffix("{proxy+}") {
            Some(prefix) => path.len() > prefix.len() && path.starts_with(prefix),
            None => path == self.path,
        };
        method_ok && path_ok
    }
}

/// The routes of `infra/template.yaml`'s HTTP API (its `AWS::ApiGatewayV2::Route`s: route key,
/// and whether the JWT authorizer guards it), as API Gateway matches them: exact paths before
/// a greedy `{proxy+}`. Each one reaches the api function (tests/infra holds the template to
/// that).
fn routes(template: &serde_yaml::Value) -> Vec<Route> {
    let mut routes: Vec<Route> = template["Resources"]
        .as_mapping()
        .unwrap()
        .values()
        .filter(|r| r["Type"] == "AWS::ApiGatewayV2::Route")
        .map(|r| {
            let key = r["Properties"]["RouteKey"].as_str().unwrap();
            let (method, path) = key
                .split_once(' ')
                .unwrap_or_else(|| panic!("the stand-in takes `METHOD /path` routes: {key}"));
            // A route without an authorization type is open, as NONE.
            let authorized = match r["Properties"]["AuthorizationType"].as_str() {
                Some("JWT") => true,
                None | Some("NONE") => false,
                Some(other) => panic!("the stand-in has no {other} authorization ({key})"),
            };
            Route {
                method: method.to_owned(),
                path: path.to_owned(),
                authorized,
            }
        })
        .collect();
    assert!(!routes.is_empty(), "infra/template.yaml has no routes");
    routes.sort_by_key(|r| r.path.ends_with("{proxy+}"));
    routes
}

/// The issuer and audience the template's JWT authorizer checks, for the user pool `pool` and
/// its client `client` in us-east-1 (where moto runs them).
fn issuer_and_audience(template: &serde_yaml::Value, pool: &str, client: &str) -> (String, String) {
    let authorizers: Vec<&serde_yaml::Value> = template["Resources"]
        .as_mapping()
        .unwrap()
        .values()
        .filter(|r| r["Type"] == "AWS::ApiGatewayV2::Authorizer")
        .collect();
    assert_eq!(authorizers.len(), 1, "one authorizer: {authorizers:?}");
    let jwt = &authorizers[0]["Properties"]["JwtConfiguration"];
    let text = |v: &serde_yaml::Value| -> String {
        match v {
            serde_yaml::Value::Tagged(t) => t.value.as_str().unwrap().to_owned(),
            other => other.as_str().unwrap().to_owned(),
        }
    };
    let issuer = text(&jwt["Issuer"])
        .replace("${AWS::Region}", "us-east-1")
        .replace("${UserPool}", pool);
    let audiences = jwt["Audience"].as_sequence().unwrap();
    assert_eq!(
        audiences.iter().map(text).collect::<Vec<_>>(),
        ["UserPoolClient"],
        "the stand-in knows the web client's tokens only"
    );
    assert!(!issuer.contains("${"), "the stand-in cannot read {issuer}");
    (issuer, client.to_owned())
}

/// The functions' KILN_OIDC_* settings in the template's Globals, for the user pool `pool`,
/// its client `client` and its domain prefix `domain` in us-east-1.
fn sign_in_settings(
    template: &serde_yaml::Value,
    pool: &str,
    client: &str,
    domain: &str,
) -> kiln::config::OidcSettings {
    let vars = &template["Globals"]["Function"]["Environment"]["Variables"];
    let get = |name: &str| -> String {
        let value = match &vars[name] {
            serde_yaml::Value::Tagged(t) if t.tag == "!Ref" => {
                assert_eq!(t.value, "UserPoolClient", "{name}");
                return client.to_owned();
            }
            serde_yaml::Value::Tagged(t) => t.value.as_str().unwrap().to_owned(),
            other => other
                .as_str()
                .unwrap_or_else(|| panic!("the template does not set {name}"))
                .to_owned(),
        };
        let value = value
            .replace("${AWS::Region}", "us-east-1")
            .replace("${UserPool}", pool)
            .replace("${UserPoolDomain}", domain);
        assert!(
            !value.contains("${"),
            "the stand-in cannot read {name}: {value}"
        );
        value
    };
    kiln::config::OidcSettings {
        issuer: get("KILN_OIDC_ISSUER"),
        audience: get("KILN_OIDC_AUDIENCE"),
        scopes: get("KILN_OIDC_SCOPES"),
        authorization_endpoint: Some(get("KILN_OIDC_AUTHORIZATION_ENDPOINT")),
        token_endpoint: Some(get("KILN_OIDC_TOKEN_ENDPOINT")),
        end_session_endpoint: Some(get("KILN_OIDC_END_SESSION_ENDPOINT")),
    }
}

pub(super) struct Gateway {
    app: Router,
    routes: Vec<Route>,
    issuer: String,
    audience: String,
    /// The pool's signing keys by key id: (modulus, exponent).
    keys: BTreeMap<String, (Vec<u8>, Vec<u8>)>,
}

impl Gateway {
    pub(super) async fn new(
        agents: &Installation,
        template: &serde_yaml::Value,
        pool: &str,
        client: &str,
        domain: &str,
    ) -> Arc<Gateway> {
        // The api function's settings, as the template gives them: where people sign in.
        let mut config = agents.config.clone();
        config.oidc = Some(sign_in_settings(template, pool, client, domain));
        let state = kiln::backends::aws_state_with(&config, &agents.sdk)
            .await
            .unwrap();
        // What the authorizer reads from `{issuer}/.well-known/jwks.json`; moto serves it on
        // its own address.
        let jwks: Value = reqwest::get(format!(
            "{}/{pool}/.well-known/jwks.json",
            agents.moto.endpoint
        ))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
        let b64 = |v: &Value| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(v.as_str().unwrap())
                .unwrap()
        };
        let keys = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|k| k["kty"] == "RSA")
            .map(|k| {
                (
                    k["kid"].as_str().unwrap().to_owned(),
                    (b64(&k["n"]), b64(&k["e"])),
                )
            })
            .collect();
        let (issuer, audience) = issuer_and_audience(template, pool, client);
        Arc::new(Gateway {
            app: kiln_api_function::app(state),
            routes: routes(template),
            issuer,
            audience,
            keys,
        })
    }

    /// The token's claims when the JWT authorizer would take it.
    fn claims(&self, authorization: Option<&str>) -> Option<serde_json::Map<String, Value>> {
        let token = authorization?.strip_prefix("Bearer ")?;
        let parts: Vec<&str> = token.split('.').collect();
        let [header, payload, signature] = parts[..] else {
            return None;
        };
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let header: Value = serde_json::from_slice(&b64.decode(header).ok()?).ok()?;
        if header["alg"] != "RS256" {
            return None;
        }
        let (n, e) = self.keys.get(header["kid"].as_str()?)?;
        ring::signature::RsaPublicKeyComponents { n, e }
            .verify(
                &ring::signature::RSA_PKCS1_2048_8192_SHA256,
                format!("{}.{payload}", parts[0]).as_bytes(),
                &b64.decode(signature).ok()?,
            )
            .ok()?;
        let claims: serde_json::Map<String, Value> =
            serde_json::from_slice(&b64.decode(payload).ok()?).ok()?;
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let audience_ok = claims.get("aud").and_then(Value::as_str) == Some(self.audience.as_str())
            || claims.get("client_id").and_then(Value::as_str) == Some(self.audience.as_str());
        (claims.get("iss").and_then(Value::as_str) == Some(self.issuer.as_str())
            && claims
                .get("exp")
                .and_then(Value::as_i64)
                .is_some_and(|exp| exp > now)
            && audience_ok)
            .then_some(claims)
    }
}

fn gateway_error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({ "message": message }))).into_response()
}

pub(super) async fn gateway_call(State(gw): State<Arc<Gateway>>, req: Request) -> Response {
    let method = req.method().as_str().to_owned();
    let path = req.uri().path().to_owned();
    let Some(route) = gw.routes.iter().find(|r| r.matches(&method, &path)) else {
        return gateway_error(StatusCode::NOT_FOUND, "Not Found");
    };
    let authorization = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok());
    let claims = if route.authorized {
        match gw.claims(authorization) {
            Some(c) => Some(c),
            None => return gateway_error(StatusCode::UNAUTHORIZED, "Unauthorized"),
        }
    } else {
        None
    };
    let query = req.uri().query().unwrap_or_default().to_owned();
    let mut headers = serde_json::Map::new();
    for (name, value) in req.headers() {
        let value = value.to_str().unwrap_or_default().to_owned();
        match headers.get_mut(name.as_str()) {
            // API Gateway joins repeated headers with commas.
            Some(Value::String(seen)) => *seen = format!("{seen},{value}"),
            _ => {
                headers.insert(name.as_str().to_owned(), Value::String(value));
            }
        }
    }
    let domain = "kilnlive.execute-api.us-east-1.amazonaws.com";
    headers.insert("host".into(), json!(domain));
    let body = axum::body::to_bytes(req.into_body(), usize::MAX)
        .await
        .unwrap();
    let route_key = format!("{} {}", route.method, route.path);
    // An HTTP API hands the path over percent-decoded.
    let raw_path = percent_encoding::percent_decode_str(&path)
        .decode_utf8_lossy()
        .into_owned();
    let mut event = json!({
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": raw_path,
        "rawQueryString": query,
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012", "apiId": "kilnlive", "domainName": domain,
            "domainPrefix": "kilnlive", "requestId": uuid::Uuid::new_v4().to_string(),
            "routeKey": route_key, "stage": "$default",
            "time": "26/Nov/2026:10:00:00 +0000", "timeEpoch": 1795000000000u64,
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1",
                     "sourceIp": "127.0.0.1", "userAgent": "kiln-live"}
        },
        "isBase64Encoded": false
    });
    if !body.is_empty() {
        match std::str::from_utf8(&body) {
            Ok(text) => event["body"] = json!(text),
            Err(_) => {
                event["body"] = json!(base64::engine::general_purpose::STANDARD.encode(&body));
                event["isBase64Encoded"] = json!(true);
            }
        }
    }
    if let Some(claims) = claims {
        // The authorizer hands claims on as strings.
        let claims: serde_json::Map<String, Value> = claims
            .into_iter()
            .map(|(k, v)| {
                let text = v
                    .as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| v.to_string());
                (k, Value::String(text))
            })
            .collect();
        event["requestContext"]["authorizer"] = json!({"jwt": {"claims": claims, "scopes": null}});
    }
    let event = serde_json::from_value(event).expect("an API Gateway v2 event");
    // The function's answer as API Gateway reads it: its JSON, the body decoded from base64
    // where it says so, the cookies as `set-cookie` headers.
    let wire = serde_json::to_value(kiln_api_function::handle(&gw.app, event).await).unwrap();
    let mut res = Response::builder().status(wire["statusCode"].as_u64().expect("a status") as u16);
    for (name, value) in wire["headers"].as_object().into_iter().flatten() {
        res = res.header(name.as_str(), value.as_str().expect("a text header"));
    }
    for cookie in wire["cookies"].as_array().into_iter().flatten() {
        res = res.header("set-cookie", cookie.as_str().expect("a text cookie"));
    }
    let body = match &wire["body"] {
        Value::String(text) if wire["isBase64Encoded"] == true => {
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .expect("base64, as isBase64Encoded says")
        }
        Value::String(text) => text.clone().into_bytes(),
        _ => Vec::new(),
    };
    res.body(axum::body::Body::from(body)).unwrap()
}
