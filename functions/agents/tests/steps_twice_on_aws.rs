//! Steps that may run twice, on the AWS backends: every Task of a conversation — describe,
//! ask, build, refine, build again, roll back, test, fix, deploy — goes through the agents Lambda's
//! handler twice in a row (Step Functions runs a Task again when its answer is lost), on
//! DynamoDB, S3, CodeBuild and ECS on moto, and the stored state after the second run must
//! equal the state after the first.

mod balanced;
mod installation;

use std::collections::BTreeSet;
use std::sync::Mutex;

use async_trait::async_trait;
use installation::Installation;
use kiln::model::{Intent, Owner, Project, RunStatus};
use kiln::workflow::asl::{Failure, TaskHandler};
use serde_json::Value;

/// Runs every Task twice through the installation's handler and notes the steps whose second
/// run changed the stored state.
struct Twice<'a> {
    aws: &'a Installation,
    changed: Mutex<BTreeSet<String>>,
    ran: Mutex<BTreeSet<String>>,
}

#[async_trait]
impl TaskHandler for Twice<'_> {
    async fn invoke(&self, state: &str, resource: &str, input: Value) -> Result<Value, Failure> {
        let step = input["step"].as_str().unwrap_or_default().to_owned();
        let project_id = input["run"]["project_id"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        let run_id = input["run"]["run_id"].as_str().unwrap().parse().unwrap();
        self.ran.lock().unwrap().insert(step.clone());
        let projects = self.aws.ctx.projects.as_ref();
        let first = self.aws.invoke(state, resource, input.clone()).await;
        let after_first = kiln_integration_tests::project_state(projects, project_id, run_id).await;
        let second = self.aws.invoke(state, resource, input).await;
        let after_second =
            kiln_integration_tests::project_state(projects, project_id, run_id).await;
        if after_first != after_second || first.is_ok() != second.is_ok() {
            eprintln!("{step}: {after_first}\n  then {after_second}");
            self.changed.lock().unwrap().insert(step);
        }
        first
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_step_run_twice_on_aws_leaves_what_one_run_leaves() {
    // Deploys are smoke-tested through the load balancer's stand-in; no load test, whose
    // timings differ from run to run.
    let (aws, _, balancer) = balanced::installation_with_balancer(0).await;
    let twice = Twice {
        aws: &aws,
        changed: Mutex::new(BTreeSet::new()),
        ran: Mutex::new(BTreeSet::new()),
    };
    let projects = aws.ctx.projects.as_ref();
    let project = Project::new(Owner("bob".into()), "Notes".into(), String::new());
    projects.create_project(&project).await.unwrap();
    // One deploy: moto's UpdateService leaves the service's deployments as they were (real
    // ECS starts a PRIMARY deployment of the new task definition), so a redeploy cannot be
    // followed on moto; the local test holds redeploys and a rollback that redeploys.
    for (text, intent) in [
        ("API for notes. Each note has a title", Intent::Create),
        ("what endpoints does it have?", Intent::Question),
        ("build it", Intent::Build),
        ("notes also have a body", Intent::Refine),
        ("build it", Intent::Build),
        ("roll back to version 1", Intent::Rollback),
        ("run the tests", Intent::Test),
        // The tests pass: a fix finds nothing to do.
        ("fix it", Intent::Fix),
        ("deploy it", Intent::Deploy),
        ("clone this project as Notes copy", Intent::Clone),
    ] {
        let (run, outcome) =
            kiln_integration_tests::execute_message(projects, &project, text, intent, &twice, 0.0)
                .await;
        assert_eq!(
            run.status,
            RunStatus::Succeeded,
            "{text}: {run:?}, the execution ended with {outcome:?}"
        );
    }
    let changed = twice.changed.lock().unwrap().clone();
    assert!(
        changed.is_empty(),
        "running these steps twice changed the stored state: {changed:?}"
    );
    let ran = twice.ran.lock().unwrap().clone();
    for step in kiln::agents::STEPS {
        // A failed smoke test needs a broken app: tests/smoke_load.rs runs SmokeFailed.
        if !["RefuseDeploy", "ReportFailure", "SmokeFailed"].contains(&step.name()) {
            assert!(ran.contains(step.name()), "{} never ran", step.name());
        }
    }
    balancer.abort();
}
