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

    // Another process holds the write lock past the store's busy timeout.
    let other = rusqlite::Connection::open(&path).unwrap();
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
