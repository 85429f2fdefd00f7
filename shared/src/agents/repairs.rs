//! The versions "fix it" makes: a repair is the failing version's files with the user's
//! changes re-applied to what Kiln generates now, some set aside, or with a model's fix; each
//! is a version of its own, made once per request and found again by its note.

use std::collections::BTreeSet;

use super::backend_developer::{release_lock, MAX_FILES_PER_VERSION};
use super::{AgentContext, AgentError};
use crate::model::{now, Author, FileEntry, RunInput, Version};

/// The paths whose files in `version` differ from what Kiln generated for it (changed or
/// deleted by the user), without the files the user added.
pub(super) fn user_changed(version: &Version) -> Vec<String> {
    let generated = version.generated_files();
    generated
        .iter()
        .filter(|g| !version.manifest.contains(g))
        .map(|g| g.path.clone())
        .collect()
}

/// The failing version's files with the user's changes re-applied to what Kiln generates now
/// (three ways, from what it generated for that version), except in `set_aside`, and in any
/// file where they no longer apply, which take the generated text.
pub(super) async fn repaired(
    ctx: &AgentContext,
    base: &Version,
    generated: &[FileEntry],
    set_aside: &[String],
) -> Result<Vec<FileEntry>, AgentError> {
    let merged = super::edits::merge_with_user(ctx, base, generated).await?;
    let conflicting: BTreeSet<&str> = merged.conflicts.iter().map(|c| c.path.as_str()).collect();
    let generated_of = |path: &str| generated.iter().find(|g| g.path == path).cloned();
    let mut files: Vec<FileEntry> = merged
        .files
        .iter()
        .filter(|f| !set_aside.contains(&f.path) && !conflicting.contains(f.path.as_str()))
        .cloned()
        .collect();
    for path in set_aside
        .iter()
        .map(String::as_str)
        .chain(conflicting.iter().copied())
    {
        if !files.iter().any(|f| f.path == path) {
            files.extend(generated_of(path));
        }
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    files.dedup_by(|a, b| a.path == b.path);
    Ok(files)
}

/// The repair of `base` this run made with a note `note` takes, if it made one (a repeat of a
/// step finds the version the first made).
pub(super) async fn find_repair(
    ctx: &AgentContext,
    run: &RunInput,
    base: &Version,
    note: impl Fn(&str) -> bool,
) -> Result<Option<Version>, AgentError> {
    let mut page = crate::store::PageRequest::first(10);
    loop {
        let read = ctx.projects.list_versions(run.project_id, &page).await?;
        for v in &read.items {
            if v.number <= base.number {
                return Ok(None);
            }
            if v.message_id == Some(run.message_id) && v.note.as_deref().is_some_and(&note) {
                return Ok(Some(v.clone()));
            }
        }
        match read.next_cursor {
            Some(c) => page.cursor = Some(c),
            None => return Ok(None),
        }
    }
}

/// A repair's version, not made current: only a repair that passes becomes current.
pub(super) async fn repair_version(
    ctx: &AgentContext,
    run: &RunInput,
    base: &Version,
    files: Vec<FileEntry>,
    generated: Vec<FileEntry>,
    note: String,
) -> Result<Version, AgentError> {
    if files.len() > MAX_FILES_PER_VERSION {
        return Err(AgentError::Refused(format!(
            "a repair would hold {} files, more than a version may",
            files.len()
        )));
    }
    let lock = release_lock(run.project_id);
    let _guard = lock.lock().await;
    let latest = ctx
        .projects
        .list_versions(run.project_id, &crate::store::PageRequest::first(1))
        .await?
        .items
        .first()
        .map_or(base.number, |v| v.number);
    let version = Version {
        project_id: run.project_id,
        number: latest + 1,
        message_id: Some(run.message_id),
        generated: (generated != files).then_some(generated),
        manifest: files,
        spec: base.spec.clone(),
        renames: base.renames.clone(),
        created_at: now(),
        author: Author::Kiln,
        note: Some(note),
    };
    let version = crate::store::create_next_version(ctx.projects.as_ref(), version).await?;
    if let Some(root) = &ctx.repos {
        super::backend_developer::commit_version(
            ctx.artifacts.as_ref(),
            &root.join(run.project_id.to_string()),
            &version,
        )
        .await?;
    }
    Ok(version)
}
