//! The pipeline definition, run with every Task invoking the agents Lambda's handler, as Step
//! Functions would, on the AWS backends: DynamoDB (the template's table) and S3 for the
//! stores, CodeBuild for test runs and image builds, ECR, ECS and ELB for deployments, all on
//! moto. moto's CodeBuild runs nothing, so the test plays each test build's buildspec on the
//! source the build was started with (real pytest on the generated project); moto's ECS
//! reports every new service's deployment COMPLETED (`MOTO_ECS_SERVICE_RUNNING=1`).
//!
//! The error names a failing step gives Step Functions are checked against the definition's
//! Retry and Catch rules: `Kiln.Transient` (injected by making DynamoDB unreachable for chosen
//! invocations) is retried, and every other name is caught without being retried.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use kiln::agents::AgentContext;
use kiln::model::Intent;
use kiln::model::RunInput;
use kiln::model::{
    now, DeploymentStatus, Environment, FileEntry, Message, Owner, Project, ProjectStatus, Run,
    RunStatus, Version,
};
use kiln::runner::CodeBuildTestRunner;
use kiln::store::{DynamoStore, PageRequest};
use kiln::workflow::asl::{execute, Failure, Options, TaskHandler};
use kiln::workflow::{execution_input, pipeline, PIPELINE_JSON};
use kiln_integration_tests::{python, run_in, show, Moto};
use serde_json::Value;

#[path = "../../../tests/fake_codebuild.rs"]
mod fake_codebuild;
use fake_codebuild::{run_test_build, SentRequests};

/// Makes every request of a DynamoDB client fail while it is on, as an unreachable table does.
#[derive(Debug, Clone, Default)]
struct Unreachable(Arc<AtomicBool>);

impl Intercept for Unreachable {
    fn name(&self) -> &'static str {
        "Unreachable"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if self.0.load(Ordering::SeqCst) {
            Err("DynamoDB is unreachable (injected by the test)".into())
        } else {
            Ok(())
        }
    }
}

/// An AWS installation on moto, its agents, and what the test does in CodeBuild's place.
struct Installation {
    ctx: AgentContext,
    /// What the test runner sent to CodeBuild.
    codebuild: SentRequests,
    /// Test builds played so far.
    played: AtomicUsize,
    s3: aws_sdk_s3::Client,
    ecs: aws_sdk_ecs::Client,
    dynamodb_down: Unreachable,
    /// How many more invocations of a state find DynamoDB unreachable.
    outages: Mutex<HashMap<String, u32>>,
    /// Every failure a Task state got from the handler: `(state, error name)`.
    failures: Mutex<Vec<(String, String)>>,
    moto: Moto,
}

async fn installation() -> Installation {
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
    let mut ctx = kiln::backends::aws_state_with(&config, &sdk)
        .await
        .unwrap()
        .agents;

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
    ctx.tests = Arc::new(CodeBuildTestRunner::new(
        codebuild.codebuild(&sdk),
        kiln::runner::JobBucket::new(s3.clone(), config.bucket.clone().unwrap()),
        config.aws.test_project.clone().unwrap(),
    ));
    Installation {
        ctx,
        codebuild,
        played: AtomicUsize::new(0),
        s3,
        ecs: aws_sdk_ecs::Client::new(&sdk),
        dynamodb_down,
        outages: Mutex::new(HashMap::new()),
        failures: Mutex::new(Vec::new()),
        moto,
    }
}

impl Installation {
    /// The next `invocations` invocations of `state` find DynamoDB unreachable.
    fn outage(&self, state: &str, invocations: u32) {
        self.outages
            .lock()
            .unwrap()
            .insert(state.to_owned(), invocations);
    }

    fn failures(&self) -> Vec<(String, String)> {
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
        if step == "QaStart" && outcome.is_ok() {
            let python = python();
            for build in self
                .codebuild
                .start_builds()
                .iter()
                .skip(self.played.load(Ordering::SeqCst))
            {
                let played = run_test_build(build, &self.s3, python.parent().unwrap()).await;
                assert!(played.commands.iter().all(|(_, ok)| *ok), "{played:?}");
                self.played.fetch_add(1, Ordering::SeqCst);
            }
        }
        outcome.map_err(|d| Failure::new(d.error_type, d.error_message))
    }
}

async fn say(aws: &Installation, project: &Project, text: &str, intent: Intent) -> Run {
    let ctx = &aws.ctx;
    let mut message = Message::from_user(project.id, text.into(), None);
    let run = Run::queued(project.id, message.id, intent);
    message.run_id = Some(run.id);
    ctx.projects
        .post_user_message(&message, &run)
        .await
        .unwrap();
    let input = RunInput {
        project_id: project.id,
        run_id: run.id,
        message_id: message.id,
        intent,
        owner: project.owner.clone(),
    };
    let outcome = execute(
        &pipeline(),
        execution_input(&input),
        aws,
        Options { time_scale: 0.0 },
        None,
    )
    .await;
    let run = ctx.projects.get_run(project.id, run.id).await.unwrap();
    if let Err(f) = outcome {
        assert_eq!(
            f.error, "Kiln.RunFailed",
            "only the Fail state ends an execution: {f}"
        );
    }
    run
}

fn step_names(run: &Run) -> Vec<&str> {
    run.steps.iter().map(|s| s.name.as_str()).collect()
}

async fn last_message(ctx: &AgentContext, project: &Project) -> String {
    let conversation = ctx
        .projects
        .list_messages(project.id, &PageRequest::first(100))
        .await
        .unwrap();
    conversation.items.last().unwrap().content.clone()
}

/// The rules of the definition's state `state` (`Retry` or `Catch`) that match `error`.
fn rules_matching<'a>(state: &str, rules: &str, error: &str, asl: &'a Value) -> Vec<&'a Value> {
    asl["States"][state][rules]
        .as_array()
        .unwrap_or_else(|| panic!("{state} has no {rules}"))
        .iter()
        .filter(|r| {
            r["ErrorEquals"].as_array().unwrap().iter().any(|e| {
                e == error
                    || e == "States.ALL"
                    || (e == "States.TaskFailed" && error != "States.Timeout")
            })
        })
        .collect()
}

/// Checks every failure a state got against the definition: what may pass is retried, a
/// bounded number of times; everything else is caught at once and reported.
fn check_against_definition(failures: &[(String, String)]) {
    let asl: Value = serde_json::from_str(PIPELINE_JSON).unwrap();
    for (state, error) in failures {
        let retries = rules_matching(state, "Retry", error, &asl);
        if error == "Kiln.Transient" {
            assert!(
                retries.iter().any(|r| r["ErrorEquals"]
                    .as_array()
                    .unwrap()
                    .contains(&Value::from(error.as_str()))
                    && r["MaxAttempts"].as_u64().is_some_and(|n| n >= 1)),
                "{state} retries {error} by name"
            );
        } else {
            assert!(
                retries.is_empty(),
                "{state} retries {error}, which fails again the same way: {retries:?}"
            );
        }
        let catches = rules_matching(state, "Catch", error, &asl);
        assert_eq!(
            catches.first().map(|c| c["Next"].as_str().unwrap()),
            Some("ReportFailure"),
            "{state} hands {error} to ReportFailure"
        );
    }
}

/// How many times Step Functions runs `state` before it gives up on `error`.
fn attempts(state: &str, error: &str) -> u32 {
    let asl: Value = serde_json::from_str(PIPELINE_JSON).unwrap();
    let retries = rules_matching(state, "Retry", error, &asl);
    1 + retries
        .first()
        .map_or(0, |r| r["MaxAttempts"].as_u64().unwrap_or(3) as u32)
}

/// Every Task retries `Kiln.Transient`, the one name the handler gives what may pass, and no
/// other `Kiln.` name (those fail the same way again); every Task but ReportFailure hands the
/// rest to ReportFailure.
#[test]
fn every_task_retries_the_transient_name_and_reports_the_rest() {
    let asl: Value = serde_json::from_str(PIPELINE_JSON).unwrap();
    for (name, state) in asl["States"].as_object().unwrap() {
        if state["Type"] != "Task" {
            continue;
        }
        let retried: Vec<&str> = state["Retry"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|r| r["ErrorEquals"].as_array().unwrap())
            .map(|e| e.as_str().unwrap())
            .collect();
        assert_eq!(retried, ["Kiln.Transient"], "{name}");
        if name != "ReportFailure" {
            check_against_definition(&[
                (name.clone(), "Kiln.Transient".into()),
                (name.clone(), "Kiln.refused".into()),
                (name.clone(), "Kiln.runner_failed".into()),
            ]);
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn describe_and_build_through_the_lambda_handler_on_dynamodb_and_s3() {
    let aws = installation().await;
    let ctx = &aws.ctx;
    let project = Project::new(Owner("alice".into()), "Tasks".into(), String::new());
    ctx.projects.create_project(&project).await.unwrap();

    // Building before describing fails through Catch → ReportFailure, with the reason.
    let run = say(&aws, &project, "build it", Intent::Build).await;
    assert_eq!(run.status, RunStatus::Failed);
    assert_eq!(run.error.unwrap().code, "nothing_to_build");
    let failures = aws.failures();
    assert_eq!(
        failures,
        [("Plan".to_owned(), "Kiln.nothing_to_build".to_owned())]
    );
    check_against_definition(&failures);

    let run = say(
        &aws,
        &project,
        "API for tasks. Each task has a title and a done flag",
        Intent::Create,
    )
    .await;
    assert_eq!(run.status, RunStatus::Succeeded, "{run:?}");
    assert_eq!(
        step_names(&run),
        ["ProductManager", "Architect", "Complete"]
    );

    // DynamoDB out for one invocation: Kiln.Transient, retried, and the build goes through.
    aws.outage("Release", 1);
    let run = say(&aws, &project, "build it", Intent::Build).await;
    assert_eq!(run.status, RunStatus::Succeeded, "{run:?}");
    let failures = aws.failures();
    assert_eq!(
        failures,
        [("Release".to_owned(), "Kiln.Transient".to_owned())]
    );
    check_against_definition(&failures);
    let version = ctx.projects.get_version(project.id, 1).await.unwrap();
    assert!(version
        .manifest
        .iter()
        .any(|f| f.path == "app/routers/tasks.py"));
    for file in &version.manifest {
        assert!(
            ctx.artifacts.has_blob(&file.sha256).await.unwrap(),
            "{} is in S3",
            file.path
        );
    }
    let last = last_message(ctx, &project).await;
    assert!(last.starts_with("Version 1 is ready"), "{last}");

    // Out for longer than the retries last: caught, reported, the run failed as transient.
    let tries = attempts("Answer", "Kiln.Transient");
    assert!(tries > 1, "Answer retries Kiln.Transient");
    aws.outage("Answer", tries);
    let run = say(&aws, &project, "what does it do?", Intent::Question).await;
    assert_eq!(run.status, RunStatus::Failed, "{run:?}");
    assert_eq!(run.error.as_ref().unwrap().code, "Transient");
    let failures = aws.failures();
    assert_eq!(
        failures,
        vec![("Answer".to_owned(), "Kiln.Transient".to_owned()); tries as usize]
    );
    check_against_definition(&failures);
}

#[tokio::test(flavor = "multi_thread")]
async fn rollback_test_and_deploy_through_the_lambda_handler_on_codebuild_and_ecs() {
    let aws = installation().await;
    let ctx = &aws.ctx;
    let project = Project::new(Owner("alice".into()), "Tasks".into(), String::new());
    ctx.projects.create_project(&project).await.unwrap();
    for (text, intent) in [
        (
            "API for tasks. Each task has a title and a done flag",
            Intent::Create,
        ),
        ("build it", Intent::Build),
        ("Add user authentication", Intent::Refine),
        ("build it", Intent::Build),
    ] {
        let run = say(&aws, &project, text, intent).await;
        assert_eq!(run.status, RunStatus::Succeeded, "{text}: {run:?}");
    }
    assert_eq!(
        ctx.projects
            .load_project(project.id)
            .await
            .unwrap()
            .current_version,
        Some(2)
    );

    // Rollback, with nothing deployed: version 1 is current again, nothing to redeploy.
    let run = say(&aws, &project, "roll back to version 1", Intent::Rollback).await;
    assert_eq!(run.status, RunStatus::Succeeded, "{run:?}");
    assert_eq!(step_names(&run), ["Rollback", "Complete"]);
    let loaded = ctx.projects.load_project(project.id).await.unwrap();
    assert_eq!(loaded.current_version, Some(1));
    let v1 = ctx.projects.get_version(project.id, 1).await.unwrap();
    assert_eq!(loaded.spec, v1.spec, "the spec is version 1's again");
    let last = last_message(ctx, &project).await;
    assert!(
        last.starts_with("Version 1 is the current version again (it was 2)."),
        "{last}"
    );
    // Once more is refused: Kiln.refused, caught, not retried.
    let run = say(&aws, &project, "roll back to version 1", Intent::Rollback).await;
    assert_eq!(run.status, RunStatus::Failed, "{run:?}");
    assert_eq!(run.error.as_ref().unwrap().code, "refused");
    let failures = aws.failures();
    assert_eq!(
        failures,
        [("Rollback".to_owned(), "Kiln.refused".to_owned())]
    );
    check_against_definition(&failures);

    // The tests of version 1 run in "CodeBuild"; one check finds DynamoDB out and is retried.
    aws.outage("QaCheck", 1);
    let run = say(&aws, &project, "run the tests", Intent::Test).await;
    assert_eq!(run.status, RunStatus::Succeeded, "{run:?}");
    assert_eq!(
        step_names(&run),
        ["Plan", "QaStart", "QaCheck", "QaReport", "Complete"]
    );
    let failures = aws.failures();
    assert_eq!(
        failures,
        [("QaCheck".to_owned(), "Kiln.Transient".to_owned())]
    );
    check_against_definition(&failures);
    assert_eq!(
        aws.played.load(Ordering::SeqCst),
        1,
        "one test build played"
    );
    let started = aws.codebuild.start_builds();
    assert_eq!(started[0].project, "kiln-tests");
    let conversation = ctx
        .projects
        .list_messages(project.id, &PageRequest::first(100))
        .await
        .unwrap();
    let last = conversation.items.last().unwrap();
    assert!(
        last.content.starts_with("All ") && last.content.contains(" tests of version 1 passed"),
        "{}\n{:#?}",
        last.content,
        last.blocks
    );
    let loaded = ctx.projects.load_project(project.id).await.unwrap();
    assert_eq!(loaded.tested_version, Some(1));

    // Deploying the tested version: image build, ECS service, rollout checked, reported live.
    let run = say(&aws, &project, "deploy it", Intent::Deploy).await;
    assert_eq!(run.status, RunStatus::Succeeded, "{run:?}");
    assert_eq!(
        step_names(&run),
        [
            "Plan",
            "DevOpsBuildImage",
            "DevOpsImageCheck",
            "DevOpsDeploy",
            "DevOpsCheck",
            "DevOpsReport",
            "Complete"
        ]
    );
    assert!(aws.failures().is_empty());
    let loaded = ctx.projects.load_project(project.id).await.unwrap();
    assert_eq!(loaded.status, ProjectStatus::Deployed);
    assert_eq!(loaded.deployments.len(), 1);
    assert_eq!(loaded.deployments[0].environment, Environment::Dev);
    assert_eq!(loaded.deployments[0].version, 1);
    let deployments = ctx.projects.list_deployments(project.id).await.unwrap();
    assert_eq!(deployments.len(), 1);
    let deployment = &deployments[0];
    assert_eq!(deployment.status, DeploymentStatus::Running);
    let url = deployment.url.clone().unwrap();
    assert!(url.starts_with("https://apps.example.com/kiln-"), "{url}");
    let service = deployment.resources["service_arn"].as_str().unwrap();
    let described = aws
        .ecs
        .describe_services()
        .cluster("kiln-apps")
        .services(service)
        .send()
        .await
        .unwrap();
    let service = &described.services()[0];
    assert_eq!(service.status(), Some("ACTIVE"));
    assert_eq!(
        service.task_definition(),
        deployment.resources["task_definition_arn"].as_str()
    );
    assert!(
        deployment.resources["image"]
            .as_str()
            .unwrap()
            .ends_with(":v1"),
        "{deployment:?}"
    );
    let last = last_message(ctx, &project).await;
    assert!(
        last.starts_with(&format!("Version 1 is live: dev at {url}")),
        "{last}"
    );
    let _ = &aws.moto;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_version_whose_tests_fail_is_never_deployed_on_aws() {
    let aws = installation().await;
    let ctx = &aws.ctx;
    let project = Project::new(Owner("bob".into()), "Notes".into(), String::new());
    ctx.projects.create_project(&project).await.unwrap();
    for (text, intent) in [
        ("API for notes. Each note has a title", Intent::Create),
        ("build it", Intent::Build),
    ] {
        let run = say(&aws, &project, text, intent).await;
        assert_eq!(run.status, RunStatus::Succeeded, "{text}: {run:?}");
    }

    // Version 2: version 1 with a test that fails, as a hand edit would leave it.
    let v1 = ctx.projects.get_version(project.id, 1).await.unwrap();
    let failing = b"def test_this_always_fails():\n    assert 1 == 2\n".to_vec();
    let size = failing.len() as u64;
    let sha256 = ctx.artifacts.put_blob(&failing).await.unwrap();
    let mut manifest = v1.manifest.clone();
    manifest.push(FileEntry {
        path: "tests/test_always_fails.py".into(),
        sha256,
        size,
    });
    let v2 = Version {
        number: 2,
        manifest,
        created_at: now(),
        ..v1
    };
    ctx.projects.create_version(&v2).await.unwrap();
    kiln::store::modify_project(ctx.projects.as_ref(), project.id, |p| {
        p.current_version = Some(2);
        Ok::<_, kiln::store::StoreError>(true)
    })
    .await
    .unwrap();

    let run = say(&aws, &project, "deploy it", Intent::Deploy).await;
    assert_eq!(run.status, RunStatus::Failed, "{run:?}");
    assert_eq!(
        step_names(&run),
        ["Plan", "QaStart", "QaCheck", "QaReport", "RefuseDeploy"],
        "no DevOps step ran"
    );
    let error = run.error.as_ref().unwrap();
    assert_eq!(error.code, "tests_failed");
    assert!(
        error
            .message
            .starts_with("version 2 did not pass its tests, so I did not deploy it"),
        "{error:?}"
    );
    assert!(aws.failures().is_empty(), "the gate raises no error");
    assert_eq!(aws.played.load(Ordering::SeqCst), 1, "the suite really ran");
    let last = last_message(ctx, &project).await;
    assert!(last.contains("version 2 did not pass its tests"), "{last}");

    // Nothing was deployed: no deployment recorded, no image built, no ECS service made.
    assert!(ctx
        .projects
        .list_deployments(project.id)
        .await
        .unwrap()
        .is_empty());
    let loaded = ctx.projects.load_project(project.id).await.unwrap();
    assert!(loaded.deployments.is_empty());
    assert_eq!(loaded.tested_version, None);
    assert_eq!(
        aws.codebuild.start_builds().len(),
        1,
        "only the test build was started, no image build"
    );
    let services = aws
        .ecs
        .list_services()
        .cluster("kiln-apps")
        .send()
        .await
        .unwrap();
    assert!(services.service_arns().is_empty(), "{services:?}");
    let _ = &aws.moto;
}
