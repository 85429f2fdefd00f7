//! The documentation writer: adds the README to the draft.

use super::backend_developer::store_files;
use serde_json::{json, Value};

use super::{post, AgentContext, AgentError, Step};
use crate::generator::generate_readme;
use crate::model::{Agent, FileEntry, Message, RunInput};

/// Writes README.md (run, test, configure, endpoints, data) into the draft.
pub(super) async fn write_readme(
    ctx: &AgentContext,
    input: &RunInput,
    draft: &[FileEntry],
) -> Result<Value, AgentError> {
    let mut draft = draft.to_vec();
    let project = ctx.projects.load_project(input.project_id).await?;
    let spec = project.spec.ok_or(AgentError::NothingToBuild)?;
    let readme = generate_readme(&spec, &project.name)?;
    let sections = readme
        .contents
        .lines()
        .filter(|l| l.starts_with("## "))
        .count();
    draft.retain(|f| f.path != readme.path);
    draft.extend(store_files(ctx.artifacts.as_ref(), std::slice::from_ref(&readme)).await?);
    let text = format!(
        "Wrote README.md: {sections} sections on running, testing, the endpoints, the data, \
         configuration and deployment."
    );
    let reply = Message::from_agent(
        input.project_id,
        Agent::DocumentationWriter,
        input.run_id,
        text,
    );
    post(ctx, input, (Step::DocumentationWriter, "readme"), reply).await?;
    Ok(json!({"files": draft}))
}
