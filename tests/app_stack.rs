//! The template every generated project carries for its environments
//! (`deploy/cloudformation.yaml`), read together with the installation's template and the
//! deployer's code, for what moto does not enforce: cfn-lint finds nothing; the task runs on
//! the CPU its image is built for; a rollout that cannot get healthy rolls back; every resource
//! is tagged; the JWT secret and the database URL are passed by reference where the tasks'
//! role may read them; the role
//! CloudFormation makes the stacks with may do what their resource types' handlers call, on
//! the names the template gives; and the project's README documents every parameter.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use kiln::generator::{generate_code, generate_readme};
use kiln::runner::{TEMPLATE_BODY_LIMIT, TEMPLATE_PATH};
use kiln::spec::AppSpec;
use kiln_integration_tests::{python_tool, run_in, show};
use serde_yaml::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn spec(name: &str) -> AppSpec {
    let path = repo().join(format!("tests/golden/specs/{name}.json"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The rendered template of a golden spec, as text.
fn template_text(spec_name: &str) -> String {
    generate_code(&spec(spec_name))
        .unwrap()
        .into_iter()
        .find(|f| f.path == TEMPLATE_PATH)
        .unwrap_or_else(|| panic!("{spec_name} has no {TEMPLATE_PATH}"))
        .contents
}

/// With authentication (a JWT secret) and without.
const WITH_AUTH: &str = "library_sqlite_auth";
const WITHOUT_AUTH: &str = "typed_tasks_in_memory";

fn template(spec_name: &str) -> Value {
    serde_yaml::from_str(&template_text(spec_name)).expect("the template is YAML")
}

fn installation() -> Value {
    serde_yaml::from_str(&std::fs::read_to_string(repo().join("infra/template.yaml")).unwrap())
        .unwrap()
}

/// The name of what `!Ref X` refers to.
fn reference(v: &Value) -> Option<&str> {
    match v {
        Value::Tagged(t) if t.tag == "Ref" => t.value.as_str(),
        _ => None,
    }
}

/// The text of a scalar or of a tagged scalar (`!Sub "…"`).
fn text_of(v: &Value) -> String {
    match v {
        Value::Tagged(t) => text_of(&t.value),
        Value::String(s) => s.clone(),
        other => serde_yaml::to_string(other).unwrap(),
    }
}

fn resources(t: &Value) -> Vec<(String, Value)> {
    t["Resources"]
        .as_mapping()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.as_str().unwrap().to_owned(), v.clone()))
        .collect()
}

fn of_type(t: &Value, ty: &str) -> Value {
    let found: Vec<Value> = resources(t)
        .into_iter()
        .filter(|(_, r)| r["Type"] == ty)
        .map(|(_, r)| r)
        .collect();
    assert_eq!(found.len(), 1, "one {ty}");
    found[0].clone()
}

#[test]
fn cfn_lint_finds_nothing_and_the_body_fits_a_request() {
    let dir = tempfile::tempdir().unwrap();
    for name in [WITH_AUTH, WITHOUT_AUTH, "notes_postgres", "hostile_name"] {
        let text = template_text(name);
        assert!(
            text.len() < TEMPLATE_BODY_LIMIT,
            "{name}: {} bytes",
            text.len()
        );
        let path = dir.path().join(format!("{name}.yaml"));
        std::fs::write(&path, &text).unwrap();
        let out = run_in(
            dir.path(),
            &python_tool("cfn-lint"),
            &[path.to_str().unwrap()],
        );
        assert!(out.status.success(), "{name}: {}", show(&out));
    }
}

/// Images are built on the installation's image project; the task asks Fargate for the same
/// CPU (without it Fargate pulls for X86_64 and an arm64 image cannot start).
#[test]
fn the_task_runs_on_the_architecture_its_image_is_built_for() {
    let builds_on = installation()["Resources"]["ImageProject"]["Properties"]["Environment"]
        ["Type"]
        .as_str()
        .unwrap()
        .to_owned();
    let wanted = match builds_on.as_str() {
        "ARM_CONTAINER" | "ARM_LAMBDA_CONTAINER" => "ARM64",
        "LINUX_CONTAINER" | "LINUX_LAMBDA_CONTAINER" => "X86_64",
        other => panic!("the image project builds on {other}"),
    };
    for name in [WITH_AUTH, WITHOUT_AUTH] {
        let task = of_type(&template(name), "AWS::ECS::TaskDefinition");
        let platform = &task["Properties"]["RuntimePlatform"];
        assert_eq!(platform["CpuArchitecture"], wanted, "{name}");
        assert_eq!(platform["OperatingSystemFamily"], "LINUX", "{name}");
        assert_eq!(
            task["Properties"]["RequiresCompatibilities"][0], "FARGATE",
            "{name}"
        );
    }
}

/// A version that cannot get healthy ends FAILED and ECS goes back to the last healthy one
/// (the stack update fails, and CloudFormation rolls back); a new version counts as healthy
/// after two checks 10 s apart, on the app's own health route under its prefix; a replaced
/// version drains for 30 s.
#[tokio::test]
async fn rollouts_that_cannot_get_healthy_roll_back() {
    let t = template(WITH_AUTH);
    let service = of_type(&t, "AWS::ECS::Service");
    let breaker = &service["Properties"]["DeploymentConfiguration"]["DeploymentCircuitBreaker"];
    assert_eq!(breaker["Enable"], true);
    assert_eq!(breaker["Rollback"], true);
    assert_eq!(service["Properties"]["LaunchType"], "FARGATE");
    assert_eq!(
        service["Properties"]["NetworkConfiguration"]["AwsvpcConfiguration"]["AssignPublicIp"],
        "DISABLED"
    );
    let group = of_type(&t, "AWS::ElasticLoadBalancingV2::TargetGroup");
    let p = &group["Properties"];
    assert_eq!(p["HealthCheckIntervalSeconds"], 10);
    assert_eq!(p["HealthyThresholdCount"], 2);
    assert_eq!(p["TargetType"], "ip", "awsvpc tasks register by address");
    assert_eq!(text_of(&p["HealthCheckPath"]), "${BasePath}/health");
    let attributes: BTreeMap<String, String> = p["TargetGroupAttributes"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|a| (text_of(&a["Key"]), text_of(&a["Value"])))
        .collect();
    assert_eq!(attributes["deregistration_delay.timeout_seconds"], "30");
    // The generated app answers that path: served under a prefix as the task serves it.
    let dir = tempfile::tempdir().unwrap();
    kiln_integration_tests::write_files(dir.path(), &generate_code(&spec(WITH_AUTH)).unwrap());
    // Only this test of the binary starts a process that reads it.
    std::env::set_var("BASE_PATH", "/kiln-0123456789ab-dev");
    let app = kiln_integration_tests::ServedApp::start(
        dir.path(),
        "a-secret-that-is-long-enough-for-the-app-0123456789",
    )
    .unwrap();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let health = client
        .get(format!("{}/kiln-0123456789ab-dev/health", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200, "{}", app.log());
    // The link Kiln gives out is the prefix with a slash: it lands somewhere that answers.
    let landing = client
        .get(format!("{}/kiln-0123456789ab-dev/", app.base))
        .send()
        .await
        .unwrap();
    assert!(
        landing.status().is_success() || landing.status().is_redirection(),
        "{}",
        landing.status()
    );
    // The rule sends the prefix and everything under it to the group.
    let rule = of_type(&t, "AWS::ElasticLoadBalancingV2::ListenerRule");
    let values: Vec<String> = rule["Properties"]["Conditions"][0]["PathPatternConfig"]["Values"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(text_of)
        .collect();
    assert_eq!(values, ["BasePath", "${BasePath}/*"]);
}

/// Every resource carries the project, environment and version as tags, from the parameters,
/// so a person finds a project's resources in the console (a listener rule only gets the
/// stack's tags: not every region takes tags on it in a template yet).
#[test]
fn every_resource_is_tagged_with_its_project_environment_and_version() {
    for name in [WITH_AUTH, WITHOUT_AUTH] {
        let t = template(name);
        for (id, r) in resources(&t) {
            if r["Type"] == "AWS::ElasticLoadBalancingV2::ListenerRule" {
                assert!(r["Properties"]["Tags"].is_null(), "{id}");
                continue;
            }
            let tags: BTreeMap<String, String> = r["Properties"]["Tags"]
                .as_sequence()
                .unwrap_or_else(|| panic!("{name}: {id} has no tags"))
                .iter()
                .map(|t| {
                    (
                        text_of(&t["Key"]),
                        reference(&t["Value"]).unwrap_or_default().to_owned(),
                    )
                })
                .collect();
            for (key, parameter) in [
                ("kiln:project", "ProjectId"),
                ("kiln:environment", "Environment"),
                ("kiln:version", "Version"),
            ] {
                assert_eq!(
                    tags.get(key).map(String::as_str),
                    Some(parameter),
                    "{name}: {id}"
                );
            }
        }
    }
}

/// With authentication, the app's JWT secret is made in the stack, under its name (the only
/// secrets the tasks' role may read), and reaches the container by reference, never as a
/// value; without authentication there is no secret.
#[test]
fn the_jwt_secret_is_passed_by_reference_where_the_tasks_may_read_it() {
    let t = template(WITH_AUTH);
    let secret = of_type(&t, "AWS::SecretsManager::Secret");
    let name = &secret["Properties"]["Name"];
    let pattern = match name {
        Value::Tagged(t) => t.value[0].as_str().unwrap().to_owned(),
        other => panic!("{other:?}"),
    };
    assert!(pattern.starts_with("${AWS::StackName}/"), "{pattern}");
    assert!(
        secret["Properties"]["GenerateSecretString"]["PasswordLength"]
            .as_u64()
            .is_some_and(|n| n >= 32)
    );
    let container =
        &of_type(&t, "AWS::ECS::TaskDefinition")["Properties"]["ContainerDefinitions"][0];
    let by_reference: Vec<(String, Option<&str>)> = container["Secrets"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|s| (text_of(&s["Name"]), reference(&s["ValueFrom"])))
        .filter(|(name, _)| name != "DATABASE_URL")
        .collect();
    assert_eq!(
        by_reference,
        [
            ("KILN_DATA_TOKEN".to_owned(), Some("DataTokenSecretArn")),
            ("JWT_SECRET".to_owned(), Some("JwtSecret"))
        ]
    );
    assert!(container["Environment"]
        .as_sequence()
        .unwrap()
        .iter()
        .all(|e| !["JWT_SECRET", "KILN_DATA_TOKEN"].contains(&text_of(&e["Name"]).as_str())));
    let reads = serde_yaml::to_string(
        &installation()["Resources"]["AppsExecutionRole"]["Properties"]["Policies"],
    )
    .unwrap();
    // Kiln's stacks are named kiln-<installation>-…, so their secrets fall under the read.
    assert!(
        reads.contains(":secret:kiln-${EnvironmentName}-*"),
        "{reads}"
    );

    let t = template(WITHOUT_AUTH);
    assert!(resources(&t)
        .iter()
        .all(|(_, r)| r["Type"] != "AWS::SecretsManager::Secret"));
    let container =
        &of_type(&t, "AWS::ECS::TaskDefinition")["Properties"]["ContainerDefinitions"][0];
    assert!(container["Secrets"].is_null());
}

/// An app with a database takes its `DATABASE_URL` from the secret the deployer names
/// (`DatabaseUrlSecretArn`, required), by reference, never as a value in the task
/// definition; an app without one is given no URL at all.
#[test]
fn the_database_url_is_passed_by_reference_and_never_as_a_value() {
    for name in [WITH_AUTH, "notes_postgres"] {
        let t = template(name);
        let parameter = &t["Parameters"]["DatabaseUrlSecretArn"];
        assert_eq!(parameter["Type"], "String", "{name}");
        assert!(
            parameter["Default"].is_null(),
            "{name}: the URL is required"
        );
        let container =
            &of_type(&t, "AWS::ECS::TaskDefinition")["Properties"]["ContainerDefinitions"][0];
        let urls: Vec<Option<&str>> = container["Secrets"]
            .as_sequence()
            .unwrap()
            .iter()
            .filter(|s| text_of(&s["Name"]) == "DATABASE_URL")
            .map(|s| reference(&s["ValueFrom"]))
            .collect();
        assert_eq!(urls, [Some("DatabaseUrlSecretArn")], "{name}");
        assert!(
            container["Environment"]
                .as_sequence()
                .unwrap()
                .iter()
                .all(|e| text_of(&e["Name"]) != "DATABASE_URL"),
            "{name}"
        );
    }
    let t = template_text(WITHOUT_AUTH);
    assert!(!t.contains("DATABASE_URL") && !t.contains("DatabaseUrlSecretArn"));
}

/// What CloudFormation's handlers call for each resource type the template uses (create, read,
/// update and delete), from the `handlers` of AWS's resource type schemas. A type the template
/// starts to use must be added here, and the stacks' role must grant it.
const HANDLER_PERMISSIONS: &[(&str, &[&str])] = &[
    (
        "AWS::ECS::TaskDefinition",
        &[
            "ecs:RegisterTaskDefinition",
            "ecs:DeregisterTaskDefinition",
            "ecs:DescribeTaskDefinition",
            "ecs:TagResource",
            "ecs:UntagResource",
            "ecs:ListTagsForResource",
            "iam:GetRole",
            "iam:PassRole",
        ],
    ),
    (
        "AWS::ECS::Service",
        &[
            "ecs:CreateService",
            "ecs:UpdateService",
            "ecs:DeleteService",
            "ecs:DescribeServices",
            "ecs:DescribeServiceDeployments",
            "ecs:ListServiceDeployments",
            "ecs:StopServiceDeployment",
            "ecs:TagResource",
            "ecs:UntagResource",
            "ecs:ListTagsForResource",
        ],
    ),
    (
        "AWS::ElasticLoadBalancingV2::TargetGroup",
        &[
            "elasticloadbalancing:CreateTargetGroup",
            "elasticloadbalancing:ModifyTargetGroup",
            "elasticloadbalancing:ModifyTargetGroupAttributes",
            "elasticloadbalancing:DeleteTargetGroup",
            "elasticloadbalancing:DescribeTargetGroups",
            "elasticloadbalancing:DescribeTargetGroupAttributes",
            "elasticloadbalancing:DescribeTargetHealth",
            "elasticloadbalancing:RegisterTargets",
            "elasticloadbalancing:DeregisterTargets",
            "elasticloadbalancing:AddTags",
            "elasticloadbalancing:RemoveTags",
            "elasticloadbalancing:DescribeTags",
        ],
    ),
    (
        "AWS::ElasticLoadBalancingV2::ListenerRule",
        &[
            "elasticloadbalancing:CreateRule",
            "elasticloadbalancing:ModifyRule",
            "elasticloadbalancing:SetRulePriorities",
            "elasticloadbalancing:DeleteRule",
            "elasticloadbalancing:DescribeRules",
            "elasticloadbalancing:AddTags",
            "elasticloadbalancing:RemoveTags",
            "elasticloadbalancing:DescribeTags",
        ],
    ),
    (
        "AWS::Logs::LogGroup",
        &[
            "logs:CreateLogGroup",
            "logs:DeleteLogGroup",
            "logs:DescribeLogGroups",
            "logs:PutRetentionPolicy",
            "logs:DeleteRetentionPolicy",
            "logs:TagResource",
            "logs:UntagResource",
            "logs:ListTagsForResource",
            "logs:GetDataProtectionPolicy",
            "logs:DescribeIndexPolicies",
            "logs:DescribeResourcePolicies",
        ],
    ),
    (
        "AWS::SecretsManager::Secret",
        &[
            "secretsmanager:CreateSecret",
            "secretsmanager:UpdateSecret",
            "secretsmanager:DeleteSecret",
            "secretsmanager:DescribeSecret",
            "secretsmanager:GetSecretValue",
            "secretsmanager:GetRandomPassword",
            "secretsmanager:TagResource",
            "secretsmanager:UntagResource",
        ],
    ),
    (
        "AWS::CloudWatch::Alarm",
        &[
            "cloudwatch:PutMetricAlarm",
            "cloudwatch:DeleteAlarms",
            "cloudwatch:DescribeAlarms",
            "cloudwatch:TagResource",
            "cloudwatch:UntagResource",
            "cloudwatch:ListTagsForResource",
        ],
    ),
];

/// The actions a role's inline policies allow, with the resource text of each.
fn role_grants(role: &str) -> BTreeMap<String, Vec<String>> {
    let t = installation();
    let policies = t["Resources"][role]["Properties"]["Policies"]
        .as_sequence()
        .unwrap_or_else(|| panic!("{role} has no policies"));
    let mut grants: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for policy in policies {
        for s in policy["PolicyDocument"]["Statement"].as_sequence().unwrap() {
            assert_eq!(s["Effect"], "Allow");
            let actions: Vec<String> = match &s["Action"] {
                Value::String(a) => vec![a.clone()],
                Value::Sequence(list) => list.iter().map(text_of).collect(),
                other => panic!("{other:?}"),
            };
            let resource = serde_yaml::to_string(&s["Resource"]).unwrap();
            for a in actions {
                grants.entry(a).or_default().push(resource.clone());
            }
        }
    }
    grants
}

/// CloudFormation makes the stacks with the installation's stack role: it may call what the
/// handlers of every resource type of the template call, the agents may pass it only to
/// CloudFormation, and the names the template gives (log groups, secrets, services) fall under
/// the resources it is scoped to.
#[test]
fn the_stacks_role_may_make_what_the_template_declares() {
    let known: BTreeMap<&str, &[&str]> = HANDLER_PERMISSIONS.iter().copied().collect();
    let grants = role_grants("AppStackRole");
    let mut types = BTreeSet::new();
    for name in [WITH_AUTH, WITHOUT_AUTH] {
        for (_, r) in resources(&template(name)) {
            types.insert(r["Type"].as_str().unwrap().to_owned());
        }
    }
    for ty in &types {
        let needs = known
            .get(ty.as_str())
            .unwrap_or_else(|| panic!("{ty}: which actions do its handlers call?"));
        for action in *needs {
            assert!(
                grants.contains_key(*action),
                "the stacks' role cannot {action}, which {ty} needs"
            );
        }
    }
    // Log groups and secrets are named under what the role may touch.
    let t = template(WITH_AUTH);
    assert_eq!(
        text_of(&of_type(&t, "AWS::Logs::LogGroup")["Properties"]["LogGroupName"]),
        "/kiln/apps/${AWS::StackName}"
    );
    assert!(grants["logs:CreateLogGroup"][0]
        .contains(":log-group:/kiln/apps/kiln-${EnvironmentName}-*"));
    assert!(grants["secretsmanager:CreateSecret"][0].contains(":secret:kiln-${EnvironmentName}-*"));
    assert!(grants["ecs:CreateService"][0]
        .contains(":service/${AppsCluster}/kiln-${EnvironmentName}-*"));
    // The role passes only the tasks' role, only to ECS.
    assert_eq!(grants["iam:PassRole"], ["!GetAtt AppsExecutionRole.Arn\n"]);

    // The stacks are this installation's: the prefix the code is given is the one the agents'
    // CloudFormation rights are scoped to, and only CloudFormation can be handed the role.
    let inst = installation();
    let prefix =
        text_of(&inst["Globals"]["Function"]["Environment"]["Variables"]["KILN_STACK_PREFIX"]);
    assert_eq!(prefix, "kiln-${EnvironmentName}");
    let agents =
        serde_yaml::to_string(&inst["Resources"]["AgentsFunction"]["Properties"]["Policies"])
            .unwrap();
    assert!(
        agents.contains(":stack/kiln-${EnvironmentName}-*/*"),
        "{agents}"
    );
    assert!(
        agents.contains("iam:PassedToService: cloudformation.amazonaws.com"),
        "{agents}"
    );
    let trust = serde_yaml::to_string(
        &inst["Resources"]["AppStackRole"]["Properties"]["AssumeRolePolicyDocument"],
    )
    .unwrap();
    assert!(
        trust.contains("Service: cloudformation.amazonaws.com"),
        "{trust}"
    );
}

/// The project's README lists every parameter of the template, once, and no other.
#[test]
fn the_readme_documents_every_parameter() {
    for name in [WITH_AUTH, WITHOUT_AUTH] {
        let s = spec(name);
        let readme = generate_readme(&s, &s.name).unwrap().contents;
        let section = readme
            .split("### Deploy it without Kiln")
            .nth(1)
            .unwrap_or_else(|| panic!("{name}: no section on deploying without Kiln"));
        let documented: Vec<String> = section
            .lines()
            .filter_map(|l| l.strip_prefix("| `"))
            .filter_map(|l| l.split('`').next())
            .map(str::to_owned)
            .collect();
        let t = template(name);
        let declared: Vec<String> = t["Parameters"]
            .as_mapping()
            .unwrap()
            .keys()
            .map(|k| k.as_str().unwrap().to_owned())
            .collect();
        assert_eq!(
            documented.iter().collect::<BTreeSet<_>>(),
            declared.iter().collect::<BTreeSet<_>>(),
            "{name}"
        );
        assert_eq!(documented.len(), declared.len(), "{name}: each once");
        // Required in the README exactly when the template gives no default.
        for line in section.lines().filter(|l| l.starts_with("| `")) {
            let parameter = line[3..].split('`').next().unwrap();
            let required = t["Parameters"][parameter]["Default"].is_null();
            assert_eq!(line.contains("| required |"), required, "{line}");
        }
    }
}
