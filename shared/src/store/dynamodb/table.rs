//! The table operations the store's operations are made of: reading one item, writing items in
//! one conditional transaction, querying and paging a project's items, and reading the sparse
//! index of live runs and deployments.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{ConditionCheck, Put, TransactWriteItem};
use serde::de::DeserializeOwned;
use uuid::Uuid;

use super::items::{
    backend, from_item, pk, s, status_name, string_of, Item, LiveKind, LIVE_SHARDS,
};
use super::DynamoStore;
use crate::model::{Run, RunStatus};
use crate::store::{decode_cursor, encode_cursor, Page, PageRequest, StoreError, StoreResult};

impl DynamoStore {
    pub(super) async fn get_item(&self, pk_value: String, sk: String) -> StoreResult<Option<Item>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("PK", s(pk_value))
            .key("SK", s(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(backend)?;
        Ok(out.item)
    }

    /// The document of one item, or `NotFound(what)`.
    pub(super) async fn get_doc<T: DeserializeOwned>(
        &self,
        pk_value: String,
        sk: String,
        what: &'static str,
    ) -> StoreResult<T> {
        match self.get_item(pk_value, sk).await? {
            Some(item) => from_item(&item),
            None => Err(StoreError::NotFound(what)),
        }
    }

    pub(super) fn project_exists_check(&self, project: Uuid) -> TransactWriteItem {
        TransactWriteItem::builder()
            .condition_check(
                ConditionCheck::builder()
                    .table_name(&self.table)
                    .key("PK", s(pk(project)))
                    .key("SK", s("META"))
                    .condition_expression("attribute_exists(PK)")
                    .build()
                    .expect("complete condition check"),
            )
            .build()
    }

    pub(super) fn put(&self, item: Item, condition: Option<&str>) -> TransactWriteItem {
        let mut put = Put::builder().table_name(&self.table).set_item(Some(item));
        if let Some(c) = condition {
            put = put.condition_expression(c);
        }
        TransactWriteItem::builder()
            .put(put.build().expect("complete put"))
            .build()
    }

    /// Writes `items` in one transaction. A failed condition becomes `NotFound` when the first
    /// item (the project check) failed, `Conflict` otherwise.
    pub(super) async fn transact(
        &self,
        items: Vec<TransactWriteItem>,
        what: &str,
    ) -> StoreResult<()> {
        match self.try_transact(items).await? {
            None => Ok(()),
            Some(0) => Err(StoreError::NotFound("project")),
            Some(_) => Err(StoreError::Conflict(format!("{what} exists"))),
        }
    }

    /// Writes `items` in one transaction: `Some(i)` when nothing was written because the
    /// condition of item `i` failed, `None` when all landed.
    pub(super) async fn try_transact(
        &self,
        items: Vec<TransactWriteItem>,
    ) -> StoreResult<Option<usize>> {
        use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
        let Err(e) = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
        else {
            return Ok(None);
        };
        let failed = match e.as_service_error() {
            Some(TransactWriteItemsError::TransactionCanceledException(t)) => t
                .cancellation_reasons()
                .iter()
                .position(|r| r.code() == Some("ConditionalCheckFailed")),
            _ => None,
        };
        failed.map(Some).ok_or_else(|| backend(e))
    }

    /// Queries the items of a project whose sort key starts with `prefix`.
    pub(super) async fn query_prefix(
        &self,
        project: Uuid,
        prefix: &str,
        forward: bool,
        after: Option<String>,
        limit: Option<i32>,
    ) -> StoreResult<Vec<Item>> {
        let mut items = Vec::new();
        let mut start: Option<Item> =
            after.map(|sk| HashMap::from([("PK".into(), s(pk(project))), ("SK".into(), s(sk))]));
        loop {
            let mut query = self
                .client
                .query()
                .table_name(&self.table)
                .expression_attribute_values(":pk", s(pk(project)));
            query = if prefix.is_empty() {
                query.key_condition_expression("PK = :pk")
            } else {
                query
                    .key_condition_expression("PK = :pk AND begins_with(SK, :prefix)")
                    .expression_attribute_values(":prefix", s(prefix))
            };
            let out = query
                .scan_index_forward(forward)
                .consistent_read(true)
                .set_limit(limit.map(|l| l - items.len() as i32))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(backend)?;
            items.extend(out.items.unwrap_or_default());
            start = out.last_evaluated_key;
            let full = limit.is_some_and(|l| items.len() as i32 >= l);
            if start.is_none() || full {
                return Ok(items);
            }
        }
    }

    /// A page of a project's `prefix` items, `cursor` holding the last sort key handed out.
    pub(super) async fn page<T>(
        &self,
        project: Uuid,
        prefix: &str,
        forward: bool,
        page: &PageRequest,
        read: fn(&Item) -> StoreResult<T>,
    ) -> StoreResult<Page<T>> {
        let after = page.cursor.as_deref().map(decode_cursor).transpose()?;
        if after.as_deref().is_some_and(|sk| !sk.starts_with(prefix)) {
            return Err(StoreError::BadCursor);
        }
        let limit = page.limit() as usize;
        let items = self
            .query_prefix(project, prefix, forward, after, Some(limit as i32 + 1))
            .await?;
        let more = items.len() > limit;
        let items = &items[..items.len().min(limit)];
        let next_cursor = match (more, items.last()) {
            (true, Some(last)) => Some(encode_cursor(string_of(last, "SK").unwrap_or_default())),
            _ => None,
        };
        Ok(Page {
            items: items.iter().map(read).collect::<StoreResult<_>>()?,
            next_cursor,
        })
    }

    /// The oldest queued or running run among the project's `lookback` runs before `run_id`:
    /// the window read backwards from the run's sort key, `Limit` counting the items read and
    /// the filter leaving only unfinished ones (a page the size limit cut short goes on for
    /// the rest of the window), and only the oldest of those read into a run.
    pub(super) async fn oldest_unfinished_before(
        &self,
        project: Uuid,
        run_id: Uuid,
        lookback: u32,
    ) -> StoreResult<Option<Run>> {
        let mut evaluated = 0;
        let mut oldest: Option<Item> = None;
        let mut start = Some(HashMap::from([
            ("PK".into(), s(pk(project))),
            ("SK".into(), s(format!("RUN#{run_id}"))),
        ]));
        while let Some(from) = start.take() {
            if evaluated >= lookback as i32 {
                break;
            }
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("PK = :pk AND begins_with(SK, :prefix)")
                .filter_expression("#status IN (:queued, :running)")
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":pk", s(pk(project)))
                .expression_attribute_values(":prefix", s("RUN#"))
                .expression_attribute_values(":queued", s(status_name(&RunStatus::Queued)))
                .expression_attribute_values(":running", s(status_name(&RunStatus::Running)))
                .scan_index_forward(false)
                .consistent_read(true)
                .limit(lookback as i32 - evaluated)
                .set_exclusive_start_key(Some(from))
                .send()
                .await
                .map_err(backend)?;
            evaluated += out.scanned_count;
            if let Some(last) = out.items.unwrap_or_default().pop() {
                oldest = Some(last);
            }
            start = out.last_evaluated_key;
        }
        oldest.as_ref().map(from_item).transpose()
    }

    /// The items the sparse index `LIVE` holds of `kind`, each read again from the table with
    /// a consistent read: an index is read eventually consistently, so one that has just
    /// stopped being live may still be listed, and one that is gone since is left out.
    pub(super) async fn live_items(&self, kind: LiveKind) -> StoreResult<Vec<Item>> {
        let mut keys: Vec<(String, String)> = Vec::new();
        for shard in 0..LIVE_SHARDS {
            let mut start = None;
            loop {
                let out = self
                    .client
                    .query()
                    .table_name(&self.table)
                    .index_name("LIVE")
                    .key_condition_expression("LIVEPK = :p")
                    .expression_attribute_values(":p", s(kind.partition(shard)))
                    .set_exclusive_start_key(start)
                    .send()
                    .await
                    .map_err(backend)?;
                for item in out.items.unwrap_or_default() {
                    if let (Some(pk), Some(sk)) = (string_of(&item, "PK"), string_of(&item, "SK")) {
                        keys.push((pk.to_owned(), sk.to_owned()));
                    }
                }
                start = out.last_evaluated_key;
                if start.is_none() {
                    break;
                }
            }
        }
        use futures_util::{StreamExt, TryStreamExt};
        let items: Vec<Option<Item>> = futures_util::stream::iter(keys)
            .map(|(pk, sk)| self.get_item(pk, sk))
            .buffer_unordered(16)
            .try_collect()
            .await?;
        Ok(items.into_iter().flatten().collect())
    }
}
