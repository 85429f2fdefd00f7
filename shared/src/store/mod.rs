//! The storage ports: `ProjectStore` for metadata, `ArtifactStore` for file contents.
//!
//! One module per backend; `conformance` is the suite every backend must pass.

pub mod conformance;
#[cfg(feature = "aws")]
mod dynamodb;
mod events;
mod fs;
mod json;
#[cfg(feature = "aws")]
mod s3;
mod sqlite;

#[cfg(feature = "aws")]
pub use dynamodb::DynamoStore;
pub use events::{ObservedStore, ProjectEvent};
pub use fs::FsArtifactStore;
pub use json::{MessageJson, ProjectJson, StoredJson};
#[cfg(feature = "aws")]
pub use s3::S3ArtifactStore;
pub use sqlite::SqliteStore;

use async_trait::async_trait;
use base64::Engine;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::model::{
    Cause, Deployment, ErrorKind, Message, Owner, Project, ProjectSummary, Run, RunStatus, Version,
};

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The thing does not exist (or belongs to someone else).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A write lost a race: the revision moved on, or the key is taken.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The owner has as many projects as allowed (the number); nothing was written.
    #[error("the owner has {0} projects, the most allowed")]
    LimitReached(u64),
    /// A paging cursor that this store did not hand out.
    #[error("the cursor is not valid for this list")]
    BadCursor,
    /// The backend is busy or unreachable now (a timeout, throttling, a locked database).
    #[error("storage is unavailable: {0}")]
    Unavailable(#[source] Cause),
    /// Stored data is not what it must be (a record that does not parse, a blob whose content
    /// does not match its hash).
    #[error("stored data is corrupt: {0}")]
    Corrupt(#[source] Cause),
    /// The backend failed in a way a retry does not fix.
    #[error("storage failed: {0}")]
    Backend(#[source] Cause),
}

#[cfg(feature = "aws")]
impl From<crate::aws::CallFailure> for StoreError {
    fn from(failure: crate::aws::CallFailure) -> Self {
        match failure {
            crate::aws::CallFailure::Transient(cause) => StoreError::Unavailable(cause),
            crate::aws::CallFailure::Permanent(cause) => StoreError::Backend(cause),
        }
    }
}

impl StoreError {
    /// What the failure means.
    pub fn kind(&self) -> ErrorKind {
        match self {
            StoreError::NotFound(_) => ErrorKind::NotFound,
            StoreError::Conflict(_) | StoreError::LimitReached(_) => ErrorKind::Conflict,
            StoreError::BadCursor => ErrorKind::Invalid,
            StoreError::Unavailable(_) => ErrorKind::Transient,
            StoreError::Corrupt(_) => ErrorKind::Corrupt,
            StoreError::Backend(_) => ErrorKind::Permanent,
        }
    }

    /// A permanent failure described in words only.
    pub fn failed(what: impl Into<String>) -> Self {
        StoreError::Backend(Cause::new(what))
    }

    /// A permanent failure of `what`, caused by `source`.
    pub fn failed_with(
        what: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        StoreError::Backend(Cause::with(what, source))
    }

    /// A stored record of `what` that does not read back, because of `source`.
    pub fn corrupt(
        what: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        StoreError::Corrupt(Cause::with(what, source))
    }
}

/// Result of a store operation.
pub type StoreResult<T> = Result<T, StoreError>;

/// Largest page any list returns.
pub const MAX_PAGE: u32 = 200;
/// Page size when the client names none.
pub const DEFAULT_PAGE: u32 = 50;

/// Which page of a list to read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageRequest {
    /// At most this many items (clamped to 1..=[`MAX_PAGE`]).
    pub limit: Option<u32>,
    /// Where the previous page ended, as handed out in `next_cursor`.
    pub cursor: Option<String>,
}

impl PageRequest {
    /// The first page of the given size.
    pub fn first(limit: u32) -> Self {
        PageRequest {
            limit: Some(limit),
            cursor: None,
        }
    }

    /// The effective page size.
    pub fn limit(&self) -> u32 {
        self.limit.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE)
    }
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    /// The items, in the list's order.
    pub items: Vec<T>,
    /// Pass this back as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// A project's summary as JSON, as a page of projects holds it.
pub type SummaryJson = Box<serde_json::value::RawValue>;

/// The lowest UUIDv7 made at `at` (its random bits zero): every id made at or after `at`
/// sorts at or after it, as bytes and as hyphenated lowercase text.
pub fn first_id_at(at: time::OffsetDateTime) -> Uuid {
    let millis = u64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
    uuid::Builder::from_unix_timestamp_millis(millis, &[0u8; 10]).into_uuid()
}

/// Wraps a backend's position in an opaque cursor string.
pub fn encode_cursor(position: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(position.as_bytes())
}

/// Reads back a cursor made by [`encode_cursor`].
pub fn decode_cursor(cursor: &str) -> StoreResult<String> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| StoreError::BadCursor)?;
    String::from_utf8(bytes).map_err(|_| StoreError::BadCursor)
}

/// A cursor of a list read backwards, from its end (a conversation's newest page first): the
/// position of the oldest item handed out, marked so that the list read forwards and this one
/// never take each other's cursors.
pub fn encode_back_cursor(position: &str) -> String {
    encode_cursor(&format!("<{position}"))
}

/// Reads back a cursor made by [`encode_back_cursor`]; any other is `BadCursor`.
pub fn decode_back_cursor(cursor: &str) -> StoreResult<String> {
    decode_cursor(cursor)?
        .strip_prefix('<')
        .map(str::to_owned)
        .ok_or(StoreError::BadCursor)
}

/// Text as a search compares it: in lower case, by Unicode's rules. Both backends fold a
/// project's name and the text searched for with this one function, so they find the same.
pub fn fold_case(text: &str) -> String {
    text.to_lowercase()
}

/// The one field of a stored project a search compares, read without the rest of it.
#[derive(serde::Deserialize)]
pub(crate) struct Named {
    name: String,
}

impl Named {
    /// Whether the name holds `folded` (a text already folded by [`fold_case`]).
    pub(crate) fn holds(&self, folded: &str) -> bool {
        fold_case(&self.name).contains(folded)
    }
}

/// The outcome of posting a user message.
#[derive(Debug, Clone, PartialEq)]
pub struct Posted {
    /// The stored message (the earlier one on a retry).
    pub message: Message,
    /// Its run.
    pub run: Run,
    /// False when the client's `client_id` was seen before and nothing was written.
    pub created: bool,
}

/// Metadata of projects, conversations, runs, versions and deployments.
#[async_trait]
pub trait ProjectStore: Send + Sync {
    /// Stores a new project.
    async fn create_project(&self, project: &Project) -> StoreResult<()> {
        self.create_project_within(project, u64::MAX).await
    }

    /// Stores a new project unless its owner already has `limit` projects (`LimitReached`),
    /// counted and written in one atomic step: concurrent creates never pass the limit together.
    async fn create_project_within(&self, project: &Project, limit: u64) -> StoreResult<()>;

    /// The project with this id, if `owner` owns it; `NotFound` otherwise, so that another
    /// owner's project looks exactly like one that does not exist.
    async fn get_project(&self, owner: &Owner, id: Uuid) -> StoreResult<Project> {
        let project = self.load_project(id).await?;
        if project.owner != *owner {
            return Err(StoreError::NotFound("project"));
        }
        Ok(project)
    }

    /// [`get_project`](Self::get_project) as JSON: a store that keeps each project's JSON in
    /// this build's shape ([`PROJECT_FORMAT`](crate::model::PROJECT_FORMAT)) answers it
    /// without reading it.
    async fn get_project_json(&self, owner: &Owner, id: Uuid) -> StoreResult<ProjectJson> {
        StoredJson::encode(&self.get_project(owner, id).await?)
    }

    /// `Ok` when `owner` owns the project with this id, `NotFound` otherwise (as
    /// [`get_project`](Self::get_project) answers): for requests that read something of the
    /// project's and not the project itself, which the stores answer without reading its
    /// document.
    async fn check_owner(&self, owner: &Owner, id: Uuid) -> StoreResult<()> {
        self.get_project(owner, id).await.map(drop)
    }

    /// The project with this id, whoever owns it; for workflow steps that run on a
    /// project the API already checked.
    async fn load_project(&self, id: Uuid) -> StoreResult<Project>;

    /// The owner's projects, most recently updated first.
    async fn list_projects(
        &self,
        owner: &Owner,
        page: &PageRequest,
    ) -> StoreResult<Page<ProjectSummary>>;

    /// The owner's projects whose name holds `text` ignoring case (both folded by
    /// [`fold_case`]), most recently updated first, paged as [`ProjectStore::list_projects`]
    /// is. `text` is only text: no character in it is a pattern or reaches a query. An empty
    /// `text` is in every name.
    async fn search_projects(
        &self,
        owner: &Owner,
        text: &str,
        page: &PageRequest,
    ) -> StoreResult<Page<ProjectSummary>>;

    /// [`list_projects`](Self::list_projects) as JSON: a store that keeps each summary as
    /// JSON in this build's shape hands it out as stored, not read and written again.
    async fn list_projects_json(
        &self,
        owner: &Owner,
        page: &PageRequest,
    ) -> StoreResult<Page<SummaryJson>> {
        json::raw_page(self.list_projects(owner, page).await?)
    }

    /// [`search_projects`](Self::search_projects) as JSON, as
    /// [`list_projects_json`](Self::list_projects_json) reads it.
    async fn search_projects_json(
        &self,
        owner: &Owner,
        text: &str,
        page: &PageRequest,
    ) -> StoreResult<Page<SummaryJson>> {
        json::raw_page(self.search_projects(owner, text, page).await?)
    }

    /// How many projects the owner has.
    async fn count_projects(&self, owner: &Owner) -> StoreResult<u64>;

    /// Writes `project` if the stored revision still equals `project.revision`; returns the
    /// stored project, with its revision incremented and `updated_at` set. `Conflict` if
    /// someone else updated it first.
    async fn update_project(&self, project: &Project) -> StoreResult<Project>;

    /// Saves the project as [`ProjectStore::update_project`] does and appends `message` (as
    /// [`ProjectStore::append_message`] does) in the same write: both land or neither does, so
    /// a step's change and what it says about it are never split by a failure in between.
    async fn update_project_and_append(
        &self,
        project: &Project,
        message: &Message,
    ) -> StoreResult<Project>;

    /// Deletes the project and everything under it.
    async fn delete_project(&self, owner: &Owner, id: Uuid) -> StoreResult<()>;

    /// Stores a user message and its run in one step. If the message carries a `client_id`
    /// already used in this project, nothing is written and the earlier pair is returned; if
    /// that key names a reply rather than a user message, `Conflict`.
    async fn post_user_message(&self, message: &Message, run: &Run) -> StoreResult<Posted>;

    /// Appends an agent's or the system's message. A message whose `client_id` (the reply's
    /// key, `{run}/{step}/{what}`) is already used in the project is not written again: a
    /// step that runs twice says each thing once, and the first wording stays. True when the
    /// message was written, false when its key was taken.
    async fn append_message(&self, message: &Message) -> StoreResult<bool>;

    /// One message of the project.
    async fn get_message(&self, project_id: Uuid, message_id: Uuid) -> StoreResult<Message>;

    /// The conversation, oldest first.
    async fn list_messages(
        &self,
        project_id: Uuid,
        page: &PageRequest,
    ) -> StoreResult<Page<Message>>;

    /// The conversation read from its end, a page at a time: the `limit` messages just before
    /// `page.cursor` (without one, the newest), oldest first. `next_cursor` reads the page
    /// before them and is absent when they begin the conversation. This list and
    /// [`ProjectStore::list_messages`] refuse each other's cursors (`BadCursor`).
    async fn list_messages_backwards(
        &self,
        project_id: Uuid,
        page: &PageRequest,
    ) -> StoreResult<Page<Message>>;

    /// [`list_messages`](Self::list_messages) as JSON: a store that keeps each message's JSON
    /// in this build's shape ([`MESSAGE_FORMAT`](crate::model::MESSAGE_FORMAT)) answers it
    /// without reading it.
    async fn list_messages_json(
        &self,
        project_id: Uuid,
        page: &PageRequest,
    ) -> StoreResult<Page<MessageJson>> {
        StoredJson::page(self.list_messages(project_id, page).await?)
    }

    /// [`list_messages_backwards`](Self::list_messages_backwards) as JSON, as
    /// [`list_messages_json`](Self::list_messages_json) reads it.
    async fn list_messages_backwards_json(
        &self,
        project_id: Uuid,
        page: &PageRequest,
    ) -> StoreResult<Page<MessageJson>> {
        StoredJson::page(self.list_messages_backwards(project_id, page).await?)
    }

    /// The project's messages whose ids were made at or after `since` (a message's id is a
    /// UUIDv7 made with it), in the conversation's order, at most `limit` (clamped like a
    /// page): what a client following the conversation asks for, from a little before its
    /// last look, to catch a message written a moment after it was made.
    async fn messages_made_since(
        &self,
        project_id: Uuid,
        since: time::OffsetDateTime,
        limit: u32,
    ) -> StoreResult<Vec<Message>>;

    /// A run of the project.
    async fn get_run(&self, project_id: Uuid, run_id: Uuid) -> StoreResult<Run>;

    /// Replaces a run's stored state.
    async fn update_run(&self, run: &Run) -> StoreResult<()>;

    /// Replaces a run's stored state only if its stored status is still `from`, in one
    /// conditional write: true when it was replaced, false when something else (a step)
    /// changed the status first. `NotFound` if there is no such run.
    async fn update_run_from(&self, run: &Run, from: RunStatus) -> StoreResult<bool>;

    /// The project's runs made before `run_id` (ids are UUIDv7, so: whose messages arrived
    /// earlier), newest first, at most `limit`.
    async fn runs_before(
        &self,
        project_id: Uuid,
        run_id: Uuid,
        limit: u32,
    ) -> StoreResult<Vec<Run>>;

    /// The oldest run that is queued or running among the project's `lookback` runs made just
    /// before `run_id` (those [`runs_before`](Self::runs_before) reads): the one `run_id` waits
    /// for. Stores that can tell a run's status without reading it read only that one.
    async fn oldest_unfinished_run_before(
        &self,
        project_id: Uuid,
        run_id: Uuid,
        lookback: u32,
    ) -> StoreResult<Option<Run>> {
        let runs = self.runs_before(project_id, run_id, lookback).await?;
        Ok(runs
            .into_iter()
            .filter(|r| matches!(r.status, RunStatus::Queued | RunStatus::Running))
            .min_by_key(|r| r.id))
    }

    /// Every run, of any project, that is queued or running.
    async fn unfinished_runs(&self) -> StoreResult<Vec<Run>>;

    /// Stores a new version; `Conflict` if its number is taken.
    async fn create_version(&self, version: &Version) -> StoreResult<()>;

    /// One version of the project.
    async fn get_version(&self, project_id: Uuid, number: u32) -> StoreResult<Version>;

    /// The project's versions, newest first.
    async fn list_versions(
        &self,
        project_id: Uuid,
        page: &PageRequest,
    ) -> StoreResult<Page<Version>>;

    /// Creates or replaces a deployment record.
    async fn put_deployment(&self, deployment: &Deployment) -> StoreResult<()>;

    /// The project's deployments, newest first.
    async fn list_deployments(&self, project_id: Uuid) -> StoreResult<Vec<Deployment>>;

    /// Every deployment, of any project, that is pending or running.
    async fn live_deployments(&self) -> StoreResult<Vec<Deployment>>;
}

/// File contents, stored once per SHA-256.
#[async_trait]
pub trait ArtifactStore: Send + Sync {
    /// Stores `bytes` and returns their hex SHA-256; storing the same bytes twice is a no-op.
    async fn put_blob(&self, bytes: &[u8]) -> StoreResult<String>;

    /// The bytes with this hex SHA-256.
    async fn get_blob(&self, sha256: &str) -> StoreResult<Vec<u8>>;

    /// Whether the bytes with this hex SHA-256 are stored.
    async fn has_blob(&self, sha256: &str) -> StoreResult<bool>;

    /// Stores an export under `key` and returns a link that downloads it as `file_name` for a
    /// while, for answers too large to send inline (Lambda's 6 MB); `None` from a store that
    /// cannot hand out links (then the export is sent inline, as `kiln serve` always can).
    async fn export_link(
        &self,
        key: &str,
        bytes: Vec<u8>,
        file_name: &str,
    ) -> StoreResult<Option<String>>;
}

/// How many times [`modify_project`] reads and writes before it gives up.
pub const MODIFY_ATTEMPTS: usize = 5;

/// Loads project `id`, applies `change` and saves it, reading again and re-applying `change`
/// when another writer saved first (a conflict on the revision). `change` returns false to skip
/// the write. After [`MODIFY_ATTEMPTS`] conflicts in a row, the last conflict is returned. Each
/// conflict means another writer succeeded, so `n` concurrent writers all land when
/// `n <= MODIFY_ATTEMPTS`.
pub async fn modify_project<F, E>(
    store: &dyn ProjectStore,
    id: Uuid,
    mut change: F,
) -> Result<Project, E>
where
    F: FnMut(&mut Project) -> Result<bool, E>,
    E: From<StoreError>,
{
    let mut last = StoreError::Conflict(format!("project {id}"));
    for _ in 0..MODIFY_ATTEMPTS {
        let mut project = store.load_project(id).await?;
        if !change(&mut project)? {
            return Ok(project);
        }
        match store.update_project(&project).await {
            Ok(saved) => return Ok(saved),
            Err(e @ StoreError::Conflict(_)) => last = e,
            Err(e) => return Err(e.into()),
        }
    }
    Err(last.into())
}

/// Like [`modify_project`], for a change that comes with a message: `change` returns the
/// message to append with the saved project in one write
/// ([`ProjectStore::update_project_and_append`]), or `None` to write nothing.
pub async fn modify_project_and_append<F, E>(
    store: &dyn ProjectStore,
    id: Uuid,
    mut change: F,
) -> Result<Project, E>
where
    F: FnMut(&mut Project) -> Result<Option<Message>, E>,
    E: From<StoreError>,
{
    let mut last = StoreError::Conflict(format!("project {id}"));
    for _ in 0..MODIFY_ATTEMPTS {
        let mut project = store.load_project(id).await?;
        let Some(message) = change(&mut project)? else {
            return Ok(project);
        };
        match store.update_project_and_append(&project, &message).await {
            Ok(saved) => return Ok(saved),
            Err(e @ StoreError::Conflict(_)) => last = e,
            Err(e) => return Err(e.into()),
        }
    }
    Err(last.into())
}

/// Stores `version` under the first free number from its own: when another build took that
/// number first, the next one. Returns the version as stored.
pub async fn create_next_version(
    store: &dyn ProjectStore,
    mut version: Version,
) -> StoreResult<Version> {
    loop {
        match store.create_version(&version).await {
            Ok(()) => return Ok(version),
            Err(StoreError::Conflict(_)) if version.number < u32::MAX => version.number += 1,
            Err(e) => return Err(e),
        }
    }
}

/// Checks that `s` is a lower-case hex SHA-256, so that it is safe in a path or key.
pub fn check_sha256(s: &str) -> StoreResult<()> {
    if s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        Ok(())
    } else {
        Err(StoreError::NotFound("blob"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let c = encode_cursor("42|abc");
        assert_eq!(decode_cursor(&c).unwrap(), "42|abc");
        assert!(matches!(decode_cursor("%%%"), Err(StoreError::BadCursor)));
        let back = encode_back_cursor("42");
        assert_eq!(decode_back_cursor(&back).unwrap(), "42");
        assert_eq!(
            decode_cursor(&back).unwrap(),
            "<42",
            "not a forward position"
        );
        assert!(matches!(decode_back_cursor(&c), Err(StoreError::BadCursor)));
    }

    #[test]
    fn case_is_folded_beyond_ascii() {
        assert_eq!(fold_case("Ünïcode ÄPFEL Task"), "ünïcode äpfel task");
    }

    #[test]
    fn page_limits_are_clamped() {
        assert_eq!(PageRequest::default().limit(), DEFAULT_PAGE);
        assert_eq!(PageRequest::first(0).limit(), 1);
        assert_eq!(PageRequest::first(10_000).limit(), MAX_PAGE);
    }

    #[test]
    fn sha_check_refuses_paths() {
        assert!(check_sha256(&crate::model::sha256_hex(b"x")).is_ok());
        assert!(check_sha256("../../etc/passwd").is_err());
        assert!(check_sha256(&"A".repeat(64)).is_err());
    }
}
