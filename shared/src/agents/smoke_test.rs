//! QA's check of a live deployment, after DevOpsReport: the smoke test (`smoke_calls.rs`) and
//! the load test (`runner::load`), and what a failed smoke test leads to: each failed
//! environment goes back to the deployment it replaced (through the same rollout as any
//! deploy), or, when nothing ran there before, is stopped; the run ends failed with
//! `smoke_failed`. The rollback is smoke-tested too, but never rolled back again.

use serde_json::{json, Value};

use super::devops_engineer::targets_of;
use super::{update_project, AgentContext, AgentError, Step};
use crate::model::{
    Agent, Block, DeploymentStatus, Environment, LoadReport, RunInput, SmokeReport,
};
use crate::runner::{load_test, AppUrl};

/// What the smoke test of one environment found.
struct Checked {
    environment: Environment,
    version: u32,
    smoke: SmokeReport,
    load: Option<LoadReport>,
    /// Why the load test did not run, when it did not.
    no_load: Option<&'static str>,
}

/// Smoke-tests, then load-tests, every environment the deploy made live, and replies with a
/// `load_test` block each: `{"passed", "failed": [env], "revert": [{environment, version}],
/// "reverting", "stop": [env]}`. `revert` names the failed environments that ran something
/// before (and what), `stop` those that did not.
pub(super) async fn smoke_test(
    ctx: &AgentContext,
    run: &RunInput,
    state: &Value,
) -> Result<Value, AgentError> {
    let targets = targets_of(state)?;
    let recorded = ctx.projects.list_deployments(run.project_id).await?;
    let mut checked = Vec::new();
    let (mut revert, mut stop, mut failed) = (Vec::new(), Vec::new(), Vec::new());
    for t in targets
        .iter()
        .filter(|t| t.outcome.as_deref() == Some("running"))
    {
        // Only ever the deployment's own URL, as recorded when it went live.
        let url = recorded
            .iter()
            .find(|d| d.id == t.deployment_id)
            .and_then(|d| d.url.clone())
            .filter(|u| *u == t.rollout.url)
            .ok_or_else(|| {
                AgentError::BadInput(format!(
                    "the deployment to {} has no recorded URL matching its rollout",
                    t.environment.as_str()
                ))
            })?;
        let app = AppUrl::new(&url)?;
        let spec = ctx
            .projects
            .get_version(run.project_id, t.version)
            .await?
            .spec
            .unwrap_or_default();
        let nonce = (uuid::Uuid::new_v4().as_u128() % 1_000_000) as u32;
        let outcome = super::smoke_test(&app, &spec, nonce).await;
        let (load, no_load) = if !outcome.report.passed {
            (None, Some("the smoke test failed"))
        } else if spec.features.rate_limit {
            // The app answers 429 past its limit per client, and on AWS the load balancer's
            // health checks share the client: a load test would fail them.
            (None, Some("the app limits requests per client"))
        } else if ctx.load_test.requests == 0 {
            (None, Some("load tests are off here"))
        } else {
            let settings = ctx.load_test;
            let report = load_test(&app, &outcome.safe_paths, &outcome.headers, settings).await?;
            (Some(report), None)
        };
        if !outcome.report.passed {
            failed.push(t.environment);
            match &t.replaced {
                Some(before) => revert.push(before.clone()),
                None => stop.push(t.environment),
            }
        }
        checked.push(Checked {
            environment: t.environment,
            version: t.version,
            smoke: outcome.report,
            load,
            no_load,
        });
    }
    let text = checked.iter().map(describe).collect::<Vec<_>>().join(" ");
    let blocks = checked
        .into_iter()
        .map(|c| Block::LoadTest {
            environment: c.environment,
            version: c.version,
            smoke: c.smoke,
            load: c.load,
        })
        .collect();
    // The rollback's own smoke test says its findings under another key.
    let what = if state["revert"].is_null() {
        "found"
    } else {
        "found-after-rollback"
    };
    super::reply(
        ctx,
        run,
        (Step::SmokeTest, what),
        Agent::QaEngineer,
        text,
        blocks,
    )
    .await?;
    Ok(json!({
        "passed": failed.is_empty(),
        "failed": failed,
        "revert": revert,
        "reverting": !revert.is_empty(),
        "stop": stop,
    }))
}

/// One sentence on one environment's checks.
fn describe(c: &Checked) -> String {
    let env = c.environment.as_str();
    let smoke = &c.smoke;
    if !smoke.passed {
        let first = smoke.failures.first().map_or(String::new(), |f| {
            format!(" (first: {} {} — {})", f.method, f.path, f.problem)
        });
        return format!(
            "Smoke test of version {} in {env}: {} of {} calls did not answer as documented{first}.",
            c.version,
            smoke.failures.len(),
            smoke.calls
        );
    }
    let load = match (&c.load, c.no_load) {
        (Some(l), _) => format!(
            " Load test: {} requests at {} connections in {} ms, {:.1} requests/s, p50 {} ms, p95 {} ms, p99 {} ms, {:.1}% errors.",
            l.requests, l.concurrency, l.duration_ms, l.rps, l.p50_ms, l.p95_ms, l.p99_ms,
            l.error_rate * 100.0
        ),
        (None, Some(why)) => format!(" No load test: {why}."),
        (None, None) => String::new(),
    };
    format!(
        "Smoke test of version {} in {env}: all {} calls answered as documented.{load}",
        c.version, smoke.calls
    )
}

/// The run's end after a failed smoke test: stops each failed environment that ran nothing
/// before (its deployment marked failed, the project no longer naming it), says what each
/// rollback did (the rollback's own smoke test is in `state.smoke`), and fails the run with
/// `smoke_failed`.
pub(super) async fn smoke_failed(
    ctx: &AgentContext,
    run: &RunInput,
    state: &Value,
) -> Result<Value, AgentError> {
    // After a rollback, `state.revert` holds the first smoke test's outcome.
    let reverted = !state["revert"].is_null();
    let first = if reverted {
        &state["revert"]
    } else {
        &state["smoke"]
    };
    let list = |v: &Value| -> Result<Vec<Environment>, AgentError> {
        serde_json::from_value(v.clone()).map_err(|e| AgentError::BadInput(e.to_string()))
    };
    let failed = list(&first["failed"])?;
    let stop = list(&first["stop"])?;
    let reverts: Vec<crate::model::DeploymentRef> = serde_json::from_value(first["revert"].clone())
        .map_err(|e| AgentError::BadInput(format!("revert: {e}")))?;
    let targets = targets_of(state)?;
    for environment in &stop {
        ctx.deployer
            .stop(run.project_id, Some(*environment))
            .await?;
        let Some(t) = targets.iter().find(|t| t.environment == *environment) else {
            continue;
        };
        let mut records = ctx.projects.list_deployments(run.project_id).await?;
        if let Some(mut d) = records.drain(..).find(|d| d.id == t.deployment_id) {
            if d.status != DeploymentStatus::Failed {
                d.status = DeploymentStatus::Failed;
                ctx.projects.put_deployment(&d).await?;
            }
        }
        let id = t.deployment_id;
        update_project(ctx, run.project_id, |p| {
            let before = p.deployments.len();
            p.deployments
                .retain(|d| !(d.environment == *environment && d.deployment_id == id));
            Ok(p.deployments.len() != before)
        })
        .await?;
    }
    let names: Vec<&str> = failed.iter().map(|e| e.as_str()).collect();
    let mut parts = vec![format!(
        "the new version failed its smoke test in {} (the report above says which calls)",
        names.join(", ")
    )];
    if !stop.is_empty() {
        let stopped: Vec<&str> = stop.iter().map(|e| e.as_str()).collect();
        parts.push(format!(
            "nothing ran in {} before, so I stopped it",
            stopped.join(", ")
        ));
    }
    if !reverts.is_empty() {
        let back: Vec<String> = reverts
            .iter()
            .map(|r| format!("{} back to version {}", r.environment.as_str(), r.version))
            .collect();
        let how = if state["smoke"]["passed"] == Value::Bool(true) {
            "which answers again"
        } else {
            "but that failed its smoke test too; it is left running as it was before"
        };
        parts.push(format!("I rolled {}, {how}", back.join(", ")));
    }
    let cause = format!("{}.", parts.join("; "));
    super::pipeline::fail_run(
        ctx,
        run,
        &json!({"Error": "Kiln.smoke_failed", "Cause": cause}),
        Some(Step::SmokeFailed),
    )
    .await?;
    Ok(Value::Null)
}
