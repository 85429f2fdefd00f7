//! `Deployer` on AWS: an ECR repository per project, images built by CodeBuild, and one
//! CloudFormation stack per project environment, made from the version's own
//! `deploy/cloudformation.yaml` (an ECS Fargate service behind a path rule of the shared load
//! balancer, its target group, log group, alarms and secrets). CloudFormation rolls a failed
//! update back and deletes everything with the stack. An app with a database gets its own
//! database on the installation's Aurora PostgreSQL cluster (`database.rs`), made before its
//! stack and dropped with the project. The app's log is read back from the stack's log group
//! (`logs.rs`).

mod data_token;
mod database;
mod logs;
mod resources;
mod secrets;
mod stack;

use async_trait::async_trait;
use serde_json::Value;
use uuid::Uuid;

use super::codebuild::{build_status, start_build};
use super::{zip_files, Deployer, File, JobBucket, LogPage, Rollout, RolloutStatus, RunnerError};
use crate::model::Environment;
pub use database::{database_name, database_url, AppDatabases, DatabaseSettings};
use stack::{Judgement, StackRequest};
pub use stack::{TEMPLATE_BODY_LIMIT, TEMPLATE_PATH};

/// The buildspec of image builds.
pub const IMAGE_BUILDSPEC: &str = include_str!("../../../../infra/buildspec-image.yml");

/// Where and how deployments run.
#[derive(Debug, Clone)]
pub struct EcsSettings {
    /// The ECS cluster.
    pub cluster: String,
    /// The CodeBuild project that builds images.
    pub image_project: String,
    /// The shared load balancer's listener that gets a path rule per deployment.
    pub listener_arn: String,
    /// The VPC of the target groups.
    pub vpc_id: String,
    /// Subnets of the tasks.
    pub subnets: Vec<String>,
    /// Security groups of the tasks.
    pub security_groups: Vec<String>,
    /// The role tasks start with (pulls images, writes logs, reads the apps' secrets).
    pub execution_role_arn: String,
    /// The load balancer's public base URL, e.g. `https://apps.example.com`.
    pub public_url: String,
    /// The start of every stack's name, `kiln-<installation>`: the agents may only touch
    /// stacks under it.
    pub stack_prefix: String,
    /// The role CloudFormation makes the stacks' resources with.
    pub stack_role_arn: String,
    /// How long the apps' logs are kept.
    pub log_retention_days: u32,
}

/// Deploys to ECS Fargate through CloudFormation.
pub struct EcsDeployer {
    ecr: aws_sdk_ecr::Client,
    cloudformation: aws_sdk_cloudformation::Client,
    elb: aws_sdk_elasticloadbalancingv2::Client,
    codebuild: aws_sdk_codebuild::Client,
    databases: AppDatabases,
    bucket: JobBucket,
    settings: EcsSettings,
    logs: Option<aws_sdk_cloudwatchlogs::Client>,
}

/// The path prefix of a project's environment on the load balancer (at most 32 characters).
fn deployment_name(project_id: Uuid, environment: Environment) -> String {
    format!(
        "kiln-{}-{}",
        &project_id.simple().to_string()[..12],
        environment.as_str()
    )
}

/// Where a deploy request's [`StackRequest`] is kept.
fn request_key(stack: &str, request: Uuid) -> String {
    format!("deploys/{stack}/{request}.json")
}

impl EcsDeployer {
    /// The IAM actions a deployment calls: its repository and image build (CodeBuild's, see
    /// `CodeBuildTestRunner::IAM_ACTIONS`), the listener's rules (to choose a free priority)
    /// and its stack, made with the stacks' role (so `iam:PassRole`). A stack whose first
    /// create failed cannot be updated, only deleted and made again.
    pub const IAM_ACTIONS_TO_DEPLOY: &'static [&'static str] = &[
        "ecr:CreateRepository",
        "ecr:DescribeRepositories",
        "ecr:PutLifecyclePolicy",
        "elasticloadbalancing:DescribeRules",
        "cloudformation:CreateStack",
        "cloudformation:UpdateStack",
        "cloudformation:DescribeStacks",
        "cloudformation:DescribeStackEvents",
        "cloudformation:DeleteStack",
        "iam:PassRole",
        // The database of an app that has one: the Data API (which reads the cluster's
        // master secret with the caller's rights), and the URL's secret (read to keep its
        // password, made with tags, or given a new value).
        "rds-data:ExecuteStatement",
        "secretsmanager:GetSecretValue",
        "secretsmanager:CreateSecret",
        "secretsmanager:PutSecretValue",
        "secretsmanager:TagResource",
    ];

    /// The IAM actions taking a project's deployments down calls (when the project is deleted):
    /// CloudFormation deletes each stack with the role it was made with; the repository and
    /// the environments' databases go too (their URL secrets are read, since an environment
    /// without one has no database, and deleted).
    pub const IAM_ACTIONS_TO_TEAR_DOWN: &'static [&'static str] = &[
        "cloudformation:DeleteStack",
        "ecr:DeleteRepository",
        "rds-data:ExecuteStatement",
        "secretsmanager:GetSecretValue",
        "secretsmanager:DeleteSecret",
    ];

    /// The IAM actions moving an environment's data calls: reading its data token.
    pub const IAM_ACTIONS_TO_MOVE_DATA: &'static [&'static str] =
        &["secretsmanager:GetSecretValue"];

    /// The secret of a project environment's data token (`data_token.rs`).
    pub fn data_token_name(&self, project_id: Uuid, environment: Environment) -> String {
        format!("{}/data-token", self.stack_name(project_id, environment))
    }

    /// A deployer with these clients and settings; the apps' databases are `databases`.
    pub fn new(
        ecr: aws_sdk_ecr::Client,
        cloudformation: aws_sdk_cloudformation::Client,
        elb: aws_sdk_elasticloadbalancingv2::Client,
        codebuild: aws_sdk_codebuild::Client,
        databases: AppDatabases,
        bucket: JobBucket,
        settings: EcsSettings,
    ) -> Self {
        EcsDeployer {
            ecr,
            cloudformation,
            elb,
            codebuild,
            databases,
            bucket,
            settings,
            logs: None,
        }
    }

    /// The deployer, reading the apps' logs with `logs`.
    pub fn with_logs(self, logs: aws_sdk_cloudwatchlogs::Client) -> Self {
        EcsDeployer {
            logs: Some(logs),
            ..self
        }
    }

    /// The secret of an environment's `DATABASE_URL`, under its stack's name (which the
    /// tasks' role may read).
    pub fn database_secret_name(&self, project_id: Uuid, environment: Environment) -> String {
        format!("{}/database-url", self.stack_name(project_id, environment))
    }

    /// The project's image repository, under the installation's name.
    fn repository_name(&self, project_id: Uuid) -> String {
        format!("{}/{}", self.settings.stack_prefix, project_id.simple())
    }

    /// The stack of a project's environment.
    pub fn stack_name(&self, project_id: Uuid, environment: Environment) -> String {
        format!(
            "{}-{}-{}",
            self.settings.stack_prefix,
            project_id.simple(),
            environment.as_str()
        )
    }

    /// Moves a deploy request one step on, as the stack's state allows, and says where the
    /// request stands. `starting` is the deploy call itself, which may make or update the
    /// stack; a poll only finishes what the request began: it makes the stack again after a
    /// failed first create was deleted for that, and never updates a stack that holds another
    /// request (that would roll a newer deployment back).
    async fn advance(
        &self,
        request: Uuid,
        wanted: &StackRequest,
        starting: bool,
    ) -> Result<RolloutStatus, RunnerError> {
        let token = stack::request_token(request);
        let now = self.describe_stack(&wanted.stack).await?;
        let events = match &now {
            Some(_) => self.stack_events(&wanted.stack).await?,
            None => Vec::new(),
        };
        let replaced = |status: &str| {
            RolloutStatus::Failed(format!(
                "another deployment of this environment replaced this one (its stack {} is {status})",
                wanted.stack
            ))
        };
        Ok(match stack::judge(&token, now.as_ref(), &events) {
            Judgement::Absent if starting || wanted.remake => {
                self.create_stack(request, wanted).await?;
                RolloutStatus::Pending
            }
            Judgement::Absent => RolloutStatus::Failed(format!(
                "the stack {} is gone: the environment was taken down",
                wanted.stack
            )),
            Judgement::NotStarted(status) => match stack::next_for(&status) {
                stack::Next::Delete => {
                    self.remake(request, wanted).await?;
                    RolloutStatus::Pending
                }
                stack::Next::AwaitDeletion => {
                    self.mark_remake(request, wanted).await?;
                    RolloutStatus::Pending
                }
                stack::Next::Wait if starting => {
                    return Err(RunnerError::Unavailable(crate::model::Cause::new(format!(
                        "the stack {} is busy ({status}); the deploy is tried again",
                        wanted.stack
                    ))))
                }
                stack::Next::Update if starting => {
                    self.update_stack(request, wanted).await?;
                    RolloutStatus::Pending
                }
                _ => replaced(&status),
            },
            Judgement::Pending => RolloutStatus::Pending,
            Judgement::Running => RolloutStatus::Running,
            Judgement::Failed {
                priority_taken: true,
                ..
            } => {
                // Made again with another priority once the rolled-back stack is gone.
                self.remake(request, wanted).await?;
                RolloutStatus::Pending
            }
            Judgement::Failed { reason, .. } => RolloutStatus::Failed(reason),
        })
    }

    /// Notes that the request's stack is to be made again once it is gone.
    async fn mark_remake(&self, request: Uuid, wanted: &StackRequest) -> Result<(), RunnerError> {
        if wanted.remake {
            return Ok(());
        }
        let marked = StackRequest {
            remake: true,
            ..wanted.clone()
        };
        self.store_request(request, &marked).await
    }

    /// Deletes a stack that cannot take the request (its first create failed), to make it again.
    async fn remake(&self, request: Uuid, wanted: &StackRequest) -> Result<(), RunnerError> {
        self.mark_remake(request, wanted).await?;
        self.delete_stack(&wanted.stack).await
    }

    async fn store_request(&self, request: Uuid, wanted: &StackRequest) -> Result<(), RunnerError> {
        let body = serde_json::to_vec(wanted).map_err(|e| RunnerError::Process(e.to_string()))?;
        self.bucket
            .put(
                &request_key(&wanted.stack, request),
                body,
                "application/json",
            )
            .await
    }
}

#[async_trait]
impl Deployer for EcsDeployer {
    async fn build_image(
        &self,
        project_id: Uuid,
        version: u32,
        files: Vec<File>,
        request: Uuid,
    ) -> Result<Option<String>, RunnerError> {
        let uri = self.repository(project_id).await?;
        let source_key = format!("sources/{project_id}/image-v{version}-{request}.zip");
        self.bucket
            .put(&source_key, zip_files(&files)?, "application/zip")
            .await?;
        let build = start_build(
            &self.codebuild,
            &self.bucket,
            &self.settings.image_project,
            &source_key,
            IMAGE_BUILDSPEC,
            &[("IMAGE_URI", format!("{uri}:v{version}"))],
            request,
        )
        .await?;
        Ok(Some(build))
    }

    async fn image_ready(&self, image_job: Option<&str>) -> Result<bool, RunnerError> {
        let Some(id) = image_job else { return Ok(true) };
        match build_status(&self.codebuild, id).await? {
            aws_sdk_codebuild::types::StatusType::InProgress => Ok(false),
            aws_sdk_codebuild::types::StatusType::Succeeded => Ok(true),
            other => Err(RunnerError::Process(format!(
                "the image build {id} ended {}",
                other.as_str()
            ))),
        }
    }

    async fn deploy(
        &self,
        project_id: Uuid,
        environment: Environment,
        version: u32,
        files: Vec<File>,
        request: Uuid,
    ) -> Result<Rollout, RunnerError> {
        let template = files
            .into_iter()
            .find(|(path, _)| path == TEMPLATE_PATH)
            .map(|(_, bytes)| String::from_utf8(bytes))
            .ok_or_else(|| {
                RunnerError::Process(format!(
                    "version {version} has no {TEMPLATE_PATH} (it was built before Kiln deployed with CloudFormation); build it again to deploy it"
                ))
            })?
            .map_err(|_| RunnerError::Process(format!("{TEMPLATE_PATH} is not UTF-8")))?;
        if template.len() > TEMPLATE_BODY_LIMIT {
            return Err(RunnerError::Process(format!(
                "{TEMPLATE_PATH} has {} bytes; CloudFormation takes at most {TEMPLATE_BODY_LIMIT}",
                template.len()
            )));
        }
        let name = deployment_name(project_id, environment);
        let base = format!("/{name}");
        let image = format!("{}:v{version}", self.repository(project_id).await?);
        let s = &self.settings;
        let parameter = |k: &str, v: String| (k.to_owned(), v);
        // The database first: the app migrates it as it starts.
        let database = if stack::declares_parameter(&template, stack::DATABASE_PARAMETER) {
            let secret = self.database_secret_name(project_id, environment);
            let arn = self
                .databases
                .ensure(project_id, environment, &secret)
                .await?;
            let tags = [
                ("kiln:project", project_id.to_string()),
                ("kiln:environment", environment.as_str().to_owned()),
            ];
            let token = self
                .databases
                .ensure_data_token(&self.data_token_name(project_id, environment), tags)
                .await?;
            vec![
                parameter(stack::DATABASE_PARAMETER, arn),
                parameter(stack::DATA_TOKEN_PARAMETER, token),
            ]
        } else {
            Vec::new()
        };
        let wanted = StackRequest {
            stack: self.stack_name(project_id, environment),
            template,
            parameters: [
                parameter("ProjectId", project_id.to_string()),
                parameter("Environment", environment.as_str().into()),
                parameter("Version", version.to_string()),
                parameter("ImageUri", image.clone()),
                parameter("BasePath", base.clone()),
                parameter("ClusterName", s.cluster.clone()),
                parameter("VpcId", s.vpc_id.clone()),
                parameter("Subnets", s.subnets.join(",")),
                parameter("SecurityGroups", s.security_groups.join(",")),
                parameter("ListenerArn", s.listener_arn.clone()),
                parameter("ExecutionRoleArn", s.execution_role_arn.clone()),
                parameter("LogRetentionDays", s.log_retention_days.to_string()),
                parameter(stack::REQUEST_PARAMETER, stack::request_token(request)),
            ]
            .into_iter()
            .chain(database)
            .collect(),
            tags: vec![
                ("kiln:project".into(), project_id.to_string()),
                ("kiln:environment".into(), environment.as_str().into()),
                ("kiln:version".into(), version.to_string()),
            ],
            remake: false,
        };
        // Kept for the polls, which may have to make the stack again. A repeat of the request
        // finds it (and whether a remake is under way).
        let key = request_key(&wanted.stack, request);
        let wanted = match self.bucket.get(&key).await? {
            Some(bytes) => serde_json::from_slice(&bytes).unwrap_or(wanted),
            None => {
                self.store_request(request, &wanted).await?;
                wanted
            }
        };
        self.advance(request, &wanted, true).await?;
        let mut resources = serde_json::Map::new();
        for (k, v) in [
            ("stack", wanted.stack.clone()),
            ("image", image),
            ("request", key),
        ] {
            resources.insert(k.into(), Value::String(v));
        }
        Ok(Rollout {
            id: format!("{} {request}", wanted.stack),
            url: format!("{}{base}/", s.public_url.trim_end_matches('/')),
            resources,
        })
    }

    async fn rollout_status(&self, rollout: &Rollout) -> Result<RolloutStatus, RunnerError> {
        let unknown = || RunnerError::UnknownJob(rollout.id.clone());
        let (stack, request) = rollout.id.split_once(' ').ok_or_else(unknown)?;
        let request: Uuid = request.parse().map_err(|_| unknown())?;
        let wanted: StackRequest = match self.bucket.get(&request_key(stack, request)).await? {
            Some(bytes) => serde_json::from_slice(&bytes).map_err(|_| unknown())?,
            None => return Err(unknown()),
        };
        self.advance(request, &wanted, false).await
    }

    async fn logs(&self, rollout: &Rollout) -> String {
        let stack = rollout.id.split(' ').next().unwrap_or_default();
        format!(
            "The app's logs are in the CloudWatch log group /kiln/apps/{stack}; the stack {stack} lists what failed in its events."
        )
    }

    /// The stack's log group, through CloudWatch Logs (`logs.rs`).
    async fn read_logs(
        &self,
        project_id: Uuid,
        environment: Environment,
        since: Option<&str>,
        limit: u32,
    ) -> Result<LogPage, RunnerError> {
        let client = logs::client(self.logs.as_ref())?;
        let group = self.log_group_name(&self.stack_name(project_id, environment));
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        logs::read(client, &group, since, limit, now).await
    }

    /// Where the environment's app answers on the load balancer, and its data token.
    async fn data_endpoint(
        &self,
        project_id: Uuid,
        environment: Environment,
    ) -> Result<(String, String), RunnerError> {
        let token = self
            .databases
            .data_token(&self.data_token_name(project_id, environment))
            .await?
            .ok_or_else(|| {
                RunnerError::NotRunning(format!(
                    "nothing that keeps data Kiln can move runs in {} for this project (an app \
                     without a database, or one deployed before Kiln could move data: deploy \
                     it again)",
                    environment.as_str()
                ))
            })?;
        let url = format!(
            "{}/{}",
            self.settings.public_url.trim_end_matches('/'),
            deployment_name(project_id, environment)
        );
        Ok((url, token))
    }

    async fn stop(
        &self,
        project_id: Uuid,
        environment: Option<Environment>,
    ) -> Result<(), RunnerError> {
        let environments = match environment {
            Some(e) => vec![e],
            None => Environment::ALL.to_vec(),
        };
        for e in &environments {
            self.delete_stack(&self.stack_name(project_id, *e)).await?;
        }
        if environment.is_none() {
            // The project is going: its data goes with it (an environment stopped on its own
            // keeps its database for its next deploy).
            for e in environments {
                let secret = self.database_secret_name(project_id, e);
                self.databases.drop(project_id, e, &secret).await?;
                self.databases
                    .delete_data_token(&self.data_token_name(project_id, e))
                    .await?;
            }
            let out = self
                .ecr
                .delete_repository()
                .repository_name(self.repository_name(project_id))
                .force(true)
                .send()
                .await;
            match out {
                Ok(_) => {}
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_repository_not_found_exception()) => {}
                Err(e) => return Err(super::aws_call_failed(e)),
            }
        }
        Ok(())
    }
}
