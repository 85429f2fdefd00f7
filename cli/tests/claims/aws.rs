//! Claims about the AWS backend: `kiln serve` refuses it with its reason, and it starts from an
//! installation's settings (on moto), naming each one that is missing.

use std::process::Command;
use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use crate::common::call;

#[test]
fn kiln_serve_says_it_has_no_aws_backend() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_kiln"))
        .arg("serve")
        .env_clear()
        .env("KILN_BACKEND", "aws")
        .env("KILN_BIND", "127.0.0.1:0")
        .env("KILN_DATA_DIR", dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("kiln serve kept running with KILN_BACKEND=aws");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no aws backend") && stderr.contains("KILN_BACKEND=aws"),
        "{stderr}"
    );
}

/// What an AWS installation sets.
fn aws_settings(table: &str) -> Vec<(&'static str, String)> {
    kiln_integration_tests::aws_settings(
        table,
        "arn:aws:states:us-east-1:123456789012:stateMachine:kiln-pipeline",
    )
}

fn config_of(settings: &[(&'static str, String)]) -> kiln::config::Config {
    let vars = settings
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    kiln::config::Config::from_vars(&vars).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_aws_backend_starts_from_its_settings_and_names_the_missing_ones() {
    let moto = kiln_integration_tests::Moto::start();
    let (_, sdk) = kiln_integration_tests::aws_installation(&moto, "unused").await;

    // Every required setting left out is named.
    for missing in [
        "KILN_TABLE",
        "KILN_BUCKET",
        "KILN_STATE_MACHINE_ARN",
        "KILN_TEST_PROJECT",
        "KILN_IMAGE_PROJECT",
        "KILN_CLUSTER",
        "KILN_LISTENER_ARN",
        "KILN_VPC_ID",
        "KILN_SUBNETS",
        "KILN_EXECUTION_ROLE_ARN",
        "KILN_APPS_URL",
        "KILN_APPS_DATABASE_ARN",
        "KILN_APPS_DATABASE_SECRET_ARN",
        "KILN_APPS_DATABASE_HOST",
    ] {
        let settings: Vec<_> = aws_settings("kiln")
            .into_iter()
            .filter(|(k, _)| *k != missing)
            .collect();
        let config = config_of(&settings);
        assert_eq!(config.backend, kiln::config::Backend::Aws);
        let err = match kiln::backends::aws_state_with(&config, &sdk).await {
            Ok(_) => panic!("started without {missing}"),
            Err(e) => e.to_string(),
        };
        assert_eq!(
            err,
            format!("the AWS backend needs these settings: {missing}")
        );
    }

    // With all of them it serves the API on moto: a project is written to DynamoDB and read back.
    let state = kiln::backends::aws_state_with(&config_of(&aws_settings("kiln")), &sdk)
        .await
        .expect("the AWS backend starts");
    let app = kiln::api::router(state).layer(axum::middleware::from_fn(
        |mut req: axum::extract::Request, next: axum::middleware::Next| async move {
            // What the api Lambda does with the authorizer's `sub`.
            req.extensions_mut()
                .insert(kiln::model::Owner("alice".into()));
            next.run(req).await
        },
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let served = tokio::spawn(async move { axum::serve(listener, app).await });
    let client = reqwest::Client::new();
    let (status, _) = call(&client, Method::GET, format!("{base}/healthz"), None).await;
    assert_eq!(status, 200);
    let (status, created) = call(
        &client,
        Method::POST,
        format!("{base}/api/v2/projects"),
        Some(json!({"name": "On AWS"})),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let (status, read) = call(
        &client,
        Method::GET,
        format!("{base}/api/v2/projects/{}", created["id"].as_str().unwrap()),
        None,
    )
    .await;
    assert_eq!(status, 200, "{read}");
    assert_eq!(read["name"], "On AWS");
    served.abort();
}
