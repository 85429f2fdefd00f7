//! The database of an app on AWS: the ECS deployer on moto (CloudFormation, Secrets Manager,
//! ECR) with the Data API played by `fake_data_api.rs` over a real PostgreSQL server, so that
//! every statement the deployer sends runs, and the URL it stores is tried by signing in.

use std::sync::Arc;

use kiln::model::ErrorKind;
use kiln_integration_tests::postgres::Cluster;

use super::ecs::parameters;
use super::fake_data_api::FakeDataApi;
use super::*;

const CLUSTER_ARN: &str = "arn:aws:rds:us-east-1:123456789012:cluster:kiln-test-apps";

/// A generated project's files, from a golden spec.
pub(super) fn project_files(spec: &str) -> Vec<(String, Vec<u8>)> {
    let path = format!("{}/golden/specs/{spec}.json", env!("CARGO_MANIFEST_DIR"));
    let spec: kiln::spec::AppSpec =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    kiln::generator::generate_code(&spec)
        .unwrap()
        .into_iter()
        .map(|f| (f.path, f.contents.into_bytes()))
        .collect()
}

/// The stored URL as psql takes it on the test's server: its port, no TLS (the throwaway
/// server has none), libpq's scheme.
fn on_test_server(url: &str, port: u16) -> String {
    url.replacen("postgresql+psycopg://", "postgresql://", 1)
        .replacen(":5432/", &format!(":{port}/"), 1)
        .replacen("sslmode=require", "sslmode=disable", 1)
}

fn ok(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_app_gets_a_database_of_its_own_kept_across_deploys_and_dropped_with_the_project() {
    let aws = aws().await;
    let server = Arc::new(Cluster::start());
    let data_api = FakeDataApi::start(server.clone()).await;
    let rdsdata = aws_sdk_rdsdata::Client::from_conf(
        aws_sdk_rdsdata::config::Builder::from(&aws.sdk)
            .endpoint_url(&data_api.endpoint)
            .build(),
    );
    let secrets = aws_sdk_secretsmanager::Client::new(&aws.sdk);
    let sent = SentRequests::default();
    let cloudformation = aws_sdk_cloudformation::Client::from_conf(
        aws_sdk_cloudformation::config::Builder::from(&aws.sdk)
            .interceptor(sent.clone())
            .build(),
    );
    let settings = database_settings("127.0.0.1");
    let deployer = EcsDeployer::new(
        aws_sdk_ecr::Client::new(&aws.sdk),
        cloudformation,
        aws_sdk_elasticloadbalancingv2::Client::new(&aws.sdk),
        aws_sdk_codebuild::Client::new(&aws.sdk),
        AppDatabases::new(rdsdata, secrets.clone(), settings.clone()),
        aws.jobs.clone(),
        ecs_settings(&aws.fixture),
    );
    let project = Uuid::now_v7();
    let name = format!("kiln_{}_dev", project.simple());
    let secret_name = format!("kiln-test-{}-dev/database-url", project.simple());
    assert_eq!(
        deployer.database_secret_name(project, Environment::Dev),
        secret_name
    );
    let files = project_files("library_sqlite_auth");

    // A paused cluster answers that it is resuming: a retry may pass, and nothing of the
    // app starts before its database is there.
    data_api.pause(1);
    let err = deployer
        .deploy(project, Environment::Dev, 1, files.clone(), Uuid::now_v7())
        .await
        .expect_err("the cluster is resuming");
    assert_eq!(err.kind(), ErrorKind::Transient, "{err}");
    assert!(sent.bodies("CreateStack").is_empty());

    deployer
        .deploy(project, Environment::Dev, 1, files.clone(), Uuid::now_v7())
        .await
        .unwrap();

    // The URL's secret: under the stack's name, tagged, a URL of the expected shape.
    let stored = secrets
        .get_secret_value()
        .secret_id(&secret_name)
        .send()
        .await
        .expect("the secret is made");
    let url = stored.secret_string().unwrap().to_owned();
    let arn = stored.arn().unwrap().to_owned();
    let (before_password, rest) = url
        .strip_prefix(&format!("postgresql+psycopg://{name}:"))
        .and_then(|r| r.split_once('@'))
        .unwrap_or_else(|| panic!("{url}"));
    assert_eq!(rest, format!("127.0.0.1:5432/{name}?sslmode=require"));
    assert!(
        before_password.len() >= 32 && before_password.chars().all(|c| c.is_ascii_alphanumeric()),
        "{url}"
    );
    let password = before_password.to_owned();
    let described = secrets
        .describe_secret()
        .secret_id(&secret_name)
        .send()
        .await
        .unwrap();
    let tags: BTreeMap<&str, &str> = described
        .tags()
        .iter()
        .map(|t| (t.key().unwrap(), t.value().unwrap()))
        .collect();
    assert_eq!(tags["kiln:project"], project.to_string());
    assert_eq!(tags["kiln:environment"], "dev");

    // The stack takes the secret's ARN, and the template hands it to the task by reference.
    let creates = sent.bodies("CreateStack");
    assert_eq!(creates.len(), 1);
    assert_eq!(parameters(&creates[0])["DatabaseUrlSecretArn"], arn);

    // Every statement went to the cluster with its master secret, in `postgres`; none
    // carries the password.
    let calls = data_api.calls();
    assert!(calls.len() >= 4, "{calls:?}");
    for call in &calls {
        assert_eq!(call.resource_arn, CLUSTER_ARN);
        assert_eq!(call.secret_arn, settings.admin_secret_arn);
        assert_eq!(call.database, "postgres");
        assert!(!call.sql.contains(&password), "{}", call.sql);
    }
    assert!(calls
        .iter()
        .any(|c| c.sql == format!("CREATE DATABASE \"{name}\" OWNER \"{name}\"")));

    // On the server: the role owns its database, signs in with the stored password (and
    // with no other), and may make tables; nobody else may connect.
    let owner = server.psql(
        "postgres",
        &format!("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = '{name}'"),
    );
    assert_eq!(ok(&owner), name);
    server.require_password_for(&name);
    let app = on_test_server(&url, server.port());
    ok(&server.psql_at(
        &app,
        "CREATE TABLE books (title text); INSERT INTO books VALUES ('kept')",
    ));
    let wrong = app.replacen(&password, "wrong-password", 1);
    assert!(!server.psql_at(&wrong, "SELECT 1").status.success());
    ok(&server.psql("postgres", "CREATE ROLE stranger LOGIN"));
    let stranger = server.psql_at(
        &format!(
            "postgresql://stranger@127.0.0.1:{}/{name}?sslmode=disable",
            server.port()
        ),
        "SELECT 1",
    );
    assert!(
        String::from_utf8_lossy(&stranger.stderr).contains("permission denied"),
        "{stranger:?}"
    );

    // A redeploy keeps everything: no statement drops or makes a database, the secret and
    // its password stay, and so do the rows.
    let before = data_api.calls().len();
    deployer
        .deploy(project, Environment::Dev, 2, files.clone(), Uuid::now_v7())
        .await
        .unwrap();
    let again: Vec<String> = data_api.calls()[before..]
        .iter()
        .map(|c| c.sql.clone())
        .collect();
    assert!(!again.is_empty());
    for sql in &again {
        assert!(
            !sql.contains("DROP") && !sql.contains("CREATE DATABASE"),
            "{sql}"
        );
    }
    let kept = secrets
        .get_secret_value()
        .secret_id(&secret_name)
        .send()
        .await
        .unwrap();
    assert_eq!(kept.secret_string(), Some(url.as_str()));
    assert_eq!(kept.arn(), Some(arn.as_str()));
    let updates = sent.bodies("UpdateStack");
    assert_eq!(parameters(&updates[0])["DatabaseUrlSecretArn"], arn);
    assert_eq!(ok(&server.psql_at(&app, "SELECT title FROM books")), "kept");

    // An app without a database gets none.
    let other = Uuid::now_v7();
    let before = data_api.calls().len();
    deployer
        .deploy(
            other,
            Environment::Dev,
            1,
            project_files("typed_tasks_in_memory"),
            Uuid::now_v7(),
        )
        .await
        .unwrap();
    assert_eq!(data_api.calls().len(), before);
    let creates = sent.bodies("CreateStack");
    assert!(!parameters(creates.last().unwrap()).contains_key("DatabaseUrlSecretArn"));

    // Stopping one environment keeps its data; deleting the project drops the database and
    // the role and deletes the secret; a second tear-down finds nothing to do.
    deployer
        .stop(project, Some(Environment::Dev))
        .await
        .unwrap();
    assert_eq!(ok(&server.psql_at(&app, "SELECT title FROM books")), "kept");
    deployer.stop(project, None).await.unwrap();
    let left = server.psql(
        "postgres",
        &format!(
            "SELECT (SELECT count(*) FROM pg_database WHERE datname = '{name}') \
             + (SELECT count(*) FROM pg_roles WHERE rolname = '{name}')"
        ),
    );
    assert_eq!(ok(&left), "0");
    let gone = secrets
        .get_secret_value()
        .secret_id(&secret_name)
        .send()
        .await
        .expect_err("the secret is deleted");
    assert!(
        gone.as_service_error()
            .is_some_and(|e| e.is_resource_not_found_exception()),
        "{gone:?}"
    );
    let dropped: Vec<String> = data_api
        .calls()
        .iter()
        .map(|c| c.sql.clone())
        .filter(|sql| sql.starts_with("DROP"))
        .collect();
    assert_eq!(
        dropped,
        [
            format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
            format!("DROP ROLE IF EXISTS \"{name}\""),
        ]
    );
    let before = data_api.calls().len();
    deployer.stop(project, None).await.unwrap();
    assert_eq!(data_api.calls().len(), before);
    let _ = &aws.moto;
}
