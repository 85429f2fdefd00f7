//! The ECS deployer on moto: repositories, images, task definitions, services, routes and
//! secrets, read back, and torn down again.

use super::*;

#[tokio::test(flavor = "multi_thread")]
async fn deployments_become_ecs_services_behind_path_rules_and_are_torn_down() {
    let aws = aws().await;
    let ecr = aws_sdk_ecr::Client::new(&aws.sdk);
    let sent = SentRequests::default();
    let ecs = aws_sdk_ecs::Client::from_conf(
        aws_sdk_ecs::config::Builder::from(&aws.sdk)
            .interceptor(sent.clone())
            .build(),
    );
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&aws.sdk);
    let secrets = aws_sdk_secretsmanager::Client::new(&aws.sdk);
    let codebuild = sent.codebuild(&aws.sdk);
    let f = &aws.fixture;
    let listener = f["listener_arn"].as_str().unwrap().to_owned();
    let deployer = EcsDeployer::new(
        ecr.clone(),
        ecs.clone(),
        elb.clone(),
        codebuild.clone(),
        secrets.clone(),
        aws.jobs.clone(),
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
        .build_image(project, 1, files(1), Uuid::now_v7())
        .await
        .unwrap()
        .expect("an image build");
    deployer
        .build_image(project, 1, files(1), Uuid::now_v7())
        .await
        .unwrap();
    let repos = ecr.describe_repositories().send().await.unwrap();
    let repo = repos.repositories()[0].clone();
    assert_eq!(repos.repositories().len(), 1, "the repository is made once");
    // Each build pushes an image: the repository keeps the newest ten.
    let policy = ecr
        .get_lifecycle_policy()
        .repository_name(repos.repositories()[0].repository_name().unwrap())
        .send()
        .await
        .expect("a lifecycle policy");
    let policy: Value = serde_json::from_str(policy.lifecycle_policy_text().unwrap()).unwrap();
    let rule = &policy["rules"][0];
    assert_eq!(rule["selection"]["countType"], "imageCountMoreThan");
    assert_eq!(rule["selection"]["countNumber"], 10);
    assert_eq!(rule["selection"]["tagStatus"], "any");
    assert_eq!(rule["action"]["type"], "expire");
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
    let image_build = &sent.start_builds()[0];
    let image_buildspec = Buildspec::read("buildspec-image.yml");
    assert_eq!(image_build.buildspec, image_buildspec.text);
    assert_eq!(
        image_build.env.keys().cloned().collect::<BTreeSet<_>>(),
        image_buildspec.variables_from_outside(),
        "the deployer sets the variables the image buildspec reads, and no others"
    );
    assert_eq!(
        image_build.env["IMAGE_URI"],
        format!("{}:v1", repo.repository_uri().unwrap()),
        "the image is pushed where the task definition takes it from"
    );
    let sources = aws
        .jobs
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

    // Each image build is started with its request as CodeBuild's idempotency token, checked
    // here on the wire (not on moto's answer): CodeBuild returns the first build for a repeat
    // within five minutes if the repeat sends the same parameters, so the source key is the
    // request's too.
    let image_requests: Vec<Value> = sent.bodies("StartBuild");
    for body in &image_requests {
        let token = body["idempotencyToken"]
            .as_str()
            .expect("an idempotency token");
        assert!(
            body["sourceLocationOverride"]
                .as_str()
                .unwrap()
                .ends_with(&format!("-{token}.zip")),
            "{body}"
        );
    }

    // The rollout: task definition, target group, path rule, service.
    let request = Uuid::now_v7();
    let rollout = deployer
        .deploy(project, Environment::Dev, 1, files(1), request)
        .await
        .unwrap();
    // The same request again (the deploy step retried) is the same rollout: no second task
    // definition, no second service change.
    let again = deployer
        .deploy(project, Environment::Dev, 1, files(1), request)
        .await
        .unwrap();
    assert_eq!(again, rollout, "a repeated request returns its rollout");
    let registered = sent.bodies("RegisterTaskDefinition");
    assert_eq!(registered.len(), 1);
    // The task runs on the CPU the image was built for: the template's image builds run on
    // CodeBuild's ARM containers, so the task definition asks Fargate for ARM64 Linux.
    let template: serde_yaml::Value = serde_yaml::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../infra/template.yaml"
        ))
        .unwrap(),
    )
    .unwrap();
    let builds_on = &template["Resources"]["ImageProject"]["Properties"]["Environment"]["Type"];
    let architecture = match builds_on.as_str() {
        Some("ARM_CONTAINER" | "ARM_LAMBDA_CONTAINER") => "ARM64",
        Some("LINUX_CONTAINER" | "LINUX_LAMBDA_CONTAINER") => "X86_64",
        other => panic!("the image project builds on {other:?}"),
    };
    assert_eq!(
        registered[0]["runtimePlatform"],
        json!({"cpuArchitecture": architecture, "operatingSystemFamily": "LINUX"}),
        "images built on {builds_on:?} run on {architecture}"
    );
    assert_eq!(
        sent.bodies("CreateService").len() + sent.bodies("UpdateService").len(),
        1
    );
    assert_eq!(
        sent.bodies("CreateService")[0]["clientToken"],
        json!(request.to_string())
    );
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
    // The JWT secret is a reference to Secrets Manager, never a value in the definition.
    assert!(
        container
            .environment()
            .iter()
            .all(|e| e.name() != Some("JWT_SECRET")),
        "{:?}",
        container.environment()
    );
    let jwt = container
        .secrets()
        .iter()
        .find(|s| s.name() == "JWT_SECRET")
        .expect("JWT_SECRET from Secrets Manager")
        .value_from()
        .to_owned();
    let value = secrets
        .get_secret_value()
        .secret_id(&jwt)
        .send()
        .await
        .unwrap();
    assert!(value.secret_string().unwrap().len() >= 32);
    assert_eq!(
        value.name(),
        Some(format!("kiln/{project}/dev/jwt-secret").as_str())
    );
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
    // Healthy after two checks 10 s apart; a replaced version drains for 30 s.
    assert_eq!(
        groups.target_groups()[0].health_check_interval_seconds(),
        Some(10)
    );
    assert_eq!(groups.target_groups()[0].healthy_threshold_count(), Some(2));
    let attributes = elb
        .describe_target_group_attributes()
        .target_group_arn(groups.target_groups()[0].target_group_arn().unwrap())
        .send()
        .await
        .unwrap();
    assert!(attributes.attributes().iter().any(|a| a.key()
        == Some("deregistration_delay.timeout_seconds")
        && a.value() == Some("30")));
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
    // Right after CreateService no task runs yet: ECS reports the service's one deployment
    // PRIMARY and IN_PROGRESS until it is steady (COMPLETED), or until the circuit breaker,
    // which the deployer turns on, gives up on it (FAILED, rolled back). In progress is pending.
    let deployments = service.deployments();
    assert_eq!(deployments.len(), 1, "{deployments:?}");
    assert_eq!(deployments[0].status(), Some("PRIMARY"));
    assert_eq!(
        deployments[0].task_definition(),
        rollout.resources["task_definition_arn"].as_str()
    );
    assert_eq!(
        deployments[0].rollout_state(),
        Some(&aws_sdk_ecs::types::DeploymentRolloutState::InProgress)
    );
    assert_eq!(deployments[0].running_count(), 0);
    assert_eq!(
        deployer.rollout_status(&rollout).await.unwrap(),
        RolloutStatus::Pending
    );
    let created = sent.bodies("CreateService");
    assert_eq!(
        created[0]["deploymentConfiguration"]["deploymentCircuitBreaker"],
        json!({"enable": true, "rollback": true}),
        "a rollout that cannot get healthy ends FAILED instead of pending for ever"
    );

    // A redeploy updates the same service to a new task definition; staging is its own service.
    let second = deployer
        .deploy(project, Environment::Dev, 2, files(2), Uuid::now_v7())
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
    // Tokens signed for version 1 stay valid: version 2 reads the same secret.
    let second_task = ecs
        .describe_task_definition()
        .task_definition(second.resources["task_definition_arn"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(
        second_task
            .task_definition()
            .unwrap()
            .container_definitions()[0]
            .secrets()[0]
            .value_from(),
        jwt
    );
    let updated = sent.bodies("UpdateService");
    assert_eq!(
        updated[0]["deploymentConfiguration"]["deploymentCircuitBreaker"],
        json!({"enable": true, "rollback": true}),
        "services made before the circuit breaker was turned on get it too"
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
        .deploy(project, Environment::Staging, 2, files(2), Uuid::now_v7())
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
    for environment in ["dev", "staging"] {
        let gone = secrets
            .describe_secret()
            .secret_id(format!("kiln/{project}/{environment}/jwt-secret"))
            .send()
            .await;
        assert!(
            gone.is_err() || gone.unwrap().deleted_date().is_some(),
            "the {environment} secret is deleted with the project"
        );
    }
    let _ = &aws.moto;
}
