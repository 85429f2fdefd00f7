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
            .env("KILN_PIPELINE_TIME_SCALE", "0.25")
            .env("KILN_BIND", "127.0.0.1:0")
            .env("KILN_DATA_DIR", data_dir)
            .env("RUST_LOG", "warn")
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
