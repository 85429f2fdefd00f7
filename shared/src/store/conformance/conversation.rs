//! Checks of a project's conversation: user messages stored once per client id with their run,
//! read back in order from either end, and runs that update and are listed while unfinished.

use uuid::Uuid;

use super::{fresh_owner, new_project};
use crate::model::{new_id, now, Intent, Message, Run, RunStatus};
use crate::store::{PageRequest, ProjectStore, StoreError};

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
        assert!(store.append_message(&m).await.expect("append_message"));
    }
    // A reply under a key (a step's `{run}/{step}/{what}`) is written once: a repeat with a
    // new id and new words writes nothing and says so, and the first words stay.
    let mut keyed = Message::from_agent(
        p.id,
        crate::model::Agent::QaEngineer,
        run.id,
        "first".into(),
    );
    keyed.client_id = Some(format!("{}/QaReport/report", run.id));
    assert!(
        store.append_message(&keyed).await.unwrap(),
        "a new key is written"
    );
    let mut again = Message::from_agent(
        p.id,
        crate::model::Agent::QaEngineer,
        run.id,
        "second".into(),
    );
    again.client_id = keyed.client_id.clone();
    assert!(
        !store.append_message(&again).await.unwrap(),
        "a taken key is not written"
    );
    assert_eq!(
        store.get_message(p.id, keyed.id).await.unwrap().content,
        "first"
    );
    assert!(matches!(
        store.get_message(p.id, again.id).await,
        Err(StoreError::NotFound(_))
    ));
    // The same message id twice is a conflict, key or not.
    let mut same_id = keyed.clone();
    same_id.client_id = Some("another key".into());
    assert!(matches!(
        store.append_message(&same_id).await,
        Err(StoreError::Conflict(_))
    ));
    // A user's client_id that names a reply is refused, not answered with the reply.
    let mut clash = Message::from_user(p.id, "hello".into(), keyed.client_id.clone());
    let clash_run = Run::queued(p.id, clash.id, Intent::Question);
    clash.run_id = Some(clash_run.id);
    assert!(matches!(
        store.post_user_message(&clash, &clash_run).await,
        Err(StoreError::Conflict(_))
    ));
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
    want.push("first".into());
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
    assert!(matches!(
        store.update_run_from(&ghost, RunStatus::Queued).await,
        Err(StoreError::NotFound(_))
    ));

    // A conditional replace lands only over the status it expects: the API marking a run it
    // could not start never overwrites what a step wrote meanwhile.
    let mut m2 = Message::from_user(p.id, "deploy it".into(), None);
    let queued = Run::queued(p.id, m2.id, Intent::Deploy);
    m2.run_id = Some(queued.id);
    store.post_user_message(&m2, &queued).await.unwrap();
    let mut stepped = queued.clone();
    stepped.status = RunStatus::Running;
    assert!(store
        .update_run_from(&stepped, RunStatus::Queued)
        .await
        .unwrap());
    let mut failed = queued.clone();
    failed.status = RunStatus::Failed;
    assert!(
        !store
            .update_run_from(&failed, RunStatus::Queued)
            .await
            .unwrap(),
        "the run is no longer queued"
    );
    assert_eq!(store.get_run(p.id, queued.id).await.unwrap(), stepped);
    assert!(store
        .update_run_from(&failed, RunStatus::Running)
        .await
        .unwrap());
    assert_eq!(
        store.get_run(p.id, queued.id).await.unwrap().status,
        RunStatus::Failed
    );
}

/// What a client following the conversation reads: the messages whose ids were made at or
/// after a time, in the conversation's order, a message made earlier but written later
/// included, and nothing of another project.
pub async fn messages_made_since_a_time_are_found(store: &dyn ProjectStore) {
    use time::Duration;
    let owner = fresh_owner();
    let p = new_project(store, &owner, "following").await;
    let other = new_project(store, &owner, "elsewhere").await;
    let run = new_id();
    let say = |project: Uuid, text: &str| {
        Message::from_agent(project, crate::model::Agent::Architect, run, text.into())
    };
    let old = say(p.id, "before");
    store.append_message(&old).await.unwrap();
    // The clock moves on past the id of `old` (ids carry milliseconds).
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let since = now();
    let made_early = say(p.id, "made first, written last");
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let second = say(p.id, "second");
    store.append_message(&second).await.unwrap();
    store
        .append_message(&say(other.id, "another project"))
        .await
        .unwrap();
    store.append_message(&made_early).await.unwrap();

    let texts = |ms: Vec<Message>| ms.into_iter().map(|m| m.content).collect::<Vec<_>>();
    let found = texts(store.messages_made_since(p.id, since, 50).await.unwrap());
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(
        found.contains(&"made first, written last".to_owned()),
        "{found:?}"
    );
    assert!(found.contains(&"second".to_owned()), "{found:?}");
    // In the order the conversation lists them.
    let listed: Vec<String> = texts(
        store
            .list_messages(p.id, &PageRequest::first(50))
            .await
            .unwrap()
            .items,
    )
    .into_iter()
    .filter(|t| found.contains(t))
    .collect();
    assert_eq!(found, listed);
    assert_eq!(
        texts(
            store
                .messages_made_since(p.id, since - Duration::minutes(1), 50)
                .await
                .unwrap()
        )
        .len(),
        3
    );
    assert!(store
        .messages_made_since(p.id, now() + Duration::seconds(1), 50)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        store
            .messages_made_since(p.id, since - Duration::minutes(1), 1)
            .await
            .unwrap()
            .len(),
        1,
        "at most the limit"
    );
}

/// The conversation read from its end, as a page opens it: the newest messages oldest first,
/// then each page before them until its first message, together the conversation as it
/// reads forwards; a cursor of the list read forwards, or anything else, is refused.
pub async fn the_conversation_is_read_from_its_end(store: &dyn ProjectStore) {
    let owner = fresh_owner();
    let p = new_project(store, &owner, "a long chat").await;
    let back = |cursor: Option<String>, limit: u32| PageRequest {
        limit: Some(limit),
        cursor,
    };
    let empty = store
        .list_messages_backwards(p.id, &back(None, 5))
        .await
        .expect("list_messages_backwards");
    assert!(empty.items.is_empty(), "{:?}", empty.items);
    assert_eq!(empty.next_cursor, None, "no page before an empty one");

    let run = new_id();
    let mut said = Vec::new();
    for i in 0..11 {
        let m = Message::from_agent(p.id, crate::model::Agent::Architect, run, format!("m{i}"));
        store.append_message(&m).await.unwrap();
        said.push(m.content);
    }
    let elsewhere = new_project(store, &owner, "another chat").await;
    let noise = Message::from_agent(
        elsewhere.id,
        crate::model::Agent::Architect,
        run,
        "x".into(),
    );
    store.append_message(&noise).await.unwrap();

    let texts = |page: &crate::store::Page<Message>| {
        page.items
            .iter()
            .map(|m| m.content.clone())
            .collect::<Vec<_>>()
    };
    let newest = store
        .list_messages_backwards(p.id, &back(None, 4))
        .await
        .unwrap();
    assert_eq!(
        texts(&newest),
        ["m7", "m8", "m9", "m10"],
        "the newest, oldest first"
    );
    let mut pages = vec![texts(&newest)];
    let mut cursor = newest.next_cursor.clone();
    while let Some(c) = cursor {
        let page = store
            .list_messages_backwards(p.id, &back(Some(c), 4))
            .await
            .unwrap();
        pages.push(texts(&page));
        cursor = page.next_cursor;
        assert!(pages.len() < 10, "paging back does not end");
    }
    assert_eq!(
        pages,
        [
            vec!["m7", "m8", "m9", "m10"],
            vec!["m3", "m4", "m5", "m6"],
            vec!["m0", "m1", "m2"],
        ],
        "each page the one before, until the first message"
    );
    // Joined, the pages are the conversation as it reads forwards.
    let forwards = store
        .list_messages(p.id, &PageRequest::first(50))
        .await
        .unwrap();
    let joined: Vec<String> = pages.into_iter().rev().flatten().collect();
    assert_eq!(joined, texts(&forwards));
    assert_eq!(joined, said);
    // Exactly the whole conversation: no cursor to an empty page.
    let all = store
        .list_messages_backwards(p.id, &back(None, 11))
        .await
        .unwrap();
    assert_eq!(texts(&all), said);
    assert_eq!(all.next_cursor, None);

    // As JSON, each page holds the same messages with the same cursors.
    for (cursor, limit) in [(None, 4), (newest.next_cursor.clone(), 4), (None, 11)] {
        let request = back(cursor, limit);
        let typed = store.list_messages_backwards(p.id, &request).await.unwrap();
        let json = store
            .list_messages_backwards_json(p.id, &request)
            .await
            .unwrap();
        assert_eq!(as_messages(&json.items), typed.items);
        assert_eq!(json.next_cursor, typed.next_cursor);
    }
    let mut cursor = None;
    loop {
        let request = PageRequest {
            limit: Some(3),
            cursor,
        };
        let typed = store.list_messages(p.id, &request).await.unwrap();
        let json = store.list_messages_json(p.id, &request).await.unwrap();
        assert_eq!(as_messages(&json.items), typed.items);
        assert_eq!(json.next_cursor, typed.next_cursor);
        cursor = typed.next_cursor;
        if cursor.is_none() {
            break;
        }
    }

    // Each list takes only its own cursors.
    let forward_cursor = store
        .list_messages(p.id, &PageRequest::first(2))
        .await
        .unwrap()
        .next_cursor
        .expect("a next page");
    let backward_cursor = newest.next_cursor.expect("a page before");
    let not_a_position = crate::store::encode_back_cursor("MSG#not-an-id");
    for bad in [forward_cursor, "not a cursor!".into(), not_a_position] {
        let read = store
            .list_messages_backwards(p.id, &back(Some(bad.clone()), 4))
            .await;
        assert!(
            matches!(read, Err(StoreError::BadCursor)),
            "{bad}: {read:?}"
        );
    }
    let read = store
        .list_messages(p.id, &back(Some(backward_cursor), 4))
        .await;
    assert!(matches!(read, Err(StoreError::BadCursor)), "{read:?}");
}

/// Messages read back from the JSON a store handed out.
fn as_messages(json: &[crate::store::MessageJson]) -> Vec<Message> {
    json.iter()
        .map(|m| serde_json::from_str(m.get()).expect("a message's JSON"))
        .collect()
}

/// The run a later one waits for: the oldest queued or running among the `lookback` made just
/// before it, of its own project only.
pub async fn the_oldest_unfinished_run_is_found(store: &dyn ProjectStore) {
    let owner = fresh_owner();
    let p = new_project(store, &owner, "turns").await;
    let mut runs = Vec::new();
    for status in [
        RunStatus::Succeeded,
        RunStatus::Running,
        RunStatus::Queued,
        RunStatus::Failed,
        RunStatus::Queued,
    ] {
        let m = Message::from_user(p.id, format!("{status:?}"), None);
        let mut run = Run::queued(p.id, m.id, Intent::Refine);
        store.post_user_message(&m, &run).await.unwrap();
        if status != RunStatus::Queued {
            run.status = status;
            store.update_run(&run).await.unwrap();
        }
        runs.push(run);
    }
    let elsewhere = new_project(store, &owner, "other turns").await;
    let m = Message::from_user(elsewhere.id, "queued elsewhere".into(), None);
    store
        .post_user_message(&m, &Run::queued(elsewhere.id, m.id, Intent::Refine))
        .await
        .unwrap();
    let oldest = |before: usize, lookback: u32| {
        let run = runs[before].id;
        async move {
            store
                .oldest_unfinished_run_before(p.id, run, lookback)
                .await
                .unwrap()
                .map(|r| r.id)
        }
    };
    assert_eq!(oldest(4, 50).await, Some(runs[1].id), "the running one");
    assert_eq!(oldest(1, 50).await, None, "only a finished run before it");
    assert_eq!(oldest(0, 50).await, None, "nothing before the first");
    // Among the two just before the last: the failed one and the queued one.
    assert_eq!(oldest(4, 2).await, Some(runs[2].id), "within the window");
    assert_eq!(oldest(4, 1).await, None, "the one just before has failed");
    let read = store
        .oldest_unfinished_run_before(p.id, runs[4].id, 50)
        .await
        .unwrap();
    assert_eq!(
        read.as_ref(),
        Some(&store.get_run(p.id, runs[1].id).await.unwrap())
    );
}
