//! `ProjectStore` on one SQLite file (WAL), for `kiln serve`.
//!
//! Each entity is stored as its JSON document beside the columns that index it, so the
//! schema stays small and the documents match what the API returns.
//!
//! `schema` holds the tables and their migrations, `rows` how a row maps to an entity and back,
//! `queries` the `ProjectStore` operations, `lists` the lists read more than one way.

mod lists;
#[cfg(test)]
mod plans;
mod queries;
mod rows;
mod schema;

use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::Connection;

use super::{StoreError, StoreResult};
use rows::backend;
use schema::migrate;

/// The SQLite backend. Cheap to clone; all clones share one connection.
#[derive(Clone)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    pub fn open(path: &Path) -> StoreResult<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::failed_with(format!("creating {}", dir.display()), e))?;
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
        // A page cache of 64 MiB (SQLite's default is 2 MiB, so a store of a few thousand
        // projects was read from the OS again and again) and reads through a memory map.
        conn.pragma_update(None, "cache_size", -65_536)
            .map_err(backend)?;
        conn.pragma_update(None, "mmap_size", 256 * 1024 * 1024)
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
                .map_err(|_| StoreError::failed("the database's lock was poisoned by a panic"))?;
            f(&mut guard)
        })
        .await
        .map_err(|e| StoreError::failed_with("the database task", e))?
    }
}
