//! Claims about failing tests: they stop a deploy, with the reason, and the QA reply lists the
//! failing tests and how to fix them.

use crate::common::{
    self, app_processes, deployment, project, project_after, replies, schema_fields, step_names,
};
use crate::support::{say, test_report, NOTES};
use crate::toolbox::Toolbox;

#[tokio::test(flavor = "multi_thread")]
async fn failing_tests_stop_a_deploy() {
    let tools = Toolbox::new(false).await;
    let dir = tempfile::tempdir().unwrap();
    let server = tools.start_server(dir.path());
    let kiln_pid = server.child.id();
    let client = reqwest::Client::new();
    let api = format!("{}/api/v2", server.base);
    let id = project_after(&client, &api, "Notes", &[NOTES, "deploy it"]).await;
    let before = project(&client, &api, &id).await;
    let (url, _) = deployment(&before, "dev");
    let apps = app_processes(kiln_pid);

    // Version 2's tests fail: the deploy stops after the report, with the reason.
    say(&client, &api, &id, "each note also has a summary").await;
    tools.sabotage();
    let run = common::say(&client, &api, &id, "deploy it").await;
    assert_eq!(run["status"], "failed", "{run}");
    assert_eq!(run["error"]["code"], "tests_failed", "{run}");
    assert_eq!(
        run["error"]["message"],
        "version 2 did not pass its tests, so I did not deploy it; the test report above says \
         what failed"
    );
    assert_eq!(
        step_names(&run),
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
            "RefuseDeploy"
        ]
    );
    let said = replies(&client, &api, &id, &run).await;
    let last = said.last().unwrap();
    assert_eq!(last["role"], "system", "{last}");
    assert!(
        last["content"]
            .as_str()
            .unwrap()
            .contains("did not pass its tests"),
        "{last}"
    );

    // Nothing new was deployed: version 1 still answers from the same process.
    let after = project(&client, &api, &id).await;
    assert_eq!(after["deployments"], before["deployments"], "{after}");
    assert_eq!(app_processes(kiln_pid), apps);
    assert_eq!(
        schema_fields(&client, &url, "NoteCreate").await,
        ["title"],
        "version 1 still answers"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_qa_reply_lists_failing_tests_and_how_to_fix_them() {
    let tools = Toolbox::new(false).await;
    tools.sabotage();
    let dir = tempfile::tempdir().unwrap();
    let server = tools.start_server(dir.path());
    let client = reqwest::Client::new();
    let api = format!("{}/api/v2", server.base);
    let id = project_after(&client, &api, "Notes", &[NOTES, "build it"]).await;
    let run = say(&client, &api, &id, "run the tests").await;
    let said = replies(&client, &api, &id, &run).await;
    let report = test_report(&said);
    let qa = said
        .iter()
        .find(|m| {
            m["blocks"]
                .as_array()
                .unwrap()
                .iter()
                .any(|b| b["type"] == "test_report")
        })
        .unwrap();
    assert_eq!(qa["agent"], "qa_engineer", "{qa}");
    let r = &report["report"];
    assert_eq!(r["failed"], 2, "{report}");
    let failures: Vec<(String, String)> = r["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["name"].as_str().unwrap().to_owned(),
                f["message"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(failures.len(), 2, "{report}");
    for (test, why) in [
        ("test_health", "sabotaged: /health answered 503"),
        (
            "test_get_unknown_is_404",
            "sabotaged: an unknown id answered 200",
        ),
    ] {
        let (name, message) = failures
            .iter()
            .find(|(name, _)| name.ends_with(&format!("::{test}")))
            .unwrap_or_else(|| panic!("{test} is not among the failures: {report}"));
        assert!(message.contains(why), "{name}: {message}");
    }
    let text = qa["content"].as_str().unwrap();
    let total = r["passed"].as_u64().unwrap() + 2;
    assert!(
        text.starts_with(&format!("2 of {total} tests of version 1 failed: ")),
        "{text}"
    );
    for (name, _) in &failures {
        assert!(
            text.contains(name.as_str()),
            "{name} is not named in: {text}"
        );
    }
    assert!(
        text.contains("Say \"fix it\"") && text.contains("say \"build it\""),
        "no fix hint in: {text}"
    );
}
