//! Deployments: a version running in an environment.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

use super::Environment;

/// The state of a deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeploymentStatus {
    /// Being rolled out.
    Pending,
    /// Answering at its URL.
    Running,
    /// Replaced or torn down.
    Stopped,
    /// Did not come up.
    Failed,
}

/// One rollout of a version to an environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Deployment {
    /// UUIDv7.
    pub id: Uuid,
    /// The project.
    pub project_id: Uuid,
    /// Target environment.
    pub environment: Environment,
    /// The version deployed.
    pub version: u32,
    /// Its state.
    pub status: DeploymentStatus,
    /// Where it answers.
    pub url: Option<String>,
    /// Provider-specific handles (process id, ECS service ARN, …).
    #[serde(default)]
    pub resources: serde_json::Map<String, serde_json::Value>,
    /// What it was estimated to cost a month on AWS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monthly_usd: Option<f64>,
    /// The user's message that confirmed it, when it needed a confirmation (prod, or over
    /// the owner's monthly budget).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmed_by: Option<Uuid>,
    /// The last lines of its log.
    #[serde(default)]
    pub logs: String,
    /// Deployed over its review's blocking findings, because the user said so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review_override: Option<super::ReviewOverride>,
    /// Creation time.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}
