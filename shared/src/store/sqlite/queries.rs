//! The `ProjectStore` operations on SQLite: each one statement or one transaction, run off the
//! async runtime's threads on the shared connection.

use async_trait::async_trait;
use rusqlite::{params, OptionalExtension};
use uuid::Uuid;

use super::rows::{
    all_docs, backend, cursor_position, deployment_status_key, from_doc, insert_message,
    is_unique_violation, micros, one_doc, page_of, project_exists, save_project, status_key,
    to_doc,
};
use super::{lists, turns, SqliteStore};
use crate::model::{
    now, Cause, Deployment, Message, Owner, Project, ProjectSummary, Role, Run, RunStatus, Version,
    MESSAGE_FORMAT, PROJECT_FORMAT,
};
use crate::store::{
    MessageJson, Page, PageRequest, Posted, ProjectJson, ProjectStore, StoreError, StoreResult,
    SummaryJson,
};

#[async_trait]
impl ProjectStore for SqliteStore {
    async fn create_project_within(&self, project: &Project, limit: u64) -> StoreResult<()> {
        let p = project.clone();
        self.with(move |c| {
            // Counted and inserted under one write lock: no other create, of this process or
            // another, lands in between.
            let tx = c
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(backend)?;
            let count: i64 = tx
                .query_row(
                    "SELECT projects FROM owners WHERE owner = ?1",
                    [&p.owner.0],
                    |row| row.get(0),
                )
                .optional()
                .map_err(backend)?
                .unwrap_or(0);
            if count as u64 >= limit {
                return Err(StoreError::LimitReached(count as u64));
            }
            tx.execute(
                "INSERT INTO projects (id, owner, updated_us, revision, doc, summary, format)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    p.id.to_string(),
                    p.owner.0,
                    micros(p.updated_at),
                    p.revision as i64,
                    to_doc(&p)?,
                    to_doc(&p.summary())?,
                    PROJECT_FORMAT
                ],
            )
            .map_err(|e| {
                if is_unique_violation(&e) {
                    StoreError::Conflict(format!("project {} exists", p.id))
                } else {
                    backend(e)
                }
            })?;
            tx.execute(
                "INSERT INTO owners (owner, projects) VALUES (?1, 1)
                 ON CONFLICT (owner) DO UPDATE SET projects = projects + 1",
                [&p.owner.0],
            )
            .map_err(backend)?;
            tx.commit().map_err(backend)
        })
        .await
    }

    async fn check_owner(&self, owner: &Owner, id: Uuid) -> StoreResult<()> {
        self.read(|c| {
            let stored: Option<String> = c
                .prepare_cached("SELECT owner FROM projects WHERE id = ?1")
                .and_then(|mut stmt| stmt.query_row([id.to_string()], |r| r.get(0)).optional())
                .map_err(backend)?;
            match stored {
                Some(o) if o == owner.0 => Ok(()),
                _ => Err(StoreError::NotFound("project")),
            }
        })
    }

    async fn get_project_json(&self, owner: &Owner, id: Uuid) -> StoreResult<ProjectJson> {
        self.read(|c| {
            let row: Option<(String, String, i64)> = c
                .prepare_cached("SELECT owner, doc, format FROM projects WHERE id = ?1")
                .and_then(|mut stmt| {
                    stmt.query_row([id.to_string()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                        .optional()
                })
                .map_err(backend)?;
            match row {
                Some((o, doc, format)) if o == owner.0 => super::lists::project_json(doc, format),
                _ => Err(StoreError::NotFound("project")),
            }
        })
    }

    async fn load_project(&self, id: Uuid) -> StoreResult<Project> {
        self.read(|c| {
            one_doc(
                c,
                "SELECT doc FROM projects WHERE id = ?1",
                [id.to_string()],
                "project",
            )
        })
    }

    async fn list_projects(
        &self,
        owner: &Owner,
        page: &PageRequest,
    ) -> StoreResult<Page<ProjectSummary>> {
        self.owner_page(owner, None, page, lists::summary).await
    }

    async fn list_projects_json(
        &self,
        owner: &Owner,
        page: &PageRequest,
    ) -> StoreResult<Page<SummaryJson>> {
        self.owner_page(owner, None, page, lists::summary_json)
            .await
    }

    async fn search_projects(
        &self,
        owner: &Owner,
        text: &str,
        page: &PageRequest,
    ) -> StoreResult<Page<ProjectSummary>> {
        self.owner_page(owner, Some(text), page, lists::summary)
            .await
    }

    async fn search_projects_json(
        &self,
        owner: &Owner,
        text: &str,
        page: &PageRequest,
    ) -> StoreResult<Page<SummaryJson>> {
        self.owner_page(owner, Some(text), page, lists::summary_json)
            .await
    }

    async fn count_projects(&self, owner: &Owner) -> StoreResult<u64> {
        let owner = owner.0.clone();
        self.read(|c| {
            c.query_row(
                "SELECT projects FROM owners WHERE owner = ?1",
                [owner],
                |r| r.get::<_, i64>(0),
            )
            .optional()
            .map(|n| n.unwrap_or(0) as u64)
            .map_err(backend)
        })
    }

    async fn update_project(&self, project: &Project) -> StoreResult<Project> {
        let next = next_revision(project);
        self.with(move |c| {
            save_project(c, &next)?;
            Ok(next)
        })
        .await
    }

    async fn update_project_and_append(
        &self,
        project: &Project,
        message: &Message,
    ) -> StoreResult<Project> {
        let next = next_revision(project);
        let message = message.clone();
        self.with(move |c| {
            let tx = c.transaction().map_err(backend)?;
            save_project(&tx, &next)?;
            insert_message(&tx, &message)?;
            tx.commit().map_err(backend)?;
            Ok(next)
        })
        .await
    }

    async fn delete_project(&self, owner: &Owner, id: Uuid) -> StoreResult<()> {
        let owner = owner.0.clone();
        self.with(move |c| {
            let tx = c.transaction().map_err(backend)?;
            let n = tx
                .execute(
                    "DELETE FROM projects WHERE id = ?1 AND owner = ?2",
                    params![id.to_string(), owner],
                )
                .map_err(backend)?;
            if n != 1 {
                return Err(StoreError::NotFound("project"));
            }
            tx.execute(
                "UPDATE owners SET projects = projects - 1 WHERE owner = ?1",
                [&owner],
            )
            .map_err(backend)?;
            tx.commit().map_err(backend)
        })
        .await
    }

    async fn post_user_message(&self, message: &Message, run: &Run) -> StoreResult<Posted> {
        let (message, run) = (message.clone(), run.clone());
        self.with(move |c| {
            let tx = c.transaction().map_err(backend)?;
            let pid = message.project_id.to_string();
            if !project_exists(&tx, &pid)? {
                return Err(StoreError::NotFound("project"));
            }
            if let Some(client_id) = &message.client_id {
                let earlier: Option<String> = tx
                    .query_row(
                        "SELECT doc FROM messages WHERE project_id = ?1 AND client_id = ?2",
                        params![pid, client_id],
                        |r| r.get(0),
                    )
                    .optional()
                    .map_err(backend)?;
                if let Some(doc) = earlier {
                    let message: Message = from_doc(&doc)?;
                    if message.role != Role::User {
                        return Err(StoreError::Conflict(format!(
                            "the client_id {client_id:?} names a reply, not a message"
                        )));
                    }
                    let run_id = message.run_id.ok_or_else(|| {
                        StoreError::Corrupt(Cause::new("a user message without a run"))
                    })?;
                    let doc: String = tx
                        .query_row(
                            "SELECT doc FROM runs WHERE id = ?1",
                            [run_id.to_string()],
                            |r| r.get(0),
                        )
                        .map_err(backend)?;
                    return Ok(Posted {
                        message,
                        run: from_doc(&doc)?,
                        created: false,
                    });
                }
            }
            tx.execute(
                "INSERT INTO messages (id, project_id, client_id, doc, format)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    message.id.to_string(),
                    pid,
                    message.client_id,
                    to_doc(&message)?,
                    MESSAGE_FORMAT
                ],
            )
            .map_err(backend)?;
            tx.execute(
                "INSERT INTO runs (id, project_id, status, doc) VALUES (?1, ?2, ?3, ?4)",
                params![
                    run.id.to_string(),
                    pid,
                    status_key(run.status),
                    to_doc(&run)?
                ],
            )
            .map_err(backend)?;
            tx.commit().map_err(backend)?;
            Ok(Posted {
                message,
                run,
                created: true,
            })
        })
        .await
    }

    async fn append_message(&self, message: &Message) -> StoreResult<bool> {
        let message = message.clone();
        self.with(move |c| insert_message(c, &message)).await
    }

    async fn get_message(&self, project_id: Uuid, message_id: Uuid) -> StoreResult<Message> {
        self.read(|c| {
            one_doc(
                c,
                "SELECT doc FROM messages WHERE id = ?1 AND project_id = ?2",
                params![message_id.to_string(), project_id.to_string()],
                "message",
            )
        })
    }

    async fn list_messages(
        &self,
        project_id: Uuid,
        page: &PageRequest,
    ) -> StoreResult<Page<Message>> {
        self.messages(project_id, page, true, lists::message)
    }

    async fn list_messages_backwards(
        &self,
        project_id: Uuid,
        page: &PageRequest,
    ) -> StoreResult<Page<Message>> {
        self.messages(project_id, page, false, lists::message)
    }

    async fn list_messages_json(
        &self,
        project_id: Uuid,
        page: &PageRequest,
    ) -> StoreResult<Page<MessageJson>> {
        self.messages(project_id, page, true, lists::message_json)
    }

    async fn list_messages_backwards_json(
        &self,
        project_id: Uuid,
        page: &PageRequest,
    ) -> StoreResult<Page<MessageJson>> {
        self.messages(project_id, page, false, lists::message_json)
    }

    async fn messages_made_since(
        &self,
        project_id: Uuid,
        since: time::OffsetDateTime,
        limit: u32,
    ) -> StoreResult<Vec<Message>> {
        let floor = crate::store::first_id_at(since).to_string();
        let limit = PageRequest::first(limit).limit();
        self.read(|c| {
            all_docs(
                c,
                "SELECT doc FROM messages WHERE project_id = ?1 AND id >= ?2 ORDER BY seq LIMIT ?3",
                params![project_id.to_string(), floor, limit],
            )
        })
    }

    async fn get_run(&self, project_id: Uuid, run_id: Uuid) -> StoreResult<Run> {
        self.read(|c| {
            one_doc(
                c,
                "SELECT doc FROM runs WHERE id = ?1 AND project_id = ?2",
                params![run_id.to_string(), project_id.to_string()],
                "run",
            )
        })
    }

    async fn update_run(&self, run: &Run) -> StoreResult<()> {
        let run = run.clone();
        self.with(move |c| {
            let n = c
                .execute(
                    "UPDATE runs SET status = ?1, doc = ?2 WHERE id = ?3 AND project_id = ?4",
                    params![
                        status_key(run.status),
                        to_doc(&run)?,
                        run.id.to_string(),
                        run.project_id.to_string()
                    ],
                )
                .map_err(backend)?;
            if n == 1 {
                Ok(())
            } else {
                Err(StoreError::NotFound("run"))
            }
        })
        .await
    }

    async fn update_run_from(&self, run: &Run, from: RunStatus) -> StoreResult<bool> {
        let run = run.clone();
        self.with(move |c| {
            let n = c
                .execute(
                    "UPDATE runs SET status = ?1, doc = ?2 \
                     WHERE id = ?3 AND project_id = ?4 AND status = ?5",
                    params![
                        status_key(run.status),
                        to_doc(&run)?,
                        run.id.to_string(),
                        run.project_id.to_string(),
                        status_key(from)
                    ],
                )
                .map_err(backend)?;
            if n == 1 {
                return Ok(true);
            }
            let exists: bool = c
                .query_row(
                    "SELECT EXISTS (SELECT 1 FROM runs WHERE id = ?1 AND project_id = ?2)",
                    params![run.id.to_string(), run.project_id.to_string()],
                    |row| row.get(0),
                )
                .map_err(backend)?;
            if exists {
                Ok(false)
            } else {
                Err(StoreError::NotFound("run"))
            }
        })
        .await
    }

    async fn runs_before(
        &self,
        project_id: Uuid,
        run_id: Uuid,
        limit: u32,
    ) -> StoreResult<Vec<Run>> {
        self.read(|c| {
            all_docs(
                c,
                "SELECT doc FROM runs WHERE project_id = ?1 AND id < ?2 ORDER BY id DESC LIMIT ?3",
                params![project_id.to_string(), run_id.to_string(), limit],
            )
        })
    }

    async fn oldest_unfinished_run_before(
        &self,
        project_id: Uuid,
        run_id: Uuid,
        lookback: u32,
    ) -> StoreResult<Option<Run>> {
        let (project_id, run_id) = (project_id.to_string(), run_id.to_string());
        self.read(|c| turns::oldest_unfinished_before(c, &project_id, &run_id, lookback))
    }

    async fn unfinished_runs(&self) -> StoreResult<Vec<Run>> {
        self.read_long(move |c| {
            all_docs(
                c,
                "SELECT doc FROM runs WHERE status IN ('queued', 'running') ORDER BY id",
                [],
            )
        })
        .await
    }

    async fn create_version(&self, version: &Version) -> StoreResult<()> {
        let v = version.clone();
        self.with(move |c| {
            c.execute(
                "INSERT INTO versions (project_id, number, doc) VALUES (?1, ?2, ?3)",
                params![v.project_id.to_string(), v.number, to_doc(&v)?],
            )
            .map_err(|e| {
                if is_unique_violation(&e) {
                    StoreError::Conflict(format!("version {} exists", v.number))
                } else if matches!(&e, rusqlite::Error::SqliteFailure(f, _)
                    if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY)
                {
                    StoreError::NotFound("project")
                } else {
                    backend(e)
                }
            })?;
            Ok(())
        })
        .await
    }

    async fn get_version(&self, project_id: Uuid, number: u32) -> StoreResult<Version> {
        self.read(|c| {
            one_doc(
                c,
                "SELECT doc FROM versions WHERE project_id = ?1 AND number = ?2",
                params![project_id.to_string(), number],
                "version",
            )
        })
    }

    async fn list_versions(
        &self,
        project_id: Uuid,
        page: &PageRequest,
    ) -> StoreResult<Page<Version>> {
        let after = cursor_position(page)?.unwrap_or(i64::MAX);
        let limit = page.limit();
        self.read(|c| {
            page_of(
                c,
                "SELECT number, doc FROM versions WHERE project_id = ?1 AND number < ?2
                 ORDER BY number DESC LIMIT ?3",
                &project_id.to_string(),
                Some(after),
                limit,
            )
        })
    }

    async fn put_deployment(&self, deployment: &Deployment) -> StoreResult<()> {
        let d = deployment.clone();
        self.with(move |c| {
            c.execute(
                "INSERT INTO deployments (id, project_id, status, doc) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (id) DO UPDATE SET status = excluded.status, doc = excluded.doc",
                params![
                    d.id.to_string(),
                    d.project_id.to_string(),
                    deployment_status_key(&d.status),
                    to_doc(&d)?
                ],
            )
            .map_err(|e| match &e {
                rusqlite::Error::SqliteFailure(f, _)
                    if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY =>
                {
                    StoreError::NotFound("project")
                }
                _ => backend(e),
            })?;
            Ok(())
        })
        .await
    }

    async fn list_deployments(&self, project_id: Uuid) -> StoreResult<Vec<Deployment>> {
        self.read_long(move |c| {
            all_docs(
                c,
                "SELECT doc FROM deployments WHERE project_id = ?1 ORDER BY id DESC",
                [project_id.to_string()],
            )
        })
        .await
    }

    async fn live_deployments(&self) -> StoreResult<Vec<Deployment>> {
        self.read_long(move |c| {
            all_docs(
                c,
                "SELECT doc FROM deployments WHERE status IN ('pending', 'running') ORDER BY id",
                [],
            )
        })
        .await
    }
}

/// The project as its next save writes it: the next revision, now.
fn next_revision(project: &Project) -> Project {
    let mut next = project.clone();
    next.revision += 1;
    next.updated_at = now().max(project.updated_at);
    next
}
