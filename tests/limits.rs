//! Limits AWS enforces and moto does not: a Step Functions state holds at most 256 KiB, a
//! DynamoDB item at most 400 KB. Nothing a user can make grow may carry the pipeline past
//! them: here a suite fails thousands of tests with endless messages, the QA steps run on it
//! (the real steps, on the local store), and the state the machine would carry and the reply
//! stored from it are measured.

use std::sync::Arc;

use async_trait::async_trait;
use kiln::agents::{run_step, Step, StepRequest, MAX_FILES_PER_VERSION};
use kiln::model::{
    FileEntry, Intent, Message, Owner, Project, Run, RunInput, TestFailure, TestReport,
};
use kiln::runner::{File, RunnerError, TestJob, TestRunner, TestStatus};
use kiln::store::PageRequest;
use serde_json::json;
use uuid::Uuid;

/// Step Functions' limit on a state's input or output, in bytes.
const STATE_LIMIT: usize = 256 * 1024;
/// DynamoDB's limit on an item, in bytes (names and values together).
const ITEM_LIMIT: usize = 400 * 1000;

/// A suite that fails as badly as a suite can: every test, with messages and names far over
/// any sensible length, made of characters JSON escapes to six bytes each.
struct Hopeless;

#[async_trait]
impl TestRunner for Hopeless {
    async fn needs_environment(&self) -> bool {
        false
    }
    async fn prepare_environment(&self) -> Result<String, RunnerError> {
        Ok("none needed".into())
    }
    async fn start(&self, _: Uuid, _: u32, _: Vec<File>, _: Uuid) -> Result<TestJob, RunnerError> {
        Ok(TestJob {
            id: "hopeless".into(),
        })
    }
    async fn poll(&self, _: &TestJob) -> Result<TestStatus, RunnerError> {
        let escaped = "\u{7}".repeat(20_000);
        Ok(TestStatus::Finished(TestReport {
            failed: 3_000,
            failures: (0..3_000)
                .map(|i| TestFailure {
                    name: format!("tests/test_{i}.py::{escaped}"),
                    message: escaped.clone(),
                })
                .collect(),
            output_tail: escaped.repeat(5),
            ..TestReport::default()
        }))
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_largest_test_report_keeps_the_state_and_the_reply_within_aws_limits() {
    let dir = tempfile::tempdir().unwrap();
    let vars = std::collections::HashMap::from([(
        "KILN_DATA_DIR".to_owned(),
        dir.path().display().to_string(),
    )]);
    let config = kiln::config::Config::from_vars(&vars).unwrap();
    let mut ctx = kiln::backends::local_state(&config).await.unwrap().agents;
    ctx.tests = Arc::new(Hopeless);
    let project = Project::new(Owner::local(), "Limits".into(), String::new());
    ctx.projects.create_project(&project).await.unwrap();
    let mut message = Message::from_user(project.id, "run the tests".into(), None);
    let run = Run::queued(project.id, message.id, Intent::Test);
    message.run_id = Some(run.id);
    ctx.projects
        .post_user_message(&message, &run)
        .await
        .unwrap();
    let input = RunInput {
        project_id: project.id,
        run_id: run.id,
        message_id: message.id,
        intent: Intent::Test,
        owner: project.owner.clone(),
    };

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
