//! The DevOps engineer's word before a deploy: what the version would cost a month on AWS
//! (said before its first deploy to an environment), and the user's confirmation where a
//! deploy needs one: every deploy to prod, and, where deploys are billed, one that would
//! take the owner's running apps over `KILN_MONTHLY_BUDGET_USD`. A deploy that waits ends
//! the run with the question; the next deploy message that confirms it ("yes, deploy to
//! prod", the button the UI offers) goes on, and the deployment records that message.

use serde_json::{json, Value};

use super::cost::{estimate as price, Workload};
use super::{change_and_say, post, AgentContext, AgentError, Step};
use crate::intent::{confirms, environment_in};
use crate::model::{
    Agent, AwaitingConfirmation, Block, CostEstimate, DeploymentStatus, Environment, Message,
    Project, RunInput, Version,
};

/// The stack template a version deploys with.
const TEMPLATE: &str = "deploy/cloudformation.yaml";

/// The `Estimate` step: `{"go", "monthly_usd", "confirmed_by"}`; `go` false when the deploy
/// waits for the user's confirmation.
pub(super) async fn estimate(ctx: &AgentContext, run: &RunInput) -> Result<Value, AgentError> {
    let project = ctx.projects.load_project(run.project_id).await?;
    let number = project.current_version.ok_or(AgentError::NothingToBuild)?;
    let message = ctx
        .projects
        .get_message(run.project_id, run.message_id)
        .await?;
    let environment = environment_in(&message.content).unwrap_or(Environment::Dev);
    let version = ctx.projects.get_version(project.id, number).await?;
    let estimate = estimate_for(ctx, &project, &version, environment).await?;
    let monthly = estimate.as_ref().ok().map(|e| e.monthly_usd);
    let reasons = reasons(ctx, &project, environment, &estimate).await?;
    let block = |reasons: Vec<String>, confirm: Option<String>| match &estimate {
        Ok(e) => vec![Block::Cost {
            environment,
            version: number,
            estimate: e.clone(),
            reasons,
            confirm,
        }],
        Err(_) => Vec::new(),
    };
    let said = match &estimate {
        Ok(e) => format!(
            "Version {number} in {} would cost about ${:.2} a month on AWS ({}, prices of {}){}.",
            environment.as_str(),
            e.monthly_usd,
            e.region,
            e.prices_date,
            if e.billed {
                ""
            } else {
                "; here it runs on this machine, for free"
            }
        ),
        Err(why) => format!("What version {number} would cost on AWS cannot be estimated: {why}."),
    };
    if reasons.is_empty() {
        if first_deploy(ctx, &project, environment, number).await? {
            let mut reply = devops(run, said);
            reply.blocks = block(Vec::new(), None);
            post(ctx, run, (Step::DevOpsEstimate, "estimate"), reply).await?;
        }
        return Ok(json!({"go": true, "monthly_usd": monthly, "confirmed_by": null}));
    }

    let asked = Some(AwaitingConfirmation {
        environment,
        version: number,
        monthly_usd: monthly.unwrap_or(0.0),
        review_override: super::reviewer::overrides(run, &message.content),
    });
    let waiting_for_this = |p: &Project| {
        p.awaiting_confirmation
            .as_ref()
            .is_some_and(|a| a.environment == environment && a.version == number)
    };
    let confirmed = confirms(&message.content) && waiting_for_this(&project);
    let confirm = format!("yes, deploy to {}", environment.as_str());
    let (now, repeat) = change_and_say(ctx, run, (Step::DevOpsEstimate, "confirmation"), |p| {
        if confirmed {
            p.awaiting_confirmation = None;
            Ok(Some(devops(
                run,
                format!(
                    "Confirmed: deploying version {number} to {} ({}).",
                    environment.as_str(),
                    reasons.join("; ")
                ),
            )))
        } else {
            p.awaiting_confirmation = asked.clone();
            let mut reply = devops(
                run,
                format!(
                    "{said} This deploy waits for your confirmation: {}. Say \"{confirm}\" to go ahead.",
                    reasons.join("; ")
                ),
            );
            reply.blocks = block(reasons.clone(), Some(confirm.clone()));
            Ok(Some(reply))
        }
    })
    .await?;
    // A repeat of this step (a retry after a lost answer) goes the way the first attempt
    // went: on only if that attempt took the confirmation.
    let go = if repeat {
        !waiting_for_this(&now)
    } else {
        confirmed
    };
    Ok(decision(go, monthly, &message))
}

fn decision(go: bool, monthly: Option<f64>, message: &Message) -> Value {
    json!({
        "go": go,
        "monthly_usd": monthly,
        "confirmed_by": if go { Some(message.id) } else { None },
    })
}

fn devops(run: &RunInput, text: String) -> Message {
    Message::from_agent(run.project_id, Agent::DevopsEngineer, run.run_id, text)
}

/// The version's month on AWS in the environment, or why it cannot be priced.
async fn estimate_for(
    ctx: &AgentContext,
    project: &Project,
    version: &Version,
    environment: Environment,
) -> Result<Result<CostEstimate, String>, AgentError> {
    let costs = &ctx.costs;
    let table = match &costs.table {
        Ok(t) => t,
        Err(e) => return Ok(Err(e.clone())),
    };
    let Some(entry) = version.manifest.iter().find(|e| e.path == TEMPLATE) else {
        return Ok(Err(format!("version {} has no {TEMPLATE}", version.number)));
    };
    let template =
        String::from_utf8_lossy(&ctx.artifacts.get_blob(&entry.sha256).await?).into_owned();
    let (vcpu, memory_gb, tasks) = match Workload::from_template(&template) {
        Ok(size) => size,
        Err(e) => return Ok(Err(e)),
    };
    // The apps the installation's load balancer serves once this one runs.
    // (One app per project environment: a record a later rollout replaced may still say it
    // runs.)
    let mut apps: std::collections::BTreeSet<(uuid::Uuid, Environment)> = ctx
        .projects
        .live_deployments()
        .await?
        .into_iter()
        .map(|d| (d.project_id, d.environment))
        .collect();
    apps.insert((project.id, environment));
    let apps = apps.len();
    let database = version
        .spec
        .as_ref()
        .is_some_and(|s| s.features.database != crate::spec::DatabaseFeature::None);
    let workload = Workload {
        vcpu,
        memory_gb,
        tasks,
        database,
        log_retention_days: costs.log_retention_days,
        apps_on_load_balancer: u32::try_from(apps).unwrap_or(u32::MAX),
    };
    Ok(price(table, &costs.region, &workload, costs.billed))
}

/// Why the deploy needs the user's confirmation; empty when it does not.
async fn reasons(
    ctx: &AgentContext,
    project: &Project,
    environment: Environment,
    estimate: &Result<CostEstimate, String>,
) -> Result<Vec<String>, AgentError> {
    let mut reasons = Vec::new();
    if environment == Environment::Prod {
        reasons.push("every deploy to prod is confirmed first".to_owned());
    }
    let Some(budget) = ctx.costs.monthly_budget_usd.filter(|_| ctx.costs.billed) else {
        return Ok(reasons);
    };
    match estimate {
        Err(_) => reasons.push(format!(
            "its cost is unknown, so it may go over your budget of ${budget:.2} a month"
        )),
        Ok(e) => {
            let others = running_cost(ctx, project, environment).await?;
            let total = others + e.monthly_usd;
            if total > budget {
                reasons.push(format!(
                    "your running apps would then cost about ${total:.2} a month, over your \
                     budget of ${budget:.2}"
                ));
            }
        }
    }
    Ok(reasons)
}

/// What the owner's other running apps were estimated to cost a month (the one this deploy
/// replaces left out).
async fn running_cost(
    ctx: &AgentContext,
    project: &Project,
    environment: Environment,
) -> Result<f64, AgentError> {
    let running = super::devops_engineer::running_apps(ctx, &project.owner).await?;
    Ok(running
        .iter()
        .filter(|(id, d)| !(*id == project.id && d.environment == environment))
        .filter_map(|(_, d)| d.monthly_usd)
        .sum())
}

/// Whether the version never ran in the environment before.
async fn first_deploy(
    ctx: &AgentContext,
    project: &Project,
    environment: Environment,
    number: u32,
) -> Result<bool, AgentError> {
    let earlier = ctx.projects.list_deployments(project.id).await?;
    Ok(!earlier.iter().any(|d| {
        d.environment == environment
            && d.version == number
            && matches!(
                d.status,
                DeploymentStatus::Running | DeploymentStatus::Stopped
            )
    }))
}
