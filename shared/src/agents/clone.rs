//! Cloning: a project copied into a new one of the same owner, with its own history.
//!
//! The copy gets the spec and design, the current version's files as its version 1, and a
//! summary of what the original's conversation asked for as its first message. Version 1's
//! migrations are made anew from its spec: the original's chain (one revision per version it
//! built) would not match the history of the copy, whose next version migrates from its own
//! version 1. Its README is written again under the new name. The original is not changed.
//!
//! One id names the copy from the start (for a chat request, made from the run's id), so a
//! step that runs again finds the copy the first attempt made and finishes it instead of
//! making a second one.

use serde_json::{json, Value};
use uuid::Uuid;

use super::backend_developer::{commit_version, store_files};
use super::{post, AgentContext, AgentError, Step};
use crate::generator::{generate_readme, generate_version, GeneratedFile, SchemaVersion};
use crate::model::{
    copy_name, derived_id, now, project_name_error, Agent, Block, FileEntry, Intent, Message,
    Owner, Project, ProjectStatus, Role, RunInput, Version,
};
use crate::store::{PageRequest, StoreError, MAX_PAGE};

/// Where a version's migrations live; the copy's are made anew.
const MIGRATIONS: &str = "migrations/versions/";
/// How many of the original's newest messages the summary reads.
const MESSAGES_READ: usize = 1_000;
/// How many requirements the summary lists, newest kept.
const REQUIREMENTS_LISTED: usize = 30;
/// Longest requirement quoted in the summary, in characters.
const REQUIREMENT_CHARS: usize = 200;

/// Copies the project `source` of `owner` into a new project `id` named `name` (or
/// "<name> (copy)"), counted against the owner's projects (`max_projects_per_owner`). Running
/// it again with the same id finishes and returns the same copy.
pub async fn clone_project(
    ctx: &AgentContext,
    owner: &Owner,
    source: Uuid,
    name: Option<&str>,
    id: Uuid,
) -> Result<Project, AgentError> {
    let original = ctx.projects.get_project(owner, source).await?;
    let name = match name.map(str::trim) {
        Some(given) => given.to_owned(),
        None => copy_name(&original.name),
    };
    if let Some(problem) = project_name_error(&name) {
        return Err(AgentError::Refused(format!(
            "the copy cannot be named that: {problem}"
        )));
    }
    let version = match original.current_version {
        Some(n) => Some(ctx.projects.get_version(source, n).await?),
        None => None,
    };
    // A version made before versions recorded their spec cannot have its migrations made
    // anew: the copy then starts from the spec alone.
    let version = version.filter(|v| v.spec.is_some());
    let manifest = match &version {
        Some(v) => Some(copied_files(ctx, v, &name).await?),
        None => None,
    };

    let mut copy = Project::new(owner.clone(), name, original.description.clone());
    copy.id = id;
    copy.spec = original.spec.clone();
    copy.design = original.design.clone();
    if version.is_some() {
        // Renames since the original's current version are still to be migrated, now from
        // the copy's version 1, which is that version.
        copy.renamed = original.renamed.clone();
    }
    copy.status = if copy.spec.is_some() {
        ProjectStatus::Specified
    } else {
        ProjectStatus::New
    };
    match ctx
        .projects
        .create_project_within(&copy, ctx.max_projects_per_owner)
        .await
    {
        Ok(()) => {}
        // Made by an earlier attempt of the same request: finish that one.
        Err(StoreError::Conflict(_)) if made_before(ctx, owner, id).await? => {}
        Err(e) => return Err(e.into()),
    }

    let mut first = None;
    if let (Some(v), Some(manifest)) = (&version, manifest) {
        let made = Version {
            project_id: id,
            number: 1,
            message_id: None,
            manifest,
            spec: v.spec.clone(),
            renames: Vec::new(),
            created_at: now(),
            author: crate::model::Author::Kiln,
            note: None,
            generated: None,
        };
        let made = match ctx.projects.create_version(&made).await {
            Ok(()) => made,
            // Made by an earlier attempt: that one stands.
            Err(StoreError::Conflict(_)) => ctx.projects.get_version(id, 1).await?,
            Err(e) => return Err(e.into()),
        };
        if let Some(root) = &ctx.repos {
            commit_version(ctx.artifacts.as_ref(), &root.join(id.to_string()), &made).await?;
        }
        first = Some(made);
        super::update_project(ctx, id, |p| {
            if p.current_version.is_some() {
                return Ok(false);
            }
            p.current_version = Some(1);
            p.status = ProjectStatus::Built;
            Ok(true)
        })
        .await?;
    }

    let copy = ctx.projects.load_project(id).await?;
    let mut opening = Message::from_agent(
        id,
        Agent::ProductManager,
        id,
        summary_text(&original, version.as_ref()),
    );
    opening.run_id = None;
    opening.client_id = Some(format!("clone/{id}/summary"));
    opening.blocks = summary_blocks(ctx, &original, &copy, first).await?;
    ctx.projects.append_message(&opening).await?;
    tracing::info!(source = %source, copy = %id, "project cloned");
    Ok(copy)
}

/// Whether the project `id` exists and is the owner's: a copy an earlier attempt made.
async fn made_before(ctx: &AgentContext, owner: &Owner, id: Uuid) -> Result<bool, AgentError> {
    match ctx.projects.get_project(owner, id).await {
        Ok(_) => Ok(true),
        Err(StoreError::NotFound(_)) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// The version's files as the copy's version 1: everything as it is (the same blobs, which
/// are addressed by content, so nothing is read or written again), but the migrations made
/// anew from the version's spec as a first version, and the README under the copy's name.
async fn copied_files(
    ctx: &AgentContext,
    version: &Version,
    name: &str,
) -> Result<Vec<FileEntry>, AgentError> {
    let spec = version
        .spec
        .as_ref()
        .ok_or_else(|| AgentError::BadInput("a version without its spec".into()))?;
    let kept = |e: &&FileEntry| !e.path.starts_with(MIGRATIONS) && e.path != "README.md";
    let mut manifest: Vec<FileEntry> = version.manifest.iter().filter(kept).cloned().collect();
    let mut fresh: Vec<GeneratedFile> = generate_version(&[SchemaVersion {
        number: 1,
        spec,
        renames: &[],
    }])?
    .into_iter()
    .filter(|f| f.path.starts_with(MIGRATIONS))
    .collect();
    if version.manifest.iter().any(|e| e.path == "README.md") {
        fresh.push(generate_readme(spec, name)?);
    }
    manifest.extend(store_files(ctx.artifacts.as_ref(), &fresh).await?);
    manifest.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(manifest)
}

fn summary_text(original: &Project, version: Option<&Version>) -> String {
    let what = match version {
        Some(v) => format!(
            "its spec and version {}'s {} files, which are this project's version 1",
            v.number,
            v.manifest.len()
        ),
        None if original.spec.is_some() => "its spec (nothing was built yet)".to_owned(),
        None => "its description (nothing was described yet)".to_owned(),
    };
    format!(
        "This project is a copy of \"{}\": {what}. Its history starts here: the original and \
         its deployments are unchanged, and nothing of this copy is deployed yet. Keep refining, \
         or say \"run the tests\" or \"deploy it\".",
        original.name
    )
}

/// What the original's conversation asked for (its description and the messages that
/// described or changed the app), the design, and the copy's files.
async fn summary_blocks(
    ctx: &AgentContext,
    original: &Project,
    copy: &Project,
    first: Option<Version>,
) -> Result<Vec<Block>, AgentError> {
    let mut blocks = Vec::new();
    let asked = requirements(ctx, original).await?;
    if !asked.is_empty() {
        blocks.push(Block::Plan {
            title: "What the original's conversation asked for".into(),
            items: asked,
        });
    }
    if let Some(design) = &copy.design {
        blocks.push(Block::Plan {
            title: "Endpoints".into(),
            items: design.endpoint_lines(),
        });
    }
    if let Some(v) = first {
        blocks.push(Block::FileList {
            version: v.number,
            files: v.manifest,
        });
    }
    Ok(blocks)
}

/// The user's messages that described or changed the app, oldest first: the newest
/// [`REQUIREMENTS_LISTED`] of the conversation's first [`MESSAGES_READ`] messages.
async fn requirements(ctx: &AgentContext, original: &Project) -> Result<Vec<String>, AgentError> {
    let mut texts = Vec::new();
    let mut page = PageRequest {
        limit: Some(MAX_PAGE),
        cursor: None,
    };
    let mut read = 0;
    loop {
        let messages = ctx.projects.list_messages(original.id, &page).await?;
        read += messages.items.len();
        texts.extend(
            messages
                .items
                .into_iter()
                .filter(|m| m.role == Role::User)
                .map(|m| m.content),
        );
        match messages.next_cursor {
            Some(cursor) if read < MESSAGES_READ => page.cursor = Some(cursor),
            _ => break,
        }
    }
    let mut asked: Vec<String> = texts
        .iter()
        .filter(|t| {
            matches!(
                crate::intent::classify(t, true),
                Intent::Create | Intent::Refine
            )
        })
        .map(|t| quote(t))
        .collect();
    if asked.is_empty() && !original.description.trim().is_empty() {
        asked.push(quote(&original.description));
    }
    let excess = asked.len().saturating_sub(REQUIREMENTS_LISTED);
    asked.drain(..excess);
    Ok(asked)
}

/// One line of a requirement, shortened with an ellipsis.
fn quote(text: &str) -> String {
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() <= REQUIREMENT_CHARS {
        line
    } else {
        let cut: String = line.chars().take(REQUIREMENT_CHARS - 1).collect();
        format!("{}…", cut.trim_end())
    }
}

/// The `Clone` step: "clone this project as Inventory v2" makes the copy and says where it is.
pub(super) async fn from_chat(ctx: &AgentContext, run: &RunInput) -> Result<Value, AgentError> {
    let message = ctx
        .projects
        .get_message(run.project_id, run.message_id)
        .await?;
    let name = crate::intent::clone_name_in(&message.content);
    let copy = clone_project(
        ctx,
        &run.owner,
        run.project_id,
        name.as_deref(),
        // The run's own id for its copy: a repeat of the step finishes the same one.
        derived_id(run.run_id, Step::Clone.name()),
    )
    .await
    .map_err(|e| match e {
        AgentError::Store(StoreError::LimitReached(n)) => AgentError::Refused(format!(
            "you have {n} projects, the most one owner may have: delete one to make a copy"
        )),
        other => other,
    })?;
    let text = format!(
        "Made a copy of this project: \"{}\"{}. Its history starts at {}; this project is unchanged.",
        copy.name,
        if name.is_none() {
            " (say \"clone this project as <name>\" to choose the name)"
        } else {
            ""
        },
        match copy.current_version {
            Some(_) => "version 1, this project's current code",
            None => "its spec, nothing built yet",
        }
    );
    let mut reply = Message::from_agent(run.project_id, Agent::ProductManager, run.run_id, text);
    reply.blocks.push(Block::Project {
        project_id: copy.id,
        name: copy.name.clone(),
    });
    post(ctx, run, (Step::Clone, "made"), reply).await?;
    Ok(json!({"project_id": copy.id}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_requirements_are_cut_on_one_line() {
        assert_eq!(quote("tasks have\n  a title"), "tasks have a title");
        let long = "x".repeat(500);
        let q = quote(&long);
        assert_eq!(q.chars().count(), REQUIREMENT_CHARS);
        assert!(q.ends_with('…'));
    }
}
