//! The runs of one project on AWS take effect in the order their messages arrived, whatever
//! order their executions start in, and a run whose execution never started holds later ones
//! only for a while: the pipeline run with every Task invoking the agents Lambda's handler on
//! the AWS backends on moto, as in `pipeline_on_aws.rs`.

mod installation;

use installation::{installation, say};
use kiln::model::{Intent, Owner, Project, RunStatus};
use kiln::store::PageRequest;

/// Stores a user's message and its queued run, as the API does, without starting anything.
async fn post(
    aws: &installation::Installation,
    project: &Project,
    text: &str,
    intent: Intent,
) -> kiln::model::RunInput {
    kiln_integration_tests::post_queued(aws.ctx.projects.as_ref(), project, text, intent).await
}

/// On AWS every message is its own execution, and executions start in no particular order: two
/// messages sent back to back ("add user authentication", then "build it") still take effect
/// in the order they arrived. Here the second one's execution starts first; it waits for the
/// first, and the version it builds has authentication.
#[tokio::test(flavor = "multi_thread")]
async fn two_messages_back_to_back_take_effect_in_the_order_they_arrived() {
    let aws = std::sync::Arc::new(installation().await);
    let ctx = &aws.ctx;
    let project = Project::new(Owner("alice".into()), "Tasks".into(), String::new());
    ctx.projects.create_project(&project).await.unwrap();
    let run = say(
        &aws,
        &project,
        "API for tasks. Each task has a title and a done flag",
        Intent::Create,
    )
    .await;
    assert_eq!(run.status, RunStatus::Succeeded);

    let first = post(&aws, &project, "Add user authentication", Intent::Refine).await;
    let second = post(&aws, &project, "build it", Intent::Build).await;
    let execute = |input: kiln::model::RunInput| {
        let aws = aws.clone();
        tokio::spawn(async move {
            kiln::workflow::asl::execute(
                &kiln::workflow::pipeline(),
                kiln::workflow::execution_input(&input),
                aws.as_ref(),
                kiln::workflow::asl::Options { time_scale: 0.01 },
                None,
            )
            .await
        })
    };
    let later = execute(second.clone());
    // The second execution gets going first: it must hold until the first one has run.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let run = ctx
            .projects
            .get_run(project.id, second.run_id)
            .await
            .unwrap();
        if run.status.is_final() || run.steps.iter().any(|s| s.name == "WaitTurn") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{run:?}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let earlier = execute(first.clone());
    assert!(earlier.await.unwrap().is_ok());
    assert!(later.await.unwrap().is_ok());

    let first_run = ctx
        .projects
        .get_run(project.id, first.run_id)
        .await
        .unwrap();
    let second_run = ctx
        .projects
        .get_run(project.id, second.run_id)
        .await
        .unwrap();
    assert_eq!(first_run.status, RunStatus::Succeeded, "{first_run:?}");
    assert_eq!(second_run.status, RunStatus::Succeeded, "{second_run:?}");
    assert_eq!(second_run.steps[0].name, "WaitTurn", "{second_run:?}");
    let said = ctx
        .projects
        .list_messages(project.id, &PageRequest::first(100))
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|m| {
            m.content
                .starts_with("Waiting for the request before this one")
        })
        .count();
    assert_eq!(said, 1, "a waiting run says so once");
    // The first run ends inside its Complete step (which then records its own finish, so the
    // run's `updated_at` may come a moment after the second run went on).
    let completed = first_run.steps.last().unwrap();
    assert_eq!(completed.name, "Complete");
    assert!(
        completed.started_at.unwrap() <= second_run.steps[1].started_at.unwrap(),
        "the second run went on only after the first ended"
    );
    // What it built includes what the first message asked for.
    let loaded = ctx.projects.load_project(project.id).await.unwrap();
    let version = ctx
        .projects
        .get_version(project.id, loaded.current_version.unwrap())
        .await
        .unwrap();
    assert!(
        version.manifest.iter().any(|f| f.path == "app/auth.py"),
        "the build has authentication: {:?}",
        version.manifest.iter().map(|f| &f.path).collect::<Vec<_>>()
    );
    let _ = &aws.moto;
}

/// A run whose execution never started (the API stopped between storing it and starting it)
/// holds no one up for ever: after ten minutes queued without a step, the next run fails it as
/// not started (the same message again starts it) and goes on.
#[tokio::test(flavor = "multi_thread")]
async fn a_run_that_never_started_holds_later_runs_only_for_a_while() {
    use kiln::model::{Message, Run};
    let aws = installation().await;
    let ctx = &aws.ctx;
    let project = Project::new(Owner("alice".into()), "Notes".into(), String::new());
    ctx.projects.create_project(&project).await.unwrap();
    let stuck = |minutes: i64| {
        let mut message = Message::from_user(project.id, "Add user authentication".into(), None);
        let mut run = Run::queued(project.id, message.id, Intent::Refine);
        run.created_at -= time::Duration::minutes(minutes);
        message.run_id = Some(run.id);
        (message, run)
    };
    let (message, abandoned) = stuck(11);
    ctx.projects
        .post_user_message(&message, &abandoned)
        .await
        .unwrap();
    let run = say(
        &aws,
        &project,
        "API for notes. Each note has a title",
        Intent::Create,
    )
    .await;
    assert_eq!(run.status, RunStatus::Succeeded, "{run:?}");
    let abandoned = ctx
        .projects
        .get_run(project.id, abandoned.id)
        .await
        .unwrap();
    assert_eq!(abandoned.status, RunStatus::Failed);
    assert_eq!(abandoned.error.unwrap().code, "not_started");
    let _ = &aws.moto;
}
