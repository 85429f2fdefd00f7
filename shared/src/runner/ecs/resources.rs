//! The AWS resources behind a deployment: the project's ECR repository, task definitions
//! (tagged with the request that registered them), the target group and listener rule of an
//! environment, and their removal.

use aws_sdk_ecs::types::{
    Compatibility, ContainerDefinition, CpuArchitecture, KeyValuePair, LogConfiguration, LogDriver,
    NetworkMode, OsFamily, PortMapping, RuntimePlatform,
};
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, PathPatternConditionConfig, ProtocolEnum, RuleCondition, TargetTypeEnum,
};
use uuid::Uuid;

use super::{deployment_name, is_missing, repository_name, EcsDeployer};
use crate::model::Environment;
use crate::runner::RunnerError;

/// How many images of a project its repository keeps: the versions a rollback is likely to
/// go back to (older ones are rebuilt from their files when deployed again).
pub const IMAGES_KEPT: u32 = 10;

/// ECR's lifecycle policy that expires all but the newest [`IMAGES_KEPT`] images.
fn lifecycle_policy() -> String {
    serde_json::json!({
        "rules": [{
            "rulePriority": 1,
            "description": format!("keep the newest {IMAGES_KEPT} images"),
            "selection": {
                "tagStatus": "any",
                "countType": "imageCountMoreThan",
                "countNumber": IMAGES_KEPT
            },
            "action": {"type": "expire"}
        }]
    })
    .to_string()
}

/// Seconds between the load balancer's health checks of an app.
pub const HEALTH_CHECK_INTERVAL_SECS: i32 = 10;
/// Seconds a replaced app's tasks get to finish their requests.
pub const DEREGISTRATION_DELAY_SECS: u32 = 30;

/// The tag that names the deploy request a task definition was registered for.
const REQUEST_TAG: &str = "kiln:request";

/// Whether a listener rule sends `pattern` somewhere.
fn routes(rule: &aws_sdk_elasticloadbalancingv2::types::Rule, pattern: &String) -> bool {
    rule.conditions().iter().any(|c| {
        c.values().contains(pattern)
            || c.path_pattern_config()
                .is_some_and(|p| p.values().contains(pattern))
    })
}

impl EcsDeployer {
    /// Registers the task definition of a rollout, tagged with the request that asked for it
    /// (tagging on create needs `ecs:TagResource` beside `ecs:RegisterTaskDefinition`).
    pub(super) async fn register(
        &self,
        name: &str,
        base: &str,
        image: &str,
        jwt_secret_arn: &str,
        request: Uuid,
    ) -> Result<String, RunnerError> {
        let env = |k: &str, v: String| KeyValuePair::builder().name(k).value(v).build();
        let task = self
            .ecs
            .register_task_definition()
            .family(name)
            .requires_compatibilities(Compatibility::Fargate)
            .network_mode(NetworkMode::Awsvpc)
            .cpu("256")
            .memory("512")
            .execution_role_arn(&self.settings.execution_role_arn)
            // Images are built on CodeBuild's ARM containers (the template's ImageProject);
            // without this Fargate pulls for X86_64 and the task cannot start.
            .runtime_platform(
                RuntimePlatform::builder()
                    .cpu_architecture(CpuArchitecture::Arm64)
                    .operating_system_family(OsFamily::Linux)
                    .build(),
            )
            .tags(
                aws_sdk_ecs::types::Tag::builder()
                    .key(REQUEST_TAG)
                    .value(request.to_string())
                    .build(),
            )
            .container_definitions(
                ContainerDefinition::builder()
                    .name("app")
                    .image(image)
                    .essential(true)
                    .port_mappings(PortMapping::builder().container_port(8000).build())
                    .environment(env("BASE_PATH", base.to_owned()))
                    .environment(env("PORT", "8000".into()))
                    .environment(env("DATABASE_URL", "sqlite:////srv/data/app.db".into()))
                    // By reference: ECS reads the value when the task starts (with the tasks'
                    // role), and no API that describes the task shows it.
                    .secrets(
                        aws_sdk_ecs::types::Secret::builder()
                            .name("JWT_SECRET")
                            .value_from(jwt_secret_arn)
                            .build()
                            .map_err(super::built)?,
                    )
                    .set_log_configuration(self.settings.logs.as_ref().map(|(group, region)| {
                        LogConfiguration::builder()
                            .log_driver(LogDriver::Awslogs)
                            .options("awslogs-group", group)
                            .options("awslogs-region", region)
                            .options("awslogs-stream-prefix", name)
                            .build()
                            .expect("complete log configuration")
                    }))
                    .build(),
            )
            .send()
            .await
            .map_err(crate::runner::aws_call_failed)?;
        task.task_definition
            .and_then(|t| t.task_definition_arn)
            .ok_or_else(|| RunnerError::Process("ECS registered no task definition".into()))
    }

    /// Whether the task definition `arn` was registered for `request`.
    pub(super) async fn registered_for(
        &self,
        arn: &str,
        request: Uuid,
    ) -> Result<bool, RunnerError> {
        let out = self
            .ecs
            .describe_task_definition()
            .task_definition(arn)
            .include(aws_sdk_ecs::types::TaskDefinitionField::Tags)
            .send()
            .await
            .map_err(crate::runner::aws_call_failed)?;
        let wanted = request.to_string();
        Ok(out
            .tags()
            .iter()
            .any(|t| t.key() == Some(REQUEST_TAG) && t.value() == Some(wanted.as_str())))
    }

    /// The project's repository URI, creating the repository the first time.
    pub(super) async fn repository(&self, project_id: Uuid) -> Result<String, RunnerError> {
        let name = repository_name(project_id);
        let uri = match self
            .ecr
            .create_repository()
            .repository_name(&name)
            .send()
            .await
        {
            Ok(out) => out.repository.and_then(|r| r.repository_uri),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_repository_already_exists_exception()) =>
            {
                let out = self
                    .ecr
                    .describe_repositories()
                    .repository_names(&name)
                    .send()
                    .await
                    .map_err(crate::runner::aws_call_failed)?;
                out.repositories
                    .unwrap_or_default()
                    .into_iter()
                    .next()
                    .and_then(|r| r.repository_uri)
            }
            Err(e) => return Err(crate::runner::aws_call_failed(e)),
        }
        .ok_or_else(|| RunnerError::Process(format!("ECR has no URI for {name}")))?;
        // Every build pushes an image; keep the newest few (set each time, so a repository
        // made by an attempt that stopped before this still gets it).
        self.ecr
            .put_lifecycle_policy()
            .repository_name(&name)
            .lifecycle_policy_text(lifecycle_policy())
            .send()
            .await
            .map_err(crate::runner::aws_call_failed)?;
        Ok(uri)
    }

    /// The target group of a deployment, created the first time.
    pub(super) async fn target_group(&self, name: &str, base: &str) -> Result<String, RunnerError> {
        let existing = self.elb.describe_target_groups().names(name).send().await;
        if let Ok(out) = existing {
            if let Some(arn) = out
                .target_groups
                .unwrap_or_default()
                .into_iter()
                .find_map(|t| t.target_group_arn)
            {
                return Ok(arn);
            }
        }
        let out = self
            .elb
            .create_target_group()
            .name(name)
            .protocol(ProtocolEnum::Http)
            .port(8000)
            .vpc_id(&self.settings.vpc_id)
            .target_type(TargetTypeEnum::Ip)
            .health_check_path(format!("{base}/health"))
            // A new version counts as healthy after two checks 10 s apart (ELB's defaults,
            // 30 s and 5 checks, take 2.5 minutes before the first request reaches it).
            .health_check_interval_seconds(HEALTH_CHECK_INTERVAL_SECS)
            .healthy_threshold_count(2)
            .send()
            .await
            .map_err(crate::runner::aws_call_failed)?;
        let arn = out
            .target_groups
            .unwrap_or_default()
            .into_iter()
            .find_map(|t| t.target_group_arn)
            .ok_or_else(|| RunnerError::Process("ELB created no target group".into()))?;
        // The old version's tasks finish their requests in 30 s, not ELB's default 300.
        self.elb
            .modify_target_group_attributes()
            .target_group_arn(&arn)
            .attributes(
                aws_sdk_elasticloadbalancingv2::types::TargetGroupAttribute::builder()
                    .key("deregistration_delay.timeout_seconds")
                    .value(DEREGISTRATION_DELAY_SECS.to_string())
                    .build(),
            )
            .send()
            .await
            .map_err(crate::runner::aws_call_failed)?;
        Ok(arn)
    }

    /// The listener rule sending `{base}` and `{base}/*` to the target group.
    pub(super) async fn path_rule(
        &self,
        base: &str,
        target_group: &str,
    ) -> Result<String, RunnerError> {
        let rules = self
            .elb
            .describe_rules()
            .listener_arn(&self.settings.listener_arn)
            .send()
            .await
            .map_err(crate::runner::aws_call_failed)?
            .rules
            .unwrap_or_default();
        let pattern = format!("{base}/*");
        let mine = rules.iter().find(|r| routes(r, &pattern));
        if let Some(arn) = mine.and_then(|r| r.rule_arn.clone()) {
            return Ok(arn);
        }
        let used: Vec<i32> = rules
            .iter()
            .filter_map(|r| r.priority.as_deref()?.parse().ok())
            .collect();
        let priority = (1..50_000).find(|p| !used.contains(p)).unwrap_or(49_999);
        let out = self
            .elb
            .create_rule()
            .listener_arn(&self.settings.listener_arn)
            .priority(priority)
            .conditions(
                RuleCondition::builder()
                    .field("path-pattern")
                    .path_pattern_config(
                        PathPatternConditionConfig::builder()
                            .values(base)
                            .values(&pattern)
                            .build(),
                    )
                    .build(),
            )
            .actions(
                Action::builder()
                    .r#type(ActionTypeEnum::Forward)
                    .target_group_arn(target_group)
                    .build(),
            )
            .send()
            .await
            .map_err(crate::runner::aws_call_failed)?;
        out.rules
            .unwrap_or_default()
            .into_iter()
            .find_map(|r| r.rule_arn)
            .ok_or_else(|| RunnerError::Process("ELB created no rule".into()))
    }

    pub(super) async fn stop_environment(
        &self,
        project_id: Uuid,
        environment: Environment,
    ) -> Result<(), RunnerError> {
        let name = deployment_name(project_id, environment);
        let base = format!("/{name}");
        let services = match self
            .ecs
            .describe_services()
            .cluster(&self.settings.cluster)
            .services(&name)
            .send()
            .await
        {
            Ok(out) => out.services.unwrap_or_default(),
            Err(e) if is_missing(&e) => Vec::new(),
            Err(e) => return Err(crate::runner::aws_call_failed(e)),
        };
        let active = services
            .iter()
            .any(|s| s.status.as_deref() == Some("ACTIVE"));
        if active {
            self.ecs
                .delete_service()
                .cluster(&self.settings.cluster)
                .service(&name)
                .force(true)
                .send()
                .await
                .map_err(crate::runner::aws_call_failed)?;
        }
        let rules = match self
            .elb
            .describe_rules()
            .listener_arn(&self.settings.listener_arn)
            .send()
            .await
        {
            Ok(out) => out.rules.unwrap_or_default(),
            Err(e) if is_missing(&e) => Vec::new(),
            Err(e) => return Err(crate::runner::aws_call_failed(e)),
        };
        let pattern = format!("{base}/*");
        for rule in rules.iter().filter(|r| routes(r, &pattern)) {
            if let Some(arn) = &rule.rule_arn {
                self.elb
                    .delete_rule()
                    .rule_arn(arn)
                    .send()
                    .await
                    .map_err(crate::runner::aws_call_failed)?;
            }
        }
        if let Ok(out) = self.elb.describe_target_groups().names(&name).send().await {
            for arn in out
                .target_groups
                .unwrap_or_default()
                .into_iter()
                .filter_map(|t| t.target_group_arn)
            {
                self.elb
                    .delete_target_group()
                    .target_group_arn(arn)
                    .send()
                    .await
                    .map_err(crate::runner::aws_call_failed)?;
            }
        }
        Ok(())
    }
}
