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
