//! Code the user owns: their edits made versions of their own, a regeneration merged with
//! them file by file (three ways: what Kiln generated before, the user's files, what it
//! generates now), and the user's decisions on the files that merge could not settle.

use std::collections::BTreeSet;

use super::backend_developer::{commit_version, release_lock, MAX_FILES_PER_VERSION};
use super::{AgentContext, AgentError};
use crate::generator::{merge_text, MARKERS};
use crate::model::merge::{cut_side, shown_within, HUNKS_SHOWN};
use crate::model::{
    check_written_path, folder_clash, new_id, now, Author, Block, ConflictKind, FileConflict,
    FileEntry, MergeRef, Message, Owner, PendingMerge, ProjectStatus, Role, ShownConflict,
    ShownHunk, Version,
};
use crate::store::StoreError;

/// One change to a file: its new text, or `None` to delete it.
#[derive(Debug, Clone)]
pub struct FileChange {
    /// Path in the project.
    pub path: String,
    /// The whole new text; `None` deletes the file.
    pub content: Option<String>,
}

/// How the user decided one conflicting file.
#[derive(Debug, Clone)]
pub enum Decision {
    /// Keep the user's file (deleted, if they deleted it).
    Mine,
    /// Take what Kiln generates now (deleted, if it no longer does).
    Generated,
    /// This text.
    Edited(String),
}

/// Why an edit or a decision was not taken.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    /// There is no version to edit.
    #[error("nothing has been built yet, so there are no files to edit: say \"build it\" first")]
    NothingBuilt,
    /// The edit was made on a version that is no longer current.
    #[error("version {current} is current now, not version {expected}: read it and edit again")]
    Stale {
        /// The version the edit was made on.
        expected: u32,
        /// The current one.
        current: u32,
    },
    /// A delete of a file the version does not hold.
    #[error("version {1} has no file `{0}`")]
    NoSuchFile(String, u32),
    /// No build waits for decisions.
    #[error("no build is waiting for a decision on conflicts")]
    NoMerge,
    /// What was sent cannot be taken, for the reason given.
    #[error("{0}")]
    Invalid(String),
    /// A store, the repository or the generator failed.
    #[error(transparent)]
    Agent(#[from] AgentError),
}

impl From<StoreError> for EditError {
    fn from(e: StoreError) -> Self {
        EditError::Agent(e.into())
    }
}

/// Checks a path and a text the user sends.
fn check_change(change: &FileChange) -> Result<(), EditError> {
    let path = &change.path;
    check_written_path(path).map_err(EditError::Invalid)?;
    if change.content.as_deref().is_some_and(|c| c.contains('\0')) {
        return Err(EditError::Invalid(format!(
            "`{path}` holds a NUL character: only text files can be edited"
        )));
    }
    Ok(())
}

/// Stores a text once by content; its manifest entry.
async fn store_text(ctx: &AgentContext, path: &str, text: &str) -> Result<FileEntry, AgentError> {
    Ok(FileEntry {
        path: path.to_owned(),
        sha256: ctx.artifacts.put_blob(text.as_bytes()).await?,
        size: text.len() as u64,
    })
}

/// Stores a text as the file `path` of `manifest`, in place of the file there or added.
pub(super) async fn put_text(
    ctx: &AgentContext,
    manifest: &mut Vec<FileEntry>,
    path: &str,
    text: &str,
) -> Result<(), AgentError> {
    let entry = store_text(ctx, path, text).await?;
    match manifest.iter_mut().find(|f| f.path == path) {
        Some(f) => *f = entry,
        None => manifest.push(entry),
    }
    Ok(())
}

/// A version edited by the user, and whether this call made it (`false`: nothing changed,
/// the current version is answered).
#[derive(Debug, Clone)]
pub struct Edited {
    /// The version.
    pub version: Version,
    /// Whether a new version was made.
    pub made: bool,
}

/// Applies the user's changes to the current version's files as a new version authored by
/// the user, with `note`, made current. `expected`: the version the user edited, refused
/// when another is current now. A change that leaves every file as it was makes nothing.
pub async fn edit_files(
    ctx: &AgentContext,
    owner: &Owner,
    project_id: uuid::Uuid,
    expected: Option<u32>,
    changes: &[FileChange],
    note: Option<String>,
) -> Result<Edited, EditError> {
    // Another owner's project or a missing one is not found, and one with nothing built has
    // nothing to edit, whatever was sent.
    let lock = release_lock(project_id);
    let _guard = lock.lock().await;
    let project = ctx.projects.get_project(owner, project_id).await?;
    let current = project.current_version.ok_or(EditError::NothingBuilt)?;
    changes.iter().try_for_each(check_change)?;
    if let Some(expected) = expected.filter(|e| *e != current) {
        return Err(EditError::Stale { expected, current });
    }
    let previous = ctx.projects.get_version(project_id, current).await?;
    let mut manifest = previous.manifest.clone();
    for change in changes {
        let at = manifest.iter().position(|e| e.path == change.path);
        match (&change.content, at) {
            (Some(text), Some(_)) => put_text(ctx, &mut manifest, &change.path, text).await?,
            (Some(text), None) => {
                let paths: Vec<&String> = manifest.iter().map(|e| &e.path).collect();
                if let Some(other) = folder_clash(&change.path, paths) {
                    return Err(EditError::Invalid(format!(
                        "`{}` and `{other}` cannot both be files: one would be a folder of the \
                         other",
                        change.path
                    )));
                }
                put_text(ctx, &mut manifest, &change.path, text).await?
            }
            (None, Some(i)) => {
                manifest.remove(i);
            }
            (None, None) => return Err(EditError::NoSuchFile(change.path.clone(), current)),
        }
    }
    manifest.sort_by(|a, b| a.path.cmp(&b.path));
    if manifest == previous.manifest {
        return Ok(Edited {
            version: previous,
            made: false,
        });
    }
    if manifest.len() > MAX_FILES_PER_VERSION {
        return Err(EditError::Invalid(format!(
            "a version may hold at most {MAX_FILES_PER_VERSION} files; this one would have {}",
            manifest.len()
        )));
    }
    let generated = previous.generated_files().to_vec();
    let version = Version {
        project_id,
        number: current + 1,
        message_id: None,
        generated: (generated != manifest).then_some(generated),
        manifest,
        spec: previous.spec.clone(),
        renames: Vec::new(),
        created_at: now(),
        author: Author::User,
        note,
    };
    let version = crate::store::create_next_version(ctx.projects.as_ref(), version).await?;
    let changed: Vec<&str> = changes.iter().map(|c| c.path.as_str()).collect();
    let text = format!(
        "You changed {} as version {}{}.",
        listed(&changed),
        version.number,
        said(&version.note)
    );
    make_current(ctx, &version, text, &changed).await?;
    Ok(Edited {
        version,
        made: true,
    })
}

/// `paths` for a sentence: the first few, and how many more ("no file" for none).
pub(super) fn listed<S: AsRef<str>>(paths: &[S]) -> String {
    const NAMED: usize = 5;
    let mut out = paths
        .iter()
        .take(NAMED)
        .map(|p| format!("`{}`", p.as_ref()))
        .collect::<Vec<_>>()
        .join(", ");
    if paths.len() > NAMED {
        out.push_str(&format!(" and {} more", paths.len() - NAMED));
    }
    if out.is_empty() {
        out.push_str("no file");
    }
    out
}

fn said(note: &Option<String>) -> String {
    note.as_deref()
        .filter(|n| !n.trim().is_empty())
        .map(|n| format!(": \u{201c}{}\u{201d}", n.trim()))
        .unwrap_or_default()
}

/// Commits `version` (locally) and makes it current with a notice in the conversation, in one
/// write; a build waiting on conflicts is set aside (its merge read files no longer current).
async fn make_current(
    ctx: &AgentContext,
    version: &Version,
    text: String,
    paths: &[&str],
) -> Result<(), EditError> {
    if let Some(root) = &ctx.repos {
        commit_version(
            ctx.artifacts.as_ref(),
            &root.join(version.project_id.to_string()),
            version,
        )
        .await?;
    }
    let files: Vec<FileEntry> = version
        .manifest
        .iter()
        .filter(|e| paths.contains(&e.path.as_str()))
        .cloned()
        .collect();
    let notice = Message {
        id: new_id(),
        project_id: version.project_id,
        role: Role::System,
        agent: None,
        content: text,
        blocks: vec![Block::FileList {
            version: version.number,
            files,
        }],
        run_id: None,
        client_id: None,
        created_at: now(),
    };
    crate::store::modify_project_and_append(
        ctx.projects.as_ref(),
        version.project_id,
        |p| -> Result<_, EditError> {
            if p.current_version.is_some_and(|c| c >= version.number) {
                return Ok(None);
            }
            p.current_version = Some(version.number);
            p.status = ProjectStatus::Built;
            p.renamed.retain(|r| !version.renames.contains(r));
            p.merge = None;
            Ok(Some(notice.clone()))
        },
    )
    .await?;
    Ok(())
}

/// The merge of a regeneration with the user's files.
#[derive(Debug, Default)]
pub(super) struct Merged {
    /// The merged files; a conflicting file as the user has it.
    pub files: Vec<FileEntry>,
    /// The files that could not be merged.
    pub conflicts: Vec<FileConflict>,
    /// Those files as the conversation shows them.
    pub shown: Vec<ShownConflict>,
}

async fn text_of(ctx: &AgentContext, entry: Option<&FileEntry>) -> Result<String, AgentError> {
    Ok(match entry {
        Some(e) => String::from_utf8_lossy(&ctx.artifacts.get_blob(&e.sha256).await?).into_owned(),
        None => String::new(),
    })
}

/// Merges what Kiln generates now (`theirs`) with the user's files in `previous`, from what
/// Kiln generated for `previous` (the base). Per path: a side that left the base as it was
/// takes the other side (a file the user added stays, one they deleted stays deleted unless
/// Kiln changed it); both sides alike take it; both changed the text, the lines merge; else a
/// conflict.
pub(super) async fn merge_with_user(
    ctx: &AgentContext,
    previous: &Version,
    theirs: &[FileEntry],
) -> Result<Merged, AgentError> {
    let base = previous.generated_files();
    let ours = &previous.manifest;
    let find = |files: &[FileEntry], path: &str| files.iter().find(|e| e.path == path).cloned();
    let paths: BTreeSet<&str> = base
        .iter()
        .chain(ours)
        .chain(theirs)
        .map(|e| e.path.as_str())
        .collect();
    let mut merged = Merged::default();
    for path in paths {
        let (b, o, t) = (find(base, path), find(ours, path), find(theirs, path));
        let sha = |e: &Option<FileEntry>| e.as_ref().map(|e| e.sha256.clone());
        let take = if sha(&o) == sha(&b) {
            t.clone()
        } else if sha(&t) == sha(&b) || sha(&o) == sha(&t) {
            o.clone()
        } else {
            let (bt, ot, tt) = (
                text_of(ctx, b.as_ref()).await?,
                text_of(ctx, o.as_ref()).await?,
                text_of(ctx, t.as_ref()).await?,
            );
            let kind = match (&b, &o, &t) {
                (None, _, _) => ConflictKind::BothAdded,
                (_, None, _) => ConflictKind::DeletedByYou,
                (_, _, None) => ConflictKind::DeletedByKiln,
                _ => ConflictKind::BothChanged,
            };
            let lines = if o.is_some() && t.is_some() {
                Some(merge_text(&bt, &ot, &tt))
            } else {
                None
            };
            match lines {
                Some(m) if m.conflicts.is_empty() => Some(store_text(ctx, path, &m.text).await?),
                lines => {
                    let (marked, hunks) = match lines {
                        Some(m) => {
                            let marked = store_text(ctx, path, &m.text).await?;
                            let hunks = m
                                .conflicts
                                .iter()
                                .map(|c| shown_hunk(c.line, &c.ours, &c.theirs))
                                .collect();
                            (Some(marked), hunks)
                        }
                        // One side deleted it: the other side whole.
                        None => (None, vec![shown_hunk(1, &ot, &tt)]),
                    };
                    let omitted_hunks = hunks.len().saturating_sub(HUNKS_SHOWN);
                    merged.shown.push(ShownConflict {
                        path: path.to_owned(),
                        kind,
                        hunks: hunks.into_iter().take(HUNKS_SHOWN).collect(),
                        omitted_hunks,
                    });
                    merged.conflicts.push(FileConflict {
                        path: path.to_owned(),
                        kind,
                        base: b.clone(),
                        ours: o.clone(),
                        theirs: t.clone(),
                        marked,
                    });
                    o.clone()
                }
            }
        };
        merged.files.extend(take);
    }
    Ok(merged)
}

fn shown_hunk(line: usize, ours: &str, theirs: &str) -> ShownHunk {
    let (ours, cut_ours) = cut_side(ours);
    let (theirs, cut_theirs) = cut_side(theirs);
    ShownHunk {
        line,
        ours,
        theirs,
        truncated: cut_ours || cut_theirs,
    }
}

/// Keeps a merge that met conflicts on the project, with the reply that shows them (one
/// write, once per run), and fails the step: no version is made.
pub(super) async fn hold_merge(
    ctx: &AgentContext,
    input: &crate::model::RunInput,
    previous: &Version,
    generated: Vec<FileEntry>,
    merged: Merged,
) -> Result<serde_json::Value, AgentError> {
    let count = merged.conflicts.len();
    let project = ctx.projects.load_project(input.project_id).await?;
    let pending = PendingMerge {
        ours: previous.number,
        message_id: input.message_id,
        files: merged.files,
        generated,
        conflicts: merged.conflicts,
        spec: project.spec.clone(),
        renames: project.renamed.clone(),
    };
    let (shown, omitted) = shown_within(merged.shown);
    let block = Block::MergeConflicts {
        version: previous.number,
        conflicts: shown,
        omitted,
    };
    // The merge goes to the artifact store; the project keeps where.
    let json = serde_json::to_vec(&pending)
        .map_err(|e| AgentError::BadInput(format!("encoding a merge: {e}")))?;
    let merge = MergeRef {
        ours: pending.ours,
        conflicts: count as u32,
        sha256: ctx.artifacts.put_blob(&json).await?,
    };
    let text = format!(
        "The new code meets your own changes of version {}: {count} file(s) changed on both \
         sides in ways I cannot merge, so no version was made. For each, keep yours, take the \
         generated one, or edit it; the rest of the merge is kept.",
        previous.number
    );
    let key = (super::Step::Release, "conflicts");
    super::change_and_say(ctx, input, key, |p| {
        p.merge = Some(merge.clone());
        let mut reply = Message::from_agent(
            input.project_id,
            crate::model::Agent::BackendDeveloper,
            input.run_id,
            text.clone(),
        );
        reply.blocks.push(block.clone());
        Ok(Some(reply))
    })
    .await?;
    Err(AgentError::MergeConflicts(count))
}

/// The merge `at` names, read from the artifact store.
async fn read_merge(ctx: &AgentContext, at: Option<&MergeRef>) -> Result<PendingMerge, EditError> {
    let at = at.ok_or(EditError::NoMerge)?;
    let json = ctx.artifacts.get_blob(&at.sha256).await?;
    serde_json::from_slice(&json).map_err(|e| StoreError::corrupt("a waiting merge", e).into())
}

/// The build of the owner's project that waits for decisions on its conflicts.
pub async fn pending_merge(
    ctx: &AgentContext,
    owner: &Owner,
    project_id: uuid::Uuid,
) -> Result<PendingMerge, EditError> {
    let project = ctx.projects.get_project(owner, project_id).await?;
    read_merge(ctx, project.merge.as_ref()).await
}

/// Makes the version a merge waited for, from the user's decision on every conflicting file,
/// authored by the user, made current.
pub async fn resolve_merge(
    ctx: &AgentContext,
    owner: &Owner,
    project_id: uuid::Uuid,
    decisions: &[(String, Decision)],
    note: Option<String>,
) -> Result<Version, EditError> {
    let lock = release_lock(project_id);
    let _guard = lock.lock().await;
    let project = ctx.projects.get_project(owner, project_id).await?;
    let pending = read_merge(ctx, project.merge.as_ref()).await?;
    let current = project.current_version.unwrap_or(0);
    if current != pending.ours {
        return Err(EditError::Stale {
            expected: pending.ours,
            current,
        });
    }
    let wanted: BTreeSet<&str> = pending.conflicts.iter().map(|c| c.path.as_str()).collect();
    let given: BTreeSet<&str> = decisions.iter().map(|(p, _)| p.as_str()).collect();
    if given.len() != decisions.len() {
        return Err(EditError::Invalid(
            "a file is decided more than once".into(),
        ));
    }
    if let Some(extra) = given.difference(&wanted).next() {
        return Err(EditError::Invalid(format!("`{extra}` is not in conflict")));
    }
    let missing: Vec<&str> = wanted.difference(&given).copied().collect();
    if !missing.is_empty() {
        return Err(EditError::Invalid(format!(
            "every conflicting file needs a decision; missing: {}",
            listed(&missing)
        )));
    }
    let mut files: Vec<FileEntry> = pending
        .files
        .iter()
        .filter(|e| !wanted.contains(e.path.as_str()))
        .cloned()
        .collect();
    let (mut kept, mut taken, mut edited) = (Vec::new(), Vec::new(), Vec::new());
    for (path, decision) in decisions {
        let conflict = pending
            .conflicts
            .iter()
            .find(|c| &c.path == path)
            .expect("checked above");
        let entry = match decision {
            Decision::Mine => {
                kept.push(path.as_str());
                conflict.ours.clone()
            }
            Decision::Generated => {
                taken.push(path.as_str());
                conflict.theirs.clone()
            }
            Decision::Edited(text) => {
                check_change(&FileChange {
                    path: path.clone(),
                    content: Some(text.clone()),
                })?;
                if text
                    .lines()
                    .any(|l| MARKERS.iter().any(|m| m.trim_end() == l))
                {
                    return Err(EditError::Invalid(format!(
                        "`{path}` still holds conflict markers: keep one side of each"
                    )));
                }
                edited.push(path.as_str());
                Some(store_text(ctx, path, text).await?)
            }
        };
        files.extend(entry);
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    let version = Version {
        project_id,
        number: pending.ours + 1,
        message_id: Some(pending.message_id),
        generated: (pending.generated != files).then(|| pending.generated.clone()),
        manifest: files,
        spec: pending.spec.clone(),
        renames: pending.renames.clone(),
        created_at: now(),
        author: Author::User,
        note,
    };
    let version = crate::store::create_next_version(ctx.projects.as_ref(), version).await?;
    let mut parts = Vec::new();
    for (what, paths) in [
        ("kept yours of", &kept),
        ("took the generated", &taken),
        ("edited", &edited),
    ] {
        if !paths.is_empty() {
            parts.push(format!("{what} {}", listed(paths)));
        }
    }
    let text = format!(
        "Version {} is ready: the new code merged with your changes; you {}{}.",
        version.number,
        parts.join("; "),
        said(&version.note)
    );
    let decided: Vec<&str> = decisions.iter().map(|(p, _)| p.as_str()).collect();
    make_current(ctx, &version, text, &decided).await?;
    Ok(version)
}
