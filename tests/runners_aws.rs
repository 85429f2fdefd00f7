//! The AWS runners against moto: CodeBuild runs test suites and builds images; deployments
//! become an ECR repository, ECS services, target groups and listener rules, read back from
//! moto afterwards, and are torn down again.

use kiln::model::Environment;
use kiln::runner::{
    CodeBuildTestRunner, Deployer, EcsDeployer, EcsSettings, RolloutStatus, TestRunner, TestStatus,
};
use kiln::store::S3ArtifactStore;
use kiln_integration_tests::{python, run_in, show, Moto};
use serde_json::Value;
use uuid::Uuid;

struct Aws {
    moto: Moto,
    sdk: aws_config::SdkConfig,
    artifacts: S3ArtifactStore,
    fixture: Value,
}

async fn aws() -> Aws {
    let moto = Moto::start();
    let sdk = moto.sdk_config().await;
    let s3 = moto.s3().await;
    s3.create_bucket()
        .bucket("kiln-artifacts")
        .send()
        .await
        .unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/python/aws_fixture.py");
    let out = run_in(
        std::path::Path::new("."),
        &python(),
        &[script, &moto.endpoint],
    );
    assert!(out.status.success(), "{}", show(&out));
    let fixture: Value = serde_json::from_slice(&out.stdout).unwrap();
    Aws {
        artifacts: S3ArtifactStore::new(s3, "kiln-artifacts"),
        moto,
        sdk,
        fixture,
    }
}

fn files(version: u32) -> Vec<(String, Vec<u8>)> {
    vec![
        (
            "app/main.py".into(),
            format!("VERSION = {version}\n").into_bytes(),
        ),
        ("requirements.txt".into(), b"fastapi==0.165.0\n".to_vec()),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn codebuild_runs_the_suite_and_its_junit_report_comes_back() {
    let aws = aws().await;
    let codebuild = aws_sdk_codebuild::Client::new(&aws.sdk);
    let runner = CodeBuildTestRunner::new(codebuild.clone(), aws.artifacts.clone(), "kiln-tests");
    let project = Uuid::now_v7();
    let job = runner.start(project, 3, files(3)).await.unwrap();
    let ids: Value = serde_json::from_str(&job.id).unwrap();

    // The build was started on the version's source, zipped in S3.
    let builds = codebuild
        .list_builds_for_project()
        .project_name("kiln-tests")
        .send()
        .await
        .unwrap();
    assert_eq!(builds.ids().len(), 1);
    assert_eq!(builds.ids()[0], ids["build"].as_str().unwrap());
    let sources = aws
        .artifacts
        .client()
        .list_objects_v2()
        .bucket("kiln-artifacts")
        .prefix(format!("sources/{project}/v3-"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        sources.contents().len(),
        1,
        "the version's source was uploaded once"
    );
    let zip = aws
        .artifacts
        .get_object(sources.contents()[0].key().unwrap())
        .await
        .unwrap();
    let archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).unwrap();
    assert_eq!(archive.len(), 2);

    // moto's builds end at once and run nothing: no report is an error, not a pass.
    let TestStatus::Finished(report) = runner.poll(&job).await.unwrap() else {
        panic!("moto builds end at once")
    };
    assert!(!report.all_passed());
    assert!(
        report.failures[0].message.contains("without a test report"),
        "{report:?}"
    );

    // What the buildspec uploads is what the check step reads.
    let job = runner.start(project, 3, files(3)).await.unwrap();
    let ids: Value = serde_json::from_str(&job.id).unwrap();
    let junit = r#"<testsuites><testsuite name="pytest" tests="2" time="0.5"><testcase classname="tests.test_tasks" name="test_create"/><testcase classname="tests.test_tasks" name="test_list"><failure message="assert 1 == 2"/></testcase></testsuite></testsuites>"#;
    aws.artifacts
        .put_object(
            ids["report_key"].as_str().unwrap(),
            junit.as_bytes().to_vec(),
            "application/xml",
        )
        .await
        .unwrap();
    let TestStatus::Finished(report) = runner.poll(&job).await.unwrap() else {
        panic!("finished")
    };
    assert_eq!((report.passed, report.failed), (1, 1));
    assert_eq!(report.failures[0].name, "tests.test_tasks::test_list");
}

#[tokio::test(flavor = "multi_thread")]
async fn deployments_become_ecs_services_behind_path_rules_and_are_torn_down() {
    let aws = aws().await;
    let ecr = aws_sdk_ecr::Client::new(&aws.sdk);
    let ecs = aws_sdk_ecs::Client::new(&aws.sdk);
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&aws.sdk);
    let codebuild = aws_sdk_codebuild::Client::new(&aws.sdk);
    let f = &aws.fixture;
    let listener = f["listener_arn"].as_str().unwrap().to_owned();
    let deployer = EcsDeployer::new(
        ecr.clone(),
        ecs.clone(),
        elb.clone(),
        codebuild.clone(),
        aws.artifacts.clone(),
        EcsSettings {
            cluster: "kiln-apps".into(),
            image_project: "kiln-images".into(),
            listener_arn: listener.clone(),
            vpc_id: f["vpc_id"].as_str().unwrap().into(),
            subnets: f["subnets"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_str().unwrap().to_owned())
                .collect(),
            security_groups: vec![f["security_group"].as_str().unwrap().into()],
            execution_role_arn: "arn:aws:iam::123456789012:role/kiln-tasks".into(),
            public_url: "https://apps.example.com/".into(),
            logs: Some(("/kiln/test/apps".into(), "us-east-1".into())),
        },
    );
    let project = Uuid::now_v7();

    // The image: a repository (made once) and a build that pushes version 1 to it.
    let build = deployer
        .build_image(project, 1, files(1))
        .await
        .unwrap()
        .expect("an image build");
    deployer.build_image(project, 1, files(1)).await.unwrap();
    let repos = ecr.describe_repositories().send().await.unwrap();
    let repo = repos.repositories()[0].clone();
    assert_eq!(repos.repositories().len(), 1, "the repository is made once");
    assert_eq!(
        repo.repository_name(),
        Some(format!("kiln/{}", project.simple()).as_str())
    );
    let started = codebuild
        .batch_get_builds()
        .ids(&build)
        .send()
        .await
        .unwrap()
        .builds()[0]
        .clone();
    assert_eq!(started.project_name(), Some("kiln-images"));
    let sources = aws
        .artifacts
        .client()
        .list_objects_v2()
        .bucket("kiln-artifacts")
        .prefix(format!("sources/{project}/image-v1-"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        sources.contents().len(),
        2,
        "each image build uploads its source"
    );
    assert!(deployer.image_ready(Some(&build)).await.unwrap());

    // The rollout: task definition, target group, path rule, service.
    let rollout = deployer
        .deploy(project, Environment::Dev, 1, files(1))
        .await
        .unwrap();
    let name = format!("kiln-{}-dev", &project.simple().to_string()[..12]);
    assert_eq!(rollout.url, format!("https://apps.example.com/{name}/"));
    let services = ecs
        .describe_services()
        .cluster("kiln-apps")
        .services(&name)
        .send()
        .await
        .unwrap();
    let service = services.services()[0].clone();
    assert_eq!(service.status(), Some("ACTIVE"));
    assert_eq!(service.desired_count(), 1);
    assert_eq!(service.launch_type().map(|l| l.as_str()), Some("FARGATE"));
    let task = ecs
        .describe_task_definition()
        .task_definition(service.task_definition().unwrap())
        .send()
        .await
        .unwrap();
    let container = task.task_definition().unwrap().container_definitions()[0].clone();
    assert_eq!(
        container.image(),
        Some(format!("{}:v1", repo.repository_uri().unwrap()).as_str())
    );
    assert!(container
        .environment()
        .iter()
        .any(|e| e.name() == Some("BASE_PATH") && e.value() == Some(&format!("/{name}"))));
    let logs = container
        .log_configuration()
        .expect("the container logs to CloudWatch");
    assert_eq!(logs.options().unwrap()["awslogs-group"], "/kiln/test/apps");
    let groups = elb
        .describe_target_groups()
        .names(&name)
        .send()
        .await
        .unwrap();
    assert_eq!(
        groups.target_groups()[0].health_check_path(),
        Some(format!("/{name}/health").as_str())
    );
    let rules = elb
        .describe_rules()
        .listener_arn(&listener)
        .send()
        .await
        .unwrap();
    let patterns: Vec<String> = rules
        .rules()
        .iter()
        .flat_map(|r| r.conditions().iter())
        .flat_map(|c| {
            c.values().iter().cloned().chain(
                c.path_pattern_config()
                    .map(|p| p.values().to_vec())
                    .unwrap_or_default(),
            )
        })
        .collect();
    assert!(patterns.contains(&format!("/{name}/*")), "{patterns:?}");
    let status = deployer.rollout_status(&rollout).await.unwrap();
    assert!(
        matches!(status, RolloutStatus::Running | RolloutStatus::Pending),
        "{status:?}"
    );

    // A redeploy updates the same service to a new task definition; staging is its own service.
    let second = deployer
        .deploy(project, Environment::Dev, 2, files(2))
        .await
        .unwrap();
    assert_ne!(
        second.resources["task_definition_arn"],
        rollout.resources["task_definition_arn"]
    );
    assert_eq!(
        second.resources["service_arn"],
        rollout.resources["service_arn"]
    );
    let rules_after = elb
        .describe_rules()
        .listener_arn(&listener)
        .send()
        .await
        .unwrap()
        .rules()
        .len();
    assert_eq!(rules_after, rules.rules().len(), "the path rule is reused");
    deployer
        .deploy(project, Environment::Staging, 2, files(2))
        .await
        .unwrap();
    let listed = ecs
        .list_services()
        .cluster("kiln-apps")
        .send()
        .await
        .unwrap();
    assert_eq!(listed.service_arns().len(), 2);

    // Deleting the project tears it all down.
    deployer.stop(project, None).await.unwrap();
    let services = ecs
        .describe_services()
        .cluster("kiln-apps")
        .services(&name)
        .send()
        .await
        .unwrap();
    assert!(
        services
            .services()
            .iter()
            .all(|s| s.status() != Some("ACTIVE")),
        "{services:?}"
    );
    let rules = elb
        .describe_rules()
        .listener_arn(&listener)
        .send()
        .await
        .unwrap();
    assert!(
        rules.rules().iter().all(|r| r.is_default() == Some(true)),
        "only the default rule is left: {rules:?}"
    );
    assert!(elb
        .describe_target_groups()
        .send()
        .await
        .unwrap()
        .target_groups()
        .is_empty());
    assert!(ecr
        .describe_repositories()
        .send()
        .await
        .unwrap()
        .repositories()
        .is_empty());
    let _ = &aws.moto;
}
