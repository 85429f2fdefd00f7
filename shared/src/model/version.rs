//! Versions: what one build wrote, file by file, addressed by content.

use std::path::{Component, Path};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::spec::AppSpec;

/// One file of a version's manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FileEntry {
    /// Relative path inside the project, `/`-separated.
    pub path: String,
    /// Hex SHA-256 of the contents.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
}

/// A generated version of a project. Versions never change once written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Version {
    /// The project.
    pub project_id: Uuid,
    /// 1, 2, … in order of creation.
    pub number: u32,
    /// The message that asked for it.
    pub message_id: Option<Uuid>,
    /// Every file with its hash and size; contents live in the artifact store.
    pub manifest: Vec<FileEntry>,
    /// The spec it was built from.
    #[serde(default)]
    pub spec: Option<AppSpec>,
    /// Names changed since the version before (its migration moved the data under them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub renames: Vec<crate::spec::Renamed>,
    /// Creation time.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Who made it: Kiln from the spec, or the user by editing files (or by choosing a side of
    /// a merge's conflicts).
    #[serde(default)]
    pub author: Author,
    /// What the user said about their change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// What Kiln generated for this version's spec, when the files differ from it (the user's
    /// changes are in them): the base a regeneration merges from. Absent when the files are
    /// what Kiln generated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generated: Option<Vec<FileEntry>>,
}

/// Who made a version.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Author {
    /// Kiln, from the spec (with the user's earlier changes merged in, if any).
    #[default]
    Kiln,
    /// The user: files edited, added or deleted, or a merge's conflicts decided.
    User,
}

impl Version {
    /// What Kiln generated for this version's spec: the base of the next regeneration.
    pub fn generated_files(&self) -> &[FileEntry] {
        self.generated.as_deref().unwrap_or(&self.manifest)
    }
}

/// Whether a manifest path is a plain relative path that stays inside its root.
pub fn is_safe_relative_path(path: &str) -> bool {
    !path.is_empty()
        && !path.contains('\0')
        && !path.contains('\\')
        // No empty segment: `a/` and `a//b` name what `a` and `a/b` name.
        && path.split('/').all(|segment| !segment.is_empty())
        && Path::new(path)
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
}

/// Longest path, in bytes, of a file a user or a model adds: a version's item keeps every path
/// twice (its files and what Kiln generated), within DynamoDB's 400 KB.
pub const MAX_PATH_BYTES: usize = 150;

/// Why `path` cannot name a file someone other than the generator writes (a user's edit, a
/// model's fix): not a plain relative path, a control character, or longer than
/// [`MAX_PATH_BYTES`].
pub fn check_written_path(path: &str) -> Result<(), String> {
    if !is_safe_relative_path(path) || path.chars().any(char::is_control) {
        return Err(format!(
            "`{}` is not a plain relative path (no `..`, `.`, empty segments, backslashes or \
             control characters)",
            path.escape_debug()
        ));
    }
    if path.len() > MAX_PATH_BYTES {
        return Err(format!(
            "a path may be at most {MAX_PATH_BYTES} bytes long; this one is {}",
            path.len()
        ));
    }
    Ok(())
}

/// A path of `paths` that `path` would be a folder of, or that would be a folder of `path`: the
/// two cannot both be files of one version.
pub fn folder_clash<'a>(
    path: &str,
    paths: impl IntoIterator<Item = &'a String>,
) -> Option<&'a String> {
    paths.into_iter().find(|p| {
        p.strip_prefix(path)
            .is_some_and(|rest| rest.starts_with('/'))
            || path
                .strip_prefix(p.as_str())
                .is_some_and(|rest| rest.starts_with('/'))
    })
}

/// Hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}
