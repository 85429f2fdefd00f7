//! Claims about an environment's data: exported as JSON through Kiln's API, imported into
//! another environment, and restored into the one it came from, with every row as the app
//! stored it; a bad import is refused and changes nothing.

use reqwest::Method;
use serde_json::{json, Value};

use crate::common::{call, deployment, project, project_after, Session};

/// Every note the app lists, as (id, title, done), in id order.
async fn notes(client: &reqwest::Client, app: &str) -> Vec<(i64, String, bool)> {
    let (status, page) = call(client, Method::GET, format!("{app}/notes?limit=100"), None).await;
    assert_eq!(status, 200, "{page}");
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["id"].as_i64().unwrap(),
                n["title"].as_str().unwrap().to_owned(),
                n["done"].as_bool().unwrap(),
            )
        })
        .collect()
}

async fn add_note(client: &reqwest::Client, app: &str, title: &str, done: bool) -> i64 {
    let (status, note) = call(
        client,
        Method::POST,
        format!("{app}/notes"),
        Some(json!({"title": title, "done": done})),
    )
    .await;
    assert_eq!(status, 201, "{note}");
    note["id"].as_i64().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn data_moves_between_environments_and_a_kept_copy_restores_it() {
    let session = Session::start(&[]);
    let (client, api) = (&session.client, &session.api);
    let id = project_after(
        client,
        api,
        "Notes",
        &[
            "API for notes. Each note has a title and a done flag",
            "add database support",
            "deploy it",
            "deploy to prod",
            // Prod waits for a yes.
            "yes, deploy to prod",
        ],
    )
    .await;
    let current = project(client, api, &id).await;
    let (dev, _) = deployment(&current, "dev");
    let (prod, _) = deployment(&current, "prod");

    let written = [
        ("Buy milk", false),
        ("Ünïcode — «quotes» and 'apostrophes'", true),
        ("'); DROP TABLE notes;--", false),
    ];
    for (title, done) in written {
        add_note(client, &dev, title, done).await;
    }
    let in_dev = notes(client, &dev).await;
    assert_eq!(
        in_dev
            .iter()
            .map(|(_, t, d)| (t.as_str(), *d))
            .collect::<Vec<_>>(),
        written.to_vec()
    );

    // The export holds each row the app stored, and nothing of prod's.
    add_note(client, &prod, "only in prod", false).await;
    let data_url = |env: &str| format!("{api}/projects/{id}/environments/{env}/data");
    let (status, exported) = call(client, Method::GET, data_url("dev"), None).await;
    assert_eq!(status, 200, "{exported}");
    let rows = exported["tables"]["notes"].as_array().unwrap();
    let exported_notes: Vec<(i64, String, bool)> = rows
        .iter()
        .map(|r| {
            (
                r["id"].as_i64().unwrap(),
                r["title"].as_str().unwrap().to_owned(),
                r["done"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(exported_notes, in_dev);

    // Imported into prod, it replaces prod's rows: prod lists what dev lists.
    let (status, summary) = call(
        client,
        Method::PUT,
        data_url("prod"),
        Some(exported.clone()),
    )
    .await;
    assert_eq!(status, 200, "{summary}");
    assert_eq!(summary["tables"]["notes"], 3, "{summary}");
    assert_eq!(notes(client, &prod).await, in_dev);
    // New rows continue after the imported ids.
    let next = add_note(client, &prod, "after the import", false).await;
    assert!(next > in_dev.iter().map(|n| n.0).max().unwrap(), "{next}");

    // A kept copy restores dev after its rows changed.
    let gone = in_dev[0].0;
    let (status, _) = call(client, Method::DELETE, format!("{dev}/notes/{gone}"), None).await;
    assert_eq!(status, 204);
    add_note(client, &dev, "written after the copy", true).await;
    let (status, _) = call(client, Method::PUT, data_url("dev"), Some(exported.clone())).await;
    assert_eq!(status, 200);
    assert_eq!(notes(client, &dev).await, in_dev);

    // Data that does not fit is refused, each problem named, and nothing changes.
    let mut bad = exported.clone();
    bad["tables"]["notes"][1]["colour"] = json!("red");
    bad["tables"]["notes"][2]["title"] = Value::Null;
    bad["tables"]["notes"][0]["done"] = json!("yes");
    let (status, refused) = call(client, Method::PUT, data_url("dev"), Some(bad)).await;
    assert_eq!(status, 422, "{refused}");
    let message = refused["error"]["message"].as_str().unwrap();
    for problem in [
        "colour",
        "title may not be null",
        "done must be true or false",
    ] {
        assert!(message.contains(problem), "{problem} not in {message}");
    }
    let (status, refused) = call(
        client,
        Method::PUT,
        data_url("dev"),
        Some(json!({"tables": {"people": []}})),
    )
    .await;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(notes(client, &dev).await, in_dev);

    // Environments with nothing deployed, and ones that do not exist, are not found.
    let (status, body) = call(client, Method::GET, data_url("staging"), None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("not_deployed"))
    );
    let (status, _) = call(client, Method::GET, data_url("qa"), None).await;
    assert_eq!(status, 404);
    // The app's data routes answer no one but Kiln.
    let (status, _) = call(client, Method::GET, format!("{dev}/_kiln/data"), None).await;
    assert_eq!(status, 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_app_without_a_database_says_it_has_no_data_to_move() {
    let session = Session::start(&[]);
    let (client, api) = (&session.client, &session.api);
    let id = project_after(client, api, "Notes", &[crate::support::NOTES, "deploy it"]).await;
    let (status, body) = call(
        client,
        Method::GET,
        format!("{api}/projects/{id}/environments/dev/data"),
        None,
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("not_running")),
        "{body}"
    );
}

/// A rollback over a database a later version migrated brings it back to the tables the
/// earlier version reads (the later version's revisions undo their changes), so the earlier
/// app answers with every row instead of failing on a column it does not know the type of.
#[tokio::test(flavor = "multi_thread")]
async fn a_rollback_brings_the_database_back_to_what_the_earlier_version_reads() {
    let session = Session::start(&[]);
    let (client, api) = (&session.client, &session.api);
    let id = project_after(
        client,
        api,
        "Estimates",
        &[
            "API for tasks. Each task has a title and an estimate (text)",
            "add database support",
            "deploy it",
        ],
    )
    .await;
    let (dev, _) = deployment(&project(client, api, &id).await, "dev");
    for (title, estimate) in [("a", "12"), ("b", "soon")] {
        let (status, body) = call(
            client,
            Method::POST,
            format!("{dev}/tasks"),
            Some(json!({"title": title, "estimate": estimate})),
        )
        .await;
        assert_eq!(status, 201, "{body}");
    }
    let estimates = |page: &Value| -> Vec<Value> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["estimate"].clone())
            .collect()
    };
    for message in [
        "the estimate should be an integer",
        "the first",
        "deploy it",
    ] {
        crate::support::say(client, api, &id, message).await;
    }
    let (dev, version) = deployment(&project(client, api, &id).await, "dev");
    assert_eq!(version, 2);
    let (status, page) = call(client, Method::GET, format!("{dev}/tasks"), None).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(estimates(&page), [json!(12), json!(0)]);

    crate::support::say(client, api, &id, "roll back to version 1").await;
    let (dev, version) = deployment(&project(client, api, &id).await, "dev");
    assert_eq!(version, 1);
    let (status, page) = call(client, Method::GET, format!("{dev}/tasks"), None).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(estimates(&page), [json!("12"), json!("0")]);
    let (status, body) = call(
        client,
        Method::POST,
        format!("{dev}/tasks"),
        Some(json!({"title": "c", "estimate": "a week"})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
}
