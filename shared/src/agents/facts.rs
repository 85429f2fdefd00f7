//! What a project holds, as the facts a language model may answer a question from: the spec,
//! the endpoints, the versions, the last test report and the deployments. Nothing else of the
//! project's reaches the model.

use std::fmt::Write as _;

use super::{AgentContext, AgentError};
use crate::model::{Block, Project};

/// Most failures of the last test report given.
const FAILURES: usize = 10;

/// The facts of `project`.
pub(super) async fn of(ctx: &AgentContext, project: &Project) -> Result<String, AgentError> {
    let mut f = String::new();
    let _ = writeln!(f, "Project: {}", project.name);
    match &project.spec {
        None => f.push_str("Spec: nothing described yet.\n"),
        Some(spec) => {
            let _ = writeln!(f, "Summary: {}", spec.summary);
            let _ = writeln!(
                f,
                "Spec (resource(field:type, ! required, * unique, >belongs to) | features): {}",
                spec.describe()
            );
        }
    }
    if let Some(design) = &project.design {
        let _ = writeln!(f, "Endpoints:\n  {}", design.endpoint_lines().join("\n  "));
    }
    match project.current_version {
        Some(n) => {
            let _ = writeln!(
                f,
                "Current version: {n}; tests last run on version: {}",
                project
                    .tested_version
                    .map_or("none".to_owned(), |t| t.to_string())
            );
        }
        None => f.push_str("Nothing built yet.\n"),
    }
    for d in &project.deployments {
        let _ = writeln!(
            f,
            "Deployed: {} runs version {} at {}",
            d.environment.as_str(),
            d.version,
            d.url.as_deref().unwrap_or("(no URL yet)")
        );
    }
    // The newest test report said in the conversation, from the newest run that reported one.
    let runs = ctx
        .projects
        .runs_before(project.id, uuid::Uuid::max(), 20)
        .await?;
    if let Some(run) = runs
        .iter()
        .find(|r| r.steps.iter().any(|s| s.name == "QaReport"))
    {
        let said = ctx
            .projects
            .messages_made_since(project.id, run.created_at, 200)
            .await?;
        let report = said.iter().rev().find_map(|m| {
            m.blocks.iter().find_map(|b| match b {
                Block::TestReport { version, report } => Some((*version, report)),
                _ => None,
            })
        });
        if let Some((version, r)) = report {
            let _ = writeln!(
                f,
                "Last test run (version {version}): {} passed, {} failed, {} errors{}",
                r.passed,
                r.failed,
                r.errors,
                if r.timed_out { ", timed out" } else { "" }
            );
            for failure in r.failures.iter().take(FAILURES) {
                let _ = writeln!(f, "  failed {}: {}", failure.name, failure.message);
            }
        }
    }
    Ok(f)
}
