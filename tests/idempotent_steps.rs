//! Step Functions may run a Task again after it succeeded or half-succeeded (a retry after a
//! transient error, an answer lost on the way back). A whole conversation — describe, ask,
//! build and review, test, deploy over the review's finding (and its smoke test), refine,
//! answer a question, deploy again, roll back — runs on the local backend (SQLite on disk, real
//! pytest, real uvicorn, the review's real tools with pip-audit asking a stand-in database) in
//! two ways:
//!
//! - every Task runs twice in a row, and the stored state after the second run must equal the
//!   state after the first: the project, its versions, its conversation, its deployments, the
//!   run;
//! - every Task is cut short before its first write, retried and cut short before its second,
//!   and so on until an attempt gets through, and the project must end exactly as the same
//!   conversation ends on a project where nothing failed.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use kiln::agents::{run_recorded_step, AgentContext, StepRequest};
use kiln::model::{
    Cause, Deployment, Intent, Message, Owner, Project, ProjectSummary, Run, RunStatus, Version,
};
use kiln::store::{Page, PageRequest, Posted, ProjectStore, StoreError, StoreResult};
use kiln::workflow::asl::{Failure, TaskHandler};
use serde_json::Value;
use uuid::Uuid;

/// Which top-level parts of two snapshots differ.
fn describe_difference(a: &Value, b: &Value) -> String {
    let parts: Vec<&str> = ["project", "versions", "messages", "deployments", "run"]
        .into_iter()
        .filter(|k| a[k] != b[k])
        .collect();
    parts.join(", ")
}

/// Runs every Task twice and notes the steps whose second run changed the stored state.
struct Twice {
    ctx: AgentContext,
    changed: Mutex<BTreeSet<String>>,
    ran: Mutex<BTreeSet<String>>,
}

#[async_trait]
impl TaskHandler for Twice {
    async fn invoke(&self, _state: &str, _resource: &str, input: Value) -> Result<Value, Failure> {
        let request: StepRequest = serde_json::from_value(input).unwrap();
        let (project_id, run_id) = (request.run.project_id, request.run.run_id);
        self.ran
            .lock()
            .unwrap()
            .insert(request.step.name().to_owned());
        let first = run_recorded_step(&self.ctx, &request).await;
        let after_first =
            kiln_integration_tests::project_state(self.ctx.projects.as_ref(), project_id, run_id)
                .await;
        let second = run_recorded_step(&self.ctx, &request).await;
        let after_second =
            kiln_integration_tests::project_state(self.ctx.projects.as_ref(), project_id, run_id)
                .await;
        if after_first != after_second || first.is_ok() != second.is_ok() {
            let diff = describe_difference(&after_first, &after_second);
            let failed = match (&first, &second) {
                (Ok(_), Err(e)) => format!(" (the second run failed: {e})"),
                _ => String::new(),
            };
            eprintln!("{}: {diff}{failed}", request.step.name());
            self.changed
                .lock()
                .unwrap()
                .insert(request.step.name().to_owned());
        }
        first.map_err(|e| Failure::new(e.error_name(), e.to_string()))
    }
}

/// The conversation both tests hold, with the intent each message is routed with.
const CONVERSATION: [(&str, Intent); 14] = [
    ("API for notes. Each note has a title", Intent::Create),
    ("what endpoints does it have?", Intent::Question),
    ("build it", Intent::Build),
    ("run the tests", Intent::Test),
    // The tests pass: a fix finds nothing to do.
    ("fix it", Intent::Fix),
    // The review found the stand-in database's advisory (see `local_context`): deployed over it.
    ("deploy it anyway", Intent::Deploy),
    ("notes also have a body", Intent::Refine),
    // A question asked, then answered: the answer is read against the question once.
    ("notes have line items", Intent::Refine),
    ("the second one", Intent::Refine),
    ("deploy it regardless of the review", Intent::Deploy),
    ("roll back to version 1", Intent::Rollback),
    // Prod waits for a yes, which the next message gives; the yes carries the request's
    // "anyway" over the review's finding.
    ("deploy it to prod anyway", Intent::Deploy),
    ("yes, deploy to prod", Intent::Deploy),
    ("clone this project as Notes copy", Intent::Clone),
];

/// The vulnerability database the reviews ask: it knows one advisory of the FastAPI every
/// version pins, so every review has a high-severity finding.
static OSV: std::sync::LazyLock<kiln_integration_tests::fake_osv::FakeOsv> =
    std::sync::LazyLock::new(|| {
        kiln_integration_tests::fake_osv::FakeOsv::start(vec![
            kiln_integration_tests::fake_osv::Advisory {
                package: "fastapi".into(),
                version: "0.165.0".into(),
                id: "GHSA-kiln-twice-0001".into(),
                summary: "a stand-in advisory".into(),
                fixed: "0.165.1".into(),
            },
        ])
    });

/// The local backend on a fresh data directory.
async fn local_context(dir: &std::path::Path) -> AgentContext {
    let vars = std::collections::HashMap::from([
        ("KILN_DATA_DIR".to_owned(), dir.display().to_string()),
        (
            "KILN_VENV_DIR".to_owned(),
            kiln_integration_tests::runtime_venv_dir(),
        ),
        ("KILN_OSV_URL".to_owned(), OSV.url()),
        // The smoke tests after each deploy run; their load tests, whose timings differ from
        // run to run, do not (tests/smoke_load.rs holds them).
        ("KILN_LOAD_TEST_REQUESTS".to_owned(), "0".to_owned()),
    ]);
    let config = kiln::config::Config::from_vars(&vars).unwrap();
    let state = kiln::backends::local_state(&config).await.unwrap();
    state.agents.clone()
}

/// Says the whole conversation to a new project through `tasks`; every run must succeed.
async fn converse(projects: &dyn ProjectStore, tasks: &dyn TaskHandler) -> Project {
    let project = Project::new(kiln::model::Owner::local(), "Notes".into(), String::new());
    projects.create_project(&project).await.unwrap();
    for (text, intent) in CONVERSATION {
        let (run, outcome) =
            kiln_integration_tests::execute_message(projects, &project, text, intent, tasks, 0.1)
                .await;
        assert_eq!(
            run.status,
            kiln::model::RunStatus::Succeeded,
            "{text}: {run:?}, the execution ended with {outcome:?}"
        );
    }
    project
}

#[tokio::test(flavor = "multi_thread")]
async fn every_step_run_twice_leaves_what_one_run_leaves() {
    let dir = tempfile::tempdir().unwrap();
    let twice = Twice {
        ctx: local_context(dir.path()).await,
        changed: Mutex::new(BTreeSet::new()),
        ran: Mutex::new(BTreeSet::new()),
    };
    let project = converse(twice.ctx.projects.as_ref(), &twice).await;
    // The clone run twice made one copy, with one version and one opening message.
    let owned = twice
        .ctx
        .projects
        .list_projects(&Owner::local(), &PageRequest::first(10))
        .await
        .unwrap()
        .items;
    assert_eq!(owned.len(), 2, "{owned:?}");
    let copy = copy_state(twice.ctx.projects.as_ref(), &project).await;
    assert_eq!(copy["versions"].as_array().unwrap().len(), 1, "{copy}");
    assert_eq!(copy["messages"].as_array().unwrap().len(), 1, "{copy}");
    // Every deploy went out over the review's finding, and said so on its deployment (the
    // prod deploy on its confirmation's run); the rollback's redeploy is no override.
    let deployments = twice
        .ctx
        .projects
        .list_deployments(project.id)
        .await
        .unwrap();
    let overridden: Vec<Option<u32>> = deployments
        .iter()
        .rev()
        .map(|d| d.review_override.as_ref().map(|o| o.version))
        .collect();
    assert_eq!(
        overridden,
        [Some(1), Some(2), None, Some(1)],
        "{deployments:#?}"
    );
    let changed: Vec<String> = twice.changed.lock().unwrap().iter().cloned().collect();
    assert!(
        changed.is_empty(),
        "running these steps twice changed the stored state: {changed:?}"
    );
    // Every step of the conversation's path ran, twice each.
    let ran = twice.ran.lock().unwrap().clone();
    for step in kiln::agents::STEPS {
        // A failed smoke test needs a broken app: tests/smoke_load.rs runs SmokeFailed.
        let off_path = ["RefuseDeploy", "ReportFailure", "SmokeFailed"];
        if !off_path.contains(&step.name()) {
            assert!(ran.contains(step.name()), "{} never ran", step.name());
        }
    }
}

/// A project store that fails one write on purpose: armed with `n`, it lets `n` writes
/// through and fails the next with a transient error (what a busy database or a throttled
/// table answers), then lets everything through again. Reads always pass.
/// A run is never stored as ended while one of its steps still shows as going: a client that
/// sees the end (and stops following) would keep a step that never ends.
fn ended_runs_show_every_step_ended(run: &Run) {
    if run.status.is_final() {
        let going: Vec<&str> = run
            .steps
            .iter()
            .filter(|s| !s.status.is_final())
            .map(|s| s.name.as_str())
            .collect();
        assert!(
            going.is_empty(),
            "run stored as {:?} with {going:?} going",
            run.status
        );
    }
}

struct CutShort {
    inner: Arc<dyn ProjectStore>,
    countdown: AtomicI64,
    fired: AtomicBool,
}

impl CutShort {
    fn arm(&self, n: i64) {
        self.fired.store(false, Ordering::SeqCst);
        self.countdown.store(n, Ordering::SeqCst);
    }

    fn disarm(&self) {
        self.countdown.store(-1, Ordering::SeqCst);
    }

    fn write(&self) -> StoreResult<()> {
        if self.countdown.fetch_sub(1, Ordering::SeqCst) == 0 {
            self.fired.store(true, Ordering::SeqCst);
            return Err(StoreError::Unavailable(Cause::new("cut short by the test")));
        }
        Ok(())
    }
}

#[async_trait]
impl ProjectStore for CutShort {
    async fn create_project_within(&self, project: &Project, limit: u64) -> StoreResult<()> {
        self.write()?;
        self.inner.create_project_within(project, limit).await
    }
    async fn load_project(&self, id: Uuid) -> StoreResult<Project> {
        self.inner.load_project(id).await
    }
    async fn list_projects(
        &self,
        owner: &Owner,
        page: &PageRequest,
    ) -> StoreResult<Page<ProjectSummary>> {
        self.inner.list_projects(owner, page).await
    }
    async fn search_projects(
        &self,
        owner: &Owner,
        text: &str,
        page: &PageRequest,
    ) -> StoreResult<Page<ProjectSummary>> {
        self.inner.search_projects(owner, text, page).await
    }
    async fn count_projects(&self, owner: &Owner) -> StoreResult<u64> {
        self.inner.count_projects(owner).await
    }
    async fn update_project(&self, project: &Project) -> StoreResult<Project> {
        self.write()?;
        self.inner.update_project(project).await
    }
    async fn update_project_and_append(
        &self,
        project: &Project,
        message: &Message,
    ) -> StoreResult<Project> {
        self.write()?;
        self.inner.update_project_and_append(project, message).await
    }
    async fn delete_project(&self, owner: &Owner, id: Uuid) -> StoreResult<()> {
        self.write()?;
        self.inner.delete_project(owner, id).await
    }
    async fn post_user_message(&self, message: &Message, run: &Run) -> StoreResult<Posted> {
        self.write()?;
        self.inner.post_user_message(message, run).await
    }
    async fn append_message(&self, message: &Message) -> StoreResult<bool> {
        self.write()?;
        self.inner.append_message(message).await
    }
    async fn get_message(&self, project_id: Uuid, message_id: Uuid) -> StoreResult<Message> {
        self.inner.get_message(project_id, message_id).await
    }
    async fn list_messages(
        &self,
        project_id: Uuid,
        page: &PageRequest,
    ) -> StoreResult<Page<Message>> {
        self.inner.list_messages(project_id, page).await
    }
    async fn list_messages_backwards(
        &self,
        project_id: Uuid,
        page: &PageRequest,
    ) -> StoreResult<Page<Message>> {
        self.inner.list_messages_backwards(project_id, page).await
    }
    async fn messages_made_since(
        &self,
        project_id: Uuid,
        since: time::OffsetDateTime,
        limit: u32,
    ) -> StoreResult<Vec<Message>> {
        self.inner
            .messages_made_since(project_id, since, limit)
            .await
    }
    async fn get_run(&self, project_id: Uuid, run_id: Uuid) -> StoreResult<Run> {
        self.inner.get_run(project_id, run_id).await
    }
    async fn update_run(&self, run: &Run) -> StoreResult<()> {
        ended_runs_show_every_step_ended(run);
        self.write()?;
        self.inner.update_run(run).await
    }
    async fn update_run_from(&self, run: &Run, from: RunStatus) -> StoreResult<bool> {
        ended_runs_show_every_step_ended(run);
        self.write()?;
        self.inner.update_run_from(run, from).await
    }
    async fn runs_before(
        &self,
        project_id: Uuid,
        run_id: Uuid,
        limit: u32,
    ) -> StoreResult<Vec<Run>> {
        self.inner.runs_before(project_id, run_id, limit).await
    }
    async fn unfinished_runs(&self) -> StoreResult<Vec<Run>> {
        self.inner.unfinished_runs().await
    }
    async fn create_version(&self, version: &Version) -> StoreResult<()> {
        self.write()?;
        self.inner.create_version(version).await
    }
    async fn get_version(&self, project_id: Uuid, number: u32) -> StoreResult<Version> {
        self.inner.get_version(project_id, number).await
    }
    async fn list_versions(
        &self,
        project_id: Uuid,
        page: &PageRequest,
    ) -> StoreResult<Page<Version>> {
        self.inner.list_versions(project_id, page).await
    }
    async fn put_deployment(&self, deployment: &Deployment) -> StoreResult<()> {
        self.write()?;
        self.inner.put_deployment(deployment).await
    }
    async fn list_deployments(&self, project_id: Uuid) -> StoreResult<Vec<Deployment>> {
        self.inner.list_deployments(project_id).await
    }
    async fn live_deployments(&self) -> StoreResult<Vec<Deployment>> {
        self.inner.live_deployments().await
    }
}

/// Runs each Task as the state machine's Retry would after transient failures: the first
/// attempt is cut short before its first write, the next before its second, and so on, until
/// an attempt gets through with no failure; counts the attempts cut short.
struct Retried {
    ctx: AgentContext,
    store: Arc<CutShort>,
    cuts: AtomicI64,
}

#[async_trait]
impl TaskHandler for Retried {
    async fn invoke(&self, _state: &str, _resource: &str, input: Value) -> Result<Value, Failure> {
        let request: StepRequest = serde_json::from_value(input).unwrap();
        for n in 0..200 {
            self.store.arm(n);
            let outcome = run_recorded_step(&self.ctx, &request).await;
            self.store.disarm();
            if !self.store.fired.load(Ordering::SeqCst) {
                return outcome.map_err(|e| Failure::new(e.error_name(), e.to_string()));
            }
            // Each cut is transient, and the state machine retries what is transient.
            let error = outcome.expect_err("a cut write fails the attempt");
            assert_eq!(error.error_name(), "Kiln.Transient", "{error}");
            self.cuts.fetch_add(1, Ordering::SeqCst);
        }
        panic!("{} never got through", request.step.name());
    }
}

/// Plain runs, for the project nothing fails on.
struct Once(AgentContext);

#[async_trait]
impl TaskHandler for Once {
    async fn invoke(&self, _state: &str, _resource: &str, input: Value) -> Result<Value, Failure> {
        let request: StepRequest = serde_json::from_value(input).unwrap();
        run_recorded_step(&self.0, &request)
            .await
            .map_err(|e| Failure::new(e.error_name(), e.to_string()))
    }
}

/// A snapshot with what differs between two projects by nature masked: ids, loopback ports,
/// timings.
fn masked(v: &Value) -> Value {
    match v {
        Value::String(s) => Value::String(mask(s)),
        Value::Array(items) => Value::Array(items.iter().map(masked).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| k.as_str() != "duration_secs")
                // What a deploy would cost depends on the apps already running (the other
                // conversation's among them); its figures are tested on their own.
                .filter(|(k, _)| {
                    !(k.as_str() == "estimate" && map.get("type") == Some(&Value::from("cost")))
                })
                .map(|(k, v)| (k.clone(), masked(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn mask(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("127.0.0.1:") {
            out.push_str("127.0.0.1:PORT");
            rest = after.trim_start_matches(|c: char| c.is_ascii_digit());
        } else if rest.get(..36).is_some_and(|id| Uuid::parse_str(id).is_ok()) {
            out.push_str("ID");
            rest = &rest[36..];
        } else if let Some(after) = rest
            .strip_prefix('$')
            .filter(|a| a.starts_with(|c: char| c.is_ascii_digit()))
        {
            // "$26.91 a month": the estimate's figure.
            out.push_str("$N");
            rest = after.trim_start_matches(|c: char| c.is_ascii_digit() || c == '.');
        } else if let Some(after) = rest.strip_prefix(" in ") {
            // "passed in 1.3 s", pytest's "13 passed in 0.69s"
            let number = after.trim_start_matches(|c: char| c.is_ascii_digit() || c == '.');
            let unit = number
                .strip_prefix(" s")
                .or_else(|| number.strip_prefix('s'));
            if let (true, Some(unit)) = (number.len() < after.len(), unit) {
                out.push_str(" in N s");
                rest = unit;
            } else {
                out.push_str(" in ");
                rest = after;
            }
        } else {
            let c = rest.chars().next().expect("not empty");
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

#[test]
fn the_mask_hides_ports_ids_and_timings_only() {
    assert_eq!(
        mask("live at http://127.0.0.1:38549/ in 0.9 s; 13 passed in 0.69s, run 01a217c5-99b8-7232-890c-4e0c218cb1ca"),
        "live at http://127.0.0.1:PORT/ in N s; 13 passed in N s, run ID"
    );
    assert_eq!(mask("version 2 in dev…"), "version 2 in dev…");
    assert_eq!(mask("about $26.91 a month, $5"), "about $N a month, $N");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_step_cut_short_at_any_write_and_retried_ends_where_one_clean_run_ends() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = local_context(dir.path()).await;
    let clean = converse(ctx.projects.as_ref(), &Once(ctx.clone())).await;
    let clean_run = last_run(&ctx, clean.id).await;

    let store = Arc::new(CutShort {
        inner: ctx.projects.clone(),
        countdown: AtomicI64::new(-1),
        fired: AtomicBool::new(false),
    });
    let retried = Retried {
        ctx: AgentContext {
            projects: store.clone(),
            ..ctx.clone()
        },
        store,
        cuts: AtomicI64::new(0),
    };
    let cut = converse(ctx.projects.as_ref(), &retried).await;
    let cut_run = last_run(&ctx, cut.id).await;
    assert!(
        retried.cuts.load(Ordering::SeqCst) > 40,
        "the steps were cut short only {} times",
        retried.cuts.load(Ordering::SeqCst)
    );

    let want = masked(
        &kiln_integration_tests::project_state(ctx.projects.as_ref(), clean.id, clean_run).await,
    );
    let got = masked(
        &kiln_integration_tests::project_state(ctx.projects.as_ref(), cut.id, cut_run).await,
    );
    for part in ["project", "versions", "messages", "deployments", "run"] {
        let (got, want) = (&got[part], &want[part]);
        // Name the first entry that differs, not the whole list.
        if let (Some(g), Some(w)) = (got.as_array(), want.as_array()) {
            if let Some(i) = (0..g.len().min(w.len())).find(|&i| g[i] != w[i]) {
                panic!(
                    "{part}[{i}] differs after retries:\n got {}\nwant {}",
                    g[i], w[i]
                );
            }
        }
        assert_eq!(got, want, "{part} differ after retries");
    }
    // The copy made through retries is the copy a clean run makes.
    assert_eq!(
        masked(&copy_state(ctx.projects.as_ref(), &cut).await),
        masked(&copy_state(ctx.projects.as_ref(), &clean).await),
        "the copy differs after retries"
    );
}

/// The copy the conversation's clone request made (named in its reply), as stored: the
/// project, its versions and its conversation.
async fn copy_state(projects: &dyn ProjectStore, original: &Project) -> Value {
    let messages = projects
        .list_messages(original.id, &PageRequest::first(200))
        .await
        .unwrap()
        .items;
    let copies: Vec<Uuid> = messages
        .iter()
        .flat_map(|m| &m.blocks)
        .filter_map(|b| match b {
            kiln::model::Block::Project { project_id, .. } => Some(*project_id),
            _ => None,
        })
        .collect();
    assert_eq!(copies.len(), 1, "one reply names one copy: {copies:?}");
    let id = copies[0];
    let project = projects.load_project(id).await.unwrap();
    let versions = projects
        .list_versions(id, &PageRequest::first(10))
        .await
        .unwrap()
        .items;
    let messages = projects
        .list_messages(id, &PageRequest::first(10))
        .await
        .unwrap()
        .items;
    serde_json::json!({
        "project": [project.name, project.status, project.spec, project.design,
            project.current_version, project.renamed],
        "versions": versions.iter()
            .map(|v| serde_json::json!([v.number, v.manifest, v.spec])).collect::<Vec<_>>(),
        "messages": messages.iter()
            .map(|m| serde_json::json!([m.role, m.agent, m.content, m.blocks])).collect::<Vec<_>>(),
    })
}

/// The id of the project's latest run.
async fn last_run(ctx: &AgentContext, project_id: Uuid) -> Uuid {
    let messages = ctx
        .projects
        .list_messages(project_id, &PageRequest::first(200))
        .await
        .unwrap()
        .items;
    messages
        .iter()
        .rev()
        .find(|m| m.role == kiln::model::Role::User)
        .and_then(|m| m.run_id)
        .expect("a run")
}
