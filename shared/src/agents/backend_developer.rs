//! The backend developer: writes the code from the spec, and releases drafts as versions.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::{json, Value};

use super::{change_and_say, post, AgentContext, AgentError, Step};
use crate::generator::{generate_version, GeneratedFile, SchemaVersion};
use crate::model::{
    is_safe_relative_path, now, Agent, Block, FileEntry, Message, Project, ProjectStatus, RunInput,
    Version,
};
use crate::store::ArtifactStore;

/// How many versions a release reads at a time, newest first, looking for the one an earlier
/// run of the step made.
const RELEASES_PAGE: u32 = 2;

/// Most files one version may hold.
pub const MAX_FILES_PER_VERSION: usize = 500;

/// Stores generated files once per content; returns their manifest entries.
pub(super) async fn store_files(
    artifacts: &dyn ArtifactStore,
    files: &[GeneratedFile],
) -> Result<Vec<FileEntry>, AgentError> {
    let mut entries = Vec::with_capacity(files.len());
    for f in files {
        let sha256 = artifacts.put_blob(f.contents.as_bytes()).await?;
        entries.push(FileEntry {
            path: f.path.clone(),
            sha256,
            size: f.contents.len() as u64,
        });
    }
    Ok(entries)
}

/// Generates the project's code from its spec into a draft manifest.
pub(super) async fn write_code(ctx: &AgentContext, input: &RunInput) -> Result<Value, AgentError> {
    let project = ctx.projects.load_project(input.project_id).await?;
    let spec = project.spec.ok_or(AgentError::NothingToBuild)?;
    // The versions before, oldest first, each with the spec it was built from: the new
    // version's migrations carry every change of the tables since the first.
    let earlier = earlier_specs(ctx, input.project_id).await?;
    let next = earlier.last().map_or(1, |(n, _, _)| n + 1);
    let files = generate_version(&history(&earlier, next, &spec, &project.renamed))?;
    let draft = store_files(ctx.artifacts.as_ref(), &files).await?;
    let count = |prefix: &str| files.iter().filter(|f| f.path.starts_with(prefix)).count();
    let text = format!(
        "Wrote {} files: the app ({} files: {} router(s), models, schemas{}), its tests ({} files), \
         and Dockerfile, requirements, CI and buildspec.",
        files.len(),
        count("app/"),
        spec.resources.len(),
        if spec.features.auth == crate::spec::AuthFeature::Jwt { ", JWT auth" } else { "" },
        count("tests/"),
    );
    let reply = Message::from_agent(
        input.project_id,
        Agent::BackendDeveloper,
        input.run_id,
        text,
    );
    post(ctx, input, (Step::BackendDeveloper, "wrote"), reply).await?;
    Ok(json!({"files": draft}))
}

/// What Kiln generates now for `version`'s spec (the code, its tests and the README, as a
/// build writes them), from the versions up to it: the files a repair takes where it sets the
/// user's changes aside.
pub(super) async fn generated_for(
    ctx: &AgentContext,
    project_name: &str,
    version: &Version,
) -> Result<Vec<FileEntry>, AgentError> {
    let spec = version.spec.as_ref().ok_or(AgentError::NothingToBuild)?;
    let earlier = earlier_specs(ctx, version.project_id).await?;
    let mut files = generate_version(&history(&earlier, version.number, spec, &version.renames))?;
    let readme = crate::generator::generate_readme(spec, project_name)?;
    files.retain(|f| f.path != readme.path);
    files.push(readme);
    let mut entries = store_files(ctx.artifacts.as_ref(), &files).await?;
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(entries)
}

/// The schema history a generation of version `number` from `spec` reads: the versions
/// before it with their specs, oldest first, then itself.
fn history<'a>(
    earlier: &'a [(u32, crate::spec::AppSpec, Vec<crate::spec::Renamed>)],
    number: u32,
    spec: &'a crate::spec::AppSpec,
    renames: &'a [crate::spec::Renamed],
) -> Vec<SchemaVersion<'a>> {
    earlier
        .iter()
        .filter(|(n, _, _)| *n < number)
        .map(|(number, spec, renames)| SchemaVersion {
            number: *number,
            spec,
            renames,
        })
        .chain(std::iter::once(SchemaVersion {
            number,
            spec,
            renames,
        }))
        .collect()
}

/// The project's versions that record their spec, oldest first.
async fn earlier_specs(
    ctx: &AgentContext,
    project_id: uuid::Uuid,
) -> Result<Vec<(u32, crate::spec::AppSpec, Vec<crate::spec::Renamed>)>, AgentError> {
    let mut all = Vec::new();
    let mut page = crate::store::PageRequest {
        limit: Some(crate::store::MAX_PAGE),
        cursor: None,
    };
    loop {
        let versions = ctx.projects.list_versions(project_id, &page).await?;
        all.extend(
            versions
                .items
                .into_iter()
                .filter_map(|v| Some((v.number, v.spec?, v.renames))),
        );
        match versions.next_cursor {
            Some(cursor) => page.cursor = Some(cursor),
            None => break,
        }
    }
    all.sort_by_key(|(number, _, _)| *number);
    Ok(all)
}

/// Makes the draft an immutable version, the project's current one, and commits it to the
/// project's git repository when the backend keeps one.
pub(super) async fn release(
    ctx: &AgentContext,
    input: &RunInput,
    draft: &[FileEntry],
) -> Result<Value, AgentError> {
    if draft.len() > MAX_FILES_PER_VERSION {
        return Err(AgentError::Refused(format!(
            "a version may hold at most {MAX_FILES_PER_VERSION} files; this one has {}",
            draft.len()
        )));
    }
    let mut manifest = draft.to_vec();
    manifest.sort_by(|a, b| a.path.cmp(&b.path));
    // One release at a time per project in this process, so that versions are numbered and
    // committed to the repository in the same order. Other processes are kept apart by the
    // store's conditional writes.
    let lock = release_lock(input.project_id);
    let _guard = lock.lock().await;
    let project = ctx.projects.load_project(input.project_id).await?;
    let previous = match project.current_version {
        Some(n) => Some(ctx.projects.get_version(project.id, n).await?),
        None => None,
    };
    // The user changed the current version's files: what Kiln generates now is merged with
    // them, from what it generated for that version. A merge that meets conflicts waits on the
    // project for the user's decisions, and no version is made.
    let mut generated = None;
    if let Some(prev) = previous.as_ref().filter(|p| p.generated.is_some()) {
        let merged = super::edits::merge_with_user(ctx, prev, &manifest).await?;
        if !merged.conflicts.is_empty() {
            return super::edits::hold_merge(ctx, input, prev, manifest, merged).await;
        }
        if merged.files.len() > MAX_FILES_PER_VERSION {
            return Err(AgentError::Refused(format!(
                "a version may hold at most {MAX_FILES_PER_VERSION} files; merged with your own \
                 files this one would have {}",
                merged.files.len()
            )));
        }
        if merged.files != manifest {
            generated = Some(std::mem::replace(&mut manifest, merged.files));
        }
    }
    // A repeat of this step (a retry after a lost answer) finds the version the first run
    // made from this message and the same files, and releases that one instead of another.
    let made = made_by(
        ctx,
        &project,
        previous.as_ref(),
        input.message_id,
        &manifest,
    )
    .await?;
    let version = match made {
        Some(version) => version,
        // Concurrent builds race for the next number; the loser takes the one after.
        None => {
            crate::store::create_next_version(
                ctx.projects.as_ref(),
                Version {
                    project_id: project.id,
                    number: project.current_version.unwrap_or(0) + 1,
                    message_id: Some(input.message_id),
                    manifest,
                    spec: project.spec.clone(),
                    renames: project.renamed.clone(),
                    created_at: now(),
                    author: crate::model::Author::Kiln,
                    note: None,
                    generated,
                },
            )
            .await?
        }
    };
    if let Some(root) = &ctx.repos {
        commit_version(
            ctx.artifacts.as_ref(),
            &root.join(project.id.to_string()),
            &version,
        )
        .await?;
    }
    let reply = || {
        let change = match previous.as_ref().filter(|p| p.number != version.number) {
            Some(prev) => {
                let (added, changed, removed) = compare(&prev.manifest, &version.manifest);
                format!(
                    " Compared with version {}: {added} added, {changed} changed, {removed} removed.",
                    prev.number
                )
            }
            None => String::new(),
        };
        let kept = match (&version.generated, previous.as_ref()) {
            (Some(_), Some(prev)) => format!(
                " Your own changes of version {} are merged in.",
                prev.number
            ),
            _ => String::new(),
        };
        let text = format!(
            "Version {} is ready: {} files.{change}{kept} Say \"run the tests\" or \"deploy it\" next.",
            version.number,
            version.manifest.len()
        );
        let mut reply = Message::from_agent(
            input.project_id,
            Agent::BackendDeveloper,
            input.run_id,
            text,
        );
        reply.blocks.push(Block::FileList {
            version: version.number,
            files: version.manifest.clone(),
        });
        reply
    };
    // The version becomes current and the reply says so in one write.
    let key = (Step::Release, "released");
    let (saved, repeat) = change_and_say(ctx, input, key, |p| {
        // A newer version released meanwhile stays current.
        if p.current_version.is_some_and(|c| c >= version.number) {
            return Ok(None);
        }
        p.current_version = Some(version.number);
        p.status = ProjectStatus::Built;
        // The version's migration moved the data under these names.
        p.renamed.retain(|r| !version.renames.contains(r));
        Ok(Some(reply()))
    })
    .await?;
    if !repeat && saved.current_version != Some(version.number) {
        post(ctx, input, key, reply()).await?;
    }
    Ok(json!({"version": version.number}))
}

/// The lock that serialises releases of one project.
pub(super) fn release_lock(project_id: uuid::Uuid) -> Arc<tokio::sync::Mutex<()>> {
    static LOCKS: OnceLock<Mutex<HashMap<uuid::Uuid, Arc<tokio::sync::Mutex<()>>>>> =
        OnceLock::new();
    let mut locks = LOCKS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    // Forget locks nobody holds, so the map stays as small as the releases in flight.
    locks.retain(|_, l| Arc::strong_count(l) > 1);
    locks.entry(project_id).or_default().clone()
}

/// Counts of (added, changed, removed) paths between two manifests.
fn compare(old: &[FileEntry], new: &[FileEntry]) -> (usize, usize, usize) {
    let added = new
        .iter()
        .filter(|n| !old.iter().any(|o| o.path == n.path))
        .count();
    let removed = old
        .iter()
        .filter(|o| !new.iter().any(|n| n.path == o.path))
        .count();
    let changed = new
        .iter()
        .filter(|n| old.iter().any(|o| o.path == n.path && o.sha256 != n.sha256))
        .count();
    (added, changed, removed)
}

/// Writes the version's files into the repository at `repo` (created on first use) and
/// commits them as "Version N", tagged `vN`.
pub(super) async fn commit_version(
    artifacts: &dyn ArtifactStore,
    repo: &Path,
    version: &Version,
) -> Result<(), AgentError> {
    let mut files = Vec::with_capacity(version.manifest.len());
    for entry in &version.manifest {
        if !is_safe_relative_path(&entry.path) {
            return Err(AgentError::Repository(format!(
                "refusing the path {:?}",
                entry.path
            )));
        }
        files.push((entry.path.clone(), artifacts.get_blob(&entry.sha256).await?));
    }
    let repo = repo.to_path_buf();
    let number = version.number;
    tokio::task::spawn_blocking(move || super::repo::commit(&repo, number, &files))
        .await
        .map_err(|e| AgentError::Repository(e.to_string()))?
        .map_err(AgentError::Repository)
}

/// The version an earlier run of this release made from `message` with these files, if any.
/// That run made it the current version in its last write, or stopped before: so it is the
/// current version or a newer one, and only those are read (newest first; several releases of
/// one project may be under way at once), not the project's whole history.
async fn made_by(
    ctx: &AgentContext,
    project: &Project,
    current: Option<&Version>,
    message: uuid::Uuid,
    manifest: &[FileEntry],
) -> Result<Option<Version>, AgentError> {
    let same = |v: &Version| v.message_id == Some(message) && v.manifest == manifest;
    if let Some(v) = current.filter(|v| same(v)) {
        return Ok(Some(v.clone()));
    }
    let floor = project.current_version.unwrap_or(0);
    let mut page = crate::store::PageRequest::first(RELEASES_PAGE);
    loop {
        let read = ctx.projects.list_versions(project.id, &page).await?;
        for v in read.items {
            if v.number <= floor {
                return Ok(None);
            }
            if same(&v) {
                return Ok(Some(v));
            }
        }
        match read.next_cursor {
            Some(cursor) => page.cursor = Some(cursor),
            None => return Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_relative_paths_are_safe() {
        for ok in ["app/main.py", "README.md", ".github/workflows/ci.yml"] {
            assert!(is_safe_relative_path(ok), "{ok}");
        }
        for bad in [
            "",
            "../x",
            "a/../../x",
            "/etc/passwd",
            "a\0b",
            "a\\..\\b",
            "./a",
            "a//b/..",
            "app/main.py/",
            "app//main.py",
        ] {
            assert!(!is_safe_relative_path(bad), "{bad:?}");
        }
    }

    #[test]
    fn manifests_compare_by_path_and_hash() {
        let e = |p: &str, h: &str| FileEntry {
            path: p.into(),
            sha256: h.into(),
            size: 1,
        };
        let old = [e("a", "1"), e("b", "2"), e("c", "3")];
        let new = [e("a", "1"), e("b", "9"), e("d", "4")];
        assert_eq!(compare(&old, &new), (1, 1, 1));
    }
}
