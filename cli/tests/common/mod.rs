//! Helpers for tests that drive a real `kiln serve` process.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

/// Where `kiln` processes under test cache the virtualenv for generated projects, shared
/// between runs so that it is made once (`KILN_TEST_VENV_DIR` overrides).
pub fn runtime_venv_dir() -> String {
    std::env::var("KILN_TEST_VENV_DIR").unwrap_or_else(|_| {
        let home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
        format!("{home}/.cache/kiln/runtime-venv")
    })
}

/// The vulnerability database the servers' reviews ask unless a test gives its own: it knows
/// of no vulnerability.
static NO_ADVISORIES: std::sync::LazyLock<kiln_integration_tests::fake_osv::FakeOsv> =
    std::sync::LazyLock::new(|| kiln_integration_tests::fake_osv::FakeOsv::start(Vec::new()));

/// A `kiln serve` process, killed when dropped.
pub struct Server {
    pub child: Child,
    pub base: String,
}

impl Server {
    /// Starts `kiln serve` on a free loopback port and waits for the URL it prints.
    pub fn start(data_dir: &Path, extra: &[(&str, &str)]) -> Server {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_kiln"));
        cmd.arg("serve")
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", std::env::var_os("HOME").unwrap_or_default())
            .env("KILN_VENV_DIR", runtime_venv_dir())
            .env("KILN_PIPELINE_TIME_SCALE", "0.05")
            .env("KILN_BIND", "127.0.0.1:0")
            .env("KILN_DATA_DIR", data_dir)
            .env("RUST_LOG", "warn")
            // Reviews ask a stand-in of the vulnerability database, never the network.
            .env("KILN_OSV_URL", NO_ADVISORIES.url())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (k, v) in extra {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn kiln serve");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("kiln serve printed no URL");
        let base = line
            .trim()
            .strip_prefix("Kiln is running at ")
            .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
            .trim_end_matches('/')
            .to_owned();
        Server { child, base }
    }

    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub async fn call(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = client.request(method, url);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.expect("request");
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// Follows a run until it ends, as the UI does.
pub async fn wait_for_run(client: &reqwest::Client, api: &str, project: &str, run: &str) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(600);
    loop {
        let (_, body) = call(
            client,
            reqwest::Method::GET,
            format!("{api}/projects/{project}/runs/{run}"),
            None,
        )
        .await;
        if body["status"] == "succeeded" || body["status"] == "failed" {
            return body;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the run did not end: {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Posts a message to a project and follows its run to the end, returning the run.
pub async fn say(client: &reqwest::Client, api: &str, project: &str, content: &str) -> Value {
    let (status, posted) = call(
        client,
        reqwest::Method::POST,
        format!("{api}/projects/{project}/messages"),
        Some(serde_json::json!({ "content": content })),
    )
    .await;
    assert!(status == 202 || status == 200, "{content}: {posted}");
    wait_for_run(client, api, project, posted["run"]["id"].as_str().unwrap()).await
}

/// The names of a run's recorded steps, in the order they ran.
pub fn step_names(run: &Value) -> Vec<String> {
    run["steps"]
        .as_array()
        .unwrap_or_else(|| panic!("a run without steps: {run}"))
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_owned())
        .collect()
}

/// Reads a project.
pub async fn project(client: &reqwest::Client, api: &str, id: &str) -> Value {
    let (status, project) = call(
        client,
        reqwest::Method::GET,
        format!("{api}/projects/{id}"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{project}");
    project
}

/// The agents' and the system's messages in reply to a run, in order.
pub async fn replies(client: &reqwest::Client, api: &str, id: &str, run: &Value) -> Vec<Value> {
    let (_, conversation) = call(
        client,
        reqwest::Method::GET,
        format!("{api}/projects/{id}/conversation?limit=200"),
        None,
    )
    .await;
    conversation["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no conversation: {conversation}"))
        .iter()
        .filter(|m| m["run_id"] == run["id"] && m["role"] != "user")
        .cloned()
        .collect()
}

/// Creates a project called `name` and says each message in turn, expecting every run to
/// succeed; returns the project's id.
pub async fn project_after(
    client: &reqwest::Client,
    api: &str,
    name: &str,
    messages: &[&str],
) -> String {
    let (status, project) = call(
        client,
        reqwest::Method::POST,
        format!("{api}/projects"),
        Some(serde_json::json!({ "name": name })),
    )
    .await;
    assert_eq!(status, 201, "{project}");
    let id = project["id"].as_str().unwrap().to_owned();
    for content in messages {
        let run = say(client, api, &id, content).await;
        assert_eq!(run["status"], "succeeded", "{content}: {run}");
    }
    id
}

/// The URL (without its trailing slash) and version of the project's deployment to `environment`.
pub fn deployment(project: &Value, environment: &str) -> (String, u64) {
    let d = project["deployments"]
        .as_array()
        .unwrap_or_else(|| panic!("no deployments: {project}"))
        .iter()
        .find(|d| d["environment"] == environment)
        .unwrap_or_else(|| panic!("nothing deployed to {environment}: {project}"));
    (
        d["url"].as_str().unwrap().trim_end_matches('/').to_owned(),
        d["version"].as_u64().unwrap(),
    )
}

/// GETs `url` and returns its status and JSON body, or `None` when nothing answers.
pub async fn try_get(client: &reqwest::Client, url: &str) -> Option<(u16, Value)> {
    let res = client
        .get(url)
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .ok()?;
    let status = res.status().as_u16();
    let text = res.text().await.ok()?;
    Some((
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    ))
}

/// The names of the fields of an OpenAPI schema, e.g. `NoteCreate`, of a deployed app.
pub async fn schema_fields(client: &reqwest::Client, app_url: &str, schema: &str) -> Vec<String> {
    let (status, openapi) = try_get(client, &format!("{app_url}/openapi.json"))
        .await
        .unwrap_or_else(|| panic!("{app_url} does not answer"));
    assert_eq!(status, 200, "{openapi}");
    let mut fields: Vec<String> = openapi["components"]["schemas"][schema]["properties"]
        .as_object()
        .unwrap_or_else(|| panic!("no schema {schema} in {openapi}"))
        .keys()
        .cloned()
        .collect();
    fields.sort();
    fields
}

/// An app process (uvicorn) that a `kiln serve` process started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppProcess {
    pub pid: u32,
    pub port: u16,
}

/// The live app processes (uvicorn) whose parent is the process `parent`, with the port each
/// was given, read from `/proc`.
pub fn app_processes(parent: u32) -> Vec<AppProcess> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        if parent_of(pid) != Some(parent) || !process_alive(pid) {
            continue;
        }
        let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let args: Vec<String> = cmdline
            .split(|b| *b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        if !args.iter().any(|a| a == "uvicorn") {
            continue;
        }
        // Kiln tells every app its port in `PORT`, however it hands the port over.
        let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
        let port = environ
            .split(|b| *b == 0)
            .find_map(|var| var.strip_prefix(b"PORT="))
            .and_then(|p| std::str::from_utf8(p).ok()?.parse().ok());
        if let Some(port) = port {
            found.push(AppProcess { pid, port });
        }
    }
    found.sort_by_key(|p| p.pid);
    found
}

/// `/proc/{pid}/stat`: the state and the parent, after the command name in parentheses.
fn stat_fields(pid: u32) -> Option<(char, u32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    Some((state, ppid))
}

fn parent_of(pid: u32) -> Option<u32> {
    stat_fields(pid).map(|(_, ppid)| ppid)
}

/// Whether a process exists and has not exited (a zombie waiting to be reaped has).
pub fn process_alive(pid: u32) -> bool {
    stat_fields(pid).is_some_and(|(state, _)| state != 'Z' && state != 'X')
}

/// Whether something accepts connections on a loopback port.
pub fn port_open(port: u16) -> bool {
    std::net::TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_secs(2),
    )
    .is_ok()
}

/// Polls `check` every 100 ms until it holds; panics with `what` after `limit`.
pub async fn eventually<F, Fut>(what: &str, limit: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + limit;
    while !check().await {
        assert!(
            std::time::Instant::now() < deadline,
            "gave up after {limit:?} waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The Python of the virtualenv that `kiln` processes under test use for generated projects
/// (under [`runtime_venv_dir`]), made the way `kiln` makes it when it is missing.
pub async fn runtime_python() -> std::path::PathBuf {
    let root = std::path::PathBuf::from(runtime_venv_dir());
    let scratch = tempfile::tempdir().unwrap();
    let settings = kiln::runner::LocalRunnerSettings {
        python: "python3".into(),
        venv_root: root.clone(),
        requirements: kiln::generator::every_requirement(),
        work_dir: scratch.path().join("work"),
        deploy_dir: scratch.path().join("deployments"),
        test_timeout: Duration::from_secs(600),
        deploy_timeout: Duration::from_secs(120),
        postgres_url: None,
        osv_url: None,
    };
    let (runner, _) = kiln::runner::LocalTestRunner::with_deployer(settings.clone());
    use kiln::runner::TestRunner;
    runner
        .prepare_environment()
        .await
        .expect("making the runtime virtualenv");
    // `kiln serve` names the directory the same way, from the same requirements.
    let dir = settings.venv_dir();
    assert!(
        dir.join(".kiln-ready").exists(),
        "no ready virtualenv at {}: has kiln changed how it names it?",
        dir.display()
    );
    dir.join("bin").join("python")
}

/// A `kiln serve` on a fresh data directory, with a client and its API's base URL: what most
/// tests start with.
pub struct Session {
    /// The data directory (removed when the session is dropped).
    pub dir: tempfile::TempDir,
    /// The server.
    pub server: Server,
    /// A client.
    pub client: reqwest::Client,
    /// `{base}/api/v2`.
    pub api: String,
}

impl Session {
    /// Starts a server with the extra settings `extra`.
    pub fn start(extra: &[(&str, &str)]) -> Session {
        let dir = tempfile::tempdir().unwrap();
        let server = Server::start(dir.path(), extra);
        let api = format!("{}/api/v2", server.base);
        Session {
            dir,
            server,
            client: reqwest::Client::new(),
            api,
        }
    }
}
