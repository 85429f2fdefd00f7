//! Checks with real concurrent writers, for backends whose conditional writes are atomic where
//! the tests run: of writers holding one revision exactly one wins, and writers that lose a race
//! read again until every change lands.

use std::sync::Arc;

use super::{fresh_owner, new_project};
use crate::store::{ProjectStore, StoreError};

/// Runs the suite's tests of real concurrency, for a backend whose conditional writes are
/// atomic on the machine the tests run on (SQLite; not moto, which does not lock them — on
/// AWS, DynamoDB's conditional writes are atomic by its contract).
pub async fn run_concurrent(projects: Arc<dyn ProjectStore>) {
    concurrent_updates_conflict(projects.clone()).await;
    concurrent_creates_stop_at_the_limit(projects.clone()).await;
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

/// Creates racing for the last places under an owner's limit: exactly as many land as fit.
pub async fn concurrent_creates_stop_at_the_limit(store: Arc<dyn ProjectStore>) {
    let owner = fresh_owner();
    let mut tasks = Vec::new();
    for i in 0..8 {
        let store = store.clone();
        let p = crate::model::Project::new(owner.clone(), format!("p{i}"), String::new());
        tasks.push(tokio::spawn(async move {
            store.create_project_within(&p, 3).await
        }));
    }
    let mut created = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(()) => created += 1,
            Err(StoreError::LimitReached(3)) => {}
            Err(e) => panic!("unexpected error in a race: {e}"),
        }
    }
    assert_eq!(created, 3);
    assert_eq!(store.count_projects(&owner).await.unwrap(), 3);
}
