//! The code reviewer: reviews each version before it may be deployed (Kiln's own checks, and
//! ruff, bandit and pip-audit where the version's tests run), records the review on the
//! project by version, and replies with its findings. A deploy over blocking findings that the
//! user asked for ("deploy anyway") is recorded on the run and the deployment, and said.

use serde_json::{json, Value};

use super::{change_and_say, version_files, AgentContext, AgentError, Step};
use crate::model::{
    derived_id, Agent, Block, Intent, Message, Project, Review, ReviewOverride, ReviewRecord,
    RunInput,
};
use crate::review::{own_checks, ReviewContext};
use crate::runner::review::name_files;
use crate::runner::{ReviewStatus, TestJob};
use crate::spec::AuthFeature;

async fn say(
    ctx: &AgentContext,
    run: &RunInput,
    key: (Step, &str),
    text: String,
) -> Result<(), AgentError> {
    super::reply(ctx, run, key, Agent::CodeReviewer, text, vec![]).await
}

/// Starts the review of the current version: `{"version", "done", "passed"?, "job"?}`. A
/// version reviewed before is not reviewed again (versions never change): its recorded review
/// answers at once.
pub(super) async fn start(ctx: &AgentContext, run: &RunInput) -> Result<Value, AgentError> {
    let project = ctx.projects.load_project(run.project_id).await?;
    let number = project.current_version.ok_or(AgentError::NothingToBuild)?;
    if let Some(record) = project.review_of(number) {
        return Ok(json!({"version": number, "done": true, "passed": record.passed()}));
    }
    if ctx.tests.needs_environment().await {
        say(
            ctx,
            run,
            (Step::Review, "setting-up"),
            "Setting up the Python environment for the review's tools and the tests. This \
             happens once and takes a minute or two…"
                .into(),
        )
        .await?;
        let how = ctx.tests.prepare_environment().await?;
        say(
            ctx,
            run,
            (Step::Review, "environment-ready"),
            format!("The environment is ready ({how})."),
        )
        .await?;
    }
    let version = ctx.projects.get_version(project.id, number).await?;
    let files = version_files(ctx, &version).await?;
    // Named by the run: a repeat of this step gets the job the first run started.
    let request = derived_id(run.run_id, Step::Review.name());
    let job = ctx
        .tests
        .start_review(project.id, number, files, request)
        .await?;
    say(
        ctx,
        run,
        (Step::Review, "reviewing"),
        format!("Reviewing version {number}: Kiln's own checks, ruff, bandit and pip-audit…"),
    )
    .await?;
    Ok(json!({"job": job, "version": number, "done": false}))
}

/// Polls the review's tools; once they finished, adds Kiln's own checks, records the review on
/// the project and replies with it: `{"version", "done", "passed"?, "job"?}`.
pub(super) async fn check(
    ctx: &AgentContext,
    run: &RunInput,
    state: &Value,
) -> Result<Value, AgentError> {
    let job: TestJob = serde_json::from_value(state["review"]["job"].clone())
        .map_err(|e| AgentError::BadInput(format!("state.review.job: {e}")))?;
    let number = state["review"]["version"]
        .as_u64()
        .ok_or_else(|| AgentError::BadInput("state.review.version".into()))?
        as u32;
    let ReviewStatus::Finished(mut found) = ctx.tests.poll_review(&job).await? else {
        return Ok(json!({"job": job, "version": number, "done": false}));
    };
    let version = ctx.projects.get_version(run.project_id, number).await?;
    let files = version_files(ctx, &version).await?;
    let paths: Vec<String> = files.iter().map(|(p, _)| p.clone()).collect();
    name_files(&mut found, &paths);
    let auth = version
        .spec
        .as_ref()
        .is_some_and(|s| s.features.auth != AuthFeature::None);
    found.extend(own_checks(&files, ReviewContext { auth }));
    let review = Review::of(found);
    let (project, _) = change_and_say(ctx, run, (Step::ReviewCheck, "review"), |p| {
        if p.review_of(number).is_some() {
            // Another run reviewed it meanwhile: its review stands.
            return Ok(None);
        }
        p.reviews.push(ReviewRecord::of(number, &review));
        let excess = p.reviews.len().saturating_sub(ReviewRecord::KEPT);
        p.reviews.drain(..excess);
        let mut reply = Message::from_agent(
            run.project_id,
            Agent::CodeReviewer,
            run.run_id,
            verdict(number, &review),
        );
        reply.blocks = vec![Block::Review {
            version: number,
            review: review.clone(),
        }];
        Ok(Some(reply))
    })
    .await?;
    let passed = project
        .review_of(number)
        .map_or(review.passed(), ReviewRecord::passed);
    Ok(json!({"version": number, "done": true, "passed": passed}))
}

/// What the reviewer says of a review.
fn verdict(number: u32, review: &Review) -> String {
    let c = review.counts;
    if review.findings.is_empty() && review.omitted == 0 {
        format!(
            "Version {number} passed its review: Kiln's own checks, ruff, bandit and pip-audit \
             found nothing."
        )
    } else if review.passed() {
        format!(
            "Version {number} passed its review: nothing of high severity ({} medium, {} low; \
             the findings are below).",
            c.medium, c.low
        )
    } else {
        format!(
            "Version {number}'s review found {} high-severity issue(s): {}. I will not deploy it \
             until they are fixed; say \"deploy anyway\" to deploy over them.",
            c.high,
            named(&ReviewRecord::of(number, review))
        )
    }
}

/// The blocking findings of a record, by file, line and rule.
pub(super) fn named(record: &ReviewRecord) -> String {
    let mut names: Vec<String> = record.blocking.iter().map(|f| f.short()).collect();
    if record.counts.high as usize > names.len() {
        names.push(format!(
            "and {} more",
            record.counts.high as usize - names.len()
        ));
    }
    names.join(", ")
}

/// Whether a deploy request's message says to deploy over the review's findings.
pub(super) fn overrides(run: &RunInput, message: &str) -> bool {
    run.intent == Intent::Deploy && crate::intent::overrides_review(message)
}

/// Whether a deploy request overrides the review gate for the project's current version: its
/// message says so, or it confirms a waiting deploy of that version whose message said so
/// ("deploy to prod anyway", then "yes, deploy to prod").
pub(super) fn overrides_in(run: &RunInput, project: &Project, message: &str) -> bool {
    let confirmed_override = project.awaiting_confirmation.as_ref().is_some_and(|a| {
        a.review_override
            && Some(a.version) == project.current_version
            && crate::intent::environment_in(message).unwrap_or(crate::model::Environment::Dev)
                == a.environment
            && crate::intent::confirms(message)
    });
    overrides(run, message) || (run.intent == Intent::Deploy && confirmed_override)
}

/// The override a deploy of version `number` makes, if it goes out over blocking findings
/// because the plan says its message asked to (`state.plan.review_override`, what opened the
/// `ReviewPassed?` gate); recorded on the run and said once. `None` for every other deploy (a
/// review that passed, a rollback, a message that did not ask).
pub(super) async fn deploy_override(
    ctx: &AgentContext,
    run: &RunInput,
    (project, number): (&Project, u32),
    state: &Value,
) -> Result<Option<ReviewOverride>, AgentError> {
    let Some(record) = project.review_of(number).filter(|r| !r.passed()) else {
        return Ok(None);
    };
    if run.intent != Intent::Deploy || state["plan"]["review_override"] != Value::Bool(true) {
        return Ok(None);
    }
    let message = ctx
        .projects
        .get_message(run.project_id, run.message_id)
        .await?;
    let given = ReviewOverride {
        version: number,
        high: record.counts.high,
        said: message.content.chars().take(200).collect(),
    };
    let mut stored = ctx.projects.get_run(run.project_id, run.run_id).await?;
    if stored.review_override.as_ref() != Some(&given) {
        stored.review_override = Some(given.clone());
        stored.updated_at = crate::model::now();
        ctx.projects.update_run(&stored).await?;
    }
    say(
        ctx,
        run,
        (Step::DevOpsDeploy, "review-override"),
        format!(
            "Deploying version {number} over its review's {} high-severity finding(s) ({}), as \
             you asked. This is recorded on the run and the deployment.",
            record.counts.high,
            named(record)
        ),
    )
    .await?;
    Ok(Some(given))
}
