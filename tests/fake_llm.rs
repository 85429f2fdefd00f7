//! A fake language-model provider for tests, on 127.0.0.1. It speaks two wire formats as the
//! providers document them: Amazon Bedrock Runtime's Converse (`POST /model/{modelId}/converse`,
//! errors named by an `x-amzn-errortype` header with a `{"message": …}` body) and OpenAI's chat
//! completions (`POST /v1/chat/completions`; clients take [`FakeLlm::openai_base_url`]). Every
//! answer is the next [`Exchange`] of the scenario the test gives, usually a hand-written `.http`
//! fixture under `tests/fixtures/llm/{bedrock,openai}/`; every request is recorded as sent, its
//! path before any percent-decoding.
//!
//! It is not a model and imitates none: it never reads a prompt, never reaches a real provider
//! (nothing here touches the network beyond loopback), checks no credentials or signatures, and
//! does not stream. A request it cannot answer from the scenario (none left, a fixture of the
//! other provider, a path it does not serve) gets an error and counts in [`FakeLlm::unexpected`].

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde_json::{json, Value};

/// Which provider's wire format a fixture or a route is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire {
    /// Amazon Bedrock Runtime, the Converse operation.
    Bedrock,
    /// OpenAI chat completions.
    Openai,
}

impl Wire {
    /// The provider's fixture directory under [`fixtures_dir`]: `bedrock` or `openai`.
    pub fn dir(self) -> &'static str {
        match self {
            Wire::Bedrock => "bedrock",
            Wire::Openai => "openai",
        }
    }

    /// The provider whose route `method` and the raw `path` are, if any.
    fn of_route(method: &Method, path: &str) -> Option<Wire> {
        if method != Method::POST {
            return None;
        }
        if path == "/v1/chat/completions" {
            return Some(Wire::Openai);
        }
        let model = path.strip_prefix("/model/")?.strip_suffix("/converse")?;
        (!model.is_empty() && !model.contains('/')).then_some(Wire::Bedrock)
    }
}

/// `tests/fixtures/llm`, where the fixtures of both providers live.
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/llm")
}

/// One canned answer of a provider.
///
/// Its `.http` form: `#` comment lines saying which documented wire format it follows and that
/// it was written by hand (required), optionally the directive `# delay-ms: N` among them; then
/// a status line (`HTTP/1.1 200 OK`), header lines, a blank line, and the body, served as is.
#[derive(Debug, Clone, PartialEq)]
pub struct Exchange {
    /// The provider it belongs to; served on that provider's route only.
    pub wire: Wire,
    /// The HTTP status.
    pub status: u16,
    /// Response headers, names lower-cased, in order.
    pub headers: Vec<(String, String)>,
    /// The body, byte for byte (may be empty).
    pub body: String,
    /// How long the server waits before answering (`# delay-ms:`); other requests are not held.
    pub delay: Duration,
    /// The header comment, without its `#`s and directives.
    pub comment: String,
    /// Where it was read from (empty when parsed from a string).
    pub origin: String,
}

impl Exchange {
    /// Parses the `.http` text of an exchange of `wire`. Refuses text without a header comment,
    /// with a malformed status or header line, or with a `content-length` or
    /// `transfer-encoding` header (the server frames the body itself).
    pub fn parse(wire: Wire, text: &str) -> Result<Exchange, String> {
        let mut rest = text;
        let (mut comment, mut delay) = (String::new(), Duration::ZERO);
        while rest.starts_with('#') {
            let line = take_line(&mut rest).unwrap_or_default();
            let line = line.trim_start_matches('#').trim();
            if let Some(ms) = line.strip_prefix("delay-ms:") {
                let ms = ms
                    .trim()
                    .parse()
                    .map_err(|_| format!("bad directive: {line}"))?;
                delay = Duration::from_millis(ms);
            } else {
                comment.push_str(line);
                comment.push('\n');
            }
        }
        if comment.trim().is_empty() {
            return Err("no header comment saying which wire format this follows".into());
        }
        let status_line = take_line(&mut rest).ok_or("no status line")?;
        let status = status_line
            .strip_prefix("HTTP/1.1 ")
            .and_then(|s| s.split(' ').next())
            .and_then(|code| code.parse::<u16>().ok())
            .filter(|code| StatusCode::from_u16(*code).is_ok())
            .ok_or_else(|| format!("not a status line: {status_line:?}"))?;
        let mut headers = Vec::new();
        loop {
            let line = take_line(&mut rest).ok_or("no blank line after the headers")?;
            if line.is_empty() {
                break;
            }
            let (name, value) = line
                .split_once(':')
                .ok_or_else(|| format!("not a header line: {line:?}"))?;
            let (name, value) = (name.trim().to_ascii_lowercase(), value.trim().to_owned());
            if HeaderName::from_bytes(name.as_bytes()).is_err()
                || HeaderValue::from_str(&value).is_err()
            {
                return Err(format!("not a valid header: {line:?}"));
            }
            if name == "content-length" || name == "transfer-encoding" {
                return Err(format!("{name} is set by the server, not the fixture"));
            }
            headers.push((name, value));
        }
        Ok(Exchange {
            wire,
            status,
            headers,
            body: rest.to_owned(),
            delay,
            comment,
            origin: String::new(),
        })
    }

    /// Reads a fixture file; its provider is the name of its directory (`bedrock`, `openai`).
    pub fn load(path: impl AsRef<Path>) -> Result<Exchange, String> {
        let path = path.as_ref();
        let wire = match path
            .parent()
            .and_then(Path::file_name)
            .and_then(|d| d.to_str())
        {
            Some("bedrock") => Wire::Bedrock,
            Some("openai") => Wire::Openai,
            _ => {
                return Err(format!(
                    "{}: not in a bedrock/ or openai/ directory",
                    path.display()
                ))
            }
        };
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut exchange =
            Exchange::parse(wire, &text).map_err(|e| format!("{}: {e}", path.display()))?;
        exchange.origin = path.display().to_string();
        Ok(exchange)
    }

    /// The fixture `name` under [`fixtures_dir`], such as `"bedrock/reviews.http"` (or at an
    /// absolute path); panics if it cannot be read.
    pub fn fixture(name: &str) -> Exchange {
        Exchange::load(fixtures_dir().join(name)).unwrap_or_else(|e| panic!("{e}"))
    }

    /// The same exchange answered after `delay` instead of its own.
    pub fn with_delay(mut self, delay: Duration) -> Exchange {
        self.delay = delay;
        self
    }

    /// The value of its header `name` (lower-case), if it has one.
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    fn into_response(self) -> Response {
        let mut response = Response::new(Body::from(self.body));
        *response.status_mut() = StatusCode::from_u16(self.status).expect("a checked status");
        for (name, value) in &self.headers {
            response.headers_mut().append(
                HeaderName::from_bytes(name.as_bytes()).expect("a checked header name"),
                HeaderValue::from_str(value).expect("a checked header value"),
            );
        }
        response
    }
}

/// The next line of `rest` without its line ending, and `rest` moved past it.
fn take_line<'a>(rest: &mut &'a str) -> Option<&'a str> {
    if rest.is_empty() {
        return None;
    }
    let (line, after) = rest.split_once('\n').unwrap_or((rest, ""));
    *rest = after;
    Some(line.strip_suffix('\r').unwrap_or(line))
}

fn find_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// A request the fake received, as sent.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// The method, such as `POST`.
    pub method: String,
    /// The path exactly as sent, before percent-decoding (`…-v1%3A0/converse`).
    pub path: String,
    /// The provider whose route it took, if any.
    pub wire: Option<Wire>,
    /// Its headers, names lower-cased, in order.
    pub headers: Vec<(String, String)>,
    /// The body as JSON, or `Value::Null` when it is not JSON.
    pub body: Value,
    /// The body as text (bytes that are not UTF-8 replaced).
    pub raw_body: String,
}

impl Recorded {
    /// The value of its header `name`, if it has one.
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }
}

struct Shared {
    scenario: Mutex<VecDeque<Exchange>>,
    requests: Mutex<Vec<Recorded>>,
    unexpected: AtomicUsize,
}

/// A running fake provider, on its own thread and runtime (so it answers whatever the test's
/// runtime is doing); it stops when dropped.
pub struct FakeLlm {
    shared: Arc<Shared>,
    url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl FakeLlm {
    /// Starts a provider that answers its requests with `scenario`, one exchange each, in order.
    pub fn start(scenario: Vec<Exchange>) -> FakeLlm {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let shared = Arc::new(Shared {
            scenario: Mutex::new(scenario.into()),
            requests: Mutex::default(),
            unexpected: AtomicUsize::new(0),
        });
        let app = Router::new().fallback(answer).with_state(shared.clone());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        crate::serve_on_own_thread(listener, app, Some(stopped));
        FakeLlm {
            shared,
            url,
            stop: Some(stop),
        }
    }

    /// Starts a provider whose scenario is the fixtures `names` (see [`Exchange::fixture`]).
    pub fn from_fixtures(names: &[&str]) -> FakeLlm {
        FakeLlm::start(names.iter().map(|n| Exchange::fixture(n)).collect())
    }

    /// `http://127.0.0.1:{port}`, the Bedrock Runtime endpoint.
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// `http://127.0.0.1:{port}/v1`, the base URL of an OpenAI client.
    pub fn openai_base_url(&self) -> String {
        format!("{}/v1", self.url)
    }

    /// Every request received so far, in order of arrival.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.requests.lock().unwrap().clone()
    }

    /// How many requests got no answer from the scenario: none was left, the next one was the
    /// other provider's, or the route is not served. Tests expect none.
    pub fn unexpected(&self) -> usize {
        self.shared.unexpected.load(Ordering::SeqCst)
    }

    /// How many exchanges of the scenario are still to be served.
    pub fn remaining(&self) -> usize {
        self.shared.scenario.lock().unwrap().len()
    }
}

impl Drop for FakeLlm {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

async fn answer(State(s): State<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path().to_owned();
    let wire = Wire::of_route(&parts.method, &path);
    let raw = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    s.requests.lock().unwrap().push(Recorded {
        method: parts.method.to_string(),
        path: path.clone(),
        wire,
        headers: (parts.headers.iter())
            .map(|(n, v)| {
                (
                    n.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into(),
                )
            })
            .collect(),
        body: serde_json::from_slice(&raw).unwrap_or(Value::Null),
        raw_body: String::from_utf8_lossy(&raw).into_owned(),
    });
    let refuse = |status: StatusCode, message: String| {
        s.unexpected.fetch_add(1, Ordering::SeqCst);
        (status, Json(json!({ "message": message }))).into_response()
    };
    let Some(wire) = wire else {
        return refuse(
            StatusCode::NOT_FOUND,
            format!(
                "fake provider: {} {path} is not served here (only POST /model/{{modelId}}/converse \
                 and POST /v1/chat/completions)",
                parts.method
            ),
        );
    };
    let next = s.scenario.lock().unwrap().pop_front();
    let Some(exchange) = next else {
        let message = "fake provider: no fixture response left".to_owned();
        return refuse(StatusCode::INTERNAL_SERVER_ERROR, message);
    };
    if exchange.wire != wire {
        return refuse(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!(
                "fake provider: the next fixture ({}) is a {} answer, asked on the {} route",
                exchange.origin,
                exchange.wire.dir(),
                wire.dir()
            ),
        );
    }
    tokio::time::sleep(exchange.delay).await;
    exchange.into_response()
}

#[cfg(test)]
#[path = "fake_llm_tests.rs"]
mod tests;
