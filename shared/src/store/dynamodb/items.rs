//! How entities map to items: their keys (`PROJECT#{id}`, `META`, `MSG#{id}`, …), the
//! attributes the table indexes, and the entity itself as JSON in `doc`; DynamoDB's errors as
//! store errors.

use std::collections::HashMap;

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;
use serde::de::DeserializeOwned;
use serde::Serialize;
use uuid::Uuid;

use crate::model::{
    Cause, Deployment, DeploymentStatus, Message, Owner, Project, Run, RunStatus, MESSAGE_FORMAT,
};
use crate::store::{MessageJson, StoreError, StoreResult};

pub(super) type Item = HashMap<String, AttributeValue>;

/// A DynamoDB call's failure by its kind: timeouts, broken connections, throttling and the
/// service's own failures may pass on a retry; the rest is permanent.
pub(super) fn backend<E, R>(e: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    crate::aws::call_failed("DynamoDB", e).into()
}

/// The string attribute `name` of an item, if it has one.
pub(super) fn string_of<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
}

pub(super) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub(super) fn pk(project: Uuid) -> String {
    format!("PROJECT#{project}")
}

pub(super) fn to_doc<T: Serialize>(value: &T) -> StoreResult<String> {
    serde_json::to_string(value).map_err(|e| StoreError::failed_with("encoding a record", e))
}

/// The attribute of a project's item that holds its [`ProjectSummary`](crate::model::ProjectSummary)
/// as JSON, which a list reads instead of the document with the spec and design. Items
/// written before it was kept have only the document.
pub(super) const SUMMARY: &str = "summary";

pub(super) fn from_item<T: DeserializeOwned>(item: &Item) -> StoreResult<T> {
    let doc = item
        .get("doc")
        .and_then(|v| v.as_s().ok())
        .ok_or_else(|| StoreError::Corrupt(Cause::new("an item without its document")))?;
    from_doc(doc)
}

/// A record from its stored JSON.
pub(super) fn from_doc<T: DeserializeOwned>(doc: &str) -> StoreResult<T> {
    serde_json::from_str(doc).map_err(|e| StoreError::corrupt("a stored record", e))
}

fn project_sort_key(p: &Project) -> String {
    // Zero-padded microseconds sort as numbers; the id breaks ties.
    format!(
        "{:020}#{}",
        p.updated_at.unix_timestamp_nanos() / 1_000,
        p.id
    )
}

/// The partition key of an owner's items: their projects in the owner index, and the count
/// of their projects.
pub(super) fn owner_key(owner: &Owner) -> String {
    format!("OWNER#{owner}")
}

pub(super) fn project_item(p: &Project) -> StoreResult<Item> {
    Ok(HashMap::from([
        ("PK".into(), s(pk(p.id))),
        ("SK".into(), s("META")),
        ("GSI1PK".into(), s(owner_key(&p.owner))),
        ("GSI1SK".into(), s(project_sort_key(p))),
        ("revision".into(), AttributeValue::N(p.revision.to_string())),
        ("doc".into(), s(to_doc(p)?)),
        (SUMMARY.into(), s(to_doc(&p.summary())?)),
    ]))
}

pub(super) fn is_conditional<E, R>(e: &SdkError<E, R>) -> bool
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    e.as_service_error()
        .and_then(|s| s.code())
        .is_some_and(|c| c == "ConditionalCheckFailedException")
}

pub(super) fn status_name<T: Serialize>(status: &T) -> String {
    serde_json::to_value(status)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

pub(super) fn message_item(m: &Message) -> StoreResult<Item> {
    Ok(HashMap::from([
        ("PK".into(), s(pk(m.project_id))),
        ("SK".into(), s(format!("MSG#{}", m.id))),
        ("doc".into(), s(to_doc(m)?)),
        (FORMAT.into(), AttributeValue::N(MESSAGE_FORMAT.to_string())),
    ]))
}

/// The attribute of a message's item that holds the shape its `doc` was written in
/// ([`MESSAGE_FORMAT`]); items written before it was kept have none.
const FORMAT: &str = "format";

/// A message item's JSON as an answer holds it: as stored when it was written in this build's
/// shape (checked to be JSON, not read into a message), else read and written again.
pub(super) fn message_json_of(item: &Item) -> StoreResult<MessageJson> {
    let current = item
        .get(FORMAT)
        .and_then(|v| v.as_n().ok())
        .is_some_and(|n| n.parse() == Ok(MESSAGE_FORMAT));
    match string_of(item, "doc") {
        Some(doc) if current => MessageJson::checked(doc.to_owned(), "a stored message"),
        _ => MessageJson::encode(&from_item::<Message>(item)?),
    }
}

pub(super) fn run_item(r: &Run) -> StoreResult<Item> {
    let mut item = HashMap::from([
        ("PK".into(), s(pk(r.project_id))),
        ("SK".into(), s(format!("RUN#{}", r.id))),
        ("status".into(), s(status_name(&r.status))),
        ("doc".into(), s(to_doc(r)?)),
    ]);
    if matches!(r.status, RunStatus::Queued | RunStatus::Running) {
        item.extend(live_keys(LiveKind::Run, r.id));
    }
    Ok(item)
}

pub(super) fn deployment_item(d: &Deployment) -> StoreResult<Item> {
    let mut item = HashMap::from([
        ("PK".into(), s(pk(d.project_id))),
        ("SK".into(), s(deployment_sort_key(d))),
        ("status".into(), s(status_name(&d.status))),
        ("doc".into(), s(to_doc(d)?)),
    ]);
    if matches!(
        d.status,
        DeploymentStatus::Pending | DeploymentStatus::Running
    ) {
        item.extend(live_keys(LiveKind::Deployment, d.id));
    }
    Ok(item)
}

/// The sparse index `LIVE` holds only the runs that are queued or running and the deployments
/// that are pending or running: an item carries `LIVEPK` and `LIVESK` while it is one of
/// those, and each write of the whole item drops them once it is not. Its partition keys are
/// spread over `LIVE_SHARDS` values per kind, so no one key takes every run's writes (a
/// partition key of an index takes at most 1,000 writes a second).
pub(super) const LIVE_SHARDS: u8 = 8;

/// What the sparse index holds.
#[derive(Clone, Copy)]
pub(super) enum LiveKind {
    Run,
    Deployment,
}

impl LiveKind {
    fn prefix(self) -> &'static str {
        match self {
            LiveKind::Run => "LIVE#RUN",
            LiveKind::Deployment => "LIVE#DEP",
        }
    }

    /// The index's partition key of shard `shard` of this kind.
    pub(super) fn partition(self, shard: u8) -> String {
        format!("{}#{shard}", self.prefix())
    }
}

fn live_keys(kind: LiveKind, id: Uuid) -> [(String, AttributeValue); 2] {
    // The id's last byte is random in every UUID version Kiln makes.
    let shard = id.as_bytes()[15] % LIVE_SHARDS;
    [
        ("LIVEPK".into(), s(kind.partition(shard))),
        ("LIVESK".into(), s(id.to_string())),
    ]
}

pub(super) fn deployment_sort_key(d: &Deployment) -> String {
    format!("DEP#{}#{}", d.environment.as_str(), d.id)
}
