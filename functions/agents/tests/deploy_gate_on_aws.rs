//! The deploy gate on the AWS backends: a version whose tests fail is never deployed — no
//! image build, no ECS service, no deployment recorded — and the run says why.

mod installation;

use std::sync::atomic::Ordering;

use installation::{installation, last_message, say, step_names};
use kiln::model::{now, FileEntry, Intent, Owner, Project, RunStatus, Version};

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
        [
            "Plan",
            "Review",
            "ReviewCheck",
            "QaStart",
            "QaCheck",
            "QaReport",
            "RefuseDeploy"
        ],
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
        3,
        "the reviews of versions 1 and 2 and the test build were started, no image build"
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
