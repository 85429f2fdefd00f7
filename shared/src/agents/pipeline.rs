//! Steps of the pipeline itself: what a request still needs, the deploy gate's refusal, and how a run ends.

use serde_json::{json, Value};

use super::{post, AgentContext, AgentError, Step};
use crate::model::{now, Intent, Message, RunError, RunInput, RunStatus};

/// What a build, test or deploy request still needs, decided once for the run:
/// `{"build", "test", "deploy", "tests": {"passed"}, "review_override"}`. A build is needed when asked for, when
/// nothing was built yet, or when the spec changed since the current version; tests run when
/// asked for, or before a deploy of a version whose tests have not passed. `tests.passed` says
/// whether the version to deploy passed its tests; the QA report replaces it when the tests run.
/// `review_override` says that a deploy request asked to deploy over the review's blocking
/// findings ("deploy anyway"): the `ReviewPassed?` gate lets it through, and only that gate.
pub(super) async fn plan(ctx: &AgentContext, run: &RunInput) -> Result<Value, AgentError> {
    let project = ctx.projects.load_project(run.project_id).await?;
    let spec = project.spec.as_ref().ok_or(AgentError::NothingToBuild)?;
    let stale = match project.current_version {
        None => true,
        Some(n) => ctx.projects.get_version(project.id, n).await?.spec.as_ref() != Some(spec),
    };
    let build = stale || run.intent == Intent::Build;
    let passed = !build
        && project.tested_version.is_some()
        && project.tested_version == project.current_version;
    let deploy = run.intent == Intent::Deploy;
    let test = run.intent == Intent::Test || (deploy && !passed);
    let review_override = deploy
        && super::reviewer::overrides_in(
            run,
            &project,
            &ctx.projects
                .get_message(run.project_id, run.message_id)
                .await?
                .content,
        );
    Ok(json!({
        "build": build,
        "test": test,
        "deploy": deploy,
        "tests": {"passed": passed},
        "review_override": review_override,
    }))
}

/// How many earlier runs a run looks back at for one still under way (the newest ones: an
/// older one still unfinished was stopped and is failed by the execution-ended handler).
pub const TURN_LOOKBACK: u32 = 50;

/// How long a run may stay queued without any step before a later run stops waiting for it:
/// its workflow never started (the API that stored it stopped before starting it), and no one
/// will. It is failed as `not_started`, so the same message again starts it.
pub const ABANDONED_AFTER: time::Duration = time::Duration::minutes(10);

/// Whether every earlier run of the project has finished: `{"done", "waiting_for"}`. A project's
/// runs execute one at a time in the order their messages arrived ("add auth" then "build it"
/// builds with auth), on every backend; a run that must wait says so once (on its first check:
/// `state.turn` holds the answer of the one before).
pub(super) async fn wait_turn(
    ctx: &AgentContext,
    run: &RunInput,
    state: &Value,
) -> Result<Value, AgentError> {
    // The oldest run still under way comes first; one whose workflow never started is failed
    // and the next oldest looked at.
    let mut waiting_for = None;
    while let Some(mut other) = ctx
        .projects
        .oldest_unfinished_run_before(run.project_id, run.run_id, TURN_LOOKBACK)
        .await?
    {
        if other.status == RunStatus::Queued
            && other.steps.is_empty()
            && now() - other.created_at > ABANDONED_AFTER
        {
            other.status = RunStatus::Failed;
            other.error = Some(RunError::not_started("The pipeline never started this run"));
            other.updated_at = now();
            if ctx
                .projects
                .update_run_from(&other, RunStatus::Queued)
                .await?
            {
                continue;
            }
        }
        waiting_for = Some(other.id);
        break;
    }
    let Some(id) = waiting_for else {
        return Ok(json!({"done": true, "waiting_for": null}));
    };
    if state["turn"].is_null() {
        post(
            ctx,
            run,
            (Step::WaitTurn, "waiting"),
            Message::from_system(
                run.project_id,
                run.run_id,
                "Waiting for the request before this one to finish…".into(),
            ),
        )
        .await?;
    }
    Ok(json!({"done": false, "waiting_for": id}))
}

/// The deploy gate said no: the version to deploy did not pass its tests (`tests_failed`), or
/// it did and its review found something of high severity (`review_failed`, naming the
/// findings). Records the run as failed with the reason and says it in the conversation.
pub(super) async fn refuse_deploy(
    ctx: &AgentContext,
    run: &RunInput,
    state: &Value,
) -> Result<(), AgentError> {
    let project = ctx.projects.load_project(run.project_id).await?;
    let version = project
        .current_version
        .map(|n| format!("version {n}"))
        .unwrap_or_else(|| "the current version".into());
    let review = project.current_version.and_then(|n| project.review_of(n));
    // The tests' gate comes first: with its tests passed, it was the review's gate that said no.
    let (error, cause) = if state["plan"]["tests"]["passed"] == Value::Bool(true) {
        (
            "Kiln.review_failed",
            format!(
                "{version}'s review found {} high-severity issue(s) ({}), so I did not deploy \
                 it; fix them and say \"build it\", or say \"deploy anyway\" to deploy over them",
                review.map_or(0, |r| r.counts.high),
                review.map_or_else(|| "see the review above".into(), super::reviewer::named)
            ),
        )
    } else {
        (
            "Kiln.tests_failed",
            format!(
                "{version} did not pass its tests, so I did not deploy it; the test report above \
                 says what failed{}",
                if state["plan"]["review_override"] == Value::Bool(true) {
                    " (\"deploy anyway\" overrides the review, never failing tests)"
                } else {
                    ""
                }
            ),
        )
    };
    fail_run(
        ctx,
        run,
        &json!({"Error": error, "Cause": cause}),
        Some(Step::RefuseDeploy),
    )
    .await
}

/// Marks the run succeeded, unless it already ended; its `Complete` step ends in the same
/// write, so a run that shows as succeeded shows every step ended.
pub async fn complete(ctx: &AgentContext, run: &RunInput) -> Result<(), AgentError> {
    let mut stored = ctx.projects.get_run(run.project_id, run.run_id).await?;
    if stored.status.is_final() {
        return Ok(());
    }
    stored.status = RunStatus::Succeeded;
    if let Some(step) = stored
        .steps
        .last_mut()
        .filter(|s| s.name == Step::Complete.name() && !s.status.is_final())
    {
        step.status = RunStatus::Succeeded;
        step.finished_at = Some(now());
    }
    stored.updated_at = now();
    Ok(ctx.projects.update_run(&stored).await?)
}

/// An execution ended without the pipeline saying so (Step Functions reports FAILED,
/// TIMED_OUT or ABORTED: a Lambda that timed out, a state past its limits, someone stopping
/// it): a run still queued or running is marked failed with the reason, and the conversation
/// says why. A run that ended already keeps its end; a repeat of the report changes nothing.
pub async fn execution_ended(
    ctx: &AgentContext,
    run: &RunInput,
    status: &str,
    error: Option<&str>,
    cause: Option<&str>,
) -> Result<(), AgentError> {
    let stored = ctx.projects.get_run(run.project_id, run.run_id).await?;
    if stored.status == RunStatus::Succeeded {
        return Ok(());
    }
    let name = match (error.filter(|e| !e.is_empty()), status) {
        (Some(e), _) => e.to_owned(),
        (None, "TIMED_OUT") => "States.Timeout".to_owned(),
        (None, "ABORTED") => "States.Aborted".to_owned(),
        (None, _) => "States.Runtime".to_owned(),
    };
    let cause = match (cause.filter(|c| !c.trim().is_empty()), status) {
        (Some(c), _) => c.chars().take(MAX_CAUSE_CHARS).collect(),
        (None, "TIMED_OUT") => "the run took longer than the pipeline allows".to_owned(),
        (None, "ABORTED") => "the run was stopped".to_owned(),
        (None, _) => "the pipeline stopped unexpectedly".to_owned(),
    };
    report_failure(ctx, run, &json!({"Error": name, "Cause": cause})).await
}

/// Longest cause of an ended execution said in the conversation, in characters.
const MAX_CAUSE_CHARS: usize = 1_000;

/// Marks the run failed with the error that ended it and says why in the conversation.
/// `error` is ASL's `{"Error", "Cause"}`.
pub async fn report_failure(
    ctx: &AgentContext,
    run: &RunInput,
    error: &Value,
) -> Result<(), AgentError> {
    fail_run(ctx, run, error, None).await
}

/// Marks the run failed as [`report_failure`] does; from a step (`closing`), that step ends
/// in the same write, as it succeeded: what the run shows once it is final does not change
/// after (a client that sees the end sees every step's end too).
pub(super) async fn fail_run(
    ctx: &AgentContext,
    run: &RunInput,
    error: &Value,
    closing: Option<Step>,
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
    let text = format!("That didn't work: {cause}");
    let reason = Message::from_system(run.project_id, run.run_id, text);
    if stored.status == RunStatus::Failed {
        // Failed already (a repeat of this step, or the deploy gate's refusal): the reason
        // is said once, under its key, in case the earlier attempt stopped before saying it.
        return post(ctx, run, (Step::ReportFailure, "reason"), reason).await;
    }
    stored.status = RunStatus::Failed;
    stored.error = Some(RunError {
        code,
        message: cause.to_owned(),
    });
    let last = stored.steps.len().saturating_sub(1);
    for (i, step) in stored.steps.iter_mut().enumerate() {
        if step.status.is_final() {
            continue;
        }
        step.finished_at = Some(now());
        if i == last && closing.is_some_and(|c| c.name() == step.name) {
            step.status = RunStatus::Succeeded;
        } else {
            step.status = RunStatus::Failed;
            step.error = Some(cause.to_owned());
        }
    }
    stored.updated_at = now();
    ctx.projects.update_run(&stored).await?;
    post(ctx, run, (Step::ReportFailure, "reason"), reason).await
}
