//! Checks of an `ArtifactStore`: blobs addressed by their content, stored once, and hostile
//! hashes refused.

use crate::model::new_id;
use crate::store::{ArtifactStore, StoreError};

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
