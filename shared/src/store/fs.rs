//! `ArtifactStore` as content-addressed files: `{root}/blobs/{sha[0..2]}/{sha}`.

use std::path::{Path, PathBuf};

use async_trait::async_trait;

use super::{check_sha256, ArtifactStore, StoreError, StoreResult};
use crate::model::{sha256_hex, Cause};

/// Blobs as files under a root directory.
#[derive(Debug, Clone)]
pub struct FsArtifactStore {
    root: PathBuf,
}

impl FsArtifactStore {
    /// A store rooted at `root` (created on first write).
    pub fn new(root: &Path) -> Self {
        FsArtifactStore {
            root: root.to_path_buf(),
        }
    }

    /// Where the blob with this (already checked) hash lives.
    fn path_of(&self, sha256: &str) -> PathBuf {
        self.root.join("blobs").join(&sha256[..2]).join(sha256)
    }
}

/// A file-system failure: one the system says may pass (interrupted, timed out, would block)
/// is transient; the rest (permissions, a full disk) is permanent.
fn io(e: std::io::Error) -> StoreError {
    use std::io::ErrorKind;
    match e.kind() {
        ErrorKind::Interrupted | ErrorKind::TimedOut | ErrorKind::WouldBlock => {
            StoreError::Unavailable(Cause::with("the artifact files", e))
        }
        _ => StoreError::failed_with("the artifact files", e),
    }
}

#[async_trait]
impl ArtifactStore for FsArtifactStore {
    /// Files on this machine: the server sends any export inline.
    async fn export_link(
        &self,
        _key: &str,
        _bytes: Vec<u8>,
        _file_name: &str,
    ) -> StoreResult<Option<String>> {
        Ok(None)
    }

    async fn put_blob(&self, bytes: &[u8]) -> StoreResult<String> {
        let sha = sha256_hex(bytes);
        let path = self.path_of(&sha);
        if tokio::fs::try_exists(&path).await.map_err(io)? {
            return Ok(sha);
        }
        let dir = path.parent().expect("blob paths have a parent");
        tokio::fs::create_dir_all(dir).await.map_err(io)?;
        // Write beside the target and rename, so a reader never sees a partial blob.
        let tmp = dir.join(format!(".{sha}.{}.tmp", crate::model::new_id()));
        tokio::fs::write(&tmp, bytes).await.map_err(io)?;
        if let Err(e) = tokio::fs::rename(&tmp, &path).await {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(io(e));
        }
        Ok(sha)
    }

    async fn get_blob(&self, sha256: &str) -> StoreResult<Vec<u8>> {
        check_sha256(sha256)?;
        let path = self.path_of(sha256);
        // A link planted in the store could point anywhere: blobs are plain files or nothing.
        if tokio::fs::symlink_metadata(&path)
            .await
            .is_ok_and(|m| !m.is_file())
        {
            return Err(StoreError::Corrupt(Cause::new(format!(
                "refusing {}: not a plain file",
                path.display()
            ))));
        }
        match tokio::fs::read(&path).await {
            Ok(bytes) => Ok(bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(StoreError::NotFound("blob")),
            Err(e) => Err(io(e)),
        }
    }

    async fn has_blob(&self, sha256: &str) -> StoreResult<bool> {
        if check_sha256(sha256).is_err() {
            return Ok(false);
        }
        tokio::fs::try_exists(self.path_of(sha256))
            .await
            .map_err(io)
    }
}
