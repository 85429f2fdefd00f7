//! Steps of the pipeline itself: is a build stale, and reporting a failure.

use serde_json::{json, Value};

use super::{AgentContext, AgentError};
use crate::model::RunInput;
use crate::model::{now, Message, RunError, RunStatus};

/// `{"stale", "tested"}`: stale when nothing was built or the spec changed since the current
/// version; tested when the current version's tests passed.
pub(super) async fn freshness(ctx: &AgentContext, run: &RunInput) -> Result<Value, AgentError> {
    let project = ctx.projects.load_project(run.project_id).await?;
    let spec = project.spec.as_ref().ok_or(AgentError::NothingToBuild)?;
    let stale = match project.current_version {
        None => true,
        Some(n) => ctx.projects.get_version(project.id, n).await?.spec.as_ref() != Some(spec),
    };
    let tested = !stale
        && project.tested_version.is_some()
        && project.tested_version == project.current_version;
    Ok(json!({"stale": stale, "tested": tested}))
}

/// Marks the run succeeded, unless it already ended.
pub async fn complete(ctx: &AgentContext, run: &RunInput) -> Result<(), AgentError> {
    let mut stored = ctx.projects.get_run(run.project_id, run.run_id).await?;
    if stored.status.is_final() {
        return Ok(());
    }
    stored.status = RunStatus::Succeeded;
    stored.updated_at = now();
    Ok(ctx.projects.update_run(&stored).await?)
}

/// Marks the run failed with the error that ended it and says why in the conversation.
/// `error` is ASL's `{"Error", "Cause"}`.
pub async fn report_failure(
    ctx: &AgentContext,
    run: &RunInput,
    error: &Value,
) -> Result<(), AgentError> {
    let name = error["Error"].as_str().unwrap_or("Kiln.failed");
    let cause = error["Cause"]
        .as_str()
        .filter(|c| !c.is_empty())
        .unwrap_or("the run failed");
    let code = match name.strip_prefix("Kiln.") {
        Some(code) => code.to_owned(),
        None => name.trim_start_matches("States.").to_lowercase(),
    };
    let mut stored = ctx.projects.get_run(run.project_id, run.run_id).await?;
    if stored.status == RunStatus::Failed {
        return Ok(());
    }
    stored.status = RunStatus::Failed;
    stored.error = Some(RunError {
        code,
        message: cause.to_owned(),
    });
    for step in stored.steps.iter_mut().filter(|s| !s.status.is_final()) {
        step.status = RunStatus::Failed;
        step.finished_at = Some(now());
        step.error = Some(cause.to_owned());
    }
    stored.updated_at = now();
    ctx.projects.update_run(&stored).await?;
    let text = format!("That didn't work: {cause}");
    ctx.projects
        .append_message(&Message::from_system(run.project_id, run.run_id, text))
        .await?;
    Ok(())
}
