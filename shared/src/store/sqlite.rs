//! `ProjectStore` on one SQLite file (WAL), for `kiln serve`.
//!
//! Each entity is stored as its JSON document beside the columns that index it, so the
//! schema stays small and the documents match what the API returns.

use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension};
use serde::de::DeserializeOwned;
use serde::Serialize;
use uuid::Uuid;

use super::{
    decode_cursor, encode_cursor, Page, PageRequest, Posted, ProjectStore, StoreError, StoreResult,
};
use crate::model::{
    now, Deployment, Message, Owner, Project, ProjectSummary, Run, RunStatus, Version,
};

/// Schema migrations, applied in order; `PRAGMA user_version` records how many ran.
const MIGRATIONS: &[&str] = &[
    // 1: the initial schema.
    "CREATE TABLE projects (
         id TEXT PRIMARY KEY,
         owner TEXT NOT NULL,
         updated_us INTEGER NOT NULL,
         revision INTEGER NOT NULL,
         doc TEXT NOT NULL
     );
     CREATE INDEX projects_by_owner ON projects (owner, updated_us DESC, id DESC);
     CREATE TABLE messages (
         seq INTEGER PRIMARY KEY AUTOINCREMENT,
         id TEXT NOT NULL UNIQUE,
         project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
         client_id TEXT,
         doc TEXT NOT NULL,
         UNIQUE (project_id, client_id)
     );
     CREATE INDEX messages_by_project ON messages (project_id, seq);
     CREATE TABLE runs (
         id TEXT PRIMARY KEY,
         project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
         status TEXT NOT NULL,
         doc TEXT NOT NULL
     );
     CREATE INDEX runs_by_status ON runs (status);
     CREATE TABLE versions (
         project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
         number INTEGER NOT NULL,
         doc TEXT NOT NULL,
         PRIMARY KEY (project_id, number)
     );
     CREATE TABLE deployments (
         id TEXT PRIMARY KEY,
         project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
         doc TEXT NOT NULL
     );
     CREATE INDEX deployments_by_project ON deployments (project_id, id DESC);",
];

/// The SQLite backend. Cheap to clone; all clones share one connection.
#[derive(Clone)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    pub fn open(path: &Path) -> StoreResult<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::Backend(e.to_string()))?;
        }
        let mut conn = Connection::open(path).map_err(backend)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(backend)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(backend)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(backend)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(backend)?;
        migrate(&mut conn)?;
        Ok(SqliteStore {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// Runs `f` on the connection off the async runtime's threads.
    async fn with<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
    {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = conn
                .lock()
                .map_err(|_| StoreError::Backend("database lock poisoned".into()))?;
            f(&mut guard)
        })
        .await
        .map_err(|e| StoreError::Backend(e.to_string()))?
    }
}

fn migrate(conn: &mut Connection) -> StoreResult<()> {
    let applied: usize = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(backend)?;
    if applied > MIGRATIONS.len() {
        return Err(StoreError::Backend(format!(
            "the database has schema version {applied}, newer than this build's {}",
            MIGRATIONS.len()
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(applied) {
        let tx = conn.transaction().map_err(backend)?;
        tx.execute_batch(sql).map_err(backend)?;
        tx.pragma_update(None, "user_version", i + 1)
            .map_err(backend)?;
        tx.commit().map_err(backend)?;
    }
    Ok(())
}

fn backend(e: rusqlite::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

fn to_doc<T: Serialize>(value: &T) -> StoreResult<String> {
    serde_json::to_string(value).map_err(|e| StoreError::Backend(e.to_string()))
}

fn from_doc<T: DeserializeOwned>(doc: &str) -> StoreResult<T> {
    serde_json::from_str(doc).map_err(|e| StoreError::Backend(format!("corrupt record: {e}")))
}

fn micros(t: time::OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000) as i64
}

fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(f, _)
            if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
    )
}

/// The one document `sql` selects, or `NotFound(what)`.
fn one_doc<T: DeserializeOwned>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    what: &'static str,
) -> StoreResult<T> {
    let doc: Option<String> = conn
        .query_row(sql, params, |r| r.get(0))
        .optional()
        .map_err(backend)?;
    from_doc(&doc.ok_or(StoreError::NotFound(what))?)
}

/// Every document `sql` selects, in its order.
fn all_docs<T: DeserializeOwned>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> StoreResult<Vec<T>> {
    let mut stmt = conn.prepare_cached(sql).map_err(backend)?;
    let docs: Vec<String> = stmt
        .query_map(params, |r| r.get(0))
        .map_err(backend)?
        .collect::<Result<_, _>>()
        .map_err(backend)?;
    docs.iter().map(|d| from_doc(d)).collect()
}

fn project_exists(conn: &Connection, id: &str) -> StoreResult<bool> {
    conn.query_row("SELECT 1 FROM projects WHERE id = ?1", [id], |_| Ok(()))
        .optional()
        .map(|r| r.is_some())
        .map_err(backend)
}

/// Reads a page of documents: `sql` must select `(position, doc)` ordered as the list is,
/// take the cursor position as `?2` and the limit as `?3`.
fn page_of<T: DeserializeOwned>(
    conn: &Connection,
    sql: &str,
    key: &str,
    after: Option<i64>,
    limit: u32,
) -> StoreResult<Page<T>> {
    let mut stmt = conn.prepare_cached(sql).map_err(backend)?;
    let rows: Vec<(i64, String)> = stmt
        .query_map(params![key, after, limit + 1], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .map_err(backend)?
        .collect::<Result<_, _>>()
        .map_err(backend)?;
    let more = rows.len() > limit as usize;
    let rows = &rows[..rows.len().min(limit as usize)];
    let next_cursor = match (more, rows.last()) {
        (true, Some((pos, _))) => Some(encode_cursor(&pos.to_string())),
        _ => None,
    };
    let items = rows
        .iter()
        .map(|(_, doc)| from_doc(doc))
        .collect::<StoreResult<_>>()?;
    Ok(Page { items, next_cursor })
}

fn cursor_position(page: &PageRequest) -> StoreResult<Option<i64>> {
    page.cursor
        .as_deref()
        .map(|c| decode_cursor(c)?.parse().map_err(|_| StoreError::BadCursor))
        .transpose()
}

#[async_trait]
impl ProjectStore for SqliteStore {
    async fn create_project(&self, project: &Project) -> StoreResult<()> {
        let p = project.clone();
        self.with(move |c| {
            c.execute(
                "INSERT INTO projects (id, owner, updated_us, revision, doc) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![p.id.to_string(), p.owner.0, micros(p.updated_at), p.revision as i64, to_doc(&p)?],
            )
            .map_err(|e| {
                if is_unique_violation(&e) {
                    StoreError::Conflict(format!("project {} exists", p.id))
                } else {
                    backend(e)
                }
            })?;
            Ok(())
        })
        .await
    }

    async fn load_project(&self, id: Uuid) -> StoreResult<Project> {
        self.with(move |c| {
            one_doc(
                c,
                "SELECT doc FROM projects WHERE id = ?1",
                [id.to_string()],
                "project",
            )
        })
        .await
    }

    async fn list_projects(
        &self,
        owner: &Owner,
        page: &PageRequest,
    ) -> StoreResult<Page<ProjectSummary>> {
        let owner = owner.0.clone();
        let limit = page.limit();
        // Position: "updated_us|id" of the last item handed out.
        let after = page
            .cursor
            .as_deref()
            .map(|c| {
                let pos = decode_cursor(c)?;
                let (us, id) = pos.split_once('|').ok_or(StoreError::BadCursor)?;
                let us: i64 = us.parse().map_err(|_| StoreError::BadCursor)?;
                let id: Uuid = id.parse().map_err(|_| StoreError::BadCursor)?;
                Ok::<_, StoreError>((us, id.to_string()))
            })
            .transpose()?;
        self.with(move |c| {
            let (after_us, after_id) = after.unwrap_or((i64::MAX, String::new()));
            let mut stmt = c
                .prepare_cached(
                    "SELECT updated_us, id, doc FROM projects WHERE owner = ?1
                     AND (?4 = '' OR updated_us < ?2 OR (updated_us = ?2 AND id < ?4))
                     ORDER BY updated_us DESC, id DESC LIMIT ?3",
                )
                .map_err(backend)?;
            let rows: Vec<(i64, String, String)> = stmt
                .query_map(params![owner, after_us, limit + 1, after_id], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })
                .map_err(backend)?
                .collect::<Result<_, _>>()
                .map_err(backend)?;
            let more = rows.len() > limit as usize;
            let rows = &rows[..rows.len().min(limit as usize)];
            let next_cursor = match (more, rows.last()) {
                (true, Some((us, id, _))) => Some(encode_cursor(&format!("{us}|{id}"))),
                _ => None,
            };
            let items = rows
                .iter()
                .map(|(_, _, doc)| from_doc::<Project>(doc).map(|p| p.summary()))
                .collect::<StoreResult<_>>()?;
            Ok(Page { items, next_cursor })
        })
        .await
    }

    async fn count_projects(&self, owner: &Owner) -> StoreResult<u64> {
        let owner = owner.0.clone();
        self.with(move |c| {
            c.query_row(
                "SELECT COUNT(*) FROM projects WHERE owner = ?1",
                [owner],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as u64)
            .map_err(backend)
        })
        .await
    }

    async fn update_project(&self, project: &Project) -> StoreResult<Project> {
        let mut next = project.clone();
        next.revision += 1;
        next.updated_at = now().max(project.updated_at);
        self.with(move |c| {
            let changed = c
                .execute(
                    "UPDATE projects SET doc = ?1, revision = ?2, updated_us = ?3
                     WHERE id = ?4 AND revision = ?5",
                    params![
                        to_doc(&next)?,
                        next.revision as i64,
                        micros(next.updated_at),
                        next.id.to_string(),
                        (next.revision - 1) as i64
                    ],
                )
                .map_err(backend)?;
            if changed == 1 {
                Ok(next)
            } else if project_exists(c, &next.id.to_string())? {
                Err(StoreError::Conflict(format!(
                    "project {} was changed by someone else (revision {} is stale)",
                    next.id,
                    next.revision - 1
                )))
            } else {
                Err(StoreError::NotFound("project"))
            }
        })
        .await
    }

    async fn delete_project(&self, owner: &Owner, id: Uuid) -> StoreResult<()> {
        let owner = owner.0.clone();
        self.with(move |c| {
            let n = c
                .execute(
                    "DELETE FROM projects WHERE id = ?1 AND owner = ?2",
                    params![id.to_string(), owner],
                )
                .map_err(backend)?;
            if n == 1 {
                Ok(())
            } else {
                Err(StoreError::NotFound("project"))
            }
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
                    let run_id = message
                        .run_id
                        .ok_or_else(|| StoreError::Backend("user message without a run".into()))?;
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
                "INSERT INTO messages (id, project_id, client_id, doc) VALUES (?1, ?2, ?3, ?4)",
                params![
                    message.id.to_string(),
                    pid,
                    message.client_id,
                    to_doc(&message)?
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

    async fn append_message(&self, message: &Message) -> StoreResult<()> {
        let message = message.clone();
        self.with(move |c| {
            c.execute(
                "INSERT INTO messages (id, project_id, client_id, doc) VALUES (?1, ?2, ?3, ?4)",
                params![
                    message.id.to_string(),
                    message.project_id.to_string(),
                    message.client_id,
                    to_doc(&message)?
                ],
            )
            .map_err(|e| match &e {
                rusqlite::Error::SqliteFailure(f, _)
                    if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY =>
                {
                    StoreError::NotFound("project")
                }
                _ if is_unique_violation(&e) => {
                    StoreError::Conflict(format!("message {} exists", message.id))
                }
                _ => backend(e),
            })?;
            Ok(())
        })
        .await
    }

    async fn get_message(&self, project_id: Uuid, message_id: Uuid) -> StoreResult<Message> {
        self.with(move |c| {
            one_doc(
                c,
                "SELECT doc FROM messages WHERE id = ?1 AND project_id = ?2",
                params![message_id.to_string(), project_id.to_string()],
                "message",
            )
        })
        .await
    }

    async fn list_messages(
        &self,
        project_id: Uuid,
        page: &PageRequest,
    ) -> StoreResult<Page<Message>> {
        let after = cursor_position(page)?;
        let limit = page.limit();
        self.with(move |c| {
            page_of(
                c,
                "SELECT seq, doc FROM messages WHERE project_id = ?1 AND seq > coalesce(?2, 0)
                 ORDER BY seq LIMIT ?3",
                &project_id.to_string(),
                after,
                limit,
            )
        })
        .await
    }

    async fn get_run(&self, project_id: Uuid, run_id: Uuid) -> StoreResult<Run> {
        self.with(move |c| {
            one_doc(
                c,
                "SELECT doc FROM runs WHERE id = ?1 AND project_id = ?2",
                params![run_id.to_string(), project_id.to_string()],
                "run",
            )
        })
        .await
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

    async fn unfinished_runs(&self) -> StoreResult<Vec<Run>> {
        self.with(|c| {
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
        self.with(move |c| {
            one_doc(
                c,
                "SELECT doc FROM versions WHERE project_id = ?1 AND number = ?2",
                params![project_id.to_string(), number],
                "version",
            )
        })
        .await
    }

    async fn list_versions(
        &self,
        project_id: Uuid,
        page: &PageRequest,
    ) -> StoreResult<Page<Version>> {
        let after = cursor_position(page)?;
        let limit = page.limit();
        self.with(move |c| {
            page_of(
                c,
                "SELECT number, doc FROM versions WHERE project_id = ?1
                 AND number < coalesce(?2, 9223372036854775807) ORDER BY number DESC LIMIT ?3",
                &project_id.to_string(),
                after,
                limit,
            )
        })
        .await
    }

    async fn put_deployment(&self, deployment: &Deployment) -> StoreResult<()> {
        let d = deployment.clone();
        self.with(move |c| {
            c.execute(
                "INSERT INTO deployments (id, project_id, doc) VALUES (?1, ?2, ?3)
                 ON CONFLICT (id) DO UPDATE SET doc = excluded.doc",
                params![d.id.to_string(), d.project_id.to_string(), to_doc(&d)?],
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
        self.with(move |c| {
            all_docs(
                c,
                "SELECT doc FROM deployments WHERE project_id = ?1 ORDER BY id DESC",
                [project_id.to_string()],
            )
        })
        .await
    }

    async fn live_deployments(&self) -> StoreResult<Vec<Deployment>> {
        self.with(|c| {
            all_docs(
                c,
                "SELECT doc FROM deployments
                 WHERE json_extract(doc, '$.status') IN ('pending', 'running') ORDER BY id",
                [],
            )
        })
        .await
    }
}

fn status_key(status: RunStatus) -> &'static str {
    match status {
        RunStatus::Queued => "queued",
        RunStatus::Running => "running",
        RunStatus::Succeeded => "succeeded",
        RunStatus::Failed => "failed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_recorded_and_idempotent() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kiln.db");
        drop(SqliteStore::open(&path).unwrap());
        drop(SqliteStore::open(&path).unwrap());
        let conn = Connection::open(&path).unwrap();
        let v: usize = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(v, MIGRATIONS.len());
        let mode: String = conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
    }

    #[test]
    fn refuses_a_newer_schema() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kiln.db");
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
        drop(conn);
        assert!(matches!(
            SqliteStore::open(&path),
            Err(StoreError::Backend(_))
        ));
    }
}
