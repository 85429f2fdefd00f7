//! The agents Lambda: runs the one pipeline step named in its input.
//!
//! Input, as the state machine's Task states send it: `{"step": "ProductManager",
//! "run": {project_id, run_id, message_id, intent, owner}, "state": {…}, "error"?: {…}}`;
//! the output is the step's JSON result.

use anyhow::Context;
use kiln::config::Config;
use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    kiln::config::init_lambda_logs();
    let config = Config::from_env().context("reading the configuration")?;
    let sdk = kiln::aws_http::lambda_sdk()
        .map_err(|missing| anyhow::anyhow!("Lambda's environment lacks {missing}"))?;
    let ctx = kiln::backends::agents_lambda_state(&config, &sdk)
        .await?
        .agents
        .clone();
    kiln::https::read_roots();
    let ctx = &ctx;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        kiln_agents_function::handle(ctx, event.payload).await
    }))
    .await
    .map_err(|e| anyhow::anyhow!("lambda runtime: {e}"))
}
