//! Versions: list, read, file contents, diffs and ZIP exports.

use std::collections::BTreeSet;
use std::io::Write;

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::error::{parse_id, ApiError, ErrorBody, Params};
use super::projects::ListQuery;
use super::AppState;
use crate::generator::unified_diff;
use crate::model::{is_safe_relative_path, Owner, Project, Version};
use crate::store::ArtifactStore;

/// A page of versions.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct VersionPage {
    /// Newest first.
    pub items: Vec<Version>,
    /// Pass back as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// Query of the diff endpoint.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DiffQuery {
    /// The version to compare with (default: the one before).
    pub from: Option<u32>,
}

/// Query of the export endpoint.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// The version to export (default: the current one).
    pub version: Option<u32>,
}

fn parse_number(raw: &str) -> Result<u32, ApiError> {
    raw.parse().map_err(|_| ApiError::not_found("version"))
}

async fn owned_project(state: &AppState, owner: &Owner, id: &str) -> Result<Project, ApiError> {
    let id: Uuid = parse_id(id, "project")?;
    Ok(state.agents.projects.get_project(owner, id).await?)
}

pub(super) fn text_response(body: String) -> Response {
    let mut res = body.into_response();
    let headers = res.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    res
}

/// List the project's versions, newest first.
#[utoipa::path(
    get,
    path = "/api/v2/projects/{id}/versions",
    tag = "versions",
    params(("id" = String, Path, description = "Project id"), ListQuery),
    responses(
        (status = 200, description = "A page of versions", body = VersionPage),
        (status = 400, description = "Bad paging parameters", body = ErrorBody),
        (status = 404, description = "No such project", body = ErrorBody),
    )
)]
pub async fn list_versions(
    State(state): State<AppState>,
    Extension(owner): Extension<Owner>,
    Path(id): Path<String>,
    Params(query): Params<ListQuery>,
) -> Result<Json<VersionPage>, ApiError> {
    let project = owned_project(&state, &owner, &id).await?;
    let page = state
        .agents
        .projects
        .list_versions(project.id, &query.page()?)
        .await?;
    Ok(Json(VersionPage {
        items: page.items,
        next_cursor: page.next_cursor,
    }))
}

/// Read one version and its manifest.
#[utoipa::path(
    get,
    path = "/api/v2/projects/{id}/versions/{number}",
    tag = "versions",
    params(("id" = String, Path, description = "Project id"), ("number" = u32, Path, description = "Version number")),
    responses(
        (status = 200, description = "The version", body = Version),
        (status = 404, description = "No such project or version", body = ErrorBody),
    )
)]
pub async fn get_version(
    State(state): State<AppState>,
    Extension(owner): Extension<Owner>,
    Path((id, number)): Path<(String, String)>,
) -> Result<Json<Version>, ApiError> {
    let project = owned_project(&state, &owner, &id).await?;
    let number = parse_number(&number)?;
    Ok(Json(
        state
            .agents
            .projects
            .get_version(project.id, number)
            .await?,
    ))
}

/// Read one file of a version, as text.
#[utoipa::path(
    get,
    path = "/api/v2/projects/{id}/versions/{number}/files/{*path}",
    tag = "versions",
    params(
        ("id" = String, Path, description = "Project id"),
        ("number" = u32, Path, description = "Version number"),
        ("path" = String, Path, description = "The file's path in the project, e.g. app/main.py"),
    ),
    responses(
        (status = 200, description = "The file", content_type = "text/plain"),
        (status = 400, description = "Not a plain relative path", body = ErrorBody),
        (status = 404, description = "No such project, version or file", body = ErrorBody),
    )
)]
pub async fn get_file(
    State(state): State<AppState>,
    Extension(owner): Extension<Owner>,
    Path((id, number, path)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    let project = owned_project(&state, &owner, &id).await?;
    if !is_safe_relative_path(&path) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_path",
            "file paths are relative, without `..`, `.`, backslashes or NUL",
        ));
    }
    let version = state
        .agents
        .projects
        .get_version(project.id, parse_number(&number)?)
        .await?;
    let entry = version
        .manifest
        .iter()
        .find(|e| e.path == path)
        .ok_or_else(|| ApiError::not_found("file"))?;
    let bytes = state.agents.artifacts.get_blob(&entry.sha256).await?;
    Ok(text_response(String::from_utf8_lossy(&bytes).into_owned()))
}

/// The unified diff from one version to another.
#[utoipa::path(
    get,
    path = "/api/v2/projects/{id}/versions/{number}/diff",
    tag = "versions",
    params(("id" = String, Path, description = "Project id"), ("number" = u32, Path, description = "Version number"), DiffQuery),
    responses(
        (status = 200, description = "Unified diff; empty when nothing changed", content_type = "text/plain"),
        (status = 404, description = "No such project or version", body = ErrorBody),
    )
)]
pub async fn diff_version(
    State(state): State<AppState>,
    Extension(owner): Extension<Owner>,
    Path((id, number)): Path<(String, String)>,
    Params(query): Params<DiffQuery>,
) -> Result<Response, ApiError> {
    let project = owned_project(&state, &owner, &id).await?;
    let new = state
        .agents
        .projects
        .get_version(project.id, parse_number(&number)?)
        .await?;
    let old = match query.from.or(new.number.checked_sub(1).filter(|n| *n > 0)) {
        Some(m) => Some(state.agents.projects.get_version(project.id, m).await?),
        None => None,
    };
    let diff = diff_versions(state.agents.artifacts.as_ref(), old.as_ref(), &new).await?;
    Ok(text_response(diff))
}

/// The diff of every file between two versions (all added when `old` is `None`).
pub async fn diff_versions(
    artifacts: &dyn ArtifactStore,
    old: Option<&Version>,
    new: &Version,
) -> Result<String, crate::store::StoreError> {
    let empty = Vec::new();
    let old_manifest = old.map(|v| &v.manifest).unwrap_or(&empty);
    let paths: BTreeSet<&str> = old_manifest
        .iter()
        .chain(&new.manifest)
        .map(|e| e.path.as_str())
        .collect();
    let mut out = String::new();
    for path in paths {
        let a = old_manifest.iter().find(|e| e.path == path);
        let b = new.manifest.iter().find(|e| e.path == path);
        if a.map(|e| &e.sha256) == b.map(|e| &e.sha256) {
            continue;
        }
        let (a, b) = (
            read_text(artifacts, a).await?,
            read_text(artifacts, b).await?,
        );
        out.push_str(&unified_diff(path, a.as_deref(), b.as_deref()));
    }
    Ok(out)
}

async fn read_text(
    artifacts: &dyn ArtifactStore,
    entry: Option<&crate::model::FileEntry>,
) -> Result<Option<String>, crate::store::StoreError> {
    match entry {
        Some(e) => Ok(Some(
            String::from_utf8_lossy(&artifacts.get_blob(&e.sha256).await?).into_owned(),
        )),
        None => Ok(None),
    }
}

/// Download a version as a ZIP archive.
#[utoipa::path(
    get,
    path = "/api/v2/projects/{id}/export",
    tag = "versions",
    params(("id" = String, Path, description = "Project id"), ExportQuery),
    responses(
        (status = 200, description = "The project's files", content_type = "application/zip"),
        (status = 303, description = "Too large to send inline: `Location` downloads it for 15 minutes"),
        (status = 404, description = "No such project, or nothing built yet", body = ErrorBody),
    )
)]
pub async fn export(
    State(state): State<AppState>,
    Extension(owner): Extension<Owner>,
    Path(id): Path<String>,
    Params(query): Params<ExportQuery>,
) -> Result<Response, ApiError> {
    let project = owned_project(&state, &owner, &id).await?;
    let number = query
        .version
        .or(project.current_version)
        .ok_or_else(|| ApiError::not_found("version (nothing has been built yet)"))?;
    let version = state
        .agents
        .projects
        .get_version(project.id, number)
        .await?;
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .unix_permissions(0o644);
    let zip_error = |e: &dyn std::fmt::Display| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "export_failed",
            format!("could not build the archive: {e}"),
        )
    };
    let folder = slug(&project.name);
    for entry in &version.manifest {
        let bytes = state.agents.artifacts.get_blob(&entry.sha256).await?;
        zip.start_file(format!("{folder}/{}", entry.path), options)
            .map_err(|e| zip_error(&e))?;
        zip.write_all(&bytes).map_err(|e| zip_error(&e))?;
    }
    let bytes = zip.finish().map_err(|e| zip_error(&e))?.into_inner();
    let file_name = format!("{folder}-v{number}.zip");
    download(&state, project.id, bytes, &file_name, "application/zip").await
}

/// A file to download: inline, or, when larger than `max_inline_export_bytes` and the
/// artifact store can link to it, a `303` to a link that serves it for a while.
pub(super) async fn download(
    state: &AppState,
    project_id: Uuid,
    bytes: Vec<u8>,
    file_name: &str,
    content_type: &'static str,
) -> Result<Response, ApiError> {
    if bytes.len() > state.limits.max_inline_export_bytes {
        let key = format!("{project_id}/{}", crate::model::new_id());
        if let Some(link) = state
            .agents
            .artifacts
            .export_link(&key, bytes.clone(), file_name)
            .await?
        {
            return Ok((StatusCode::SEE_OTHER, [(header::LOCATION, link)]).into_response());
        }
    }
    let disposition = format!("attachment; filename=\"{file_name}\"");
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        bytes,
    )
        .into_response())
}

/// A file-name-safe form of a project name: lower-case ASCII letters, digits and dashes.
fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    let out = out
        .trim_end_matches('-')
        .chars()
        .take(60)
        .collect::<String>();
    if out.is_empty() {
        "project".into()
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    use super::slug;

    #[test]
    fn slugs_are_file_name_safe() {
        assert_eq!(slug("Task Management API"), "task-management-api");
        assert_eq!(slug("../../etc\"; rm"), "etc-rm");
        assert_eq!(slug("🙂"), "project");
    }
}
