//! Lists read more than one way: an owner's projects, every one or those whose name holds a
//! text; a conversation read from its end, a page at a time.

use std::collections::HashMap;

use uuid::Uuid;

use super::items::{backend, from_doc, from_item, owner_key, s, string_of, Item, SUMMARY};
use super::DynamoStore;
use crate::model::ProjectSummary;
use crate::store::{
    decode_back_cursor, decode_cursor, encode_back_cursor, encode_cursor, fold_case, Named, Page,
    PageRequest, StoreError, StoreResult,
};

/// Items a search evaluates per query call: a search reads on until its page is full, so it
/// asks for more than the page at a time rather than one round trip per item left.
const SEARCH_BATCH: usize = 100;

/// The keys of an item of the owner index that a cursor holds.
const PROJECT_KEYS: [&str; 4] = ["PK", "SK", "GSI1PK", "GSI1SK"];

impl DynamoStore {
    /// A page of the owner's projects, most recently updated first; with `text`, only those
    /// whose name holds it ignoring case.
    ///
    /// The search reads the owner's projects, not the table: their partition of the index
    /// `GSI1`, newest first, a batch at a time, until one more than the page matched or the
    /// partition ends. The names are compared here, each folded by [`fold_case`] as the
    /// SQLite store folds them: a `FilterExpression`'s `contains` tells case apart, and a
    /// filter saves no reads (DynamoDB counts the items it evaluates, kept or not). `text`
    /// never reaches an expression, so no character in it is a pattern.
    pub(super) async fn owner_projects(
        &self,
        owner: &crate::model::Owner,
        page: &PageRequest,
        text: Option<&str>,
    ) -> StoreResult<Page<ProjectSummary>> {
        let limit = page.limit() as usize;
        let gsi1pk = owner_key(owner);
        let mut start: Option<Item> = match page.cursor.as_deref() {
            None => None,
            Some(c) => {
                let key: HashMap<String, String> =
                    serde_json::from_str(&decode_cursor(c)?).map_err(|_| StoreError::BadCursor)?;
                if key.get("GSI1PK") != Some(&gsi1pk) || key.len() != PROJECT_KEYS.len() {
                    return Err(StoreError::BadCursor);
                }
                Some(key.into_iter().map(|(k, v)| (k, s(v))).collect())
            }
        };
        let folded = text.map(fold_case);
        // One more than the page, to know whether there is a next.
        let mut items: Vec<(Item, String)> = Vec::new();
        while items.len() <= limit {
            let wanted = limit + 1 - items.len();
            let batch = if folded.is_some() {
                wanted.max(SEARCH_BATCH)
            } else {
                wanted
            };
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name("GSI1")
                .key_condition_expression("GSI1PK = :o")
                .expression_attribute_values(":o", s(gsi1pk.clone()))
                .scan_index_forward(false)
                .limit(batch as i32)
                // The keys (for the cursor) and the summary, not the document.
                .projection_expression("PK, SK, GSI1PK, GSI1SK, #summary")
                .expression_attribute_names("#summary", SUMMARY)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(backend)?;
            for item in out.items.unwrap_or_default() {
                if items.len() > limit {
                    break;
                }
                let summary = self.summary_of(&item).await?;
                if let Some(folded) = &folded {
                    if !from_doc::<Named>(&summary)?.holds(folded) {
                        continue;
                    }
                }
                items.push((item, summary));
            }
            start = out.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        let more = items.len() > limit;
        items.truncate(limit);
        let next_cursor = match (more, items.last()) {
            (true, Some((last, _))) => {
                let key: HashMap<&str, &str> = PROJECT_KEYS
                    .into_iter()
                    .filter_map(|k| Some((k, string_of(last, k)?)))
                    .collect();
                Some(encode_cursor(&serde_json::to_string(&key).map_err(
                    |e| StoreError::failed_with("encoding a cursor", e),
                )?))
            }
            _ => None,
        };
        let items = items
            .iter()
            .map(|(_, summary)| from_doc::<ProjectSummary>(summary))
            .collect::<StoreResult<_>>()?;
        Ok(Page { items, next_cursor })
    }

    /// The summary of a project's item as the owner index gave it; for an item written before
    /// summaries were kept, read from its document (the item is read again, whole).
    async fn summary_of(&self, listed: &Item) -> StoreResult<String> {
        if let Some(summary) = string_of(listed, SUMMARY) {
            return Ok(summary.to_owned());
        }
        let pk = string_of(listed, "PK").unwrap_or_default().to_owned();
        let whole = self
            .get_item(pk, "META".into())
            .await?
            .ok_or(StoreError::NotFound("project"))?;
        let summary = from_item::<ProjectSummary>(&whole)?;
        serde_json::to_string(&summary).map_err(|e| StoreError::failed_with("encoding a record", e))
    }

    /// The `limit` messages of the project before the cursor's (the newest without one), read
    /// backwards from the sort key `MSG#{id}` and handed out oldest first.
    pub(super) async fn messages_backwards<T>(
        &self,
        project_id: Uuid,
        page: &PageRequest,
        read: fn(&Item) -> StoreResult<T>,
    ) -> StoreResult<Page<T>> {
        let before = match page.cursor.as_deref() {
            None => None,
            Some(c) => {
                let sk = decode_back_cursor(c)?;
                // Only a message's own sort key: anything else would reach the query.
                sk.strip_prefix("MSG#")
                    .and_then(|id| id.parse::<Uuid>().ok())
                    .ok_or(StoreError::BadCursor)?;
                Some(sk)
            }
        };
        let limit = page.limit() as usize;
        let mut items = self
            .query_prefix(project_id, "MSG#", false, before, Some(limit as i32 + 1))
            .await?;
        let more = items.len() > limit;
        items.truncate(limit);
        items.reverse();
        let next_cursor = match (more, items.first()) {
            (true, Some(oldest)) => Some(encode_back_cursor(
                string_of(oldest, "SK").unwrap_or_default(),
            )),
            _ => None,
        };
        Ok(Page {
            items: items.iter().map(read).collect::<StoreResult<_>>()?,
            next_cursor,
        })
    }
}
