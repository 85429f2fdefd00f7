//! The DevOps engineer: builds images, rolls versions out, reports URLs, and rolls back.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use uuid::Uuid;

use super::{change_and_say, update_project, version_files, AgentContext, AgentError, Step};
use crate::intent::{environment_in, version_in};
use crate::model::{
    derived_id, now, Agent, Block, Deployment, DeploymentRef, DeploymentStatus, Environment,
    Intent, Message, ProjectStatus, RunInput,
};
use crate::runner::{Rollout, RolloutStatus};

async fn say(
    ctx: &AgentContext,
    run: &RunInput,
    key: (Step, &str),
    text: String,
    blocks: Vec<Block>,
) -> Result<(), AgentError> {
    super::reply(ctx, run, key, Agent::DevopsEngineer, text, blocks).await
}

/// Starts the image build: `{"image", "done"}`.
pub(super) async fn build_image(ctx: &AgentContext, run: &RunInput) -> Result<Value, AgentError> {
    let project = ctx.projects.load_project(run.project_id).await?;
    let number = project.current_version.ok_or(AgentError::NothingToBuild)?;
    let version = ctx.projects.get_version(project.id, number).await?;
    let files = with_later_revisions(ctx, &project, &version).await?;
    let request = derived_id(run.run_id, Step::DevOpsBuildImage.name());
    let image = ctx
        .deployer
        .build_image(project.id, number, files, request)
        .await?;
    if image.is_some() {
        say(
            ctx,
            run,
            (Step::DevOpsBuildImage, "building"),
            format!("Building the container image of version {number}…"),
            vec![],
        )
        .await?;
    }
    Ok(json!({"image": image, "done": image.is_none()}))
}

/// The version's files, and, when a later version runs somewhere (this is a rollback), that
/// version's migration revisions this one lacks, under `migrations/later/`: the app runs
/// them backwards to bring the database back to its own tables.
async fn with_later_revisions(
    ctx: &AgentContext,
    project: &crate::model::Project,
    version: &crate::model::Version,
) -> Result<Vec<crate::runner::File>, AgentError> {
    let mut files = version_files(ctx, version).await?;
    let newest = project
        .deployments
        .iter()
        .map(|d| d.version)
        .filter(|n| *n > version.number)
        .max();
    let Some(newest) = newest else {
        return Ok(files);
    };
    let later = ctx.projects.get_version(project.id, newest).await?;
    for entry in &later.manifest {
        let Some(name) = entry.path.strip_prefix("migrations/versions/") else {
            continue;
        };
        if version.manifest.iter().any(|e| e.path == entry.path) {
            continue;
        }
        files.push((
            format!("migrations/later/{name}"),
            ctx.artifacts.get_blob(&entry.sha256).await?,
        ));
    }
    Ok(files)
}

/// Polls the image build: `{"image", "done"}`.
pub(super) async fn image_check(ctx: &AgentContext, state: &Value) -> Result<Value, AgentError> {
    let image = state["image"]["image"].as_str();
    let done = ctx.deployer.image_ready(image).await?;
    Ok(json!({"image": image, "done": done}))
}

/// One environment's rollout, carried between the deploy steps (and read by the smoke test).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Target {
    pub(super) environment: Environment,
    pub(super) deployment_id: Uuid,
    pub(super) version: u32,
    pub(super) rollout: Rollout,
    /// When the rollout must answer its health check by, in Unix seconds.
    #[serde(default)]
    deadline: Option<i64>,
    #[serde(default)]
    pub(super) outcome: Option<String>,
    #[serde(default)]
    failure: Option<String>,
    /// Deployed over the review's blocking findings, because the message said so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    review_override: Option<crate::model::ReviewOverride>,
    /// What it was estimated to cost a month, and who confirmed it, when someone had to.
    #[serde(default)]
    monthly_usd: Option<f64>,
    #[serde(default)]
    confirmed_by: Option<Uuid>,
    /// The deployment this one replaces in its environment, if one ran there: what a failed
    /// smoke test rolls the environment back to.
    #[serde(default)]
    pub(super) replaced: Option<DeploymentRef>,
}

/// Starts the current version in the environment the message names (dev by default), or,
/// after a rollback, in every environment that was deployed; after a failed smoke test
/// (`state.revert`), the version each failed environment ran before, there:
/// `{"targets", "done": false}`.
pub(super) async fn deploy(
    ctx: &AgentContext,
    run: &RunInput,
    state: &Value,
) -> Result<Value, AgentError> {
    if !state["revert"].is_null() {
        return revert(ctx, run, state).await;
    }
    // What the estimate before it said (a rollback has none).
    let monthly_usd = state["estimate"]["monthly_usd"].as_f64();
    let confirmed_by = state["estimate"]["confirmed_by"]
        .as_str()
        .and_then(|id| id.parse().ok());
    let project = ctx.projects.load_project(run.project_id).await?;
    let number = project.current_version.ok_or(AgentError::NothingToBuild)?;
    let environments: Vec<Environment> = if run.intent == Intent::Rollback {
        project.deployments.iter().map(|d| d.environment).collect()
    } else {
        let message = ctx
            .projects
            .get_message(run.project_id, run.message_id)
            .await?;
        vec![environment_in(&message.content).unwrap_or(Environment::Dev)]
    };
    check_live_cap(ctx, &project, &environments).await?;
    let review_override =
        super::reviewer::deploy_override(ctx, run, (&project, number), state).await?;
    let version = ctx.projects.get_version(project.id, number).await?;
    let files = with_later_revisions(ctx, &project, &version).await?;
    let mut targets = Vec::new();
    for environment in environments {
        // The deployment, and the rollout it names, are the run's for that environment: a
        // repeat of this step finds both instead of starting another.
        let id = derived_id(
            run.run_id,
            &format!("{}/{}", Step::DevOpsDeploy.name(), environment.as_str()),
        );
        let rollout = ctx
            .deployer
            .deploy(project.id, environment, number, files.clone(), id)
            .await?;
        let deployment = Deployment {
            id,
            project_id: project.id,
            environment,
            version: number,
            status: DeploymentStatus::Pending,
            url: Some(rollout.url.clone()),
            resources: rollout.resources.clone(),
            monthly_usd,
            confirmed_by,
            logs: String::new(),
            review_override: review_override.clone(),
            created_at: now(),
        };
        ctx.projects.put_deployment(&deployment).await?;
        targets.push(Target {
            environment,
            deployment_id: deployment.id,
            version: number,
            rollout,
            deadline: Some(now().unix_timestamp() + ctx.deploy_timeout.as_secs() as i64),
            outcome: None,
            failure: None,
            review_override: review_override.clone(),
            monthly_usd,
            confirmed_by,
            replaced: project
                .deployments
                .iter()
                .find(|d| d.environment == environment)
                .cloned(),
        });
    }
    let names: Vec<&str> = targets.iter().map(|t| t.environment.as_str()).collect();
    say(
        ctx,
        run,
        (Step::DevOpsDeploy, "starting"),
        format!("Starting version {number} in {}…", names.join(", ")),
        vec![],
    )
    .await?;
    Ok(json!({"targets": targets, "done": false}))
}

/// Starts, in each environment whose new version failed its smoke test, the version it ran
/// before (`state.revert.revert`), through the same rollout as any deploy. Its image was built
/// when it was first deployed. The deployments are the run's own (`DevOpsDeploy/revert/{env}`),
/// so a repeat finds them.
async fn revert(ctx: &AgentContext, run: &RunInput, state: &Value) -> Result<Value, AgentError> {
    // The deployments the failed ones replaced.
    let reverts: Vec<DeploymentRef> = serde_json::from_value(state["revert"]["revert"].clone())
        .map_err(|e| AgentError::BadInput(format!("state.revert.revert: {e}")))?;
    let project = ctx.projects.load_project(run.project_id).await?;
    let mut targets = Vec::new();
    let mut said = Vec::new();
    for r in reverts {
        let monthly_usd = r.monthly_usd;
        let version = ctx.projects.get_version(project.id, r.version).await?;
        let files = with_later_revisions(ctx, &project, &version).await?;
        let id = derived_id(
            run.run_id,
            &format!(
                "{}/revert/{}",
                Step::DevOpsDeploy.name(),
                r.environment.as_str()
            ),
        );
        let rollout = ctx
            .deployer
            .deploy(project.id, r.environment, r.version, files, id)
            .await?;
        ctx.projects
            .put_deployment(&Deployment {
                id,
                project_id: project.id,
                environment: r.environment,
                version: r.version,
                status: DeploymentStatus::Pending,
                url: Some(rollout.url.clone()),
                resources: rollout.resources.clone(),
                monthly_usd,
                confirmed_by: None,
                // Going back to what ran before overrides nothing.
                review_override: None,
                logs: String::new(),
                created_at: now(),
            })
            .await?;
        said.push(format!(
            "{} to version {}",
            r.environment.as_str(),
            r.version
        ));
        targets.push(Target {
            environment: r.environment,
            deployment_id: id,
            version: r.version,
            rollout,
            deadline: Some(now().unix_timestamp() + ctx.deploy_timeout.as_secs() as i64),
            outcome: None,
            failure: None,
            monthly_usd,
            confirmed_by: None,
            review_override: None,
            replaced: None,
        });
    }
    say(
        ctx,
        run,
        (Step::DevOpsDeploy, "reverting"),
        format!("Rolling {} back…", said.join(", ")),
        vec![],
    )
    .await?;
    Ok(json!({"targets": targets, "done": false}))
}

/// Refuses a deploy that would take the owner past the most apps one owner may run at once.
/// Environments of this project that run already are replaced, not added.
async fn check_live_cap(
    ctx: &AgentContext,
    project: &crate::model::Project,
    environments: &[Environment],
) -> Result<(), AgentError> {
    let adding = environments
        .iter()
        .filter(|e| !project.deployments.iter().any(|d| d.environment == **e))
        .count();
    if adding == 0 {
        return Ok(());
    }
    let running = running_apps(ctx, &project.owner).await?.len();
    let cap = ctx.max_live_deployments;
    if running + adding > cap {
        return Err(AgentError::Refused(format!(
            "you have {running} app(s) running, and one account may run at most {cap} at once; \
             delete a project you no longer need (that stops its apps), then say \"deploy it\" again"
        )));
    }
    Ok(())
}

/// Every app the owner has running: each project's deployment per environment, with the
/// project's id.
pub(super) async fn running_apps(
    ctx: &AgentContext,
    owner: &crate::model::Owner,
) -> Result<Vec<(Uuid, DeploymentRef)>, AgentError> {
    let mut running = Vec::new();
    let mut page = crate::store::PageRequest::first(100);
    loop {
        let listed = ctx.projects.list_projects(owner, &page).await?;
        for summary in &listed.items {
            let project = ctx.projects.load_project(summary.id).await?;
            running.extend(project.deployments.into_iter().map(|d| (project.id, d)));
        }
        match listed.next_cursor {
            Some(cursor) => page.cursor = Some(cursor),
            None => break,
        }
    }
    Ok(running)
}

pub(super) fn targets_of(state: &Value) -> Result<Vec<Target>, AgentError> {
    serde_json::from_value(state["deploy"]["targets"].clone())
        .map_err(|e| AgentError::BadInput(format!("state.deploy.targets: {e}")))
}

/// Polls every rollout until each is running or failed: `{"targets", "done"}`.
pub(super) async fn check(
    ctx: &AgentContext,
    _run: &RunInput,
    state: &Value,
) -> Result<Value, AgentError> {
    let mut targets = targets_of(state)?;
    let mut done = true;
    for t in targets.iter_mut().filter(|t| t.outcome.is_none()) {
        match ctx.deployer.rollout_status(&t.rollout).await? {
            // Past its deadline a rollout has failed, whatever the backend still says.
            RolloutStatus::Pending if t.deadline.is_some_and(|d| now().unix_timestamp() > d) => {
                t.outcome = Some("failed".into());
                t.failure = Some(format!(
                    "the app did not answer its health check within {} s",
                    ctx.deploy_timeout.as_secs()
                ));
            }
            RolloutStatus::Pending => done = false,
            RolloutStatus::Running => t.outcome = Some("running".into()),
            RolloutStatus::Failed(log) => {
                t.outcome = Some("failed".into());
                t.failure = Some(log);
            }
        }
    }
    Ok(json!({"targets": targets, "done": done}))
}

/// Records the deployments and replies with their URLs.
pub(super) async fn report(
    ctx: &AgentContext,
    run: &RunInput,
    state: &Value,
) -> Result<Value, AgentError> {
    let targets = targets_of(state)?;
    let mut blocks = Vec::new();
    let mut failures = Vec::new();
    for t in &targets {
        let running = t.outcome.as_deref() == Some("running");
        let logs = match &t.failure {
            Some(f) => f.clone(),
            None => ctx.deployer.logs(&t.rollout).await,
        };
        let deployment = Deployment {
            id: t.deployment_id,
            project_id: run.project_id,
            environment: t.environment,
            version: t.version,
            status: if running {
                DeploymentStatus::Running
            } else {
                DeploymentStatus::Failed
            },
            url: Some(t.rollout.url.clone()),
            resources: t.rollout.resources.clone(),
            monthly_usd: t.monthly_usd,
            confirmed_by: t.confirmed_by,
            logs,
            review_override: t.review_override.clone(),
            created_at: now(),
        };
        ctx.projects.put_deployment(&deployment).await?;
        if running {
            blocks.push(Block::Link {
                label: format!("{} (version {})", t.environment.as_str(), t.version),
                url: t.rollout.url.clone(),
            });
        } else {
            failures.push(format!(
                "{}: {}",
                t.environment.as_str(),
                t.failure.clone().unwrap_or_default()
            ));
        }
    }
    let live: Vec<&Target> = targets
        .iter()
        .filter(|t| t.outcome.as_deref() == Some("running"))
        .collect();
    update_project(ctx, run.project_id, |p| {
        for t in &live {
            p.deployments.retain(|d| d.environment != t.environment);
            p.deployments.push(DeploymentRef {
                environment: t.environment,
                deployment_id: t.deployment_id,
                url: Some(t.rollout.url.clone()),
                version: t.version,
                monthly_usd: t.monthly_usd,
            });
        }
        p.deployments.sort_by_key(|d| d.environment);
        if !live.is_empty() {
            p.status = ProjectStatus::Deployed;
        }
        Ok(!live.is_empty())
    })
    .await?;
    if !live.is_empty() {
        let lines: Vec<String> = live
            .iter()
            .map(|t| format!("{} at {}", t.environment.as_str(), t.rollout.url))
            .collect();
        let text = format!(
            "Version {} is live: {}. Try {}health, or the interactive docs at {}docs.",
            live[0].version,
            lines.join(", "),
            live[0].rollout.url,
            live[0].rollout.url
        );
        // A rollback after a failed smoke test says so under its own key.
        let what = if state["revert"].is_null() {
            "live"
        } else {
            "live-again"
        };
        say(ctx, run, (Step::DevOpsReport, what), text, blocks).await?;
    }
    if !failures.is_empty() {
        return Err(AgentError::Refused(format!(
            "the deployment did not come up. {}",
            failures.join("; ").chars().take(3000).collect::<String>()
        )));
    }
    Ok(Value::Null)
}

/// Makes an earlier version current (the one the message names, or the one before):
/// `{"redeploy"}`, true when the project runs somewhere and must follow.
pub(super) async fn rollback(ctx: &AgentContext, run: &RunInput) -> Result<Value, AgentError> {
    let message = ctx
        .projects
        .get_message(run.project_id, run.message_id)
        .await?;
    let project = ctx.projects.load_project(run.project_id).await?;
    if project
        .changed_by
        .contains(&super::changed_by_mark(run, Step::Rollback))
    {
        // An earlier run of this step rolled back, and said so in the same write.
        return Ok(json!({"redeploy": !project.deployments.is_empty()}));
    }
    let current = project.current_version.ok_or_else(|| {
        AgentError::Refused("nothing has been built yet, so there is nothing to roll back".into())
    })?;
    let target = match version_in(&message.content) {
        Some(n) => n,
        None if current > 1 => current - 1,
        None => {
            return Err(AgentError::Refused(
                "version 1 is the only version; there is nothing earlier".into(),
            ))
        }
    };
    if target == current {
        return Err(AgentError::Refused(format!(
            "version {target} is already the current one"
        )));
    }
    let version = match ctx.projects.get_version(project.id, target).await {
        Ok(v) => v,
        Err(crate::store::StoreError::NotFound(_)) => {
            return Err(AgentError::Refused(format!(
                "there is no version {target}; the latest is {current}"
            )))
        }
        Err(e) => return Err(e.into()),
    };
    let (saved, _) = change_and_say(ctx, run, (Step::Rollback, "done"), |p| {
        p.current_version = Some(version.number);
        if let Some(spec) = &version.spec {
            p.spec = Some(spec.clone());
            // Back to that version's names: nothing is renamed since it.
            p.renamed.clear();
            p.design = Some(crate::generator::design_for(spec));
        }
        let redeploy = !p.deployments.is_empty();
        let text = format!(
            "Version {target} is the current version again (it was {current}){}",
            if redeploy {
                "; redeploying it where the project runs."
            } else {
                "."
            }
        );
        let mut reply =
            Message::from_agent(run.project_id, Agent::DevopsEngineer, run.run_id, text);
        reply.blocks.push(Block::FileList {
            version: target,
            files: version.manifest.clone(),
        });
        Ok(Some(reply))
    })
    .await?;
    let redeploy = !saved.deployments.is_empty();
    Ok(json!({"redeploy": redeploy}))
}
