//! `ProjectStore` on one DynamoDB table.
//!
//! Keys, as DESIGN.md lays them out: `PK=PROJECT#{id}` with `SK=META`, `MSG#{id}`,
//! `VER#{n:010}`, `RUN#{id}`, `DEP#{env}#{id}`, and `CLIENT#{client_id}` for idempotent posts;
//! `GSI1PK=OWNER#{owner}`, `GSI1SK={updated}#{id}` lists an owner's projects. Every item keeps
//! its entity as JSON in `doc`.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, DeleteRequest, Put, TransactWriteItem, WriteRequest,
};
use aws_sdk_dynamodb::Client;
use serde::de::DeserializeOwned;
use serde::Serialize;
use uuid::Uuid;

use super::{
    decode_cursor, encode_cursor, Page, PageRequest, Posted, ProjectStore, StoreError, StoreResult,
};
use crate::model::{now, Deployment, Message, Owner, Project, ProjectSummary, Run, Version};

type Item = HashMap<String, AttributeValue>;

/// The DynamoDB backend.
#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

fn backend<E: std::error::Error + 'static>(e: E) -> StoreError {
    StoreError::Backend(DisplayErrorContext(e).to_string())
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn pk(project: Uuid) -> String {
    format!("PROJECT#{project}")
}

fn to_doc<T: Serialize>(value: &T) -> StoreResult<String> {
    serde_json::to_string(value).map_err(|e| StoreError::Backend(e.to_string()))
}

fn from_item<T: DeserializeOwned>(item: &Item) -> StoreResult<T> {
    let doc = item
        .get("doc")
        .and_then(|v| v.as_s().ok())
        .ok_or_else(|| StoreError::Backend("an item without its document".into()))?;
    serde_json::from_str(doc).map_err(|e| StoreError::Backend(format!("corrupt record: {e}")))
}

fn project_sort_key(p: &Project) -> String {
    // Zero-padded microseconds sort as numbers; the id breaks ties.
    format!(
        "{:020}#{}",
        p.updated_at.unix_timestamp_nanos() / 1_000,
        p.id
    )
}

fn project_item(p: &Project) -> StoreResult<Item> {
    Ok(HashMap::from([
        ("PK".into(), s(pk(p.id))),
        ("SK".into(), s("META")),
        ("GSI1PK".into(), s(format!("OWNER#{}", p.owner))),
        ("GSI1SK".into(), s(project_sort_key(p))),
        ("revision".into(), AttributeValue::N(p.revision.to_string())),
        ("doc".into(), s(to_doc(p)?)),
    ]))
}

fn is_conditional<E, R>(e: &SdkError<E, R>) -> bool
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    e.as_service_error()
        .and_then(|s| s.code())
        .is_some_and(|c| c == "ConditionalCheckFailedException")
}

impl DynamoStore {
    /// A store on `table`, which must exist: the SAM template (`infra/template.yaml`) declares
    /// it, and the AWS tests create it from there.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoStore {
            client,
            table: table.into(),
        }
    }

    async fn get_item(&self, pk_value: String, sk: String) -> StoreResult<Option<Item>> {
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
    async fn get_doc<T: DeserializeOwned>(
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

    fn project_exists_check(&self, project: Uuid) -> TransactWriteItem {
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

    fn put(&self, item: Item, condition: Option<&str>) -> TransactWriteItem {
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
    async fn transact(&self, items: Vec<TransactWriteItem>, what: &str) -> StoreResult<()> {
        match self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => {
                use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
                let reasons: Vec<String> = match e.as_service_error() {
                    Some(TransactWriteItemsError::TransactionCanceledException(t)) => Some(t),
                    _ => None,
                }
                .map(|t| {
                    t.cancellation_reasons()
                        .iter()
                        .map(|r| r.code().unwrap_or("None").to_owned())
                        .collect()
                })
                .unwrap_or_default();
                match reasons.iter().position(|r| r == "ConditionalCheckFailed") {
                    Some(0) => Err(StoreError::NotFound("project")),
                    Some(_) => Err(StoreError::Conflict(format!("{what} exists"))),
                    None => Err(backend(e)),
                }
            }
        }
    }

    /// Queries the items of a project whose sort key starts with `prefix`.
    async fn query_prefix(
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
    async fn page<T: DeserializeOwned>(
        &self,
        project: Uuid,
        prefix: &str,
        forward: bool,
        page: &PageRequest,
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
            (true, Some(last)) => Some(encode_cursor(
                last.get("SK")
                    .and_then(|v| v.as_s().ok())
                    .map(String::as_str)
                    .unwrap_or_default(),
            )),
            _ => None,
        };
        Ok(Page {
            items: items.iter().map(from_item).collect::<StoreResult<_>>()?,
            next_cursor,
        })
    }

    /// Every item of every project whose sort key starts with `prefix` and whose `status`
    /// is one of `statuses`: a scan, used only at start-up and for recovery.
    async fn scan_status(&self, prefix: &str, statuses: &[&str]) -> StoreResult<Vec<Item>> {
        let mut items = Vec::new();
        let mut start = None;
        let names: Vec<String> = (0..statuses.len()).map(|i| format!(":s{i}")).collect();
        let filter = format!(
            "begins_with(SK, :prefix) AND #status IN ({})",
            names.join(", ")
        );
        loop {
            let mut req = self
                .client
                .scan()
                .table_name(&self.table)
                .filter_expression(&filter)
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":prefix", s(prefix))
                .consistent_read(true)
                .set_exclusive_start_key(start);
            for (name, value) in names.iter().zip(statuses) {
                req = req.expression_attribute_values(name, s(*value));
            }
            let out = req.send().await.map_err(backend)?;
            items.extend(out.items.unwrap_or_default());
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok(items);
            }
        }
    }
}

fn status_name<T: Serialize>(status: &T) -> String {
    serde_json::to_value(status)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn message_item(m: &Message) -> StoreResult<Item> {
    Ok(HashMap::from([
        ("PK".into(), s(pk(m.project_id))),
        ("SK".into(), s(format!("MSG#{}", m.id))),
        ("doc".into(), s(to_doc(m)?)),
    ]))
}

fn run_item(r: &Run) -> StoreResult<Item> {
    Ok(HashMap::from([
        ("PK".into(), s(pk(r.project_id))),
        ("SK".into(), s(format!("RUN#{}", r.id))),
        ("status".into(), s(status_name(&r.status))),
        ("doc".into(), s(to_doc(r)?)),
    ]))
}

fn deployment_sort_key(d: &Deployment) -> String {
    format!("DEP#{}#{}", d.environment.as_str(), d.id)
}

#[async_trait]
impl ProjectStore for DynamoStore {
    async fn create_project(&self, project: &Project) -> StoreResult<()> {
        let out = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(project_item(project)?))
            .condition_expression("attribute_not_exists(PK)")
            .send()
            .await;
        match out {
            Ok(_) => Ok(()),
            Err(e) if is_conditional(&e) => Err(StoreError::Conflict(format!(
                "project {} exists",
                project.id
            ))),
            Err(e) => Err(backend(e)),
        }
    }

    async fn load_project(&self, id: Uuid) -> StoreResult<Project> {
        self.get_doc(pk(id), "META".into(), "project").await
    }

    async fn list_projects(
        &self,
        owner: &Owner,
        page: &PageRequest,
    ) -> StoreResult<Page<ProjectSummary>> {
        let limit = page.limit() as usize;
        let gsi1pk = format!("OWNER#{owner}");
        let mut start: Option<Item> = match page.cursor.as_deref() {
            None => None,
            Some(c) => {
                let key: HashMap<String, String> =
                    serde_json::from_str(&decode_cursor(c)?).map_err(|_| StoreError::BadCursor)?;
                if key.get("GSI1PK") != Some(&gsi1pk) || key.len() != 4 {
                    return Err(StoreError::BadCursor);
                }
                Some(key.into_iter().map(|(k, v)| (k, s(v))).collect())
            }
        };
        let mut items: Vec<Item> = Vec::new();
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name("GSI1")
                .key_condition_expression("GSI1PK = :o")
                .expression_attribute_values(":o", s(gsi1pk.clone()))
                .scan_index_forward(false)
                .limit((limit + 1 - items.len()) as i32)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(backend)?;
            items.extend(out.items.unwrap_or_default());
            start = out.last_evaluated_key;
            if start.is_none() || items.len() > limit {
                break;
            }
        }
        let more = items.len() > limit;
        items.truncate(limit);
        let next_cursor = match (more, items.last()) {
            (true, Some(last)) => {
                let key: HashMap<&str, &str> = ["PK", "SK", "GSI1PK", "GSI1SK"]
                    .into_iter()
                    .filter_map(|k| {
                        last.get(k)
                            .and_then(|v| v.as_s().ok())
                            .map(|v| (k, v.as_str()))
                    })
                    .collect();
                Some(encode_cursor(
                    &serde_json::to_string(&key).map_err(|e| StoreError::Backend(e.to_string()))?,
                ))
            }
            _ => None,
        };
        let items = items
            .iter()
            .map(|i| from_item::<Project>(i).map(|p| p.summary()))
            .collect::<StoreResult<_>>()?;
        Ok(Page { items, next_cursor })
    }

    async fn count_projects(&self, owner: &Owner) -> StoreResult<u64> {
        let mut count = 0u64;
        let mut start = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name("GSI1")
                .key_condition_expression("GSI1PK = :o")
                .expression_attribute_values(":o", s(format!("OWNER#{owner}")))
                .select(aws_sdk_dynamodb::types::Select::Count)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(backend)?;
            count += out.count.max(0) as u64;
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok(count);
            }
        }
    }

    async fn update_project(&self, project: &Project) -> StoreResult<Project> {
        let mut next = project.clone();
        next.revision += 1;
        next.updated_at = now().max(project.updated_at);
        let out = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(project_item(&next)?))
            .condition_expression("attribute_exists(PK) AND revision = :expected")
            .expression_attribute_values(
                ":expected",
                AttributeValue::N(project.revision.to_string()),
            )
            .send()
            .await;
        match out {
            Ok(_) => Ok(next),
            Err(e) if is_conditional(&e) => {
                match self.get_item(pk(project.id), "META".into()).await? {
                    Some(_) => Err(StoreError::Conflict(format!(
                        "project {} was changed by someone else (revision {} is stale)",
                        project.id, project.revision
                    ))),
                    None => Err(StoreError::NotFound("project")),
                }
            }
            Err(e) => Err(backend(e)),
        }
    }

    async fn delete_project(&self, owner: &Owner, id: Uuid) -> StoreResult<()> {
        self.get_project(owner, id).await?;
        let items = self.query_prefix(id, "", true, None, None).await?;
        for chunk in items.chunks(25) {
            let mut requests: Vec<WriteRequest> = chunk
                .iter()
                .map(|item| {
                    let key: Item = ["PK", "SK"]
                        .iter()
                        .filter_map(|k| item.get(*k).map(|v| ((*k).to_owned(), v.clone())))
                        .collect();
                    WriteRequest::builder()
                        .delete_request(
                            DeleteRequest::builder()
                                .set_key(Some(key))
                                .build()
                                .expect("complete delete"),
                        )
                        .build()
                })
                .collect();
            // Unprocessed writes are retried until none are left.
            while !requests.is_empty() {
                let out = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, requests)
                    .send()
                    .await
                    .map_err(backend)?;
                requests = out
                    .unprocessed_items
                    .and_then(|mut m| m.remove(&self.table))
                    .unwrap_or_default();
            }
        }
        Ok(())
    }

    async fn post_user_message(&self, message: &Message, run: &Run) -> StoreResult<Posted> {
        let mut items = vec![self.project_exists_check(message.project_id)];
        if let Some(client_id) = &message.client_id {
            let claim = HashMap::from([
                ("PK".into(), s(pk(message.project_id))),
                ("SK".into(), s(format!("CLIENT#{client_id}"))),
                ("message_id".into(), s(message.id.to_string())),
                // Retries come within minutes; the table's TTL drops claims after 30 days.
                (
                    "expires_at".into(),
                    AttributeValue::N(
                        (time::OffsetDateTime::now_utc().unix_timestamp() + 30 * 86_400)
                            .to_string(),
                    ),
                ),
            ]);
            items.push(self.put(claim, Some("attribute_not_exists(PK)")));
        }
        items.push(self.put(message_item(message)?, Some("attribute_not_exists(PK)")));
        items.push(self.put(run_item(run)?, Some("attribute_not_exists(PK)")));
        match self.transact(items, "message").await {
            Ok(()) => Ok(Posted {
                message: message.clone(),
                run: run.clone(),
                created: true,
            }),
            Err(StoreError::Conflict(_)) if message.client_id.is_some() => {
                let client_id = message.client_id.as_deref().unwrap_or_default();
                let claim = self
                    .get_item(pk(message.project_id), format!("CLIENT#{client_id}"))
                    .await?
                    .ok_or_else(|| StoreError::Conflict("message exists".into()))?;
                let earlier: Uuid = claim
                    .get("message_id")
                    .and_then(|v| v.as_s().ok())
                    .and_then(|v| v.parse().ok())
                    .ok_or_else(|| {
                        StoreError::Backend("a client claim without its message".into())
                    })?;
                let earlier = self.get_message(message.project_id, earlier).await?;
                let run_id = earlier
                    .run_id
                    .ok_or_else(|| StoreError::Backend("user message without a run".into()))?;
                Ok(Posted {
                    run: self.get_run(message.project_id, run_id).await?,
                    message: earlier,
                    created: false,
                })
            }
            Err(e) => Err(e),
        }
    }

    async fn append_message(&self, message: &Message) -> StoreResult<()> {
        let items = vec![
            self.project_exists_check(message.project_id),
            self.put(message_item(message)?, Some("attribute_not_exists(PK)")),
        ];
        self.transact(items, "message").await
    }

    async fn get_message(&self, project_id: Uuid, message_id: Uuid) -> StoreResult<Message> {
        self.get_doc(pk(project_id), format!("MSG#{message_id}"), "message")
            .await
    }

    async fn list_messages(
        &self,
        project_id: Uuid,
        page: &PageRequest,
    ) -> StoreResult<Page<Message>> {
        self.page(project_id, "MSG#", true, page).await
    }

    async fn get_run(&self, project_id: Uuid, run_id: Uuid) -> StoreResult<Run> {
        self.get_doc(pk(project_id), format!("RUN#{run_id}"), "run")
            .await
    }

    async fn update_run(&self, run: &Run) -> StoreResult<()> {
        let out = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(run_item(run)?))
            .condition_expression("attribute_exists(PK)")
            .send()
            .await;
        match out {
            Ok(_) => Ok(()),
            Err(e) if is_conditional(&e) => Err(StoreError::NotFound("run")),
            Err(e) => Err(backend(e)),
        }
    }

    async fn unfinished_runs(&self) -> StoreResult<Vec<Run>> {
        let items = self.scan_status("RUN#", &["queued", "running"]).await?;
        let mut runs: Vec<Run> = items.iter().map(from_item).collect::<StoreResult<_>>()?;
        runs.sort_by_key(|r| r.id);
        Ok(runs)
    }

    async fn create_version(&self, version: &Version) -> StoreResult<()> {
        let item = HashMap::from([
            ("PK".into(), s(pk(version.project_id))),
            ("SK".into(), s(format!("VER#{:010}", version.number))),
            ("doc".into(), s(to_doc(version)?)),
        ]);
        let items = vec![
            self.project_exists_check(version.project_id),
            self.put(item, Some("attribute_not_exists(PK)")),
        ];
        self.transact(items, &format!("version {}", version.number))
            .await
    }

    async fn get_version(&self, project_id: Uuid, number: u32) -> StoreResult<Version> {
        self.get_doc(pk(project_id), format!("VER#{number:010}"), "version")
            .await
    }

    async fn list_versions(
        &self,
        project_id: Uuid,
        page: &PageRequest,
    ) -> StoreResult<Page<Version>> {
        self.page(project_id, "VER#", false, page).await
    }

    async fn put_deployment(&self, deployment: &Deployment) -> StoreResult<()> {
        let item = HashMap::from([
            ("PK".into(), s(pk(deployment.project_id))),
            ("SK".into(), s(deployment_sort_key(deployment))),
            ("status".into(), s(status_name(&deployment.status))),
            ("doc".into(), s(to_doc(deployment)?)),
        ]);
        let items = vec![
            self.project_exists_check(deployment.project_id),
            self.put(item, None),
        ];
        self.transact(items, "deployment").await
    }

    async fn list_deployments(&self, project_id: Uuid) -> StoreResult<Vec<Deployment>> {
        let items = self
            .query_prefix(project_id, "DEP#", true, None, None)
            .await?;
        let mut list: Vec<Deployment> = items.iter().map(from_item).collect::<StoreResult<_>>()?;
        list.sort_by_key(|d| std::cmp::Reverse(d.id));
        Ok(list)
    }

    async fn live_deployments(&self) -> StoreResult<Vec<Deployment>> {
        let items = self.scan_status("DEP#", &["pending", "running"]).await?;
        items.iter().map(from_item).collect()
    }
}
