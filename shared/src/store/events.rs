//! Change events: a `ProjectStore` wrapper that announces new messages and run changes on a
//! broadcast channel, for `GET …/events`.

use std::sync::Arc;

use async_trait::async_trait;
use serde::Serialize;
use tokio::sync::broadcast;
use uuid::Uuid;

use super::{
    MessageJson, Page, PageRequest, Posted, ProjectJson, ProjectStore, StoreResult, SummaryJson,
};
use crate::model::{Deployment, Message, Owner, Project, ProjectSummary, Run, RunStatus, Version};

/// Something that changed in a project.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum ProjectEvent {
    /// A message was added to the conversation.
    Message(Message),
    /// A run started, moved on a step, or ended.
    Run(Run),
}

impl ProjectEvent {
    /// The project it belongs to.
    pub fn project_id(&self) -> Uuid {
        match self {
            ProjectEvent::Message(m) => m.project_id,
            ProjectEvent::Run(r) => r.project_id,
        }
    }

    /// The SSE event name.
    pub fn name(&self) -> &'static str {
        match self {
            ProjectEvent::Message(_) => "message",
            ProjectEvent::Run(_) => "run",
        }
    }
}

/// A `ProjectStore` that announces what it writes.
pub struct ObservedStore {
    inner: Arc<dyn ProjectStore>,
    events: broadcast::Sender<ProjectEvent>,
}

impl ObservedStore {
    /// Wraps `inner`; subscribers lagging more than `capacity` events skip ahead.
    pub fn new(inner: Arc<dyn ProjectStore>, capacity: usize) -> Self {
        let (events, _) = broadcast::channel(capacity);
        ObservedStore { inner, events }
    }

    /// A receiver of every event from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<ProjectEvent> {
        self.events.subscribe()
    }

    fn announce(&self, event: ProjectEvent) {
        // Nobody listening is fine.
        let _ = self.events.send(event);
    }
}

#[async_trait]
impl ProjectStore for ObservedStore {
    async fn create_project_within(&self, project: &Project, limit: u64) -> StoreResult<()> {
        self.inner.create_project_within(project, limit).await
    }
    async fn check_owner(&self, owner: &Owner, id: Uuid) -> StoreResult<()> {
        self.inner.check_owner(owner, id).await
    }
    async fn load_project(&self, id: Uuid) -> StoreResult<Project> {
        self.inner.load_project(id).await
    }
    async fn get_project_json(&self, owner: &Owner, id: Uuid) -> StoreResult<ProjectJson> {
        self.inner.get_project_json(owner, id).await
    }
    async fn list_projects(
        &self,
        owner: &Owner,
        page: &PageRequest,
    ) -> StoreResult<Page<ProjectSummary>> {
        self.inner.list_projects(owner, page).await
    }
    async fn search_projects(
        &self,
        owner: &Owner,
        text: &str,
        page: &PageRequest,
    ) -> StoreResult<Page<ProjectSummary>> {
        self.inner.search_projects(owner, text, page).await
    }
    async fn list_projects_json(
        &self,
        owner: &Owner,
        page: &PageRequest,
    ) -> StoreResult<Page<SummaryJson>> {
        self.inner.list_projects_json(owner, page).await
    }
    async fn search_projects_json(
        &self,
        owner: &Owner,
        text: &str,
        page: &PageRequest,
    ) -> StoreResult<Page<SummaryJson>> {
        self.inner.search_projects_json(owner, text, page).await
    }
    async fn count_projects(&self, owner: &Owner) -> StoreResult<u64> {
        self.inner.count_projects(owner).await
    }
    async fn update_project(&self, project: &Project) -> StoreResult<Project> {
        self.inner.update_project(project).await
    }
    async fn delete_project(&self, owner: &Owner, id: Uuid) -> StoreResult<()> {
        self.inner.delete_project(owner, id).await
    }
    async fn post_user_message(&self, message: &Message, run: &Run) -> StoreResult<Posted> {
        let posted = self.inner.post_user_message(message, run).await?;
        if posted.created {
            self.announce(ProjectEvent::Message(posted.message.clone()));
            self.announce(ProjectEvent::Run(posted.run.clone()));
        }
        Ok(posted)
    }
    async fn update_project_and_append(
        &self,
        project: &Project,
        message: &Message,
    ) -> StoreResult<Project> {
        let saved = self
            .inner
            .update_project_and_append(project, message)
            .await?;
        self.announce(ProjectEvent::Message(message.clone()));
        Ok(saved)
    }
    async fn append_message(&self, message: &Message) -> StoreResult<bool> {
        let written = self.inner.append_message(message).await?;
        // A reply written before (its key taken) was announced then.
        if written {
            self.announce(ProjectEvent::Message(message.clone()));
        }
        Ok(written)
    }
    async fn get_message(&self, project_id: Uuid, message_id: Uuid) -> StoreResult<Message> {
        self.inner.get_message(project_id, message_id).await
    }
    async fn messages_made_since(
        &self,
        project_id: Uuid,
        since: time::OffsetDateTime,
        limit: u32,
    ) -> StoreResult<Vec<Message>> {
        self.inner
            .messages_made_since(project_id, since, limit)
            .await
    }

    async fn list_messages(
        &self,
        project_id: Uuid,
        page: &PageRequest,
    ) -> StoreResult<Page<Message>> {
        self.inner.list_messages(project_id, page).await
    }
    async fn list_messages_backwards(
        &self,
        project_id: Uuid,
        page: &PageRequest,
    ) -> StoreResult<Page<Message>> {
        self.inner.list_messages_backwards(project_id, page).await
    }
    async fn list_messages_json(
        &self,
        project_id: Uuid,
        page: &PageRequest,
    ) -> StoreResult<Page<MessageJson>> {
        self.inner.list_messages_json(project_id, page).await
    }
    async fn list_messages_backwards_json(
        &self,
        project_id: Uuid,
        page: &PageRequest,
    ) -> StoreResult<Page<MessageJson>> {
        self.inner
            .list_messages_backwards_json(project_id, page)
            .await
    }
    async fn oldest_unfinished_run_before(
        &self,
        project_id: Uuid,
        run_id: Uuid,
        lookback: u32,
    ) -> StoreResult<Option<Run>> {
        self.inner
            .oldest_unfinished_run_before(project_id, run_id, lookback)
            .await
    }
    async fn get_run(&self, project_id: Uuid, run_id: Uuid) -> StoreResult<Run> {
        self.inner.get_run(project_id, run_id).await
    }
    async fn update_run(&self, run: &Run) -> StoreResult<()> {
        self.inner.update_run(run).await?;
        self.announce(ProjectEvent::Run(run.clone()));
        Ok(())
    }
    async fn update_run_from(&self, run: &Run, from: RunStatus) -> StoreResult<bool> {
        let replaced = self.inner.update_run_from(run, from).await?;
        if replaced {
            self.announce(ProjectEvent::Run(run.clone()));
        }
        Ok(replaced)
    }
    async fn runs_before(
        &self,
        project_id: Uuid,
        run_id: Uuid,
        limit: u32,
    ) -> StoreResult<Vec<Run>> {
        self.inner.runs_before(project_id, run_id, limit).await
    }
    async fn unfinished_runs(&self) -> StoreResult<Vec<Run>> {
        self.inner.unfinished_runs().await
    }
    async fn create_version(&self, version: &Version) -> StoreResult<()> {
        self.inner.create_version(version).await
    }
    async fn get_version(&self, project_id: Uuid, number: u32) -> StoreResult<Version> {
        self.inner.get_version(project_id, number).await
    }
    async fn list_versions(
        &self,
        project_id: Uuid,
        page: &PageRequest,
    ) -> StoreResult<Page<Version>> {
        self.inner.list_versions(project_id, page).await
    }
    async fn put_deployment(&self, deployment: &Deployment) -> StoreResult<()> {
        self.inner.put_deployment(deployment).await
    }
    async fn list_deployments(&self, project_id: Uuid) -> StoreResult<Vec<Deployment>> {
        self.inner.list_deployments(project_id).await
    }
    async fn live_deployments(&self) -> StoreResult<Vec<Deployment>> {
        self.inner.live_deployments().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Agent, Owner};

    #[tokio::test]
    async fn a_reply_written_once_is_announced_once() {
        let dir = tempfile::tempdir().unwrap();
        let sqlite = crate::store::sqlite::SqliteStore::open(&dir.path().join("kiln.db")).unwrap();
        let store = ObservedStore::new(Arc::new(sqlite), 16);
        let mut events = store.subscribe();
        let project = Project::new(Owner::local(), "p".into(), String::new());
        store.create_project(&project).await.unwrap();
        let run = crate::model::new_id();
        let mut first = Message::from_agent(project.id, Agent::Architect, run, "plan".into());
        first.client_id = Some(format!("{run}/Architect/plan"));
        let mut repeat = first.clone();
        repeat.id = crate::model::new_id();
        assert!(store.append_message(&first).await.unwrap());
        assert!(!store.append_message(&repeat).await.unwrap());
        match events.try_recv() {
            Ok(ProjectEvent::Message(m)) => assert_eq!(m.id, first.id),
            other => panic!("expected the first message, got {other:?}"),
        }
        assert!(events.try_recv().is_err(), "the repeat was announced");
    }
}
