//! API Gateway's HTTP API events (payload format 2.0) in, HTTP requests to the router out, and
//! the router's responses back as the answers API Gateway reads.
//!
//! A request keeps the event's method, headers, cookies (API Gateway moves them out of the
//! headers; they go back into one `cookie` header), query string as API Gateway received it,
//! and body (decoded from base64 where API Gateway encoded it). Its path is `rawPath` without
//! the stage API Gateway put there ([`without_stage`]), encoded again: an HTTP API hands the
//! path over percent-decoded (`/files/my notes.md`, not `my%20notes.md`), and the router
//! decodes it once more ([`encoded_path`]). The event's request context (the authorizer's
//! claims) rides in the request's extensions as a [`Context`].
//!
//! A response's body goes back as text when it is UTF-8 and not content-encoded, otherwise in
//! base64 with `isBase64Encoded`, which API Gateway decodes; `set-cookie` headers go into
//! `cookies`, as payload 2.0 wants them.

use aws_lambda_events::apigw::{
    ApiGatewayV2httpRequest, ApiGatewayV2httpRequestContext, ApiGatewayV2httpResponse,
};
use aws_lambda_events::encodings::Body as EventBody;
use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, Request, Response, StatusCode};
use axum::response::IntoResponse;
use base64::Engine;
use http_body_util::BodyExt;
use kiln::api::ApiError;

/// The API Gateway context of the event a request came in, in the request's extensions.
#[derive(Clone, Debug)]
pub struct Context(pub ApiGatewayV2httpRequestContext);

/// Why an event could not be made into a request; answered as 400.
#[derive(Debug)]
pub struct BadEvent(pub String);

/// The router's request for `event`.
pub fn request(event: ApiGatewayV2httpRequest) -> Result<Request<Body>, BadEvent> {
    let ctx = event.request_context;
    let raw = event.raw_path.as_deref().unwrap_or("/");
    let path = without_stage(
        raw,
        ctx.stage.as_deref().unwrap_or_default(),
        ctx.domain_name.as_deref().unwrap_or_default(),
    );
    let path = encoded_path(path);
    let uri = match event.raw_query_string.as_deref() {
        Some(query) if !query.is_empty() => format!("{path}?{query}"),
        _ => path,
    };
    let body = match event.body {
        None => Vec::new(),
        Some(text) if event.is_base64_encoded => base64::engine::general_purpose::STANDARD
            .decode(text.as_bytes())
            .map_err(|e| BadEvent(format!("the body is not base64: {e}")))?,
        Some(text) => text.into_bytes(),
    };
    let mut req = Request::builder()
        .method(ctx.http.method.clone())
        .uri(&uri)
        .body(Body::from(body))
        .map_err(|e| BadEvent(format!("{uri}: {e}")))?;
    *req.headers_mut() = event.headers;
    if let Some(cookies) = event.cookies.filter(|c| !c.is_empty()) {
        let joined = HeaderValue::from_str(&cookies.join("; "))
            .map_err(|e| BadEvent(format!("the cookies: {e}")))?;
        req.headers_mut().insert(header::COOKIE, joined);
    }
    req.extensions_mut().insert(Context(ctx));
    Ok(req)
}

/// The answer API Gateway reads for `res`.
pub async fn response(res: Response<Body>) -> ApiGatewayV2httpResponse {
    let (parts, body) = res.into_parts();
    let bytes = match body.collect().await {
        Ok(collected) => collected.to_bytes().to_vec(),
        // An error's body is whole, so this answers it.
        Err(e) => {
            let failed = ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                format!("the answer could not be read: {e}"),
            );
            return Box::pin(response(failed.into_response())).await;
        }
    };
    let mut headers = parts.headers;
    let cookies = take_cookies(&mut headers);
    let encoded = headers.contains_key(header::CONTENT_ENCODING);
    let (body, is_base64_encoded) = match String::from_utf8(bytes) {
        Ok(text) if text.is_empty() => (None, false),
        Ok(text) if !encoded => (Some(EventBody::Text(text)), false),
        Ok(text) => (Some(EventBody::Binary(text.into_bytes())), true),
        Err(e) => (Some(EventBody::Binary(e.into_bytes())), true),
    };
    let mut answer = ApiGatewayV2httpResponse::default();
    answer.status_code = i64::from(parts.status.as_u16());
    answer.headers = one_line_each(headers);
    answer.cookies = cookies;
    answer.body = body;
    answer.is_base64_encoded = is_base64_encoded;
    answer
}

/// Payload 2.0 gives each header one value: a header the router set more than once goes back
/// as its values joined with commas, as HTTP allows for a list of values.
fn one_line_each(headers: HeaderMap) -> HeaderMap {
    let mut joined = HeaderMap::with_capacity(headers.keys_len());
    for name in headers.keys() {
        // The answer's JSON holds text: a value that is not (obs-text) is left out and
        // logged, rather than failing the whole answer.
        let values: Vec<&str> = headers
            .get_all(name)
            .iter()
            .filter_map(|v| match v.to_str() {
                Ok(text) => Some(text),
                Err(_) => {
                    tracing::warn!(header = %name, "a header value that is not text was left out");
                    None
                }
            })
            .collect();
        if values.is_empty() {
            continue;
        }
        if let Ok(value) = HeaderValue::from_str(&values.join(", ")) {
            joined.insert(name.clone(), value);
        }
    }
    joined
}

/// The `set-cookie` headers, taken out of `headers`.
fn take_cookies(headers: &mut HeaderMap) -> Vec<String> {
    let cookies = headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_owned))
        .collect();
    headers.remove(header::SET_COOKIE);
    cookies
}

/// A decoded path as a URI's path: every byte but the ones a path segment may hold as they are
/// (letters, digits, `-._~!$&'()*+,;=:@` and the `/` between segments) as `%XX`. A space, `#`,
/// `?` or `%` in a file's name, or a letter outside ASCII, reaches the route as it was.
pub fn encoded_path(decoded: &str) -> String {
    let mut out = String::with_capacity(decoded.len());
    for &b in decoded.as_bytes() {
        if b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `raw` without a leading `/{stage}` when API Gateway put it there: a named stage (not
/// `$default`) on the API's `execute-api` address. Behind a custom domain's API mapping
/// `rawPath` has neither the stage nor the mapping's key.
pub fn without_stage<'a>(raw: &'a str, stage: &str, domain: &str) -> &'a str {
    if stage.is_empty() || stage == "$default" || !domain.contains(".execute-api.") {
        return raw;
    }
    match raw.strip_prefix('/').and_then(|r| r.strip_prefix(stage)) {
        Some("") => "/",
        Some(rest) if rest.starts_with('/') => rest,
        _ => raw,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    /// An HTTP API event as API Gateway sends it (payload format 2.0), with `changes` merged
    /// in at the top level.
    fn event(changes: Value) -> ApiGatewayV2httpRequest {
        let mut e = json!({
            "version": "2.0", "routeKey": "$default", "rawPath": "/v2/api/v2/projects",
            "rawQueryString": "limit=20&q=t%C3%A2che%20a%2Bb",
            "headers": {"content-type": "application/json", "x-trace": "a, b"},
            "requestContext": {
                "accountId": "123456789012", "apiId": "kilnapi",
                "domainName": "kilnapi.execute-api.eu-west-1.amazonaws.com",
                "domainPrefix": "kilnapi", "requestId": "r", "routeKey": "$default",
                "stage": "v2", "time": "24/Nov/2026:10:00:00 +0000", "timeEpoch": 1795000000000u64,
                "http": {"method": "POST", "path": "/v2/api/v2/projects", "protocol": "HTTP/1.1",
                         "sourceIp": "203.0.113.9", "userAgent": "curl/8"},
                "authorizer": {"jwt": {"claims": {"sub": "alice"}, "scopes": null}}
            },
            "isBase64Encoded": false
        });
        for (k, v) in changes.as_object().unwrap() {
            e[k] = v.clone();
        }
        serde_json::from_value(e).unwrap()
    }

    async fn body_of(req: Request<Body>) -> Vec<u8> {
        req.into_body().collect().await.unwrap().to_bytes().to_vec()
    }

    #[tokio::test]
    async fn an_event_becomes_the_request_api_gateway_received() {
        let req = request(event(json!({
            "body": "{\"name\":\"Tâches\"}",
            "cookies": ["a=1", "b=2"],
        })))
        .unwrap();
        assert_eq!(req.method(), "POST");
        assert_eq!(
            req.uri().to_string(),
            "/api/v2/projects?limit=20&q=t%C3%A2che%20a%2Bb",
            "the stage taken out, the query as received"
        );
        assert_eq!(req.headers()["content-type"], "application/json");
        assert_eq!(req.headers()["x-trace"], "a, b");
        assert_eq!(req.headers()["cookie"], "a=1; b=2");
        let ctx = req.extensions().get::<Context>().expect("the context");
        let claims = &ctx
            .0
            .authorizer
            .as_ref()
            .unwrap()
            .jwt
            .as_ref()
            .unwrap()
            .claims;
        assert_eq!(claims["sub"], "alice");
        assert_eq!(body_of(req).await, "{\"name\":\"Tâches\"}".as_bytes());
    }

    /// API Gateway hands an HTTP API's path over decoded; the route gets it as it was.
    #[test]
    fn a_decoded_path_reaches_the_route_as_it_was() {
        let raw = "/api/v2/projects/p/files/my notes/#1 100% é?[x]`{|}^\\.md";
        let req = request(event(
            json!({"rawPath": raw, "rawQueryString": "side=a%20b"}),
        ))
        .unwrap();
        let path = req.uri().path();
        let decoded = percent_encoding::percent_decode_str(path)
            .decode_utf8()
            .unwrap();
        assert_eq!(decoded, raw, "{path}");
        assert_eq!(
            req.uri().query(),
            Some("side=a%20b"),
            "the query as received"
        );
    }

    #[tokio::test]
    async fn a_base64_body_is_decoded_and_a_broken_one_refused() {
        let bytes = vec![0u8, 159, 146, 150, 255];
        let encoded = base64::engine::general_purpose::STANDARD.encode(&bytes);
        let req = request(event(json!({"body": encoded, "isBase64Encoded": true}))).unwrap();
        assert_eq!(body_of(req).await, bytes);
        let broken = request(event(
            json!({"body": "not base64!", "isBase64Encoded": true}),
        ));
        assert!(broken.is_err());
        let empty = request(event(json!({"rawQueryString": ""}))).unwrap();
        assert_eq!(empty.uri().to_string(), "/api/v2/projects");
        assert!(body_of(empty).await.is_empty());
    }

    /// What API Gateway reads from the answer's JSON: the status, the headers, the cookies and
    /// the body (decoded from base64 where `isBase64Encoded` says so).
    fn read_as_api_gateway(answer: &ApiGatewayV2httpResponse) -> (Value, Vec<u8>) {
        let wire = serde_json::to_value(answer).unwrap();
        let body = match &wire["body"] {
            Value::String(text) if wire["isBase64Encoded"] == true => {
                base64::engine::general_purpose::STANDARD
                    .decode(text)
                    .unwrap()
            }
            Value::String(text) => text.clone().into_bytes(),
            _ => Vec::new(),
        };
        (wire, body)
    }

    fn answered(status: u16, headers: &[(&str, &str)], body: Vec<u8>) -> Response<Body> {
        let mut res = Response::builder().status(status);
        for (k, v) in headers {
            res = res.header(*k, *v);
        }
        res.body(Body::from(body)).unwrap()
    }

    #[tokio::test]
    async fn json_goes_back_as_text_and_bytes_in_base64() {
        let json = "{\"name\":\"Tâches\"}";
        let (wire, body) = read_as_api_gateway(
            &response(answered(
                201,
                &[("content-type", "application/json")],
                json.into(),
            ))
            .await,
        );
        assert_eq!(wire["statusCode"], 201);
        assert_eq!(wire["isBase64Encoded"], false);
        assert_eq!(
            wire["body"], json,
            "readable in the logs and a third smaller"
        );
        assert_eq!(wire["headers"]["content-type"], "application/json");
        assert_eq!(body, json.as_bytes());

        let zip = vec![0x50, 0x4b, 0x03, 0x04, 0xff, 0x00, 0x80];
        let (wire, body) = read_as_api_gateway(
            &response(answered(
                200,
                &[("content-type", "application/zip")],
                zip.clone(),
            ))
            .await,
        );
        assert_eq!(wire["isBase64Encoded"], true);
        assert_eq!(body, zip);

        // Compressed text is bytes too.
        let (wire, body) = read_as_api_gateway(
            &response(answered(
                200,
                &[("content-encoding", "gzip")],
                b"abc".to_vec(),
            ))
            .await,
        );
        assert_eq!(wire["isBase64Encoded"], true);
        assert_eq!(body, b"abc");

        let (wire, body) = read_as_api_gateway(&response(answered(204, &[], vec![])).await);
        assert_eq!(wire["statusCode"], 204);
        assert!(body.is_empty());
    }

    #[tokio::test]
    async fn set_cookie_goes_into_cookies_and_other_headers_one_line_each() {
        let (wire, _) = read_as_api_gateway(
            &response(answered(
                200,
                &[
                    ("set-cookie", "a=1; HttpOnly"),
                    ("set-cookie", "b=2"),
                    ("x-one", "1"),
                    ("vary", "origin"),
                    ("vary", "accept-encoding"),
                ],
                b"{}".to_vec(),
            ))
            .await,
        );
        assert_eq!(wire["cookies"], json!(["a=1; HttpOnly", "b=2"]));
        assert!(wire["headers"].get("set-cookie").is_none());
        assert_eq!(wire["headers"]["x-one"], "1");
        assert_eq!(
            wire["headers"]["vary"], "origin, accept-encoding",
            "every value, one line"
        );

        let mut odd = answered(200, &[("x-one", "1")], b"{}".to_vec());
        odd.headers_mut()
            .insert("x-odd", HeaderValue::from_bytes(b"caf\xe9").unwrap());
        let (odd, _) = read_as_api_gateway(&response(odd).await);
        assert_eq!(odd["statusCode"], 200, "answered, the odd value left out");
        assert!(odd["headers"].get("x-odd").is_none());
    }
}
