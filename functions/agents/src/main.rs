//! The agents Lambda: runs the one pipeline step named in its input.
//!
//! Input: `{"step": "ProductManager", "input": {project_id, run_id, message_id, intent, owner},
//! "draft": [the files a build wrote so far]}`; the output carries the draft on.

use anyhow::Context;
use kiln::agents::{run_step, Step};
use kiln::config::Config;
use kiln::model::FileEntry;
use kiln::workflow::RunInput;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::{json, Value};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(tracing_subscriber::EnvFilter::new("info"))
        .without_time()
        .init();
    let config = Config::from_env().context("reading the configuration")?;
    let ctx = kiln::backends::local_state(&config).await?.agent_context();
    let ctx = &ctx;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let step: Step = event.payload["step"].as_str().unwrap_or_default().parse()?;
        let input: RunInput = serde_json::from_value(event.payload["input"].clone())?;
        let draft: Option<Vec<FileEntry>> = serde_json::from_value(event.payload["draft"].clone())?;
        let output = run_step(ctx, step, &input, draft.as_deref()).await?;
        Ok::<Value, Error>(
            json!({ "step": step.name(), "changed": output.changed, "draft": output.draft }),
        )
    }))
    .await
    .map_err(|e| anyhow::anyhow!("lambda runtime: {e}"))
}
