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

/// Where a [`PendingMerge`] is kept: as JSON in the artifact store, by content, so that the
/// project's record stays small whatever the merge holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MergeRef {
    /// The version holding the user's files it merged.
    pub ours: u32,
    /// How many files conflict.
    pub conflicts: u32,
    /// SHA-256 of the merge's JSON.
    pub sha256: String,
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
/// Most bytes the shown conflicts take as JSON: they are a reply's block, in an item of at
/// most 400 KB on DynamoDB, and a side's text may be anything (a control character is six
/// bytes of JSON).
pub const MAX_SHOWN_BYTES: usize = 64 * 1024;

/// The conflicts a message shows, within [`CONFLICTS_SHOWN`] and [`MAX_SHOWN_BYTES`] (each
/// already cut to its hunks and sides), and how many were left out.
pub fn shown_within(conflicts: Vec<ShownConflict>) -> (Vec<ShownConflict>, usize) {
    fn json_len<T: Serialize>(v: &T) -> usize {
        serde_json::to_vec(v).map_or(usize::MAX, |b| b.len())
    }
    let mut used = 0;
    let mut kept = Vec::new();
    let mut omitted = 0;
    for mut c in conflicts {
        let hunks = std::mem::take(&mut c.hunks);
        // The file by name, then its hunks in order while they fit; the rest counted.
        let more = json_len(&c) + 1;
        if kept.len() == CONFLICTS_SHOWN || omitted > 0 || used + more > MAX_SHOWN_BYTES {
            omitted += 1;
            continue;
        }
        used += more;
        for h in hunks {
            let more = json_len(&h) + 1;
            if c.omitted_hunks == 0 && used + more <= MAX_SHOWN_BYTES {
                used += more;
                c.hunks.push(h);
            } else {
                c.omitted_hunks += 1;
            }
        }
        kept.push(c);
    }
    (kept, omitted)
}

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
    fn the_shown_conflicts_keep_within_their_budget() {
        let escaped = "\u{7}".repeat(HUNK_SIDE_BYTES);
        let conflict = |i: usize| ShownConflict {
            path: format!("app/file_{i}.py"),
            kind: ConflictKind::BothChanged,
            hunks: (0..HUNKS_SHOWN)
                .map(|line| ShownHunk {
                    line,
                    ours: escaped.clone(),
                    theirs: escaped.clone(),
                    truncated: true,
                })
                .collect(),
            omitted_hunks: 0,
        };
        let (kept, omitted) = shown_within((0..100).map(conflict).collect());
        let bytes = serde_json::to_vec(&kept).unwrap().len();
        assert!(bytes <= MAX_SHOWN_BYTES, "{bytes}");
        assert_eq!(kept.len() + omitted, 100);
        assert!(!kept.is_empty() && kept.len() <= CONFLICTS_SHOWN);
        // The first file keeps its hunks while they fit; the files after it are named, their
        // hunks counted.
        assert!(!kept[0].hunks.is_empty());
        assert_eq!(kept[0].hunks.len() + kept[0].omitted_hunks, HUNKS_SHOWN);
        assert!(kept
            .iter()
            .any(|c| c.hunks.is_empty() && c.omitted_hunks == HUNKS_SHOWN));
        // Small conflicts are all shown, whole.
        let small = |i: usize| ShownConflict {
            hunks: vec![ShownHunk {
                line: 1,
                ours: "a\n".into(),
                theirs: "b\n".into(),
                truncated: false,
            }],
            ..conflict(i)
        };
        let (kept, omitted) = shown_within((0..3).map(small).collect());
        assert_eq!((kept.len(), omitted), (3, 0));
        assert_eq!(kept[2], small(2));
    }

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
