//! The generic store suite on the local backends: SQLite on disk and content-addressed files.

use std::sync::Arc;

use kiln::store::{conformance, ArtifactStore, FsArtifactStore, ProjectStore, SqliteStore};

fn stores(dir: &std::path::Path) -> (Arc<dyn ProjectStore>, Arc<dyn ArtifactStore>) {
    let projects = Arc::new(SqliteStore::open(&dir.join("kiln.db")).expect("open sqlite"));
    let artifacts = Arc::new(FsArtifactStore::new(&dir.join("artifacts")));
    (projects, artifacts)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_and_files_pass_the_store_suite() {
    let dir = tempfile::tempdir().unwrap();
    let (projects, artifacts) = stores(dir.path());
    conformance::run_all(projects.clone(), artifacts).await;
    conformance::run_concurrent(projects).await;
}

#[tokio::test]
async fn data_survives_reopening_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let owner = kiln::model::Owner::local();
    let project = kiln::model::Project::new(owner.clone(), "persisted".into(), String::new());
    let sha = {
        let (projects, artifacts) = stores(dir.path());
        projects.create_project(&project).await.unwrap();
        artifacts.put_blob(b"print('hi')\n").await.unwrap()
    };
    let (projects, artifacts) = stores(dir.path());
    assert_eq!(
        projects.get_project(&owner, project.id).await.unwrap(),
        project
    );
    assert_eq!(artifacts.get_blob(&sha).await.unwrap(), b"print('hi')\n");
}

#[tokio::test]
async fn a_link_planted_in_the_blob_store_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (_, artifacts) = stores(dir.path());
    let sha = artifacts.put_blob(b"real contents").await.unwrap();
    let path = dir
        .path()
        .join("artifacts/blobs")
        .join(&sha[..2])
        .join(&sha);
    std::fs::remove_file(&path).unwrap();
    std::fs::write(dir.path().join("secret"), b"outside the store").unwrap();
    std::os::unix::fs::symlink(dir.path().join("secret"), &path).unwrap();
    let read = artifacts.get_blob(&sha).await;
    assert!(read.is_err(), "read through a link: {read:?}");
}

/// The files under `dir`, recursively.
fn files_under(dir: &std::path::Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .map(|e| e.unwrap().path())
        .map(|p| if p.is_dir() { files_under(&p) } else { 1 })
        .sum()
}

#[tokio::test]
async fn files_hold_one_copy_per_content() {
    let dir = tempfile::tempdir().unwrap();
    let (_, artifacts) = stores(dir.path());
    let root = dir.path().join("artifacts");
    conformance::blobs_are_stored_once(artifacts.as_ref(), || {
        let root = root.clone();
        async move { files_under(&root) }
    })
    .await;
}

/// A failure's kind decides what happens next: a busy database may pass (the pipeline retries
/// it, the API answers 503 with Retry-After), a record that does not parse will not read
/// better (never retried; 500 with its own code).
#[tokio::test(flavor = "multi_thread")]
async fn a_busy_database_is_transient_and_a_corrupt_record_is_not() {
    use kiln::agents::AgentError;
    use kiln::model::ErrorKind;
    use kiln::store::StoreError;

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kiln.db");
    let store = SqliteStore::open(&path).unwrap();
    let owner = kiln::model::Owner::local();
    let project = kiln::model::Project::new(owner.clone(), "Notes".into(), String::new());
    store.create_project(&project).await.unwrap();

    // Another connection holds the write lock past the store's busy timeout: one of this
    // process, as only Kiln's own may open the file while it is open, on the same VFS.
    let other = rusqlite::Connection::open_with_flags_and_vfs(
        &path,
        rusqlite::OpenFlags::default(),
        "unix-excl",
    )
    .unwrap();
    other.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let next = kiln::model::Project::new(owner.clone(), "Other".into(), String::new());
    let busy = store.create_project(&next).await.unwrap_err();
    assert!(matches!(busy, StoreError::Unavailable(_)), "{busy:?}");
    assert_eq!(busy.kind(), ErrorKind::Transient);
    assert_eq!(AgentError::Store(busy).error_name(), "Kiln.Transient");
    other.execute_batch("ROLLBACK").unwrap();
    store.create_project(&next).await.unwrap();

    // A record that does not parse.
    other
        .execute(
            "UPDATE projects SET doc = '{\"not\": \"a project\"}' WHERE id = ?1",
            [project.id.to_string()],
        )
        .unwrap();
    let corrupt = store.load_project(project.id).await.unwrap_err();
    assert!(matches!(corrupt, StoreError::Corrupt(_)), "{corrupt:?}");
    assert!(
        corrupt
            .to_string()
            .starts_with("stored data is corrupt: a stored record: "),
        "the cause is kept: {corrupt}"
    );
    assert!(std::error::Error::source(&corrupt).is_some(), "{corrupt:?}");
    let agent = AgentError::Store(corrupt);
    assert_eq!(agent.error_name(), "Kiln.storage_corrupt", "never retried");

    // The API says each in its own way.
    let error = kiln::api::ApiError::from(store.load_project(project.id).await.unwrap_err());
    assert_eq!(
        (error.status.as_u16(), error.code),
        (500, "storage_corrupt")
    );
    other.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let error = kiln::api::ApiError::from(store.create_project(&project).await.unwrap_err());
    assert_eq!(
        (error.status.as_u16(), error.code),
        (503, "storage_unavailable")
    );
    assert_eq!(error.retry_after_secs, Some(1));
    other.execute_batch("ROLLBACK").unwrap();
}

/// Python's sqlite3 in another process, reading `path`: what it printed, or its error.
fn read_from_another_process(path: &std::path::Path) -> Result<String, String> {
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import sqlite3, sys\n\
             c = sqlite3.connect(sys.argv[1], timeout=0)\n\
             print(c.execute('SELECT count(*) FROM projects').fetchone()[0])",
        ])
        .arg(path)
        .output()
        .expect("python3");
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// While Kiln has its database open, no other process reads or writes it (a second
/// `kiln serve` on the same data directory would run the same projects' pipelines twice);
/// once Kiln closes it, it is an ordinary SQLite file again.
#[tokio::test(flavor = "multi_thread")]
async fn the_database_is_kilns_alone_while_it_is_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kiln.db");
    let store = SqliteStore::open(&path).unwrap();
    let project =
        kiln::model::Project::new(kiln::model::Owner::local(), "Notes".into(), String::new());
    store.create_project(&project).await.unwrap();
    store.load_project(project.id).await.unwrap();
    let refused = read_from_another_process(&path).unwrap_err();
    assert!(refused.contains("database is locked"), "{refused}");
    drop(store);
    assert_eq!(read_from_another_process(&path).unwrap(), "1");
}

/// Kiln does not open a database another process has open: it says which file and why,
/// instead of sharing it.
#[test]
fn kiln_says_when_another_process_has_the_database() {
    use std::io::{BufRead, Write};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kiln.db");
    drop(SqliteStore::open(&path).unwrap());
    // Another process in a read of its own, until told to stop.
    let mut other = std::process::Command::new("python3")
        .args([
            "-c",
            "import sqlite3, sys\n\
             c = sqlite3.connect(sys.argv[1], isolation_level=None)\n\
             c.execute('BEGIN'); c.execute('SELECT count(*) FROM projects').fetchone()\n\
             print('reading', flush=True); sys.stdin.readline()",
        ])
        .arg(&path)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3");
    let mut line = String::new();
    std::io::BufReader::new(other.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "reading");
    let error = SqliteStore::open(&path).err().expect("refused").to_string();
    assert!(
        error.contains(&path.display().to_string()) && error.contains("open in another process"),
        "{error}"
    );
    writeln!(other.stdin.take().unwrap()).unwrap();
    assert!(other.wait().unwrap().success());
    // Once it is gone, Kiln opens the database.
    SqliteStore::open(&path).unwrap();
}

/// The SQLite Kiln links is built for many connections in one process (`.cargo/config.toml`):
/// a page cache per connection, not one behind a global mutex, and no memory statistics.
#[test]
fn sqlite_is_built_for_many_connections() {
    let dir = tempfile::tempdir().unwrap();
    let conn = rusqlite::Connection::open(dir.path().join("any.db")).unwrap();
    let options: Vec<String> = conn
        .prepare("PRAGMA compile_options")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(
        !options.iter().any(|o| o == "ENABLE_MEMORY_MANAGEMENT"),
        "{options:?}"
    );
    assert!(
        options.iter().any(|o| o == "DEFAULT_MEMSTATUS=0"),
        "{options:?}"
    );
}
