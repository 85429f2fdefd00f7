//! Claims about the pipeline's runs: test and deploy build first when the spec changed, a
//! rollback redeploys the earlier version, a storage failure no retry can fix is reported at
//! once, and a finished run records every step as finished.

use serde_json::Value;

use crate::common::{
    self, deployment, project, project_after, replies, schema_fields, step_names, Server, Session,
};
use crate::support::{post, say, test_report, NOTES};
use kiln_integration_tests::steps::{chain, BUILD, DEPLOY, REVIEW, TEST};

#[tokio::test(flavor = "multi_thread")]
async fn test_and_deploy_build_first_when_the_spec_changed() {
    let session = Session::start(&[]);
    let (client, api) = (&session.client, &session.api);
    let id = project_after(client, api, "Notes", &[NOTES, "build it"]).await;

    // The spec changes after version 1: "run the tests" builds version 2 first and tests it.
    say(client, api, &id, "each note also has a summary").await;
    let tested = say(client, api, &id, "run the tests").await;
    assert_eq!(
        step_names(&tested),
        [
            "Plan",
            "BackendDeveloper",
            "DocumentationWriter",
            "Release",
            "Review",
            "ReviewCheck",
            "QaStart",
            "QaCheck",
            "QaReport",
            "Complete"
        ]
    );
    let report = test_report(&replies(client, api, &id, &tested).await);
    assert_eq!(report["version"], 2, "the new version was tested: {report}");
    assert_eq!(report["report"]["failed"], 0, "{report}");
    let p = project(client, api, &id).await;
    assert_eq!(p["current_version"], 2, "{p}");

    // It changes again: "deploy it" builds version 3, tests it, and deploys it.
    say(client, api, &id, "add a due date").await;
    let deployed = say(client, api, &id, "deploy it").await;
    // Built and tested first, then deployed.
    assert_eq!(
        step_names(&deployed),
        chain(&[&["Plan"], &BUILD, &REVIEW, &TEST, &DEPLOY, &["Complete"]])
    );
    let report = test_report(&replies(client, api, &id, &deployed).await);
    assert_eq!(report["version"], 3, "{report}");
    let p = project(client, api, &id).await;
    assert_eq!(p["current_version"], 3, "{p}");
    let (url, version) = deployment(&p, "dev");
    assert_eq!(version, 3, "{p}");
    assert_eq!(
        schema_fields(client, &url, "NoteCreate").await,
        ["due_date", "summary", "title"],
        "the deployed app has the new field"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rollback_redeploys_the_earlier_version() {
    let session = Session::start(&[]);
    let (client, api) = (&session.client, &session.api);
    let id = project_after(
        client,
        api,
        "Notes",
        &[
            NOTES,
            "build it",
            "each note also has a summary",
            "deploy it",
        ],
    )
    .await;
    let before = project(client, api, &id).await;
    let (url, version) = deployment(&before, "dev");
    assert_eq!(version, 2, "{before}");
    assert_eq!(
        schema_fields(client, &url, "NoteCreate").await,
        ["summary", "title"]
    );

    let rolled = say(client, api, &id, "roll back to version 1").await;
    assert_eq!(
        step_names(&rolled),
        chain(&[&["Rollback"], &DEPLOY[1..], &["Complete"]])
    );
    let after = project(client, api, &id).await;
    assert_eq!(after["current_version"], 1, "{after}");
    let fields: Vec<&str> = after["spec"]["resources"][0]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["title"], "version 1's spec is current again");
    let (new_url, version) = deployment(&after, "dev");
    assert_eq!(version, 1, "{after}");
    assert_ne!(new_url, url, "a new process serves the rolled-back version");
    assert_eq!(
        schema_fields(client, &new_url, "NoteCreate").await,
        ["title"],
        "version 1 is what answers over HTTP"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_storage_failure_a_retry_cannot_fix_is_reported_not_retried() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let client = reqwest::Client::new();
    let api = format!("{}/api/v2", server.base);
    let id = project_after(&client, &api, "Notes", &[NOTES]).await;

    // The artifact store cannot write while a plain file sits where its blobs go: no retry
    // changes that, so the run fails at once with the reason, after one attempt.
    let blobs = dir.path().join("artifacts").join("blobs");
    std::fs::create_dir_all(blobs.parent().unwrap()).unwrap();
    let _ = std::fs::remove_dir_all(&blobs);
    std::fs::write(&blobs, "in the way").unwrap();
    let run_id = post(&client, &api, &id, "build it").await;
    let run = common::wait_for_run(&client, &api, &id, &run_id).await;
    assert_eq!(run["status"], "failed", "{run}");
    assert_eq!(run["error"]["code"], "storage_failed", "{run}");
    assert_eq!(
        step_names(&run),
        ["Plan", "BackendDeveloper", "ReportFailure"],
        "BackendDeveloper ran once: {run}"
    );
    let message = run["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("storage failed: the artifact files"),
        "{message}"
    );

    // With the file gone, the same request builds.
    std::fs::remove_file(&blobs).unwrap();
    let run = say(&client, &api, &id, "build it").await;
    assert_eq!(
        project(&client, &api, &id).await["current_version"],
        1,
        "{run}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_finished_run_records_every_step_as_finished() {
    let session = Session::start(&[]);
    let (client, api) = (&session.client, &session.api);
    let id = project_after(client, api, "Notes", &[NOTES]).await;
    let run = say(client, api, &id, "deploy it").await;
    let unfinished: Vec<&Value> = run["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["status"] != "succeeded" || s["finished_at"].is_null())
        .collect();
    assert!(
        unfinished.is_empty(),
        "steps of a succeeded run that never finished: {unfinished:#?}"
    );
}
