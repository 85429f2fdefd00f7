//! The pipeline definition, run with every Task invoking the agents Lambda's handler, as Step
//! Functions would, on the AWS backends: DynamoDB (the template's table) and S3 for the
//! stores, CodeBuild for test runs and image builds, ECR, ECS and ELB for deployments, all on
//! moto. moto's CodeBuild runs nothing, so the test plays each test build's buildspec on the
//! source the build was started with (real pytest on the generated project); moto's ECS
//! reports every new service's deployment COMPLETED (`MOTO_ECS_SERVICE_RUNNING=1`). A deploy's
//! smoke and load tests reach the app as the agents Lambda does on AWS, at the load balancer's
//! address (the deployment's URL): here the live test's stand-in of the load balancer and
//! Fargate, which runs the image's source under uvicorn.
//!
//! The error names a failing step gives Step Functions are checked against the definition's
//! Retry and Catch rules: `Kiln.Transient` (injected by making DynamoDB unreachable for chosen
//! invocations) is retried, and every other name is caught without being retried.

mod balanced;
mod installation;

use std::sync::atomic::Ordering;

use installation::{installation, last_message, say, step_names};
use kiln::model::{
    DeploymentStatus, Environment, Intent, Owner, Project, ProjectStatus, RunStatus,
};
use kiln::store::PageRequest;
use kiln::workflow::PIPELINE_JSON;
use serde_json::Value;

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
/// other name of the handler's (those fail the same way again; Lambda's own are retried too); every Task but ReportFailure hands the
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
        let ours: Vec<&str> = retried
            .iter()
            .copied()
            .filter(|e| !e.starts_with("Lambda."))
            .collect();
        assert_eq!(ours, ["Kiln.Transient"], "{name}");
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
    let error = run.error.unwrap();
    assert_eq!(error.code, "nothing_to_build");
    // The reason reads as Kiln wrote it, not as the error object Lambda carried it in.
    assert_eq!(
        error.message,
        kiln::agents::AgentError::NothingToBuild.to_string()
    );
    assert_eq!(
        last_message(ctx, &project).await,
        format!("That didn't work: {}", error.message)
    );
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
    // The release's reply, then the review's: its tools ran as a build of the test project.
    let page = PageRequest::first(100);
    let said = ctx.projects.list_messages(project.id, &page).await.unwrap();
    let said: Vec<&str> = said.items.iter().map(|m| m.content.as_str()).collect();
    assert!(
        said[said.len() - 3].starts_with("Version 1 is ready"),
        "{said:#?}"
    );
    assert!(
        said[said.len() - 1].starts_with("Version 1 passed its review"),
        "{said:#?}"
    );
    assert_eq!(
        aws.reviewed.load(Ordering::SeqCst),
        1,
        "the review build ran"
    );

    // A copy, with DynamoDB out for the first attempt: retried, and one copy is made.
    aws.outage("Clone", 1);
    let run = say(
        &aws,
        &project,
        "clone this project as Tasks two",
        Intent::Clone,
    )
    .await;
    assert_eq!(run.status, RunStatus::Succeeded, "{run:?}");
    assert_eq!(step_names(&run), ["Clone", "Complete"]);
    let failures = aws.failures();
    assert_eq!(
        failures,
        [("Clone".to_owned(), "Kiln.Transient".to_owned())]
    );
    check_against_definition(&failures);
    let owned = ctx
        .projects
        .list_projects(&project.owner, &kiln::store::PageRequest::first(10))
        .await
        .unwrap()
        .items;
    assert_eq!(owned.len(), 2, "{owned:?}");
    let copy = owned.iter().find(|p| p.id != project.id).unwrap();
    assert_eq!(copy.name, "Tasks two");
    assert_eq!(copy.current_version, Some(1));
    let copied = ctx.projects.get_version(copy.id, 1).await.unwrap();
    for file in &copied.manifest {
        assert!(
            ctx.artifacts.has_blob(&file.sha256).await.unwrap(),
            "{} is in S3",
            file.path
        );
    }

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
    // A budget below what one app costs: the first deploy waits for the owner's word.
    let (aws, apps_url, balancer) =
        balanced::installation_with_balancer_where(100, |c| c.costs.monthly_budget_usd = Some(5.0))
            .await;
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
        ["Plan", "Review", "QaStart", "QaCheck", "QaReport", "Complete"],
        "version 1 was reviewed when it was built"
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

    // Deploying the tested version: it would take the owner over the budget, so the estimate
    // asks first and nothing is deployed.
    let run = say(&aws, &project, "deploy it", Intent::Deploy).await;
    assert_eq!(run.status, RunStatus::Succeeded, "{run:?}");
    assert_eq!(
        step_names(&run),
        ["Plan", "Review", "DevOpsEstimate", "Complete"]
    );
    let asked = last_message(ctx, &project).await;
    assert!(
        asked.contains("over your budget of $5.00") && asked.contains("yes, deploy to dev"),
        "{asked}"
    );
    let loaded = ctx.projects.load_project(project.id).await.unwrap();
    assert!(loaded.deployments.is_empty());
    let waiting = loaded.awaiting_confirmation.clone().unwrap();
    assert_eq!(
        (waiting.environment, waiting.version),
        (Environment::Dev, 1)
    );
    assert!(waiting.monthly_usd > 5.0, "{waiting:?}");

    // Confirmed: image build, ECS service, rollout checked, reported live.
    let run = say(&aws, &project, "yes, deploy to dev", Intent::Deploy).await;
    assert_eq!(run.status, RunStatus::Succeeded, "{run:?}");
    assert_eq!(
        step_names(&run),
        kiln_integration_tests::steps::chain(&[
            &["Plan"],
            &kiln_integration_tests::steps::REVIEWED,
            &kiln_integration_tests::steps::DEPLOY,
            &["Complete"]
        ])
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
    // The deployment keeps who confirmed it and what it was estimated to cost.
    let confirming = ctx
        .projects
        .list_messages(project.id, &PageRequest::first(200))
        .await
        .unwrap()
        .items
        .into_iter()
        .rfind(|m| m.content == "yes, deploy to dev")
        .unwrap();
    assert_eq!(deployment.confirmed_by, Some(confirming.id));
    assert_eq!(deployment.monthly_usd, Some(waiting.monthly_usd));
    assert_eq!(loaded.awaiting_confirmation, None);
    let url = deployment.url.clone().unwrap();
    assert!(url.starts_with(&format!("{apps_url}/kiln-")), "{url}");
    // The environment is a stack made from the version's template; its service runs.
    let stack = deployment.resources["stack"].as_str().unwrap();
    let described = aws
        .cloudformation
        .describe_stacks()
        .stack_name(stack)
        .send()
        .await
        .unwrap();
    let made = &described.stacks()[0];
    assert_eq!(
        made.stack_status(),
        Some(&aws_sdk_cloudformation::types::StackStatus::CreateComplete)
    );
    let parameter = |key: &str| {
        made.parameters()
            .iter()
            .find(|p| p.parameter_key() == Some(key))
            .and_then(|p| p.parameter_value())
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(parameter("ProjectId"), project.id.to_string());
    assert_eq!(parameter("Version"), "1");
    assert_eq!(
        parameter("ImageUri"),
        deployment.resources["image"].as_str().unwrap()
    );
    let service = made
        .outputs()
        .iter()
        .find(|o| o.output_key() == Some("ServiceArn"))
        .and_then(|o| o.output_value())
        .unwrap();
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
    assert!(
        deployment.resources["image"]
            .as_str()
            .unwrap()
            .ends_with(":v1"),
        "{deployment:?}"
    );
    // QA called the app through the load balancer: every endpoint, then the load test.
    let conversation = ctx
        .projects
        .list_messages(project.id, &PageRequest::first(200))
        .await
        .unwrap()
        .items;
    let live = conversation
        .iter()
        .find(|m| m.content.starts_with("Version 1 is live: dev at "))
        .unwrap();
    assert!(live.content.contains(&url), "{}", live.content);
    let checked = conversation.last().unwrap();
    let Some(kiln::model::Block::LoadTest {
        environment,
        version,
        smoke,
        load,
    }) = checked.blocks.first()
    else {
        panic!("no load test block: {checked:?}");
    };
    assert_eq!((*environment, *version), (Environment::Dev, 1));
    assert!(smoke.passed, "{smoke:?}");
    // Version 1 (rolled back to) has no authentication.
    assert_eq!(smoke.calls, 1 + 6, "health and six calls for tasks");
    let load = load.as_ref().expect("a load test");
    assert_eq!((load.requests, load.errors), (100, 0), "{load:?}");
    balancer.abort();
    let _ = &aws.moto;
}
