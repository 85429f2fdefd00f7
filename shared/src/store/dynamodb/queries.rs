//! The `ProjectStore` operations on DynamoDB: conditional puts for revisions, transactions
//! that check the project exists, and a claim per idempotency key (`CLIENT#`) for idempotent posts
//! and replies.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, DeleteRequest, WriteRequest};
use uuid::Uuid;

use super::items::{
    backend, deployment_item, from_item, is_conditional, message_item, message_json_of, owner_key,
    pk, project_item, run_item, s, status_name, to_doc, Item, LiveKind,
};
use super::DynamoStore;
use crate::model::{
    now, Cause, Deployment, Message, Owner, Project, ProjectSummary, Role, Run, RunStatus, Version,
};
use crate::store::{MessageJson, Page, PageRequest, Posted, ProjectStore, StoreError, StoreResult};

impl DynamoStore {
    /// Why a conditional save of `project` failed: another writer saved first, or the project
    /// is gone.
    async fn stale_or_missing(&self, project: &Project) -> StoreError {
        match self.get_item(pk(project.id), "META".into()).await {
            Ok(Some(_)) => StoreError::Conflict(format!(
                "project {} was changed by someone else (revision {} is stale)",
                project.id, project.revision
            )),
            Ok(None) => StoreError::NotFound("project"),
            Err(e) => e,
        }
    }
}

#[async_trait]
impl ProjectStore for DynamoStore {
    async fn create_project_within(&self, project: &Project, limit: u64) -> StoreResult<()> {
        self.seed_project_count(&project.owner).await?;
        let put = self.put(project_item(project)?, Some("attribute_not_exists(PK)"));
        let count = self.count_change(&project.owner, 1, ("#n < :bound", limit));
        match self.try_transact(vec![put, count]).await? {
            None => Ok(()),
            Some(0) => Err(StoreError::Conflict(format!(
                "project {} exists",
                project.id
            ))),
            Some(_) => Err(StoreError::LimitReached(
                self.project_count(&project.owner).await?.unwrap_or(limit),
            )),
        }
    }

    async fn check_owner(&self, owner: &Owner, id: Uuid) -> StoreResult<()> {
        // Only the owner's index key comes back, not the document with the spec and design.
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("PK", s(pk(id)))
            .key("SK", s("META"))
            .projection_expression("GSI1PK")
            .consistent_read(true)
            .send()
            .await
            .map_err(backend)?;
        let owned = out
            .item
            .as_ref()
            .and_then(|item| item.get("GSI1PK"))
            .is_some_and(|v| *v == s(owner_key(owner)));
        if owned {
            Ok(())
        } else {
            Err(StoreError::NotFound("project"))
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
        self.owner_projects(owner, page, None).await
    }

    async fn search_projects(
        &self,
        owner: &Owner,
        text: &str,
        page: &PageRequest,
    ) -> StoreResult<Page<ProjectSummary>> {
        self.owner_projects(owner, page, Some(text)).await
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
                .expression_attribute_values(":o", s(owner_key(owner)))
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
            Err(e) if is_conditional(&e) => Err(self.stale_or_missing(project).await),
            Err(e) => Err(backend(e)),
        }
    }

    async fn update_project_and_append(
        &self,
        project: &Project,
        message: &Message,
    ) -> StoreResult<Project> {
        if message.project_id != project.id {
            return Err(StoreError::failed(
                "a message appended with another project",
            ));
        }
        let mut next = project.clone();
        next.revision += 1;
        next.updated_at = now().max(project.updated_at);
        let save = aws_sdk_dynamodb::types::Put::builder()
            .table_name(&self.table)
            .set_item(Some(project_item(&next)?))
            .condition_expression("attribute_exists(PK) AND revision = :expected")
            .expression_attribute_values(
                ":expected",
                AttributeValue::N(project.revision.to_string()),
            )
            .build()
            .map_err(|e| StoreError::failed(e.to_string()))?;
        let mut items = vec![aws_sdk_dynamodb::types::TransactWriteItem::builder()
            .put(save)
            .build()];
        if let Some(claim) = client_claim(message) {
            items.push(self.put(claim, Some("attribute_not_exists(PK)")));
        }
        items.push(self.put(message_item(message)?, Some("attribute_not_exists(PK)")));
        match self.transact(items, "message").await {
            Ok(()) => Ok(next),
            // The first item is the project's: missing, or saved by someone else first.
            Err(StoreError::NotFound(_)) => Err(self.stale_or_missing(project).await),
            Err(e) => Err(e),
        }
    }

    async fn delete_project(&self, owner: &Owner, id: Uuid) -> StoreResult<()> {
        self.get_project(owner, id).await?;
        // Everything but the project itself first; then the project and its count in one
        // transaction, so a delete cut short is finished by deleting again, and counted once.
        let items: Vec<Item> = self
            .query_prefix(id, "", true, None, None)
            .await?
            .into_iter()
            .filter(|item| item.get("SK") != Some(&s("META")))
            .collect();
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
        self.seed_project_count(owner).await?;
        let delete = aws_sdk_dynamodb::types::TransactWriteItem::builder()
            .delete(
                aws_sdk_dynamodb::types::Delete::builder()
                    .table_name(&self.table)
                    .key("PK", s(pk(id)))
                    .key("SK", s("META"))
                    .condition_expression("attribute_exists(PK)")
                    .build()
                    .expect("complete delete"),
            )
            .build();
        let uncount = self.count_change(owner, -1, ("#n > :bound", 0));
        self.transact(vec![delete, uncount], "project").await
    }

    async fn post_user_message(&self, message: &Message, run: &Run) -> StoreResult<Posted> {
        let mut items = vec![self.project_exists_check(message.project_id)];
        if let Some(claim) = client_claim(message) {
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
                        StoreError::Corrupt(Cause::new("a client claim without its message"))
                    })?;
                let earlier = self.get_message(message.project_id, earlier).await?;
                if earlier.role != Role::User {
                    return Err(StoreError::Conflict(format!(
                        "the client_id {client_id:?} names a reply, not a message"
                    )));
                }
                let run_id = earlier.run_id.ok_or_else(|| {
                    StoreError::Corrupt(Cause::new("a user message without a run"))
                })?;
                Ok(Posted {
                    run: self.get_run(message.project_id, run_id).await?,
                    message: earlier,
                    created: false,
                })
            }
            Err(e) => Err(e),
        }
    }

    async fn append_message(&self, message: &Message) -> StoreResult<bool> {
        let mut items = vec![self.project_exists_check(message.project_id)];
        let claim = client_claim(message);
        let keyed = claim.is_some();
        if let Some(claim) = claim {
            items.push(self.put(claim, Some("attribute_not_exists(PK)")));
        }
        items.push(self.put(message_item(message)?, Some("attribute_not_exists(PK)")));
        match self.transact(items, "message").await {
            // The key's claim exists: an earlier run of the step wrote this reply.
            Err(StoreError::Conflict(_)) if keyed => {
                let key = message.client_id.as_deref().unwrap_or_default();
                match self
                    .get_item(pk(message.project_id), format!("CLIENT#{key}"))
                    .await?
                {
                    Some(_) => Ok(false),
                    None => Err(StoreError::Conflict(format!(
                        "message {} exists",
                        message.id
                    ))),
                }
            }
            other => other.map(|()| true),
        }
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
        self.page(project_id, "MSG#", true, page, from_item).await
    }

    async fn list_messages_backwards(
        &self,
        project_id: Uuid,
        page: &PageRequest,
    ) -> StoreResult<Page<Message>> {
        self.messages_backwards(project_id, page, from_item).await
    }

    async fn list_messages_json(
        &self,
        project_id: Uuid,
        page: &PageRequest,
    ) -> StoreResult<Page<MessageJson>> {
        self.page(project_id, "MSG#", true, page, message_json_of)
            .await
    }

    async fn list_messages_backwards_json(
        &self,
        project_id: Uuid,
        page: &PageRequest,
    ) -> StoreResult<Page<MessageJson>> {
        self.messages_backwards(project_id, page, message_json_of)
            .await
    }

    async fn messages_made_since(
        &self,
        project_id: Uuid,
        since: time::OffsetDateTime,
        limit: u32,
    ) -> StoreResult<Vec<Message>> {
        // Sort keys are `MSG#{id}`: the query starts after the lowest id made at `since`.
        let start = format!("MSG#{}", crate::store::first_id_at(since));
        let limit = PageRequest::first(limit).limit() as i32;
        let items = self
            .query_prefix(project_id, "MSG#", true, Some(start), Some(limit))
            .await?;
        items.iter().map(from_item).collect()
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

    async fn update_run_from(&self, run: &Run, from: RunStatus) -> StoreResult<bool> {
        let out = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(run_item(run)?))
            .condition_expression("attribute_exists(PK) AND #status = :from")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":from", s(status_name(&from)))
            .send()
            .await;
        match out {
            Ok(_) => Ok(true),
            Err(e) if is_conditional(&e) => {
                // Missing, or changed by someone else first.
                self.get_run(run.project_id, run.id).await.map(|_| false)
            }
            Err(e) => Err(backend(e)),
        }
    }

    async fn runs_before(
        &self,
        project_id: Uuid,
        run_id: Uuid,
        limit: u32,
    ) -> StoreResult<Vec<Run>> {
        // Backwards from the run's own sort key: the newest earlier runs first.
        let items = self
            .query_prefix(
                project_id,
                "RUN#",
                false,
                Some(format!("RUN#{run_id}")),
                Some(limit as i32),
            )
            .await?;
        items.iter().map(from_item).collect()
    }

    async fn oldest_unfinished_run_before(
        &self,
        project_id: Uuid,
        run_id: Uuid,
        lookback: u32,
    ) -> StoreResult<Option<Run>> {
        self.oldest_unfinished_before(project_id, run_id, lookback)
            .await
    }

    async fn unfinished_runs(&self) -> StoreResult<Vec<Run>> {
        let items = self.live_items(LiveKind::Run).await?;
        let mut runs: Vec<Run> = items.iter().map(from_item).collect::<StoreResult<_>>()?;
        runs.retain(|r| matches!(r.status, RunStatus::Queued | RunStatus::Running));
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
        self.page(project_id, "VER#", false, page, from_item).await
    }

    async fn put_deployment(&self, deployment: &Deployment) -> StoreResult<()> {
        let items = vec![
            self.project_exists_check(deployment.project_id),
            self.put(deployment_item(deployment)?, None),
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
        let items = self.live_items(LiveKind::Deployment).await?;
        let mut live: Vec<Deployment> = items.iter().map(from_item).collect::<StoreResult<_>>()?;
        live.retain(|d| {
            matches!(
                d.status,
                crate::model::DeploymentStatus::Pending | crate::model::DeploymentStatus::Running
            )
        });
        live.sort_by_key(|d| d.id);
        Ok(live)
    }
}

/// The key of the item that counts an owner's projects (`OWNER#{owner}` / `PROJECTS`, `n`):
/// the cap on projects is checked against it in the create's own transaction.
fn project_count_key(owner: &Owner) -> Item {
    HashMap::from([
        ("PK".into(), s(owner_key(owner))),
        ("SK".into(), s("PROJECTS")),
    ])
}

impl DynamoStore {
    /// A transaction item that adds `delta` to the owner's project count if `condition` (an
    /// expression on `#n` and `:bound`, with the bound) holds.
    fn count_change(
        &self,
        owner: &Owner,
        delta: i64,
        (condition, bound): (&str, u64),
    ) -> aws_sdk_dynamodb::types::TransactWriteItem {
        aws_sdk_dynamodb::types::TransactWriteItem::builder()
            .update(
                aws_sdk_dynamodb::types::Update::builder()
                    .table_name(&self.table)
                    .set_key(Some(project_count_key(owner)))
                    .update_expression("ADD #n :delta")
                    .condition_expression(condition)
                    .expression_attribute_names("#n", "n")
                    .expression_attribute_values(":delta", AttributeValue::N(delta.to_string()))
                    .expression_attribute_values(":bound", AttributeValue::N(bound.to_string()))
                    .build()
                    .expect("complete update"),
            )
            .build()
    }

    /// The owner's project count, if the counter exists.
    async fn project_count(&self, owner: &Owner) -> StoreResult<Option<u64>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(project_count_key(owner)))
            .consistent_read(true)
            .send()
            .await
            .map_err(backend)?;
        Ok(out
            .item
            .and_then(|i| i.get("n").and_then(|n| n.as_n().ok()?.parse().ok())))
    }

    /// Makes the owner's counter if it is missing (an owner from before counters), from a
    /// count of their projects; a counter made meanwhile by another writer is kept.
    async fn seed_project_count(&self, owner: &Owner) -> StoreResult<()> {
        if self.project_count(owner).await?.is_some() {
            return Ok(());
        }
        let n = self.count_projects(owner).await?;
        let mut item = project_count_key(owner);
        item.insert("n".into(), AttributeValue::N(n.to_string()));
        let out = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(PK)")
            .send()
            .await;
        match out {
            Ok(_) => Ok(()),
            Err(e) if is_conditional(&e) => Ok(()),
            Err(e) => Err(backend(e)),
        }
    }
}

/// The item that claims a message's idempotency key (`CLIENT#{key}`), naming the message.
fn client_claim(message: &Message) -> Option<Item> {
    let key = message.client_id.as_ref()?;
    Some(HashMap::from([
        ("PK".into(), s(pk(message.project_id))),
        ("SK".into(), s(format!("CLIENT#{key}"))),
        ("message_id".into(), s(message.id.to_string())),
        // Retries come within minutes; the table's TTL drops claims after 30 days.
        (
            "expires_at".into(),
            AttributeValue::N(
                (time::OffsetDateTime::now_utc().unix_timestamp() + 30 * 86_400).to_string(),
            ),
        ),
    ]))
}
