//! A regeneration that met the user's own changes: the files both changed differently, kept
//! on the project until the user decides each one.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::FileEntry;
use crate::spec::{AppSpec, Renamed};

/// How a file's two sides disagree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConflictKind {
    /// Both changed the same lines differently.
    BothChanged,
    /// Both added the file, differently.
    BothAdded,
    /// The user deleted the file; Kiln changed it.
    DeletedByYou,
    /// The user changed the file; Kiln no longer generates it.
    DeletedByKiln,
}

/// One file a merge could not decide.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct FileConflict {
    /// Path in the project.
    pub path: String,
    /// How the sides disagree.
    pub kind: ConflictKind,
    /// What Kiln generated before (none when it did not have the file).
    pub base: Option<FileEntry>,
    /// The user's file (none when they deleted it).
    pub ours: Option<FileEntry>,
    /// What Kiln generates now (none when it no longer does).
    pub theirs: Option<FileEntry>,
    /// Both sides in one text, each conflict between markers (`<<<<<<< yours`, `=======`,
    /// `>>>>>>> generated`), to edit by hand; none when one side has no file.
    pub marked: Option<FileEntry>,
}

/// A build that met conflicts with the user's files: no version was made; it waits for a
/// decision on every conflicting file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PendingMerge {
    /// The version holding the user's files it merged; a newer current version makes this
    /// merge stale.
    pub ours: u32,
    /// The message that asked for the build.
    pub message_id: Uuid,
    /// The files of the merge: the clean ones merged, the conflicting ones as the user has
    /// them until decided.
    pub files: Vec<FileEntry>,
    /// What Kiln generated, kept as the version's `generated`.
    pub generated: Vec<FileEntry>,
    /// The conflicting files, by path.
    pub conflicts: Vec<FileConflict>,
    /// The spec the build generated from.
    pub spec: Option<AppSpec>,
    /// The names its migration moves.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub renames: Vec<Renamed>,
}

/// One stretch of a conflict as the conversation shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ShownHunk {
    /// The line of the base it starts at, from 1.
    pub line: usize,
    /// The user's lines (cut at [`HUNK_SIDE_BYTES`], then `truncated`).
    pub ours: String,
    /// The generated lines.
    pub theirs: String,
    /// Whether a side was cut.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
}

/// A conflicting file as the conversation shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ShownConflict {
    /// Path in the project.
    pub path: String,
    /// How the sides disagree.
    pub kind: ConflictKind,
    /// The stretches that disagree (for a file one side deleted, the other side's whole text,
    /// cut like a hunk); at most [`HUNKS_SHOWN`].
    pub hunks: Vec<ShownHunk>,
    /// Stretches left out.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub omitted_hunks: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// Most bytes of one side of a hunk a conflict shows.
pub const HUNK_SIDE_BYTES: usize = 2048;
/// Most hunks shown per file.
pub const HUNKS_SHOWN: usize = 5;
/// Most files a merge's message shows; the rest are counted.
pub const CONFLICTS_SHOWN: usize = 20;

/// `text` cut at `HUNK_SIDE_BYTES` on a character boundary, and whether it was.
pub fn cut_side(text: &str) -> (String, bool) {
    if text.len() <= HUNK_SIDE_BYTES {
        return (text.to_owned(), false);
    }
    let mut end = HUNK_SIDE_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    (text[..end].to_owned(), true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_side_is_cut_on_a_character_boundary() {
        let (kept, cut) = cut_side("short");
        assert_eq!((kept.as_str(), cut), ("short", false));
        let long = "é".repeat(HUNK_SIDE_BYTES);
        let (kept, cut) = cut_side(&long);
        assert!(cut);
        assert_eq!(kept.len(), HUNK_SIDE_BYTES);
        let odd = format!("a{long}");
        let (kept, _) = cut_side(&odd);
        assert_eq!(kept.len(), HUNK_SIDE_BYTES - 1);
    }
}
