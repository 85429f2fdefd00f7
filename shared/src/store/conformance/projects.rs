//! Checks of projects: their lifecycle, owners kept apart, revisions that conflict and a writer
//! that lost reading again, listing by pages, searching by name, and a delete that removes
//! everything.

use std::collections::HashSet;
use std::sync::Arc;

use super::{fresh_owner, new_project};
use crate::model::{
    new_id, now, Deployment, DeploymentStatus, Environment, Intent, Message, Run, Version,
};
use crate::store::{PageRequest, ProjectStore, StoreError};

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
        store.check_owner(&owner, p.id).await,
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
    assert!(
        store.check_owner(&alice, p.id).await.is_ok(),
        "alice owns her project"
    );
    for (who, id) in [(&bob, p.id), (&alice, new_id())] {
        let checked = store.check_owner(who, id).await;
        assert!(
            matches!(checked, Err(StoreError::NotFound("project"))),
            "another owner's project and no project are both not found: {checked:?}"
        );
    }
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

/// A change and its message land together or not at all: saved with the right revision, both
/// are there; with a stale revision, neither (the message is not left without its change); for
/// a project that does not exist, not found.
pub async fn a_change_and_its_message_land_together(store: &dyn ProjectStore) {
    let owner = fresh_owner();
    let p = new_project(store, &owner, "together").await;
    let run = new_id();
    let said = |text: &str, key: &str| {
        let mut m =
            Message::from_agent(p.id, crate::model::Agent::DevopsEngineer, run, text.into());
        m.client_id = Some(format!("{run}/{key}"));
        m
    };
    let mut changed = p.clone();
    changed.current_version = Some(1);
    let first = said("now version 1", "Rollback/done");
    let saved = store
        .update_project_and_append(&changed, &first)
        .await
        .expect("update_project_and_append");
    assert_eq!(saved.revision, p.revision + 1);
    assert_eq!(saved.current_version, Some(1));
    assert_eq!(store.get_project(&owner, p.id).await.unwrap(), saved);
    assert_eq!(store.get_message(p.id, first.id).await.unwrap(), first);

    let mut stale = p.clone();
    stale.current_version = Some(7);
    let lost = said("now version 7", "Other/said");
    assert!(matches!(
        store.update_project_and_append(&stale, &lost).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store
            .get_project(&owner, p.id)
            .await
            .unwrap()
            .current_version,
        Some(1),
        "a refused change is not saved"
    );
    assert!(
        matches!(
            store.get_message(p.id, lost.id).await,
            Err(StoreError::NotFound(_))
        ),
        "a refused change's message is not written"
    );
    // With the refused key free again, the same message lands with a fresh change.
    let mut fresh = saved.clone();
    fresh.current_version = Some(2);
    store
        .update_project_and_append(&fresh, &lost)
        .await
        .unwrap();
    assert_eq!(store.get_message(p.id, lost.id).await.unwrap(), lost);

    let mut ghost = p.clone();
    ghost.id = new_id();
    let mut nowhere = said("nowhere", "Ghost/said");
    nowhere.project_id = ghost.id;
    assert!(matches!(
        store.update_project_and_append(&ghost, &nowhere).await,
        Err(StoreError::NotFound(_))
    ));
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

/// Lists page by cursor, most recently updated first, without gaps or repeats.
pub async fn project_listing_pages(store: &dyn ProjectStore) {
    let owner = fresh_owner();
    let mut made = Vec::new();
    for i in 0..7 {
        made.push(new_project(store, &owner, &format!("p{i}")).await.id);
    }
    // Change the first: it moves to the front.
    let mut first = store.get_project(&owner, made[0]).await.unwrap();
    first.status = crate::model::ProjectStatus::Built;
    first.name = "p0, renamed".into();
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

    // As JSON: the same pages, each summary as it is written now.
    let first_page = PageRequest {
        limit: Some(3),
        cursor: None,
    };
    let typed = store.list_projects(&owner, &first_page).await.unwrap();
    let json = store.list_projects_json(&owner, &first_page).await.unwrap();
    // A cursor is opaque (DynamoDB's holds a key whose attributes come in any order): both
    // say a page follows.
    assert_eq!(json.next_cursor.is_some(), typed.next_cursor.is_some());
    let as_values = |items: &[crate::store::SummaryJson]| -> Vec<serde_json::Value> {
        items
            .iter()
            .map(|raw| serde_json::from_str(raw.get()).unwrap())
            .collect()
    };
    let items = as_values(&json.items);
    assert_eq!(
        items,
        typed
            .items
            .iter()
            .map(|s| serde_json::to_value(s).unwrap())
            .collect::<Vec<_>>()
    );
    assert_eq!(
        (&items[0]["name"], &items[0]["status"]),
        (
            &serde_json::json!("p0, renamed"),
            &serde_json::json!("built")
        ),
        "the change, not the summary as created"
    );
    let found = store
        .search_projects_json(&owner, "RENAMED", &PageRequest::default())
        .await
        .unwrap();
    assert_eq!(as_values(&found.items), items[..1].to_vec());
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
            renames: Vec::new(),
            created_at: now(),
            author: crate::model::Author::Kiln,
            note: None,
            generated: None,
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
            review_override: None,
            monthly_usd: None,
            confirmed_by: None,
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

/// An owner's projects are capped by a count written with each create and delete: past the
/// limit nothing is written and the answer says how many there are; a delete makes room; a
/// create without a limit counts too.
pub async fn the_project_limit_is_counted_with_each_create(store: &dyn ProjectStore) {
    let owner = fresh_owner();
    let make =
        |name: &str| crate::model::Project::new(owner.clone(), name.to_owned(), String::new());
    let first = make("one");
    store.create_project_within(&first, 2).await.unwrap();
    store.create_project_within(&make("two"), 2).await.unwrap();
    let third = make("three");
    assert!(matches!(
        store.create_project_within(&third, 2).await,
        Err(StoreError::LimitReached(2))
    ));
    assert!(matches!(
        store.load_project(third.id).await,
        Err(StoreError::NotFound(_))
    ));
    store.delete_project(&owner, first.id).await.unwrap();
    store.create_project_within(&third, 2).await.unwrap();
    store.create_project(&make("four")).await.unwrap();
    assert!(matches!(
        store.create_project_within(&make("five"), 3).await,
        Err(StoreError::LimitReached(3))
    ));
    assert_eq!(store.count_projects(&owner).await.unwrap(), 3);
    // Another owner's limit is their own.
    store
        .create_project_within(
            &crate::model::Project::new(fresh_owner(), "x".into(), String::new()),
            1,
        )
        .await
        .unwrap();
}

/// A search finds the owner's projects whose name holds the text, ignoring case (beyond ASCII
/// too), newest first and paged like the list, over pages whose matches lie far apart (past
/// a hundred projects that do not match); what is searched for is only text; and another
/// owner's projects are never found.
pub async fn projects_are_searched_by_name(store: &dyn ProjectStore) {
    let (owner, other) = (fresh_owner(), fresh_owner());
    let matching = [0, 7, 60, 119];
    for i in 0..120 {
        let name = if matching.contains(&i) {
            format!("Ünïcode INVENTORY {i}")
        } else {
            format!("Tasks {i}")
        };
        new_project(store, &owner, &name).await;
    }
    new_project(store, &other, "ünïcode inventory of someone else").await;
    let odd = new_project(
        store,
        &owner,
        "100% _done_ 'quoted' \"x\" [a-z]* \\ ünïcode",
    )
    .await;

    let search = |text: &'static str, limit: u32, cursor: Option<String>| {
        let owner = owner.clone();
        async move {
            store
                .search_projects(
                    &owner,
                    text,
                    &PageRequest {
                        limit: Some(limit),
                        cursor,
                    },
                )
                .await
        }
    };
    // Every page of a search, as the names in the order found.
    let walk = |text: &'static str, limit: u32| async move {
        let (mut names, mut cursor, mut pages) = (Vec::new(), None, 0);
        loop {
            let page = search(text, limit, cursor).await.expect("search_projects");
            assert!(
                page.items.len() <= limit as usize,
                "{text}: a page too long"
            );
            names.extend(page.items.into_iter().map(|s| s.name));
            pages += 1;
            assert!(pages < 200, "{text}: paging does not end");
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => return (names, pages),
            }
        }
    };
    let inventory: Vec<String> = [119, 60, 7, 0]
        .iter()
        .map(|i| format!("Ünïcode INVENTORY {i}"))
        .collect();
    assert_eq!(
        walk("inventory", 1).await,
        (inventory.clone(), 4),
        "one match a page, newest first"
    );
    assert_eq!(walk("ÜNÏCODE inv", 3).await, (inventory.clone(), 2));
    assert_eq!(
        walk("inventory", 4).await,
        (inventory, 1),
        "exactly a page's worth: no cursor to an empty page"
    );
    // Both owners have a match; each finds only their own.
    assert_eq!(walk("ünïcode", 50).await.0.len(), 5);
    let theirs = store
        .search_projects(&other, "INVENTORY", &PageRequest::default())
        .await
        .unwrap();
    assert_eq!(theirs.items.len(), 1);
    assert_eq!(theirs.items[0].name, "ünïcode inventory of someone else");

    // Wildcards, quotes, brackets and escapes are only characters of a name.
    for text in ["%", "_", "_done_", "'", "\"", "[a-z]*", "\\", "100% _"] {
        let (names, _) = walk(text, 50).await;
        assert_eq!(
            names,
            std::slice::from_ref(&odd.name),
            "{text:?} is only text"
        );
    }
    for text in ["' OR '1'='1", "%%", "\u{0}", "inventory'--", "^.*$"] {
        assert!(
            walk(text, 50).await.0.is_empty(),
            "{text:?} matches no name"
        );
    }
    // An empty text is in every name.
    assert_eq!(walk("", 200).await.0.len(), 121);
    let bad = search("inventory", 5, Some("not a cursor!".into())).await;
    assert!(matches!(bad, Err(StoreError::BadCursor)), "{bad:?}");
}
