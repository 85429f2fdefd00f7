//! The user's own changes to a project's files: each edit, added file or deleted file a new
//! version authored by the user; and the decisions a build waits for when its new code met
//! those changes and some files conflict.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::{parse_id, ApiError, Body, ErrorBody, Params};
use super::AppState;
use crate::agents::edits::{self, Decision, EditError, FileChange};
use crate::agents::AgentError;
use crate::model::{Owner, PendingMerge, Version};

/// Longest note on a change, in characters.
pub const MAX_NOTE_CHARS: usize = 500;

/// Body of `PUT …/files/{path}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutFile {
    /// The file's whole new text (UTF-8, no NUL).
    pub content: String,
    /// What the change is, shown in the conversation and kept on the version.
    #[serde(default)]
    #[schema(
        max_length = 500,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$"
    )]
    pub message: Option<String>,
    /// The version the edit was made on: refused with 409 when another is current now.
    #[serde(default, deserialize_with = "whole_number")]
    #[schema(minimum = 1, maximum = 4294967295_u64)]
    pub version: Option<u32>,
}

/// A version number as JSON may write it: `3` or `3.0` (JSON Schema calls both integers).
fn whole_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    use serde::de::Error;
    let Some(n) = Option::<serde_json::Number>::deserialize(d)? else {
        return Ok(None);
    };
    let whole = n.as_u64().or_else(|| {
        n.as_f64()
            .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f <= f64::from(u32::MAX))
            .map(|f| f as u64)
    });
    whole
        .and_then(|w| u32::try_from(w).ok())
        .map(Some)
        .ok_or_else(|| {
            D::Error::custom(format!("`version` must be a whole number from 1, not {n}"))
        })
}

/// Query of `DELETE …/files/{path}`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeleteFile {
    /// What the change is (at most 500 characters, no control characters but line breaks and
    /// tabs).
    #[param(
        max_length = 500,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$"
    )]
    pub message: Option<String>,
    /// The version the delete was decided on: refused with 409 when another is current now.
    pub version: Option<u32>,
}

/// What an edit did.
#[derive(Debug, Serialize, ToSchema)]
pub struct EditOutcome {
    /// The version the files are now: new when `made`, else the current one unchanged.
    pub version: Version,
    /// Whether the edit made a new version (`false`: the file already held that text).
    pub made: bool,
}

/// How the user decides one conflicting file.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Take {
    /// Keep the user's file.
    Mine,
    /// Take the generated file.
    Generated,
    /// Take `content`.
    Edited,
}

/// One decision of `POST …/merge`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FileDecision {
    /// The conflicting file.
    pub path: String,
    /// Which side.
    pub take: Take,
    /// With `edited`: the file's whole text, without conflict markers.
    #[serde(default)]
    pub content: Option<String>,
}

/// Body of `POST …/merge`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Resolve {
    /// One decision per conflicting file.
    pub files: Vec<FileDecision>,
    /// What the user says about it.
    #[serde(default)]
    #[schema(
        max_length = 500,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$"
    )]
    pub message: Option<String>,
}

/// Which text of a conflicting file `GET …/merge/files/{path}` answers.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// What Kiln generated before.
    Base,
    /// The user's file.
    Mine,
    /// What Kiln generates now.
    Generated,
    /// Both in one text, with conflict markers.
    Marked,
}

/// Query of `GET …/merge/files/{path}`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SideQuery {
    /// Which text.
    #[param(inline)]
    pub side: Side,
}

fn edit_error(e: EditError) -> ApiError {
    match e {
        EditError::NothingBuilt => {
            ApiError::new(StatusCode::CONFLICT, "nothing_built", e.to_string())
        }
        EditError::Stale { .. } => {
            ApiError::new(StatusCode::CONFLICT, "stale_version", e.to_string())
        }
        EditError::NoSuchFile(..) => {
            ApiError::new(StatusCode::NOT_FOUND, "not_found", e.to_string())
        }
        // Deciding when no build waits conflicts with where the project stands.
        EditError::NoMerge => ApiError::new(StatusCode::CONFLICT, "no_merge", e.to_string()),
        EditError::Invalid(m) => ApiError::invalid(m),
        EditError::Agent(AgentError::Store(s)) => s.into(),
        EditError::Agent(other) => {
            tracing::error!(error = %other, "edit failed");
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "edit_failed",
                format!("the change could not be saved: {other}"),
            )
        }
    }
}

fn checked_note(note: Option<String>) -> Result<Option<String>, ApiError> {
    if let Some(n) = &note {
        super::projects::check_text("message", n, MAX_NOTE_CHARS, true)?;
    }
    Ok(note.filter(|n| !n.trim().is_empty()))
}

fn edited(outcome: edits::Edited) -> Response {
    let status = if outcome.made {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let body = EditOutcome {
        version: outcome.version,
        made: outcome.made,
    };
    (status, Json(body)).into_response()
}

/// Write a file of the current version (changed or new) as a new version authored by you.
#[utoipa::path(
    put,
    path = "/api/v2/projects/{id}/files/{*path}",
    tag = "versions",
    params(
        ("id" = String, Path, description = "Project id"),
        ("path" = String, Path, description = "The file's path in the project, e.g. app/routers/tasks.py", pattern = r"^[^\u0000-\u001F\u007F-\u009F\\]{1,150}$"),
    ),
    request_body = PutFile,
    responses(
        (status = 201, description = "A new version holds the file", body = EditOutcome),
        (status = 200, description = "The file already held this text: no version made", body = EditOutcome),
        (status = 404, description = "No such project", body = ErrorBody),
        (status = 409, description = "Nothing built yet, or another version is current now (`stale_version`)", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Not a plain relative path (or one that is a folder of a file of the version, or the other way round), a NUL in the text, a note too long, or too many files", body = ErrorBody),
    )
)]
pub async fn put_file(
    State(state): State<AppState>,
    Extension(owner): Extension<Owner>,
    Path((id, path)): Path<(String, String)>,
    Body(body): Body<PutFile>,
) -> Result<Response, ApiError> {
    let id = parse_id(&id, "project")?;
    state.agents.projects.check_owner(&owner, id).await?;
    let note = checked_note(body.message)?;
    let change = FileChange {
        path,
        content: Some(body.content),
    };
    let outcome = edits::edit_files(&state.agents, &owner, id, body.version, &[change], note)
        .await
        .map_err(edit_error)?;
    super::trace::record(id, None);
    Ok(edited(outcome))
}

/// Delete a file of the current version, as a new version authored by you.
#[utoipa::path(
    delete,
    path = "/api/v2/projects/{id}/files/{*path}",
    tag = "versions",
    params(
        ("id" = String, Path, description = "Project id"),
        ("path" = String, Path, description = "The file's path in the project", pattern = r"^[^\u0000-\u001F\u007F-\u009F\\]{1,150}$"),
        DeleteFile,
    ),
    responses(
        (status = 201, description = "A new version without the file", body = EditOutcome),
        (status = 404, description = "No such project, or no such file in the current version", body = ErrorBody),
        (status = 409, description = "Nothing built yet, or another version is current now (`stale_version`)", body = ErrorBody),
        (status = 422, description = "Not a plain relative path, or a note too long", body = ErrorBody),
    )
)]
pub async fn delete_file(
    State(state): State<AppState>,
    Extension(owner): Extension<Owner>,
    Path((id, path)): Path<(String, String)>,
    Params(query): Params<DeleteFile>,
) -> Result<Response, ApiError> {
    let id = parse_id(&id, "project")?;
    state.agents.projects.check_owner(&owner, id).await?;
    let note = checked_note(query.message)?;
    let change = FileChange {
        path,
        content: None,
    };
    let outcome = edits::edit_files(&state.agents, &owner, id, query.version, &[change], note)
        .await
        .map_err(edit_error)?;
    Ok(edited(outcome))
}

/// Whether a build waits for your decisions.
#[derive(Debug, Serialize, ToSchema)]
pub struct WaitingMerge {
    /// The build waiting for your decisions (the files its new code could not merge with your
    /// changes), or null when none waits.
    pub merge: Option<PendingMerge>,
}

/// The build waiting for your decisions, if one does.
#[utoipa::path(
    get,
    path = "/api/v2/projects/{id}/merge",
    tag = "versions",
    params(("id" = String, Path, description = "Project id")),
    responses(
        (status = 200, description = "The waiting merge, or `merge: null`", body = WaitingMerge),
        (status = 404, description = "No such project", body = ErrorBody),
    )
)]
pub async fn get_merge(
    State(state): State<AppState>,
    Extension(owner): Extension<Owner>,
    Path(id): Path<String>,
) -> Result<Json<WaitingMerge>, ApiError> {
    let id = parse_id(&id, "project")?;
    match edits::pending_merge(&state.agents, &owner, id).await {
        Ok(merge) => Ok(Json(WaitingMerge { merge: Some(merge) })),
        Err(EditError::NoMerge) => Ok(Json(WaitingMerge { merge: None })),
        Err(e) => Err(edit_error(e)),
    }
}

/// One side of a conflicting file of the waiting merge, as text.
#[utoipa::path(
    get,
    path = "/api/v2/projects/{id}/merge/files/{*path}",
    tag = "versions",
    params(
        ("id" = String, Path, description = "Project id"),
        ("path" = String, Path, description = "The conflicting file's path", pattern = r"^[^\u0000-\u001F\u007F-\u009F\\]{1,150}$"),
        SideQuery,
    ),
    responses(
        (status = 200, description = "The text", content_type = "text/plain"),
        (status = 404, description = "No such project, no waiting merge, no such conflicting file, or that side has no file", body = ErrorBody),
    )
)]
pub async fn get_merge_file(
    State(state): State<AppState>,
    Extension(owner): Extension<Owner>,
    Path((id, path)): Path<(String, String)>,
    Params(query): Params<SideQuery>,
) -> Result<Response, ApiError> {
    let id = parse_id(&id, "project")?;
    let merge = edits::pending_merge(&state.agents, &owner, id)
        .await
        .map_err(|e| match e {
            EditError::NoMerge => ApiError::not_found("waiting merge"),
            other => edit_error(other),
        })?;
    let conflict = merge
        .conflicts
        .iter()
        .find(|c| c.path == path)
        .ok_or_else(|| ApiError::not_found("conflicting file"))?;
    let entry = match query.side {
        Side::Base => &conflict.base,
        Side::Mine => &conflict.ours,
        Side::Generated => &conflict.theirs,
        Side::Marked => &conflict.marked,
    }
    .as_ref()
    .ok_or_else(|| ApiError::not_found("file on that side"))?;
    let bytes = state.agents.artifacts.get_blob(&entry.sha256).await?;
    Ok(super::versions::text_response(
        String::from_utf8_lossy(&bytes).into_owned(),
    ))
}

/// Decide every conflicting file of the waiting merge: the version is made from them and the
/// rest of the merge, authored by you.
#[utoipa::path(
    post,
    path = "/api/v2/projects/{id}/merge",
    tag = "versions",
    params(("id" = String, Path, description = "Project id")),
    request_body = Resolve,
    responses(
        (status = 201, description = "The version made", body = Version),
        (status = 404, description = "No such project", body = ErrorBody),
        (status = 409, description = "No build waits for a decision (`no_merge`), or another version became current since the merge (`stale_version`): ask for the build again", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "A file missing, decided twice or not in conflict; `edited` without `content`, or with conflict markers left", body = ErrorBody),
    )
)]
pub async fn resolve_merge(
    State(state): State<AppState>,
    Extension(owner): Extension<Owner>,
    Path(id): Path<String>,
    Body(body): Body<Resolve>,
) -> Result<(StatusCode, Json<Version>), ApiError> {
    let id = parse_id(&id, "project")?;
    // No waiting merge (or no such project) is said before what was sent is read.
    edits::pending_merge(&state.agents, &owner, id)
        .await
        .map_err(edit_error)?;
    let note = checked_note(body.message)?;
    let decisions = body
        .files
        .into_iter()
        .map(|d| {
            let decision = match (d.take, d.content) {
                (Take::Mine, None) => Decision::Mine,
                (Take::Generated, None) => Decision::Generated,
                (Take::Edited, Some(text)) => Decision::Edited(text),
                (Take::Edited, None) => {
                    return Err(ApiError::invalid(format!(
                        "`{}`: `edited` needs the file's `content`",
                        d.path
                    )))
                }
                (_, Some(_)) => {
                    return Err(ApiError::invalid(format!(
                        "`{}`: `content` goes only with `edited`",
                        d.path
                    )))
                }
            };
            Ok((d.path, decision))
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    let version = edits::resolve_merge(&state.agents, &owner, id, &decisions, note)
        .await
        .map_err(edit_error)?;
    Ok((StatusCode::CREATED, Json(version)))
}
