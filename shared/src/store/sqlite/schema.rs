//! The SQLite schema: its tables and indexes, created and brought up to date by numbered
//! migrations that `PRAGMA user_version` counts.

use rusqlite::Connection;

use super::rows::{backend, from_doc, to_doc};
use crate::model::ProjectSummary;
use crate::store::{StoreError, StoreResult};

/// One schema migration: its SQL, then, when the rows there need what only the code can
/// compute, a step in Rust, in the same transaction.
struct Migration {
    sql: &'static str,
    then: Option<fn(&rusqlite::Transaction<'_>) -> StoreResult<()>>,
}

/// Schema migrations, applied in order; `PRAGMA user_version` records how many ran.
const MIGRATIONS: &[Migration] = &[
    // 1: the initial schema.
    Migration {
        sql: "CREATE TABLE projects (
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
        then: None,
    },
    // 2: nothing on a hot path reads more than it returns. Each owner's project count is a
    // row written in the create's and the delete's own transaction (a create no longer counts
    // the owner's projects); a deployment's status is a column; the unfinished runs and the
    // live deployments are partial indexes holding only those rows; a project's runs are
    // found by project (its earlier runs, and the delete's cascade).
    Migration {
        sql: "CREATE TABLE owners (
         owner TEXT PRIMARY KEY,
         projects INTEGER NOT NULL CHECK (projects >= 0)
     ) WITHOUT ROWID;
     INSERT INTO owners (owner, projects) SELECT owner, COUNT(*) FROM projects GROUP BY owner;
     ALTER TABLE deployments ADD COLUMN status TEXT NOT NULL DEFAULT '';
     UPDATE deployments SET status = coalesce(json_extract(doc, '$.status'), '');
     CREATE INDEX deployments_live ON deployments (id) WHERE status IN ('pending', 'running');
     DROP INDEX runs_by_status;
     CREATE INDEX runs_unfinished ON runs (id) WHERE status IN ('queued', 'running');
     CREATE INDEX runs_by_project ON runs (project_id, id);",
        then: None,
    },
    // 3: a project's summary (what a list shows of it) beside its document, so a page of
    // projects reads a few fields of each, not its whole spec and design; filled for the
    // projects there from their documents.
    Migration {
        sql: "ALTER TABLE projects ADD COLUMN summary TEXT NOT NULL DEFAULT '';",
        then: Some(fill_summaries),
    },
    // 4: the shape each message's JSON was written in (`model::MESSAGE_FORMAT`): one written
    // in this build's shape is answered as stored; those there before (0) are read and
    // written again.
    Migration {
        sql: "ALTER TABLE messages ADD COLUMN format INTEGER NOT NULL DEFAULT 0;",
        then: None,
    },
    // 5: a page of an owner's projects read from the owner's index alone: it also holds each
    // project's summary, so a page visits no project's row, whose summary column (added last)
    // lies past its document and that document's overflow pages.
    Migration {
        sql: "DROP INDEX IF EXISTS projects_by_owner;
     CREATE INDEX projects_by_owner ON projects (owner, updated_us DESC, id DESC, summary);",
        then: None,
    },
    // 6: the shape each project's JSON was written in (`model::PROJECT_FORMAT`), as 4 is for
    // messages: one in this build's shape is answered as stored; those there before (0) are
    // read and written again.
    Migration {
        sql: "ALTER TABLE projects ADD COLUMN format INTEGER NOT NULL DEFAULT 0;",
        then: None,
    },
];

/// Writes the summary column of every project that has none, from its document.
fn fill_summaries(tx: &rusqlite::Transaction<'_>) -> StoreResult<()> {
    let rows: Vec<(String, String)> = tx
        .prepare("SELECT id, doc FROM projects WHERE summary = ''")
        .and_then(|mut s| {
            s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()
        })
        .map_err(backend)?;
    let mut update = tx
        .prepare("UPDATE projects SET summary = ?1 WHERE id = ?2")
        .map_err(backend)?;
    for (id, doc) in rows {
        let summary: ProjectSummary = from_doc(&doc)?;
        update
            .execute(rusqlite::params![to_doc(&summary)?, id])
            .map_err(backend)?;
    }
    Ok(())
}

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
    for (i, migration) in MIGRATIONS.iter().enumerate().skip(applied) {
        let tx = conn.transaction().map_err(backend)?;
        tx.execute_batch(migration.sql).map_err(backend)?;
        if let Some(step) = migration.then {
            step(&tx)?;
        }
        tx.pragma_update(None, "user_version", i + 1)
            .map_err(backend)?;
        tx.commit().map_err(backend)?;
    }
    ensure_json_docs(conn)
}

/// The triggers that keep anything but one JSON value out of a message's or a project's
/// `doc`, whoever writes it: a page of the conversation, and a project's answer, hand a row in
/// this build's shape out as stored, not parsed again (`lists::message_json`, `project_json`).
const JSON_DOCS: [(&str, &str); 4] = [
    (
        "messages_doc_is_json",
        "CREATE TRIGGER messages_doc_is_json BEFORE INSERT ON messages
     WHEN typeof(NEW.doc) <> 'text' OR NOT json_valid(NEW.doc)
     BEGIN SELECT RAISE(ABORT, 'a message''s doc must be JSON text'); END",
    ),
    (
        "messages_doc_stays_json",
        "CREATE TRIGGER messages_doc_stays_json BEFORE UPDATE OF doc ON messages
     WHEN typeof(NEW.doc) <> 'text' OR NOT json_valid(NEW.doc)
     BEGIN SELECT RAISE(ABORT, 'a message''s doc must be JSON text'); END",
    ),
    (
        "projects_doc_is_json",
        "CREATE TRIGGER projects_doc_is_json BEFORE INSERT ON projects
     WHEN typeof(NEW.doc) <> 'text' OR NOT json_valid(NEW.doc)
     BEGIN SELECT RAISE(ABORT, 'a project''s doc must be JSON text'); END",
    ),
    (
        "projects_doc_stays_json",
        "CREATE TRIGGER projects_doc_stays_json BEFORE UPDATE OF doc ON projects
     WHEN typeof(NEW.doc) <> 'text' OR NOT json_valid(NEW.doc)
     BEGIN SELECT RAISE(ABORT, 'a project''s doc must be JSON text'); END",
    ),
];

/// Makes [`JSON_DOCS`] where they are missing or not as written here (a database from before
/// them, or one whose triggers were dropped or changed while Kiln was stopped), and then
/// gives every message and project whose doc is not JSON shape 0, so it is read as a record,
/// and reported corrupt, instead of handed out. With the triggers in place, nothing is read.
fn ensure_json_docs(conn: &mut Connection) -> StoreResult<()> {
    use rusqlite::OptionalExtension;
    let tx = conn.transaction().map_err(backend)?;
    let mut made = false;
    for (name, sql) in JSON_DOCS {
        let found: Option<String> = tx
            .query_row(
                "SELECT sql FROM sqlite_schema WHERE type = 'trigger' AND name = ?1",
                [name],
                |r| r.get(0),
            )
            .optional()
            .map_err(backend)?;
        if found.as_deref() != Some(sql) {
            tx.execute_batch(&format!("DROP TRIGGER IF EXISTS {name}; {sql};"))
                .map_err(backend)?;
            made = true;
        }
    }
    if made {
        for table in ["messages", "projects"] {
            tx.execute(
                &format!(
                    "UPDATE {table} SET format = 0
                     WHERE format <> 0 AND (typeof(doc) <> 'text' OR NOT json_valid(doc))"
                ),
                [],
            )
            .map_err(backend)?;
        }
    }
    tx.commit().map_err(backend)
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

    /// A database of the first schema, with projects and deployments in it, opened by this
    /// build: each owner's count starts at what they own, and each deployment's status column
    /// at its document's, so the limit and the live deployments read right at once.
    #[tokio::test]
    async fn an_older_database_gets_its_counts_and_statuses() {
        use crate::model::Owner;
        use crate::store::ProjectStore;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kiln.db");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(MIGRATIONS[0].sql).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        let project = |id: &str, owner: &str| {
            let mut p = crate::model::Project::new(Owner(owner.into()), "p".into(), String::new());
            p.id = id.parse().unwrap();
            conn.execute(
                "INSERT INTO projects (id, owner, updated_us, revision, doc) VALUES (?1, ?2, 0, 0, ?3)",
                [id, owner, &serde_json::to_string(&p).unwrap()],
            )
            .unwrap();
        };
        project("00000000-0000-0000-0000-000000000001", "ann");
        project("00000000-0000-0000-0000-000000000002", "ann");
        project("00000000-0000-0000-0000-000000000003", "bob");
        for (id, status) in [("d1", "running"), ("d2", "stopped"), ("d3", "pending")] {
            conn.execute(
                "INSERT INTO deployments (id, project_id, doc) VALUES (?1, '00000000-0000-0000-0000-000000000001', ?2)",
                [id, &format!(r#"{{"status":"{status}"}}"#)],
            )
            .unwrap();
        }
        drop(conn);
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(store.count_projects(&Owner("ann".into())).await.unwrap(), 2);
        assert_eq!(store.count_projects(&Owner("bob".into())).await.unwrap(), 1);
        assert_eq!(store.count_projects(&Owner("cy".into())).await.unwrap(), 0);
        drop(store);
        let conn = Connection::open(&path).unwrap();
        let live: Vec<String> = conn
            .prepare(
                "SELECT id FROM deployments WHERE status IN ('pending', 'running') ORDER BY id",
            )
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(live, ["d1", "d3"]);
    }

    /// A database of the second schema, its projects written before summaries were kept,
    /// opened by this build: each project's summary is there at once, and the list shows it.
    #[tokio::test]
    async fn an_older_database_gets_its_summaries() {
        use crate::model::{Owner, Project, ProjectStatus};
        use crate::store::{PageRequest, ProjectStore};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kiln.db");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(MIGRATIONS[0].sql).unwrap();
        conn.execute_batch(MIGRATIONS[1].sql).unwrap();
        conn.pragma_update(None, "user_version", 2).unwrap();
        let mut p = Project::new(
            Owner("ann".into()),
            "Tasks & co".into(),
            "a description".into(),
        );
        p.status = ProjectStatus::Built;
        p.current_version = Some(4);
        conn.execute(
            "INSERT INTO projects (id, owner, updated_us, revision, doc) VALUES (?1, 'ann', 1, 0, ?2)",
            [p.id.to_string(), serde_json::to_string(&p).unwrap()],
        )
        .unwrap();
        drop(conn);
        let store = SqliteStore::open(&path).unwrap();
        let page = store
            .list_projects(&Owner("ann".into()), &PageRequest::first(20))
            .await
            .unwrap();
        assert_eq!(page.items, [p.summary()]);
        let found = store
            .search_projects(&Owner("ann".into()), "TASKS", &PageRequest::first(20))
            .await
            .unwrap();
        assert_eq!(found.items.len(), 1);
    }

    /// The project and the message every test of messages' docs starts from, written by
    /// Kiln; the store is closed again, so a plain connection can open the file.
    async fn a_database_with_a_message(path: &std::path::Path) -> crate::model::Project {
        use crate::model::{Message, Owner, Project};
        use crate::store::ProjectStore;
        let store = SqliteStore::open(path).unwrap();
        let p = Project::new(Owner("ann".into()), "p".into(), String::new());
        store.create_project(&p).await.unwrap();
        let m = Message::from_user(p.id, "hello".into(), None);
        assert!(store.append_message(&m).await.unwrap());
        p
    }

    fn insert(conn: &Connection, project: uuid::Uuid, doc: &dyn rusqlite::ToSql) -> String {
        conn.execute(
            "INSERT INTO messages (id, project_id, doc, format) VALUES (?1, ?2, ?3, ?4)",
            rusqlite::params![
                uuid::Uuid::now_v7().to_string(),
                project.to_string(),
                doc,
                crate::model::MESSAGE_FORMAT
            ],
        )
        .map_or_else(|e| e.to_string(), |_| "kept".into())
    }

    /// Any writer of the file, not only Kiln, is refused a message doc that is not one JSON
    /// value in text: a page of the conversation hands the docs out without parsing them.
    #[tokio::test]
    async fn a_message_doc_that_is_not_json_is_refused_to_any_writer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kiln.db");
        let p = a_database_with_a_message(&path).await;
        let conn = Connection::open(&path).unwrap();
        let refused = "a message's doc must be JSON text";
        for bad in [
            "{\"id\":",
            "{\"content\":\"two\nlines\"}",
            "{\"a\":1} {}",
            "{a:1}",
            "{\"a\":1,}",
            "",
        ] {
            assert!(insert(&conn, p.id, &bad).contains(refused), "{bad:?}");
        }
        assert!(
            insert(&conn, p.id, &b"{}".to_vec()).contains(refused),
            "a blob"
        );
        assert_eq!(insert(&conn, p.id, &"{\"a\":\"\\n\"}"), "kept");
        let changed = conn.execute(
            "UPDATE messages SET doc = '{' WHERE project_id = ?1",
            [p.id.to_string()],
        );
        assert!(changed.unwrap_err().to_string().contains(refused));
        let changed = conn.execute(
            "UPDATE projects SET doc = '{' WHERE id = ?1",
            [p.id.to_string()],
        );
        let refused = "a project's doc must be JSON text";
        assert!(changed.unwrap_err().to_string().contains(refused));
        // The triggers are stored as written, so the next open finds them and reads no row.
        for (name, sql) in JSON_DOCS {
            let stored: String = conn
                .query_row(
                    "SELECT sql FROM sqlite_schema WHERE name = ?1",
                    [name],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(stored, sql);
        }
    }

    /// A database whose triggers were dropped or changed while Kiln was stopped (or one from
    /// before them), and a doc that is not JSON written meanwhile: the next open puts the
    /// triggers back, and the conversation is reported corrupt, not answered with it.
    #[tokio::test]
    async fn a_doc_written_without_the_triggers_is_reported_not_handed_out() {
        use crate::store::{PageRequest, ProjectStore};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kiln.db");
        let p = a_database_with_a_message(&path).await;
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(
            "DROP TRIGGER messages_doc_is_json;
             DROP TRIGGER messages_doc_stays_json;
             DROP TRIGGER projects_doc_stays_json;
             CREATE TRIGGER messages_doc_stays_json BEFORE UPDATE OF doc ON messages
             WHEN 0 BEGIN SELECT 1; END;",
        )
        .unwrap();
        assert_eq!(insert(&conn, p.id, &"{\"id\":"), "kept");
        let project = "UPDATE projects SET doc = '{\"id\":' WHERE id = ?1";
        assert_eq!(conn.execute(project, [p.id.to_string()]).unwrap(), 1);
        drop(conn);
        let store = SqliteStore::open(&path).unwrap();
        let read = store
            .list_messages_json(p.id, &PageRequest::default())
            .await;
        assert!(matches!(read, Err(StoreError::Corrupt(_))), "{read:?}");
        let read = store.get_project_json(&p.owner, p.id).await;
        assert!(matches!(read, Err(StoreError::Corrupt(_))), "{read:?}");
        drop(store);
        let conn = Connection::open(&path).unwrap();
        assert!(insert(&conn, p.id, &"{").contains("must be JSON text"));
        let changed = conn.execute(
            "UPDATE messages SET doc = '{' WHERE project_id = ?1",
            [p.id.to_string()],
        );
        assert!(changed.is_err(), "the changed trigger was made again");
        let changed = conn.execute(project, [p.id.to_string()]);
        assert!(changed.is_err(), "the dropped trigger was made again");
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
