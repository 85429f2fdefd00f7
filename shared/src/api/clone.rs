//! `POST /api/v2/projects/{id}/clone`: a copy of a project, with its own history.

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::{Extension, Json};
use serde::Deserialize;
use utoipa::ToSchema;

use super::error::{parse_id, ApiError, Body, ErrorBody};
use super::AppState;
use crate::agents::{clone_project, AgentError};
use crate::model::{new_id, project_name_error, Owner, Project};

/// Body of `POST /api/v2/projects/{id}/clone`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloneProject {
    /// The copy's name, 1–100 characters, not only blanks, no control characters; without
    /// it, the original's name followed by " (copy)".
    #[serde(default)]
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u001F\u007F-\u009F]*$"
    )]
    pub name: Option<String>,
}

/// Copy a project: its spec and design, its current version's files as the copy's version 1
/// (their migrations made anew for a first version, the README under the new name), and a
/// summary of what its conversation asked for. Nothing of the original changes, and nothing
/// of the copy is deployed.
#[utoipa::path(
    post,
    path = "/api/v2/projects/{id}/clone",
    tag = "projects",
    params(("id" = String, Path, description = "The project to copy")),
    request_body = CloneProject,
    responses(
        (status = 201, description = "The copy", body = Project),
        (status = 400, description = "Malformed JSON or id", body = ErrorBody),
        (status = 401, description = "Missing or wrong token", body = ErrorBody),
        (status = 404, description = "No such project", body = ErrorBody),
        (status = 409, description = "Too many projects", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid name, or a project that cannot be copied", body = ErrorBody),
    )
)]
pub async fn clone(
    State(state): State<AppState>,
    Extension(owner): Extension<Owner>,
    Path(id): Path<String>,
    Body(body): Body<CloneProject>,
) -> Result<impl IntoResponse, ApiError> {
    let id = parse_id(&id, "project")?;
    let name = body.name.as_deref().map(str::trim);
    if let Some(problem) = name.and_then(project_name_error) {
        return Err(ApiError::invalid(problem));
    }
    let copy = clone_project(&state.agents, &owner, id, name, new_id())
        .await
        .map_err(|e| match e {
            AgentError::Store(e) => e.into(),
            AgentError::Refused(m) => ApiError::invalid(m),
            other => {
                tracing::error!(error = %other, "clone failed");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "clone_failed",
                    format!("the project could not be copied: {other}"),
                )
            }
        })?;
    super::trace::record(copy.id, None);
    let location = format!("/api/v2/projects/{}", copy.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(copy),
    ))
}
