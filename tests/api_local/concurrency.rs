//! Concurrency: builds racing for version numbers, and a hundred messages with their retries
//! and twenty builds at once, nothing lost or repeated.

use axum::http::StatusCode;
use serde_json::{json, Value};

use crate::common::app;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_builds_get_distinct_version_numbers() {
    let app = app().await;
    let id = app.create_project("race").await;
    app.say(&id, "Build a REST API for managing tasks").await;
    let builds = (0..4).map(|_| app.say(&id, "build it"));
    for (status, body) in futures_join_all(builds).await {
        assert_eq!(status, StatusCode::ACCEPTED);
        assert_eq!(body["run"]["status"], "succeeded", "{body}");
    }
    let (_, versions) = app
        .call("GET", &format!("/api/v2/projects/{id}/versions"), None)
        .await;
    let numbers: Vec<u64> = versions["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["number"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, [4, 3, 2, 1]);
    let (_, project) = app
        .call("GET", &format!("/api/v2/projects/{id}"), None)
        .await;
    assert_eq!(project["current_version"], 4);
}

async fn futures_join_all<F: std::future::Future>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output> {
    let mut set = Vec::new();
    for f in futures {
        set.push(f);
    }
    let mut out = Vec::new();
    // Poll them together so the builds really overlap.
    let mut pinned: Vec<std::pin::Pin<Box<F>>> = set.into_iter().map(Box::pin).collect();
    let mut results: Vec<Option<F::Output>> = (0..pinned.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in pinned.iter_mut().enumerate() {
            if results[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => results[i] = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.extend(results.into_iter().map(|r| r.unwrap()));
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hundred_concurrent_messages_and_twenty_builds_lose_nothing() {
    let app = app().await;
    let id = app.create_project("busy").await;
    app.say(&id, "API for tasks and projects").await;
    let path = format!("/api/v2/projects/{id}/messages");
    let started = std::time::Instant::now();
    // 100 refinements at once, and a retry of every other one with the same client id.
    let posts = (0..150).map(|k| {
        let i = if k < 100 { k } else { (k - 100) * 2 };
        let body =
            json!({"content": format!("{} have a note{i}", if i % 2 == 0 { "tasks" } else { "projects" }), "client_id": format!("client-{i}")});
        app.call("POST", &path, Some(body))
    });
    let answers = futures_join_all(posts).await;
    let accepted = answers
        .iter()
        .filter(|(s, _)| *s == StatusCode::ACCEPTED)
        .count();
    let replayed = answers.iter().filter(|(s, _)| *s == StatusCode::OK).count();
    assert_eq!(
        (accepted, replayed),
        (100, 50),
        "every message stored once, every retry recognised"
    );
    let mut runs: Vec<String> = answers
        .iter()
        .map(|(_, b)| b["run"]["id"].as_str().unwrap().to_owned())
        .collect();
    runs.sort();
    runs.dedup();
    assert_eq!(runs.len(), 100);
    for run in &runs {
        let done = app.wait_for_run(&id, run).await;
        assert_eq!(done["status"], "succeeded", "{done}");
    }
    println!(
        "100 concurrent messages (+50 retries): all runs done in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let conversation = {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let q = cursor
                .as_ref()
                .map(|c| format!("&cursor={c}"))
                .unwrap_or_default();
            let (_, page) = app
                .call(
                    "GET",
                    &format!("/api/v2/projects/{id}/conversation?limit=200{q}"),
                    None,
                )
                .await;
            items.extend(page["items"].as_array().unwrap().iter().cloned());
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => break,
            }
        }
        items
    };
    let users: Vec<&Value> = conversation
        .iter()
        .filter(|m| m["role"] == "user")
        .collect();
    assert_eq!(
        users.len(),
        101,
        "the description and 100 refinements, each once"
    );
    // Every reply comes after the message it answers.
    for (index, m) in conversation.iter().enumerate() {
        if m["role"] != "user" {
            let asked = conversation
                .iter()
                .position(|u| u["role"] == "user" && u["run_id"] == m["run_id"])
                .unwrap();
            assert!(asked < index, "a reply before its question: {m}");
        }
    }
    let (_, project) = app
        .call("GET", &format!("/api/v2/projects/{id}"), None)
        .await;
    for i in 0..100 {
        let fields = project["spec"]["resources"][i % 2]["fields"]
            .as_array()
            .unwrap();
        assert!(
            fields.iter().any(|f| f["name"] == format!("note{i}")),
            "the refinement note{i} was lost"
        );
    }

    let started = std::time::Instant::now();
    let builds = futures_join_all(
        (0..20).map(|_| app.call("POST", &path, Some(json!({"content": "build it"})))),
    )
    .await;
    for (_, b) in &builds {
        let done = app
            .wait_for_run(&id, b["run"]["id"].as_str().unwrap())
            .await;
        assert_eq!(done["status"], "succeeded", "{done}");
    }
    println!(
        "20 concurrent builds: all done in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let (_, versions) = app
        .call(
            "GET",
            &format!("/api/v2/projects/{id}/versions?limit=50"),
            None,
        )
        .await;
    let items = versions["items"].as_array().unwrap();
    let numbers: Vec<u64> = items
        .iter()
        .map(|v| v["number"].as_u64().unwrap())
        .collect();
    assert_eq!(
        numbers,
        (1..=20).rev().collect::<Vec<u64>>(),
        "versions 1 to 20, none skipped or repeated"
    );
    let times: Vec<&str> = items
        .iter()
        .map(|v| v["created_at"].as_str().unwrap())
        .collect();
    assert!(
        times.windows(2).all(|w| w[0] >= w[1]),
        "higher numbers are newer"
    );
}
