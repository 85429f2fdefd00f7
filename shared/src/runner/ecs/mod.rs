//! `Deployer` on AWS: an ECR repository per project, images built by CodeBuild, and an ECS
//! Fargate service per project and environment behind a path rule of a shared load balancer.

mod resources;
mod secrets;

use async_trait::async_trait;
use aws_sdk_ecs::types::{
    AssignPublicIp, AwsVpcConfiguration, DeploymentCircuitBreaker, DeploymentConfiguration,
    LaunchType, LoadBalancer, NetworkConfiguration,
};
use serde_json::Value;
use uuid::Uuid;

use super::codebuild::{build_status, start_build};
use super::{zip_files, Deployer, File, JobBucket, Rollout, RolloutStatus, RunnerError};
use crate::model::Environment;

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
    /// The role tasks start with (pulls images, writes logs).
    pub execution_role_arn: String,
    /// The load balancer's public base URL, e.g. `https://apps.example.com`.
    pub public_url: String,
    /// The CloudWatch log group and region the apps' containers log to, if any.
    pub logs: Option<(String, String)>,
}

/// Deploys to ECS Fargate.
pub struct EcsDeployer {
    ecr: aws_sdk_ecr::Client,
    ecs: aws_sdk_ecs::Client,
    elb: aws_sdk_elasticloadbalancingv2::Client,
    codebuild: aws_sdk_codebuild::Client,
    secrets: aws_sdk_secretsmanager::Client,
    bucket: JobBucket,
    settings: EcsSettings,
}

/// A request that could not be built (a defect of Kiln, not of AWS).
fn built<E: std::error::Error + 'static>(e: E) -> RunnerError {
    RunnerError::Process(aws_sdk_ecs::error::DisplayErrorContext(e).to_string())
}

/// Whether an AWS error says the thing does not exist (nothing to tear down, then).
fn is_missing<E, R>(e: &aws_sdk_ecs::error::SdkError<E, R>) -> bool
where
    E: aws_sdk_ecs::error::ProvideErrorMetadata,
{
    e.as_service_error()
        .and_then(|s| s.code())
        .is_some_and(|c| c.contains("NotFound"))
}

/// The name of a project's environment in ECS and ELB (at most 32 characters).
fn deployment_name(project_id: Uuid, environment: Environment) -> String {
    format!(
        "kiln-{}-{}",
        &project_id.simple().to_string()[..12],
        environment.as_str()
    )
}

/// Rollouts that cannot become healthy end FAILED and go back to the last healthy one: without
/// the circuit breaker, ECS keeps such a rollout IN_PROGRESS for ever.
fn rollout_configuration() -> DeploymentConfiguration {
    DeploymentConfiguration::builder()
        .deployment_circuit_breaker(
            DeploymentCircuitBreaker::builder()
                .enable(true)
                .rollback(true)
                .build(),
        )
        .build()
}

fn repository_name(project_id: Uuid) -> String {
    format!("kiln/{}", project_id.simple())
}

/// The ARN of the active service found before a repeat.
fn active_arn(active: &Option<aws_sdk_ecs::types::Service>) -> Result<String, RunnerError> {
    active
        .as_ref()
        .and_then(|s| s.service_arn.clone())
        .ok_or_else(|| RunnerError::Process("ECS described a service without its ARN".into()))
}

impl EcsDeployer {
    /// The IAM actions a deployment calls: its repository and image build (CodeBuild's, see
    /// `CodeBuildTestRunner::IAM_ACTIONS`), its task definition (tagged on create, so
    /// `ecs:TagResource`; with the tasks' role, so `iam:PassRole`), target group, rule and service.
    pub const IAM_ACTIONS_TO_DEPLOY: &'static [&'static str] = &[
        "ecr:CreateRepository",
        "ecr:DescribeRepositories",
        "ecr:PutLifecyclePolicy",
        "ecs:RegisterTaskDefinition",
        "ecs:DescribeTaskDefinition",
        "ecs:TagResource",
        "iam:PassRole",
        "ecs:DescribeServices",
        "ecs:CreateService",
        "ecs:UpdateService",
        "elasticloadbalancing:DescribeTargetGroups",
        "elasticloadbalancing:CreateTargetGroup",
        "elasticloadbalancing:ModifyTargetGroupAttributes",
        "elasticloadbalancing:DescribeRules",
        "elasticloadbalancing:CreateRule",
        "secretsmanager:CreateSecret",
        "secretsmanager:DescribeSecret",
    ];

    /// The IAM actions taking a project's deployments down calls (when the project is deleted).
    pub const IAM_ACTIONS_TO_TEAR_DOWN: &'static [&'static str] = &[
        "ecs:DescribeServices",
        "ecs:DeleteService",
        "elasticloadbalancing:DescribeTargetGroups",
        "elasticloadbalancing:DescribeRules",
        "elasticloadbalancing:DeleteRule",
        "elasticloadbalancing:DeleteTargetGroup",
        "ecr:DeleteRepository",
        "secretsmanager:DeleteSecret",
    ];

    /// A deployer with these clients and settings.
    pub fn new(
        ecr: aws_sdk_ecr::Client,
        ecs: aws_sdk_ecs::Client,
        elb: aws_sdk_elasticloadbalancingv2::Client,
        codebuild: aws_sdk_codebuild::Client,
        secrets: aws_sdk_secretsmanager::Client,
        bucket: JobBucket,
        settings: EcsSettings,
    ) -> Self {
        EcsDeployer {
            ecr,
            ecs,
            elb,
            codebuild,
            secrets,
            bucket,
            settings,
        }
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
        _files: Vec<File>,
        request: Uuid,
    ) -> Result<Rollout, RunnerError> {
        let name = deployment_name(project_id, environment);
        let base = format!("/{name}");
        let image = format!("{}:v{version}", self.repository(project_id).await?);
        let target_group = self.target_group(&name, &base).await?;
        let rule = self.path_rule(&base, &target_group).await?;
        let existing = self
            .ecs
            .describe_services()
            .cluster(&self.settings.cluster)
            .services(&name)
            .send()
            .await
            .map_err(super::aws_call_failed)?;
        let active = existing
            .services
            .unwrap_or_default()
            .into_iter()
            .find(|s| s.status.as_deref() == Some("ACTIVE"));
        // A repeat of the request (the step run again) finds the task definition it
        // registered among the service's deployments, and rolls nothing out again.
        // (The service's own task definition is the one the last UpdateService set; its
        // deployments are the rollouts still in flight.)
        let mut candidates: Vec<String> = Vec::new();
        if let Some(service) = &active {
            let arns = service.task_definition().into_iter().chain(
                service
                    .deployments()
                    .iter()
                    .filter_map(|d| d.task_definition()),
            );
            for arn in arns {
                if !candidates.iter().any(|c| c == arn) {
                    candidates.push(arn.to_owned());
                }
            }
        }
        let mut started = None;
        for arn in candidates {
            if self.registered_for(&arn, request).await? {
                started = Some((active_arn(&active)?, arn));
                break;
            }
        }
        let (service_arn, task_arn) = match started {
            Some(both) => both,
            None => {
                let secret = self.jwt_secret(project_id, environment).await?;
                let task_arn = self
                    .register(&name, &base, &image, &secret, request)
                    .await?;
                let service_arn = if active.is_some() {
                    self.ecs
                        .update_service()
                        .cluster(&self.settings.cluster)
                        .service(&name)
                        .task_definition(&task_arn)
                        .deployment_configuration(rollout_configuration())
                        .force_new_deployment(true)
                        .send()
                        .await
                        .map_err(super::aws_call_failed)?
                        .service
                } else {
                    self.ecs
                        .create_service()
                        .cluster(&self.settings.cluster)
                        .service_name(&name)
                        // ECS returns the service a request with this token created.
                        .client_token(request.to_string())
                        .task_definition(&task_arn)
                        .desired_count(1)
                        .deployment_configuration(rollout_configuration())
                        .launch_type(LaunchType::Fargate)
                        .network_configuration(
                            NetworkConfiguration::builder()
                                .awsvpc_configuration(
                                    AwsVpcConfiguration::builder()
                                        .set_subnets(Some(self.settings.subnets.clone()))
                                        .set_security_groups(Some(
                                            self.settings.security_groups.clone(),
                                        ))
                                        .assign_public_ip(AssignPublicIp::Disabled)
                                        .build()
                                        .map_err(built)?,
                                )
                                .build(),
                        )
                        .load_balancers(
                            LoadBalancer::builder()
                                .target_group_arn(&target_group)
                                .container_name("app")
                                .container_port(8000)
                                .build(),
                        )
                        .send()
                        .await
                        .map_err(super::aws_call_failed)?
                        .service
                }
                .and_then(|s| s.service_arn)
                .ok_or_else(|| RunnerError::Process("ECS returned no service".into()))?;
                (service_arn, task_arn)
            }
        };
        let mut resources = serde_json::Map::new();
        for (k, v) in [
            ("service_arn", service_arn.clone()),
            ("task_definition_arn", task_arn.clone()),
            ("target_group_arn", target_group),
            ("rule_arn", rule),
            ("image", image),
        ] {
            resources.insert(k.into(), Value::String(v));
        }
        Ok(Rollout {
            id: format!("{name} {task_arn}"),
            url: format!("{}{base}/", self.settings.public_url.trim_end_matches('/')),
            resources,
        })
    }

    async fn rollout_status(&self, rollout: &Rollout) -> Result<RolloutStatus, RunnerError> {
        let (name, task_arn) = rollout
            .id
            .split_once(' ')
            .ok_or_else(|| RunnerError::UnknownJob(rollout.id.clone()))?;
        let out = self
            .ecs
            .describe_services()
            .cluster(&self.settings.cluster)
            .services(name)
            .send()
            .await
            .map_err(super::aws_call_failed)?;
        let service = out
            .services
            .unwrap_or_default()
            .into_iter()
            .next()
            .ok_or_else(|| RunnerError::UnknownJob(rollout.id.clone()))?;
        let ours = service
            .deployments()
            .iter()
            .find(|d| d.task_definition.as_deref() == Some(task_arn));
        let Some(deployment) = ours else {
            return Ok(RolloutStatus::Failed(
                "the service no longer runs this version".into(),
            ));
        };
        use aws_sdk_ecs::types::DeploymentRolloutState as State;
        Ok(match deployment.rollout_state() {
            Some(State::Completed) => RolloutStatus::Running,
            Some(State::Failed) => RolloutStatus::Failed(
                deployment
                    .rollout_state_reason()
                    .unwrap_or("the rollout failed")
                    .to_owned(),
            ),
            // A service that reports no rollout state is stable once every task runs.
            None if deployment.running_count >= deployment.desired_count
                && deployment.desired_count > 0 =>
            {
                RolloutStatus::Running
            }
            _ => RolloutStatus::Pending,
        })
    }

    async fn logs(&self, rollout: &Rollout) -> String {
        match &self.settings.logs {
            Some((group, _)) => {
                let name = rollout.id.split(' ').next().unwrap_or_default();
                format!("The app's logs are in the CloudWatch log group {group}, streams {name}/…")
            }
            None => "This installation keeps no logs of deployed apps.".into(),
        }
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
        for e in environments {
            self.stop_environment(project_id, e).await?;
            self.delete_jwt_secret(project_id, e).await?;
        }
        if environment.is_none() {
            let out = self
                .ecr
                .delete_repository()
                .repository_name(repository_name(project_id))
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
