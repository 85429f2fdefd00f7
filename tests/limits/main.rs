//! Limits AWS enforces and moto does not: a Step Functions state holds at most 256 KiB, a
//! DynamoDB item at most 400 KB. Nothing a user can make grow may carry the pipeline past
//! them: here a suite fails thousands of tests with endless messages, the QA steps run on it
//! (the real steps, on the local store), and the state the machine would carry and the reply
//! stored from it are measured; the same for a review that finds tens of thousands of things.

use std::sync::Arc;

use async_trait::async_trait;
use kiln::agents::{run_step, Step, StepRequest, MAX_FILES_PER_VERSION};
use kiln::model::{FileEntry, Intent, Owner, Project, Version};
use kiln::runner::{File, RunnerError};
use kiln::store::PageRequest;
use kiln_integration_tests::post_queued;
use serde_json::json;
use uuid::Uuid;

mod hopeless;
use hopeless::Hopeless;

/// Step Functions' limit on a state's input or output, in bytes.
const STATE_LIMIT: usize = 256 * 1024;
/// DynamoDB's limit on an item, in bytes (names and values together).
const ITEM_LIMIT: usize = 400 * 1000;

/// The largest version a user can make fits a DynamoDB item with the largest spec: as many
/// files as a version may hold, each with the longest path a user may give, all of them
/// differing from what Kiln generated (so both lists are whole).
#[test]
fn the_largest_version_fits_an_item_with_the_largest_spec() {
    use kiln::model::MAX_PATH_BYTES;
    let files = |tag: &str| -> Vec<FileEntry> {
        (0..MAX_FILES_PER_VERSION)
            .map(|i| {
                let name = format!("{tag}_{i:04}.py");
                FileEntry {
                    path: format!("{}{name}", "d/".repeat((MAX_PATH_BYTES - name.len()) / 2)),
                    sha256: "a".repeat(64),
                    size: u64::MAX,
                }
            })
            .collect()
    };
    let version = Version {
        project_id: Uuid::now_v7(),
        number: u32::MAX,
        message_id: Some(Uuid::now_v7()),
        manifest: files("mine"),
        spec: Some(largest_spec()),
        renames: Vec::new(),
        created_at: kiln::model::now(),
        author: kiln::model::Author::User,
        note: Some("\u{7}".repeat(500)),
        generated: Some(files("kiln")),
    };
    assert!(version.manifest[0].path.len() >= MAX_PATH_BYTES - 1);
    let bytes = serde_json::to_vec(&version).unwrap().len();
    assert!(bytes < ITEM_LIMIT * 9 / 10, "the version is {bytes} bytes");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_largest_review_keeps_the_state_the_project_and_the_reply_within_aws_limits() {
    let dir = tempfile::tempdir().unwrap();
    let vars = std::collections::HashMap::from([(
        "KILN_DATA_DIR".to_owned(),
        dir.path().display().to_string(),
    )]);
    let config = kiln::config::Config::from_vars(&vars).unwrap();
    let mut ctx = kiln::backends::local_state(&config)
        .await
        .unwrap()
        .agents
        .clone();
    ctx.tests = Arc::new(Hopeless);
    let project = Project::new(Owner::local(), "Limits".into(), String::new());
    ctx.projects.create_project(&project).await.unwrap();
    let main = b"app = None\n".to_vec();
    let sha256 = ctx.artifacts.put_blob(&main).await.unwrap();
    ctx.projects
        .create_version(&Version {
            project_id: project.id,
            number: 1,
            message_id: None,
            manifest: vec![FileEntry {
                path: "app/main.py".into(),
                sha256,
                size: main.len() as u64,
            }],
            spec: None,
            renames: Vec::new(),
            created_at: kiln::model::now(),
            author: kiln::model::Author::Kiln,
            note: None,
            generated: None,
        })
        .await
        .unwrap();
    let input = post_queued(ctx.projects.as_ref(), &project, "build it", Intent::Build).await;
    let checked = run_step(
        &ctx,
        &StepRequest {
            step: Step::ReviewCheck,
            run: input,
            state: json!({"review": {"job": {"id": "hopeless"}, "version": 1, "done": false}}),
            error: None,
        },
    )
    .await
    .unwrap();
    assert_eq!(checked["passed"], false, "{checked}");
    assert!(
        serde_json::to_vec(&checked).unwrap().len() < 1024,
        "{checked}"
    );

    // The reply with the review block, as stored, and the project with its record.
    let messages = ctx
        .projects
        .list_messages(project.id, &PageRequest::first(10))
        .await
        .unwrap()
        .items;
    let reply = messages.last().unwrap();
    let kiln::model::Block::Review { review, .. } = &reply.blocks[0] else {
        panic!("{reply:?}")
    };
    assert_eq!(review.counts.high, 10_000, "the counts are whole");
    assert_eq!(review.findings.len() as u32 + review.omitted, 30_000);
    assert!(review.omitted > 0);
    let item = serde_json::to_vec(reply).unwrap().len();
    assert!(item < ITEM_LIMIT / 2, "the reply is {item} bytes");
    let stored = ctx.projects.load_project(project.id).await.unwrap();
    let item = serde_json::to_vec(&stored).unwrap().len();
    assert!(item < ITEM_LIMIT / 8, "the project is {item} bytes");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_largest_test_report_keeps_the_state_and_the_reply_within_aws_limits() {
    let dir = tempfile::tempdir().unwrap();
    let vars = std::collections::HashMap::from([(
        "KILN_DATA_DIR".to_owned(),
        dir.path().display().to_string(),
    )]);
    let config = kiln::config::Config::from_vars(&vars).unwrap();
    let mut ctx = kiln::backends::local_state(&config)
        .await
        .unwrap()
        .agents
        .clone();
    ctx.tests = Arc::new(Hopeless);
    let project = Project::new(Owner::local(), "Limits".into(), String::new());
    ctx.projects.create_project(&project).await.unwrap();
    let input = post_queued(
        ctx.projects.as_ref(),
        &project,
        "run the tests",
        Intent::Test,
    )
    .await;

    // The state as the machine carries it into QaReport, with the largest draft a version may
    // hold (long paths) beside the test results.
    let draft: Vec<FileEntry> = (0..MAX_FILES_PER_VERSION)
        .map(|i| FileEntry {
            path: format!("app/routers/{}_{i}.py", "r".repeat(120)),
            sha256: "a".repeat(64),
            size: 4096,
        })
        .collect();
    let qa = run_step(
        &ctx,
        &StepRequest {
            step: Step::QaCheck,
            run: input.clone(),
            state: json!({"qa": {"job": {"id": "hopeless"}, "version": 1, "done": false}}),
            error: None,
        },
    )
    .await
    .unwrap();
    let state = json!({
        "run": input,
        "state": {
            "plan": {"build": true, "test": true, "deploy": false, "tests": {"passed": false}},
            "draft": {"files": draft},
            "release": {"version": 1},
            "qa": qa,
        },
    });
    let bytes = serde_json::to_vec(&state).unwrap().len();
    assert!(bytes < STATE_LIMIT, "the state is {bytes} bytes");
    assert_eq!(qa["report"]["failed"], 3_000, "the counts are whole");

    // The reply that reports it, as stored.
    run_step(
        &ctx,
        &StepRequest {
            step: Step::QaReport,
            run: input,
            state: state["state"].clone(),
            error: None,
        },
    )
    .await
    .unwrap();
    let messages = ctx
        .projects
        .list_messages(project.id, &PageRequest::first(10))
        .await
        .unwrap()
        .items;
    let reply = messages.last().unwrap();
    assert!(
        reply.content.contains("3000 of 3000 tests"),
        "{}",
        reply.content
    );
    let item = serde_json::to_vec(reply).unwrap().len();
    assert!(item < ITEM_LIMIT / 2, "the reply is {item} bytes");
}

/// Runs every Task once, as the state machine would.
struct Once(kiln::agents::AgentContext);

#[async_trait]
impl kiln::workflow::asl::TaskHandler for Once {
    async fn invoke(
        &self,
        _state: &str,
        _resource: &str,
        input: serde_json::Value,
    ) -> Result<serde_json::Value, kiln::workflow::asl::Failure> {
        let request: StepRequest = serde_json::from_value(input).unwrap();
        kiln::agents::run_recorded_step(&self.0, &request)
            .await
            .map_err(|e| kiln::workflow::asl::Failure::new(e.error_name(), e.to_string()))
    }
}

/// One owner may run only so many apps at once (each is a Fargate service on AWS): a deploy
/// past the cap is refused and says why, while redeploying an app that runs replaces it and
/// is not refused.
#[tokio::test(flavor = "multi_thread")]
async fn an_owner_runs_at_most_the_apps_the_cap_allows() {
    let dir = tempfile::tempdir().unwrap();
    let osv = kiln_integration_tests::fake_osv::FakeOsv::start(Vec::new());
    let vars = std::collections::HashMap::from([
        ("KILN_DATA_DIR".to_owned(), dir.path().display().to_string()),
        (
            "KILN_VENV_DIR".to_owned(),
            kiln_integration_tests::runtime_venv_dir(),
        ),
        ("KILN_MAX_LIVE_DEPLOYMENTS".to_owned(), "1".to_owned()),
        // The reviews ask a stand-in of the vulnerability database, never the network.
        ("KILN_OSV_URL".to_owned(), osv.url()),
    ]);
    let config = kiln::config::Config::from_vars(&vars).unwrap();
    let ctx = kiln::backends::local_state(&config)
        .await
        .unwrap()
        .agents
        .clone();
    let tasks = Once(ctx.clone());
    let say = |project: Project, text: &'static str, intent: Intent| {
        let (ctx, tasks) = (ctx.clone(), &tasks);
        async move {
            kiln_integration_tests::execute_message(
                ctx.projects.as_ref(),
                &project,
                text,
                intent,
                tasks,
                0.05,
            )
            .await
            .0
        }
    };
    let mut projects = Vec::new();
    for name in ["Notes", "Books"] {
        let p = Project::new(Owner::local(), name.into(), String::new());
        ctx.projects.create_project(&p).await.unwrap();
        let described = format!("API for {}. Each has a title", name.to_lowercase());
        let described: &'static str = Box::leak(described.into_boxed_str());
        let run = say(p.clone(), described, Intent::Create).await;
        assert_eq!(run.status, kiln::model::RunStatus::Succeeded, "{run:?}");
        projects.push(p);
    }
    let first = say(projects[0].clone(), "deploy it", Intent::Deploy).await;
    assert_eq!(first.status, kiln::model::RunStatus::Succeeded, "{first:?}");

    let second = say(projects[1].clone(), "deploy it", Intent::Deploy).await;
    assert_eq!(second.status, kiln::model::RunStatus::Failed, "{second:?}");
    let error = second.error.unwrap();
    assert_eq!(error.code, "refused");
    assert!(error.message.contains("at most 1"), "{}", error.message);
    let deployments = ctx.projects.list_deployments(projects[1].id).await.unwrap();
    assert!(
        deployments.is_empty(),
        "nothing was started: {deployments:?}"
    );

    // The running app may be redeployed: it is replaced, not added.
    let again = say(projects[0].clone(), "deploy it", Intent::Deploy).await;
    assert_eq!(again.status, kiln::model::RunStatus::Succeeded, "{again:?}");
    ctx.deployer.stop(projects[0].id, None).await.unwrap();
}

/// A deployer whose rollouts never answer: ECS that keeps a deployment IN_PROGRESS, an app
/// that never passes its health check.
struct NeverHealthy {
    /// Whether taking the apps down meets a service that is not answering now (the apps'
    /// database resuming from a pause).
    resuming: bool,
}

#[async_trait]
impl kiln::runner::Deployer for NeverHealthy {
    async fn build_image(
        &self,
        _: Uuid,
        _: u32,
        _: Vec<File>,
        _: Uuid,
    ) -> Result<Option<String>, RunnerError> {
        Ok(None)
    }
    async fn image_ready(&self, _: Option<&str>) -> Result<bool, RunnerError> {
        Ok(true)
    }
    async fn deploy(
        &self,
        _: Uuid,
        _: kiln::model::Environment,
        _: u32,
        _: Vec<File>,
        request: Uuid,
    ) -> Result<kiln::runner::Rollout, RunnerError> {
        Ok(kiln::runner::Rollout {
            id: request.to_string(),
            url: "https://apps.example.com/never/".into(),
            resources: serde_json::Map::new(),
        })
    }
    async fn rollout_status(
        &self,
        _: &kiln::runner::Rollout,
    ) -> Result<kiln::runner::RolloutStatus, RunnerError> {
        Ok(kiln::runner::RolloutStatus::Pending)
    }
    async fn logs(&self, _: &kiln::runner::Rollout) -> String {
        String::new()
    }
    async fn read_logs(
        &self,
        _: Uuid,
        _: kiln::model::Environment,
        _: Option<&str>,
        _: u32,
    ) -> Result<kiln::runner::LogPage, RunnerError> {
        Err(RunnerError::NotRunning("never healthy".into()))
    }
    async fn data_endpoint(
        &self,
        _: Uuid,
        _: kiln::model::Environment,
    ) -> Result<(String, String), RunnerError> {
        Err(RunnerError::NotRunning("never healthy".into()))
    }
    async fn stop(&self, _: Uuid, _: Option<kiln::model::Environment>) -> Result<(), RunnerError> {
        if self.resuming {
            return Err(RunnerError::Unavailable(kiln::model::Cause::new(
                "the apps' database is resuming",
            )));
        }
        Ok(())
    }
}

/// A rollout that never answers fails at `KILN_DEPLOY_TIMEOUT_SECS` on any backend (the
/// deadline travels in the run's state), and the run says why, instead of polling for ever.
#[tokio::test(flavor = "multi_thread")]
async fn a_rollout_that_never_answers_fails_at_its_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let vars = std::collections::HashMap::from([
        ("KILN_DATA_DIR".to_owned(), dir.path().display().to_string()),
        (
            "KILN_VENV_DIR".to_owned(),
            kiln_integration_tests::runtime_venv_dir(),
        ),
        ("KILN_DEPLOY_TIMEOUT_SECS".to_owned(), "1".to_owned()),
    ]);
    let config = kiln::config::Config::from_vars(&vars).unwrap();
    let mut ctx = kiln::backends::local_state(&config)
        .await
        .unwrap()
        .agents
        .clone();
    ctx.deployer = Arc::new(NeverHealthy { resuming: false });
    let tasks = Once(ctx.clone());
    let project = Project::new(Owner::local(), "Stuck".into(), String::new());
    ctx.projects.create_project(&project).await.unwrap();
    for (text, intent) in [
        ("API for notes. Each note has a title", Intent::Create),
        ("deploy it", Intent::Deploy),
    ] {
        // Without a deadline the run would poll for ever: a minute is far past it.
        let (run, _) = tokio::time::timeout(
            std::time::Duration::from_secs(60),
            kiln_integration_tests::execute_message(
                ctx.projects.as_ref(),
                &project,
                text,
                intent,
                &tasks,
                0.05,
            ),
        )
        .await
        .expect("the run ends");
        if intent == Intent::Create {
            assert_eq!(run.status, kiln::model::RunStatus::Succeeded, "{run:?}");
            continue;
        }
        assert_eq!(run.status, kiln::model::RunStatus::Failed, "{run:?}");
        let error = run.error.unwrap();
        assert!(
            error
                .message
                .contains("did not answer its health check within 1 s"),
            "{}",
            error.message
        );
        let deployments = ctx.projects.list_deployments(project.id).await.unwrap();
        assert_eq!(deployments[0].status, kiln::model::DeploymentStatus::Failed);
    }
}

/// The largest spec the limits allow: as many resources as allowed, each with as many fields
/// of the longest names as fit, every field an enum of long choices, every field searchable,
/// grown until one more field would pass `MAX_SPEC_BYTES`.
fn largest_spec() -> kiln::spec::AppSpec {
    use kiln::spec::{AppSpec, Field, FieldType, Resource, MAX_CHOICES, MAX_RESOURCES};
    let long = |prefix: &str, i: usize| {
        let mut s = format!("{prefix}{i}_");
        while s.len() < kiln::spec::MAX_IDENTIFIER_LEN {
            s.push('x');
        }
        s
    };
    let mut spec = AppSpec {
        name: "n".repeat(200),
        summary: "s".repeat(2_000),
        ..AppSpec::default()
    };
    for r in 0..MAX_RESOURCES {
        spec.resources.push(Resource {
            name: format!("thing{r}"),
            plural: format!("things{r}"),
            fields: vec![],
            relations: vec![],
        });
    }
    // One field at a time, round the resources, until the next one does not fit.
    let mut i = 0;
    loop {
        let mut next = spec.clone();
        let r = i % MAX_RESOURCES;
        next.resources[r].fields.push(Field {
            name: long("f", i),
            ty: FieldType::Enum {
                values: (0..MAX_CHOICES).map(|c| long("c", c)).collect(),
            },
            required: true,
            unique: false,
            default: None,
        });
        next.features
            .search
            .push(format!("thing{r}.{}", long("f", i)));
        if next.validate().is_err() {
            return spec;
        }
        spec = next;
        i += 1;
    }
}

/// A spec as large as the limits allow keeps the project's item (spec and design) and the
/// architect's plan reply under DynamoDB's 400 KB, and the step's answer under the state's
/// 256 KiB; one field more is refused with what to do.
#[tokio::test(flavor = "multi_thread")]
async fn the_largest_spec_keeps_the_project_and_its_plan_within_aws_limits() {
    let spec = largest_spec();
    let bytes = serde_json::to_vec(&spec).unwrap().len();
    assert!(
        bytes > kiln::spec::MAX_SPEC_BYTES - 4 * 1024,
        "the spec fills its budget: {bytes} bytes"
    );
    let mut bigger = spec.clone();
    let copy = bigger.resources[1].fields[0].clone();
    bigger.resources[0].fields.push(copy);
    bigger.resources[0].fields.last_mut().unwrap().name = "one_more".into();
    let refused = bigger.validate().unwrap_err().to_string();
    assert!(refused.contains("KB"), "{refused}");

    let dir = tempfile::tempdir().unwrap();
    let vars = std::collections::HashMap::from([(
        "KILN_DATA_DIR".to_owned(),
        dir.path().display().to_string(),
    )]);
    let config = kiln::config::Config::from_vars(&vars).unwrap();
    let ctx = kiln::backends::local_state(&config)
        .await
        .unwrap()
        .agents
        .clone();
    let mut project = Project::new(Owner::local(), "Huge".into(), String::new());
    project.spec = Some(spec);
    ctx.projects.create_project(&project).await.unwrap();
    let input = post_queued(ctx.projects.as_ref(), &project, "design it", Intent::Create).await;
    let answer = run_step(
        &ctx,
        &StepRequest {
            step: Step::Architect,
            run: input.clone(),
            state: json!({}),
            error: None,
        },
    )
    .await
    .unwrap();
    let state = serde_json::to_vec(&json!({"run": input, "state": {"design": answer}}))
        .unwrap()
        .len();
    assert!(state < STATE_LIMIT, "the state is {state} bytes");
    let stored = ctx.projects.load_project(project.id).await.unwrap();
    assert!(stored.design.is_some(), "the architect designed it");
    let item = serde_json::to_vec(&stored).unwrap().len();
    assert!(item < ITEM_LIMIT * 3 / 4, "the project is {item} bytes");
    let messages = ctx
        .projects
        .list_messages(project.id, &PageRequest::first(10))
        .await
        .unwrap()
        .items;
    for m in &messages {
        let item = serde_json::to_vec(m).unwrap().len();
        assert!(item < ITEM_LIMIT * 3 / 4, "a reply is {item} bytes");
    }
}

/// A project whose apps cannot be taken down this moment (a service that will answer again
/// soon) is not deleted, and the answer says to try again: 503 with `Retry-After`, not 502.
#[tokio::test(flavor = "multi_thread")]
async fn a_delete_that_meets_a_resuming_service_says_to_try_again() {
    use tower::ServiceExt;
    let dir = tempfile::tempdir().unwrap();
    let vars = std::collections::HashMap::from([
        ("KILN_DATA_DIR".to_owned(), dir.path().display().to_string()),
        (
            "KILN_VENV_DIR".to_owned(),
            kiln_integration_tests::runtime_venv_dir(),
        ),
    ]);
    let config = kiln::config::Config::from_vars(&vars).unwrap();
    let mut state = kiln::backends::local_state(&config).await.unwrap();
    state.agents.deployer = Arc::new(NeverHealthy { resuming: true });
    let project = Project::new(Owner::local(), "Resuming".into(), String::new());
    state
        .agents
        .projects
        .create_project(&project)
        .await
        .unwrap();
    let router = kiln::api::router(state.clone());
    let request = axum::http::Request::builder()
        .method("DELETE")
        .uri(format!("/api/v2/projects/{}", project.id))
        .body(axum::body::Body::empty())
        .unwrap();
    let answer = router.oneshot(request).await.unwrap();
    assert_eq!(answer.status(), axum::http::StatusCode::SERVICE_UNAVAILABLE);
    assert!(answer.headers().contains_key("retry-after"));
    state
        .agents
        .projects
        .get_project(&Owner::local(), project.id)
        .await
        .expect("the project is still there");
}
