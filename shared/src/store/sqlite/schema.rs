//! The SQLite schema: its tables and indexes, created and brought up to date by numbered
//! migrations that `PRAGMA user_version` counts.

use rusqlite::Connection;

use super::rows::backend;
use crate::store::{StoreError, StoreResult};

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

pub(super) fn migrate(conn: &mut Connection) -> StoreResult<()> {
    let applied: usize = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(backend)?;
    if applied > MIGRATIONS.len() {
        return Err(StoreError::failed(format!(
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SqliteStore;

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
