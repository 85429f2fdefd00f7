//! `ProjectStore` on one SQLite file (WAL), for `kiln serve`.
//!
//! Each entity is stored as its JSON document beside the columns that index it, so the
//! schema stays small and the documents match what the API returns.
//!
//! `schema` holds the tables and their migrations, `rows` how a row maps to an entity and back,
//! `queries` the `ProjectStore` operations, `lists` the lists read more than one way, `turns` the
//! run a later one of its project waits for.

mod lists;
#[cfg(test)]
mod plans;
mod queries;
mod rows;
mod schema;
mod turns;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::Connection;

use super::{StoreError, StoreResult};
use rows::backend;
use schema::migrate;

/// The SQLite backend. Cheap to clone; all clones share one writing connection and one pool
/// of reading ones.
#[derive(Clone)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
    readers: Arc<Readers>,
}

/// Connections that only read. In WAL mode readers do not wait for the writer or for each
/// other, and each read sees every write committed before it began, so a read after a write
/// (in any task) sees it.
struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    /// A statement trace put on every connection (the query-plan test's).
    #[cfg(test)]
    trace: Mutex<Option<fn(rusqlite::trace::TraceEvent<'_>)>>,
}

/// Reading connections kept open between reads; more are opened while more reads are under
/// way at once, and closed after.
const IDLE_READERS: usize = 8;

/// The SQLite VFS of every connection: unix's, but the process's first connection takes an
/// exclusive lock on the file for the whole process, and the WAL's index lives in the
/// process's memory. Connections of this process then lock among themselves in memory: a read
/// took two `fcntl` calls (its WAL read lock and its release) under unix's. Another process
/// cannot open the database while Kiln has it open (a second `kiln serve` on the same data
/// directory stops at start, saying so: [`SqliteStore::open`]). A reader is opened for
/// reading and writing and made `query_only`: a read-only file is left out of the process's
/// lock, and would lock with `fcntl` again.
const VFS: &str = "unix-excl";

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    /// Fails, saying so, when another process has it open.
    pub fn open(path: &Path) -> StoreResult<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::failed_with(format!("creating {}", dir.display()), e))?;
        }
        let mut conn =
            Connection::open_with_flags_and_vfs(path, rusqlite::OpenFlags::default(), VFS)
                .map_err(backend)?;
        // The first read takes the process's lock, waiting as long as for any lock (a Kiln
        // that is stopping lets go when it exits).
        conn.busy_timeout(BUSY_TIMEOUT).map_err(backend)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(|e| match backend(e) {
                StoreError::Unavailable(_) => StoreError::failed(format!(
                    "{} is open in another process (another `kiln serve` on the same data \
                     directory?): stop it, or give this one its own KILN_DATA_DIR",
                    path.display()
                )),
                other => other,
            })?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(backend)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(backend)?;
        tune(&conn, 65_536)?;
        migrate(&mut conn)?;
        Ok(SqliteStore {
            conn: Arc::new(Mutex::new(conn)),
            readers: Arc::new(Readers {
                path: path.to_owned(),
                idle: Mutex::new(Vec::new()),
                #[cfg(test)]
                trace: Mutex::new(None),
            }),
        })
    }

    /// Runs `f` on the writing connection off the async runtime's threads (a write commits to
    /// the disk, and now and then checkpoints the WAL into the database file).
    async fn with<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
    {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = conn
                .lock()
                .map_err(|_| StoreError::failed("the database's lock was poisoned by a panic"))?;
            f(&mut guard)
        })
        .await
        .map_err(|e| StoreError::failed_with("the database task", e))?
    }

    /// Runs the read `f` on a reading connection, on the calling thread: a read by an index
    /// takes tens of microseconds (pages come from the memory map), less than handing it to
    /// another thread and back, and never waits for a lock.
    fn read<T>(&self, f: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        let taken = self
            .readers
            .idle
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop();
        let conn = match taken {
            Some(conn) => conn,
            None => self.open_reader()?,
        };
        let out = f(&conn);
        let mut idle = self.readers.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < IDLE_READERS {
            idle.push(conn);
        }
        out
    }

    /// Runs a read that may walk many rows (a search through an owner's projects, every
    /// unfinished run or live deployment, a project's deployments) on a reading connection
    /// off the runtime's threads, so no other request waits behind it.
    async fn read_long<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let store = self.clone();
        tokio::task::spawn_blocking(move || store.read(f))
            .await
            .map_err(|e| StoreError::failed_with("the database task", e))?
    }

    fn open_reader(&self) -> StoreResult<Connection> {
        use rusqlite::OpenFlags;
        let conn = Connection::open_with_flags_and_vfs(
            &self.readers.path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
                | OpenFlags::SQLITE_OPEN_URI,
            VFS,
        )
        .map_err(backend)?;
        conn.pragma_update(None, "query_only", true)
            .map_err(backend)?;
        // Each reader's own page cache is smaller: most pages come from the shared map.
        tune(&conn, 8_192)?;
        #[cfg(test)]
        if let Some(trace) = *self.readers.trace.lock().unwrap() {
            conn.trace_v2(
                rusqlite::trace::TraceEventCodes::SQLITE_TRACE_STMT,
                Some(trace),
            );
        }
        Ok(conn)
    }

    /// Puts `trace` on every connection, the writer's and each reader's.
    #[cfg(test)]
    pub(crate) fn trace(&self, trace: fn(rusqlite::trace::TraceEvent<'_>)) {
        let codes = rusqlite::trace::TraceEventCodes::SQLITE_TRACE_STMT;
        self.conn.lock().unwrap().trace_v2(codes, Some(trace));
        *self.readers.trace.lock().unwrap() = Some(trace);
        for c in self.readers.idle.lock().unwrap().iter() {
            c.trace_v2(codes, Some(trace));
        }
    }
}

/// How long a connection waits for a lock before it says the database is busy.
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// A connection's waits and caches: a page cache of `cache_kib` (SQLite's default is 2 MiB, so
/// a store of a few thousand projects was read from the OS again and again), reads through a
/// memory map of up to 256 MiB, and five seconds' wait for a lock.
fn tune(conn: &Connection, cache_kib: i64) -> StoreResult<()> {
    conn.busy_timeout(BUSY_TIMEOUT).map_err(backend)?;
    // The query planner's stability guarantee: a statement's plan does not depend on the
    // values bound to it. Without it SQLite plans a cached statement again each time a
    // parameter it looked at while planning (a LIMIT's, an indexed range's bound) is bound
    // anew, which is every read (`a_page_is_planned_once`).
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )
    .map_err(backend)?;
    conn.pragma_update(None, "cache_size", -cache_kib)
        .map_err(backend)?;
    conn.pragma_update(None, "mmap_size", 256 * 1024 * 1024)
        .map_err(backend)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Owner, Project};
    use crate::store::ProjectStore;

    /// A read is answered while the writing connection is busy (here held by another thread
    /// for two seconds, as a long write would hold it): reads have their own connections.
    #[tokio::test(flavor = "multi_thread")]
    async fn reads_do_not_wait_for_the_writer() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("kiln.db")).unwrap();
        let project = Project::new(Owner("o".into()), "p".into(), String::new());
        store.create_project_within(&project, 10).await.unwrap();
        let (held_tx, held_rx) = std::sync::mpsc::channel();
        let writer = store.conn.clone();
        let busy = std::thread::spawn(move || {
            let _guard = writer.lock().unwrap();
            held_tx.send(()).unwrap();
            std::thread::sleep(std::time::Duration::from_secs(2));
        });
        held_rx.recv().unwrap();
        let read = tokio::time::timeout(
            std::time::Duration::from_millis(500),
            store.load_project(project.id),
        )
        .await
        .expect("the read waited for the writer");
        assert_eq!(read.unwrap().name, "p");
        busy.join().unwrap();
    }

    /// A search that walks many projects runs off the runtime's threads: on a runtime of one
    /// thread, another task keeps running while it reads.
    #[tokio::test(flavor = "current_thread")]
    async fn a_long_search_leaves_the_runtime_free() {
        use std::sync::atomic::{AtomicU32, Ordering};
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("kiln.db")).unwrap();
        let owner = Owner("o".into());
        let all = 20_000;
        store
            .with(move |c| {
                let tx = c.transaction().map_err(rows::backend)?;
                for i in 0..all {
                    let p = Project::new(Owner("o".into()), format!("project {i}"), String::new());
                    tx.execute(
                        "INSERT INTO projects (id, owner, updated_us, revision, doc, summary)
                         VALUES (?1, 'o', ?2, 0, ?3, ?4)",
                        rusqlite::params![
                            p.id.to_string(),
                            i,
                            rows::to_doc(&p)?,
                            rows::to_doc(&p.summary())?
                        ],
                    )
                    .map_err(rows::backend)?;
                }
                tx.commit().map_err(rows::backend)
            })
            .await
            .unwrap();
        let ticks = std::sync::Arc::new(AtomicU32::new(0));
        let counter = ticks.clone();
        let ticker = tokio::spawn(async move {
            loop {
                counter.fetch_add(1, Ordering::Relaxed);
                tokio::task::yield_now().await;
            }
        });
        tokio::task::yield_now().await;
        let before = ticks.load(Ordering::Relaxed);
        let found = store
            .search_projects(
                &owner,
                "no such name",
                &crate::store::PageRequest::first(20),
            )
            .await
            .unwrap();
        let during = ticks.load(Ordering::Relaxed) - before;
        ticker.abort();
        assert!(found.items.is_empty());
        assert!(
            during > 1,
            "the other task ran {during} times during the search"
        );
    }

    /// A reading connection cannot write.
    #[test]
    fn readers_are_read_only() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("kiln.db")).unwrap();
        let err = store
            .read(|c| c.execute("DELETE FROM projects", []).map_err(rows::backend))
            .unwrap_err();
        assert!(err.to_string().contains("readonly"), "{err}");
    }

    /// Messages in this build's shape and in none (the `format` column's default, 0, as the
    /// rows from before migration 4 have it); a doc that is not JSON is refused.
    #[tokio::test]
    async fn messages_are_answered_as_stored_only_in_this_builds_shape() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("kiln.db")).unwrap();
        let conn = store.conn.clone();
        let write = |project: uuid::Uuid, id: uuid::Uuid, doc: String, format: Option<i64>| {
            let wrote = conn.lock().unwrap().execute(
                "INSERT INTO messages (id, project_id, doc, format) VALUES (?1, ?2, ?3, ?4)",
                rusqlite::params![
                    id.to_string(),
                    project.to_string(),
                    doc,
                    format.unwrap_or(0)
                ],
            );
            std::future::ready(match wrote {
                Ok(_) => true,
                Err(e) if e.to_string().contains("must be JSON text") => false,
                Err(e) => panic!("{e}"),
            })
        };
        crate::store::conformance::messages_are_answered_as_stored_only_in_this_builds_shape(
            &store, write,
        )
        .await;
    }

    /// A project in this build's shape is answered as stored (a field this build does not
    /// know stays); one in an older shape (0, as the rows from before migration 6 have it) is
    /// read and written again, with the defaults of the fields added since; another owner's
    /// is not found.
    #[tokio::test]
    async fn a_project_is_answered_as_stored_only_in_this_builds_shape() {
        use crate::store::ProjectStore;
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("kiln.db")).unwrap();
        let owner = Owner("ann".into());
        let mut p = Project::new(owner.clone(), "Tasks".into(), "a \"quoted\" text".into());
        store.create_project(&p).await.unwrap();
        let typed = serde_json::to_string(&store.get_project(&owner, p.id).await.unwrap());
        let json = store.get_project_json(&owner, p.id).await.unwrap();
        assert_eq!(json.get(), typed.unwrap());
        p.revision += 1;
        p.name = "Renamed".into();
        rows::save_project(&store.conn.lock().unwrap(), &p).unwrap();
        let json = store.get_project_json(&owner, p.id).await.unwrap();
        let answered: serde_json::Value = serde_json::from_str(json.get()).unwrap();
        assert_eq!(answered["name"], "Renamed");
        // Each create and save writes the shape, so a project is soon answered as stored.
        let format: i64 = store
            .conn
            .lock()
            .unwrap()
            .query_row("SELECT format FROM projects", [], |r| r.get(0))
            .unwrap();
        assert_eq!(format, crate::model::PROJECT_FORMAT);
        for other in [Owner("bob".into())] {
            let read = store.get_project_json(&other, p.id).await;
            assert!(matches!(read, Err(StoreError::NotFound(_))), "{read:?}");
        }
        let read = store.get_project_json(&owner, crate::model::new_id()).await;
        assert!(matches!(read, Err(StoreError::NotFound(_))), "{read:?}");

        let mut doc = serde_json::to_value(&p).unwrap();
        doc["later_field"] = "kept".into();
        let write = |doc: &serde_json::Value, format: i64| {
            let sql = "UPDATE projects SET doc = ?1, format = ?2 WHERE id = ?3";
            let params = rusqlite::params![doc.to_string(), format, p.id.to_string()];
            store.conn.lock().unwrap().execute(sql, params)
        };
        write(&doc, crate::model::PROJECT_FORMAT).unwrap();
        let json = store.get_project_json(&owner, p.id).await.unwrap();
        assert_eq!(json.get(), doc.to_string(), "as stored");
        let object = doc.as_object_mut().unwrap();
        object.remove("deployments");
        object.remove("tested_version");
        write(&doc, 0).unwrap();
        let json = store.get_project_json(&owner, p.id).await.unwrap();
        let answered: serde_json::Value = serde_json::from_str(json.get()).unwrap();
        assert_eq!(answered["deployments"], serde_json::json!([]), "{answered}");
        assert_eq!(answered["tested_version"], serde_json::Value::Null);
        assert!(
            answered.get("later_field").is_none(),
            "read and written again"
        );
    }

    /// A page of projects is planned once per connection, whatever page it reads (it was
    /// planned again on every read, for the values bound to its LIMIT and its bounds).
    #[tokio::test]
    async fn a_page_is_planned_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("kiln.db")).unwrap();
        let owner = Owner("o".into());
        for i in 0..3 {
            let p = Project::new(owner.clone(), format!("p{i}"), String::new());
            store.create_project(&p).await.unwrap();
        }
        let mut names = Vec::new();
        let mut page = crate::store::PageRequest::first(1);
        for _ in 0..3 {
            let read = store.list_projects(&owner, &page).await.unwrap();
            names.extend(read.items.into_iter().map(|p| p.name));
            page.cursor = read.next_cursor;
        }
        assert_eq!(names, ["p2", "p1", "p0"], "newest first, a page at a time");
        assert_eq!(page.cursor, None);
        // Nothing else reads: the three pages ran on this one idle connection.
        let (runs, planned_again) = store
            .read(|c| {
                let stmt = c
                    .prepare_cached(lists::OWNER_PROJECTS)
                    .map_err(rows::backend)?;
                Ok((
                    stmt.get_status(rusqlite::StatementStatus::Run),
                    stmt.get_status(rusqlite::StatementStatus::RePrepare),
                ))
            })
            .unwrap();
        assert_eq!(runs, 3, "the pages were read by this statement");
        assert_eq!(planned_again, 0);
    }
}
