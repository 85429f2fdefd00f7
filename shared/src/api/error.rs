//! API errors and the extractors that turn bad input into them.
//!
//! Every error leaves as `{"error": {"code", "message", "request_id"}}`; each error kind maps to
//! one status here.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;
use utoipa::ToSchema;

use crate::store::StoreError;
use crate::workflow::WorkflowError;

/// An error answer of the API.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine-readable code.
    pub code: &'static str,
    /// One sentence for a person.
    pub message: String,
    /// For a failure that may pass: how many seconds to wait before trying again.
    pub retry_after_secs: Option<u64>,
}

/// The JSON body of every error.
#[derive(Debug, Serialize, serde::Deserialize, ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// Code and message of an error.
#[derive(Debug, Serialize, serde::Deserialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code, e.g. `not_found`, `invalid_request`.
    pub code: String,
    /// One sentence for a person.
    pub message: String,
    /// The id of the request, as in its `x-request-id` header: what to quote when asking why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

impl ApiError {
    /// An error with this status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after_secs: None,
        }
    }

    /// 404 for a thing that does not exist or is not the caller's.
    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }

    /// 503 for a failure that may pass, with a `Retry-After`.
    pub fn unavailable(code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            retry_after_secs: Some(1),
            ..Self::new(StatusCode::SERVICE_UNAVAILABLE, code, message)
        }
    }

    /// 422 for a well-formed request with unacceptable values.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request", message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(code = self.code, message = %self.message, "request failed");
        }
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_owned(),
                message: self.message,
                request_id: super::current_request_id(),
            },
        };
        let mut response = (self.status, axum::Json(body)).into_response();
        if let Some(secs) = self.retry_after_secs {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        if self.status == StatusCode::PAYLOAD_TOO_LARGE {
            // The rest of the body is not read, so the connection cannot carry another
            // request: saying so keeps a client from sending its next one on it.
            response.headers_mut().insert(
                axum::http::header::CONNECTION,
                axum::http::HeaderValue::from_static("close"),
            );
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(what) => ApiError::not_found(what),
            StoreError::Conflict(m) => ApiError::new(StatusCode::CONFLICT, "conflict", m),
            StoreError::LimitReached(count) => ApiError::new(
                StatusCode::CONFLICT,
                "project_limit",
                format!("you have {count} projects, the most this server allows; delete one first"),
            ),
            StoreError::BadCursor => ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_cursor",
                "the cursor is not one this list handed out",
            ),
            StoreError::Unavailable(cause) => {
                tracing::warn!(error = %cause, "storage unavailable");
                ApiError::unavailable(
                    "storage_unavailable",
                    "the server's storage is busy or unreachable; try again shortly",
                )
            }
            StoreError::Corrupt(cause) => {
                tracing::error!(error = %cause, "stored data is corrupt");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "storage_corrupt",
                    "the server found stored data it cannot read; see the server log",
                )
            }
            StoreError::Backend(cause) => {
                tracing::error!(error = %cause, "storage failed");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "storage_failed",
                    "the server could not read or write its storage; see the server log",
                )
            }
        }
    }
}

/// An app's runner failing a request about it: nothing running there (404), a cursor the
/// runner did not hand out (400), the app or its backend unreachable for now (503 with
/// `unavailable`), anything else (502 with `failed`, logged).
pub fn runner_error(
    e: crate::runner::RunnerError,
    (unavailable, failed): (&'static str, &'static str),
) -> ApiError {
    use crate::runner::RunnerError;
    match e {
        RunnerError::NotRunning(why) => ApiError::new(StatusCode::NOT_FOUND, "not_running", why),
        RunnerError::InvalidCursor(why) => {
            ApiError::new(StatusCode::BAD_REQUEST, "invalid_cursor", why)
        }
        RunnerError::Unavailable(cause) => ApiError::unavailable(unavailable, cause.to_string()),
        other => {
            tracing::error!(error = %other, code = failed, "a request to an app failed");
            ApiError::new(StatusCode::BAD_GATEWAY, failed, other.to_string())
        }
    }
}

impl From<WorkflowError> for ApiError {
    fn from(e: WorkflowError) -> Self {
        match e {
            WorkflowError::Store(s) => s.into(),
            WorkflowError::Unavailable(cause) => {
                tracing::warn!(error = %cause, "workflow unavailable");
                ApiError::unavailable(
                    "workflow_unavailable",
                    "the pipeline could not be started just now; send the message again shortly",
                )
            }
            WorkflowError::Failed(cause) => {
                tracing::error!(error = %cause, "workflow failed");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "workflow_failed",
                    "the pipeline could not be started; see the server log",
                )
            }
        }
    }
}

/// `Json<T>` whose rejections are API errors.
pub struct Body<T>(pub T);

impl<S, T> FromRequest<S> for Body<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        // Syntax first, for the whole body, then shape: so that a truncated body is reported
        // as malformed even when its first value already has the wrong type.
        let value = match axum::Json::<serde_json::Value>::from_request(req, state).await {
            Ok(axum::Json(v)) => v,
            Err(rejection) => return Err(json_rejection(rejection)),
        };
        serde_json::from_value(value).map(Body).map_err(|e| {
            ApiError::invalid(format!("the body does not have the expected fields: {e}"))
        })
    }
}

fn json_rejection(r: JsonRejection) -> ApiError {
    let status = r.status();
    let (code, message) = match &r {
        JsonRejection::JsonSyntaxError(_) => (
            "malformed_json",
            format!("the body is not valid JSON: {}", r.body_text()),
        ),
        JsonRejection::JsonDataError(_) => ("invalid_request", r.body_text()),
        JsonRejection::MissingJsonContentType(_) => (
            "unsupported_media_type",
            "send the body as JSON with `Content-Type: application/json`".to_owned(),
        ),
        _ if status == StatusCode::PAYLOAD_TOO_LARGE => (
            "payload_too_large",
            "the request body is larger than this server accepts".to_owned(),
        ),
        _ => ("invalid_request", r.body_text()),
    };
    let status = if code == "malformed_json" {
        StatusCode::BAD_REQUEST
    } else {
        status
    };
    ApiError::new(status, code, message)
}

/// `Query<T>` whose rejections are API errors.
pub struct Params<T>(pub T);

impl<S, T> FromRequestParts<S> for Params<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(Params(v)),
            Err(r @ QueryRejection::FailedToDeserializeQueryString(_)) => Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_query",
                r.body_text(),
            )),
            Err(r) => Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_query",
                r.body_text(),
            )),
        }
    }
}

/// Parses an id from the path; anything that is not one of ours is simply not found.
pub fn parse_id(raw: &str, what: &str) -> Result<uuid::Uuid, ApiError> {
    raw.parse().map_err(|_| ApiError::not_found(what))
}
