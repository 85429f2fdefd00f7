//! Helpers shared by the cross-crate tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use kiln::generator::GeneratedFile;

pub mod fake_llm;
pub mod fake_oidc;
pub mod fake_osv;
mod own_thread;
pub use own_thread::serve_on_own_thread;
pub mod postgres;
pub mod steps;
pub mod understanding;

/// The Python of the test environment that `scripts/test` sets up (`KILN_TEST_PYTHON`), with
/// every package a generated project pins.
pub fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("KILN_TEST_PYTHON") {
        return PathBuf::from(p);
    }
    let fallback = dirs_home().join(".cache/kiln/pyenv/bin/python");
    assert!(
        fallback.exists(),
        "no Python test environment: run ./scripts/test, which creates it (or set KILN_TEST_PYTHON)"
    );
    fallback
}

fn dirs_home() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/root"))
}

/// Where `kiln` processes under test cache the virtualenv they make for generated projects,
/// shared between test runs so that it is made once.
pub fn runtime_venv_dir() -> String {
    std::env::var("KILN_TEST_VENV_DIR").unwrap_or_else(|_| {
        dirs_home()
            .join(".cache/kiln/runtime-venv")
            .display()
            .to_string()
    })
}

/// A tool installed beside the test Python, such as `ruff`.
pub fn python_tool(name: &str) -> PathBuf {
    python().with_file_name(name)
}

/// Writes generated files under `dir`.
pub fn write_files(dir: &Path, files: &[GeneratedFile]) {
    for f in files {
        let path = dir.join(&f.path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, &f.contents).unwrap();
    }
}

/// Runs a command in `dir`, returning its output; never inherits a stray virtualenv.
pub fn run_in(dir: &Path, program: &Path, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .current_dir(dir)
        .env_remove("VIRTUAL_ENV")
        .env_remove("PYTHONPATH")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", program.display()))
}

/// Output of a command as one readable string.
pub fn show(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A moto server on a free loopback port, started by the test and stopped when dropped.
pub struct Moto {
    child: std::process::Child,
    /// `http://127.0.0.1:{port}`.
    pub endpoint: String,
}

impl Moto {
    /// Starts `moto_server` from the test environment on a port it binds itself (`-p 0`; the
    /// port is read from what it prints, so no other process can take it in between) and
    /// waits until it answers.
    pub fn start() -> Moto {
        use std::io::BufRead;
        let mut child = Command::new(python_tool("moto_server"))
            .args(["-H", "127.0.0.1", "-p", "0"])
            .env("NO_COLOR", "1")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("moto_server is installed by ./scripts/test");
        let stderr = child.stderr.take().expect("piped");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut sent = false;
            for line in std::io::BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if !sent {
                    if let Some(port) = line
                        .split("Running on http://127.0.0.1:")
                        .nth(1)
                        .and_then(|p| p.trim().parse::<u16>().ok())
                    {
                        let _ = tx.send(port);
                        sent = true;
                    }
                }
                // Keeps reading, so that moto never blocks on a full pipe.
            }
        });
        let port = rx
            .recv_timeout(std::time::Duration::from_secs(60))
            .expect("moto did not say where it listens");
        let moto = Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(std::time::Instant::now() < deadline, "moto did not start");
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        moto
    }

    /// SDK settings that talk to this server with static test credentials.
    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        kiln::aws_http::sdk_defaults()
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url(&self.endpoint)
            .credentials_provider(aws_sdk_s3::config::Credentials::new(
                "testing", "testing", None, None, "tests",
            ))
            .load()
            .await
    }

    /// An S3 client for this server (path-style addressing).
    pub async fn s3(&self) -> aws_sdk_s3::Client {
        let config = aws_sdk_s3::config::Builder::from(&self.sdk_config().await)
            .force_path_style(true)
            .build();
        aws_sdk_s3::Client::from_conf(config)
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The one `AWS::DynamoDB::Table` resource of `infra/template.yaml`: its logical id and its
/// `Properties`.
pub fn template_table() -> (String, serde_yaml::Value) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../infra/template.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let template: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    let tables: Vec<(String, serde_yaml::Value)> = template["Resources"]
        .as_mapping()
        .expect("the template has Resources")
        .iter()
        .filter(|(_, r)| r["Type"].as_str() == Some("AWS::DynamoDB::Table"))
        .map(|(id, r)| (id.as_str().unwrap().to_owned(), r["Properties"].clone()))
        .collect();
    assert_eq!(tables.len(), 1, "the template declares one table");
    tables.into_iter().next().unwrap()
}

/// Creates on `client` the table the SAM template declares, named `name`: its keys, attribute
/// types, indexes, billing mode and time to live, so that the store is tested on the table AWS
/// gets. A property this cannot carry over fails here rather than being dropped; encryption and
/// point-in-time recovery do not change what the store can read or write.
pub async fn create_template_table(client: &aws_sdk_dynamodb::Client, name: &str) {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType,
        Projection, ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
    };
    use serde_yaml::Value;

    let (id, props) = template_table();
    let text = |v: &Value, what: &str| -> String {
        v.as_str()
            .unwrap_or_else(|| panic!("{id}: {what} is not a plain string: {v:?}"))
            .to_owned()
    };
    let list = |v: &Value, what: &str| -> Vec<Value> {
        v.as_sequence()
            .unwrap_or_else(|| panic!("{id}: {what} is not a list: {v:?}"))
            .clone()
    };
    let keys = |v: &Value, what: &str| -> Vec<KeySchemaElement> {
        list(v, what)
            .iter()
            .map(|k| {
                KeySchemaElement::builder()
                    .attribute_name(text(&k["AttributeName"], what))
                    .key_type(KeyType::from(text(&k["KeyType"], what).as_str()))
                    .build()
                    .unwrap()
            })
            .collect()
    };
    // TableName is the caller's; the last two need no counterpart on moto.
    let known = [
        "TableName",
        "BillingMode",
        "AttributeDefinitions",
        "KeySchema",
        "GlobalSecondaryIndexes",
        "TimeToLiveSpecification",
        "PointInTimeRecoverySpecification",
        "SSESpecification",
    ];
    for key in props.as_mapping().unwrap().keys() {
        let key = key.as_str().unwrap();
        assert!(
            known.contains(&key),
            "{id}: create_template_table does not know {key}; teach it, or the tests miss it"
        );
    }
    let mut request = client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::from(
            text(&props["BillingMode"], "BillingMode").as_str(),
        ))
        .set_key_schema(Some(keys(&props["KeySchema"], "KeySchema")));
    for a in list(&props["AttributeDefinitions"], "AttributeDefinitions") {
        request = request.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(text(&a["AttributeName"], "AttributeDefinitions"))
                .attribute_type(ScalarAttributeType::from(
                    text(&a["AttributeType"], "AttributeDefinitions").as_str(),
                ))
                .build()
                .unwrap(),
        );
    }
    if !props["GlobalSecondaryIndexes"].is_null() {
        for index in list(&props["GlobalSecondaryIndexes"], "GlobalSecondaryIndexes") {
            let projection = &index["Projection"];
            let non_key = match &projection["NonKeyAttributes"] {
                Value::Null => None,
                v => Some(
                    list(v, "NonKeyAttributes")
                        .iter()
                        .map(|a| text(a, "NonKeyAttributes"))
                        .collect(),
                ),
            };
            request = request.global_secondary_indexes(
                GlobalSecondaryIndex::builder()
                    .index_name(text(&index["IndexName"], "IndexName"))
                    .set_key_schema(Some(keys(&index["KeySchema"], "GlobalSecondaryIndexes")))
                    .projection(
                        Projection::builder()
                            .projection_type(ProjectionType::from(
                                text(&projection["ProjectionType"], "ProjectionType").as_str(),
                            ))
                            .set_non_key_attributes(non_key)
                            .build(),
                    )
                    .build()
                    .unwrap(),
            );
        }
    }
    request.send().await.unwrap();
    let ttl = &props["TimeToLiveSpecification"];
    if ttl["Enabled"].as_bool() == Some(true) {
        client
            .update_time_to_live()
            .table_name(name)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .attribute_name(text(&ttl["AttributeName"], "TimeToLiveSpecification"))
                    .enabled(true)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
    }
}

/// On this moto server: Kiln's table (as the SAM template declares it) and artifacts bucket,
/// and the settings of an AWS installation whose pipeline is `state_machine_arn` (other
/// resources are named, not made).
pub async fn aws_installation(
    moto: &Moto,
    state_machine_arn: &str,
) -> (kiln::config::Config, aws_config::SdkConfig) {
    let sdk = moto.sdk_config().await;
    create_template_table(&aws_sdk_dynamodb::Client::new(&sdk), "kiln").await;
    moto.s3()
        .await
        .create_bucket()
        .bucket("kiln-artifacts")
        .send()
        .await
        .unwrap();
    let vars: std::collections::HashMap<String, String> = aws_settings("kiln", state_machine_arn)
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    (kiln::config::Config::from_vars(&vars).unwrap(), sdk)
}

/// A generated app under uvicorn, stopped when dropped.
pub struct ServedApp {
    child: std::process::Child,
    /// `http://127.0.0.1:{port}`.
    pub base: String,
    log: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Drop for ServedApp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl ServedApp {
    /// Serves the project in `dir`. Uvicorn binds port 0 itself and keeps the socket, so no
    /// other process can take the port between choosing and binding it; the port it got is
    /// read from its startup line, which it prints once the app has started.
    pub fn start(dir: &Path, jwt_secret: &str) -> Result<ServedApp, String> {
        let database = format!("sqlite:///{}", dir.join("app.db").display());
        ServedApp::start_with(
            dir,
            &[
                ("DATABASE_URL", database),
                ("JWT_SECRET", jwt_secret.to_owned()),
            ],
        )
    }

    /// Serves the project in `dir` with the environment variables `env`.
    pub fn start_with(dir: &Path, env: &[(&str, String)]) -> Result<ServedApp, String> {
        use std::io::BufRead;
        let mut child = Command::new(python())
            .args([
                "-m",
                "uvicorn",
                "app.main:app",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--no-access-log",
            ])
            .current_dir(dir)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .env_remove("VIRTUAL_ENV")
            .env_remove("PYTHONPATH")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .map_err(|e| format!("starting uvicorn: {e}"))?;
        let stderr = child.stderr.take().unwrap();
        let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let (port_tx, port_rx) = std::sync::mpsc::channel();
        let sink = std::sync::Arc::clone(&log);
        // Drains stderr for the app's whole life, so that its log never blocks it.
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr).split(b'\n') {
                let Ok(line) = line else { break };
                let line = String::from_utf8_lossy(&line);
                if let Some(rest) = line.split("Uvicorn running on http://127.0.0.1:").nth(1) {
                    let port: String = rest.chars().take_while(char::is_ascii_digit).collect();
                    let _ = port_tx.send(port);
                }
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        let mut served = ServedApp {
            child,
            base: String::new(),
            log,
        };
        match port_rx.recv_timeout(std::time::Duration::from_secs(30)) {
            Ok(port) => {
                served.base = format!("http://127.0.0.1:{port}");
                Ok(served)
            }
            Err(_) => Err(format!("uvicorn did not start:\n{}", served.log())),
        }
    }

    /// What uvicorn printed so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }
}

/// What an AWS installation sets, with its table and pipeline named (other resources are
/// named, not made).
pub fn aws_settings(table: &str, state_machine_arn: &str) -> Vec<(&'static str, String)> {
    [
        ("KILN_BACKEND", "aws"),
        ("KILN_TABLE", table),
        ("KILN_BUCKET", "kiln-artifacts"),
        ("KILN_STATE_MACHINE_ARN", state_machine_arn),
        ("KILN_TEST_PROJECT", "kiln-tests"),
        ("KILN_IMAGE_PROJECT", "kiln-images"),
        ("KILN_CLUSTER", "kiln-apps"),
        (
            "KILN_LISTENER_ARN",
            "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/kiln/1/1",
        ),
        ("KILN_VPC_ID", "vpc-12345678"),
        ("KILN_SUBNETS", "subnet-12345678"),
        (
            "KILN_EXECUTION_ROLE_ARN",
            "arn:aws:iam::123456789012:role/kiln-tasks",
        ),
        ("KILN_APPS_URL", "https://apps.example.com"),
        ("KILN_STACK_PREFIX", "kiln-test"),
        (
            "KILN_STACK_ROLE_ARN",
            "arn:aws:iam::123456789012:role/kiln-app-stacks",
        ),
        (
            "KILN_APPS_DATABASE_ARN",
            "arn:aws:rds:us-east-1:123456789012:cluster:kiln-test-apps",
        ),
        (
            "KILN_APPS_DATABASE_SECRET_ARN",
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!cluster-kiln-test-apps-AbCdEf",
        ),
        (
            "KILN_APPS_DATABASE_HOST",
            "kiln-test-apps.cluster-abc.us-east-1.rds.amazonaws.com",
        ),
        ("KILN_S3_PATH_STYLE", "true"),
    ]
    .into_iter()
    .map(|(k, v)| (k, v.to_owned()))
    .collect()
}

/// Posts `text` as a user's message with a queued run, as the API does; the run's input.
pub async fn post_queued(
    projects: &dyn kiln::store::ProjectStore,
    project: &kiln::model::Project,
    text: &str,
    intent: kiln::model::Intent,
) -> kiln::model::RunInput {
    use kiln::model::{Message, Run, RunInput};
    let mut message = Message::from_user(project.id, text.into(), None);
    let run = Run::queued(project.id, message.id, intent);
    message.run_id = Some(run.id);
    projects.post_user_message(&message, &run).await.unwrap();
    RunInput {
        project_id: project.id,
        run_id: run.id,
        message_id: message.id,
        intent,
        owner: project.owner.clone(),
    }
}

/// Posts `text` as a user's message with a queued run, as the API does, and executes the
/// pipeline for it with `tasks` answering every Task state, as Step Functions would. Returns
/// the run as stored at the end and how the execution ended.
pub async fn execute_message(
    projects: &dyn kiln::store::ProjectStore,
    project: &kiln::model::Project,
    text: &str,
    intent: kiln::model::Intent,
    tasks: &dyn kiln::workflow::asl::TaskHandler,
    time_scale: f64,
) -> (
    kiln::model::Run,
    Result<serde_json::Value, kiln::workflow::asl::Failure>,
) {
    let input = post_queued(projects, project, text, intent).await;
    let outcome = kiln::workflow::asl::execute(
        &kiln::workflow::pipeline(),
        kiln::workflow::execution_input(&input),
        tasks,
        kiln::workflow::asl::Options { time_scale },
        None,
    )
    .await;
    let run = projects.get_run(project.id, input.run_id).await.unwrap();
    (run, outcome)
}

/// What a person would see of a project: everything but clocks, ids made fresh and counters.
pub async fn project_state(
    projects: &dyn kiln::store::ProjectStore,
    project_id: uuid::Uuid,
    run_id: uuid::Uuid,
) -> serde_json::Value {
    use kiln::store::PageRequest;
    use serde_json::json;
    let project = projects.load_project(project_id).await.unwrap();
    let versions = projects
        .list_versions(project_id, &PageRequest::first(200))
        .await
        .unwrap()
        .items;
    let messages = projects
        .list_messages(project_id, &PageRequest::first(200))
        .await
        .unwrap()
        .items;
    let deployments = projects.list_deployments(project_id).await.unwrap();
    let run: kiln::model::Run = projects.get_run(project_id, run_id).await.unwrap();
    json!({
        "project": {
            "status": project.status,
            "spec": project.spec,
            "design": project.design,
            "current_version": project.current_version,
            "tested_version": project.tested_version,
            "deployments": project.deployments.iter()
                .map(|d| json!([d.environment, d.version])).collect::<Vec<_>>(),
            "pending_question": project.pending_question,
            "focus": project.focus,
        },
        "versions": versions.iter()
            .map(|v| json!([v.number, v.manifest, v.spec, v.message_id])).collect::<Vec<_>>(),
        "messages": messages.iter()
            .map(|m: &kiln::model::Message| json!([m.role, m.agent, m.content, m.blocks])).collect::<Vec<_>>(),
        "deployments": deployments.iter()
            .map(|d| json!([d.environment, d.version, d.status, d.url])).collect::<Vec<_>>(),
        "run": {
            "status": run.status,
            "error": run.error,
            "steps": run.steps.iter().map(|s| json!([s.name, s.status])).collect::<Vec<_>>(),
        },
    })
}

/// Makes every request of the AWS clients it is given to fail while it is on, as an unreachable
/// service does (an interceptor: the same trait for every AWS SDK crate's client).
#[derive(Debug, Clone, Default)]
pub struct Unreachable(pub std::sync::Arc<std::sync::atomic::AtomicBool>);

impl Unreachable {
    /// Makes the service unreachable (`true`) or reachable again.
    pub fn set(&self, down: bool) {
        self.0.store(down, std::sync::atomic::Ordering::SeqCst);
    }
}

impl aws_sdk_dynamodb::config::Intercept for Unreachable {
    fn name(&self) -> &'static str {
        "Unreachable"
    }

    fn read_before_transmit(
        &self,
        _context: &aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef<'_>,
        _components: &aws_sdk_dynamodb::config::RuntimeComponents,
        _cfg: &mut aws_sdk_dynamodb::config::ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        if self.0.load(std::sync::atomic::Ordering::SeqCst) {
            Err("the service is unreachable (injected by the test)".into())
        } else {
            Ok(())
        }
    }
}
