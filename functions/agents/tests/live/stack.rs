//! What an installation's stacks hold, read with the AWS APIs: the installation's own outputs,
//! and what each project environment's stack made, and whether it is gone.

use std::collections::BTreeMap;

use aws_sdk_cloudformation::types::StackStatus;

/// The outputs of the installation's stack the walkthrough reads; `infra/template.yaml`
/// declares each one.
pub const OUTPUTS: [&str; 6] = [
    "ApiUrl",
    "AppsUrl",
    "UserPoolId",
    "UserPoolClientId",
    "SignInUrl",
    "AppStackPrefix",
];

/// The AWS clients the walkthrough uses, all on the installation's account and region.
#[derive(Clone)]
pub struct Clients {
    pub cloudformation: aws_sdk_cloudformation::Client,
    pub cognito: aws_sdk_cognitoidentityprovider::Client,
    pub ecs: aws_sdk_ecs::Client,
    pub elb: aws_sdk_elasticloadbalancingv2::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
}

impl Clients {
    pub fn new(sdk: &aws_config::SdkConfig) -> Clients {
        Clients {
            cloudformation: aws_sdk_cloudformation::Client::new(sdk),
            cognito: aws_sdk_cognitoidentityprovider::Client::new(sdk),
            ecs: aws_sdk_ecs::Client::new(sdk),
            elb: aws_sdk_elasticloadbalancingv2::Client::new(sdk),
            secrets: aws_sdk_secretsmanager::Client::new(sdk),
        }
    }
}

/// The installation as its stack's outputs describe it.
#[derive(Debug, Clone)]
pub struct Installation {
    /// `…/api/v2`, without a trailing slash.
    pub api: String,
    pub apps_url: String,
    pub user_pool: String,
    pub client: String,
    /// Cognito's managed login, `https://<prefix>.auth.<region>.amazoncognito.com`.
    pub sign_in_url: String,
    /// Every project environment's stack is named `{prefix}-{project}-{environment}`.
    pub stack_prefix: String,
}

/// Reads the outputs of the stack named `name`; each of [`OUTPUTS`] must be there.
pub async fn read_stack(
    cloudformation: &aws_sdk_cloudformation::Client,
    name: &str,
) -> Installation {
    let stacks = cloudformation
        .describe_stacks()
        .stack_name(name)
        .send()
        .await
        .unwrap_or_else(|e| panic!("describing the stack {name}: {e:?}"));
    let stack = stacks.stacks().first().expect("the stack exists");
    let outputs: BTreeMap<&str, &str> = stack
        .outputs()
        .iter()
        .filter_map(|o| Some((o.output_key()?, o.output_value()?)))
        .collect();
    let get = |key: &str| -> String {
        outputs
            .get(key)
            .unwrap_or_else(|| panic!("the stack {name} has no output {key}: {outputs:?}"))
            .to_string()
    };
    Installation {
        api: get("ApiUrl").trim_end_matches('/').to_owned(),
        apps_url: get("AppsUrl"),
        user_pool: get("UserPoolId"),
        client: get("UserPoolClientId"),
        sign_in_url: get("SignInUrl"),
        stack_prefix: get("AppStackPrefix"),
    }
}

/// A resource a project environment's stack made: its type and physical id.
#[derive(Debug, Clone)]
pub struct Made {
    pub kind: String,
    pub id: String,
}

/// The stacks of `project` (`{prefix}-{project}-…`) that exist now, with what each made.
pub async fn project_stacks(
    clients: &Clients,
    kiln: &Installation,
    project: &str,
) -> BTreeMap<String, Vec<Made>> {
    let prefix = format!("{}-{}-", kiln.stack_prefix, project.replace('-', ""));
    let mut names = Vec::new();
    let mut pages = clients.cloudformation.list_stacks().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.unwrap_or_else(|e| panic!("ListStacks: {e:?}"));
        for s in page.stack_summaries() {
            let name = s.stack_name().unwrap_or_default();
            if name.starts_with(&prefix) && s.stack_status() != Some(&StackStatus::DeleteComplete) {
                names.push(name.to_owned());
            }
        }
    }
    let mut stacks = BTreeMap::new();
    for name in names {
        let resources = clients
            .cloudformation
            .describe_stack_resources()
            .stack_name(&name)
            .send()
            .await
            .unwrap_or_else(|e| panic!("DescribeStackResources {name}: {e:?}"));
        let made = resources
            .stack_resources()
            .iter()
            .filter_map(|r| {
                Some(Made {
                    kind: r.resource_type()?.to_owned(),
                    id: r
                        .physical_resource_id()
                        .filter(|id| !id.is_empty())?
                        .to_owned(),
                })
            })
            .collect();
        stacks.insert(name, made);
    }
    stacks
}

/// Adds what the project's stacks have made now to `made`.
pub async fn note_made(
    clients: &Clients,
    kiln: &Installation,
    project: &str,
    made: &mut BTreeMap<String, Made>,
) {
    for m in project_stacks(clients, kiln, project)
        .await
        .into_values()
        .flatten()
    {
        made.insert(m.id.clone(), m);
    }
}

/// Whether the stack named `name` is gone: no longer described, or deleted.
pub async fn stack_gone(clients: &Clients, name: &str) -> bool {
    match clients
        .cloudformation
        .describe_stacks()
        .stack_name(name)
        .send()
        .await
    {
        Ok(out) => out
            .stacks()
            .iter()
            .all(|s| s.stack_status() == Some(&StackStatus::DeleteComplete)),
        Err(e) => {
            let text = format!("{e:?}");
            assert!(
                text.contains("does not exist"),
                "DescribeStacks {name}: {text}"
            );
            true
        }
    }
}

/// What is left of a resource a deleted stack made, if anything: `None` when it is gone.
pub async fn left_of(clients: &Clients, made: &Made) -> Option<String> {
    let id = made.id.as_str();
    match made.kind.as_str() {
        "AWS::ECS::Service" => {
            // arn:aws:ecs:{region}:{account}:service/{cluster}/{name}
            let cluster = id.split('/').nth(1).unwrap_or_default();
            let out = clients
                .ecs
                .describe_services()
                .cluster(cluster)
                .services(id)
                .send()
                .await
                .unwrap_or_else(|e| panic!("DescribeServices {id}: {e:?}"));
            out.services()
                .iter()
                .find(|s| s.status() != Some("INACTIVE"))
                .map(|s| format!("service {id} is {:?}", s.status()))
        }
        // Deleting the stack deregisters the revision; ECS keeps describing it as such.
        "AWS::ECS::TaskDefinition" => still_there(
            clients
                .ecs
                .describe_task_definition()
                .task_definition(id)
                .send()
                .await,
            |o| {
                o.task_definition()
                    .and_then(|t| t.status())
                    .is_some_and(|s| s.as_str() == "ACTIVE")
            },
            "ClientException",
            format!("active task definition {id}"),
        ),
        "AWS::ElasticLoadBalancingV2::TargetGroup" => still_there(
            clients
                .elb
                .describe_target_groups()
                .target_group_arns(id)
                .send()
                .await,
            |o| !o.target_groups().is_empty(),
            "TargetGroupNotFound",
            format!("target group {id}"),
        ),
        "AWS::ElasticLoadBalancingV2::ListenerRule" => still_there(
            clients.elb.describe_rules().rule_arns(id).send().await,
            |o| !o.rules().is_empty(),
            "RuleNotFound",
            format!("listener rule {id}"),
        ),
        "AWS::SecretsManager::Secret" => still_there(
            clients.secrets.describe_secret().secret_id(id).send().await,
            |o| o.deleted_date().is_none(),
            "ResourceNotFound",
            format!("secret {id}"),
        ),
        _ => None,
    }
}

/// `what` when a describe call found it and `present` says it is still in use; `None` when
/// it answered `gone` (the error AWS gives for what does not exist) or found it retired.
fn still_there<T, E: std::fmt::Debug>(
    out: Result<T, E>,
    present: impl Fn(&T) -> bool,
    gone: &str,
    what: String,
) -> Option<String> {
    match out {
        Ok(o) => present(&o).then_some(what),
        Err(e) => {
            let text = format!("{e:?}");
            // moto answers for a deregistered task definition with an empty log configuration,
            // which the SDK cannot read (AWS sends the whole definition): that one is retired.
            let retired_on_moto = text.contains(r#"\"status\": \"INACTIVE\""#);
            assert!(text.contains(gone) || retired_on_moto, "{text}");
            None
        }
    }
}
