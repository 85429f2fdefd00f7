//! Claims about the virtualenv for generated projects: made once, with `uv` when it is
//! installed and with pip otherwise, and the conversation says which.

use serde_json::Value;

use crate::common::{project_after, replies};
use crate::support::{say, test_report, NOTES};
use crate::toolbox::Toolbox;

/// Makes the virtualenv through a server whose tools are `tools`, by running a project's tests;
/// returns the tools' log and the messages of the run.
async fn make_the_virtualenv(tools: &Toolbox) -> (Vec<String>, Vec<Value>) {
    let dir = tempfile::tempdir().unwrap();
    let server = tools.start_server(dir.path());
    let client = reqwest::Client::new();
    let api = format!("{}/api/v2", server.base);
    let id = project_after(&client, &api, "Notes", &[NOTES]).await;
    // The first step that needs the virtualenv makes it: the review of the build.
    let built = say(&client, &api, &id, "build it").await;
    let mut said = replies(&client, &api, &id, &built).await;
    let run = say(&client, &api, &id, "run the tests").await;
    said.extend(replies(&client, &api, &id, &run).await);
    let report = test_report(&said);
    assert_eq!(
        report["report"]["failed"], 0,
        "the made virtualenv runs the tests: {report}"
    );
    let log = tools.log();
    // It is made once: the next run uses it as it is.
    say(&client, &api, &id, "run the tests").await;
    assert_eq!(tools.log(), log, "the virtualenv was made again");
    (log, said)
}

/// Whether a log line is a call of `program` with `first` as its first argument.
fn called(log: &[String], program: &str, first: &str) -> bool {
    log.iter()
        .any(|l| l.starts_with(&format!("{program} {first}")))
}

#[tokio::test(flavor = "multi_thread")]
async fn the_virtualenv_is_made_with_uv_when_it_is_installed() {
    let tools = Toolbox::new(true).await;
    let (log, _) = make_the_virtualenv(&tools).await;
    assert!(called(&log, "uv", "venv"), "{log:#?}");
    assert!(called(&log, "uv", "pip install"), "{log:#?}");
    assert!(!called(&log, "python", "-m venv"), "{log:#?}");
    assert!(!called(&log, "pip", "-m pip"), "{log:#?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_virtualenv_is_made_with_pip_without_uv() {
    let tools = Toolbox::new(false).await;
    let (log, _) = make_the_virtualenv(&tools).await;
    assert!(called(&log, "python", "-m venv"), "{log:#?}");
    assert!(called(&log, "pip", "-m pip install"), "{log:#?}");
    assert!(!log.iter().any(|l| l.starts_with("uv ")), "{log:#?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_conversation_says_which_tool_made_the_virtualenv() {
    for (with_uv, tool) in [(true, "uv"), (false, "pip")] {
        let tools = Toolbox::new(with_uv).await;
        let (_, said) = make_the_virtualenv(&tools).await;
        let names_it = said.iter().any(|m| {
            m["content"]
                .as_str()
                .unwrap_or_default()
                .split(|c: char| !c.is_alphanumeric())
                .any(|w| w == tool)
        });
        assert!(names_it, "no message names {tool}: {said:#?}");
    }
}
