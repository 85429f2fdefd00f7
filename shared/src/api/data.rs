//! An environment's data, out and back in: `GET` and `PUT
//! /api/v2/projects/{id}/environments/{environment}/data`. The deployer asks the app running
//! there (`runner::data`); the JSON is the app's own (every table's rows), so an export of one
//! environment imports into another, and a kept copy restores the one it came from.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::{parse_id, ApiError, Body, ErrorBody};
use super::AppState;
use crate::model::{Environment, Owner, Project};
use crate::runner::RunnerError;

/// The largest import body: under the 6 MB a Lambda function may be sent, with room for the
/// rest of the request.
pub const IMPORT_BODY_LIMIT: usize = 5 * 1024 * 1024;

/// An environment's data: every table's rows, by table name.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EnvironmentData {
    /// `kiln-data/1`.
    #[serde(default = "data_format")]
    pub format: String,
    /// Each table's rows (objects of column values; dates and times as ISO 8601 text).
    pub tables: BTreeMap<String, Vec<serde_json::Map<String, serde_json::Value>>>,
}

fn data_format() -> String {
    "kiln-data/1".into()
}

/// What an import left in each table.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ImportSummary {
    /// `kiln-data/1`.
    pub format: String,
    /// How many rows each table holds now.
    pub tables: BTreeMap<String, u64>,
}

/// The environment a path names.
fn environment(raw: &str) -> Result<Environment, ApiError> {
    Environment::ALL
        .into_iter()
        .find(|e| e.as_str() == raw)
        .ok_or_else(|| ApiError::not_found("environment (there are dev, staging and prod)"))
}

/// The project and the environment, which must have a deployment.
pub(super) async fn deployed(
    state: &AppState,
    owner: &Owner,
    id: &str,
    env: &str,
) -> Result<(Project, Environment), ApiError> {
    let environment = environment(env)?;
    let id = parse_id(id, "project")?;
    let project = state.agents.projects.get_project(owner, id).await?;
    if !project
        .deployments
        .iter()
        .any(|d| d.environment == environment)
    {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_deployed",
            format!(
                "nothing is deployed in {} for this project: deploy it there first",
                environment.as_str()
            ),
        ));
    }
    Ok((project, environment))
}

fn runner_error(e: RunnerError) -> ApiError {
    match e {
        RunnerError::Refused(why) => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "data_refused",
            format!("the app refused the data and changed nothing: {why}"),
        ),
        other => super::error::runner_error(other, ("app_unavailable", "app_failed")),
    }
}

/// Export an environment's data: every table's rows, as the app running there keeps them.
#[utoipa::path(
    get,
    path = "/api/v2/projects/{id}/environments/{environment}/data",
    tag = "data",
    params(
        ("id" = String, Path, description = "Project id"),
        ("environment" = String, Path, description = "dev, staging or prod"),
    ),
    responses(
        (status = 200, description = "The data", body = EnvironmentData),
        (status = 303, description = "Too large to send inline: `Location` downloads it for 15 minutes"),
        (status = 404, description = "No such project or environment, nothing deployed there, or an app that keeps no data", body = ErrorBody),
        (status = 502, description = "The app failed to answer", body = ErrorBody),
        (status = 503, description = "The app is not answering now", body = ErrorBody),
    )
)]
pub async fn export_data(
    State(state): State<AppState>,
    Extension(owner): Extension<Owner>,
    Path((id, env)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (project, environment) = deployed(&state, &owner, &id, &env).await?;
    let data = state
        .agents
        .deployer
        .export_data(project.id, environment)
        .await
        .map_err(runner_error)?;
    let bytes =
        serde_json::to_vec(&data).map_err(|e| runner_error(RunnerError::Process(e.to_string())))?;
    let file_name = format!("{}-{}-data.json", project.id, environment.as_str());
    super::versions::download(&state, project.id, bytes, &file_name, "application/json").await
}

/// Replace an environment's data with an export's: every table at once, or, when anything
/// does not fit the app's tables, nothing (the answer lists each problem).
#[utoipa::path(
    put,
    path = "/api/v2/projects/{id}/environments/{environment}/data",
    tag = "data",
    params(
        ("id" = String, Path, description = "Project id"),
        ("environment" = String, Path, description = "dev, staging or prod"),
    ),
    request_body = EnvironmentData,
    responses(
        (status = 200, description = "Imported: the rows each table holds now", body = ImportSummary),
        (status = 404, description = "No such project or environment, nothing deployed there, or an app that keeps no data", body = ErrorBody),
        (status = 413, description = "Larger than an import may be (5 MiB)", body = ErrorBody),
        (status = 415, description = "The body is not sent as JSON", body = ErrorBody),
        (status = 422, description = "The app refused the data and changed nothing", body = ErrorBody),
        (status = 502, description = "The app failed to answer", body = ErrorBody),
        (status = 503, description = "The app is not answering now", body = ErrorBody),
    )
)]
pub async fn import_data(
    State(state): State<AppState>,
    Extension(owner): Extension<Owner>,
    Path((id, env)): Path<(String, String)>,
    Body(data): Body<EnvironmentData>,
) -> Result<Json<ImportSummary>, ApiError> {
    let (project, environment) = deployed(&state, &owner, &id, &env).await?;
    let body = serde_json::to_value(&data).map_err(|e| ApiError::invalid(e.to_string()))?;
    let answer = state
        .agents
        .deployer
        .import_data(project.id, environment, body)
        .await
        .map_err(runner_error)?;
    serde_json::from_value(answer).map(Json).map_err(|e| {
        runner_error(RunnerError::Process(format!(
            "the app's answer to the import is not a summary: {e}"
        )))
    })
}
