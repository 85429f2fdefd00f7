//! The live acceptance test: the walkthrough of `walkthrough.rs` (sign in, describe, build,
//! test, deploy, change and deploy again, roll back, delete, and nothing left running), run
//!
//! - against a deployed installation when `KILN_AWS_STACK` names its stack (with the AWS
//!   credentials and region of the environment; see infra/README.md), and
//! - always against the same installation on moto, through the same code, with stand-ins for
//!   what moto does not run (`stand_ins.rs`).
//!
//! And the contract tests for what moto does not enforce but the walkthrough relies on: the
//! stack's outputs and the web client's sign-in flows.

#[path = "../installation/mod.rs"]
mod installation;
mod stack;
mod stand_ins;
mod walkthrough;

use std::time::Duration;

use walkthrough::{read_stack, walkthrough, Clients, Pace};

fn template() -> serde_yaml::Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../infra/template.yaml");
    serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The stack publishes every output the walkthrough reads (moto's stand-in stack has them
/// because the stand-in writes them; this is what makes them true on AWS).
#[test]
fn the_stack_outputs_everything_the_walkthrough_reads() {
    let template = template();
    for key in walkthrough::OUTPUTS {
        assert!(
            template["Outputs"][key]["Value"] != serde_yaml::Value::Null,
            "infra/template.yaml has no output {key}"
        );
    }
    let settings = &template["Globals"]["Function"]["Environment"]["Variables"];
    let prefix = template["Outputs"]["AppStackPrefix"]["Value"].clone();
    assert_eq!(
        settings["KILN_STACK_PREFIX"], prefix,
        "AppStackPrefix is the prefix the DevOps step names stacks with"
    );
}

/// moto signs anyone in with AdminInitiateAuth on any client; Cognito only on a client that
/// allows `ALLOW_ADMIN_USER_PASSWORD_AUTH`. The walkthrough signs in that way on the web
/// client, so the web client allows it (it needs the caller's AWS credentials, so it opens
/// nothing to the public), and the API's authorizer takes that client's tokens.
#[test]
fn the_web_client_allows_the_administrators_sign_in() {
    let template = template();
    let client = &template["Resources"]["UserPoolClient"]["Properties"];
    let flows: Vec<&str> = client["ExplicitAuthFlows"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert!(
        flows.contains(&"ALLOW_ADMIN_USER_PASSWORD_AUTH"),
        "{flows:?}"
    );
    assert!(
        !flows.contains(&"ALLOW_USER_PASSWORD_AUTH"),
        "passwords never travel to Cognito without SRP unless AWS credentials sign the call"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_walkthrough_on_moto() {
    let on_moto = stand_ins::start().await;
    let sdk = on_moto.agents.sdk.clone();
    let clients = Clients::new(&sdk);
    let kiln = read_stack(&clients.cloudformation, &on_moto.stack).await;
    let pace = Pace {
        poll: Duration::from_millis(100),
        run_deadline: Duration::from_secs(300),
        teardown_deadline: Duration::from_secs(30),
    };
    walkthrough(&clients, &kiln, &reqwest::Client::new(), pace).await;
}

/// Runs only when `KILN_AWS_STACK` names a deployed installation's stack.
#[tokio::test(flavor = "multi_thread")]
async fn the_walkthrough_on_aws() {
    let Ok(stack) = std::env::var("KILN_AWS_STACK") else {
        eprintln!("KILN_AWS_STACK is not set: no deployed installation to walk through");
        return;
    };
    let sdk = kiln::aws_http::load_sdk().await;
    let clients = Clients::new(&sdk);
    let kiln = read_stack(&clients.cloudformation, &stack).await;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    walkthrough(&clients, &kiln, &http, Pace::AWS).await;
}
