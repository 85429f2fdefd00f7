//! "Fix it": a repair loop that knows when to stop.
//!
//! Try 0 runs the current version's suite as it is, to learn what fails. Each repair after it
//! (at most [`MAX_REPAIRS`] in all) is a version of its own. With a model configured, the first
//! is the fix the model proposes (`fix_model.rs`): exact replacements in the app's code, never
//! in the tests, keeping the user's other changes; the rules then have the repairs left. The
//! rules' repairs are made from the failing version: what Kiln generates now for its spec, with
//! the user's changes re-applied where they still apply (merged three ways), except in the
//! files a repair sets aside, which take the generated text. The repairs set aside more each
//! time: first the user's changes in the files the failures' tracebacks name, then those in the
//! app's code, then all of them (files the user added are kept; after a model's fix the last is
//! reached only when an earlier one is skipped). A repair whose files are those of the failing
//! version or of an earlier repair is skipped. Each repair's suite runs; the loop stops when
//! one passes (that version becomes current), when a repair fails the same way as a try before
//! it (the same failures, by signature: test, exception type, message normalised; a model's
//! fix failing as before missed the cause and leaves the rules to go on), when no repair is
//! left, or after the last, and says what it tried, what still fails and which of the user's
//! changes it traces to. A repair that did not pass stays a version the user can diff or roll
//! back to.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::backend_developer::generated_for;
use super::edits::listed;
use super::qa_engineer::named;
use super::repairs::{find_repair, repair_version, repaired, user_changed};
use super::{reply, update_project, version_files, AgentContext, AgentError, Step};
use crate::model::{
    derived_id, sha256_hex, Agent, Block, FileEntry, ProjectStatus, RunInput, TestReport, Version,
};
use crate::runner::{TestJob, TestStatus};

/// Most repairs one request tries.
pub const MAX_REPAIRS: u32 = 3;
/// Failures of a try the diagnosis names.
const NAMED: usize = 5;
/// Characters of a failure's message a model is shown.
const DETAIL_CHARS: usize = 800;

/// What a try found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Try {
    /// 0 for the failing version as it is, then each repair.
    pub attempt: u32,
    /// The version tested.
    pub version: u32,
    /// The files whose user changes it set aside (none for try 0).
    pub set_aside: Vec<String>,
    /// Failing tests, of how many.
    pub failing: u32,
    /// Tests in all.
    pub total: u32,
    /// SHA-256 of its failures' signatures, sorted: two tries that fail the same way have the
    /// same.
    pub signature: String,
    /// The first failures, named with their causes.
    pub failures: Vec<String>,
    /// The project files its failures' tracebacks name.
    pub traced: Vec<String>,
    /// The first failures with their messages, as a model is shown them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<String>,
    /// The model whose fix it tested, for a model's repair.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by_model: Option<String>,
}

/// The loop's state, carried by the pipeline under `$.state.fix`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FixState {
    /// The failing version, as the user asked for it to be fixed.
    pub base: u32,
    /// The try under way.
    pub attempt: u32,
    /// The version its suite runs on.
    pub version: u32,
    /// Its files' user changes set aside.
    pub set_aside: Vec<String>,
    /// Its suite.
    pub job: TestJob,
    /// Earlier tries.
    pub tried: Vec<Try>,
    /// What the pipeline does next: `wait` (for the suite), `again` (the next repair), `done`.
    pub next: String,
    /// The model whose fix the try tests, for a model's repair.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by_model: Option<String>,
}

fn state_of(state: &Value) -> Result<Option<FixState>, AgentError> {
    match state.get("fix") {
        None | Some(Value::Null) => Ok(None),
        Some(v) => serde_json::from_value(v.clone())
            .map(Some)
            .map_err(|e| AgentError::BadInput(format!("state.fix: {e}"))),
    }
}

fn out(fix: &FixState) -> Result<Value, AgentError> {
    serde_json::to_value(fix).map_err(|e| AgentError::BadInput(format!("state.fix: {e}")))
}

async fn say(
    ctx: &AgentContext,
    run: &RunInput,
    what: &str,
    text: String,
    blocks: Vec<Block>,
) -> Result<(), AgentError> {
    let key = (Step::FixStart, what);
    reply(ctx, run, key, Agent::BackendDeveloper, text, blocks).await
}

/// Starts a try: the failing version's suite (try 0), or the next repair's.
pub(super) async fn start(
    ctx: &AgentContext,
    run: &RunInput,
    state: &Value,
) -> Result<Value, AgentError> {
    let project = ctx.projects.load_project(run.project_id).await?;
    let Some(previous) = state_of(state)? else {
        let base = project.current_version.ok_or(AgentError::NothingToBuild)?;
        let version = ctx.projects.get_version(project.id, base).await?;
        super::qa_engineer::prepare(ctx, run, Step::FixStart).await?;
        let job = start_suite(ctx, run, &version, 0).await?;
        say(
            ctx,
            run,
            "try-0",
            format!("Running the tests of version {base} first, to see what fails…"),
            Vec::new(),
        )
        .await?;
        return out(&FixState {
            base,
            attempt: 0,
            version: base,
            set_aside: Vec::new(),
            job,
            tried: Vec::new(),
            next: "wait".into(),
            by_model: None,
        });
    };
    let base = ctx.projects.get_version(project.id, previous.base).await?;
    let changed = user_changed(&base);
    let traced: BTreeSet<&str> = previous
        .tried
        .first()
        .map(|t| t.traced.iter().map(String::as_str).collect())
        .unwrap_or_default();
    // The repairs, from the least set aside to the most, each once; the ones whose files are
    // another's are skipped.
    let ladder: [Vec<String>; 3] = [
        changed
            .iter()
            .filter(|p| traced.contains(p.as_str()))
            .cloned()
            .collect(),
        changed
            .iter()
            .filter(|p| traced.contains(p.as_str()) || p.starts_with("app/"))
            .cloned()
            .collect(),
        changed.clone(),
    ];
    let mut seen: Vec<Vec<FileEntry>> = vec![base.manifest.clone()];
    let mut attempt = 0;
    // A configured model's fix first: the one repair that may keep every change of the user's.
    if let Some((version, model)) =
        super::fix_model::repair(ctx, run, &base, &previous, &changed).await?
    {
        seen.push(version.manifest.clone());
        attempt += 1;
        if attempt > previous.attempt {
            let job = start_suite(ctx, run, &version, attempt).await?;
            let text = format!(
                "Repair {attempt}: version {} takes the fix {model} proposed, keeping your \
                 changes; running its tests…",
                version.number
            );
            say(ctx, run, &format!("try-{attempt}"), text, Vec::new()).await?;
            return out(&FixState {
                attempt,
                version: version.number,
                set_aside: Vec::new(),
                job,
                next: "wait".into(),
                by_model: Some(model),
                ..previous
            });
        }
    }
    // The rules' repairs start from what Kiln generates for the version's spec now.
    let generated = generated_for(ctx, &project.name, &base).await?;
    for set_aside in ladder {
        let files = repaired(ctx, &base, &generated, &set_aside).await?;
        if seen.contains(&files) {
            continue;
        }
        seen.push(files.clone());
        attempt += 1;
        if attempt <= previous.attempt {
            continue;
        }
        let note = format!(
            "Repair {attempt} of version {}: your changes to {} set aside",
            base.number,
            listed(&set_aside)
        );
        let version = match find_repair(ctx, run, &base, |n| n == note).await? {
            Some(v) => v,
            None => repair_version(ctx, run, &base, files, generated.clone(), note).await?,
        };
        let job = start_suite(ctx, run, &version, attempt).await?;
        let text = format!(
            "Repair {attempt}: version {} sets aside your changes to {} and takes what Kiln \
             generates there; running its tests…",
            version.number,
            listed(&set_aside)
        );
        say(ctx, run, &format!("try-{attempt}"), text, Vec::new()).await?;
        return out(&FixState {
            attempt,
            version: version.number,
            set_aside,
            job,
            next: "wait".into(),
            by_model: None,
            ..previous
        });
    }
    // No repair left that differs from what was tried.
    let text = diagnosis(&previous, &changed, "No other repair is left to try.");
    say(ctx, run, "diagnosis", text, Vec::new()).await?;
    Err(AgentError::NotFixed(previous.attempt))
}

async fn start_suite(
    ctx: &AgentContext,
    run: &RunInput,
    version: &Version,
    attempt: u32,
) -> Result<TestJob, AgentError> {
    let files = version_files(ctx, version).await?;
    // Named by the run, the try and the version: a repeat of this step gets the suite the first
    // started, and no other version is ever handed another's suite.
    let request = derived_id(
        run.run_id,
        &format!("FixStart/{attempt}/v{}", version.number),
    );
    Ok(ctx
        .tests
        .start(run.project_id, version.number, files, request)
        .await?)
}

/// What a finished suite says as a try.
fn try_of(fix: &FixState, report: &TestReport) -> Try {
    let mut signatures: Vec<String> = report.failures.iter().map(|f| f.signature()).collect();
    signatures.sort();
    signatures.push(format!(
        "{} failing, {} omitted, timed out {}",
        report.failed + report.errors,
        report.omitted_failures,
        report.timed_out
    ));
    let mut traced: Vec<String> = Vec::new();
    for f in &report.failures {
        let test_file = f
            .name
            .split_once("::")
            .map(|(module, _)| format!("{}.py", module.replace('.', "/")));
        let files = f.cause.iter().flat_map(|c| c.files.iter().cloned());
        for path in files.chain(test_file) {
            if !traced.contains(&path) && traced.len() < 50 {
                traced.push(path);
            }
        }
    }
    Try {
        attempt: fix.attempt,
        version: fix.version,
        set_aside: fix.set_aside.clone(),
        failing: report.failed + report.errors,
        total: report.passed + report.failed + report.errors,
        signature: sha256_hex(signatures.join("\n").as_bytes()),
        failures: report.failures.iter().take(NAMED).map(named).collect(),
        traced,
        // What a model is shown: the first try's failures, each message cut short.
        details: if fix.attempt == 0 {
            report
                .failures
                .iter()
                .take(NAMED)
                .map(|f| {
                    let message: String = f.message.chars().take(DETAIL_CHARS).collect();
                    format!("{}: {}", named(f), message.trim())
                })
                .collect()
        } else {
            Vec::new()
        },
        by_model: fix.by_model.clone(),
    }
}

/// Checks the try's suite; when it ended, decides: done (passed, or stop), or again.
pub(super) async fn check(
    ctx: &AgentContext,
    run: &RunInput,
    state: &Value,
) -> Result<Value, AgentError> {
    let mut fix = state_of(state)?.ok_or_else(|| AgentError::BadInput("state.fix".into()))?;
    let report = match ctx.tests.poll(&fix.job).await? {
        TestStatus::Running => {
            fix.next = "wait".into();
            return out(&fix);
        }
        TestStatus::Finished(report) => report.fitted(),
    };
    let done = try_of(&fix, &report);
    let project = ctx.projects.load_project(run.project_id).await?;
    let base = ctx.projects.get_version(project.id, fix.base).await?;
    let changed = user_changed(&base);
    let block = Block::TestReport {
        version: fix.version,
        report: report.clone(),
    };
    let key = format!("result-{}", fix.attempt);
    if report.all_passed() {
        if fix.attempt == 0 {
            let text = format!(
                "All {} tests of version {} pass: there is nothing to fix.",
                done.total, fix.base
            );
            say(ctx, run, &key, text, vec![block]).await?;
            fix.next = "done".into();
            return out(&fix);
        }
        let number = fix.version;
        update_project(ctx, run.project_id, |p| {
            if p.current_version.is_some_and(|c| c >= number) {
                return Ok(false);
            }
            p.current_version = Some(number);
            p.tested_version = Some(number);
            p.status = ProjectStatus::Tested;
            Ok(true)
        })
        .await?;
        fix.tried.push(done.clone());
        let text = match &done.by_model {
            Some(model) => format!(
                "Repair {} fixed it: version {number}, the fix {model} proposed, passes all {} \
                 tests and is now current. It keeps your changes; compare it with version {} \
                 to see what the fix changed.",
                fix.attempt, done.total, fix.base,
            ),
            None => format!(
                "Repair {} fixed it: version {number} passes all {} tests and is now current. \
                 It sets aside your changes to {}; {} Version {} keeps them: compare the two \
                 versions to take back what still applies.",
                fix.attempt,
                done.total,
                listed(&done.set_aside),
                traced_to(&fix.tried[0], &done.set_aside),
                fix.base,
            ),
        };
        say(ctx, run, &key, text, vec![block]).await?;
        fix.next = "done".into();
        return out(&fix);
    }
    let repeated = fix
        .tried
        .iter()
        .find(|t| t.signature == done.signature)
        .cloned();
    fix.tried.push(done.clone());
    if fix.attempt == 0 {
        if changed.is_empty() && !ctx.understander.repairs_code() {
            let text = diagnosis(
                &fix,
                &changed,
                "It holds no changes of yours: its code is what Kiln generates for the spec, so \
                 the rules have nothing to set aside.",
            );
            say(ctx, run, &key, text, vec![block]).await?;
            return Err(AgentError::NotFixed(0));
        }
        say(
            ctx,
            run,
            &key,
            format!(
                "{} of {} tests fail as they are: {}.",
                done.failing,
                done.total,
                done.failures.join("; ")
            ),
            vec![block],
        )
        .await?;
        fix.next = "again".into();
        return out(&fix);
    }
    // A model's fix that leaves the failures as they were missed the cause; the rules' repairs
    // are another way, not a repeat of it, so they still go on.
    let missed = repeated.is_some() && done.by_model.is_some();
    let stop = match repeated {
        Some(_) if missed => None,
        Some(t) => Some(format!(
            "Repair {} failed the same way as {}, so I stopped.",
            fix.attempt,
            if t.attempt == 0 {
                format!("version {} itself", t.version)
            } else {
                format!("repair {}", t.attempt)
            }
        )),
        None if fix.attempt >= MAX_REPAIRS => {
            Some(format!("That was the last of {MAX_REPAIRS} repairs."))
        }
        None => None,
    };
    match stop {
        Some(why) => {
            let text = diagnosis(&fix, &changed, &why);
            say(ctx, run, &key, text, vec![block]).await?;
            Err(AgentError::NotFixed(fix.attempt))
        }
        None => {
            let mut text = format!(
                "Repair {} (version {}): {} of {} tests still fail: {}.",
                fix.attempt,
                fix.version,
                done.failing,
                done.total,
                done.failures.join("; ")
            );
            if missed {
                text.push_str(" They fail as before: the model's fix did not reach the cause");
                text.push_str(if changed.is_empty() {
                    "."
                } else {
                    "; the rules repair next."
                });
            }
            say(ctx, run, &key, text, vec![block]).await?;
            fix.next = "again".into();
            out(&fix)
        }
    }
}

/// Which of the user's changes the first failures trace to, given the files whose changes a
/// passing repair set aside.
fn traced_to(first: &Try, set_aside: &[String]) -> String {
    let named: Vec<String> = set_aside
        .iter()
        .filter(|p| first.traced.contains(p))
        .cloned()
        .collect();
    if named.is_empty() {
        "the failures' tracebacks did not name those files, so which change broke the tests is \
         not known more closely."
            .into()
    } else {
        format!("the failures trace to your change of {}.", listed(&named))
    }
}

/// What was tried, what still fails, and which user change it traces to.
fn diagnosis(fix: &FixState, changed: &[String], why: &str) -> String {
    let mut text = format!("I could not fix version {}. {why}", fix.base);
    text.push_str(" What I tried:");
    for t in &fix.tried {
        let what = if t.attempt == 0 {
            format!("version {} as it is", t.version)
        } else if let Some(model) = &t.by_model {
            format!(
                "repair {} (version {}, the fix {model} proposed)",
                t.attempt, t.version
            )
        } else {
            format!(
                "repair {} (version {}, your changes to {} set aside)",
                t.attempt,
                t.version,
                listed(&t.set_aside)
            )
        };
        text.push_str(&format!(" {what}: {} of {} failing;", t.failing, t.total));
    }
    text.pop();
    text.push('.');
    if let Some(last) = fix.tried.last() {
        text.push_str(&format!(" Still failing: {}.", last.failures.join("; ")));
    }
    let first = fix.tried.first();
    let traced: Vec<String> = changed
        .iter()
        .filter(|p| first.is_some_and(|t| t.traced.contains(p)))
        .cloned()
        .collect();
    let all_aside = fix
        .tried
        .iter()
        .any(|t| t.attempt > 0 && t.set_aside.len() == changed.len());
    text.push_str(&if !traced.is_empty() && !all_aside {
        format!(
            " The failures' tracebacks run through your change of {}.",
            listed(&traced)
        )
    } else if all_aside || changed.is_empty() {
        " They do not trace to your changes: the tests fail with all of them set aside, in \
         the code Kiln generates for the spec."
            .to_owned()
    } else {
        format!(
            " Your changes are to {}; the failures' tracebacks name none of them.",
            listed(changed)
        )
    });
    text.push_str(" Each repair is a version you can compare or roll back to.");
    text
}
