//! The pipeline definition, run with every Task invoking the agents Lambda's handler, as Step
//! Functions would, on the AWS stores (DynamoDB and S3 on moto).

use async_trait::async_trait;
use kiln::agents::AgentContext;
use kiln::intent::Intent;
use kiln::model::{Message, Owner, Project, Run, RunStatus};
use kiln::store::PageRequest;
use kiln::workflow::asl::{execute, Failure, Options, TaskHandler};
use kiln::workflow::{execution_input, pipeline, RunInput};
use kiln_integration_tests::Moto;
use serde_json::Value;

/// Step Functions' side of a Lambda Task: the handler's error type becomes the ASL error.
struct Lambda<'a> {
    ctx: &'a AgentContext,
}

#[async_trait]
impl TaskHandler for Lambda<'_> {
    async fn invoke(&self, _state: &str, resource: &str, input: Value) -> Result<Value, Failure> {
        assert_eq!(resource, "${AgentsFunctionArn}");
        kiln_agents_function::handle(self.ctx, input)
            .await
            .map_err(|d| Failure::new(d.error_type, d.error_message))
    }
}

async fn agents(moto: &Moto) -> AgentContext {
    let (config, sdk) = kiln_integration_tests::aws_installation(
        moto,
        "arn:aws:states:us-east-1:123456789012:stateMachine:kiln",
    )
    .await;
    kiln::backends::aws_state_with(&config, &sdk)
        .await
        .unwrap()
        .agents
}

async fn say(ctx: &AgentContext, project: &Project, text: &str, intent: Intent) -> Run {
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
        &Lambda { ctx },
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

#[tokio::test(flavor = "multi_thread")]
async fn describe_and_build_through_the_lambda_handler_on_dynamodb_and_s3() {
    let moto = Moto::start();
    let ctx = agents(&moto).await;
    let project = Project::new(Owner("alice".into()), "Tasks".into(), String::new());
    ctx.projects.create_project(&project).await.unwrap();

    // Building before describing fails through Catch → ReportFailure, with the reason.
    let run = say(&ctx, &project, "build it", Intent::Build).await;
    assert_eq!(run.status, RunStatus::Failed);
    assert_eq!(run.error.unwrap().code, "nothing_to_build");

    let run = say(
        &ctx,
        &project,
        "API for tasks. Each task has a title and a done flag",
        Intent::Create,
    )
    .await;
    assert_eq!(run.status, RunStatus::Succeeded, "{run:?}");
    let names: Vec<&str> = run.steps.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["ProductManager", "Architect", "Complete"]);

    let run = say(&ctx, &project, "build it", Intent::Build).await;
    assert_eq!(run.status, RunStatus::Succeeded, "{run:?}");
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
    let conversation = ctx
        .projects
        .list_messages(project.id, &PageRequest::first(50))
        .await
        .unwrap();
    let last = conversation.items.last().unwrap();
    assert!(
        last.content.starts_with("Version 1 is ready"),
        "{}",
        last.content
    );
}
