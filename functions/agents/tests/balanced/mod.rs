//! The installation with the live test's load balancer and Fargate stand-in
//! (`live/stand_ins/balancer.rs`: the image's source under uvicorn, found through the
//! listener's rules) answering at its apps URL, so that a deploy's smoke and load tests reach
//! the app as the agents Lambda reaches it on AWS: at the load balancer's address.
#![allow(dead_code)]

#[path = "../live/stand_ins/balancer.rs"]
mod balancer;

use crate::installation::{installation_knowing, Installation};
use kiln_integration_tests::fake_osv::Advisory;

/// The installation, its apps URL, and the stand-in's server (stopped when aborted); each
/// smoke test is followed by a load test of `requests`.
pub async fn installation_with_balancer(
    requests: u32,
) -> (Installation, String, tokio::task::JoinHandle<()>) {
    installation_with_balancer_where(requests, |_| {}).await
}

/// The same, with `edit` made to the settings as well.
pub async fn installation_with_balancer_where(
    requests: u32,
    edit: impl FnOnce(&mut kiln::config::Config),
) -> (Installation, String, tokio::task::JoinHandle<()>) {
    installation_with_balancer_knowing(requests, Vec::new(), edit).await
}

/// The same, its reviews asking a vulnerability database that knows `advisories`.
pub async fn installation_with_balancer_knowing(
    requests: u32,
    advisories: Vec<Advisory>,
    edit: impl FnOnce(&mut kiln::config::Config),
) -> (Installation, String, tokio::task::JoinHandle<()>) {
    let socket = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let apps_url = format!("http://{}", socket.local_addr().unwrap());
    let aws = installation_knowing(advisories, |c| {
        c.aws.apps_url = Some(apps_url.clone());
        c.load_test_requests = requests;
        edit(c);
    })
    .await;
    let lb = balancer::Balancer::new(&aws);
    let app = axum::Router::new()
        .fallback(balancer::balancer_call)
        .with_state(lb);
    let served = tokio::spawn(async move { axum::serve(socket, app).await.unwrap() });
    (aws, apps_url, served)
}
