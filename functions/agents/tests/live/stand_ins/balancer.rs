//! The load balancer's and Fargate's part: rules, services, task definitions, and the image's
//! source run under uvicorn (see `stand_ins/mod.rs`).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use kiln_integration_tests::ServedApp;

use crate::installation::Installation;

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
    /// The names of the variables the task takes from secrets.
    secrets: Vec<String>,
}

pub(super) struct Balancer {
    elb: aws_sdk_elasticloadbalancingv2::Client,
    ecs: aws_sdk_ecs::Client,
    cloudformation: aws_sdk_cloudformation::Client,
    s3: aws_sdk_s3::Client,
    secrets: aws_sdk_secretsmanager::Client,
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
    pub(super) fn new(agents: &Installation) -> Arc<Balancer> {
        Arc::new(Balancer {
            elb: aws_sdk_elasticloadbalancingv2::Client::new(&agents.sdk),
            ecs: aws_sdk_ecs::Client::new(&agents.sdk),
            cloudformation: aws_sdk_cloudformation::Client::new(&agents.sdk),
            secrets: aws_sdk_secretsmanager::Client::new(&agents.sdk),
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
                secrets: app.secrets().iter().map(|s| s.name().to_owned()).collect(),
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
            secrets: app["Secrets"]
                .as_sequence()
                .into_iter()
                .flatten()
                .filter_map(|s| resolve(&s["Name"]))
                .collect(),
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
        // The stand-in plays the apps' PostgreSQL cluster with a SQLite file per environment:
        // the DATABASE_URL the task would take from its secret points at it instead.
        env.push((
            "DATABASE_URL",
            format!("sqlite:///{}", data.join("app.db").display()),
        ));
        // The data token the deployer made under the stack's name, as ECS would read it.
        if container.secrets.iter().any(|s| s == "KILN_DATA_TOKEN") {
            let stack = target
                .stack
                .as_deref()
                .ok_or("a data token without its stack")?;
            let token = self
                .secrets
                .get_secret_value()
                .secret_id(format!("{stack}/data-token"))
                .send()
                .await
                .map_err(|e| format!("{e:?}"))?;
            env.push((
                "KILN_DATA_TOKEN",
                token.secret_string().unwrap_or_default().to_owned(),
            ));
        }
        if container
            .secrets
            .iter()
            .any(|s| s != "DATABASE_URL" && s != "KILN_DATA_TOKEN")
        {
            return Err(
                "the stand-in reads no secrets but DATABASE_URL and KILN_DATA_TOKEN; the \
                 walkthrough's app has no auth"
                    .into(),
            );
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

pub(super) async fn balancer_call(State(lb): State<Arc<Balancer>>, req: Request) -> Response {
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
