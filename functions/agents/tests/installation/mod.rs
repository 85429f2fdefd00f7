//! An AWS installation on moto for the pipeline tests: the template's table, the artifacts
//! bucket, CodeBuild (recorded; each test and review build's buildspec played on its source
//! with real pytest, ruff, bandit and pip-audit, which asks a stand-in of the vulnerability
//! database), ECR, CloudFormation (which makes ECS services and ELB rules on moto), with a DynamoDB client the tests can take down; and the state
//! machine run with every Task invoking the agents Lambda's handler, as Step Functions would.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use kiln::agents::AgentContext;
use kiln::model::Intent;
use kiln::model::{Project, Run};
use kiln::runner::CodeBuildTestRunner;
use kiln::store::{DynamoStore, PageRequest};
use kiln::workflow::asl::{Failure, TaskHandler};
use kiln_integration_tests::fake_osv::{Advisory, FakeOsv};
use kiln_integration_tests::{python, run_in, show, Moto, Unreachable};

use serde_json::Value;

#[path = "../../../../tests/fake_codebuild.rs"]
mod fake_codebuild;
use fake_codebuild::{run_test_build, SentRequests};

/// An AWS installation on moto, its agents, and what the test does in CodeBuild's place.
pub struct Installation {
    /// The agents' stores and runners.
    pub ctx: AgentContext,
    /// What the test runner sent to CodeBuild.
    pub codebuild: SentRequests,
    /// Test builds played so far.
    pub played: AtomicUsize,
    /// Review builds played so far.
    pub reviewed: AtomicUsize,
    /// Builds of either kind played so far.
    builds: AtomicUsize,
    s3: aws_sdk_s3::Client,
    /// ECS, to read back what was deployed.
    pub ecs: aws_sdk_ecs::Client,
    /// CloudFormation, to read back the stacks deployments made.
    pub cloudformation: aws_sdk_cloudformation::Client,
    dynamodb_down: Unreachable,
    /// How many more invocations of a state find DynamoDB unreachable.
    outages: Mutex<HashMap<String, u32>>,
    /// Every failure a Task state got from the handler: `(state, error name)`.
    failures: Mutex<Vec<(String, String)>>,
    /// The settings the agents run with.
    pub config: kiln::config::Config,
    /// The SDK's settings for the moto server.
    pub sdk: aws_config::SdkConfig,
    /// The moto server, kept alive as long as the installation.
    pub moto: Moto,
    /// The vulnerability database the review builds' pip-audit asks.
    pub osv: FakeOsv,
}

pub async fn installation() -> Installation {
    installation_where(|_| {}).await
}

/// The installation with its settings changed by `edit` before the agents are made.
pub async fn installation_where(edit: impl FnOnce(&mut kiln::config::Config)) -> Installation {
    installation_knowing(Vec::new(), edit).await
}

/// The installation, its reviews asking a vulnerability database that knows `advisories`.
pub async fn installation_knowing(
    advisories: Vec<Advisory>,
    edit: impl FnOnce(&mut kiln::config::Config),
) -> Installation {
    let osv = FakeOsv::start(advisories);
    // moto reads this when a service is made; every test of this binary wants the same value.
    std::env::set_var("MOTO_ECS_SERVICE_RUNNING", "1");
    let moto = Moto::start();
    let (mut config, sdk) = kiln_integration_tests::aws_installation(
        &moto,
        "arn:aws:states:us-east-1:123456789012:stateMachine:kiln",
    )
    .await;
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/python/aws_fixture.py"
    );
    let out = run_in(
        std::path::Path::new("."),
        &python(),
        &[script, &moto.endpoint],
    );
    assert!(out.status.success(), "{}", show(&out));
    let fixture: Value = serde_json::from_slice(&out.stdout).unwrap();
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_owned())
            .collect()
    };
    config.aws.listener_arn = fixture["listener_arn"].as_str().map(str::to_owned);
    config.aws.vpc_id = fixture["vpc_id"].as_str().map(str::to_owned);
    config.aws.subnets = strings(&fixture["subnets"]);
    config.aws.security_groups = vec![fixture["security_group"].as_str().unwrap().to_owned()];
    edit(&mut config);
    let mut ctx = kiln::backends::aws_state_with(&config, &sdk)
        .await
        .unwrap()
        .agents
        .clone();

    // The same store and test runner, on clients the test can take down or listen to.
    let dynamodb_down = Unreachable::default();
    let dynamodb = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&sdk)
            .interceptor(dynamodb_down.clone())
            .build(),
    );
    ctx.projects = Arc::new(DynamoStore::new(dynamodb, config.table.clone().unwrap()));
    let codebuild = SentRequests::default();
    let s3 = moto.s3().await;
    ctx.tests = Arc::new(
        CodeBuildTestRunner::new(
            codebuild.codebuild(&sdk),
            kiln::runner::JobBucket::new(s3.clone(), config.bucket.clone().unwrap()),
            config.aws.test_project.clone().unwrap(),
        )
        .with_review_tools(kiln::generator::review_tools(), Some(osv.url())),
    );
    Installation {
        ctx,
        codebuild,
        played: AtomicUsize::new(0),
        reviewed: AtomicUsize::new(0),
        builds: AtomicUsize::new(0),
        s3,
        ecs: aws_sdk_ecs::Client::new(&sdk),
        cloudformation: aws_sdk_cloudformation::Client::new(&sdk),
        dynamodb_down,
        outages: Mutex::new(HashMap::new()),
        failures: Mutex::new(Vec::new()),
        config,
        sdk,
        moto,
        osv,
    }
}

impl Installation {
    /// The next `invocations` invocations of `state` find DynamoDB unreachable.
    pub fn outage(&self, state: &str, invocations: u32) {
        self.outages
            .lock()
            .unwrap()
            .insert(state.to_owned(), invocations);
    }

    pub fn failures(&self) -> Vec<(String, String)> {
        std::mem::take(&mut *self.failures.lock().unwrap())
    }
}

/// Step Functions' side of a Lambda Task: the handler's error type becomes the ASL error.
#[async_trait]
impl TaskHandler for Installation {
    async fn invoke(&self, state: &str, resource: &str, input: Value) -> Result<Value, Failure> {
        assert_eq!(resource, "${AgentsFunctionArn}");
        let down = match self.outages.lock().unwrap().get_mut(state) {
            Some(n) if *n > 0 => {
                *n -= 1;
                true
            }
            _ => false,
        };
        self.dynamodb_down.0.store(down, Ordering::SeqCst);
        let step = input["step"].as_str().unwrap_or_default().to_owned();
        let outcome = kiln_agents_function::handle(&self.ctx, input).await;
        self.dynamodb_down.0.store(false, Ordering::SeqCst);
        if let Err(d) = &outcome {
            let failure = (state.to_owned(), d.error_type.clone());
            self.failures.lock().unwrap().push(failure);
        }
        // What CodeBuild's container does between the start and the first check.
        if matches!(step.as_str(), "QaStart" | "Review" | "FixStart") && outcome.is_ok() {
            let python = python();
            for build in self
                .codebuild
                .start_builds()
                .iter()
                .skip(self.builds.load(Ordering::SeqCst))
            {
                let played = run_test_build(build, &self.s3, python.parent().unwrap()).await;
                assert!(played.commands.iter().all(|(_, ok)| *ok), "{played:?}");
                self.builds.fetch_add(1, Ordering::SeqCst);
                let review = build.buildspec.contains(".kiln/review.sh");
                let count = if review { &self.reviewed } else { &self.played };
                count.fetch_add(1, Ordering::SeqCst);
            }
        }
        // Step Functions names the error by the function's `errorType`, and its `Cause` is
        // the error object the runtime posted to Lambda, as a JSON string.
        outcome.map_err(|d| Failure::new(&d.error_type, serde_json::to_string(&d).unwrap()))
    }
}

pub async fn say(aws: &Installation, project: &Project, text: &str, intent: Intent) -> Run {
    let projects = aws.ctx.projects.as_ref();
    let (run, outcome) =
        kiln_integration_tests::execute_message(projects, project, text, intent, aws, 0.0).await;
    if let Err(f) = outcome {
        assert_eq!(
            f.error, "Kiln.RunFailed",
            "only the Fail state ends an execution: {f}"
        );
    }
    run
}

pub fn step_names(run: &Run) -> Vec<&str> {
    run.steps.iter().map(|s| s.name.as_str()).collect()
}

pub async fn last_message(ctx: &AgentContext, project: &Project) -> String {
    let conversation = ctx
        .projects
        .list_messages(project.id, &PageRequest::first(100))
        .await
        .unwrap();
    conversation.items.last().unwrap().content.clone()
}
