//! Moving an environment's data on AWS: the deployer makes the environment's data token at its
//! first deploy (a secret under the stack's name, handed to the stack as `DataTokenSecretArn`
//! and kept across deploys), reads it to call the app on the load balancer's address under
//! the environment's path as the bearer of that token, and deletes it with the project.
//!
//! On moto (CloudFormation, Secrets Manager), with the Data API played by `fake_data_api.rs`;
//! the load balancer and the app behind it are a small axum server on 127.0.0.1 that answers
//! `/_kiln/data` as the generated app does.

use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use axum::Json;

use super::fake_data_api::FakeDataApi;
use super::*;

/// What the stand-in app saw: (method, path, authorization) of each call.
type Seen = Arc<Mutex<Vec<(String, String, String)>>>;

async fn app_server(seen: Seen) -> String {
    async fn data(
        State(seen): State<Seen>,
        method: axum::http::Method,
        uri: axum::http::Uri,
        headers: HeaderMap,
        body: axum::body::Bytes,
    ) -> (StatusCode, Json<Value>) {
        let auth = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        seen.lock()
            .unwrap()
            .push((method.to_string(), uri.path().to_owned(), auth));
        if method == axum::http::Method::PUT {
            let sent: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            if sent["tables"]["books"].as_array().is_none() {
                return (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    Json(json!({"detail": ["books must be a list of rows"]})),
                );
            }
            let n = sent["tables"]["books"].as_array().unwrap().len();
            return (
                StatusCode::OK,
                Json(json!({"format": "kiln-data/1", "tables": {"books": n}})),
            );
        }
        (
            StatusCode::OK,
            Json(
                json!({"format": "kiln-data/1", "tables": {"books": [{"id": 1, "title": "Dune"}]}}),
            ),
        )
    }
    let router = axum::Router::new()
        .route("/{prefix}/_kiln/data", get(data).put(data))
        .with_state(seen);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{address}/")
}

#[tokio::test(flavor = "multi_thread")]
async fn data_moves_through_the_app_with_the_token_its_stack_names() {
    let aws = aws().await;
    let server = Arc::new(kiln_integration_tests::postgres::Cluster::start());
    let data_api = FakeDataApi::start(server.clone()).await;
    let rdsdata = aws_sdk_rdsdata::Client::from_conf(
        aws_sdk_rdsdata::config::Builder::from(&aws.sdk)
            .endpoint_url(&data_api.endpoint)
            .build(),
    );
    let secrets = aws_sdk_secretsmanager::Client::new(&aws.sdk);
    let cloudformation = aws_sdk_cloudformation::Client::new(&aws.sdk);
    let seen = Seen::default();
    let mut settings = ecs_settings(&aws.fixture);
    settings.public_url = app_server(seen.clone()).await;
    let deployer = EcsDeployer::new(
        aws_sdk_ecr::Client::new(&aws.sdk),
        cloudformation.clone(),
        aws_sdk_elasticloadbalancingv2::Client::new(&aws.sdk),
        aws_sdk_codebuild::Client::new(&aws.sdk),
        AppDatabases::new(rdsdata, secrets.clone(), database_settings("127.0.0.1")),
        aws.jobs.clone(),
        settings,
    );
    let project = Uuid::now_v7();

    // Nothing deployed: nothing to move.
    let err = deployer
        .export_data(project, Environment::Dev)
        .await
        .expect_err("no stack");
    assert_eq!(err.kind(), kiln::model::ErrorKind::NotFound, "{err}");

    let files = super::database::project_files("library_sqlite_auth");
    deployer
        .deploy(project, Environment::Dev, 1, files, Uuid::now_v7())
        .await
        .unwrap();
    let stack = format!("kiln-test-{}-dev", project.simple());
    let name = format!("{stack}/data-token");
    assert_eq!(deployer.data_token_name(project, Environment::Dev), name);
    let stored = secrets
        .get_secret_value()
        .secret_id(&name)
        .send()
        .await
        .expect("the first deploy makes the token");
    let token = stored.secret_string().unwrap().to_owned();
    assert!(token.len() >= 32, "{token}");
    let described = cloudformation
        .describe_stacks()
        .stack_name(&stack)
        .send()
        .await
        .unwrap();
    let given = described.stacks()[0]
        .parameters()
        .iter()
        .find(|p| p.parameter_key() == Some("DataTokenSecretArn"))
        .and_then(|p| p.parameter_value());
    assert_eq!(given, stored.arn());
    // A redeploy keeps it.
    deployer
        .deploy(
            project,
            Environment::Dev,
            2,
            super::database::project_files("library_sqlite_auth"),
            Uuid::now_v7(),
        )
        .await
        .unwrap();
    let again = secrets
        .get_secret_value()
        .secret_id(&name)
        .send()
        .await
        .unwrap();
    assert_eq!(again.secret_string(), Some(token.as_str()));

    let exported = deployer
        .export_data(project, Environment::Dev)
        .await
        .unwrap();
    assert_eq!(exported["tables"]["books"][0]["title"], "Dune");
    let summary = deployer
        .import_data(project, Environment::Dev, exported.clone())
        .await
        .unwrap();
    assert_eq!(summary["tables"]["books"], 1);
    let refused = deployer
        .import_data(project, Environment::Dev, json!({"tables": {"books": "x"}}))
        .await
        .expect_err("refused");
    assert_eq!(refused.kind(), kiln::model::ErrorKind::Invalid);
    assert!(
        refused.to_string().contains("books must be a list"),
        "{refused}"
    );

    let prefix = format!(
        "/kiln-{}-dev/_kiln/data",
        &project.simple().to_string()[..12]
    );
    let bearer = format!("Bearer {token}");
    assert_eq!(
        *seen.lock().unwrap(),
        [
            ("GET".to_owned(), prefix.clone(), bearer.clone()),
            ("PUT".to_owned(), prefix.clone(), bearer.clone()),
            ("PUT".to_owned(), prefix, bearer),
        ]
    );

    // Gone with the project.
    deployer.stop(project, None).await.unwrap();
    let gone = secrets
        .get_secret_value()
        .secret_id(&name)
        .send()
        .await
        .expect_err("deleted");
    assert!(
        gone.as_service_error()
            .is_some_and(|e| e.is_resource_not_found_exception()),
        "{gone:?}"
    );
    let _ = &aws.moto;
}
