//! A version's files written out for a test run or a deployment, every path checked first so
//! that nothing lands outside the directory.

use std::path::Path;

use crate::model::is_safe_relative_path;
use crate::runner::{File, RunnerError};

/// Writes a version's files under `dir`, refusing any path that would leave it, directly or
/// through a symbolic link already there.
pub(super) async fn write_files(dir: &Path, files: &[File]) -> Result<(), RunnerError> {
    // Every path is checked before the first file is written: a refused set writes nothing.
    if let Some((path, _)) = files.iter().find(|(p, _)| !is_safe_relative_path(p)) {
        return Err(RunnerError::Process(format!("refusing the path {path:?}")));
    }
    for (path, bytes) in files {
        let target = dir.join(path);
        let mut at = dir.to_path_buf();
        for part in Path::new(path).components() {
            at.push(part);
            if tokio::fs::symlink_metadata(&at)
                .await
                .is_ok_and(|m| m.file_type().is_symlink())
            {
                return Err(RunnerError::Process(format!(
                    "refusing to write through the link {}",
                    at.display()
                )));
            }
        }
        if let Some(parent) = target.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|e| RunnerError::Process(e.to_string()))?;
        }
        tokio::fs::write(&target, bytes)
            .await
            .map_err(|e| RunnerError::Process(e.to_string()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn writing_through_a_planted_link_is_refused() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let target = root.path().join("release");
        std::fs::create_dir_all(&target).unwrap();
        std::os::unix::fs::symlink(outside.path(), target.join("app")).unwrap();
        let files = vec![("app/main.py".to_owned(), b"x = 1\n".to_vec())];
        assert!(write_files(&target, &files).await.is_err());
        assert!(
            !outside.path().join("main.py").exists(),
            "nothing was written outside"
        );
        let files = vec![("other/main.py".to_owned(), b"x = 1\n".to_vec())];
        write_files(&target, &files).await.unwrap();
        assert!(target.join("other/main.py").exists());
    }
}
