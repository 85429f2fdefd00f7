//! The README's claims about building, testing and deploying, each through a real `kiln serve`
//! and the apps it runs, so that a claim that stops being true fails here.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::{
    app_processes, call, deployment, eventually, port_open, process_alive, project, project_after,
    replies, schema_fields, step_names, try_get, Server, Session,
};
use reqwest::Method;
use serde_json::{json, Value};

/// The spec every test starts from: one resource with one field, no auth, so apps answer at once.
const NOTES: &str = "API for notes. Each note has a title";

/// What a deploy of a version that must be built and tested first records, step by step.
const BUILD_TEST_DEPLOY: [&str; 13] = [
    "Freshness",
    "BackendDeveloper",
    "DocumentationWriter",
    "Release",
    "QaStart",
    "QaCheck",
    "QaReport",
    "DevOpsBuildImage",
    "DevOpsImageCheck",
    "DevOpsDeploy",
    "DevOpsCheck",
    "DevOpsReport",
    "Complete",
];

/// Says something and expects the run to succeed.
async fn say(client: &reqwest::Client, api: &str, id: &str, content: &str) -> Value {
    let run = common::say(client, api, id, content).await;
    assert_eq!(run["status"], "succeeded", "{content}: {run}");
    run
}

/// Posts a message and returns its run's id without waiting for it.
async fn post(client: &reqwest::Client, api: &str, id: &str, content: &str) -> String {
    let (status, posted) = call(
        client,
        Method::POST,
        format!("{api}/projects/{id}/messages"),
        Some(json!({ "content": content })),
    )
    .await;
    assert_eq!(status, 202, "{content}: {posted}");
    posted["run"]["id"].as_str().unwrap().to_owned()
}

async fn get_run(client: &reqwest::Client, api: &str, id: &str, run_id: &str) -> Value {
    let (status, run) = call(
        client,
        Method::GET,
        format!("{api}/projects/{id}/runs/{run_id}"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{run}");
    run
}

/// The test report a run's replies carry.
fn test_report(replies: &[Value]) -> Value {
    replies
        .iter()
        .flat_map(|m| m["blocks"].as_array().unwrap().iter())
        .find(|b| b["type"] == "test_report")
        .unwrap_or_else(|| panic!("no test report in {replies:#?}"))
        .clone()
}

fn port_of(url: &str) -> u16 {
    url.rsplit(':')
        .next()
        .and_then(|p| p.trim_end_matches('/').parse().ok())
        .unwrap_or_else(|| panic!("no port in {url}"))
}

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
            "Freshness",
            "BackendDeveloper",
            "DocumentationWriter",
            "Release",
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
    assert_eq!(step_names(&deployed), BUILD_TEST_DEPLOY);
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
        [
            "Rollback",
            "DevOpsBuildImage",
            "DevOpsImageCheck",
            "DevOpsDeploy",
            "DevOpsCheck",
            "DevOpsReport",
            "Complete"
        ]
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

#[tokio::test(flavor = "multi_thread")]
async fn the_dockerfile_runs_as_a_non_root_user_with_a_health_check() {
    let session = Session::start(&[]);
    let (client, api) = (&session.client, &session.api);
    let id = project_after(client, api, "Notes", &[NOTES, "build it"]).await;
    let (status, dockerfile) = call(
        client,
        Method::GET,
        format!("{api}/projects/{id}/versions/1/files/Dockerfile"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{dockerfile}");
    let dockerfile = dockerfile.as_str().unwrap().to_owned();
    let instructions = dockerfile_instructions(&dockerfile);
    let position = |keyword: &str| {
        instructions
            .iter()
            .rposition(|(k, _)| k == keyword)
            .unwrap_or_else(|| panic!("no {keyword} in:\n{dockerfile}"))
    };
    let cmd = position("CMD");
    let user_at = instructions[..cmd]
        .iter()
        .rposition(|(k, _)| k == "USER")
        .unwrap_or_else(|| panic!("no USER before CMD:\n{dockerfile}"));
    let user = instructions[user_at].1.split(':').next().unwrap().trim();
    assert!(
        !["root", "0", ""].contains(&user),
        "CMD runs as {user:?}:\n{dockerfile}"
    );
    // A named user must be one the image creates, with an id other than 0.
    if user.parse::<u32>().is_err() {
        let made = instructions[..user_at].iter().any(|(k, args)| {
            k == "RUN"
                && args.contains("useradd")
                && args.split_whitespace().any(|w| w == user)
                && !args.contains("--uid 0 ")
        });
        assert!(made, "the image never creates {user:?}:\n{dockerfile}");
    }
    let check = &instructions[position("HEALTHCHECK")].1;
    let probe = check
        .split_once("CMD")
        .unwrap_or_else(|| panic!("HEALTHCHECK without CMD: {check}"))
        .1;
    assert!(
        probe.contains("/health") && probe.contains("127.0.0.1"),
        "the health check does not probe the app's /health: {check}"
    );
}

/// A Dockerfile's instructions as (KEYWORD, arguments), continuation lines joined.
fn dockerfile_instructions(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut pending = String::new();
    for line in text.lines() {
        let line = line.trim();
        if pending.is_empty() && (line.is_empty() || line.starts_with('#')) {
            continue;
        }
        match line.strip_suffix('\\') {
            Some(part) => pending.push_str(part),
            None => {
                pending.push_str(line);
                let (keyword, args) = pending
                    .split_once(char::is_whitespace)
                    .unwrap_or((&pending, ""));
                out.push((keyword.to_uppercase(), args.trim().to_owned()));
                pending.clear();
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn a_transient_failure_inside_a_step_is_retried() {
    let dir = tempfile::tempdir().unwrap();
    // Retry intervals of 2 s, 4 s and 8 s leave time to see the first attempt fail.
    let server = Server::start(dir.path(), &[("KILN_PIPELINE_TIME_SCALE", "2")]);
    let client = reqwest::Client::new();
    let api = format!("{}/api/v2", server.base);
    let id = project_after(&client, &api, "Notes", &[NOTES]).await;

    // The artifact store cannot write while a plain file sits where its blobs go.
    let blobs = dir.path().join("artifacts").join("blobs");
    let aside = dir.path().join("artifacts").join("blobs.aside");
    std::fs::create_dir_all(&blobs).unwrap();
    std::fs::rename(&blobs, &aside).unwrap();
    std::fs::write(&blobs, "in the way").unwrap();
    let run_id = post(&client, &api, &id, "build it").await;
    let (c, a, i, r) = (&client, &api, &id, &run_id);
    eventually(
        "the first attempt of BackendDeveloper fails",
        Duration::from_secs(120),
        move || async move {
            let run = get_run(c, a, i, r).await;
            assert!(
                run["status"] == "running" || run["status"] == "queued",
                "the run ended before the fault was lifted: {run}"
            );
            run["steps"]
                .as_array()
                .unwrap()
                .iter()
                .any(|s| s["name"] == "BackendDeveloper" && s["status"] == "failed")
        },
    )
    .await;
    std::fs::remove_file(&blobs).unwrap();
    std::fs::rename(&aside, &blobs).unwrap();

    let run = common::wait_for_run(&client, &api, &id, &run_id).await;
    assert_eq!(run["status"], "succeeded", "the retry succeeded: {run}");
    assert_eq!(
        step_names(&run),
        [
            "BackendDeveloper",
            "DocumentationWriter",
            "Release",
            "Complete"
        ]
    );
    assert_eq!(project(&client, &api, &id).await["current_version"], 1);
}

/// Stand-ins for the tools `kiln serve` makes its virtualenv with: a fake `uv` (optional) and
/// a fake system Python. Either "makes" a virtualenv whose `python` is the real runtime Python
/// of the tests, installs nothing, and notes what it was asked to do in a log. While the
/// sabotage flag exists, that `python` runs pytest with a plugin that fails two generated tests.
struct Toolbox {
    dir: tempfile::TempDir,
}

/// The pytest plugin that fails tests on purpose, as a broken app would.
const SABOTAGE_PLUGIN: &str = r#"import pytest

SABOTAGED = {
    "test_health": "sabotaged: /health answered 503",
    "test_get_unknown_is_404": "sabotaged: an unknown id answered 200",
}


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item):
    message = SABOTAGED.get(item.name)
    if message is not None:
        raise AssertionError(message)
"#;

impl Toolbox {
    async fn new(with_uv: bool) -> Toolbox {
        let real = common::runtime_python().await;
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for sub in ["bin", "plugins", "venvs"] {
            std::fs::create_dir_all(root.join(sub)).unwrap();
        }
        std::fs::write(root.join("plugins/kiln_sabotage.py"), SABOTAGE_PLUGIN).unwrap();
        let log = root.join("tools.log").display().to_string();
        let flag = root.join("sabotage").display().to_string();
        let plugins = root.join("plugins").display().to_string();
        let venv_python = format!(
            "#!/bin/sh\n\
             if [ \"$1\" = -m ] && [ \"$2\" = pip ]; then echo \"pip $*\" >> '{log}'; exit 0; fi\n\
             if [ \"$1\" = -m ] && [ \"$2\" = pytest ] && [ -e '{flag}' ]; then\n\
             \x20 shift 2\n\
             \x20 PYTHONPATH='{plugins}' exec '{real}' -m pytest -p kiln_sabotage \"$@\"\n\
             fi\n\
             exec '{real}' \"$@\"\n",
            real = real.display()
        );
        executable(&root.join("venv-python"), &venv_python);
        let make_venv = format!(
            "mkdir -p \"$dir/bin\" && cp '{}' \"$dir/bin/python\"",
            root.join("venv-python").display()
        );
        executable(
            &root.join("python3"),
            &format!(
                "#!/bin/sh\nPATH=/usr/bin:/bin\necho \"python $*\" >> '{log}'\n\
                 if [ \"$1\" = -m ] && [ \"$2\" = venv ]; then dir=\"$3\"; {make_venv}; exit $?; fi\n\
                 exit 1\n"
            ),
        );
        if with_uv {
            executable(
                &root.join("bin/uv"),
                &format!(
                    "#!/bin/sh\nPATH=/usr/bin:/bin\necho \"uv $*\" >> '{log}'\n\
                     case \"$1\" in\n\
                     --version) echo 'uv 0.0.0 (stand-in)';;\n\
                     venv) for a in \"$@\"; do dir=\"$a\"; done; {make_venv};;\n\
                     pip) ;;\n\
                     *) exit 1;;\n\
                     esac\n"
                ),
            );
        }
        let git = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
            .map(|d| d.join("git"))
            .find(|g| g.is_file())
            .expect("git on PATH");
        std::os::unix::fs::symlink(git, root.join("bin/git")).unwrap();
        Toolbox { dir }
    }

    /// The settings that make a `kiln serve` use these tools and nothing else.
    fn env(&self) -> Vec<(&'static str, String)> {
        let root = self.dir.path();
        vec![
            ("PATH", root.join("bin").display().to_string()),
            ("KILN_PYTHON", root.join("python3").display().to_string()),
            ("KILN_VENV_DIR", root.join("venvs").display().to_string()),
        ]
    }

    /// Makes the generated tests fail from now on.
    fn sabotage(&self) {
        std::fs::write(self.dir.path().join("sabotage"), "").unwrap();
    }

    /// What the tools were asked to do, one line per call.
    fn log(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.path().join("tools.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    fn start_server(&self, data_dir: &Path) -> Server {
        let env = self.env();
        let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        Server::start(data_dir, &pairs)
    }
}

fn executable(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

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
    assert_eq!(run["error"]["code"], "refused", "{run}");
    assert_eq!(
        run["error"]["message"],
        "version 2 did not pass its tests, so I did not deploy it"
    );
    assert_eq!(
        step_names(&run),
        [
            "Freshness",
            "BackendDeveloper",
            "DocumentationWriter",
            "Release",
            "QaStart",
            "QaCheck",
            "QaReport",
            "ReportFailure"
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
        text.contains("say \"build it\"") && text.contains("\"run the tests\" again"),
        "no fix hint in: {text}"
    );
}

/// Makes the virtualenv through a server whose tools are `tools`, by running a project's tests;
/// returns the tools' log and the messages of the run.
async fn make_the_virtualenv(tools: &Toolbox) -> (Vec<String>, Vec<Value>) {
    let dir = tempfile::tempdir().unwrap();
    let server = tools.start_server(dir.path());
    let client = reqwest::Client::new();
    let api = format!("{}/api/v2", server.base);
    let id = project_after(&client, &api, "Notes", &[NOTES, "build it"]).await;
    let run = say(&client, &api, &id, "run the tests").await;
    let said = replies(&client, &api, &id, &run).await;
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

#[test]
fn kiln_serve_says_it_has_no_aws_backend() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_kiln"))
        .arg("serve")
        .env_clear()
        .env("KILN_BACKEND", "aws")
        .env("KILN_BIND", "127.0.0.1:0")
        .env("KILN_DATA_DIR", dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("kiln serve kept running with KILN_BACKEND=aws");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no aws backend") && stderr.contains("KILN_BACKEND=aws"),
        "{stderr}"
    );
}

/// What an AWS installation sets.
fn aws_settings(table: &str) -> Vec<(&'static str, String)> {
    kiln_integration_tests::aws_settings(
        table,
        "arn:aws:states:us-east-1:123456789012:stateMachine:kiln-pipeline",
    )
}

fn config_of(settings: &[(&'static str, String)]) -> kiln::config::Config {
    let vars = settings
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    kiln::config::Config::from_vars(&vars).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_aws_backend_starts_from_its_settings_and_names_the_missing_ones() {
    let moto = kiln_integration_tests::Moto::start();
    let (_, sdk) = kiln_integration_tests::aws_installation(&moto, "unused").await;

    // Every required setting left out is named.
    for missing in [
        "KILN_TABLE",
        "KILN_BUCKET",
        "KILN_STATE_MACHINE_ARN",
        "KILN_TEST_PROJECT",
        "KILN_IMAGE_PROJECT",
        "KILN_CLUSTER",
        "KILN_LISTENER_ARN",
        "KILN_VPC_ID",
        "KILN_SUBNETS",
        "KILN_EXECUTION_ROLE_ARN",
        "KILN_APPS_URL",
    ] {
        let settings: Vec<_> = aws_settings("kiln")
            .into_iter()
            .filter(|(k, _)| *k != missing)
            .collect();
        let config = config_of(&settings);
        assert_eq!(config.backend, kiln::config::Backend::Aws);
        let err = match kiln::backends::aws_state_with(&config, &sdk).await {
            Ok(_) => panic!("started without {missing}"),
            Err(e) => e.to_string(),
        };
        assert_eq!(
            err,
            format!("the AWS backend needs these settings: {missing}")
        );
    }

    // With all of them it serves the API on moto: a project is written to DynamoDB and read back.
    let state = kiln::backends::aws_state_with(&config_of(&aws_settings("kiln")), &sdk)
        .await
        .expect("the AWS backend starts");
    let app = kiln::api::router(state).layer(axum::middleware::from_fn(
        |mut req: axum::extract::Request, next: axum::middleware::Next| async move {
            // What the api Lambda does with the authorizer's `sub`.
            req.extensions_mut()
                .insert(kiln::model::Owner("alice".into()));
            next.run(req).await
        },
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let served = tokio::spawn(async move { axum::serve(listener, app).await });
    let client = reqwest::Client::new();
    let (status, _) = call(&client, Method::GET, format!("{base}/healthz"), None).await;
    assert_eq!(status, 200);
    let (status, created) = call(
        &client,
        Method::POST,
        format!("{base}/api/v2/projects"),
        Some(json!({"name": "On AWS"})),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let (status, read) = call(
        &client,
        Method::GET,
        format!("{base}/api/v2/projects/{}", created["id"].as_str().unwrap()),
        None,
    )
    .await;
    assert_eq!(status, 200, "{read}");
    assert_eq!(read["name"], "On AWS");
    served.abort();
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
