//! How rows map to entities: each entity is stored as its JSON document beside the columns that
//! index it; one, every or a page of documents read back; a project written over its revision
//! and a message inserted once; SQLite's errors as store errors.

use rusqlite::{params, Connection, OptionalExtension};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::model::{
    Cause, DeploymentStatus, Message, Project, RunStatus, MESSAGE_FORMAT, PROJECT_FORMAT,
};
use crate::store::{decode_cursor, encode_cursor, Page, PageRequest, StoreError, StoreResult};

/// A SQLite failure by its kind: busy or locked (another writer holds the database) may pass,
/// a corrupt file or one that is not a database will not read better, the rest is permanent.
pub(super) fn backend(e: rusqlite::Error) -> StoreError {
    use rusqlite::ErrorCode;
    let code = match &e {
        rusqlite::Error::SqliteFailure(f, _) => Some(f.code),
        _ => None,
    };
    match code {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
            StoreError::Unavailable(Cause::with("SQLite is busy", e))
        }
        Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) => {
            StoreError::corrupt("the SQLite database", e)
        }
        _ => StoreError::failed_with("SQLite", e),
    }
}

pub(super) fn to_doc<T: Serialize>(value: &T) -> StoreResult<String> {
    serde_json::to_string(value).map_err(|e| StoreError::failed_with("encoding a record", e))
}

pub(super) fn from_doc<T: DeserializeOwned>(doc: &str) -> StoreResult<T> {
    serde_json::from_str(doc).map_err(|e| StoreError::corrupt("a stored record", e))
}

pub(super) fn micros(t: time::OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1_000) as i64
}

pub(super) fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(f, _)
            if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
    )
}

/// The one document `sql` selects, or `NotFound(what)`.
pub(super) fn one_doc<T: DeserializeOwned>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    what: &'static str,
) -> StoreResult<T> {
    // Prepared once per connection: parsing and planning the statement cost as much as
    // running it.
    let doc: Option<String> = conn
        .prepare_cached(sql)
        .and_then(|mut stmt| stmt.query_row(params, |r| r.get(0)).optional())
        .map_err(backend)?;
    from_doc(&doc.ok_or(StoreError::NotFound(what))?)
}

/// Every document `sql` selects, in its order.
pub(super) fn all_docs<T: DeserializeOwned>(
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

pub(super) fn project_exists(conn: &Connection, id: &str) -> StoreResult<bool> {
    conn.query_row("SELECT 1 FROM projects WHERE id = ?1", [id], |_| Ok(()))
        .optional()
        .map(|r| r.is_some())
        .map_err(backend)
}

/// Reads a page of documents: `sql` must select `(position, doc)` ordered as the list is,
/// take the cursor position as `?2` and the limit as `?3`.
pub(super) fn page_of<T: DeserializeOwned>(
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

pub(super) fn cursor_position(page: &PageRequest) -> StoreResult<Option<i64>> {
    page.cursor
        .as_deref()
        .map(|c| decode_cursor(c)?.parse().map_err(|_| StoreError::BadCursor))
        .transpose()
}

pub(super) fn status_key(status: RunStatus) -> &'static str {
    match status {
        RunStatus::Queued => "queued",
        RunStatus::Running => "running",
        RunStatus::Succeeded => "succeeded",
        RunStatus::Failed => "failed",
    }
}

/// A deployment's status as its column holds it (the partial index of live deployments names
/// `pending` and `running`).
pub(super) fn deployment_status_key(status: &DeploymentStatus) -> &'static str {
    match status {
        DeploymentStatus::Pending => "pending",
        DeploymentStatus::Running => "running",
        DeploymentStatus::Failed => "failed",
        DeploymentStatus::Stopped => "stopped",
    }
}

/// Writes `next` over the revision before it: a stale revision is a conflict, a project that
/// is not there is not found.
pub(super) fn save_project(c: &rusqlite::Connection, next: &Project) -> StoreResult<()> {
    let changed = c
        .execute(
            "UPDATE projects SET doc = ?1, revision = ?2, updated_us = ?3, summary = ?6,
             format = ?7 WHERE id = ?4 AND revision = ?5",
            params![
                to_doc(next)?,
                next.revision as i64,
                micros(next.updated_at),
                next.id.to_string(),
                (next.revision - 1) as i64,
                to_doc(&next.summary())?,
                PROJECT_FORMAT
            ],
        )
        .map_err(backend)?;
    if changed == 1 {
        Ok(())
    } else if project_exists(c, &next.id.to_string())? {
        Err(StoreError::Conflict(format!(
            "project {} was changed by someone else (revision {} is stale)",
            next.id,
            next.revision - 1
        )))
    } else {
        Err(StoreError::NotFound("project"))
    }
}

/// Inserts a message; false when its key (`client_id`) is taken already, which means an
/// earlier run of the step that says it wrote it.
pub(super) fn insert_message(c: &rusqlite::Connection, message: &Message) -> StoreResult<bool> {
    let written = c
        .execute(
            "INSERT INTO messages (id, project_id, client_id, doc, format)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (project_id, client_id) DO NOTHING",
            params![
                message.id.to_string(),
                message.project_id.to_string(),
                message.client_id,
                to_doc(message)?,
                MESSAGE_FORMAT
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
    Ok(written == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The columns hold what the documents say: the names serde gives each status.
    #[test]
    fn status_columns_are_the_documents_names() {
        for s in [
            RunStatus::Queued,
            RunStatus::Running,
            RunStatus::Succeeded,
            RunStatus::Failed,
        ] {
            assert_eq!(serde_json::to_value(s).unwrap(), status_key(s));
        }
        for s in [
            DeploymentStatus::Pending,
            DeploymentStatus::Running,
            DeploymentStatus::Stopped,
            DeploymentStatus::Failed,
        ] {
            assert_eq!(serde_json::to_value(s).unwrap(), deployment_status_key(&s));
        }
    }
}
