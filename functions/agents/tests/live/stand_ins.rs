//! A Kiln installation on moto that the walkthrough reaches the way it reaches one on AWS:
//! through the outputs of a CloudFormation stack, Cognito's admin API, an HTTP API and a load
//! balancer. moto runs the AWS services it models (CloudFormation, Cognito, DynamoDB, S3, Step
//! Functions' API, CodeBuild's API, ECR, ECS, ELB); what it does not run, these stand in for,
//! each doing only what the AWS service does with Kiln's own code:
//!
//! - **API Gateway** (HTTP API, `$default` stage): an HTTP server with the routes the template
//!   gives the api function (`ANY /api/v2/{proxy+}` behind the Cognito JWT authorizer, `GET
//!   /healthz` open). It checks the bearer token as the JWT authorizer does (RS256 signature
//!   by the pool's published key, issuer, audience or client id, expiry; `401 {"message":
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

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use base64::Engine;
use kiln_integration_tests::ServedApp;
use serde_json::{json, Value};
use tower::ServiceExt;

use crate::installation::{installation_where, Installation};
use crate::walkthrough::OUTPUTS;

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
    let gateway = Gateway::new(&agents, &template, &pool, &client).await;
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

// ------------------------------------------------------------------- API Gateway

/// A route of the HTTP API: method (`ANY` for all), path (`{proxy+}` for the rest) and
/// whether the JWT authorizer guards it.
#[derive(Debug, Clone)]
struct Route {
    method: String,
    path: String,
    authorized: bool,
}

impl Route {
    fn matches(&self, method: &str, path: &str) -> bool {
        let method_ok = self.method == "ANY" || self.method.eq_ignore_ascii_case(method);
        let path_ok = match self.path.strip_suffix("{proxy+}") {
            Some(prefix) => path.len() > prefix.len() && path.starts_with(prefix),
            None => path == self.path,
        };
        method_ok && path_ok
    }
}

/// The routes `infra/template.yaml` gives the api function, and whether each is authorized;
/// as API Gateway matches them, exact paths before a greedy `{proxy+}`.
fn routes(template: &serde_yaml::Value) -> Vec<Route> {
    let api = &template["Resources"]["ApiFunction"]["Properties"]["Events"];
    let mut routes: Vec<Route> = api
        .as_mapping()
        .unwrap()
        .values()
        .filter(|e| e["Type"] == "HttpApi")
        .map(|e| Route {
            method: e["Properties"]["Method"].as_str().unwrap().to_owned(),
            path: e["Properties"]["Path"].as_str().unwrap().to_owned(),
            authorized: e["Properties"]["Auth"]["Authorizer"].as_str() != Some("NONE"),
        })
        .collect();
    routes.sort_by_key(|r| r.path.ends_with("{proxy+}"));
    routes
}

struct Gateway {
    app: Router,
    routes: Vec<Route>,
    issuer: String,
    audience: String,
    /// The pool's signing keys by key id: (modulus, exponent).
    keys: BTreeMap<String, (Vec<u8>, Vec<u8>)>,
}

impl Gateway {
    async fn new(
        agents: &Installation,
        template: &serde_yaml::Value,
        pool: &str,
        client: &str,
    ) -> Arc<Gateway> {
        let state = kiln::backends::aws_state_with(&agents.config, &agents.sdk)
            .await
            .unwrap();
        // What the authorizer reads from `{issuer}/.well-known/jwks.json`; moto serves it on
        // its own address.
        let jwks: Value = reqwest::get(format!(
            "{}/{pool}/.well-known/jwks.json",
            agents.moto.endpoint
        ))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
        let b64 = |v: &Value| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(v.as_str().unwrap())
                .unwrap()
        };
        let keys = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|k| k["kty"] == "RSA")
            .map(|k| {
                (
                    k["kid"].as_str().unwrap().to_owned(),
                    (b64(&k["n"]), b64(&k["e"])),
                )
            })
            .collect();
        Arc::new(Gateway {
            app: kiln_api_function::app(state),
            routes: routes(template),
            issuer: format!("https://cognito-idp.us-east-1.amazonaws.com/{pool}"),
            audience: client.to_owned(),
            keys,
        })
    }

    /// The token's claims when the JWT authorizer would take it.
    fn claims(&self, authorization: Option<&str>) -> Option<serde_json::Map<String, Value>> {
        let token = authorization?.strip_prefix("Bearer ")?;
        let parts: Vec<&str> = token.split('.').collect();
        let [header, payload, signature] = parts[..] else {
            return None;
        };
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let header: Value = serde_json::from_slice(&b64.decode(header).ok()?).ok()?;
        if header["alg"] != "RS256" {
            return None;
        }
        let (n, e) = self.keys.get(header["kid"].as_str()?)?;
        ring::signature::RsaPublicKeyComponents { n, e }
            .verify(
                &ring::signature::RSA_PKCS1_2048_8192_SHA256,
                format!("{}.{payload}", parts[0]).as_bytes(),
                &b64.decode(signature).ok()?,
            )
            .ok()?;
        let claims: serde_json::Map<String, Value> =
            serde_json::from_slice(&b64.decode(payload).ok()?).ok()?;
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let audience_ok = claims.get("aud").and_then(Value::as_str) == Some(self.audience.as_str())
            || claims.get("client_id").and_then(Value::as_str) == Some(self.audience.as_str());
        (claims.get("iss").and_then(Value::as_str) == Some(self.issuer.as_str())
            && claims
                .get("exp")
                .and_then(Value::as_i64)
                .is_some_and(|exp| exp > now)
            && audience_ok)
            .then_some(claims)
    }
}

fn gateway_error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({ "message": message }))).into_response()
}

async fn gateway_call(State(gw): State<Arc<Gateway>>, req: Request) -> Response {
    let method = req.method().as_str().to_owned();
    let path = req.uri().path().to_owned();
    let Some(route) = gw.routes.iter().find(|r| r.matches(&method, &path)) else {
        return gateway_error(StatusCode::NOT_FOUND, "Not Found");
    };
    let authorization = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok());
    let claims = if route.authorized {
        match gw.claims(authorization) {
            Some(c) => Some(c),
            None => return gateway_error(StatusCode::UNAUTHORIZED, "Unauthorized"),
        }
    } else {
        None
    };
    let query = req.uri().query().unwrap_or_default().to_owned();
    let mut headers = serde_json::Map::new();
    for (name, value) in req.headers() {
        let value = value.to_str().unwrap_or_default().to_owned();
        match headers.get_mut(name.as_str()) {
            // API Gateway joins repeated headers with commas.
            Some(Value::String(seen)) => *seen = format!("{seen},{value}"),
            _ => {
                headers.insert(name.as_str().to_owned(), Value::String(value));
            }
        }
    }
    let domain = "kilnlive.execute-api.us-east-1.amazonaws.com";
    headers.insert("host".into(), json!(domain));
    let body = axum::body::to_bytes(req.into_body(), usize::MAX)
        .await
        .unwrap();
    let route_key = format!("{} {}", route.method, route.path);
    let mut event = json!({
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": query,
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012", "apiId": "kilnlive", "domainName": domain,
            "domainPrefix": "kilnlive", "requestId": uuid::Uuid::new_v4().to_string(),
            "routeKey": route_key, "stage": "$default",
            "time": "26/Nov/2026:10:00:00 +0000", "timeEpoch": 1795000000000u64,
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1",
                     "sourceIp": "127.0.0.1", "userAgent": "kiln-live"}
        },
        "isBase64Encoded": false
    });
    if !body.is_empty() {
        match std::str::from_utf8(&body) {
            Ok(text) => event["body"] = json!(text),
            Err(_) => {
                event["body"] = json!(base64::engine::general_purpose::STANDARD.encode(&body));
                event["isBase64Encoded"] = json!(true);
            }
        }
    }
    if let Some(claims) = claims {
        // The authorizer hands claims on as strings.
        let claims: serde_json::Map<String, Value> = claims
            .into_iter()
            .map(|(k, v)| {
                let text = v
                    .as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| v.to_string());
                (k, Value::String(text))
            })
            .collect();
        event["requestContext"]["authorizer"] = json!({"jwt": {"claims": claims, "scopes": null}});
    }
    let req = lambda_http::request::from_str(&event.to_string()).expect("an API Gateway v2 event");
    match gw.app.clone().oneshot(req).await {
        Ok(res) => res,
        Err(never) => match never {},
    }
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

// ------------------------------------------------------------------- load balancer

/// Where the balancer sends a path: the task definition of the service behind the rule, and
/// the stack that made them.
struct Target {
    task_definition: String,
    stack: Option<String>,
}

/// The container `app` of a task definition: what it runs and with what.
struct Container {
    image: String,
    environment: Vec<(String, String)>,
    secrets: usize,
}

struct Balancer {
    elb: aws_sdk_elasticloadbalancingv2::Client,
    ecs: aws_sdk_ecs::Client,
    cloudformation: aws_sdk_cloudformation::Client,
    s3: aws_sdk_s3::Client,
    listener: String,
    cluster: String,
    bucket: String,
    http: reqwest::Client,
    /// The task running each task definition, with its directory.
    tasks: tokio::sync::Mutex<BTreeMap<String, (ServedApp, tempfile::TempDir)>>,
    /// Each task definition family's (one per stack) database directory, kept over versions.
    data: Mutex<BTreeMap<String, PathBuf>>,
    data_root: tempfile::TempDir,
}

impl Balancer {
    fn new(agents: &Installation) -> Arc<Balancer> {
        Arc::new(Balancer {
            elb: aws_sdk_elasticloadbalancingv2::Client::new(&agents.sdk),
            ecs: aws_sdk_ecs::Client::new(&agents.sdk),
            cloudformation: aws_sdk_cloudformation::Client::new(&agents.sdk),
            s3: aws_sdk_s3::Client::from_conf(
                aws_sdk_s3::config::Builder::from(&agents.sdk)
                    .force_path_style(true)
                    .build(),
            ),
            listener: agents.config.aws.listener_arn.clone().unwrap(),
            cluster: agents.config.aws.cluster.clone().unwrap(),
            bucket: agents.config.bucket.clone().unwrap(),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            tasks: tokio::sync::Mutex::new(BTreeMap::new()),
            data: Mutex::new(BTreeMap::new()),
            data_root: tempfile::tempdir().unwrap(),
        })
    }

    /// The first rule, by priority, whose path pattern takes `path`: its ARN and the target
    /// group it forwards to.
    async fn rule(&self, path: &str) -> Option<(String, String)> {
        let rules = self
            .elb
            .describe_rules()
            .listener_arn(&self.listener)
            .send()
            .await
            .unwrap();
        let mut rules: Vec<_> = rules
            .rules()
            .iter()
            .filter(|r| r.is_default() != Some(true))
            .filter_map(|r| Some((r.priority()?.parse::<u32>().ok()?, r)))
            .collect();
        rules.sort_by_key(|(p, _)| *p);
        rules.into_iter().find_map(|(_, rule)| {
            let taken = rule.conditions().iter().any(|c| {
                c.field() == Some("path-pattern")
                    && c.path_pattern_config()
                        .map(|p| p.values().to_vec())
                        .unwrap_or_else(|| c.values().to_vec())
                        .iter()
                        .any(|pattern| glob(pattern, path))
            });
            if !taken {
                return None;
            }
            let target_group = rule
                .actions()
                .iter()
                .find_map(|a| a.target_group_arn().map(str::to_owned))?;
            Some((rule.rule_arn()?.to_owned(), target_group))
        })
    }

    /// The service behind `rule` (its ARN and target group's): the one registered with the
    /// target group, or else the one made by the stack that made the rule or the target group
    /// (moto's CloudFormation drops a service's `LoadBalancers`, and may keep a replaced
    /// target group's old ARN in the stack).
    async fn target(&self, (rule, target_group): &(String, String)) -> Result<Target, String> {
        let listed = self
            .ecs
            .list_services()
            .cluster(&self.cluster)
            .send()
            .await
            .unwrap();
        if listed.service_arns().is_empty() {
            return Err("no service".into());
        }
        let described = self
            .ecs
            .describe_services()
            .cluster(&self.cluster)
            .set_services(Some(listed.service_arns().to_vec()))
            .send()
            .await
            .unwrap();
        let active: Vec<_> = described
            .services()
            .iter()
            .filter(|s| s.status() == Some("ACTIVE"))
            .collect();
        let stack = self.stack_that_made(&[rule, target_group]).await;
        let service = active
            .iter()
            .find(|s| {
                s.load_balancers()
                    .iter()
                    .any(|lb| lb.target_group_arn() == Some(target_group.as_str()))
            })
            .or_else(|| {
                let (_, made) = stack.as_ref()?;
                active
                    .iter()
                    .find(|s| s.service_arn() == Some(made.as_str()))
            })
            .ok_or_else(|| format!("no active service is registered with {target_group}"))?;
        Ok(Target {
            task_definition: service.task_definition().unwrap_or_default().to_owned(),
            stack: stack.map(|(name, _)| name),
        })
    }

    /// The stack that made any of `made`, and the service it made (moto describes a stack's
    /// resources by stack name only).
    async fn stack_that_made(&self, made: &[&String]) -> Option<(String, String)> {
        let stacks = self.cloudformation.list_stacks().send().await.ok()?;
        for summary in stacks.stack_summaries() {
            if summary.stack_status()
                == Some(&aws_sdk_cloudformation::types::StackStatus::DeleteComplete)
            {
                continue;
            }
            let name = summary.stack_name()?.to_owned();
            let Ok(resources) = self
                .cloudformation
                .describe_stack_resources()
                .stack_name(&name)
                .send()
                .await
            else {
                continue;
            };
            let resources = resources.stack_resources();
            if resources.iter().any(|r| {
                made.iter()
                    .any(|m| r.physical_resource_id() == Some(m.as_str()))
            }) {
                let service = resources
                    .iter()
                    .find(|r| r.resource_type() == Some("AWS::ECS::Service"))
                    .and_then(|r| r.physical_resource_id().map(str::to_owned))?;
                return Some((name, service));
            }
        }
        None
    }

    /// The container `app` of the target's task definition. moto's CloudFormation loses a
    /// task definition's containers when an update replaces it; then the container is read
    /// from the stack's template, its `Ref`s to parameters resolved with the stack's values.
    async fn container(&self, target: &Target) -> Result<Container, String> {
        let described = self
            .ecs
            .describe_task_definition()
            .task_definition(&target.task_definition)
            .send()
            .await;
        if let Some(app) = described.as_ref().ok().and_then(|d| {
            d.task_definition()?
                .container_definitions()
                .iter()
                .find(|c| c.name() == Some("app") && c.image().is_some())
        }) {
            return Ok(Container {
                image: app.image().unwrap_or_default().to_owned(),
                environment: app
                    .environment()
                    .iter()
                    .filter_map(|kv| Some((kv.name()?.to_owned(), kv.value()?.to_owned())))
                    .collect(),
                secrets: app.secrets().len(),
            });
        }
        let stack = target
            .stack
            .as_deref()
            .ok_or("a task definition without its container, made by no stack")?;
        let body = self
            .cloudformation
            .get_template()
            .stack_name(stack)
            .send()
            .await
            .map_err(|e| format!("{e:?}"))?
            .template_body
            .unwrap_or_default();
        let template: serde_yaml::Value = serde_yaml::from_str(&body).map_err(|e| e.to_string())?;
        let described = self
            .cloudformation
            .describe_stacks()
            .stack_name(stack)
            .send()
            .await
            .map_err(|e| format!("{e:?}"))?;
        let parameters: BTreeMap<String, String> = described
            .stacks()
            .first()
            .map(|s| s.parameters())
            .unwrap_or_default()
            .iter()
            .filter_map(|p| {
                Some((
                    p.parameter_key()?.to_owned(),
                    p.parameter_value()?.to_owned(),
                ))
            })
            .collect();
        let resolve = |v: &serde_yaml::Value| -> Option<String> {
            match v {
                serde_yaml::Value::String(s) => Some(s.clone()),
                serde_yaml::Value::Tagged(t) if t.tag == "Ref" => {
                    parameters.get(t.value.as_str()?).cloned()
                }
                _ => None,
            }
        };
        let definition = template["Resources"]
            .as_mapping()
            .and_then(|r| r.values().find(|r| r["Type"] == "AWS::ECS::TaskDefinition"))
            .ok_or("the stack's template has no task definition")?;
        let app = definition["Properties"]["ContainerDefinitions"]
            .as_sequence()
            .and_then(|c| c.iter().find(|c| c["Name"] == "app"))
            .ok_or("the template's task definition has no container app")?;
        Ok(Container {
            image: resolve(&app["Image"]).ok_or("an image that is no parameter")?,
            environment: app["Environment"]
                .as_sequence()
                .into_iter()
                .flatten()
                .filter_map(|kv| Some((resolve(&kv["Name"])?, resolve(&kv["Value"])?)))
                .collect(),
            secrets: app["Secrets"].as_sequence().map_or(0, Vec::len),
        })
    }

    /// Starts the task of `target`: the image's source under uvicorn, with the container's
    /// environment.
    async fn start(&self, target: &Target) -> Result<(ServedApp, tempfile::TempDir), String> {
        let container = self.container(target).await?;
        let task_definition = target.task_definition.as_str();
        let image = container.image.as_str();
        // {registry}/{installation}/{project}:v{version}
        let (repository, tag) = image.rsplit_once(':').ok_or("an image without a tag")?;
        let project = uuid::Uuid::parse_str(repository.rsplit('/').next().unwrap_or_default())
            .map_err(|e| format!("{image}: {e}"))?;
        let version = tag.strip_prefix('v').ok_or("a tag that is not v{N}")?;
        let prefix = format!("sources/{project}/image-v{version}-");
        let objects = self
            .s3
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(&prefix)
            .send()
            .await
            .map_err(|e| format!("{e:?}"))?;
        let newest = objects
            .contents()
            .iter()
            .max_by_key(|o| o.last_modified().map(|t| t.as_nanos()))
            .and_then(|o| o.key())
            .ok_or_else(|| format!("no image build source under {prefix}"))?;
        let zipped = self
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(newest)
            .send()
            .await
            .map_err(|e| format!("{e:?}"))?
            .body
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .into_bytes();
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        zip::ZipArchive::new(std::io::Cursor::new(zipped))
            .and_then(|mut z| z.extract(dir.path()))
            .map_err(|e| e.to_string())?;
        let data = {
            let mut data = self.data.lock().unwrap();
            data.entry(family(task_definition))
                .or_insert_with(|| {
                    let d = self
                        .data_root
                        .path()
                        .join(dir_name(&family(task_definition)));
                    std::fs::create_dir_all(&d).unwrap();
                    d
                })
                .clone()
        };
        let mut env: Vec<(&str, String)> = container
            .environment
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect();
        env.push((
            "DATABASE_URL",
            format!("sqlite:///{}", data.join("app.db").display()),
        ));
        if container.secrets > 0 {
            return Err("the stand-in reads no secrets; the walkthrough's app has no auth".into());
        }
        let served = ServedApp::start_with(dir.path(), &env)?;
        Ok((served, dir))
    }
}

/// A directory name for a task definition family's ARN.
fn dir_name(family: &str) -> String {
    family
        .rsplit('/')
        .next()
        .unwrap_or(family)
        .replace([':', '.'], "_")
}

/// Whether the ELB path pattern `pattern` (`*` any characters, `?` one) takes `path`.
fn glob(pattern: &str, path: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let s: Vec<char> = path.chars().collect();
    let (mut i, mut j, mut star, mut mark) = (0, 0, None, 0);
    while j < s.len() {
        if i < p.len() && (p[i] == '?' || p[i] == s[j]) {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == '*' {
            star = Some(i);
            mark = j;
            i += 1;
        } else if let Some(st) = star {
            i = st + 1;
            mark += 1;
            j = mark;
        } else {
            return false;
        }
    }
    while i < p.len() && p[i] == '*' {
        i += 1;
    }
    i == p.len()
}

async fn balancer_call(State(lb): State<Arc<Balancer>>, req: Request) -> Response {
    let path = req.uri().path().to_owned();
    let Some(rule) = lb.rule(&path).await else {
        // The listener's default action.
        return (StatusCode::NOT_FOUND, "Not Found").into_response();
    };
    let target = match lb.target(&rule).await {
        Ok(t) => t,
        Err(e) => {
            let text = format!("503 Service Temporarily Unavailable: {e}");
            return (StatusCode::SERVICE_UNAVAILABLE, text).into_response();
        }
    };
    let base = {
        let mut tasks = lb.tasks.lock().await;
        let task_definition = target.task_definition.clone();
        if !tasks.contains_key(&task_definition) {
            // One task per service: the one of an older task definition of the same service
            // stops.
            match lb.start(&target).await {
                Ok(task) => {
                    let service = family(&task_definition);
                    tasks.retain(|arn, _| family(arn) != service);
                    tasks.insert(task_definition.clone(), task);
                }
                Err(e) => {
                    return (StatusCode::BAD_GATEWAY, format!("502 Bad Gateway: {e}"))
                        .into_response()
                }
            }
        }
        tasks[&task_definition].0.base.clone()
    };
    let target = format!(
        "{base}{}",
        req.uri()
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/")
    );
    let method = req.method().clone();
    let headers = req.headers().clone();
    let body = axum::body::to_bytes(req.into_body(), usize::MAX)
        .await
        .unwrap();
    let mut forwarded = lb.http.request(method, &target).body(body);
    for (name, value) in &headers {
        if name != "host" {
            forwarded = forwarded.header(name, value);
        }
    }
    let answer = match forwarded.send().await {
        Ok(a) => a,
        Err(e) => {
            return (StatusCode::BAD_GATEWAY, format!("502 Bad Gateway: {e}")).into_response()
        }
    };
    let mut res = Response::builder().status(answer.status().as_u16());
    for (name, value) in answer.headers() {
        if name != "transfer-encoding" && name != "connection" {
            res = res.header(
                name.as_str(),
                HeaderValue::from_bytes(value.as_bytes()).unwrap(),
            );
        }
    }
    res.body(Body::from(answer.bytes().await.unwrap_or_default()))
        .unwrap()
}

/// The family of a task definition ARN (`…:task-definition/{family}:{revision}`).
fn family(arn: &str) -> String {
    arn.rsplit_once(':')
        .map(|(f, _)| f.to_owned())
        .unwrap_or_else(|| arn.to_owned())
}

#[test]
fn path_patterns_match_as_elb_documents() {
    assert!(glob("/p-1-dev", "/p-1-dev"));
    assert!(glob("/p-1-dev/*", "/p-1-dev/health"));
    assert!(glob("/p-1-dev/*", "/p-1-dev/tasks/3"));
    assert!(!glob("/p-1-dev/*", "/p-1-dev"));
    assert!(!glob("/p-1-dev/*", "/p-1-devx/health"));
    assert!(glob("/a?c", "/abc"));
    assert!(!glob("/a?c", "/ac"));
}
