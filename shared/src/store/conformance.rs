//! The behaviour every `ProjectStore` and `ArtifactStore` backend must show.
//!
//! Written once over the traits; each backend's tests call these functions with a store of
//! their own (SQLite on disk, DynamoDB and S3 on moto). Every check uses fresh owners and
//! projects, so they can share one store and run concurrently. A failed check panics with a
//! message naming what went wrong.

use std::collections::HashSet;
use std::sync::Arc;

use uuid::Uuid;

use super::{ArtifactStore, PageRequest, ProjectStore, StoreError};
use crate::model::Intent;
use crate::model::{
    new_id, now, Deployment, DeploymentStatus, Environment, FileEntry, Message, Owner, Project,
    Run, RunStatus, Version,
};

/// Every check, in turn.
pub async fn run_all(projects: Arc<dyn ProjectStore>, artifacts: Arc<dyn ArtifactStore>) {
    project_lifecycle(projects.as_ref()).await;
    owners_are_isolated(projects.as_ref()).await;
    a_stale_revision_conflicts(projects.as_ref()).await;
    a_writer_that_lost_reads_again_and_both_changes_land(projects.clone()).await;
    a_taken_version_number_moves_the_build_to_the_next(projects.as_ref()).await;
    project_listing_pages(projects.as_ref()).await;
    messages_are_idempotent_and_ordered(projects.as_ref()).await;
    runs_are_tracked(projects.as_ref()).await;
    versions_are_immutable_and_listed(projects.as_ref()).await;
    deployments_are_recorded(projects.as_ref()).await;
    delete_removes_everything(projects.as_ref()).await;
    blobs_are_content_addressed(artifacts.as_ref()).await;
}

fn fresh_owner() -> Owner {
    Owner(format!("owner-{}", new_id()))
}

async fn new_project(store: &dyn ProjectStore, owner: &Owner, name: &str) -> Project {
    let p = Project::new(
        owner.clone(),
        name.to_owned(),
        format!("{name} description"),
    );
    store.create_project(&p).await.expect("create_project");
    p
}

/// Create, read, update with the right and a stale revision, delete.
pub async fn project_lifecycle(store: &dyn ProjectStore) {
    let owner = fresh_owner();
    let p = new_project(store, &owner, "Tasks \"quoted\" 🙂").await;
    let got = store.get_project(&owner, p.id).await.expect("get_project");
    assert_eq!(got, p, "a project reads back as written");

    let mut changed = got.clone();
    changed.description = "changed".into();
    let saved = store
        .update_project(&changed)
        .await
        .expect("update_project");
    assert_eq!(
        saved.revision,
        p.revision + 1,
        "an update increments the revision"
    );
    assert!(saved.updated_at >= p.updated_at);
    assert_eq!(store.get_project(&owner, p.id).await.unwrap(), saved);

    let stale = store.update_project(&changed).await;
    assert!(
        matches!(stale, Err(StoreError::Conflict(_))),
        "a stale revision is refused: {stale:?}"
    );

    let mut ghost = p.clone();
    ghost.id = new_id();
    assert!(matches!(
        store.update_project(&ghost).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.create_project(&p).await,
        Err(StoreError::Conflict(_))
    ));

    assert_eq!(store.count_projects(&owner).await.unwrap(), 1);
    store
        .delete_project(&owner, p.id)
        .await
        .expect("delete_project");
    assert!(matches!(
        store.get_project(&owner, p.id).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.delete_project(&owner, p.id).await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(store.count_projects(&owner).await.unwrap(), 0);
}

/// Another owner's project is not found, not listed, not deletable.
pub async fn owners_are_isolated(store: &dyn ProjectStore) {
    let (alice, bob) = (fresh_owner(), fresh_owner());
    let p = new_project(store, &alice, "alice's").await;
    assert!(matches!(
        store.get_project(&bob, p.id).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.delete_project(&bob, p.id).await,
        Err(StoreError::NotFound(_))
    ));
    let bobs = store
        .list_projects(&bob, &PageRequest::default())
        .await
        .unwrap();
    assert!(bobs.items.is_empty(), "bob sees none of alice's projects");
    assert!(
        store.get_project(&alice, p.id).await.is_ok(),
        "bob's delete did nothing"
    );
}

/// The conflict path, step by step: two writers read the same revision, the first saves,
/// the second is refused and changes nothing.
pub async fn a_stale_revision_conflicts(store: &dyn ProjectStore) {
    let owner = fresh_owner();
    let p = new_project(store, &owner, "stale").await;
    let (mut first, mut second) = (p.clone(), p.clone());
    first.description = "first".into();
    second.description = "second".into();
    let saved = store.update_project(&first).await.unwrap();
    assert_eq!(saved.revision, p.revision + 1);
    assert!(matches!(
        store.update_project(&second).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store.get_project(&owner, p.id).await.unwrap().description,
        "first"
    );
}

/// [`crate::store::modify_project`] when another writer saves between its read and its write:
/// its save conflicts, it reads again, re-applies its change, and both changes land. The other
/// writer runs to its end inside the first read (so the order is fixed, not raced). Needs a
/// multi-thread runtime.
pub async fn a_writer_that_lost_reads_again_and_both_changes_land(store: Arc<dyn ProjectStore>) {
    let owner = fresh_owner();
    let p = new_project(store.as_ref(), &owner, "interleaved").await;
    let mut calls = 0;
    let other = store.clone();
    let handle = tokio::runtime::Handle::current();
    let end = crate::store::modify_project(store.as_ref(), p.id, |project| {
        calls += 1;
        if calls == 1 {
            // Another writer reads the same revision and saves first.
            tokio::task::block_in_place(|| {
                handle.block_on(async {
                    let mut theirs = other.load_project(p.id).await.unwrap();
                    theirs.name = "renamed by the other writer".into();
                    other.update_project(&theirs).await.unwrap();
                })
            });
        }
        project.description = "mine".into();
        Ok::<_, StoreError>(true)
    })
    .await
    .expect("the second attempt lands");
    assert_eq!(calls, 2, "read again once after the conflict");
    assert_eq!(end.revision, p.revision + 2);
    let stored = store.get_project(&owner, p.id).await.unwrap();
    assert_eq!(stored.name, "renamed by the other writer");
    assert_eq!(stored.description, "mine");
}

/// Runs the suite's tests of real concurrency, for a backend whose conditional writes are
/// atomic on the machine the tests run on (SQLite; not moto, which does not lock them — on
/// AWS, DynamoDB's conditional writes are atomic by its contract).
pub async fn run_concurrent(projects: Arc<dyn ProjectStore>) {
    concurrent_updates_conflict(projects.clone()).await;
    writers_that_lose_a_race_read_again_and_all_land(projects).await;
}

/// Of many writers holding the same revision, exactly one wins.
pub async fn concurrent_updates_conflict(store: Arc<dyn ProjectStore>) {
    let owner = fresh_owner();
    let p = new_project(store.as_ref(), &owner, "race").await;
    let mut tasks = Vec::new();
    for i in 0..8 {
        let (store, mut mine) = (store.clone(), p.clone());
        mine.description = format!("writer {i}");
        tasks.push(tokio::spawn(
            async move { store.update_project(&mine).await },
        ));
    }
    let mut wins = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => wins += 1,
            Err(StoreError::Conflict(_)) => {}
            Err(e) => panic!("unexpected error in a race: {e}"),
        }
    }
    assert_eq!(
        wins, 1,
        "exactly one concurrent update with the same revision succeeds"
    );
    assert_eq!(
        store.get_project(&owner, p.id).await.unwrap().revision,
        p.revision + 1
    );
}

/// Writers that all read the same revision (held together until each has read) conflict on
/// saving; [`crate::store::modify_project`] reads again and re-applies each change, so none is
/// lost. Needs a multi-thread runtime: each writer waits for the others on its own thread.
pub async fn writers_that_lose_a_race_read_again_and_all_land(store: Arc<dyn ProjectStore>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    const WRITERS: usize = 3;
    let owner = fresh_owner();
    let p = new_project(store.as_ref(), &owner, "contended").await;
    let arrived = Arc::new(AtomicUsize::new(0));
    let applied = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for i in 0..WRITERS {
        let (store, arrived, applied) = (store.clone(), arrived.clone(), applied.clone());
        tasks.push(tokio::spawn(async move {
            let mut first = true;
            crate::store::modify_project(store.as_ref(), p.id, move |project| {
                applied.fetch_add(1, Ordering::SeqCst);
                if std::mem::take(&mut first) {
                    // Hold until every writer has read the same revision.
                    arrived.fetch_add(1, Ordering::SeqCst);
                    tokio::task::block_in_place(|| {
                        let deadline =
                            std::time::Instant::now() + std::time::Duration::from_secs(30);
                        while arrived.load(Ordering::SeqCst) < WRITERS {
                            assert!(
                                std::time::Instant::now() < deadline,
                                "the writers never met"
                            );
                            std::thread::sleep(std::time::Duration::from_millis(2));
                        }
                    });
                }
                project.description.push_str(&format!(" +{i}"));
                Ok::<_, StoreError>(true)
            })
            .await
        }));
    }
    for t in tasks {
        t.await.unwrap().expect("every writer lands");
    }
    let end = store.get_project(&owner, p.id).await.unwrap();
    for i in 0..WRITERS {
        assert_eq!(
            end.description.matches(&format!(" +{i}")).count(),
            1,
            "writer {i} landed once: {:?}",
            end.description
        );
    }
    assert_eq!(end.revision, p.revision + WRITERS as u64);
    // All read revision 0 and one won: the other two conflicted, then one of them again.
    assert!(
        applied.load(Ordering::SeqCst) >= 2 * WRITERS - 1,
        "the losers read again: {} changes applied",
        applied.load(Ordering::SeqCst)
    );
}

/// A build whose version number another build took first stores the next free one and leaves
/// the others as they were.
pub async fn a_taken_version_number_moves_the_build_to_the_next(store: &dyn ProjectStore) {
    let owner = fresh_owner();
    let p = new_project(store, &owner, "racing builds").await;
    let version = |number: u32, text: &str| Version {
        project_id: p.id,
        number,
        message_id: None,
        spec: None,
        manifest: vec![FileEntry {
            path: "app/main.py".into(),
            sha256: crate::model::sha256_hex(text.as_bytes()),
            size: text.len() as u64,
        }],
        created_at: now(),
    };
    for n in 1..=2 {
        store.create_version(&version(n, "taken")).await.unwrap();
    }
    let stored = crate::store::create_next_version(store, version(1, "mine"))
        .await
        .unwrap();
    assert_eq!(stored.number, 3);
    assert_eq!(store.get_version(p.id, 3).await.unwrap(), stored);
    for n in 1..=2 {
        assert_eq!(
            store.get_version(p.id, n).await.unwrap().manifest,
            version(n, "taken").manifest,
            "version {n} is untouched"
        );
    }
}

/// Lists page by cursor, most recently updated first, without gaps or repeats.
pub async fn project_listing_pages(store: &dyn ProjectStore) {
    let owner = fresh_owner();
    let mut made = Vec::new();
    for i in 0..7 {
        made.push(new_project(store, &owner, &format!("p{i}")).await.id);
    }
    // Touch the first: it moves to the front.
    let first = store.get_project(&owner, made[0]).await.unwrap();
    store.update_project(&first).await.unwrap();

    let mut seen = Vec::new();
    let mut cursor = None;
    let mut pages = 0;
    loop {
        let page = store
            .list_projects(
                &owner,
                &PageRequest {
                    limit: Some(3),
                    cursor: cursor.clone(),
                },
            )
            .await
            .expect("list_projects");
        assert!(page.items.len() <= 3);
        seen.extend(page.items.iter().map(|s| (s.id, s.updated_at)));
        pages += 1;
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
        assert!(pages < 10, "paging does not end");
    }
    assert_eq!(seen.len(), 7, "every project listed once");
    assert_eq!(seen.iter().map(|s| s.0).collect::<HashSet<_>>().len(), 7);
    assert_eq!(seen[0].0, made[0], "the most recently updated comes first");
    assert!(seen.windows(2).all(|w| w[0].1 >= w[1].1), "newest first");
    let bad = store
        .list_projects(
            &owner,
            &PageRequest {
                limit: None,
                cursor: Some("not a cursor!".into()),
            },
        )
        .await;
    assert!(matches!(bad, Err(StoreError::BadCursor)), "{bad:?}");
}

/// A user message is stored with its run once per client id; the conversation keeps order.
pub async fn messages_are_idempotent_and_ordered(store: &dyn ProjectStore) {
    let owner = fresh_owner();
    let p = new_project(store, &owner, "chat").await;

    let mut first = Message::from_user(
        p.id,
        "Build a REST API for tasks".into(),
        Some("c-1".into()),
    );
    let run = Run::queued(p.id, first.id, Intent::Create);
    first.run_id = Some(run.id);
    let posted = store
        .post_user_message(&first, &run)
        .await
        .expect("post_user_message");
    assert!(posted.created);

    // The client retries with the same client_id but new server-side ids.
    let mut retry = Message::from_user(
        p.id,
        "Build a REST API for tasks".into(),
        Some("c-1".into()),
    );
    let retry_run = Run::queued(p.id, retry.id, Intent::Create);
    retry.run_id = Some(retry_run.id);
    let again = store.post_user_message(&retry, &retry_run).await.unwrap();
    assert!(!again.created, "a repeated client_id writes nothing");
    assert_eq!(again.message.id, first.id);
    assert_eq!(again.run.id, run.id);
    assert!(matches!(
        store.get_run(p.id, retry_run.id).await,
        Err(StoreError::NotFound(_))
    ));

    for i in 0..9 {
        let m = Message::from_agent(
            p.id,
            crate::model::Agent::Architect,
            run.id,
            format!("reply {i}"),
        );
        store.append_message(&m).await.expect("append_message");
    }
    let mut contents = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .list_messages(
                p.id,
                &PageRequest {
                    limit: Some(4),
                    cursor,
                },
            )
            .await
            .unwrap();
        contents.extend(page.items.into_iter().map(|m| m.content));
        cursor = page.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    let mut want = vec!["Build a REST API for tasks".to_owned()];
    want.extend((0..9).map(|i| format!("reply {i}")));
    assert_eq!(
        contents, want,
        "the conversation reads back oldest first, once each"
    );

    assert_eq!(store.get_message(p.id, first.id).await.unwrap(), first);
    assert!(matches!(
        store.get_message(new_id(), first.id).await,
        Err(StoreError::NotFound(_))
    ));

    let orphan = Message::from_user(new_id(), "x".into(), None);
    let orphan_run = Run::queued(orphan.project_id, orphan.id, Intent::Question);
    assert!(matches!(
        store.post_user_message(&orphan, &orphan_run).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.append_message(&orphan).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(store
        .list_messages(new_id(), &PageRequest::default())
        .await
        .unwrap()
        .items
        .is_empty());
}

/// Runs read back, update, and are listed while unfinished.
pub async fn runs_are_tracked(store: &dyn ProjectStore) {
    let owner = fresh_owner();
    let p = new_project(store, &owner, "runs").await;
    let mut m = Message::from_user(p.id, "build it".into(), None);
    let mut run = Run::queued(p.id, m.id, Intent::Build);
    m.run_id = Some(run.id);
    store.post_user_message(&m, &run).await.unwrap();
    assert_eq!(store.get_run(p.id, run.id).await.unwrap(), run);
    assert!(matches!(
        store.get_run(new_id(), run.id).await,
        Err(StoreError::NotFound(_))
    ));
    let unfinished: Vec<Uuid> = store
        .unfinished_runs()
        .await
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    assert!(unfinished.contains(&run.id), "a queued run is unfinished");

    run.status = RunStatus::Succeeded;
    run.updated_at = now();
    store.update_run(&run).await.expect("update_run");
    assert_eq!(store.get_run(p.id, run.id).await.unwrap(), run);
    let unfinished: Vec<Uuid> = store
        .unfinished_runs()
        .await
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    assert!(
        !unfinished.contains(&run.id),
        "a finished run is not unfinished"
    );

    let ghost = Run::queued(p.id, m.id, Intent::Build);
    assert!(matches!(
        store.update_run(&ghost).await,
        Err(StoreError::NotFound(_))
    ));
}

/// Version numbers are unique; versions list newest first.
pub async fn versions_are_immutable_and_listed(store: &dyn ProjectStore) {
    let owner = fresh_owner();
    let p = new_project(store, &owner, "versions").await;
    for n in 1..=5 {
        let v = Version {
            project_id: p.id,
            number: n,
            message_id: None,
            spec: None,
            manifest: vec![FileEntry {
                path: "app/main.py".into(),
                sha256: crate::model::sha256_hex(format!("v{n}").as_bytes()),
                size: 2,
            }],
            created_at: now(),
        };
        store.create_version(&v).await.expect("create_version");
    }
    let dup = Version {
        project_id: p.id,
        number: 3,
        message_id: None,
        manifest: vec![],
        spec: None,
        created_at: now(),
    };
    assert!(matches!(
        store.create_version(&dup).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store.get_version(p.id, 3).await.unwrap().manifest.len(),
        1,
        "unchanged"
    );
    assert!(matches!(
        store.get_version(p.id, 9).await,
        Err(StoreError::NotFound(_))
    ));

    let page1 = store
        .list_versions(p.id, &PageRequest::first(2))
        .await
        .unwrap();
    let numbers: Vec<u32> = page1.items.iter().map(|v| v.number).collect();
    assert_eq!(numbers, [5, 4]);
    let mut all = numbers;
    let mut cursor = page1.next_cursor;
    while let Some(c) = cursor {
        let page = store
            .list_versions(
                p.id,
                &PageRequest {
                    limit: Some(2),
                    cursor: Some(c),
                },
            )
            .await
            .unwrap();
        all.extend(page.items.iter().map(|v| v.number));
        cursor = page.next_cursor;
    }
    assert_eq!(all, [5, 4, 3, 2, 1]);
}

/// Deployments are created, replaced by id, listed newest first.
pub async fn deployments_are_recorded(store: &dyn ProjectStore) {
    let owner = fresh_owner();
    let p = new_project(store, &owner, "deploys").await;
    let mut d = Deployment {
        id: new_id(),
        project_id: p.id,
        environment: Environment::Dev,
        version: 1,
        status: DeploymentStatus::Pending,
        url: None,
        resources: Default::default(),
        logs: String::new(),
        created_at: now(),
    };
    store.put_deployment(&d).await.expect("put_deployment");
    d.status = DeploymentStatus::Running;
    d.url = Some("http://127.0.0.1:9/".into());
    store.put_deployment(&d).await.unwrap();
    let mut later = d.clone();
    later.id = new_id();
    later.environment = Environment::Staging;
    store.put_deployment(&later).await.unwrap();
    let live: Vec<Uuid> = store
        .live_deployments()
        .await
        .unwrap()
        .iter()
        .map(|d| d.id)
        .collect();
    assert!(
        live.contains(&d.id) && live.contains(&later.id),
        "running deployments are live"
    );
    let list = store.list_deployments(p.id).await.unwrap();
    assert_eq!(list.len(), 2, "a put with the same id replaces");
    assert_eq!(list[0].id, later.id, "newest first");
    assert_eq!(list[1], d);
}

/// Deleting a project removes its conversation, runs, versions and deployments.
pub async fn delete_removes_everything(store: &dyn ProjectStore) {
    let owner = fresh_owner();
    let p = new_project(store, &owner, "doomed").await;
    let mut m = Message::from_user(p.id, "hello".into(), Some("k".into()));
    let run = Run::queued(p.id, m.id, Intent::Question);
    m.run_id = Some(run.id);
    store.post_user_message(&m, &run).await.unwrap();
    store
        .create_version(&Version {
            project_id: p.id,
            number: 1,
            message_id: Some(m.id),
            manifest: vec![],
            spec: None,
            created_at: now(),
        })
        .await
        .unwrap();
    store
        .put_deployment(&Deployment {
            id: new_id(),
            project_id: p.id,
            environment: Environment::Dev,
            version: 1,
            status: DeploymentStatus::Running,
            url: Some("http://127.0.0.1:9/".into()),
            resources: Default::default(),
            logs: String::new(),
            created_at: now(),
        })
        .await
        .unwrap();
    assert_eq!(store.list_deployments(p.id).await.unwrap().len(), 1);
    store.delete_project(&owner, p.id).await.unwrap();
    assert!(store
        .list_messages(p.id, &PageRequest::default())
        .await
        .unwrap()
        .items
        .is_empty());
    assert!(matches!(
        store.get_run(p.id, run.id).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.get_version(p.id, 1).await,
        Err(StoreError::NotFound(_))
    ));
    assert!(store.list_deployments(p.id).await.unwrap().is_empty());
    assert!(!store
        .unfinished_runs()
        .await
        .unwrap()
        .iter()
        .any(|r| r.id == run.id));
}

/// Storing the same bytes again keeps one copy: `stored` counts the copies the backend holds.
pub async fn blobs_are_stored_once<F, Fut>(store: &dyn ArtifactStore, stored: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = usize>,
{
    let before = stored().await;
    let bytes = format!("stored once {}", new_id()).into_bytes();
    let sha = store.put_blob(&bytes).await.unwrap();
    assert_eq!(stored().await, before + 1, "a new content is one copy");
    for _ in 0..3 {
        assert_eq!(store.put_blob(&bytes).await.unwrap(), sha);
    }
    assert_eq!(
        stored().await,
        before + 1,
        "the same content is not stored again"
    );
    store.put_blob(b"other content").await.unwrap();
    assert_eq!(stored().await, before + 2);
}

/// Blobs are stored once per content and refused for malformed hashes.
pub async fn blobs_are_content_addressed(store: &dyn ArtifactStore) {
    let bytes: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    let sha = store.put_blob(&bytes).await.expect("put_blob");
    assert_eq!(sha, crate::model::sha256_hex(&bytes));
    assert_eq!(store.put_blob(&bytes).await.unwrap(), sha, "idempotent");
    assert_eq!(store.get_blob(&sha).await.unwrap(), bytes);
    assert!(store.has_blob(&sha).await.unwrap());
    let empty = store.put_blob(b"").await.unwrap();
    assert!(store.get_blob(&empty).await.unwrap().is_empty());
    let missing = crate::model::sha256_hex(new_id().as_bytes());
    assert!(!store.has_blob(&missing).await.unwrap());
    assert!(matches!(
        store.get_blob(&missing).await,
        Err(StoreError::NotFound(_))
    ));
    for hostile in [
        "../../etc/passwd",
        "",
        "/etc/passwd",
        "aa\0bb",
        &"g".repeat(64),
    ] {
        assert!(
            matches!(store.get_blob(hostile).await, Err(StoreError::NotFound(_))),
            "{hostile:?}"
        );
        assert!(!store.has_blob(hostile).await.unwrap());
    }
}
