//! The AWS runners against moto: CodeBuild runs test suites and builds images; deployments
//! become an ECR repository and a CloudFormation stack per environment, read back from moto
//! afterwards, and are torn down again.

use kiln::model::Environment;
use kiln::runner::JobBucket;
use kiln::runner::{
    AppDatabases, CodeBuildTestRunner, DatabaseSettings, Deployer, EcsDeployer, EcsSettings,
    RolloutStatus, RunnerError, TestRunner, TestStatus,
};
use std::collections::{BTreeMap, BTreeSet};

use kiln_integration_tests::{python, run_in, show, Moto};
use serde_json::{json, Value};
use uuid::Uuid;

#[path = "../fake_codebuild.rs"]
mod fake_codebuild;

mod codebuild;
mod data;
mod database;
mod ecs;
mod fake_data_api;
mod logs;
use fake_codebuild::{expand, run_test_build, Buildspec, SentRequests};

struct Aws {
    moto: Moto,
    sdk: aws_config::SdkConfig,
    jobs: JobBucket,
    fixture: Value,
}

async fn aws() -> Aws {
    let moto = Moto::start();
    let sdk = moto.sdk_config().await;
    let s3 = moto.s3().await;
    s3.create_bucket()
        .bucket("kiln-artifacts")
        .send()
        .await
        .unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/python/aws_fixture.py");
    let out = run_in(
        std::path::Path::new("."),
        &python(),
        &[script, &moto.endpoint],
    );
    assert!(out.status.success(), "{}", show(&out));
    let fixture: Value = serde_json::from_slice(&out.stdout).unwrap();
    Aws {
        jobs: JobBucket::new(s3, "kiln-artifacts"),
        moto,
        sdk,
        fixture,
    }
}

fn files(version: u32) -> Vec<(String, Vec<u8>)> {
    vec![
        (
            "app/main.py".into(),
            format!("VERSION = {version}\n").into_bytes(),
        ),
        ("requirements.txt".into(), b"fastapi==0.165.0\n".to_vec()),
    ]
}

/// A project with one passing and one failing test, laid out as generated projects are.
fn suite() -> Vec<(String, Vec<u8>)> {
    [
        ("app/__init__.py", ""),
        ("app/main.py", "def add(a, b):\n    return a + b\n"),
        ("conftest.py", ""),
        (
            "tests/test_main.py",
            "from app.main import add\n\n\ndef test_add():\n    assert add(1, 1) == 2\n\n\n\
             def test_broken():\n    assert add(1, 1) == 3\n",
        ),
        ("requirements.txt", "fastapi==0.165.0\n"),
        ("requirements-dev.txt", "-r requirements.txt\npytest\n"),
    ]
    .into_iter()
    .map(|(path, text)| (path.to_owned(), text.as_bytes().to_vec()))
    .collect()
}

/// The apps' cluster as the installation names it, with its writer at `host`.
fn database_settings(host: &str) -> DatabaseSettings {
    DatabaseSettings {
        cluster_arn: "arn:aws:rds:us-east-1:123456789012:cluster:kiln-test-apps".into(),
        admin_secret_arn:
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!cluster-kiln-test-apps-AbCdEf"
                .into(),
        host: host.into(),
    }
}

/// The deployer's settings for the fixture's network.
fn ecs_settings(f: &Value) -> EcsSettings {
    EcsSettings {
        cluster: "kiln-apps".into(),
        image_project: "kiln-images".into(),
        listener_arn: f["listener_arn"].as_str().unwrap().to_owned(),
        vpc_id: f["vpc_id"].as_str().unwrap().into(),
        subnets: f["subnets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_owned())
            .collect(),
        security_groups: vec![f["security_group"].as_str().unwrap().into()],
        execution_role_arn: "arn:aws:iam::123456789012:role/kiln-tasks".into(),
        public_url: "https://apps.example.com/".into(),
        stack_prefix: "kiln-test".into(),
        stack_role_arn: "arn:aws:iam::123456789012:role/kiln-app-stacks".into(),
        log_retention_days: 14,
    }
}
