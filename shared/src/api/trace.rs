//! Request tracing: every request gets an id (the caller's `x-request-id` when it is a sane
//! token, a fresh one otherwise), returned in the `x-request-id` header and in error bodies,
//! and a `request` span with the method, path and id. Handlers record the project and run they
//! touch in that span, so that one `RUST_LOG` filter on `run_id` follows a message from its
//! request through every step of its run (the steps' spans carry the same `run_id`).

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::field::Empty;
use tracing::Span;

/// The header that carries the request id both ways.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Longest request id taken from a caller.
const MAX_REQUEST_ID: usize = 128;

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The id of the request being answered, inside a request.
pub fn current_request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

fn acceptable(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_REQUEST_ID
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// Gives the request its id, answers it in the response's header, and makes it readable to
/// error bodies for the time of the request.
pub async fn request_id(mut req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|id| acceptable(id))
        .map(str::to_owned)
        .unwrap_or_else(|| crate::model::new_id().to_string());
    let value = HeaderValue::from_str(&id).expect("an acceptable id is a valid header value");
    req.headers_mut().insert(REQUEST_ID_HEADER, value.clone());
    let mut response = REQUEST_ID.scope(id, next.run(req)).await;
    response.headers_mut().insert(REQUEST_ID_HEADER, value);
    response
}

/// The span of one request; `project_id` and `run_id` are recorded by the handlers.
pub fn request_span(req: &Request) -> Span {
    let id = req
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    tracing::info_span!(
        "request",
        method = %req.method(),
        path = %req.uri().path(),
        request_id = %id,
        project_id = Empty,
        run_id = Empty,
    )
}

/// Records the project (and run) a request is about in its span.
pub fn record(project_id: uuid::Uuid, run_id: Option<uuid::Uuid>) {
    let span = Span::current();
    span.record("project_id", tracing::field::display(project_id));
    if let Some(run_id) = run_id {
        span.record("run_id", tracing::field::display(run_id));
    }
}
