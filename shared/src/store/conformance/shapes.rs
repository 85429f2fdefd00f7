//! Checks of messages kept in the shape they were written in: one in this build's shape
//! ([`MESSAGE_FORMAT`]) is answered as stored, one written before shapes were kept is read and
//! written again, and one that is not JSON is never handed out.

use std::future::Future;

use uuid::Uuid;

use super::{fresh_owner, new_project};
use crate::model::{new_id, Message, MESSAGE_FORMAT};
use crate::store::{PageRequest, ProjectStore, StoreError};

/// `write(project, message id, doc, format)` stores a message's JSON as the backend keeps it,
/// in the shape `format`, or with none (`None`), as a build from before shapes were kept
/// wrote it, and says whether the backend kept it (one may refuse a doc that is not JSON). A field this build does not know stays in a message stored in its shape (nothing
/// read it into a message); one stored without a shape and without `blocks` gets the
/// default. Both ways of listing agree, and so do the typed lists.
pub async fn messages_are_answered_as_stored_only_in_this_builds_shape<W, F>(
    store: &dyn ProjectStore,
    write: W,
) where
    W: Fn(Uuid, Uuid, String, Option<i64>) -> F,
    F: Future<Output = bool>,
{
    let p = new_project(store, &fresh_owner(), "shapes").await;
    let written = Message::from_user(p.id, "hello".into(), None);
    assert!(store.append_message(&written).await.unwrap());
    let mut doc = serde_json::to_value(&written).unwrap();
    let older = new_id();
    doc["id"] = serde_json::json!(older);
    doc["content"] = "older".into();
    doc.as_object_mut().unwrap().remove("blocks");
    assert!(write(p.id, older, doc.to_string(), None).await);
    let current = new_id();
    doc["id"] = serde_json::json!(current);
    doc["content"] = "known shape".into();
    doc["blocks"] = serde_json::json!([]);
    doc["later_field"] = "kept".into();
    assert!(write(p.id, current, doc.to_string(), Some(MESSAGE_FORMAT)).await);

    let page = PageRequest::default();
    let forwards = store.list_messages_json(p.id, &page).await.unwrap();
    let backwards = store
        .list_messages_backwards_json(p.id, &page)
        .await
        .unwrap();
    for listed in [forwards.items, backwards.items] {
        let items: Vec<serde_json::Value> = listed
            .iter()
            .map(|m| serde_json::from_str(m.get()).unwrap())
            .collect();
        assert_eq!(items.len(), 3, "{items:?}");
        assert_eq!(items[0], serde_json::to_value(&written).unwrap());
        assert_eq!(items[1]["content"], "older");
        assert_eq!(items[1]["blocks"], serde_json::json!([]), "{}", items[1]);
        assert_eq!(items[2]["later_field"], "kept", "{}", items[2]);
    }
    let typed = store.list_messages(p.id, &page).await.unwrap();
    let texts: Vec<&str> = typed.items.iter().map(|m| m.content.as_str()).collect();
    assert_eq!(texts, ["hello", "older", "known shape"]);

    // A message in this build's shape that is not JSON is never handed out: the store
    // refuses to keep it, or reports it when it is read.
    let broken = new_project(store, &fresh_owner(), "broken").await;
    let kept = write(broken.id, new_id(), "{\"id\":".into(), Some(MESSAGE_FORMAT)).await;
    let read = store.list_messages_json(broken.id, &page).await;
    if kept {
        assert!(matches!(read, Err(StoreError::Corrupt(_))), "{read:?}");
    } else {
        assert_eq!(read.unwrap().items, [], "nothing was kept");
    }
}
