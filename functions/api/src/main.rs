//! The api Lambda: API Gateway (HTTP API) events in, the shared v2 router out.
//!
//! Backends are built once per cold start, from the environment; only `KILN_BACKEND=aws`.

use anyhow::Context;
use aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use kiln::config::Config;
use lambda_runtime::{service_fn, LambdaEvent};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    kiln::config::init_lambda_logs();
    let config = Config::from_env().context("reading the configuration")?;
    let sdk = kiln::aws_http::lambda_sdk()
        .map_err(|missing| anyhow::anyhow!("Lambda's environment lacks {missing}"))?;
    let state = kiln::backends::api_lambda_state(&config, &sdk).await?;
    kiln::https::read_roots();
    let app = kiln_api_function::app(state);
    let app = &app;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<ApiGatewayV2httpRequest>| async move {
            Ok::<_, std::convert::Infallible>(kiln_api_function::handle(app, event.payload).await)
        },
    ))
    .await
    .map_err(|e| anyhow::anyhow!("lambda runtime: {e}"))
}
