//! The AWS calls behind a deployment: the project's ECR repository, and the stack of an
//! environment (made, updated, read, deleted) with the listener rule priority it is made with.

use aws_sdk_cloudformation::types::{Parameter, Tag};
use uuid::Uuid;

use super::stack::{self, Event, StackNow, StackRequest};
use super::EcsDeployer;
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

impl EcsDeployer {
    /// The project's repository URI, creating the repository the first time.
    pub(super) async fn repository(&self, project_id: Uuid) -> Result<String, RunnerError> {
        let name = self.repository_name(project_id);
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
}

/// Whether CloudFormation says the stack does not exist (it answers a ValidationError).
fn no_such_stack<E, R>(e: &aws_sdk_cloudformation::error::SdkError<E, R>) -> bool
where
    E: aws_sdk_cloudformation::error::ProvideErrorMetadata,
{
    e.as_service_error()
        .and_then(|s| s.message())
        .is_some_and(|m| m.contains("does not exist"))
}

fn tags(wanted: &StackRequest) -> Vec<Tag> {
    wanted
        .tags
        .iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// The request's parameters and the listener rule's priority: `priority` when the stack is
/// made, the stack's own (`UsePreviousValue`) when it is updated.
fn parameters(wanted: &StackRequest, priority: Option<i32>) -> Vec<Parameter> {
    let rule = Parameter::builder().parameter_key(stack::PRIORITY_PARAMETER);
    let rule = match priority {
        Some(p) => rule.parameter_value(p.to_string()),
        None => rule.use_previous_value(true),
    };
    wanted
        .parameters
        .iter()
        .map(|(k, v)| {
            Parameter::builder()
                .parameter_key(k)
                .parameter_value(v)
                .build()
        })
        .chain([rule.build()])
        .collect()
}

impl EcsDeployer {
    /// The stack as it stands, if there is one.
    pub(super) async fn describe_stack(&self, name: &str) -> Result<Option<StackNow>, RunnerError> {
        let out = match self
            .cloudformation
            .describe_stacks()
            .stack_name(name)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) if no_such_stack(&e) => return Ok(None),
            Err(e) => return Err(crate::runner::aws_call_failed(e)),
        };
        Ok(out
            .stacks
            .unwrap_or_default()
            .into_iter()
            .next()
            .map(|s| StackNow {
                status: s
                    .stack_status
                    .as_ref()
                    .map(|v| v.as_str().to_owned())
                    .unwrap_or_default(),
                reason: s.stack_status_reason.clone(),
                request: s
                    .parameters()
                    .iter()
                    .find(|p| p.parameter_key() == Some(stack::REQUEST_PARAMETER))
                    .and_then(|p| p.parameter_value().map(str::to_owned)),
            }))
    }

    /// The stack's newest events (one page: the operations of a deploy request are recent).
    pub(super) async fn stack_events(&self, name: &str) -> Result<Vec<Event>, RunnerError> {
        let out = match self
            .cloudformation
            .describe_stack_events()
            .stack_name(name)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) if no_such_stack(&e) => return Ok(Vec::new()),
            Err(e) => return Err(crate::runner::aws_call_failed(e)),
        };
        Ok(out
            .stack_events()
            .iter()
            .map(|e| Event {
                token: e.client_request_token().map(str::to_owned),
                stack_level: e.resource_type() == Some("AWS::CloudFormation::Stack"),
                logical_id: e.logical_resource_id().unwrap_or_default().to_owned(),
                status: e
                    .resource_status()
                    .map(|s| s.as_str().to_owned())
                    .unwrap_or_default(),
                reason: e.resource_status_reason().map(str::to_owned),
            })
            .collect())
    }

    /// Makes the stack, with a listener rule priority no rule holds now.
    pub(super) async fn create_stack(
        &self,
        request: Uuid,
        wanted: &StackRequest,
    ) -> Result<(), RunnerError> {
        let used: Vec<i32> = self
            .elb
            .describe_rules()
            .listener_arn(&self.settings.listener_arn)
            .send()
            .await
            .map_err(crate::runner::aws_call_failed)?
            .rules()
            .iter()
            .filter_map(|r| r.priority()?.parse().ok())
            .collect();
        let priority = stack::free_priority(&wanted.stack, &used);
        let created = self
            .cloudformation
            .create_stack()
            .stack_name(&wanted.stack)
            .template_body(&wanted.template)
            .set_parameters(Some(parameters(wanted, Some(priority))))
            .set_tags(Some(tags(wanted)))
            .role_arn(&self.settings.stack_role_arn)
            // A repeat of this call is recognised as one, not a second stack of the name.
            .client_request_token(stack::create_token(request, priority))
            .send()
            .await;
        match created {
            Ok(_) => Ok(()),
            // Made meanwhile by a repeat of this step: the next poll reads it.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_already_exists_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(crate::runner::aws_call_failed(e)),
        }
    }

    /// Applies the request to the stack as an update (the rule keeps its priority).
    pub(super) async fn update_stack(
        &self,
        request: Uuid,
        wanted: &StackRequest,
    ) -> Result<(), RunnerError> {
        self.cloudformation
            .update_stack()
            .stack_name(&wanted.stack)
            .template_body(&wanted.template)
            .set_parameters(Some(parameters(wanted, None)))
            .set_tags(Some(tags(wanted)))
            .role_arn(&self.settings.stack_role_arn)
            .client_request_token(stack::request_token(request))
            .send()
            .await
            .map_err(crate::runner::aws_call_failed)?;
        Ok(())
    }

    /// Deletes the stack and everything in it (nothing happens if there is none).
    pub(super) async fn delete_stack(&self, name: &str) -> Result<(), RunnerError> {
        self.cloudformation
            .delete_stack()
            .stack_name(name)
            .send()
            .await
            .map_err(crate::runner::aws_call_failed)?;
        Ok(())
    }
}
