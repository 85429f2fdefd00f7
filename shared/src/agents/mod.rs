//! The role agents. Each step loads what it needs from the stores, does its work, writes its
//! result and its reply, and returns a small JSON result: the same function runs in-process
//! locally and inside the agents Lambda on AWS, called by Task states of the pipeline.

mod architect;
mod backend_developer;
mod clone;
mod cost;
mod devops_engineer;
mod documentation_writer;
pub mod edits;
mod error;
mod estimate;
mod facts;
mod fix_model;
mod fixer;
mod pipeline;
mod product_manager;
mod qa_engineer;
mod repairs;
mod repo;
mod reviewer;
mod smoke_calls;
mod smoke_test;

pub use backend_developer::MAX_FILES_PER_VERSION;
pub use clone::clone_project;
pub use cost::{Costs, PriceTable};
pub use error::AgentError;
pub use pipeline::{complete, execution_ended, report_failure};
pub use smoke_calls::{smoke_test, SmokeOutcome};

use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tracing::Instrument;

use crate::model::{now, FileEntry, RunInput, RunStatus, RunStep};
use crate::runner::{Deployer, TestRunner};
use crate::store::{ArtifactStore, ProjectStore, StoreError};

/// What every step may use.
#[derive(Clone)]
pub struct AgentContext {
    /// Metadata.
    pub projects: Arc<dyn ProjectStore>,
    /// File contents.
    pub artifacts: Arc<dyn ArtifactStore>,
    /// Where each project's git repository lives (`{repos}/{project_id}`), when the backend
    /// keeps one (locally).
    pub repos: Option<std::path::PathBuf>,
    /// Runs test suites.
    pub tests: Arc<dyn TestRunner>,
    /// Runs deployments.
    pub deployer: Arc<dyn Deployer>,
    /// Reads messages into spec changes (`KILN_LLM`: the rules, or a model with the rules
    /// standing in when it fails).
    pub understander: Arc<dyn crate::understand::Understander>,
    /// What deploys are estimated to cost, and the owners' budget (`KILN_PRICE_*`,
    /// `KILN_MONTHLY_BUDGET_USD`).
    pub costs: Arc<Costs>,
    /// Most projects one owner may have (`KILN_MAX_PROJECTS_PER_OWNER`): a copy counts.
    pub max_projects_per_owner: u64,
    /// Most apps one owner may have running at once (`KILN_MAX_LIVE_DEPLOYMENTS`).
    pub max_live_deployments: usize,
    /// Longest a rollout may take to answer its health check (`KILN_DEPLOY_TIMEOUT_SECS`),
    /// counted from its start in the run's state, on every backend.
    pub deploy_timeout: std::time::Duration,
    /// The load test after a deploy's smoke test (`KILN_LOAD_TEST_REQUESTS`).
    pub load_test: crate::runner::LoadSettings,
}

macro_rules! steps {
    ($($step:ident: $doc:literal),* $(,)?) => {
        /// The pipeline steps, by the name the state machine's Task states use.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
        pub enum Step {
            $(#[doc = $doc] $step,)*
        }

        /// Every step.
        pub const STEPS: &[Step] = &[$(Step::$step,)*];

        impl Step {
            /// The step's name in the state machine and in a run's steps.
            pub fn name(self) -> &'static str {
                match self {
                    $(Step::$step => stringify!($step),)*
                }
            }
        }
    };
}

steps! {
    WaitTurn: "Waits until every earlier run of the project has finished: a project's runs execute one at a time, in the order their messages arrived.",
    ProductManager: "Reads the message into the spec.",
    Architect: "Designs the app from the spec.",
    Answer: "Answers a question about the project.",
    BackendDeveloper: "Writes the code into a draft.",
    DocumentationWriter: "Adds the README to the draft.",
    Release: "Makes the draft a version.",
    Review: "Starts the review of the current version (Kiln's own checks, ruff, bandit, pip-audit), unless it was reviewed before.",
    ReviewCheck: "Checks whether the review finished; then records it on the project and replies with its findings.",
    Plan: "Decides what a build, test or deploy request still needs: a build (nothing built, or the spec changed), a test run, a deploy.",
    QaStart: "Starts the test suite of the current version.",
    QaCheck: "Checks whether the test suite finished.",
    QaReport: "Reports the test results.",
    FixStart: "Starts a try of a fix request: the failing version's tests as it is, then each repair (a version with more of the user's changes set aside) and its tests.",
    FixCheck: "Checks a try's tests; says what it found, makes a passing repair current, and stops when a repair fails the same way as a try before it or none is left.",
    RefuseDeploy: "Records that the version was not deployed because its tests did not pass (`tests_failed`) or its review found something of high severity (`review_failed`).",
    DevOpsEstimate: "Says what the version would cost a month on AWS before its first deploy to an environment, and waits for the user's confirmation of a deploy to prod or over budget.",
    DevOpsBuildImage: "Starts building the image to deploy.",
    DevOpsImageCheck: "Checks whether the image is built.",
    DevOpsDeploy: "Starts the rollout of the current version.",
    DevOpsCheck: "Checks whether the rollout answers its health check.",
    DevOpsReport: "Records the deployment and replies with its URL.",
    SmokeTest: "Calls every endpoint of the live deployment with valid data, then load-tests its safe endpoints, and says what it found.",
    SmokeFailed: "Ends a run whose deployment failed its smoke test: says what it was rolled back to (or stops an environment that ran nothing before) and marks the run failed (smoke_failed).",
    Rollback: "Makes an earlier version current.",
    Clone: "Copies the project into a new one with its own history.",
    ReportFailure: "Says in the conversation why the run failed, and marks it failed.",
    Complete: "Marks the run succeeded.",
}

impl FromStr for Step {
    type Err = AgentError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        STEPS
            .iter()
            .copied()
            .find(|step| step.name() == s)
            .ok_or_else(|| AgentError::UnknownStep(s.chars().take(64).collect()))
    }
}

/// The payload a Task state sends: the step, the run, the pipeline's state so far, and for
/// `ReportFailure` the error that ended it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StepRequest {
    /// Which step.
    pub step: Step,
    /// The run.
    pub run: RunInput,
    /// Results of earlier steps (`draft`, `qa`, `deploy`, …).
    #[serde(default)]
    pub state: Value,
    /// `{"Error", "Cause"}` for `ReportFailure`.
    #[serde(default)]
    pub error: Option<Value>,
}

/// Runs one step of the pipeline, in a `step` span with the project, the run and the step.
pub async fn run_step(ctx: &AgentContext, request: &StepRequest) -> Result<Value, AgentError> {
    let span = tracing::info_span!(
        "step",
        step = request.step.name(),
        project_id = %request.run.project_id,
        run_id = %request.run.run_id,
    );
    let outcome = dispatch(ctx, request).instrument(span.clone()).await;
    span.in_scope(|| match &outcome {
        Ok(_) => tracing::info!("step finished"),
        Err(e) => tracing::warn!(code = e.code(), error = %e, "step failed"),
    });
    outcome
}

async fn dispatch(ctx: &AgentContext, request: &StepRequest) -> Result<Value, AgentError> {
    let (run, state) = (&request.run, &request.state);
    match request.step {
        Step::ProductManager => product_manager::read_requirements(ctx, run).await,
        Step::Architect => architect::design(ctx, run).await,
        Step::Answer => product_manager::answer(ctx, run).await,
        Step::BackendDeveloper => backend_developer::write_code(ctx, run).await,
        Step::DocumentationWriter => {
            documentation_writer::write_readme(ctx, run, &draft(state)?).await
        }
        Step::Release => backend_developer::release(ctx, run, &draft(state)?).await,
        Step::Plan => pipeline::plan(ctx, run).await,
        Step::WaitTurn => pipeline::wait_turn(ctx, run, state).await,
        Step::RefuseDeploy => pipeline::refuse_deploy(ctx, run, state)
            .await
            .map(|_| Value::Null),
        Step::Review => reviewer::start(ctx, run).await,
        Step::ReviewCheck => reviewer::check(ctx, run, state).await,
        Step::QaStart => qa_engineer::start(ctx, run).await,
        Step::QaCheck => qa_engineer::check(ctx, run, state).await,
        Step::QaReport => qa_engineer::report(ctx, run, state).await,
        Step::FixStart => fixer::start(ctx, run, state).await,
        Step::FixCheck => fixer::check(ctx, run, state).await,
        Step::DevOpsBuildImage => devops_engineer::build_image(ctx, run).await,
        Step::DevOpsImageCheck => devops_engineer::image_check(ctx, state).await,
        Step::DevOpsEstimate => estimate::estimate(ctx, run).await,
        Step::DevOpsDeploy => devops_engineer::deploy(ctx, run, state).await,
        Step::DevOpsCheck => devops_engineer::check(ctx, run, state).await,
        Step::DevOpsReport => devops_engineer::report(ctx, run, state).await,
        Step::Rollback => devops_engineer::rollback(ctx, run).await,
        Step::SmokeTest => smoke_test::smoke_test(ctx, run, state).await,
        Step::SmokeFailed => smoke_test::smoke_failed(ctx, run, state).await,
        Step::Clone => clone::from_chat(ctx, run).await,
        Step::Complete => complete(ctx, run).await.map(|_| Value::Null),
        Step::ReportFailure => {
            let error = request.error.clone().unwrap_or(Value::Null);
            pipeline::fail_run(ctx, run, &error, Some(Step::ReportFailure))
                .await
                .map(|_| Value::Null)
        }
    }
}

/// Records in the run that a step started (or, for a repeat of the step just before, started
/// again); the first step to run marks the run running.
async fn record_start(ctx: &AgentContext, request: &StepRequest) -> Result<(), AgentError> {
    let name = request.step.name();
    let (project_id, run_id) = (request.run.project_id, request.run.run_id);
    let mut run = ctx.projects.get_run(project_id, run_id).await?;
    // The first step to run marks the run running (the workflow that started it writes
    // nothing to it, so nothing overwrites what the steps write).
    let starting = run.status == RunStatus::Queued;
    if starting {
        run.status = RunStatus::Running;
    }
    if let Some(retried) = run
        .steps
        .last_mut()
        .filter(|s| s.name == name && s.status != RunStatus::Running)
    {
        // A retry of the step just before (its last attempt failed, or its answer was lost):
        // it runs again, so it shows as running, not as the failure it may not end in.
        retried.status = RunStatus::Running;
        retried.error = None;
        retried.finished_at = None;
        run.updated_at = now();
        ctx.projects.update_run(&run).await?;
    } else if run.steps.last().is_none_or(|s| s.name != name) {
        // A step that answered "not done" (a job started, a rollout polled) handed over to
        // the state machine; the machine moving on to another step means it finished.
        for earlier in run
            .steps
            .iter_mut()
            .filter(|s| s.status == RunStatus::Running)
        {
            earlier.status = RunStatus::Succeeded;
            earlier.finished_at = Some(now());
        }
        run.steps.push(RunStep {
            name: name.to_owned(),
            status: RunStatus::Running,
            started_at: Some(now()),
            finished_at: None,
            error: None,
        });
        run.updated_at = now();
        ctx.projects.update_run(&run).await?;
    } else if starting {
        run.updated_at = now();
        ctx.projects.update_run(&run).await?;
    }
    Ok(())
}

/// Runs a step and records it in the run: started, then succeeded or failed. A poll that is
/// not done yet (`{"done": false}`) leaves its step running, and a repeat of the step just
/// before updates that entry instead of adding one.
pub async fn run_recorded_step(
    ctx: &AgentContext,
    request: &StepRequest,
) -> Result<Value, AgentError> {
    if request.step == Step::WaitTurn {
        // Shown in the run only while it waits: a run with nothing before it goes straight on.
        let outcome = run_step(ctx, request).await;
        if outcome
            .as_ref()
            .is_ok_and(|v| v["done"] == Value::Bool(false))
        {
            record_start(ctx, request).await?;
        }
        return outcome;
    }
    record_start(ctx, request).await?;
    let name = request.step.name();
    let (project_id, run_id) = (request.run.project_id, request.run.run_id);
    let outcome = run_step(ctx, request).await;
    if outcome
        .as_ref()
        .is_ok_and(|v| v["done"] == Value::Bool(false))
    {
        return outcome;
    }
    let mut run = ctx.projects.get_run(project_id, run_id).await?;
    let ended_with_the_run = run.status.is_final()
        && run
            .steps
            .last()
            .is_some_and(|s| s.name == name && s.status == RunStatus::Succeeded);
    if ended_with_the_run && outcome.is_ok() {
        // The step ended the run and itself in one write (`complete`, `fail_run`).
        return outcome;
    }
    if let Some(step) = run.steps.iter_mut().rev().find(|s| s.name == name) {
        step.finished_at = Some(now());
        match &outcome {
            Ok(_) => {
                // A retry that succeeded clears the failure of the attempt before.
                step.status = RunStatus::Succeeded;
                step.error = None;
            }
            Err(e) => {
                step.status = RunStatus::Failed;
                step.error = Some(e.to_string());
            }
        }
    }
    run.updated_at = now();
    ctx.projects.update_run(&run).await?;
    outcome
}

/// The files a build wrote so far: `state.draft.files`.
fn draft(state: &Value) -> Result<Vec<FileEntry>, AgentError> {
    serde_json::from_value(state["draft"]["files"].clone())
        .map_err(|e| AgentError::BadInput(format!("state.draft.files: {e}")))
}

/// Loads the project, applies `change` and saves it, retrying when another writer got there
/// first. `change` returns false to skip the write.
pub(crate) async fn update_project<F>(
    ctx: &AgentContext,
    project_id: uuid::Uuid,
    mut change: F,
) -> Result<crate::model::Project, AgentError>
where
    F: FnMut(&mut crate::model::Project) -> Result<bool, AgentError>,
{
    match crate::store::modify_project(ctx.projects.as_ref(), project_id, &mut change).await {
        Err(AgentError::Store(StoreError::Conflict(_))) => Err(AgentError::Contended),
        other => other,
    }
}

/// A step's change to the project and its reply about it, written together once per run:
/// `change` edits the project and returns the reply (`None`: nothing changed, nothing
/// written). The project remembers the step (`changed_by`) and the reply carries its key
/// (`{run}/{step}/{what}`) in the same write, so a failure can never leave one without the
/// other, and a repeat of the step writes nothing. Returns the project and whether an earlier
/// run of the step made the change.
pub(crate) async fn change_and_say<F>(
    ctx: &AgentContext,
    run: &RunInput,
    (step, what): (Step, &str),
    mut change: F,
) -> Result<(crate::model::Project, bool), AgentError>
where
    F: FnMut(&mut crate::model::Project) -> Result<Option<crate::model::Message>, AgentError>,
{
    let mark = changed_by_mark(run, step);
    let mut repeat = false;
    let outcome = crate::store::modify_project_and_append(
        ctx.projects.as_ref(),
        run.project_id,
        |p: &mut crate::model::Project| {
            repeat = p.changed_by.contains(&mark);
            if repeat {
                return Ok(None);
            }
            let Some(mut reply) = change(p)? else {
                return Ok(None);
            };
            reply.client_id = Some(reply_key(run, step, what));
            remember(p, &mark);
            Ok(Some(reply))
        },
    )
    .await;
    match outcome {
        Err(AgentError::Store(StoreError::Conflict(_))) => Err(AgentError::Contended),
        other => other.map(|p| (p, repeat)),
    }
}

/// How a project's `changed_by` names a step of a run.
pub(crate) fn changed_by_mark(run: &RunInput, step: Step) -> String {
    format!("{}/{}", run.run_id, step.name())
}

/// Notes in the project that `mark` (`{run}/{step}`) changed it, keeping the newest few.
fn remember(p: &mut crate::model::Project, mark: &str) {
    p.changed_by.push(mark.to_owned());
    let excess = p
        .changed_by
        .len()
        .saturating_sub(crate::model::Project::CHANGED_BY_KEPT);
    p.changed_by.drain(..excess);
}

/// Appends an agent's reply with its blocks to the run's conversation, under the key
/// `{run}/{step}/{what}` (see [`post`]).
pub(crate) async fn reply(
    ctx: &AgentContext,
    run: &RunInput,
    (step, what): (Step, &str),
    agent: crate::model::Agent,
    text: String,
    blocks: Vec<crate::model::Block>,
) -> Result<(), AgentError> {
    let mut message = crate::model::Message::from_agent(run.project_id, agent, run.run_id, text);
    message.blocks = blocks;
    post(ctx, run, (step, what), message).await
}

/// Appends a message to the run's conversation under the key `{run}/{step}/{what}`: a step
/// that runs again (a retry after a lost answer) finds its key taken and writes nothing, so
/// each thing is said once. `what` names the message within its step, not its position, so
/// a repeat that takes another branch cannot drop a message under a key already used.
pub(crate) async fn post(
    ctx: &AgentContext,
    run: &RunInput,
    (step, what): (Step, &str),
    mut message: crate::model::Message,
) -> Result<(), AgentError> {
    message.client_id = Some(reply_key(run, step, what));
    ctx.projects.append_message(&message).await?;
    Ok(())
}

/// The idempotency key of one message of one step of a run.
pub(crate) fn reply_key(run: &RunInput, step: Step, what: &str) -> String {
    format!("{}/{}/{what}", run.run_id, step.name())
}

/// Every file of a version, read from the artifact store.
pub(crate) async fn version_files(
    ctx: &AgentContext,
    version: &crate::model::Version,
) -> Result<Vec<crate::runner::File>, AgentError> {
    let mut files = Vec::with_capacity(version.manifest.len());
    for entry in &version.manifest {
        files.push((
            entry.path.clone(),
            ctx.artifacts.get_blob(&entry.sha256).await?,
        ));
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::RunnerError;

    #[test]
    fn only_what_a_retry_may_fix_is_named_transient() {
        use crate::model::Cause;
        let cases = [
            (AgentError::Contended, "Kiln.Transient"),
            (
                AgentError::Store(StoreError::Conflict("revision".into())),
                "Kiln.Transient",
            ),
            (
                AgentError::Store(StoreError::Unavailable(Cause::new("busy"))),
                "Kiln.Transient",
            ),
            (
                AgentError::Runner(RunnerError::Unavailable(Cause::new("throttled"))),
                "Kiln.Transient",
            ),
            (
                AgentError::Store(StoreError::Corrupt(Cause::new("bad record"))),
                "Kiln.storage_corrupt",
            ),
            (
                AgentError::Store(StoreError::failed("no table")),
                "Kiln.storage_failed",
            ),
            (
                AgentError::Runner(RunnerError::Process("denied".into())),
                "Kiln.runner_failed",
            ),
            (AgentError::NothingToBuild, "Kiln.nothing_to_build"),
            (AgentError::Refused("no".into()), "Kiln.refused"),
        ];
        for (error, name) in cases {
            assert_eq!(error.error_name(), name, "{error:?}");
        }
    }

    #[test]
    fn step_names_round_trip() {
        for step in STEPS {
            assert_eq!(step.name().parse::<Step>().unwrap(), *step);
        }
        assert!(matches!(
            "Rm -rf".parse::<Step>(),
            Err(AgentError::UnknownStep(_))
        ));
    }
}
