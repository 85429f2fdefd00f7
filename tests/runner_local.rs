//! The local runners on small hand-written projects: failing and hanging test suites, and an
//! app that crashes instead of answering its health check.

use std::time::Duration;

use kiln::model::Environment;
use kiln::runner::{
    Deployer, LocalRunnerSettings, LocalTestRunner, RolloutStatus, TestRunner, TestStatus,
};
use uuid::Uuid;

use kiln_integration_tests::postgres;

fn runners(
    dir: &std::path::Path,
    test_timeout: u64,
) -> (
    std::sync::Arc<LocalTestRunner>,
    std::sync::Arc<kiln::runner::LocalDeployer>,
) {
    runners_on(dir, test_timeout, None)
}

fn runners_on(
    dir: &std::path::Path,
    test_timeout: u64,
    postgres_url: Option<String>,
) -> (
    std::sync::Arc<LocalTestRunner>,
    std::sync::Arc<kiln::runner::LocalDeployer>,
) {
    LocalTestRunner::with_deployer(LocalRunnerSettings {
        python: "python3".into(),
        venv_root: kiln_integration_tests::runtime_venv_dir().into(),
        requirements: kiln::generator::every_requirement(),
        work_dir: dir.join("work"),
        deploy_dir: dir.join("deployments"),
        test_timeout: Duration::from_secs(test_timeout),
        deploy_timeout: Duration::from_secs(20),
        postgres_url,
        osv_url: None,
    })
}

fn file(path: &str, text: &str) -> (String, Vec<u8>) {
    (path.to_owned(), text.as_bytes().to_vec())
}

async fn finish(runner: &LocalTestRunner, job: &kiln::runner::TestJob) -> kiln::model::TestReport {
    for _ in 0..600 {
        if let TestStatus::Finished(report) = runner.poll(job).await.unwrap() {
            return report;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the suite never finished");
}

#[tokio::test]
async fn failing_tests_are_reported_by_name_with_their_message() {
    let dir = tempfile::tempdir().unwrap();
    let (runner, _) = runners(dir.path(), 120);
    runner.prepare_environment().await.unwrap();
    let files = vec![
        file("pyproject.toml", "[tool.pytest.ini_options]\ntestpaths = [\"tests\"]\n"),
        file("tests/test_math.py", "def test_ok():\n    assert 1 + 1 == 2\n\n\ndef test_wrong():\n    assert 1 + 1 == 3, 'arithmetic is broken'\n\n\ndef test_boom():\n    raise RuntimeError('kaboom')\n"),
    ];
    let job = runner
        .start(Uuid::now_v7(), 1, files, Uuid::now_v7())
        .await
        .unwrap();
    let report = finish(&runner, &job).await;
    assert_eq!(
        (report.passed, report.failed, report.errors),
        (1, 2, 0),
        "{report:?}"
    );
    assert!(!report.all_passed());
    let names: Vec<&str> = report.failures.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        ["tests.test_math::test_wrong", "tests.test_math::test_boom"]
    );
    assert!(
        report.failures[0].message.contains("arithmetic is broken"),
        "{report:?}"
    );
    assert!(report.failures[1].message.contains("kaboom"), "{report:?}");
    // A repeated poll (a retried step) gets the same report; a job never started is unknown.
    assert_eq!(
        runner.poll(&job).await.unwrap(),
        TestStatus::Finished(report.clone()),
        "a finished job answers the same again"
    );
    let never = kiln::runner::TestJob {
        id: format!("{}-never", job.id),
    };
    assert!(
        matches!(
            runner.poll(&never).await,
            Err(kiln::runner::RunnerError::UnknownJob(_))
        ),
        "a job never started is unknown"
    );
}

/// Whether process `pid` is gone (or only a zombie, which has stopped running).
fn gone(pid: &str) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z')),
    }
}

#[tokio::test]
async fn a_suite_that_hangs_is_stopped_at_the_time_limit() {
    let dir = tempfile::tempdir().unwrap();
    // Long enough for pytest to start and say where it runs on a busy machine.
    let (runner, _) = runners(dir.path(), 8);
    runner.prepare_environment().await.unwrap();
    // The suite says where it runs: pytest's pid, and a process of its own it started.
    let pids = dir.path().join("pids");
    let files = vec![file(
        "tests/test_hang.py",
        &format!(
            "import os, subprocess, time\n\n\ndef test_forever():\n    \
             child = subprocess.Popen(['sleep', '600'])\n    \
             with open({:?}, 'w') as f:\n        \
             f.write(f'{{os.getpid()}} {{child.pid}}')\n    \
             time.sleep(600)\n",
            pids.display().to_string()
        ),
    )];
    let job = runner
        .start(Uuid::now_v7(), 1, files, Uuid::now_v7())
        .await
        .unwrap();
    let report = finish(&runner, &job).await;
    assert!(report.timed_out, "{report:?}");
    assert!(!report.all_passed());
    assert!(
        report.failures[0].message.contains("longer than 8 s"),
        "{report:?}"
    );
    let pids = std::fs::read_to_string(&pids).expect("the suite ran");
    for pid in pids.split_whitespace() {
        let mut ended = false;
        for _ in 0..100 {
            if gone(pid) {
                ended = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(ended, "process {pid} of the stopped suite still runs");
    }
}

/// A suite's temporary files are its job's own: two suites at once (two projects tested
/// together) do not share pytest's directory for every run, where each one's clean-up removed
/// the other's and the report carried the warning.
#[tokio::test]
async fn a_suite_keeps_its_temporary_files_in_its_job() {
    let dir = tempfile::tempdir().unwrap();
    let (runner, _) = runners(dir.path(), 120);
    runner.prepare_environment().await.unwrap();
    let test = "import os\n\n\ndef test_tmp(tmp_path):\n    job = os.path.dirname(os.getcwd())\n    assert str(tmp_path).startswith(job + os.sep), (str(tmp_path), job)\n";
    let files = vec![file("tests/test_tmp.py", test)];
    let job = runner
        .start(Uuid::now_v7(), 1, files, Uuid::now_v7())
        .await
        .unwrap();
    let report = finish(&runner, &job).await;
    assert_eq!((report.passed, report.failed), (1, 0), "{report:?}");
    assert_eq!(
        all_files(&dir.path().join("work")),
        Vec::<std::path::PathBuf>::new()
    );
}

/// Every file under `dir`, recursively.
fn all_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .map(|e| e.unwrap().path())
        .flat_map(|p| if p.is_dir() { all_files(&p) } else { vec![p] })
        .collect()
}

#[tokio::test]
async fn hostile_paths_are_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let (runner, deployer) = runners(dir.path(), 60);
    runner.prepare_environment().await.unwrap();
    let absolute = dir.path().join(format!("abs-{}.py", Uuid::now_v7()));
    let absolute = absolute.display().to_string();
    for path in [
        "../escape.py",
        "../../escape.py",
        absolute.as_str(),
        "a/../../b.py",
        "tests/../../../c.py",
    ] {
        // A good file beside the bad one: nothing at all is written.
        let files = vec![
            file("tests/test_ok.py", "def test_ok():\n    pass\n"),
            file(path, "x = 1\n"),
        ];
        assert!(
            runner
                .start(Uuid::now_v7(), 1, files.clone(), Uuid::now_v7())
                .await
                .is_err(),
            "{path}"
        );
        assert!(
            deployer
                .deploy(Uuid::now_v7(), Environment::Dev, 1, files, Uuid::now_v7())
                .await
                .is_err(),
            "{path}"
        );
    }
    let written = all_files(dir.path());
    assert!(
        written.iter().all(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            !name.ends_with(".py") || name.starts_with("test_")
        }) && !written.iter().any(|p| p.ends_with("tests/test_ok.py")),
        "written: {written:?}"
    );
    assert!(!std::path::Path::new(&absolute).exists());
}

#[tokio::test]
async fn an_app_that_crashes_fails_its_rollout_with_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let (_, deployer) = runners(dir.path(), 60);
    let files = vec![
        file("app/__init__.py", ""),
        file(
            "app/main.py",
            "raise RuntimeError('the app refuses to start')\n",
        ),
    ];
    let rollout = deployer
        .deploy(Uuid::now_v7(), Environment::Dev, 1, files, Uuid::now_v7())
        .await
        .unwrap();
    let mut status = RolloutStatus::Pending;
    for _ in 0..200 {
        status = deployer.rollout_status(&rollout).await.unwrap();
        if status != RolloutStatus::Pending {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    match status {
        RolloutStatus::Failed(log) => assert!(log.contains("the app refuses to start"), "{log}"),
        other => panic!("expected a failed rollout, got {other:?}"),
    }
}

#[tokio::test]
async fn a_repeated_request_gets_the_job_and_the_rollout_it_started() {
    let dir = tempfile::tempdir().unwrap();
    let (runner, deployer) = runners(dir.path(), 60);
    runner.prepare_environment().await.unwrap();
    let project = Uuid::now_v7();
    let suite = vec![file("tests/test_ok.py", "def test_ok():\n    pass\n")];
    let request = Uuid::now_v7();
    let job = runner
        .start(project, 1, suite.clone(), request)
        .await
        .unwrap();
    let again = runner
        .start(project, 1, suite.clone(), request)
        .await
        .unwrap();
    assert_eq!(
        again.id, job.id,
        "a repeated request starts no second suite"
    );
    let other = runner
        .start(project, 1, suite, Uuid::now_v7())
        .await
        .unwrap();
    assert_ne!(other.id, job.id, "another request is another run");

    // One process for a repeated rollout, found while it comes up.
    let app = vec![
        file("app/__init__.py", ""),
        file("app/main.py", "import time\ntime.sleep(30)\n"),
    ];
    let request = Uuid::now_v7();
    let rollout = deployer
        .deploy(project, Environment::Dev, 1, app.clone(), request)
        .await
        .unwrap();
    let repeat = deployer
        .deploy(project, Environment::Dev, 1, app.clone(), request)
        .await
        .unwrap();
    assert_eq!(repeat, rollout, "the same process, port and directory");
    let releases = dir
        .path()
        .join("deployments")
        .join(project.to_string())
        .join("dev")
        .join("releases");
    let started = std::fs::read_dir(&releases)
        .map(|d| d.count())
        .unwrap_or_else(|e| panic!("{}: {e}", releases.display()));
    assert_eq!(started, 1, "one release directory for one request");
    deployer.stop(project, None).await.unwrap();
}

/// Waits for a rollout to answer, or fails with its log.
async fn running(deployer: &kiln::runner::LocalDeployer, rollout: &kiln::runner::Rollout) {
    for _ in 0..300 {
        match deployer.rollout_status(rollout).await.unwrap() {
            RolloutStatus::Pending => tokio::time::sleep(Duration::from_millis(100)).await,
            RolloutStatus::Running => return,
            RolloutStatus::Failed(log) => panic!("the rollout failed:\n{log}"),
        }
    }
    panic!("the rollout never answered");
}

async fn notes(http: &reqwest::Client, base: &str) -> serde_json::Value {
    let res = http.get(format!("{base}/notes")).send().await.unwrap();
    res.json().await.unwrap()
}

/// An app that keeps its data in PostgreSQL gets a database of its own per environment on
/// the server KILN_POSTGRES_URL names, kept from one deploy to the next; without a server,
/// the deploy says what to set and starts nothing.
#[tokio::test]
async fn postgres_apps_get_a_database_per_environment_on_the_configured_server() {
    let spec: kiln::spec::AppSpec = serde_json::from_value(serde_json::json!({
        "name": "Notes", "summary": "",
        "resources": [{"name": "note", "plural": "notes", "relations": [],
            "fields": [{"name": "title", "type": {"kind": "string"}, "required": true,
                        "unique": false, "default": null}]}],
        "features": {"auth": "none", "database": "postgres", "pagination": true, "search": [],
                     "timestamps": false, "soft_delete": false, "cors": false, "rate_limit": false},
    }))
    .unwrap();
    let files: Vec<(String, Vec<u8>)> = kiln::generator::generate_code(&spec)
        .unwrap()
        .into_iter()
        .map(|f| (f.path, f.contents.into_bytes()))
        .collect();
    let project = Uuid::now_v7();

    let dir = tempfile::tempdir().unwrap();
    let (runner, deployer) = runners(dir.path(), 60);
    runner.prepare_environment().await.unwrap();
    let refused = deployer
        .deploy(project, Environment::Dev, 1, files.clone(), Uuid::now_v7())
        .await
        .unwrap_err()
        .to_string();
    assert!(refused.contains("set KILN_POSTGRES_URL"), "{refused}");
    let releases = dir.path().join("deployments").join(project.to_string());
    assert!(!releases.exists(), "nothing was started or written");

    let server = postgres::Cluster::start();
    let (_, deployer) = runners_on(dir.path(), 60, Some(server.server_url()));
    let http = reqwest::Client::new();
    let deploy = |env: Environment| {
        let (deployer, files) = (deployer.clone(), files.clone());
        async move {
            let rollout = deployer
                .deploy(project, env, 1, files, Uuid::now_v7())
                .await
                .unwrap();
            running(&deployer, &rollout).await;
            rollout.url.trim_end_matches('/').to_owned()
        }
    };
    let dev = deploy(Environment::Dev).await;
    let made = http
        .post(format!("{dev}/notes"))
        .json(&serde_json::json!({"title": "kept in dev"}))
        .send()
        .await
        .unwrap();
    assert_eq!(made.status(), 201, "{}", made.text().await.unwrap());
    // The next deploy of dev finds the row; prod has a database of its own.
    let dev = deploy(Environment::Dev).await;
    let listed = notes(&http, &dev).await;
    assert_eq!(listed["items"][0]["title"], "kept in dev", "{listed}");
    let prod = deploy(Environment::Prod).await;
    let listed = notes(&http, &prod).await;
    assert_eq!(listed["items"], serde_json::json!([]), "{listed}");
    // Between requests an app holds no connection open, so that a server that pauses when
    // idle (Aurora Serverless v2 on AWS) can.
    let open = server.psql(
        "postgres",
        &format!(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = 'kiln_{}_dev'",
            project.simple()
        ),
    );
    assert_eq!(String::from_utf8_lossy(&open.stdout).trim(), "0");
}
