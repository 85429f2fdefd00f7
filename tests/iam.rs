//! IAM, which moto does not enforce: the actions each AWS backend calls are derived from its
//! code (every `.operation()` of an AWS SDK client, by the SDK's own list of operations) and
//! compared with what the backend declares next to its code, both ways; then what each Lambda
//! runs is compared with what the template grants it, both ways, so a missing permission and
//! a permission nothing uses both fail.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use kiln::runner::{CodeBuildTestRunner, EcsDeployer, JobBucket};
use kiln::store::{DynamoStore, S3ArtifactStore};
use kiln::workflow::StepFunctionsWorkflow;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The operations of each AWS SDK crate the code uses, by IAM prefix, from the crates' own
/// sources (`src/operation/<name>/`) as resolved by `cargo metadata`.
fn sdk_operations() -> BTreeMap<&'static str, BTreeSet<String>> {
    let out = std::process::Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--locked"])
        .current_dir(repo())
        .output()
        .expect("cargo metadata");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let crates = [
        ("aws-sdk-dynamodb", "dynamodb"),
        ("aws-sdk-s3", "s3"),
        ("aws-sdk-sfn", "states"),
        ("aws-sdk-codebuild", "codebuild"),
        ("aws-sdk-ecr", "ecr"),
        ("aws-sdk-elasticloadbalancingv2", "elasticloadbalancing"),
        ("aws-sdk-cloudformation", "cloudformation"),
        ("aws-sdk-rdsdata", "rds-data"),
        ("aws-sdk-secretsmanager", "secretsmanager"),
        ("aws-sdk-bedrockruntime", "bedrock"),
        ("aws-sdk-cloudwatchlogs", "logs"),
    ];
    let mut ops = BTreeMap::new();
    for (name, prefix) in crates {
        let package = meta["packages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("{name} is not a dependency"));
        let dir = Path::new(package["manifest_path"].as_str().unwrap())
            .parent()
            .unwrap()
            .join("src/operation");
        let names: BTreeSet<String> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .filter_map(|e| e.ok())
            .filter(|e| e.path().is_dir())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        // The Data API has six operations; every other service more than ten.
        assert!(names.len() >= 6, "{name}: {names:?}");
        ops.insert(prefix, names);
    }
    ops
}

/// The kinds of item a DynamoDB transaction can hold, by the SDK builder that makes one, and
/// the IAM action each needs.
const TRANSACTION_ITEMS: &[(&str, &str)] = &[
    ("Put::builder()", "PutItem"),
    ("ConditionCheck::builder()", "ConditionCheckItem"),
    ("Update::builder()", "UpdateItem"),
    ("Delete::builder()", "DeleteItem"),
];

/// Whether the DynamoDB store's code builds a transaction item with `builder`.
fn uses_transaction_item(builder: &str) -> bool {
    let dir = repo().join("shared/src/store/dynamodb");
    std::fs::read_dir(&dir).unwrap().any(|e| {
        let text = std::fs::read_to_string(e.unwrap().path()).unwrap_or_default();
        text.contains(builder)
    })
}

/// The IAM actions a call of `op` on `prefix` needs, where they are not simply its name.
fn actions_of(prefix: &str, op: &str) -> Vec<String> {
    let named = |a: &str| format!("{prefix}:{a}");
    match (prefix, op) {
        // A read that tells a missing object from a refused one needs to list the bucket.
        ("s3", "get_object" | "head_object") => vec![named("GetObject"), named("ListBucket")],
        ("s3", "list_objects_v2") => vec![named("ListBucket")],
        // Bedrock authorises Converse as InvokeModel (its API reference says so).
        ("bedrock", "converse") => vec![named("InvokeModel")],
        ("bedrock", "converse_stream") => vec![named("InvokeModelWithResponseStream")],
        // IAM authorises each item of a transaction by its kind.
        ("dynamodb", "transact_write_items") => TRANSACTION_ITEMS
            .iter()
            .filter(|(builder, _)| uses_transaction_item(builder))
            .map(|(_, action)| named(action))
            .collect(),
        _ => {
            let pascal: String = op
                .split('_')
                .map(|w| {
                    let mut c = w.chars();
                    c.next()
                        .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                        .unwrap_or_default()
                })
                .collect();
            vec![named(&pascal)]
        }
    }
}

/// Every `.operation()` call on an SDK client in `files`, as IAM actions. `prefixes` are the
/// services the files use; a name several of them have is told apart by the client it is
/// called on (`self.ecs.describe_services()`).
fn derived(files: &[PathBuf], prefixes: &[&str]) -> BTreeSet<String> {
    let ops = sdk_operations();
    let receivers = [
        ("ecr", "ecr"),
        ("elb", "elasticloadbalancing"),
        ("codebuild", "codebuild"),
        ("cloudformation", "cloudformation"),
    ];
    let mut actions = BTreeSet::new();
    for file in files {
        let text = std::fs::read_to_string(file).unwrap();
        let mut rest = text.as_str();
        while let Some(at) = rest.find("()") {
            let before = &rest[..at];
            let start = before
                .rfind(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
                .map_or(0, |i| i + 1);
            let name = &before[start..];
            let called = start > 0 && before[..start].ends_with('.');
            rest = &rest[at + 2..];
            if !called || name.is_empty() {
                continue;
            }
            let services: Vec<&str> = prefixes
                .iter()
                .copied()
                .filter(|p| ops[p].contains(name))
                .collect();
            let service = match services.as_slice() {
                [] => continue,
                [one] => *one,
                several => {
                    let receiver = before[..start - 1]
                        .trim_end()
                        .rsplit(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                        .next()
                        .unwrap_or_default();
                    receivers
                        .iter()
                        .find(|(r, p)| *r == receiver && several.contains(p))
                        .map(|(_, p)| *p)
                        .unwrap_or_else(|| {
                            panic!(
                                "{}: `.{name}()` on `{receiver}` is one of {several:?}",
                                file.display()
                            )
                        })
                }
            };
            actions.extend(actions_of(service, name));
        }
    }
    actions
}

fn files(paths: &[&str]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for p in paths {
        let path = repo().join(p);
        if path.is_dir() {
            for e in std::fs::read_dir(&path).unwrap() {
                let f = e.unwrap().path();
                if f.extension().is_some_and(|x| x == "rs") {
                    out.push(f);
                }
            }
        } else {
            out.push(path);
        }
    }
    out
}

fn set(actions: &[&str]) -> BTreeSet<String> {
    actions.iter().map(|a| a.to_string()).collect()
}

/// A backend: its name, the actions it declares, its sources, the services they call, and the
/// declared actions a call implies without naming them.
type Case = (
    &'static str,
    BTreeSet<String>,
    Vec<PathBuf>,
    Vec<&'static str>,
    Vec<&'static str>,
);

/// What each backend declares is what its code calls: nothing called goes undeclared, and
/// nothing declared is not called (apart from what a call implies and no name shows).
#[test]
fn every_backend_declares_the_actions_its_code_calls() {
    let cases: Vec<Case> = vec![
        (
            "DynamoStore",
            set(DynamoStore::IAM_ACTIONS),
            files(&["shared/src/store/dynamodb"]),
            vec!["dynamodb"],
            vec![],
        ),
        (
            "S3ArtifactStore",
            set(S3ArtifactStore::IAM_ACTIONS),
            files(&["shared/src/store/s3.rs", "shared/src/aws.rs"]),
            vec!["s3"],
            vec![],
        ),
        (
            "JobBucket",
            set(JobBucket::IAM_ACTIONS),
            files(&["shared/src/runner/bucket.rs", "shared/src/aws.rs"]),
            vec!["s3"],
            vec![],
        ),
        (
            "CodeBuildTestRunner",
            set(CodeBuildTestRunner::IAM_ACTIONS),
            files(&["shared/src/runner/codebuild.rs"]),
            vec!["codebuild"],
            vec![],
        ),
        (
            "EcsDeployer",
            set(EcsDeployer::IAM_ACTIONS_TO_DEPLOY)
                .union(&set(EcsDeployer::IAM_ACTIONS_TO_TEAR_DOWN))
                .cloned()
                .collect::<BTreeSet<String>>()
                .union(&set(EcsDeployer::IAM_ACTIONS_TO_MOVE_DATA))
                .cloned()
                .collect::<BTreeSet<String>>()
                .union(&set(EcsDeployer::IAM_ACTIONS_TO_READ_LOGS))
                .cloned()
                .collect(),
            files(&["shared/src/runner/ecs"]),
            vec![
                "ecr",
                "elasticloadbalancing",
                "cloudformation",
                "rds-data",
                "secretsmanager",
                "logs",
            ],
            // Making a stack with the stacks' role needs PassRole; making a secret with tags
            // needs TagResource.
            vec!["iam:PassRole", "secretsmanager:TagResource"],
        ),
        (
            "Understander",
            set(kiln::understand::IAM_ACTIONS),
            files(&["shared/src/understand"]),
            vec!["bedrock", "secretsmanager"],
            vec![],
        ),
        (
            "StepFunctionsWorkflow",
            set(StepFunctionsWorkflow::IAM_ACTIONS),
            files(&["shared/src/workflow/step_functions.rs"]),
            vec!["states"],
            vec![],
        ),
    ];
    for (backend, declared, sources, prefixes, implied) in cases {
        let called = derived(&sources, &prefixes);
        let undeclared: Vec<&String> = called.difference(&declared).collect();
        assert!(
            undeclared.is_empty(),
            "{backend} calls {undeclared:?} without declaring them"
        );
        let unused: Vec<&String> = declared
            .iter()
            .filter(|a| !called.contains(*a) && !implied.contains(&a.as_str()))
            .collect();
        assert!(
            unused.is_empty(),
            "{backend} declares {unused:?}, which its code does not call"
        );
    }
}

/// The actions a function's policy statements grant (`Effect: Allow`).
fn granted(function: &str) -> BTreeSet<String> {
    let template: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(repo().join("infra/template.yaml")).unwrap())
            .unwrap();
    let policies = template["Resources"][function]["Properties"]["Policies"]
        .as_sequence()
        .unwrap_or_else(|| panic!("{function} has no policies"));
    let mut actions = BTreeSet::new();
    for policy in policies {
        let statements = policy["Statement"].as_sequence().unwrap_or_else(|| {
            panic!("{function}: {policy:?} is not a statement list (SAM's policy templates grant more than the code calls)")
        });
        for s in statements {
            assert_eq!(s["Effect"], "Allow", "{function}: {s:?}");
            match &s["Action"] {
                serde_yaml::Value::String(a) => {
                    actions.insert(a.clone());
                }
                serde_yaml::Value::Sequence(list) => {
                    actions.extend(list.iter().map(|a| a.as_str().unwrap().to_owned()));
                }
                other => panic!("{function}: action {other:?}"),
            }
        }
    }
    actions
}

/// Each function's policy grants exactly what the code it runs calls: the api function serves
/// the API (the store, the artifacts, starting runs, taking a deleted project's deployments
/// and databases down, moving an environment's data, and reading an app's log); the agents function runs the steps (the store, the
/// artifacts, the runners' bucket, CodeBuild, and deploying with the apps' databases, never
/// deleting). Both read the data key's data.
#[test]
fn each_function_is_granted_exactly_what_its_code_calls() {
    let data_key = ["kms:Decrypt", "kms:GenerateDataKey"];
    let union = |parts: &[&[&str]]| -> BTreeSet<String> {
        parts
            .iter()
            .flat_map(|p| p.iter().map(|a| a.to_string()))
            .collect()
    };
    let api = union(&[
        DynamoStore::IAM_ACTIONS,
        S3ArtifactStore::IAM_ACTIONS,
        StepFunctionsWorkflow::IAM_ACTIONS,
        EcsDeployer::IAM_ACTIONS_TO_TEAR_DOWN,
        EcsDeployer::IAM_ACTIONS_TO_MOVE_DATA,
        EcsDeployer::IAM_ACTIONS_TO_READ_LOGS,
        &data_key,
    ]);
    let agents = union(&[
        DynamoStore::IAM_ACTIONS,
        S3ArtifactStore::IAM_ACTIONS,
        JobBucket::IAM_ACTIONS,
        CodeBuildTestRunner::IAM_ACTIONS,
        EcsDeployer::IAM_ACTIONS_TO_DEPLOY,
        kiln::understand::IAM_ACTIONS,
        &data_key,
    ]);
    for (function, needs) in [("ApiFunction", api), ("AgentsFunction", agents)] {
        let has = granted(function);
        let missing: Vec<&String> = needs.difference(&has).collect();
        let extra: Vec<&String> = has.difference(&needs).collect();
        assert!(
            missing.is_empty(),
            "{function} is not granted {missing:?}, which its code calls"
        );
        assert!(
            extra.is_empty(),
            "{function} is granted {extra:?}, which its code never calls"
        );
    }
}

/// The apps' tasks start with the execution role, and ECS reads each app's JWT secret with it:
/// the role may read the secrets this installation's stacks make (named under the stack,
/// `kiln-<installation>-…`), and only those.
#[test]
fn the_tasks_role_reads_the_apps_secrets() {
    let template: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(repo().join("infra/template.yaml")).unwrap())
            .unwrap();
    let policies = template["Resources"]["AppsExecutionRole"]["Properties"]["Policies"]
        .as_sequence()
        .expect("the tasks' role has its own policy");
    let reads: Vec<String> = policies
        .iter()
        .flat_map(|p| {
            p["PolicyDocument"]["Statement"]
                .as_sequence()
                .unwrap()
                .clone()
        })
        .filter(|s| s["Action"] == "secretsmanager:GetSecretValue")
        .map(|s| serde_yaml::to_string(&s["Resource"]).unwrap())
        .collect();
    assert_eq!(reads.len(), 1, "{reads:?}");
    assert!(
        reads[0]
            .trim_end()
            .ends_with(":secret:kiln-${EnvironmentName}-*"),
        "{}",
        reads[0]
    );
}

/// Actions that take no resource narrower than `*` (AWS's Service Authorization Reference
/// lists no resource type for them).
const ONLY_ON_EVERYTHING: &[&str] = &[
    "ecs:RegisterTaskDefinition",
    "ecs:DeregisterTaskDefinition",
    "ecs:DescribeTaskDefinition",
    "ec2:DescribeSubnets",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeVpcs",
    "elasticloadbalancing:DescribeRules",
    "elasticloadbalancing:DescribeTargetGroups",
    "elasticloadbalancing:DescribeTargetGroupAttributes",
    "elasticloadbalancing:DescribeTags",
    "elasticloadbalancing:DescribeTargetHealth",
    "logs:DescribeLogGroups",
    "logs:DescribeResourcePolicies",
    "secretsmanager:GetRandomPassword",
    "ecr:GetAuthorizationToken",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
];

/// ARNs that cannot carry the installation's name, and why.
const UNNAMEABLE: &[&str] = &[
    // A Bedrock model (or a system inference profile) is AWS's, named by its id: the agents
    // function may invoke the one configured, no other.
    "arn:${AWS::Partition}:bedrock:${AWS::Region}::foundation-model/${LlmModel}",
    "arn:${AWS::Partition}:bedrock:${AWS::Region}:${AWS::AccountId}:inference-profile/${LlmModel}",
    // CloudFormation names each app's target group from a cut stack name (32 characters leave
    // no room for the installation's): the stacks' role may touch target groups by any name.
    "arn:${AWS::Partition}:elasticloadbalancing:${AWS::Region}:${AWS::AccountId}:targetgroup/*",
];

/// Every IAM statement of the installation names only its own things: a resource of the
/// template itself (`!Ref`, `!GetAtt`, `${Resource…}`), or an ARN with the installation's
/// name (`${EnvironmentName}`) in it, so two installations in one account cannot touch each
/// other's; `*` only for actions that take nothing narrower. (A KMS key's policy names the key
/// it is attached to as `*`.)
#[test]
fn every_arn_is_scoped_to_the_installation() {
    let text = std::fs::read_to_string(repo().join("infra/template.yaml")).unwrap();
    let template: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    let resources = template["Resources"].as_mapping().unwrap();
    let is_ours = |name: &str| resources.contains_key(serde_yaml::Value::from(name));
    fn statements(v: &serde_yaml::Value, out: &mut Vec<serde_yaml::Value>) {
        match v {
            serde_yaml::Value::Mapping(m) => {
                if m.contains_key("Effect") && m.contains_key("Action") {
                    out.push(v.clone());
                }
                for (_, x) in m {
                    statements(x, out);
                }
            }
            serde_yaml::Value::Sequence(s) => s.iter().for_each(|x| statements(x, out)),
            serde_yaml::Value::Tagged(t) => statements(&t.value, out),
            _ => {}
        }
    }
    let mut problems = Vec::new();
    for (name, resource) in resources {
        if resource["Type"] == "AWS::KMS::Key" {
            continue;
        }
        let mut found = Vec::new();
        statements(resource, &mut found);
        for s in found {
            let actions: Vec<String> = match &s["Action"] {
                serde_yaml::Value::String(a) => vec![a.clone()],
                serde_yaml::Value::Sequence(l) => {
                    l.iter().map(|a| a.as_str().unwrap().to_owned()).collect()
                }
                other => panic!("{other:?}"),
            };
            let targets: Vec<serde_yaml::Value> = match &s["Resource"] {
                serde_yaml::Value::Sequence(l) => l.clone(),
                serde_yaml::Value::Null => continue,
                one => vec![one.clone()],
            };
            for target in targets {
                let fine = match &target {
                    serde_yaml::Value::String(star) if star == "*" => actions
                        .iter()
                        .all(|a| ONLY_ON_EVERYTHING.contains(&a.as_str())),
                    serde_yaml::Value::Tagged(t) if t.tag == "Ref" || t.tag == "GetAtt" => {
                        let named = t.value.as_str().unwrap_or_default();
                        is_ours(named.split('.').next().unwrap())
                    }
                    serde_yaml::Value::Tagged(t) if t.tag == "Sub" => {
                        let arn = t.value.as_str().unwrap_or_default();
                        // A `${Resource}` or `${Resource.Attribute}` of the template in it.
                        let names_ours = arn
                            .split("${")
                            .skip(1)
                            .any(|r| r.split(['.', '}']).next().is_some_and(is_ours));
                        names_ours
                            || arn.contains("${EnvironmentName}")
                            || UNNAMEABLE.contains(&arn)
                    }
                    _ => false,
                };
                if !fine {
                    problems.push(format!("{name:?}: {actions:?} on {target:?}"));
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "not scoped to the installation:\n{}",
        problems.join("\n")
    );
}
