//! `/api/v2/projects` and `/api/v2/projects/{id}`.

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::{parse_id, ApiError, Body, ErrorBody, Params};
use super::AppState;
use crate::model::{Intent, Message, Owner, Project, ProjectSummary, Run, RunInput};
use crate::store::{PageRequest, SummaryJson};

/// Longest project description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 4_000;

/// Body of `POST /api/v2/projects`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateProject {
    /// Display name, 1–100 characters, not only blanks, no control characters.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]*[^\s\u0000-\u001F\u007F-\u009F][^\u0000-\u001F\u007F-\u009F]*$"
    )]
    pub name: String,
    /// What the app is for (optional). When given, it is the first requirement: it opens the
    /// conversation as the user's message and the product manager reads it at once.
    /// No control characters but line breaks and tabs.
    #[serde(default)]
    #[schema(
        max_length = 4000,
        pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$"
    )]
    pub description: String,
}

/// A page of projects.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ProjectPage {
    /// Most recently updated first.
    pub items: Vec<ProjectSummary>,
    /// Pass back as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// A [`ProjectPage`] of the summaries' JSON as the store hands it out, written the same way:
/// a page of projects is not read into summaries and written again.
#[derive(Debug, Serialize)]
pub struct ProjectJsonPage {
    /// As [`ProjectPage::items`].
    pub items: Vec<SummaryJson>,
    /// As [`ProjectPage::next_cursor`].
    pub next_cursor: Option<String>,
}

/// Paging parameters of every list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Items per page, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page of the same list, as handed out: a cursor is
    /// opaque, and one this list did not hand out is a 400 (`invalid_cursor`).
    pub cursor: Option<String>,
}

/// Longest text `q` searches project names for, in characters: a name is at most 100.
pub const MAX_SEARCH_CHARS: usize = 100;

/// Paging parameters of the projects list, and the text its names are searched for.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProjectQuery {
    /// Items per page, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page of the same list, as handed out: a cursor is
    /// opaque, and one this list did not hand out is a 400 (`invalid_cursor`).
    pub cursor: Option<String>,
    /// Only the projects whose name holds this text, ignoring case, paged the same way (pass
    /// the same `q` with each `cursor`). It is only text: no character in it is a pattern.
    /// Empty: every project.
    #[param(max_length = 100)]
    pub q: Option<String>,
}

impl ListQuery {
    /// The page asked for; a limit outside 1–200 is a bad request, not silently changed.
    pub(super) fn page(self) -> Result<PageRequest, ApiError> {
        Ok(PageRequest {
            limit: check_limit(self.limit, crate::store::MAX_PAGE)?,
            cursor: self.cursor,
        })
    }
}

/// A list's `limit`, if given, from 1 to `max`: any other is a bad request, not silently
/// changed.
pub(super) fn check_limit(limit: Option<u32>, max: u32) -> Result<Option<u32>, ApiError> {
    match limit {
        Some(n) if !(1..=max).contains(&n) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_query",
            format!("limit must be from 1 to {max}"),
        )),
        other => Ok(other),
    }
}

/// Checks free text from the user: length, and no control characters but line breaks and tabs.
pub(crate) fn check_text(
    field: &str,
    value: &str,
    max_chars: usize,
    multiline: bool,
) -> Result<(), ApiError> {
    let n = value.chars().count();
    if n > max_chars {
        return Err(ApiError::invalid(format!(
            "`{field}` is {n} characters long; at most {max_chars} are allowed"
        )));
    }
    let allowed = |c: char| multiline && matches!(c, '\n' | '\r' | '\t');
    if value.chars().any(|c| c.is_control() && !allowed(c)) {
        return Err(ApiError::invalid(format!(
            "`{field}` may not contain control characters"
        )));
    }
    Ok(())
}

/// Create a project.
#[utoipa::path(
    post,
    path = "/api/v2/projects",
    tag = "projects",
    request_body = CreateProject,
    responses(
        (status = 201, description = "Created", body = Project),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "Missing or wrong token", body = ErrorBody),
        (status = 409, description = "Too many projects", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid name or description", body = ErrorBody),
    )
)]
pub async fn create_project(
    State(state): State<AppState>,
    Extension(owner): Extension<Owner>,
    Body(body): Body<CreateProject>,
) -> Result<impl IntoResponse, ApiError> {
    let name = body.name.trim();
    if let Some(problem) = crate::model::project_name_error(name) {
        return Err(ApiError::invalid(problem));
    }
    let description = body.description.trim();
    check_text("description", description, MAX_DESCRIPTION_CHARS, true)?;
    let project = Project::new(owner.clone(), name.to_owned(), description.to_owned());
    state
        .agents
        .projects
        .create_project_within(&project, state.limits.max_projects_per_owner)
        .await?;
    super::trace::record(project.id, None);
    tracing::info!("project created");
    if !description.is_empty() {
        read_description(&state, &owner, &project).await?;
    }
    let location = format!("/api/v2/projects/{}", project.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(project),
    ))
}

/// The description is the first requirement: it becomes the conversation's opening user
/// message, and the pipeline reads it exactly as it reads a first message that describes an app.
async fn read_description(
    state: &AppState,
    owner: &Owner,
    project: &Project,
) -> Result<(), ApiError> {
    let mut message = Message::from_user(project.id, project.description.clone(), None);
    let run = Run::queued(project.id, message.id, Intent::Create);
    message.run_id = Some(run.id);
    state
        .agents
        .projects
        .post_user_message(&message, &run)
        .await?;
    super::trace::record(project.id, Some(run.id));
    tracing::info!("description read as the first message");
    super::conversation::start_run(
        state,
        RunInput {
            project_id: project.id,
            run_id: run.id,
            message_id: message.id,
            intent: Intent::Create,
            owner: owner.clone(),
        },
    )
    .await
}

/// List your projects, most recently updated first; with `q`, those whose name holds it.
#[utoipa::path(
    get,
    path = "/api/v2/projects",
    tag = "projects",
    params(ProjectQuery),
    responses(
        (status = 200, description = "A page of projects", body = ProjectPage),
        (status = 400, description = "Bad paging parameters, or a `q` over 100 characters", body = ErrorBody),
        (status = 401, description = "Missing or wrong token", body = ErrorBody),
    )
)]
pub async fn list_projects(
    State(state): State<AppState>,
    Extension(owner): Extension<Owner>,
    Params(query): Params<ProjectQuery>,
) -> Result<Json<ProjectJsonPage>, ApiError> {
    let page = ListQuery {
        limit: query.limit,
        cursor: query.cursor,
    }
    .page()?;
    let projects = &state.agents.projects;
    let page = match query.q.as_deref().filter(|q| !q.is_empty()) {
        None => projects.list_projects_json(&owner, &page).await?,
        Some(q) => {
            let n = q.chars().count();
            if n > MAX_SEARCH_CHARS {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_query",
                    format!("`q` is {n} characters long; at most {MAX_SEARCH_CHARS} are allowed"),
                ));
            }
            projects.search_projects_json(&owner, q, &page).await?
        }
    };
    Ok(Json(ProjectJsonPage {
        items: page.items,
        next_cursor: page.next_cursor,
    }))
}

/// Read a project.
#[utoipa::path(
    get,
    path = "/api/v2/projects/{id}",
    tag = "projects",
    params(("id" = String, Path, description = "Project id")),
    responses(
        (status = 200, description = "The project", body = Project),
        (status = 401, description = "Missing or wrong token", body = ErrorBody),
        (status = 404, description = "No such project", body = ErrorBody),
    )
)]
pub async fn get_project(
    State(state): State<AppState>,
    Extension(owner): Extension<Owner>,
    Path(id): Path<String>,
) -> Result<axum::response::Response, ApiError> {
    let id = parse_id(&id, "project")?;
    let project = state.agents.projects.get_project_json(&owner, id).await?;
    Ok(super::json_answer(project.into_string().into_bytes()))
}

/// Delete a project with its conversation, versions and deployments.
#[utoipa::path(
    delete,
    path = "/api/v2/projects/{id}",
    tag = "projects",
    params(("id" = String, Path, description = "Project id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Missing or wrong token", body = ErrorBody),
        (status = 404, description = "No such project", body = ErrorBody),
        (status = 502, description = "Its deployments could not be stopped; nothing was deleted", body = ErrorBody),
        (status = 503, description = "Its deployments cannot be stopped this moment; nothing was deleted, try again after `Retry-After`", body = ErrorBody),
    )
)]
pub async fn delete_project(
    State(state): State<AppState>,
    Extension(owner): Extension<Owner>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = parse_id(&id, "project")?;
    state.agents.projects.check_owner(&owner, id).await?;
    // Tear down what runs before the records go, so nothing is left serving unseen.
    state
        .agents
        .deployer
        .stop(id, None)
        .await
        .map_err(|e| match e {
            // A service that will answer again soon (the apps' database resuming from a pause):
            // nothing is deleted, and the same request may pass in a moment.
            crate::runner::RunnerError::Unavailable(cause) => ApiError::unavailable(
                "teardown_unavailable",
                format!("could not stop the project's deployments now, try again: {cause}"),
            ),
            other => ApiError::new(
                StatusCode::BAD_GATEWAY,
                "teardown_failed",
                format!("could not stop the project's deployments: {other}"),
            ),
        })?;
    state.agents.projects.delete_project(&owner, id).await?;
    super::trace::record(id, None);
    tracing::info!("project deleted");
    Ok(StatusCode::NO_CONTENT)
}
