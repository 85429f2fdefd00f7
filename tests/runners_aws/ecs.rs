//! The ECS deployer on moto: repositories and images, then one CloudFormation stack per
//! project environment made from the version's own `deploy/cloudformation.yaml` (the requests
//! as sent on the wire, the stacks and the ECS services and rules moto makes from them), and
//! all of it torn down again.

use super::*;

#[tokio::test(flavor = "multi_thread")]
async fn deployments_become_ecs_services_behind_path_rules_and_are_torn_down() {
    let aws = aws().await;
    let ecr = aws_sdk_ecr::Client::new(&aws.sdk);
    let sent = SentRequests::default();
    let cloudformation = aws_sdk_cloudformation::Client::from_conf(
        aws_sdk_cloudformation::config::Builder::from(&aws.sdk)
            .interceptor(sent.clone())
            .build(),
    );
    let ecs = aws_sdk_ecs::Client::new(&aws.sdk);
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&aws.sdk);
    let codebuild = sent.codebuild(&aws.sdk);
    let f = &aws.fixture;
    let listener = f["listener_arn"].as_str().unwrap().to_owned();
    let deployer = EcsDeployer::new(
        ecr.clone(),
        cloudformation.clone(),
        elb.clone(),
        codebuild.clone(),
        // moto's Data API runs no SQL (every statement answers no rows): the databases
        // themselves are tested in `database.rs`, on PostgreSQL.
        AppDatabases::new(
            aws_sdk_rdsdata::Client::new(&aws.sdk),
            aws_sdk_secretsmanager::Client::new(&aws.sdk),
            database_settings("kiln-test-apps.cluster-abc.us-east-1.rds.amazonaws.com"),
        ),
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
            stack_prefix: "kiln-test".into(),
            stack_role_arn: STACK_ROLE.into(),
            log_retention_days: 14,
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
        Some(format!("kiln-test/{}", project.simple()).as_str())
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

    // The rollout: one stack per environment, made from the version's own template.
    let name = format!("kiln-{}-dev", &project.simple().to_string()[..12]);
    let stack = format!("kiln-test-{}-dev", project.simple());
    let version_1 = generated();
    let template = file_of(&version_1, "deploy/cloudformation.yaml");
    let request = Uuid::now_v7();
    let rollout = deployer
        .deploy(project, Environment::Dev, 1, version_1.clone(), request)
        .await
        .unwrap();
    // The same request again (the deploy step retried) is the same rollout: nothing new.
    let again = deployer
        .deploy(project, Environment::Dev, 1, version_1.clone(), request)
        .await
        .unwrap();
    assert_eq!(again, rollout, "a repeated request returns its rollout");
    let creates = sent.bodies("CreateStack");
    assert_eq!(creates.len(), 1, "{creates:?}");
    assert!(sent.bodies("UpdateStack").is_empty());
    let create = &creates[0];
    assert_eq!(create["StackName"], json!(stack));
    assert_eq!(
        create["RoleARN"],
        json!(STACK_ROLE),
        "made with the stacks' role"
    );
    assert_eq!(
        create["TemplateBody"],
        json!(template),
        "the version's file, as it is"
    );
    let token = create["ClientRequestToken"].as_str().unwrap();
    assert!(token.starts_with(&format!("kiln-{request}-p")), "{token}");
    let given = parameters(create);
    // Every parameter the template declares without a default is given, and nothing else.
    let declared: serde_yaml::Value = serde_yaml::from_str(&template).unwrap();
    let declared = declared["Parameters"].as_mapping().unwrap().clone();
    for (key, spec) in &declared {
        let key = key.as_str().unwrap();
        assert!(
            given.contains_key(key) || spec.get("Default").is_some(),
            "{key} is required and not given: {given:?}"
        );
    }
    for key in given.keys() {
        assert!(
            declared.contains_key(serde_yaml::Value::String(key.clone())),
            "{key} is not a parameter of the template"
        );
    }
    let uri = repo.repository_uri().unwrap();
    assert_eq!(
        given["ImageUri"],
        format!("{uri}:v1"),
        "where the image was pushed"
    );
    assert_eq!(given["BasePath"], format!("/{name}"));
    assert_eq!(given["ProjectId"], project.to_string());
    assert_eq!(given["Environment"], "dev");
    assert_eq!(given["Version"], "1");
    assert_eq!(given["ListenerArn"], listener);
    assert_eq!(given["ClusterName"], "kiln-apps");
    assert_eq!(given["LogRetentionDays"], "14");
    assert_eq!(given["DeployRequest"], format!("kiln-{request}"));
    assert_eq!(
        given["Subnets"],
        f["subnets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap())
            .collect::<Vec<_>>()
            .join(",")
    );
    let priority: i32 = given["ListenerRulePriority"].parse().unwrap();
    assert!((1..=50_000).contains(&priority));
    assert_eq!(
        stack_tags(create),
        [
            ("kiln:environment".to_owned(), "dev".to_owned()),
            ("kiln:project".to_owned(), project.to_string()),
            ("kiln:version".to_owned(), "1".to_owned()),
        ]
        .into_iter()
        .collect::<BTreeMap<_, _>>()
    );
    assert_eq!(rollout.url, format!("https://apps.example.com/{name}/"));
    // moto makes a stack at once: the rollout answers.
    assert_eq!(
        deployer.rollout_status(&rollout).await.unwrap(),
        RolloutStatus::Running
    );

    // What the stack made: the service in the cluster, the path rule at the chosen priority.
    let outputs = outputs(&cloudformation, &stack).await;
    let service = ecs
        .describe_services()
        .cluster("kiln-apps")
        .services(&outputs["ServiceArn"])
        .send()
        .await
        .unwrap()
        .services()[0]
        .clone();
    assert_eq!(service.status(), Some("ACTIVE"));
    let rules = elb
        .describe_rules()
        .listener_arn(&listener)
        .send()
        .await
        .unwrap();
    let rule = rules
        .rules()
        .iter()
        .find(|r| r.rule_arn() == Some(outputs["PathRuleArn"].as_str()))
        .expect("the stack's rule is on the listener");
    assert_eq!(rule.priority(), Some(priority.to_string().as_str()));
    let patterns: Vec<String> = rule
        .conditions()
        .iter()
        .flat_map(|c| {
            c.path_pattern_config()
                .map(|p| p.values().to_vec())
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(patterns, [format!("/{name}"), format!("/{name}/*")]);

    // A redeploy updates the same stack: the rule keeps its priority; version and request change.
    let second_request = Uuid::now_v7();
    let second = deployer
        .deploy(project, Environment::Dev, 2, generated(), second_request)
        .await
        .unwrap();
    assert_ne!(second, rollout);
    let updates = sent.bodies("UpdateStack");
    assert_eq!(updates.len(), 1);
    assert_eq!(sent.bodies("CreateStack").len(), 1);
    let update = &updates[0];
    assert_eq!(update["StackName"], json!(stack));
    assert_eq!(update["RoleARN"], json!(STACK_ROLE));
    assert_eq!(
        update["ClientRequestToken"],
        json!(format!("kiln-{second_request}"))
    );
    let given = parameters(update);
    assert_eq!(given["ListenerRulePriority"], "(previous)");
    assert_eq!(given["Version"], "2");
    assert_eq!(given["ImageUri"], format!("{uri}:v2"));
    assert_eq!(stack_tags(update)["kiln:version"], "2");
    assert_eq!(
        deployer.rollout_status(&second).await.unwrap(),
        RolloutStatus::Running
    );
    // A poll of the first rollout never applies it again over the second (that would roll the
    // newer version back): the stack holds another request now.
    assert_ne!(
        deployer.rollout_status(&rollout).await.unwrap(),
        RolloutStatus::Pending
    );
    assert_eq!(sent.bodies("UpdateStack").len(), 1, "polls change nothing");
    assert_eq!(sent.bodies("CreateStack").len(), 1);

    // Staging is a stack of its own, with a rule at another priority.
    deployer
        .deploy(
            project,
            Environment::Staging,
            2,
            generated(),
            Uuid::now_v7(),
        )
        .await
        .unwrap();
    let creates = sent.bodies("CreateStack");
    assert_eq!(creates.len(), 2);
    assert_eq!(
        creates[1]["StackName"],
        json!(format!("kiln-test-{}-staging", project.simple()))
    );
    assert_ne!(
        parameters(&creates[1])["ListenerRulePriority"],
        priority.to_string()
    );

    // A version made before deployments had a template says what to do.
    let refused = deployer
        .deploy(project, Environment::Dev, 3, files(3), Uuid::now_v7())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        refused.contains("deploy/cloudformation.yaml") && refused.contains("build it again"),
        "{refused}"
    );

    // Deleting the project deletes its stacks (and with them all they made) and its images.
    deployer.stop(project, None).await.unwrap();
    let deleted: BTreeSet<String> = sent
        .bodies("DeleteStack")
        .iter()
        .map(|b| b["StackName"].as_str().unwrap().to_owned())
        .collect();
    let every: BTreeSet<String> = Environment::ALL
        .iter()
        .map(|e| format!("kiln-test-{}-{}", project.simple(), e.as_str()))
        .collect();
    assert_eq!(deleted, every);
    for environment in ["dev", "staging"] {
        let gone = cloudformation
            .describe_stacks()
            .stack_name(format!("kiln-test-{}-{environment}", project.simple()))
            .send()
            .await;
        assert!(
            gone.is_err()
                || gone.unwrap().stacks()[0].stack_status()
                    == Some(&aws_sdk_cloudformation::types::StackStatus::DeleteComplete),
            "the {environment} stack is deleted with the project"
        );
    }
    assert!(ecr
        .describe_repositories()
        .send()
        .await
        .unwrap()
        .repositories()
        .is_empty());
    let _ = &aws.moto;
}

const STACK_ROLE: &str = "arn:aws:iam::123456789012:role/kiln-app-stacks";

/// A generated project's files (the golden library spec: SQLite, authentication).
fn generated() -> Vec<(String, Vec<u8>)> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/golden/specs/library_sqlite_auth.json"
    );
    let spec: kiln::spec::AppSpec =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    kiln::generator::generate_code(&spec)
        .unwrap()
        .into_iter()
        .map(|f| (f.path, f.contents.into_bytes()))
        .collect()
}

fn file_of(files: &[(String, Vec<u8>)], path: &str) -> String {
    let (_, bytes) = files
        .iter()
        .find(|(p, _)| p == path)
        .unwrap_or_else(|| panic!("no {path}"));
    String::from_utf8(bytes.clone()).unwrap()
}

/// The `Parameters.member.N` of a CloudFormation request: value, or `(previous)`.
pub(crate) fn parameters(body: &Value) -> BTreeMap<String, String> {
    members(body, "Parameters", "ParameterKey")
        .into_iter()
        .map(|(key, fields)| {
            let value = if fields.get("UsePreviousValue").map(String::as_str) == Some("true") {
                "(previous)".to_owned()
            } else {
                fields.get("ParameterValue").cloned().unwrap_or_default()
            };
            (key, value)
        })
        .collect()
}

/// The `Tags.member.N` of a CloudFormation request.
fn stack_tags(body: &Value) -> BTreeMap<String, String> {
    members(body, "Tags", "Key")
        .into_iter()
        .map(|(key, fields)| (key, fields["Value"].clone()))
        .collect()
}

/// The members of a query-protocol list, by the field named `key`.
fn members(body: &Value, list: &str, key: &str) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut by_index: BTreeMap<u32, BTreeMap<String, String>> = BTreeMap::new();
    for (name, value) in body.as_object().unwrap() {
        let Some(rest) = name.strip_prefix(&format!("{list}.member.")) else {
            continue;
        };
        let (index, field) = rest.split_once('.').unwrap();
        by_index
            .entry(index.parse().unwrap())
            .or_default()
            .insert(field.to_owned(), value.as_str().unwrap().to_owned());
    }
    by_index
        .into_values()
        .map(|fields| (fields[key].clone(), fields))
        .collect()
}

async fn outputs(
    cloudformation: &aws_sdk_cloudformation::Client,
    stack: &str,
) -> BTreeMap<String, String> {
    let described = cloudformation
        .describe_stacks()
        .stack_name(stack)
        .send()
        .await
        .unwrap();
    described.stacks()[0]
        .outputs()
        .iter()
        .map(|o| {
            (
                o.output_key().unwrap().to_owned(),
                o.output_value().unwrap().to_owned(),
            )
        })
        .collect()
}
