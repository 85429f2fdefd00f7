//! The review's gate on the AWS backends: the review of each version runs as a build of the
//! test CodeBuild project (played here on its source: ruff, bandit, and pip-audit asking a
//! stand-in database that knows a vulnerability of the FastAPI every project pins); its
//! findings come back through S3, are recorded on the project in DynamoDB, and a deploy of the
//! version is refused with `review_failed` until a message says "deploy anyway", which is
//! recorded on the run and the deployment.

mod balanced;
mod installation;

use std::sync::atomic::Ordering;

use installation::{say, step_names};
use kiln::model::{Block, Intent, Owner, Project, RunStatus, Severity};
use kiln::store::PageRequest;
use kiln_integration_tests::fake_osv::Advisory;

#[tokio::test(flavor = "multi_thread")]
async fn a_version_with_a_known_vulnerability_is_deployed_only_when_asked_on_aws() {
    // The deploy that goes ahead is smoke-tested through the load balancer's stand-in.
    let (aws, _, balancer) = balanced::installation_with_balancer_knowing(
        0,
        vec![Advisory {
            package: "fastapi".into(),
            version: "0.165.0".into(),
            id: "GHSA-kiln-aws-gate".into(),
            summary: "a stand-in advisory".into(),
            fixed: "0.165.1".into(),
        }],
        |_| {},
    )
    .await;
    let ctx = &aws.ctx;
    let project = Project::new(Owner("carol".into()), "Notes".into(), String::new());
    ctx.projects.create_project(&project).await.unwrap();
    for (text, intent) in [
        ("API for notes. Each note has a title", Intent::Create),
        ("build it", Intent::Build),
    ] {
        let run = say(&aws, &project, text, intent).await;
        assert_eq!(run.status, RunStatus::Succeeded, "{text}: {run:?}");
    }
    assert_eq!(
        aws.reviewed.load(Ordering::SeqCst),
        1,
        "the review build ran"
    );
    let review_build = &aws.codebuild.start_builds()[0];
    assert_eq!(review_build.project, "kiln-tests");
    assert!(review_build.buildspec.contains(".kiln/review.sh"));

    // The review: a block in the conversation, and the record on the project.
    let messages = ctx
        .projects
        .list_messages(project.id, &PageRequest::first(100))
        .await
        .unwrap()
        .items;
    let review = messages
        .iter()
        .flat_map(|m| &m.blocks)
        .find_map(|b| match b {
            Block::Review { version: 1, review } => Some(review.clone()),
            _ => None,
        })
        .expect("a review block of version 1");
    assert_eq!(review.counts.high, 1, "{review:#?}");
    assert_eq!(review.findings[0].rule, "pip-audit/GHSA-kiln-aws-gate");
    assert_eq!(review.findings[0].severity, Severity::High);
    assert!(
        !review
            .findings
            .iter()
            .any(|f| f.rule.ends_with("/did-not-run")),
        "every tool ran in the build: {review:#?}"
    );
    let loaded = ctx.projects.load_project(project.id).await.unwrap();
    assert_eq!(loaded.review_of(1).unwrap().counts.high, 1);

    // Refused with the finding named, after the tests passed; no image build.
    let run = say(&aws, &project, "deploy it", Intent::Deploy).await;
    assert_eq!(run.status, RunStatus::Failed, "{run:?}");
    assert_eq!(
        step_names(&run),
        [
            "Plan",
            "Review",
            "QaStart",
            "QaCheck",
            "QaReport",
            "RefuseDeploy"
        ],
        "the recorded review answers at once; no DevOps step ran"
    );
    let error = run.error.as_ref().unwrap();
    assert_eq!(error.code, "review_failed");
    assert!(
        error
            .message
            .contains("requirements.txt pip-audit/GHSA-kiln-aws-gate"),
        "{error:?}"
    );
    assert!(aws.failures().is_empty(), "the gate raises no error");
    assert_eq!(aws.played.load(Ordering::SeqCst), 1, "the suite really ran");
    assert_eq!(aws.codebuild.start_builds().len(), 2, "no image build");

    // "Deploy anyway": built, rolled out, and the override recorded in DynamoDB.
    let run = say(&aws, &project, "deploy it anyway", Intent::Deploy).await;
    assert_eq!(run.status, RunStatus::Succeeded, "{run:?}");
    assert_eq!(run.review_override.as_ref().unwrap().version, 1);
    assert_eq!(run.review_override.as_ref().unwrap().high, 1);
    let stored = ctx.projects.get_run(project.id, run.id).await.unwrap();
    assert_eq!(stored.review_override, run.review_override);
    let deployments = ctx.projects.list_deployments(project.id).await.unwrap();
    assert_eq!(deployments.len(), 1);
    assert_eq!(deployments[0].review_override, run.review_override);
    balancer.abort();
}
