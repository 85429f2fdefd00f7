//! `kiln serve` as a real process: the README's walkthrough over HTTP, bad input, restarts.

mod common;

use std::process::Command;

use common::{call, say, wait_for_run, Server};
use serde_json::{json, Value};

#[tokio::test]
async fn chat_over_http_survives_a_kill_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let client = reqwest::Client::new();
    let server = Server::start(dir.path(), &[]);
    let api = format!("{}/api/v2", server.base);

    let (status, project) = call(
        &client,
        reqwest::Method::POST,
        format!("{api}/projects"),
        Some(json!({"name": "Task Management API", "description": "for my team"})),
    )
    .await;
    assert_eq!(status, 201, "{project}");
    let id = project["id"].as_str().unwrap().to_owned();

    let (status, posted) = call(
        &client,
        reqwest::Method::POST,
        format!("{api}/projects/{id}/messages"),
        Some(json!({"content": "Build a REST API for managing tasks", "client_id": "c1"})),
    )
    .await;
    assert_eq!(status, 202, "{posted}");
    let run = wait_for_run(&client, &api, &id, posted["run"]["id"].as_str().unwrap()).await;
    assert_eq!(run["status"], "succeeded", "{run}");

    let (_, conversation) = call(
        &client,
        reqwest::Method::GET,
        format!("{api}/projects/{id}/conversation"),
        None,
    )
    .await;
    let items = conversation["items"].as_array().unwrap().clone();
    assert!(items.len() >= 2, "{conversation}");
    // The description opens the conversation; the message follows it.
    assert_eq!(items[0]["content"], "for my team");
    assert_eq!(items[0]["role"], "user");
    assert!(
        items
            .iter()
            .any(|m| m["role"] == "user" && m["content"] == "Build a REST API for managing tasks"),
        "{conversation}"
    );
    assert!(
        items.iter().any(|m| m["role"] == "assistant"),
        "an agent replied"
    );

    // Bad input over the wire.
    let raw = |body: &'static str| {
        client
            .post(format!("{api}/projects"))
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let res = raw("{\"name\": ").await.unwrap();
    assert_eq!(res.status().as_u16(), 400);
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"]["code"],
        "malformed_json"
    );
    let res = raw("{\"name\": \"\"}").await.unwrap();
    assert_eq!(res.status().as_u16(), 422);
    let big = format!("{{\"name\": \"{}\"}}", "x".repeat(400 * 1024));
    let res = client
        .post(format!("{api}/projects"))
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 413);
    assert_eq!(
        res.headers().get("connection").map(|v| v.as_bytes()),
        Some(&b"close"[..]),
        "a body left unread ends the connection, and the answer says so"
    );
    let (status, err) = call(
        &client,
        reqwest::Method::GET,
        format!("{api}/projects/{}", uuid_like()),
        None,
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(err["error"]["code"], "not_found");

    // The web UI and health are served too.
    let page = client
        .get(format!("{}/", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status().as_u16(), 200);
    assert!(page.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert_eq!(
        call(
            &client,
            reqwest::Method::GET,
            format!("{}/healthz", server.base),
            None
        )
        .await
        .0,
        200
    );

    // kill -9, then start again on the same data directory.
    server.kill();
    let server = Server::start(dir.path(), &[]);
    let api = format!("{}/api/v2", server.base);
    let (status, again) = call(
        &client,
        reqwest::Method::GET,
        format!("{api}/projects/{id}"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["spec"]["resources"][0]["plural"], "tasks");
    let (_, after) = call(
        &client,
        reqwest::Method::GET,
        format!("{api}/projects/{id}/conversation"),
        None,
    )
    .await;
    assert_eq!(
        after["items"].as_array().unwrap(),
        &items,
        "the conversation survived"
    );
    // The run from before the kill is intact.
    let (status, run_again) = call(
        &client,
        reqwest::Method::GET,
        format!("{api}/projects/{id}/runs/{}", run["id"].as_str().unwrap()),
        None,
    )
    .await;
    assert_eq!(status, 200, "{run_again}");
    assert_eq!(run_again, run, "the run survived");
    // The earlier client id is still remembered: the retry gets the first answer.
    let (status, retried) = call(
        &client,
        reqwest::Method::POST,
        format!("{api}/projects/{id}/messages"),
        Some(json!({"content": "Build a REST API for managing tasks", "client_id": "c1"})),
    )
    .await;
    assert_eq!(
        status, 200,
        "a retry after restart is recognised: {retried}"
    );
    assert_eq!(retried["run"]["id"], posted["run"]["id"], "{retried}");
    assert_eq!(
        retried["message"]["id"], posted["message"]["id"],
        "{retried}"
    );

    // The next message is read into the spec that was kept, and its run goes to its end.
    let (status, next) = call(
        &client,
        reqwest::Method::POST,
        format!("{api}/projects/{id}/messages"),
        Some(json!({"content": "Add user authentication"})),
    )
    .await;
    assert_eq!(status, 202, "{next}");
    let next = wait_for_run(&client, &api, &id, next["run"]["id"].as_str().unwrap()).await;
    assert_eq!(next["status"], "succeeded", "{next}");
    assert_eq!(next["intent"], "refine", "{next}");
    assert_eq!(
        common::step_names(&next),
        ["ProductManager", "Architect", "Complete"]
    );
    let (_, now) = call(
        &client,
        reqwest::Method::GET,
        format!("{api}/projects/{id}"),
        None,
    )
    .await;
    assert_eq!(now["spec"]["features"]["auth"], "jwt", "{now}");
    let mut kept = again["spec"].clone();
    kept["features"]["auth"] = json!("jwt");
    assert_eq!(
        now["spec"], kept,
        "the spec from before the kill is kept, with authentication added"
    );
    let (_, conversation) = call(
        &client,
        reqwest::Method::GET,
        format!("{api}/projects/{id}/conversation?limit=200"),
        None,
    )
    .await;
    let all = conversation["items"].as_array().unwrap();
    assert_eq!(
        &all[..items.len()],
        &items[..],
        "the conversation from before the kill comes first, unchanged"
    );
    let added: Vec<(&str, &str)> = all[items.len()..]
        .iter()
        .map(|m| (m["role"].as_str().unwrap(), m["run_id"].as_str().unwrap()))
        .collect();
    let next_id = next["id"].as_str().unwrap();
    assert_eq!(added.first(), Some(&("user", next_id)), "{conversation}");
    assert!(
        added.len() >= 2
            && added[1..]
                .iter()
                .all(|(role, run)| *role != "user" && *run == next_id),
        "only the new message and its replies were added: {conversation}"
    );
}

#[tokio::test]
async fn a_token_guards_the_api() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[("KILN_TOKEN", "local-secret")]);
    let client = reqwest::Client::new();
    let url = format!("{}/api/v2/projects", server.base);
    assert_eq!(
        client.get(&url).send().await.unwrap().status().as_u16(),
        401
    );
    let ok = client
        .get(&url)
        .bearer_auth("local-secret")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status().as_u16(), 200);
}

#[test]
fn refuses_to_listen_beyond_loopback_without_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_kiln"))
        .arg("serve")
        .env_clear()
        .env("KILN_BIND", "0.0.0.0:0")
        .env("KILN_DATA_DIR", dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("KILN_TOKEN"), "{stderr}");
}

#[test]
fn a_bad_setting_is_named() {
    let out = Command::new(env!("CARGO_BIN_EXE_kiln"))
        .arg("serve")
        .env_clear()
        .env("KILN_BIND", "not-an-address")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("KILN_BIND"));
}

fn uuid_like() -> &'static str {
    "01a20d2f-8732-7369-8d1f-33154ddffaec"
}

#[tokio::test(flavor = "multi_thread")]
async fn a_kill_in_the_middle_of_a_run_leaves_a_failed_run_and_a_working_server() {
    let dir = tempfile::tempdir().unwrap();
    let client = reqwest::Client::new();
    let server = Server::start(dir.path(), &[]);
    let api = format!("{}/api/v2", server.base);
    let (_, project) = call(
        &client,
        reqwest::Method::POST,
        format!("{api}/projects"),
        Some(json!({"name": "doomed run"})),
    )
    .await;
    let id = project["id"].as_str().unwrap().to_owned();
    for content in ["API for tasks. Each task has a title", "build it"] {
        let run = say(&client, &api, &id, content).await;
        assert_eq!(run["status"], "succeeded", "{run}");
    }

    // Start the test suite and kill the server while the QA engineer is at work.
    let (_, posted) = call(
        &client,
        reqwest::Method::POST,
        format!("{api}/projects/{id}/messages"),
        Some(json!({"content": "run the tests"})),
    )
    .await;
    let run_id = posted["run"]["id"].as_str().unwrap().to_owned();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let (_, run) = call(
            &client,
            reqwest::Method::GET,
            format!("{api}/projects/{id}/runs/{run_id}"),
            None,
        )
        .await;
        let in_qa = run["steps"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["name"].as_str().unwrap().starts_with("Qa"));
        if run["status"] == "running" && in_qa {
            break;
        }
        assert!(
            run["status"] == "running" || run["status"] == "queued",
            "the run ended before the kill: {run}"
        );
        assert!(
            std::time::Instant::now() < deadline,
            "the QA step never started"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    server.kill();

    let server = Server::start(dir.path(), &[]);
    let api = format!("{}/api/v2", server.base);
    let (status, run) = call(
        &client,
        reqwest::Method::GET,
        format!("{api}/projects/{id}/runs/{run_id}"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(run["status"], "failed", "{run}");
    assert_eq!(run["error"]["code"], "interrupted");
    let (_, conversation) = call(
        &client,
        reqwest::Method::GET,
        format!("{api}/projects/{id}/conversation?limit=200"),
        None,
    )
    .await;
    let last = conversation["items"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(last["role"], "system");
    assert!(
        last["content"].as_str().unwrap().contains("did not finish"),
        "{last}"
    );
    let (_, project) = call(
        &client,
        reqwest::Method::GET,
        format!("{api}/projects/{id}"),
        None,
    )
    .await;
    assert_eq!(project["current_version"], 1, "the database is intact");

    let run = say(&client, &api, &id, "run the tests").await;
    assert_eq!(run["status"], "succeeded", "the next message works: {run}");
}

/// Its log, written to a pipe, is plain text (no terminal colour codes); a second
/// `kiln serve` on the same data directory stops at start and says why, instead of running
/// the same projects a second time.
#[test]
fn a_second_server_on_the_same_data_stops_and_its_log_is_plain() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let dir = tempfile::tempdir().unwrap();
    let start = || {
        Command::new(env!("CARGO_BIN_EXE_kiln"))
            .arg("serve")
            .env_clear()
            .env("KILN_BIND", "127.0.0.1:0")
            .env("KILN_DATA_DIR", dir.path())
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    // Killed when the test ends, passed or not.
    struct Running(std::process::Child);
    impl Drop for Running {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut first = Running(start());
    let mut log = BufReader::new(first.0.stderr.take().unwrap());
    let mut line = String::new();
    while !line.contains("kiln serving") {
        line.clear();
        assert!(log.read_line(&mut line).unwrap() > 0, "kiln serve ended");
    }
    assert!(!line.contains('\u{1b}'), "{line:?}");

    let second = start().wait_with_output().unwrap();
    assert!(!second.status.success());
    let said = String::from_utf8_lossy(&second.stderr);
    assert!(
        said.contains("kiln.db is open in another process") && said.contains("KILN_DATA_DIR"),
        "{said}"
    );
    drop(first);
}

/// Told to stop (SIGTERM) while a browser follows a project's events, Kiln stops within a few
/// seconds instead of waiting for the stream to end, and the next one opens its data.
#[tokio::test]
async fn it_stops_with_an_event_stream_open() {
    let dir = tempfile::tempdir().unwrap();
    let client = reqwest::Client::new();
    let mut server = Server::start(dir.path(), &[]);
    let api = format!("{}/api/v2", server.base);
    let (status, project) = call(
        &client,
        reqwest::Method::POST,
        format!("{api}/projects"),
        Some(json!({"name": "Followed"})),
    )
    .await;
    assert_eq!(status, 201, "{project}");
    let events = client
        .get(format!(
            "{api}/projects/{}/events",
            project["id"].as_str().unwrap()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(events.status(), 200);
    let stopped = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(stopped.success());
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(15),
            "kiln serve still running 15 s after SIGTERM with an event stream open"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert!(status.success(), "{status}");
    drop(events);
    // The data directory is free again.
    let again = Server::start(dir.path(), &[]);
    let (status, _) = call(
        &client,
        reqwest::Method::GET,
        format!("{}/api/v2/projects", again.base),
        None,
    )
    .await;
    assert_eq!(status, 200);
}
