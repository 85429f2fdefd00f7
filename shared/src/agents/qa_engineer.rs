//! The QA engineer: runs the current version's test suite and reports the results.

use serde_json::{json, Value};

use super::{update_project, version_files, AgentContext, AgentError, Step};
use crate::model::{derived_id, Agent, Block, ProjectStatus, RunInput, TestReport};
use crate::runner::{TestJob, TestStatus};

async fn say(
    ctx: &AgentContext,
    run: &RunInput,
    key: (Step, &str),
    text: String,
    blocks: Vec<Block>,
) -> Result<(), AgentError> {
    super::reply(ctx, run, key, Agent::QaEngineer, text, blocks).await
}

/// A failing test as a reply names it: the test, and what raised where when the traceback
/// says.
pub(super) fn named(f: &crate::model::TestFailure) -> String {
    match &f.cause {
        Some(c) => format!("{} ({} at {}:{})", f.name, c.exception, c.file, c.line),
        None => f.name.clone(),
    }
}

/// Makes the environment the suites run in, once, saying so in the conversation.
pub(super) async fn prepare(
    ctx: &AgentContext,
    run: &RunInput,
    step: Step,
) -> Result<(), AgentError> {
    if ctx.tests.needs_environment().await {
        say(
            ctx,
            run,
            (step, "setting-up"),
            "Setting up the Python environment for running tests. This happens once and takes a minute or two…".into(),
            vec![],
        )
        .await?;
        let how = ctx.tests.prepare_environment().await?;
        say(
            ctx,
            run,
            (step, "environment-ready"),
            format!("The test environment is ready ({how})."),
            vec![],
        )
        .await?;
    }
    Ok(())
}

/// Starts the suite: `{"job", "version", "done": false}`.
pub(super) async fn start(ctx: &AgentContext, run: &RunInput) -> Result<Value, AgentError> {
    let project = ctx.projects.load_project(run.project_id).await?;
    let number = project.current_version.ok_or(AgentError::NothingToBuild)?;
    prepare(ctx, run, Step::QaStart).await?;
    let version = ctx.projects.get_version(project.id, number).await?;
    let files = version_files(ctx, &version).await?;
    // Named by the run: a repeat of this step gets the job the first run started.
    let request = derived_id(run.run_id, Step::QaStart.name());
    let job = ctx.tests.start(project.id, number, files, request).await?;
    say(
        ctx,
        run,
        (Step::QaStart, "running"),
        format!("Running the test suite of version {number}…"),
        vec![],
    )
    .await?;
    Ok(json!({"job": job, "version": number, "done": false}))
}

fn job_of(state: &Value) -> Result<(TestJob, u32), AgentError> {
    let job = serde_json::from_value(state["qa"]["job"].clone())
        .map_err(|e| AgentError::BadInput(format!("state.qa.job: {e}")))?;
    let version = state["qa"]["version"]
        .as_u64()
        .ok_or_else(|| AgentError::BadInput("state.qa.version".into()))?;
    Ok((job, version as u32))
}

/// Polls the suite: `{"job", "version", "done", "report"?}`.
pub(super) async fn check(
    ctx: &AgentContext,
    _run: &RunInput,
    state: &Value,
) -> Result<Value, AgentError> {
    let (job, version) = job_of(state)?;
    Ok(match ctx.tests.poll(&job).await? {
        TestStatus::Running => json!({"job": job, "version": version, "done": false}),
        // Cut to a size the pipeline's state and a reply's item can always hold.
        TestStatus::Finished(report) => {
            json!({"job": job, "version": version, "done": true, "report": report.fitted()})
        }
    })
}

/// Reports the results: `{"passed"}`, which the deploy gate of the pipeline reads.
pub(super) async fn report(
    ctx: &AgentContext,
    run: &RunInput,
    state: &Value,
) -> Result<Value, AgentError> {
    let (_, version) = job_of(state)?;
    let report: TestReport = serde_json::from_value(state["qa"]["report"].clone())
        .map_err(|e| AgentError::BadInput(format!("state.qa.report: {e}")))?;
    let total = report.passed + report.failed + report.errors;
    let passed = report.all_passed();
    let text = if passed {
        update_project(ctx, run.project_id, |p| {
            let changed = p.tested_version != Some(version);
            p.tested_version = Some(version);
            if p.current_version == Some(version) && p.status == ProjectStatus::Built {
                p.status = ProjectStatus::Tested;
            }
            Ok(changed || p.status == ProjectStatus::Tested)
        })
        .await?;
        format!(
            "All {total} tests of version {version} passed in {:.1} s{}.",
            report.duration_secs,
            if report.skipped > 0 {
                format!(" ({} skipped)", report.skipped)
            } else {
                String::new()
            }
        )
    } else if report.timed_out {
        format!(
            "The tests of version {version} ran out of time and were stopped. If a test hangs, \
             say \"build it\" to regenerate the code from the spec and \"run the tests\" again."
        )
    } else {
        let names: Vec<String> = report.failures.iter().take(3).map(named).collect();
        format!(
            "{} of {total} tests of version {version} failed: {}{}. Say \"fix it\" and I will try \
             up to three repairs, each tested; or say \"build it\" to regenerate the code from \
             the spec (your own changes are merged in). The failures and their messages are below.",
            report.failed + report.errors,
            names.join("; "),
            if report.failures.len() > 3 || report.omitted_failures > 0 {
                "; and more"
            } else {
                ""
            },
        )
    };
    say(
        ctx,
        run,
        (Step::QaReport, "report"),
        text,
        vec![Block::TestReport {
            version,
            report: report.clone(),
        }],
    )
    .await?;
    Ok(json!({"passed": passed}))
}
