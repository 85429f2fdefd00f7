//! What a project has done: its runs and its deployments, newest first, a page at a time.

use axum::extract::{Path, State};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::error::{parse_id, ApiError, ErrorBody, Params};
use super::projects::ListQuery;
use super::AppState;
use crate::model::{Deployment, Owner, Run};
use crate::store::{decode_cursor, encode_cursor, PageRequest, StoreError};

/// A page of runs.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RunPage {
    /// Newest first.
    pub items: Vec<Run>,
    /// Pass back as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// A page of deployments.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DeploymentPage {
    /// Newest first.
    pub items: Vec<Deployment>,
    /// Pass back as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// The id a cursor of the list `kind` holds: a cursor another list handed out is refused.
fn after(page: &PageRequest, kind: &str) -> Result<Option<Uuid>, ApiError> {
    let Some(cursor) = &page.cursor else {
        return Ok(None);
    };
    let position = decode_cursor(cursor)?;
    position
        .strip_prefix(kind)
        .and_then(|id| id.strip_prefix(':'))
        .and_then(|id| id.parse().ok())
        .map(Some)
        .ok_or_else(|| StoreError::BadCursor.into())
}

/// A page of `items` read one beyond `limit`: the extra one only says there is a next page,
/// whose cursor is the last item kept.
fn page_of<T>(
    mut items: Vec<T>,
    limit: u32,
    kind: &str,
    id: fn(&T) -> Uuid,
) -> (Vec<T>, Option<String>) {
    let limit = limit as usize;
    if items.len() <= limit {
        return (items, None);
    }
    items.truncate(limit);
    let next = items
        .last()
        .map(|last| encode_cursor(&format!("{kind}:{}", id(last))));
    (items, next)
}

/// List the project's runs, newest first.
#[utoipa::path(
    get,
    path = "/api/v2/projects/{id}/runs",
    tag = "conversation",
    params(("id" = String, Path, description = "Project id"), ListQuery),
    responses(
        (status = 200, description = "A page of runs", body = RunPage),
        (status = 400, description = "Bad paging parameters", body = ErrorBody),
        (status = 401, description = "Missing or wrong token", body = ErrorBody),
        (status = 404, description = "No such project", body = ErrorBody),
    )
)]
pub async fn list_runs(
    State(state): State<AppState>,
    Extension(owner): Extension<Owner>,
    Path(id): Path<String>,
    Params(query): Params<ListQuery>,
) -> Result<Json<RunPage>, ApiError> {
    let project_id = parse_id(&id, "project")?;
    let page = query.page()?;
    let before = after(&page, "run")?.unwrap_or(Uuid::max());
    let store = &state.agents.projects;
    store.check_owner(&owner, project_id).await?;
    let limit = page.limit();
    let read = store.runs_before(project_id, before, limit + 1).await?;
    let (items, next_cursor) = page_of(read, limit, "run", |r| r.id);
    Ok(Json(RunPage { items, next_cursor }))
}

/// List the project's deployments, newest first.
#[utoipa::path(
    get,
    path = "/api/v2/projects/{id}/deployments",
    tag = "deployments",
    params(("id" = String, Path, description = "Project id"), ListQuery),
    responses(
        (status = 200, description = "A page of deployments", body = DeploymentPage),
        (status = 400, description = "Bad paging parameters", body = ErrorBody),
        (status = 401, description = "Missing or wrong token", body = ErrorBody),
        (status = 404, description = "No such project", body = ErrorBody),
    )
)]
pub async fn list_deployments(
    State(state): State<AppState>,
    Extension(owner): Extension<Owner>,
    Path(id): Path<String>,
    Params(query): Params<ListQuery>,
) -> Result<Json<DeploymentPage>, ApiError> {
    let project_id = parse_id(&id, "project")?;
    let page = query.page()?;
    let before = after(&page, "deployment")?;
    let store = &state.agents.projects;
    store.check_owner(&owner, project_id).await?;
    let mut all = store.list_deployments(project_id).await?;
    // Newest first by id (UUIDv7), whatever order the store gave.
    all.sort_by_key(|d| std::cmp::Reverse(d.id));
    let limit = page.limit();
    let read: Vec<Deployment> = all
        .into_iter()
        .filter(|d| before.is_none_or(|b| d.id < b))
        .take(limit as usize + 1)
        .collect();
    let (items, next_cursor) = page_of(read, limit, "deployment", |d| d.id);
    Ok(Json(DeploymentPage { items, next_cursor }))
}
