//! The api Lambda: API Gateway (HTTP API) events in, the shared v2 router out.
//!
//! Backends are built once per cold start. Until the AWS backends land, this serves the local
//! backend from the function's writable `/tmp` (set `KILN_DATA_DIR=/tmp/kiln`).

use anyhow::Context;
use kiln::config::Config;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(tracing_subscriber::EnvFilter::new("info"))
        .without_time()
        .init();
    let config = Config::from_env().context("reading the configuration")?;
    let state = kiln::backends::local_state(&config).await?;
    let app = kiln::api::router(state);
    lambda_http::run(app)
        .await
        .map_err(|e| anyhow::anyhow!("lambda runtime: {e}"))
}
