//! What the app running in an environment logged: `GET
//! /api/v2/projects/{id}/deployments/{environment}/logs`, its latest lines, then (with
//! `since`, the `next_since` of the page before) the lines written after them, so a client
//! follows the log by asking again. The deployer reads them (`Deployer::read_logs`): locally
//! the release's log file, on AWS the stack's CloudWatch log group.

use axum::extract::{Path, State};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::{runner_error, ApiError, ErrorBody, Params};
use super::AppState;
use crate::model::Owner;
use crate::runner::logs::{DEFAULT_LOG_LIMIT, MAX_LOG_LIMIT};
use crate::runner::LogLine;

/// Which lines to read.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LogQuery {
    /// `next_since` of the previous page, as handed out: the lines written after that page.
    /// Without it, the latest lines. A cursor is opaque; one this log did not hand out is a
    /// 400 (`invalid_cursor`).
    pub since: Option<String>,
    /// Most lines, 1–500 (default 100).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
}

/// A page of an app's log.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LogLines {
    /// Oldest first.
    pub items: Vec<LogLine>,
    /// Pass back as `since` for the lines written after these; a log always has one.
    pub next_since: String,
}

/// The lines the app running in an environment logged, oldest first: one JSON line per
/// request (`fields` holds its method, path, status, duration and request id) and whatever
/// else it wrote.
#[utoipa::path(
    get,
    path = "/api/v2/projects/{id}/deployments/{environment}/logs",
    tag = "deployments",
    params(
        ("id" = String, Path, description = "Project id"),
        ("environment" = String, Path, description = "dev, staging or prod"),
        LogQuery,
    ),
    responses(
        (status = 200, description = "A page of the log", body = LogLines),
        (status = 400, description = "A `since` this log did not hand out, or a limit outside 1–500", body = ErrorBody),
        (status = 404, description = "No such project or environment, or nothing deployed or running there", body = ErrorBody),
        (status = 502, description = "The log could not be read", body = ErrorBody),
        (status = 503, description = "The log cannot be read now; ask again", body = ErrorBody),
    )
)]
pub async fn read_logs(
    State(state): State<AppState>,
    Extension(owner): Extension<Owner>,
    Path((id, env)): Path<(String, String)>,
    Params(query): Params<LogQuery>,
) -> Result<Json<LogLines>, ApiError> {
    let limit =
        super::projects::check_limit(query.limit, MAX_LOG_LIMIT)?.unwrap_or(DEFAULT_LOG_LIMIT);
    let (project, environment) = super::data::deployed(&state, &owner, &id, &env).await?;
    let page = state
        .agents
        .deployer
        .read_logs(project.id, environment, query.since.as_deref(), limit)
        .await
        .map_err(|e| runner_error(e, ("logs_unavailable", "logs_failed")))?;
    Ok(Json(LogLines {
        items: page.lines,
        next_since: page.next,
    }))
}
