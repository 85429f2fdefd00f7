//! One CloudFormation stack per project environment, made from the version's own
//! `deploy/cloudformation.yaml`: what a deploy request asks of the stack, and what the stack's
//! status and events say about that request.
//!
//! A request is named by a client request token, `kiln-{request}` (CloudFormation gives every
//! event of the operation that token, rollback included), with `-p{priority}` when the stack is
//! created (a create that lost its listener rule priority to another stack is made again with
//! another priority, and needs a token of its own). The token without the suffix is also the
//! template's `DeployRequest` parameter, which the task definition carries as a tag: an update
//! always changes something, and a stack without events to read (moto's) still tells whose
//! parameters it holds.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Where a generated project keeps the template of its environments.
pub const TEMPLATE_PATH: &str = "deploy/cloudformation.yaml";

/// CloudFormation's limit on a template passed in the request body, in bytes.
pub const TEMPLATE_BODY_LIMIT: usize = 51_200;

/// The template parameter that holds the listener rule's priority (chosen when the stack is
/// made, kept by every update).
pub(super) const PRIORITY_PARAMETER: &str = "ListenerRulePriority";

/// The template parameter that names the deploy request.
pub(super) const REQUEST_PARAMETER: &str = "DeployRequest";

/// The template parameter of an app with a database: the ARN of the secret that holds its
/// `DATABASE_URL`. A version whose template declares it gets a PostgreSQL database.
pub(super) const DATABASE_PARAMETER: &str = "DatabaseUrlSecretArn";

/// The parameter of an app with a database that names its data token's secret.
pub(super) const DATA_TOKEN_PARAMETER: &str = "DataTokenSecretArn";

/// Whether the template declares the parameter `name`: a key of two spaces' indent in its
/// top-level `Parameters` section (the generated templates' layout).
pub(super) fn declares_parameter(template: &str, name: &str) -> bool {
    let wanted = format!("  {name}:");
    template
        .lines()
        .skip_while(|l| l.trim_end() != "Parameters:")
        .skip(1)
        .take_while(|l| l.is_empty() || l.starts_with(' ') || l.starts_with('#'))
        .any(|l| l.trim_end() == wanted)
}

/// What a deploy request asks of its stack, kept in the runners' bucket so that the polls that
/// follow can make the stack again (see the module's note on priorities).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct StackRequest {
    /// The stack's name.
    pub stack: String,
    /// The template's body.
    pub template: String,
    /// Parameter values, without the listener rule's priority.
    pub parameters: Vec<(String, String)>,
    /// Stack tags (CloudFormation propagates them to every resource that takes tags).
    pub tags: Vec<(String, String)>,
    /// The stack was deleted (or was being deleted) to be made again for this request.
    #[serde(default)]
    pub remake: bool,
}

/// The token of a deploy request (also its `DeployRequest` parameter).
pub(super) fn request_token(request: Uuid) -> String {
    format!("kiln-{request}")
}

/// The token of the create that tries `priority`.
pub(super) fn create_token(request: Uuid, priority: i32) -> String {
    format!("{}-p{priority}", request_token(request))
}

/// The stack as DescribeStacks shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct StackNow {
    pub status: String,
    pub reason: Option<String>,
    /// The `DeployRequest` parameter it holds.
    pub request: Option<String>,
}

/// One stack event, newest first as DescribeStackEvents lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Event {
    pub token: Option<String>,
    /// An event of the stack itself, not of one of its resources.
    pub stack_level: bool,
    pub logical_id: String,
    pub status: String,
    pub reason: Option<String>,
}

/// What the stack says about one deploy request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Judgement {
    /// There is no stack: it is to be made.
    Absent,
    /// The stack shows nothing of this request yet; it stands in `status`.
    NotStarted(String),
    /// The request's operation is under way.
    Pending,
    /// The request's operation completed: the version answers.
    Running,
    /// The request's operation failed (and CloudFormation rolled it back).
    Failed {
        reason: String,
        /// The first create failed only because another rule holds its priority: remove the
        /// rolled-back stack and make it again with another.
        priority_taken: bool,
    },
}

/// Whether a failure reason says a listener rule priority is taken (ELB's `PriorityInUse`).
fn priority_taken(reason: &str) -> bool {
    let lower = reason.to_ascii_lowercase();
    lower.contains("priorityinuse") || (lower.contains("priority") && lower.contains("in use"))
}

/// What `stack` and its `events` (newest first) say about the request whose token is `token`.
pub(super) fn judge(token: &str, stack: Option<&StackNow>, events: &[Event]) -> Judgement {
    let Some(stack) = stack else {
        return Judgement::Absent;
    };
    let mine: Vec<&Event> = events
        .iter()
        .filter(|e| e.token.as_deref().is_some_and(|t| t.starts_with(token)))
        .collect();
    let status = match mine.iter().find(|e| e.stack_level) {
        Some(newest) => newest.status.as_str(),
        // Without events of its own (they aged out of the first page, or the service keeps
        // none), the stack's parameters tell whether it holds this request.
        None if stack.request.as_deref() == Some(token) => stack.status.as_str(),
        None => return Judgement::NotStarted(stack.status.clone()),
    };
    match status {
        "CREATE_COMPLETE" | "UPDATE_COMPLETE" | "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS" => {
            Judgement::Running
        }
        s if s.contains("ROLLBACK") || s.ends_with("_FAILED") => {
            // The root cause is the earliest resource failure of the operation; the stack's
            // own reason ("resource creation cancelled") says less.
            let reason = mine
                .iter()
                .rev()
                .find(|e| !e.stack_level && e.status.ends_with("_FAILED") && e.reason.is_some())
                .and_then(|e| {
                    e.reason
                        .as_ref()
                        .map(|r| format!("{} failed: {r}", e.logical_id))
                })
                .or_else(|| stack.reason.clone())
                .unwrap_or_else(|| format!("the stack ended {s}"));
            let taken = priority_taken(&reason);
            if taken && s != "ROLLBACK_COMPLETE" {
                // Made again once the rollback has finished.
                return Judgement::Pending;
            }
            Judgement::Failed {
                reason,
                priority_taken: taken,
            }
        }
        _ => Judgement::Pending,
    }
}

/// What to do with a stack that shows nothing of the request yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Next {
    /// Apply the request as an update.
    Update,
    /// Another operation is under way: wait for it.
    Wait,
    /// A stack whose first create failed cannot be updated: delete it, then make it again.
    Delete,
    /// Being deleted (taken down, or a failed first create): make it again once it is gone.
    AwaitDeletion,
}

/// What a stack in `status` allows.
pub(super) fn next_for(status: &str) -> Next {
    match status {
        "ROLLBACK_COMPLETE" | "ROLLBACK_FAILED" | "DELETE_FAILED" => Next::Delete,
        "DELETE_IN_PROGRESS" => Next::AwaitDeletion,
        s if s.ends_with("_IN_PROGRESS") => Next::Wait,
        _ => Next::Update,
    }
}

/// A free listener rule priority, starting from a place that depends on the stack (two stacks
/// made at the same time rarely start from the same one).
pub(super) fn free_priority(stack: &str, used: &[i32]) -> i32 {
    const SPAN: u64 = 49_999;
    let start = stack.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    }) % SPAN;
    (0..SPAN)
        .map(|i| ((start + i) % SPAN + 1) as i32)
        .find(|p| !used.contains(p))
        .unwrap_or(50_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_parameter_is_declared_only_in_the_parameters_section() {
        let template = "AWSTemplateFormatVersion: \"2010-09-09\"\nParameters:\n  ProjectId:\n    Type: String\n\n  DatabaseUrlSecretArn:\n    Type: String\nResources:\n  Other:\n    Type: X\n";
        assert!(declares_parameter(template, DATABASE_PARAMETER));
        assert!(declares_parameter(template, "ProjectId"));
        assert!(!declares_parameter(template, "Other"));
        assert!(!declares_parameter(template, "Type"));
        let without = template.replace("  DatabaseUrlSecretArn:\n    Type: String\n", "");
        assert!(!declares_parameter(&without, DATABASE_PARAMETER));
        assert!(!declares_parameter(
            "Resources:\n  DatabaseUrlSecretArn:\n",
            DATABASE_PARAMETER
        ));
    }

    fn stack(status: &str, request: Option<&str>) -> StackNow {
        StackNow {
            status: status.into(),
            reason: Some("the stack's own reason".into()),
            request: request.map(str::to_owned),
        }
    }

    fn event(token: &str, logical: &str, status: &str, reason: Option<&str>) -> Event {
        Event {
            token: Some(token.into()),
            stack_level: logical == "kiln-x",
            logical_id: logical.into(),
            status: status.into(),
            reason: reason.map(str::to_owned),
        }
    }

    #[test]
    fn no_stack_is_to_be_made() {
        assert_eq!(judge("kiln-a", None, &[]), Judgement::Absent);
    }

    #[test]
    fn a_stack_holding_another_request_has_not_started_this_one() {
        let s = stack("UPDATE_COMPLETE", Some("kiln-b"));
        let events = [event("kiln-b", "kiln-x", "UPDATE_COMPLETE", None)];
        assert_eq!(
            judge("kiln-a", Some(&s), &events),
            Judgement::NotStarted("UPDATE_COMPLETE".into())
        );
    }

    #[test]
    fn the_newest_stack_event_of_the_request_decides() {
        let s = stack("UPDATE_IN_PROGRESS", Some("kiln-a"));
        let running = [
            event("kiln-a", "kiln-x", "UPDATE_COMPLETE", None),
            event("kiln-a", "Service", "UPDATE_COMPLETE", None),
            event("kiln-a", "kiln-x", "UPDATE_IN_PROGRESS", None),
        ];
        assert_eq!(judge("kiln-a", Some(&s), &running), Judgement::Running);
        assert_eq!(judge("kiln-a", Some(&s), &running[1..]), Judgement::Pending);
        let cleanup = [event(
            "kiln-a",
            "kiln-x",
            "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
            None,
        )];
        assert_eq!(judge("kiln-a", Some(&s), &cleanup), Judgement::Running);
    }

    #[test]
    fn a_rolled_back_update_fails_with_its_first_resource_failure() {
        let s = stack("UPDATE_ROLLBACK_COMPLETE", Some("kiln-old"));
        let events = [
            event("kiln-a", "kiln-x", "UPDATE_ROLLBACK_COMPLETE", None),
            event(
                "kiln-a",
                "kiln-x",
                "UPDATE_ROLLBACK_IN_PROGRESS",
                Some("cancelled"),
            ),
            event(
                "kiln-a",
                "Service",
                "UPDATE_FAILED",
                Some("ECS Deployment Circuit Breaker was triggered"),
            ),
            event("kiln-a", "TaskDefinition", "UPDATE_FAILED", None),
            event("kiln-a", "kiln-x", "UPDATE_IN_PROGRESS", None),
        ];
        assert_eq!(
            judge("kiln-a", Some(&s), &events),
            Judgement::Failed {
                reason: "Service failed: ECS Deployment Circuit Breaker was triggered".into(),
                priority_taken: false
            }
        );
        // Failed as soon as the rollback starts: the service already went back.
        assert!(matches!(
            judge("kiln-a", Some(&s), &events[1..]),
            Judgement::Failed { .. }
        ));
    }

    #[test]
    fn a_create_that_lost_its_priority_is_made_again_once_rolled_back() {
        let reason = "Priority '7' is currently in use (Service: ElasticLoadBalancingV2, Status Code: 400, Error Code: PriorityInUse)";
        let rolling = [
            event("kiln-a-p7", "kiln-x", "ROLLBACK_IN_PROGRESS", None),
            event("kiln-a-p7", "PathRule", "CREATE_FAILED", Some(reason)),
        ];
        let s = stack("ROLLBACK_IN_PROGRESS", Some("kiln-a"));
        assert_eq!(judge("kiln-a", Some(&s), &rolling), Judgement::Pending);
        let mut done = rolling.to_vec();
        done.insert(0, event("kiln-a-p7", "kiln-x", "ROLLBACK_COMPLETE", None));
        let s = stack("ROLLBACK_COMPLETE", Some("kiln-a"));
        assert_eq!(
            judge("kiln-a", Some(&s), &done),
            Judgement::Failed {
                reason: format!("PathRule failed: {reason}"),
                priority_taken: true
            }
        );
    }

    #[test]
    fn without_events_the_parameters_say_whose_the_stack_is() {
        assert_eq!(
            judge(
                "kiln-a",
                Some(&stack("CREATE_COMPLETE", Some("kiln-a"))),
                &[]
            ),
            Judgement::Running
        );
        assert_eq!(
            judge(
                "kiln-a",
                Some(&stack("ROLLBACK_FAILED", Some("kiln-a"))),
                &[]
            ),
            Judgement::Failed {
                reason: "the stack's own reason".into(),
                priority_taken: false
            }
        );
        assert_eq!(
            judge(
                "kiln-a",
                Some(&stack("CREATE_COMPLETE", Some("kiln-b"))),
                &[]
            ),
            Judgement::NotStarted("CREATE_COMPLETE".into())
        );
    }

    #[test]
    fn tokens_are_what_cloudformation_accepts_and_a_create_matches_its_request() {
        // CloudFormation takes [a-zA-Z][-a-zA-Z0-9]*, at most 128; a create's suffix (-p<n>)
        // still matches its request.
        let a = Uuid::now_v7();
        assert!(create_token(a, 12).starts_with(&request_token(a)));
        assert!(create_token(a, 12).len() <= 128);
        assert!(create_token(a, 12)
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-'));
        assert!(create_token(a, 12).starts_with(|c: char| c.is_ascii_alphabetic()));
    }

    #[test]
    fn what_a_stack_allows() {
        assert_eq!(next_for("ROLLBACK_COMPLETE"), Next::Delete);
        assert_eq!(next_for("ROLLBACK_FAILED"), Next::Delete);
        assert_eq!(next_for("UPDATE_IN_PROGRESS"), Next::Wait);
        assert_eq!(next_for("DELETE_IN_PROGRESS"), Next::AwaitDeletion);
        assert_eq!(next_for("UPDATE_ROLLBACK_IN_PROGRESS"), Next::Wait);
        assert_eq!(next_for("UPDATE_ROLLBACK_COMPLETE"), Next::Update);
        assert_eq!(next_for("CREATE_COMPLETE"), Next::Update);
    }

    #[test]
    fn priorities_are_free_and_in_range() {
        let p = free_priority("kiln-prod-abc-dev", &[]);
        assert!((1..=50_000).contains(&p));
        let q = free_priority("kiln-prod-abc-dev", &[p]);
        assert_ne!(p, q);
        assert!((1..=50_000).contains(&q));
        assert_ne!(
            free_priority("kiln-prod-abc-dev", &[]),
            free_priority("kiln-prod-abd-dev", &[])
        );
    }
}
