//! The behaviour every `ProjectStore` and `ArtifactStore` backend must show.
//!
//! Written once over the traits; each backend's tests call these functions with a store of
//! their own (SQLite on disk, DynamoDB and S3 on moto). Every check uses fresh owners and
//! projects, so they can share one store and run concurrently. A failed check panics with a
//! message naming what went wrong.
//!
//! The checks are grouped by what they check: `projects` (their lifecycle, owners, revisions,
//! listing and search), `conversation` (messages, read from either end, and runs), `versions`
//! (versions and deployments), `blobs`, `concurrency` (real concurrent writers), and `shapes`
//! (messages kept in the shape they were written in, which each backend's tests write as an
//! older build did).

mod blobs;
mod concurrency;
mod conversation;
mod projects;
mod shapes;
mod versions;

pub use blobs::{blobs_are_content_addressed, blobs_are_stored_once};
pub use concurrency::{
    concurrent_creates_stop_at_the_limit, concurrent_updates_conflict, run_concurrent,
    writers_that_lose_a_race_read_again_and_all_land,
};
pub use conversation::{
    messages_are_idempotent_and_ordered, messages_made_since_a_time_are_found, runs_are_tracked,
    the_conversation_is_read_from_its_end, the_oldest_unfinished_run_is_found,
};
pub use projects::{
    a_change_and_its_message_land_together, a_stale_revision_conflicts,
    a_writer_that_lost_reads_again_and_both_changes_land, delete_removes_everything,
    owners_are_isolated, project_lifecycle, project_listing_pages, projects_are_searched_by_name,
    the_project_limit_is_counted_with_each_create,
};
pub use shapes::messages_are_answered_as_stored_only_in_this_builds_shape;
pub use versions::{
    a_taken_version_number_moves_the_build_to_the_next, deployments_are_recorded,
    versions_are_immutable_and_listed,
};

use std::sync::Arc;

use super::{ArtifactStore, ProjectStore};
use crate::model::{new_id, Owner, Project};

/// Every check, in turn.
pub async fn run_all(projects: Arc<dyn ProjectStore>, artifacts: Arc<dyn ArtifactStore>) {
    project_lifecycle(projects.as_ref()).await;
    owners_are_isolated(projects.as_ref()).await;
    a_stale_revision_conflicts(projects.as_ref()).await;
    a_change_and_its_message_land_together(projects.as_ref()).await;
    a_writer_that_lost_reads_again_and_both_changes_land(projects.clone()).await;
    a_taken_version_number_moves_the_build_to_the_next(projects.as_ref()).await;
    project_listing_pages(projects.as_ref()).await;
    projects_are_searched_by_name(projects.as_ref()).await;
    messages_are_idempotent_and_ordered(projects.as_ref()).await;
    the_conversation_is_read_from_its_end(projects.as_ref()).await;
    messages_made_since_a_time_are_found(projects.as_ref()).await;
    runs_are_tracked(projects.as_ref()).await;
    the_oldest_unfinished_run_is_found(projects.as_ref()).await;
    versions_are_immutable_and_listed(projects.as_ref()).await;
    deployments_are_recorded(projects.as_ref()).await;
    delete_removes_everything(projects.as_ref()).await;
    the_project_limit_is_counted_with_each_create(projects.as_ref()).await;
    blobs_are_content_addressed(artifacts.as_ref()).await;
}

fn fresh_owner() -> Owner {
    Owner(format!("owner-{}", new_id()))
}

async fn new_project(store: &dyn ProjectStore, owner: &Owner, name: &str) -> Project {
    let p = Project::new(
        owner.clone(),
        name.to_owned(),
        format!("{name} description"),
    );
    store.create_project(&p).await.expect("create_project");
    p
}
