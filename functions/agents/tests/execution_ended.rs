//! No run stays "running": when an execution ends FAILED, TIMED_OUT or ABORTED without the
//! pipeline reporting it (a Lambda timed out, a state outgrew its limits, someone stopped it),
//! EventBridge sends the agents function a "Step Functions Execution Status Change" event in
//! the documented shape, and the run is marked failed with the reason, said once.

use kiln::model::{Intent, Owner, Project, RunInput, RunStatus};
use kiln::store::PageRequest;
use serde_json::{json, Value};

/// The event EventBridge delivers for an execution that ended with `status`.
fn event(input: &RunInput, status: &str, error: Option<&str>, cause: Option<&str>) -> Value {
    let arn = "arn:aws:states:eu-west-1:123456789012:execution:kiln-prod-pipeline";
    json!({
        "version": "0",
        "id": "315c1398-40ff-a850-213b-158f73e60175",
        "detail-type": "Step Functions Execution Status Change",
        "source": "aws.states",
        "account": "123456789012",
        "time": "2026-11-26T13:00:00Z",
        "region": "eu-west-1",
        "resources": [format!("{arn}:{}", input.run_id)],
        "detail": {
            "executionArn": format!("{arn}:{}", input.run_id),
            "stateMachineArn": "arn:aws:states:eu-west-1:123456789012:stateMachine:kiln-prod-pipeline",
            "name": input.run_id.to_string(),
            "status": status,
            "startDate": 1795000000000u64,
            "stopDate": 1795000300000u64,
            "input": kiln::workflow::execution_input(input).to_string(),
            "inputDetails": {"included": true},
            "output": null,
            "outputDetails": null,
            "error": error,
            "cause": cause,
        }
    })
}

#[tokio::test]
async fn an_execution_that_ends_unreported_fails_its_run_once_with_the_reason() {
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
    let project = Project::new(Owner::local(), "Ended".into(), String::new());
    ctx.projects.create_project(&project).await.unwrap();
    let start = |text: &'static str, intent: Intent| {
        let (ctx, project) = (ctx.clone(), project.clone());
        async move {
            let input =
                kiln_integration_tests::post_queued(ctx.projects.as_ref(), &project, text, intent)
                    .await;
            let mut run = ctx
                .projects
                .get_run(project.id, input.run_id)
                .await
                .unwrap();
            run.status = RunStatus::Running;
            ctx.projects.update_run(&run).await.unwrap();
            input
        }
    };
    let said = |ctx: kiln::agents::AgentContext| async move {
        ctx.projects
            .list_messages(project.id, &PageRequest::first(50))
            .await
            .unwrap()
            .items
            .into_iter()
            .filter(|m| m.role == kiln::model::Role::System)
            .map(|m| m.content)
            .collect::<Vec<_>>()
    };

    // A step's Lambda timed out: Step Functions names the error and its cause.
    let timed_out = start("run the tests", Intent::Test).await;
    let cause = "Task timed out after 300.00 seconds";
    let e = event(&timed_out, "FAILED", Some("States.Timeout"), Some(cause));
    kiln_agents_function::handle(&ctx, e.clone()).await.unwrap();
    kiln_agents_function::handle(&ctx, e).await.unwrap();
    let run = ctx
        .projects
        .get_run(project.id, timed_out.run_id)
        .await
        .unwrap();
    assert_eq!(run.status, RunStatus::Failed);
    let error = run.error.unwrap();
    assert_eq!(error.code, "timeout");
    assert_eq!(error.message, cause);
    assert_eq!(
        said(ctx.clone()).await,
        [format!("That didn't work: {cause}")],
        "said once"
    );

    // An execution ended by a Lambda's own error, as a state without a Catch would end it
    // (every Task of today's definition catches, so this is the event's shape, not a path of
    // the pipeline): Step Functions carries Lambda's error object as the cause, and the run
    // gets its message.
    let crashed = start("deploy it", Intent::Deploy).await;
    let cause = r#"{"errorMessage":"RequestId: 3f1c2b9e-5d7a-4c1e-9b8f-2a6d4e0c7b15 Error: Runtime exited with error: signal: aborted","errorType":"Runtime.ExitError"}"#;
    let e = event(&crashed, "FAILED", Some("Runtime.ExitError"), Some(cause));
    kiln_agents_function::handle(&ctx, e).await.unwrap();
    let run = ctx
        .projects
        .get_run(project.id, crashed.run_id)
        .await
        .unwrap();
    let error = run.error.unwrap();
    assert_eq!(error.message, "Runtime exited with error: signal: aborted");
    assert_eq!(
        said(ctx.clone()).await[1],
        "That didn't work: Runtime exited with error: signal: aborted"
    );

    // Stopped by hand: no error or cause in the event; the run still says what happened.
    let aborted = start("build it", Intent::Build).await;
    kiln_agents_function::handle(&ctx, event(&aborted, "ABORTED", None, None))
        .await
        .unwrap();
    let run = ctx
        .projects
        .get_run(project.id, aborted.run_id)
        .await
        .unwrap();
    assert_eq!(run.status, RunStatus::Failed);
    assert_eq!(run.error.unwrap().code, "aborted");
    assert!(said(ctx.clone()).await[2].contains("stopped"));

    // A run the pipeline finished keeps its end.
    let done = start("what is it?", Intent::Question).await;
    let mut finished = ctx.projects.get_run(project.id, done.run_id).await.unwrap();
    finished.status = RunStatus::Succeeded;
    ctx.projects.update_run(&finished).await.unwrap();
    kiln_agents_function::handle(&ctx, event(&done, "FAILED", Some("States.Runtime"), None))
        .await
        .unwrap();
    let run = ctx.projects.get_run(project.id, done.run_id).await.unwrap();
    assert_eq!(run.status, RunStatus::Succeeded);
    assert_eq!(said(ctx.clone()).await.len(), 3);

    // An event that is not about a run of Kiln's is refused, not guessed at.
    let mut foreign = event(&done, "FAILED", None, None);
    foreign["detail"]["input"] = json!("{\"something\": 1}");
    let refused = kiln_agents_function::handle(&ctx, foreign)
        .await
        .unwrap_err();
    assert_eq!(refused.error_type, "Kiln.bad_event");
}
