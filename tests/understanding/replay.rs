//! A conversation replayed as the product manager reads it: the spec it ends in and the intent
//! read for each message, and a trace of each step for reading a mistake.

use std::fmt::Write as _;

use kiln::intent::classify;
use kiln::model::Intent;
use kiln::spec::{understand_after, AppSpec, FieldRef, SpecChange, SpecError};

use super::{label, Case};

/// What replaying a conversation produced.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The final spec (empty when nothing was understood).
    pub spec: AppSpec,
    /// The intent read for each message, in the benchmark's labels.
    pub intents: Vec<&'static str>,
}

/// What reads one message: the spec so far, the project's name, the text, whether it describes
/// the app, the field in focus; as [`understand_after`] does.
pub type Reader<'a> = dyn FnMut(
        Option<&AppSpec>,
        &str,
        &str,
        bool,
        Option<&FieldRef>,
    ) -> Result<(AppSpec, SpecChange), SpecError>
    + 'a;

/// Replays a conversation through the rules.
pub fn replay(case: &Case) -> Outcome {
    replay_with(case, &mut understand_after)
}

/// Replays a conversation the way `POST /projects` and `POST /messages` drive the product
/// manager: the description first, as a message that describes the app, then each message,
/// classified, and read (by `understand_after`) when it describes or changes the app.
pub fn replay_with(case: &Case, understand_after: &mut Reader<'_>) -> Outcome {
    let mut spec: Option<AppSpec> = None;
    let name = case.project.name.trim();
    let description = case.project.description.trim();
    let mut focus: Option<FieldRef> = None;
    if !description.is_empty() {
        if let Ok((next, change)) = understand_after(spec.as_ref(), name, description, true, None) {
            focus = change.focus.clone();
            if !change.is_empty() {
                spec = Some(next);
            }
        }
    }
    let mut intents = Vec::new();
    // The spec of each built version, and the current one, as the pipeline keeps them: build,
    // test and deploy build first when the spec changed; a rollback makes an earlier version's
    // spec current again (the one named, or the one before the current).
    let mut versions: Vec<AppSpec> = Vec::new();
    let mut current: usize = 0;
    for m in &case.messages {
        let intent = classify(&m.text, spec.is_some());
        intents.push(label(intent));
        match intent {
            Intent::Create | Intent::Refine => {
                let describes_app = intent == Intent::Create;
                // As the product manager does: a project has a spec once a message changed it.
                if let Ok((next, change)) =
                    understand_after(spec.as_ref(), name, &m.text, describes_app, focus.as_ref())
                {
                    focus = change.focus.clone();
                    if !change.is_empty() || spec.is_some() {
                        spec = Some(next);
                    }
                }
            }
            Intent::Build | Intent::Test | Intent::Deploy => {
                if let Some(s) = spec.as_ref().filter(|s| !s.resources.is_empty()) {
                    if current == 0 || versions[current - 1] != *s {
                        versions.push(s.clone());
                        current = versions.len();
                    }
                }
            }
            Intent::Rollback => {
                let target = match kiln::intent::version_in(&m.text) {
                    Some(n) => n as usize,
                    None => current.saturating_sub(1),
                };
                if target >= 1 && target <= versions.len() && target != current {
                    current = target;
                    spec = Some(versions[target - 1].clone());
                }
            }
            // A fix changes files, never the spec.
            Intent::Question | Intent::Clone | Intent::Fix => {}
        }
    }
    Outcome {
        spec: spec.unwrap_or_default(),
        intents,
    }
}

/// Each message of a case with the intent read and the spec after it, for reading a mistake.
pub fn trace(case: &Case) -> String {
    let mut out = format!("== {} ({})\n", case.id, case.style);
    let mut spec: Option<AppSpec> = None;
    let name = case.project.name.trim();
    let mut focus: Option<FieldRef> = None;
    let mut texts = vec![(case.project.description.trim().to_owned(), true)];
    texts.extend(case.messages.iter().map(|m| (m.text.clone(), false)));
    for (text, description) in texts {
        if text.is_empty() {
            continue;
        }
        let intent = if description {
            Intent::Create
        } else {
            classify(&text, spec.is_some())
        };
        let _ = writeln!(out, "> {text}\n  [{}]", label(intent));
        if matches!(intent, Intent::Create | Intent::Refine) {
            let describes_app = intent == Intent::Create;
            match understand_after(spec.as_ref(), name, &text, describes_app, focus.as_ref()) {
                Ok((next, change)) => {
                    focus = change.focus.clone();
                    let _ = writeln!(out, "  {}", next.describe());
                    if !change.notes.is_empty() {
                        let _ = writeln!(out, "  notes: {:?}", change.notes);
                    }
                    spec = Some(next);
                }
                Err(e) => {
                    let _ = writeln!(out, "  refused: {e}");
                }
            }
        }
    }
    out
}
