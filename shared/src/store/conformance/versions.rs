//! Checks of what a build and a deploy leave: versions, unique per number and listed newest
//! first (a taken number moving a build to the next), and deployments.

use uuid::Uuid;

use super::{fresh_owner, new_project};
use crate::model::{new_id, now, Deployment, DeploymentStatus, Environment, FileEntry, Version};
use crate::store::{PageRequest, ProjectStore, StoreError};

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
        // Read back as written: the names a version changed move its data.
        renames: vec![crate::spec::Renamed::Field {
            resource: "task".into(),
            from: "title".into(),
            to: format!("title_{number}"),
        }],
        manifest: vec![FileEntry {
            path: "app/main.py".into(),
            sha256: crate::model::sha256_hex(text.as_bytes()),
            size: text.len() as u64,
        }],
        created_at: now(),
        author: crate::model::Author::Kiln,
        note: None,
        generated: None,
    };
    for n in 1..=2 {
        store.create_version(&version(n, "taken")).await.unwrap();
    }
    // Read back as written: who made it, what they said, and what Kiln generated beside the
    // user's files (the base of the next merge).
    let mine = Version {
        author: crate::model::Author::User,
        note: Some("my own route".into()),
        generated: Some(version(1, "generated").manifest),
        ..version(1, "mine")
    };
    let stored = crate::store::create_next_version(store, mine)
        .await
        .unwrap();
    assert_eq!(stored.author, crate::model::Author::User);
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
            renames: Vec::new(),
            manifest: vec![FileEntry {
                path: "app/main.py".into(),
                sha256: crate::model::sha256_hex(format!("v{n}").as_bytes()),
                size: 2,
            }],
            created_at: now(),
            author: crate::model::Author::Kiln,
            note: None,
            generated: None,
        };
        store.create_version(&v).await.expect("create_version");
    }
    let dup = Version {
        project_id: p.id,
        number: 3,
        message_id: None,
        manifest: vec![],
        spec: None,
        renames: Vec::new(),
        created_at: now(),
        author: crate::model::Author::Kiln,
        note: None,
        generated: None,
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
        review_override: None,
        monthly_usd: None,
        confirmed_by: None,
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
