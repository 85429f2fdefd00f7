//! No statement the store runs reads a whole table: every statement of the conformance suite,
//! as SQLite itself reports it ran, is planned on a store with rows in every table, and
//! SQLite's plan must find its rows by an index (a `SEARCH`) or go through a partial index
//! (which holds only the rows asked for), never `SCAN` a table or a whole index.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use rusqlite::trace::TraceEvent;
use rusqlite::Connection;

use super::SqliteStore;
use crate::store::{conformance, FsArtifactStore};

/// The statements seen; a trace callback is a plain function, so they are kept here.
static SEEN: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

fn seen(event: TraceEvent<'_>) {
    if let TraceEvent::Stmt(stmt, _) = event {
        let sql = stmt.sql().into_owned();
        // A trigger's or a foreign key action's subprogram is reported as a comment.
        if !sql.trim_start().starts_with("--") {
            SEEN.lock().unwrap().insert(sql);
        }
    }
}

/// The tables of SQLite's plan of `sql` that it reads from start to end.
fn scanned_tables(conn: &Connection, sql: &str) -> Vec<String> {
    let mut stmt = match conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")) {
        Ok(stmt) => stmt,
        // PRAGMA, BEGIN, COMMIT and the like have no plan.
        Err(_) => return Vec::new(),
    };
    // Planned with every parameter unbound (NULL): the plan does not depend on the values.
    let unbound = std::iter::repeat_n(rusqlite::types::Null, stmt.parameter_count());
    let details: Vec<String> = stmt
        .query_map(rusqlite::params_from_iter(unbound), |r| {
            r.get::<_, String>(3)
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let partial: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND sql LIKE '% WHERE %'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    details
        .into_iter()
        .filter(|d| d.starts_with("SCAN ") && !d.starts_with("SCAN CONSTANT ROW"))
        // Going through a partial index reads only the rows it holds.
        .filter(|d| !partial.iter().any(|i| d.ends_with(&format!(" INDEX {i}"))))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn no_statement_reads_a_whole_table() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kiln.db");
    let store = SqliteStore::open(&path).unwrap();
    store.trace(seen);
    let artifacts = Arc::new(FsArtifactStore::new(&dir.path().join("blobs")));
    conformance::run_all(Arc::new(store.clone()), artifacts).await;
    conformance::run_concurrent(Arc::new(store.clone())).await;
    // Planned as the store's own connection plans them: without statistics (Kiln never runs
    // ANALYZE, whose figures from a small table would favour scans).
    let check = Connection::open(&path).unwrap();
    check.execute_batch("PRAGMA foreign_keys = ON").unwrap();
    let mut statements: Vec<String> = SEEN.lock().unwrap().iter().cloned().collect();
    assert!(
        statements
            .iter()
            .any(|s| s.contains("FROM runs WHERE status")),
        "the conformance suite looked for unfinished runs: {statements:#?}"
    );
    // What a project's delete does to its runs by foreign key, which no trace shows.
    statements.push("DELETE FROM runs WHERE project_id = ?1".into());
    let whole: Vec<(String, Vec<String>)> = statements
        .into_iter()
        .map(|sql| {
            let scans = scanned_tables(&check, &sql);
            (sql, scans)
        })
        .filter(|(_, scans)| !scans.is_empty())
        .collect();
    assert!(
        whole.is_empty(),
        "statements that read a whole table: {whole:#?}"
    );
}

#[test]
fn the_check_sees_a_whole_table_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kiln.db");
    drop(SqliteStore::open(&path).unwrap());
    let conn = Connection::open(&path).unwrap();
    assert_eq!(
        scanned_tables(
            &conn,
            "SELECT doc FROM deployments WHERE json_extract(doc, '$.status') = 'running'"
        ),
        ["SCAN deployments"]
    );
    assert!(scanned_tables(
        &conn,
        "SELECT doc FROM deployments WHERE status IN ('pending', 'running') ORDER BY id"
    )
    .is_empty());
}

/// A page of an owner's projects (and a search's walk) reads the owner's index alone, which
/// holds each summary (schema migration 5): not the projects' rows, where the summary lies
/// past the document.
#[test]
fn a_page_of_projects_reads_only_the_index() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kiln.db");
    drop(SqliteStore::open(&path).unwrap());
    let conn = Connection::open(&path).unwrap();
    let mut stmt = conn
        .prepare(&format!(
            "EXPLAIN QUERY PLAN {}",
            super::lists::OWNER_PROJECTS
        ))
        .unwrap();
    let plan: Vec<String> = stmt
        .query_map(["o", "0", "", "21"], |r| r.get(3))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(plan.len(), 1, "{plan:?}");
    assert!(
        plan[0].starts_with("SEARCH projects USING COVERING INDEX projects_by_owner "),
        "{plan:?}"
    );
}
