//! A Kiln installation on moto that the walkthrough reaches the way it reaches one on AWS:
//! through the outputs of a CloudFormation stack, Cognito's admin API, an HTTP API and a load
//! balancer. moto runs the AWS services it models (CloudFormation, Cognito, DynamoDB, S3, Step
//! Functions' API, CodeBuild's API, ECR, ECS, ELB); what it does not run, these stand in for,
//! each doing only what the AWS service does with Kiln's own code:
//!
//! - **API Gateway** (HTTP API, `$default` stage): an HTTP server with the template's routes
//!   (its `AWS::ApiGatewayV2::Route`s: `ANY /api/v2/{proxy+}` behind the Cognito JWT
//!   authorizer, `GET /healthz` and `GET /api/v2/auth/config` open). It checks the bearer
//!   token as the template's JWT authorizer does (RS256 signature by the pool's published
//!   key, its issuer, its audience (or client id), expiry; `401 {"message":
//!   "Unauthorized"}` otherwise), turns the request into the v2.0 event API Gateway sends,
//!   with the token's claims, and hands it to the api Lambda's own application. Anything
//!   else is API Gateway's `404 {"message":"Not Found"}`.
//! - **Step Functions' executions**: moto records StartExecution and runs nothing; a poller
//!   runs each new execution's input through the pipeline definition with Kiln's interpreter,
//!   every Task invoking the agents Lambda's handler (`installation::Installation`, which also
//!   plays CodeBuild's test builds with real pytest). Waits are scaled to a hundredth.
//! - **The load balancer and Fargate**: an HTTP server at the installation's apps URL. For
//!   each request it reads the listener's rules from moto (lowest priority first, path
//!   patterns), the ECS service registered with the matched rule's target group, and that
//!   service's task definition; it runs the image the task definition names (`{repository}:v{N}`
//!   of a project) as the image build made it: the source the build was started with, under
//!   uvicorn, with the container's environment, and forwards the request to it. A new task
//!   definition (a rollout, a rollback) starts a new process; the old one stops.
//! - **CloudFormation's deletions**: moto deletes a stack without deleting the ECS service,
//!   task definitions, listener rule and target group it made. A watcher notes what each app stack has made
//!   and, once the stack is deleted, deletes those as CloudFormation would.
//!
//! The installation's own stack is not made from `infra/template.yaml` on moto: moto's
//! CloudFormation runs no SAM transform, and skips, with a warning, every resource type it has
//! no model for, among them all of `AWS::ApiGatewayV2::*`, `AWS::Cognito::*` and
//! `AWS::CloudFront::*`. It is a stack with one marker resource and the outputs the
//! walkthrough reads; the stand-ins take their routes, authorizer and user pool settings from
//! the template itself.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use serde_json::{json, Value};

use crate::installation::{installation_where, Installation};
use crate::walkthrough::OUTPUTS;

mod balancer;
mod gateway;

use balancer::{balancer_call, Balancer};
use gateway::{gateway_call, Gateway};

/// The installation on moto and its stand-ins, which stop when it is dropped.
pub struct OnMoto {
    /// The stack whose outputs describe the installation.
    pub stack: String,
    /// The agents, their settings and the moto server.
    pub agents: Arc<Installation>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for OnMoto {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// The prefix of the stand-in's user pool domain.
const SIGN_IN_PREFIX: &str = "kiln-on-moto";

fn template() -> serde_yaml::Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../infra/template.yaml");
    serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Starts it all: moto with Kiln's table, bucket, VPC and listener (`installation`), the
/// pipeline's state machine, the user pool and its web client as the template declares them,
/// the stand-ins, and a stack `kiln-live` whose outputs name them.
pub async fn start() -> OnMoto {
    let gateway_socket = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let balancer_socket = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let apps_url = format!("http://{}", balancer_socket.local_addr().unwrap());
    let api_url = format!("http://{}/api/v2", gateway_socket.local_addr().unwrap());
    let agents = Arc::new(
        installation_where(|c| {
            c.aws.apps_url = Some(apps_url.clone());
        })
        .await,
    );
    let sdk = agents.sdk.clone();
    let template = template();

    // The pipeline's state machine, for StartExecution to find.
    let sfn = aws_sdk_sfn::Client::new(&sdk);
    let machine = sfn
        .create_state_machine()
        .name("kiln")
        .definition(kiln::workflow::PIPELINE_JSON.replace(
            "${AgentsFunctionArn}",
            "arn:aws:lambda:us-east-1:123456789012:function:kiln-agents",
        ))
        .role_arn("arn:aws:iam::123456789012:role/kiln-states")
        .send()
        .await
        .unwrap()
        .state_machine_arn;
    assert_eq!(Some(&machine), agents.config.state_machine_arn.as_ref());

    let (pool, client) = user_pool(&sdk, &template).await;
    // moto has no user pool domains: the stand-in's managed login is named, never visited.
    let sign_in_url = format!("https://{SIGN_IN_PREFIX}.auth.us-east-1.amazoncognito.com");
    let gateway = Gateway::new(&agents, &template, &pool, &client, SIGN_IN_PREFIX).await;
    let balancer = Balancer::new(&agents);

    let mut tasks = vec![
        tokio::spawn(serve(
            gateway_socket,
            Router::new().fallback(gateway_call).with_state(gateway),
        )),
        tokio::spawn(serve(
            balancer_socket,
            Router::new().fallback(balancer_call).with_state(balancer),
        )),
        tokio::spawn(executions(sfn, machine, Arc::clone(&agents))),
        tokio::spawn(deletions(
            sdk.clone(),
            agents.config.aws.stack_prefix.clone().unwrap(),
        )),
    ];
    tasks.shrink_to_fit();

    let stack = "kiln-live".to_owned();
    let outputs: BTreeMap<&str, String> = OUTPUTS
        .iter()
        .map(|&key| {
            let value = match key {
                "ApiUrl" => api_url.clone(),
                "AppsUrl" => apps_url.clone(),
                "UserPoolId" => pool.clone(),
                "UserPoolClientId" => client.clone(),
                "SignInUrl" => sign_in_url.clone(),
                "AppStackPrefix" => agents.config.aws.stack_prefix.clone().unwrap(),
                other => panic!("the stand-in has no value for the output {other}"),
            };
            (key, value)
        })
        .collect();
    let body = json!({
        "Resources": {"Marker": {"Type": "AWS::S3::Bucket"}},
        "Outputs": outputs.iter().map(|(k, v)| (k.to_string(), json!({"Value": v}))).collect::<serde_json::Map<_, _>>(),
    });
    aws_sdk_cloudformation::Client::new(&sdk)
        .create_stack()
        .stack_name(&stack)
        .template_body(body.to_string())
        .send()
        .await
        .unwrap();
    OnMoto {
        stack,
        agents,
        tasks,
    }
}

async fn serve(socket: tokio::net::TcpListener, app: Router) {
    axum::serve(socket, app).await.unwrap();
}

/// The template's user pool and web client, with the properties that change who may sign in
/// and how.
async fn user_pool(sdk: &aws_config::SdkConfig, template: &serde_yaml::Value) -> (String, String) {
    use aws_sdk_cognitoidentityprovider::types::{
        AdminCreateUserConfigType, ExplicitAuthFlowsType, PasswordPolicyType, UserPoolPolicyType,
        UsernameAttributeType,
    };
    let cognito = aws_sdk_cognitoidentityprovider::Client::new(sdk);
    let pool = &template["Resources"]["UserPool"]["Properties"];
    let policy = &pool["Policies"]["PasswordPolicy"];
    let flag = |k: &str| policy[k].as_bool().unwrap();
    assert_eq!(
        pool["UsernameAttributes"],
        serde_yaml::from_str::<serde_yaml::Value>("[email]").unwrap()
    );
    let id = cognito
        .create_user_pool()
        .pool_name("kiln-test")
        .username_attributes(UsernameAttributeType::Email)
        .admin_create_user_config(
            AdminCreateUserConfigType::builder()
                .allow_admin_create_user_only(true)
                .build(),
        )
        .policies(
            UserPoolPolicyType::builder()
                .password_policy(
                    PasswordPolicyType::builder()
                        .minimum_length(policy["MinimumLength"].as_i64().unwrap() as i32)
                        .require_lowercase(flag("RequireLowercase"))
                        .require_numbers(flag("RequireNumbers"))
                        .require_symbols(flag("RequireSymbols"))
                        .require_uppercase(flag("RequireUppercase"))
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap()
        .user_pool
        .unwrap()
        .id
        .unwrap();
    let web = &template["Resources"]["UserPoolClient"]["Properties"];
    let flows: Vec<ExplicitAuthFlowsType> = web["ExplicitAuthFlows"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|f| ExplicitAuthFlowsType::from(f.as_str().unwrap()))
        .collect();
    let client = cognito
        .create_user_pool_client()
        .user_pool_id(&id)
        .client_name(web["ClientName"].as_str().unwrap())
        .generate_secret(false)
        .set_explicit_auth_flows(Some(flows))
        .send()
        .await
        .unwrap()
        .user_pool_client
        .unwrap()
        .client_id
        .unwrap();
    (id, client)
}

// ------------------------------------------------------------------- Step Functions

/// Runs every execution moto records for `machine`, once, as Step Functions would.
async fn executions(sfn: aws_sdk_sfn::Client, machine: String, agents: Arc<Installation>) {
    let mut seen = HashSet::new();
    loop {
        let listed = sfn
            .list_executions()
            .state_machine_arn(&machine)
            .send()
            .await
            .unwrap();
        for execution in listed.executions() {
            let arn = execution.execution_arn().to_owned();
            if !seen.insert(arn.clone()) {
                continue;
            }
            let described = sfn
                .describe_execution()
                .execution_arn(&arn)
                .send()
                .await
                .unwrap();
            let input: Value = serde_json::from_str(described.input().unwrap_or("{}")).unwrap();
            let agents = Arc::clone(&agents);
            tokio::spawn(async move {
                let _ended = kiln::workflow::asl::execute(
                    &kiln::workflow::pipeline(),
                    input,
                    agents.as_ref(),
                    kiln::workflow::asl::Options { time_scale: 0.01 },
                    None,
                )
                .await;
            });
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

// ------------------------------------------------------------------- CloudFormation

/// Deletes what each deleted app stack (named `{prefix}-…`) made, as CloudFormation does and
/// moto does not: services (and their task definitions), then listener rules, then target
/// groups.
async fn deletions(sdk: aws_config::SdkConfig, prefix: String) {
    use aws_sdk_cloudformation::types::StackStatus;
    let cloudformation = aws_sdk_cloudformation::Client::new(&sdk);
    let ecs = aws_sdk_ecs::Client::new(&sdk);
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&sdk);
    // What each stack, by id, has made: (type, physical id).
    let mut made: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    loop {
        let Ok(stacks) = cloudformation.list_stacks().send().await else {
            return;
        };
        for summary in stacks.stack_summaries() {
            let (Some(id), Some(name)) = (summary.stack_id(), summary.stack_name()) else {
                continue;
            };
            if !name.starts_with(&format!("{prefix}-")) {
                continue;
            }
            if summary.stack_status() != Some(&StackStatus::DeleteComplete) {
                if let Ok(resources) = cloudformation
                    .describe_stack_resources()
                    .stack_name(name)
                    .send()
                    .await
                {
                    let seen = made.entry(id.to_owned()).or_default();
                    for r in resources.stack_resources() {
                        if let (Some(kind), Some(physical)) =
                            (r.resource_type(), r.physical_resource_id())
                        {
                            seen.insert(physical.to_owned(), kind.to_owned());
                        }
                    }
                }
                continue;
            }
            let Some(resources) = made.remove(id) else {
                continue;
            };
            for (physical, kind) in &resources {
                if kind == "AWS::ECS::Service" {
                    let cluster = physical.split('/').nth(1).unwrap_or_default();
                    let _ = ecs
                        .delete_service()
                        .cluster(cluster)
                        .service(physical)
                        .force(true)
                        .send()
                        .await;
                }
                if kind == "AWS::ECS::TaskDefinition" {
                    // Deregistered, as CloudFormation leaves it; then deleted, since moto
                    // answers DescribeTaskDefinition on a revision its updates made with a
                    // container the SDK cannot read.
                    let _ = ecs
                        .deregister_task_definition()
                        .task_definition(physical)
                        .send()
                        .await;
                    let _ = ecs
                        .delete_task_definitions()
                        .task_definitions(physical)
                        .send()
                        .await;
                }
            }
            for (physical, kind) in &resources {
                if kind == "AWS::ElasticLoadBalancingV2::ListenerRule" {
                    let _ = elb.delete_rule().rule_arn(physical).send().await;
                }
            }
            for (physical, kind) in &resources {
                if kind == "AWS::ElasticLoadBalancingV2::TargetGroup" {
                    let _ = elb
                        .delete_target_group()
                        .target_group_arn(physical)
                        .send()
                        .await;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
