//! The domain: projects, their conversation, versions, runs and deployments, and the words
//! every layer above shares (what a message asks for, a run's input, a test report).
//!
//! Identifiers are UUIDv7 (time-ordered) and timestamps are RFC 3339 UTC.

mod conversation;
mod cost;
mod deployment;
mod error;
pub mod merge;
mod project;
mod review;
mod run;
mod smoke;
mod test_report;
mod usage;
mod version;

pub use conversation::{Agent, Block, Message, Role, MESSAGE_FORMAT};
pub use cost::{CostEstimate, CostItem};
pub use deployment::{Deployment, DeploymentStatus};
pub use error::{Cause, ErrorKind};
pub use merge::{ConflictKind, FileConflict, MergeRef, PendingMerge, ShownConflict, ShownHunk};
pub use project::{
    copy_name, project_name_error, AwaitingConfirmation, DeploymentRef, Environment, Project,
    ProjectStatus, ProjectSummary, MAX_PROJECT_NAME_CHARS, PROJECT_FORMAT,
};
pub use review::{
    Finding, Review, ReviewOverride, ReviewRecord, Severity, SeverityCounts, MAX_RECORDS_BYTES,
    MAX_REVIEW_BYTES,
};
pub use run::{Intent, Run, RunError, RunInput, RunStatus, RunStep};
pub use smoke::{LatencyBucket, LoadReport, SmokeFailure, SmokeReport};
pub use test_report::{FailureCause, TestFailure, TestReport, MAX_CAUSE_FILES};
pub use usage::{ModelUsage, UsageTotal};
pub use version::{
    check_written_path, folder_clash, is_safe_relative_path, sha256_hex, Author, FileEntry,
    Version, MAX_PATH_BYTES,
};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

/// Who a project belongs to: the JWT `sub` on AWS, the holder of the server's token locally.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(transparent)]
pub struct Owner(pub String);

impl Owner {
    /// The owner of everything on a single-user local server.
    pub fn local() -> Self {
        Owner("local".to_owned())
    }
}

impl std::fmt::Display for Owner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A fresh time-ordered identifier.
///
/// `Uuid::now_v7` keeps ids created by one process strictly increasing, so sorting by id is
/// sorting by creation.
pub fn new_id() -> Uuid {
    Uuid::now_v7()
}

/// An id made from another and a label, the same every time: what a step that may run twice
/// names the records it makes (the deployment of a run to an environment). It keeps the
/// first 48 bits of `base` (a UUIDv7's milliseconds), so it sorts with ids made at that time,
/// and takes the rest from a hash of both.
pub fn derived_id(base: Uuid, label: &str) -> Uuid {
    use sha2::Digest;
    let digest = sha2::Sha256::new()
        .chain_update(base.as_bytes())
        .chain_update(label.as_bytes())
        .finalize();
    let mut bytes = [0u8; 16];
    bytes[..6].copy_from_slice(&base.as_bytes()[..6]);
    bytes[6..].copy_from_slice(&digest[..10]);
    bytes[6] = (bytes[6] & 0x0f) | 0x70; // version 7
    bytes[8] = (bytes[8] & 0x3f) | 0x80; // RFC 4122 variant
    Uuid::from_bytes(bytes)
}

/// The current time, truncated to microseconds so that it survives a round trip through every store.
pub fn now() -> OffsetDateTime {
    let t = OffsetDateTime::now_utc();
    t.replace_nanosecond(t.nanosecond() / 1_000 * 1_000)
        .unwrap_or(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_time_ordered() {
        let ids: Vec<Uuid> = (0..1000).map(|_| new_id()).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(ids[0].get_version_num(), 7);
    }

    #[test]
    fn project_round_trips_through_json() {
        let p = Project::new(Owner::local(), "Tasks".into(), "d".into());
        let json = serde_json::to_string(&p).unwrap();
        assert!(json.contains("\"status\":\"new\""));
        let back: Project = serde_json::from_str(&json).unwrap();
        assert_eq!(back, p);
    }

    #[test]
    fn blocks_are_tagged_by_type() {
        let b = Block::Link {
            label: "dev".into(),
            url: "http://127.0.0.1:1/".into(),
        };
        let v = serde_json::to_value(&b).unwrap();
        assert_eq!(v["type"], "link");
    }

    #[test]
    fn a_derived_id_is_the_same_for_the_same_label_and_sorts_with_its_base() {
        let base = new_id();
        let a = derived_id(base, "DevOpsDeploy/dev");
        assert_eq!(a, derived_id(base, "DevOpsDeploy/dev"));
        assert_ne!(a, derived_id(base, "DevOpsDeploy/prod"));
        assert_ne!(a, derived_id(new_id(), "DevOpsDeploy/dev"));
        assert_eq!(a.get_version_num(), 7);
        assert_eq!(a.get_variant(), uuid::Variant::RFC4122);
        assert_eq!(
            a.as_bytes()[..6],
            base.as_bytes()[..6],
            "the same millisecond"
        );
        let later = Uuid::now_v7();
        std::thread::sleep(std::time::Duration::from_millis(2));
        assert!(derived_id(later, "x") < Uuid::now_v7());
    }
}
