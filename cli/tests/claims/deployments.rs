//! Claims about deployed apps as processes: a redeploy replaces the old process only once the
//! new one answers, staging and prod each get their own process and data, and deployments end
//! with `kiln serve`.

use std::process::Command;
use std::time::Duration;

use serde_json::json;

use crate::common::{
    self, app_processes, deployment, eventually, port_open, process_alive, project, project_after,
    try_get, Server, Session,
};
use crate::support::{get_run, post, say, NOTES};

fn port_of(url: &str) -> u16 {
    url.rsplit(':')
        .next()
        .and_then(|p| p.trim_end_matches('/').parse().ok())
        .unwrap_or_else(|| panic!("no port in {url}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_redeploy_replaces_the_old_process_only_once_the_new_one_answers() {
    let session = Session::start(&[]);
    let (_server, client, api) = (&session.server, &session.client, &session.api);
    let kiln_pid = session.server.child.id();
    let id = project_after(client, api, "Notes", &[NOTES, "deploy it"]).await;
    let (old_url, _) = deployment(&project(client, api, &id).await, "dev");
    let old_port = port_of(&old_url);

    // While the redeploy runs, something answers /health at every moment: the old process,
    // or, once the old one is gone, the new one, which must have answered before it went.
    let run_id = post(client, api, &id, "redeploy").await;
    let (mut old_answers, mut overlap, mut old_gone) = (0, false, false);
    let deadline = std::time::Instant::now() + Duration::from_secs(300);
    let run = loop {
        let run = get_run(client, api, &id, &run_id).await;
        if run["status"] == "succeeded" || run["status"] == "failed" {
            break run;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the redeploy did not end: {run}"
        );
        if !old_gone {
            let others: Vec<u16> = app_processes(kiln_pid)
                .iter()
                .map(|p| p.port)
                .filter(|p| *p != old_port)
                .collect();
            match try_get(client, &format!("{old_url}/health")).await {
                Some((200, _)) => {
                    old_answers += 1;
                    overlap |= !others.is_empty();
                }
                answer => {
                    old_gone = true;
                    let mut new_answers = false;
                    for port in &others {
                        new_answers |= matches!(
                            try_get(client, &format!("http://127.0.0.1:{port}/health")).await,
                            Some((200, _))
                        );
                    }
                    assert!(
                        new_answers,
                        "the old process stopped answering ({answer:?}) before a new one \
                         answered (app processes on ports {others:?})"
                    );
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(run["status"], "succeeded", "{run}");
    assert!(old_answers > 0, "the old process was never seen answering");
    assert!(
        overlap,
        "the old process was never seen answering beside the new one"
    );
    let (new_url, _) = deployment(&project(client, api, &id).await, "dev");
    assert_ne!(new_url, old_url);
    assert_eq!(
        try_get(client, &format!("{new_url}/health"))
            .await
            .map(|a| a.0),
        Some(200)
    );
    eventually(
        "the old process is stopped",
        Duration::from_secs(30),
        move || async move { !port_open(old_port) },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn staging_and_prod_each_get_their_own_process_and_data() {
    let session = Session::start(&[]);
    let (_server, client, api) = (&session.server, &session.client, &session.api);
    let kiln_pid = session.server.child.id();
    let id = project_after(
        client,
        api,
        "Notes",
        &[
            NOTES,
            "add database support",
            "deploy it to staging",
            "push it to production",
            // Prod waits for a yes.
            "yes, push it to production",
        ],
    )
    .await;
    let p = project(client, api, &id).await;
    let envs: Vec<&str> = p["deployments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["environment"].as_str().unwrap())
        .collect();
    assert_eq!(envs, ["staging", "prod"], "{p}");
    let (staging, _) = deployment(&p, "staging");
    let (prod, _) = deployment(&p, "prod");
    let ports = [port_of(&staging), port_of(&prod)];
    assert_ne!(ports[0], ports[1], "{p}");
    let processes = app_processes(kiln_pid);
    let mut serving: Vec<u16> = processes.iter().map(|a| a.port).collect();
    serving.sort();
    let mut expected = ports.to_vec();
    expected.sort();
    assert_eq!(
        serving, expected,
        "one process per environment: {processes:?}"
    );
    for url in [&staging, &prod] {
        assert_eq!(
            try_get(client, &format!("{url}/health")).await.map(|a| a.0),
            Some(200),
            "{url}"
        );
    }

    // A note written to staging stays in staging.
    let created = client
        .post(format!("{staging}/notes"))
        .json(&json!({"title": "only in staging"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status().as_u16(), 201);
    let count = |url: String| {
        let client = client.clone();
        async move {
            let (status, listed) = try_get(&client, &format!("{url}/notes")).await.unwrap();
            assert_eq!(status, 200, "{listed}");
            listed["total"].as_u64().unwrap()
        }
    };
    assert_eq!(count(staging.clone()).await, 1);
    assert_eq!(count(prod.clone()).await, 0, "prod has data of its own");
}

#[tokio::test(flavor = "multi_thread")]
async fn deployments_end_with_kiln_serve() {
    let dir = tempfile::tempdir().unwrap();
    let client = reqwest::Client::new();

    // A server stopped the ordinary way (SIGTERM) takes its deployment with it.
    let mut server = Server::start(dir.path(), &[]);
    let api = format!("{}/api/v2", server.base);
    let id = project_after(&client, &api, "Notes", &[NOTES, "deploy it"]).await;
    let (url, _) = deployment(&project(&client, &api, &id).await, "dev");
    let apps = app_processes(server.child.id());
    assert_eq!(
        apps.iter().map(|a| a.port).collect::<Vec<_>>(),
        [port_of(&url)],
        "{apps:?}"
    );
    let status = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let mut exited = None;
    eventually(
        "kiln serve exits on SIGTERM",
        Duration::from_secs(30),
        || {
            exited = server.child.try_wait().unwrap();
            std::future::ready(exited.is_some())
        },
    )
    .await;
    assert_gone(&apps).await;

    // The next start records it as stopped; a new deploy ends with a kill -9 of the server.
    let server = Server::start(dir.path(), &[]);
    let api = format!("{}/api/v2", server.base);
    let p = project(&client, &api, &id).await;
    assert_eq!(p["deployments"], json!([]), "{p}");
    say(&client, &api, &id, "deploy it").await;
    let apps = app_processes(server.child.id());
    assert_eq!(apps.len(), 1, "{apps:?}");
    server.kill();
    assert_gone(&apps).await;
}

/// Waits until every app process has exited and its port refuses connections.
async fn assert_gone(apps: &[common::AppProcess]) {
    for app in apps {
        eventually(
            &format!("the app process {app:?} is gone and its port refuses connections"),
            Duration::from_secs(30),
            move || async move { !process_alive(app.pid) && !port_open(app.port) },
        )
        .await;
    }
}
