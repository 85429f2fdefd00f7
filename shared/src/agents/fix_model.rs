//! "Fix it" with a configured model: before the rules' repairs, the model is shown the first
//! try's failures, the files their tracebacks run through and the user's changed files, and
//! proposes exact replacements in the app's code (never in the tests, which judge it). A fix
//! that applies becomes the first repair, a version of its own keeping every change of the
//! user's; its suite decides, as for any repair. The model is asked once per request: a fix
//! that does not apply, a provider that fails, or a model that proposes nothing leaves the
//! rules to repair, and the reply says which and what the call cost.

use std::collections::BTreeMap;

use super::backend_developer::MAX_FILES_PER_VERSION;
use super::edits::{listed, put_text};
use super::fixer::FixState;
use super::repairs::{find_repair, repair_version};
use super::{change_and_say, changed_by_mark, AgentContext, AgentError, Step};
use crate::model::{Agent, Block, Message, Version};
use crate::understand::code_fix::judges_the_fix;
use crate::understand::{FixAsked, Fixed};

/// Bytes of files shown to the model in full; the rest are listed by path.
const SHOWN_BYTES: usize = 96 * 1024;

/// The note of the model's repair of `base`, the first repair when there is one.
fn note(base: u32, model: &str) -> String {
    format!("Repair 1 of version {base}: the fix proposed by {model}")
}

/// The files shown in full, most relevant first, within [`SHOWN_BYTES`]: those the failures'
/// tracebacks name (the failing tests' own included), those the user changed, the rest of the
/// app's code, then the others but the tests.
fn shown(files: &BTreeMap<String, String>, traced: &[String], changed: &[String]) -> Vec<String> {
    let app = files.keys().filter(|p| p.starts_with("app/"));
    let others = files.keys().filter(|p| !judges_the_fix(p));
    let mut out: Vec<String> = Vec::new();
    let mut used = 0;
    for path in traced.iter().chain(changed).chain(app).chain(others) {
        let Some(text) = files.get(path) else {
            continue;
        };
        if out.contains(path) || used + text.len() > SHOWN_BYTES {
            continue;
        }
        used += text.len();
        out.push(path.clone());
    }
    out
}

/// How many files `fixed` adds to `base`.
fn added(fixed: &Fixed, base: &Version) -> usize {
    fixed
        .files
        .keys()
        .filter(|p| !base.manifest.iter().any(|f| &f.path == *p))
        .count()
}

/// The model's repair of `base` this request: the version it made (asked now, or found when the
/// model was asked before), with the model's id; `None` when no model is configured or its fix
/// could not be used.
pub(super) async fn repair(
    ctx: &AgentContext,
    run: &crate::model::RunInput,
    base: &Version,
    fix: &FixState,
    changed: &[String],
) -> Result<Option<(Version, String)>, AgentError> {
    if !ctx.understander.repairs_code() {
        return Ok(None);
    }
    // A version made by an earlier run of this step, or for an earlier try, is found by its
    // note; the model is not asked twice.
    let prefix = note(base.number, "");
    let mark = changed_by_mark(run, Step::FixStart);
    if let Some(v) = find_repair(ctx, run, base, |n| n.starts_with(&prefix)).await? {
        let model = v.note.as_deref().unwrap_or_default()[prefix.len()..].to_owned();
        return Ok(Some((v, model)));
    }
    // Asked once per request, before the rules' first repair: a run of this step that said
    // what the model answered (the project holds its mark) does not ask again.
    if fix.attempt > 0 {
        return Ok(None);
    }
    let project = ctx.projects.load_project(run.project_id).await?;
    if project.changed_by.contains(&mark) {
        return Ok(None);
    }
    let mut files = BTreeMap::new();
    for (path, bytes) in super::version_files(ctx, base).await? {
        if let Ok(text) = String::from_utf8(bytes) {
            files.insert(path, text);
        }
    }
    let first = fix.tried.first();
    let traced = first.map(|t| t.traced.clone()).unwrap_or_default();
    let failures = first
        .map(|t| {
            if t.details.is_empty() {
                t.failures.clone()
            } else {
                t.details.clone()
            }
        })
        .unwrap_or_default();
    let shown = shown(&files, &traced, changed);
    let asked = FixAsked {
        files: &files,
        shown: &shown,
        failures: &failures,
        user_changed: changed,
    };
    let Some(proposed) = ctx.understander.propose_fix(&asked).await else {
        return Ok(None);
    };
    let usage = proposed.usage;
    let who = format!("{} ({})", usage.model, usage.provider);
    let added = proposed
        .outcome
        .as_ref()
        .map_or(0, |fixed| added(fixed, base));
    let (made, text) = match proposed.outcome {
        Ok(_) if base.manifest.len() + added > MAX_FILES_PER_VERSION => (
            None,
            format!(
                "{who} proposed a fix that adds {added} files, more than a version may hold; \
                 the rules repair instead."
            ),
        ),
        Ok(fixed) if !fixed.files.is_empty() => {
            let mut manifest = base.manifest.clone();
            for (path, text) in &fixed.files {
                put_text(ctx, &mut manifest, path, text).await?;
            }
            manifest.sort_by(|a, b| a.path.cmp(&b.path));
            let paths: Vec<&String> = fixed.files.keys().collect();
            // None was found above: this is the first run of the step to get this far.
            let note = note(base.number, &usage.model);
            let generated = base.generated_files().to_vec();
            let version = repair_version(ctx, run, base, manifest, generated, note).await?;
            let explanation = fixed.explanation.trim_end_matches('.');
            let text = format!("{who} proposes a fix to {}: {explanation}.", listed(&paths));
            (Some((version, usage.model.clone())), text)
        }
        Ok(fixed) => (
            None,
            format!(
                "{who} proposed no change ({}); the rules repair instead.",
                fixed.explanation.trim_end_matches('.')
            ),
        ),
        Err(why) => (
            None,
            format!("{who} proposed no fix I could use, because {why}; the rules repair instead."),
        ),
    };
    // The reply shows the call and the project counts it, in one write; the run shows it too.
    let mut message =
        Message::from_agent(run.project_id, Agent::BackendDeveloper, run.run_id, text);
    message.blocks.push(Block::Usage {
        usage: usage.clone(),
    });
    change_and_say(ctx, run, (Step::FixStart, "model"), |p| {
        p.model_usage.add(&usage);
        Ok(Some(message.clone()))
    })
    .await?;
    super::product_manager::record_usage(ctx, run, usage).await?;
    Ok(made)
}
