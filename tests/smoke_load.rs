//! QA's smoke and load tests against real generated apps: for specs with every field type,
//! relations (a chain of three resources), authentication, soft deletes and timestamps, the
//! project is generated, served by uvicorn on a loopback port, and the smoke test Kiln runs
//! after a deploy must pass with one call per endpoint; the same app with a broken route must
//! fail it at that route; the load test's numbers must add up on the live app.

use std::path::Path;
use std::time::Duration;

use kiln::generator::generate_code;
use kiln::runner::{load_test, AppUrl, LoadSettings};
use kiln::spec::{AppSpec, AuthFeature};
use kiln_integration_tests::{write_files, ServedApp};

const JWT_SECRET: &str = "a-smoke-test-secret-that-is-long-enough-0123456789";

/// The oracle's hand-written specs, and one chain of relations with authentication.
fn specs() -> Vec<(String, AppSpec)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut specs: Vec<(String, AppSpec)> = [
        "every_type",
        "every_type.in_memory",
        "guarded_notes",
        "open_shop",
    ]
    .iter()
    .map(|stem| {
        let path = root.join(format!("python/oracle/specs/{stem}.json"));
        let spec = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        (stem.to_string(), spec)
    })
    .collect();
    let chain: AppSpec = serde_json::from_value(serde_json::json!({
        "name": "Library",
        "summary": "",
        "resources": [
            {"name": "review", "plural": "reviews", "fields": [
                {"name": "rating", "type": {"kind": "integer"}, "required": true}],
             "relations": [{"kind": "belongs_to", "target": "book"}]},
            {"name": "author", "plural": "authors", "fields": [
                {"name": "name", "type": {"kind": "string"}, "required": true},
                {"name": "email", "type": {"kind": "email"}, "required": false, "unique": true}],
             "relations": [{"kind": "has_many", "target": "book"}]},
            {"name": "book", "plural": "books", "fields": [
                {"name": "isbn", "type": {"kind": "string"}, "required": true, "unique": true},
                {"name": "genre", "type": {"kind": "enum", "values": ["fiction", "poetry"]}, "required": false}],
             "relations": [{"kind": "belongs_to", "target": "author"}, {"kind": "has_many", "target": "review"}]}
        ],
        "features": {"auth": "jwt", "database": "sqlite", "pagination": true, "search": [],
                     "timestamps": true, "soft_delete": false, "cors": false, "rate_limit": false}
    }))
    .unwrap();
    specs.push(("chained_with_auth".into(), chain));
    for (stem, spec) in &specs {
        spec.validate().unwrap_or_else(|e| panic!("{stem}: {e}"));
    }
    specs
}

/// The calls one smoke test makes, counted from the spec: the health check; with
/// authentication register, login and "me"; per resource create, list, read, change, delete
/// and a read that must find it gone.
fn expected_calls(spec: &AppSpec) -> u32 {
    let auth = if spec.features.auth == AuthFeature::Jwt {
        3
    } else {
        0
    };
    let calls = 1 + auth + 6 * spec.resources.len() as u32;
    // Every endpoint the generator designs is called once, and each record is read once more
    // after its delete: an endpoint the smoke test does not know of fails here.
    let endpoints = kiln::generator::design_for(spec).endpoints.len();
    assert_eq!(
        calls as usize,
        endpoints + spec.resources.len(),
        "the smoke test calls every endpoint of {:?}",
        kiln::generator::design_for(spec).endpoint_lines()
    );
    calls
}

fn serve(
    spec: &AppSpec,
    dir: &Path,
    edit: impl Fn(&mut kiln::generator::GeneratedFile),
) -> ServedApp {
    let mut files = generate_code(spec).unwrap();
    files.iter_mut().for_each(edit);
    write_files(dir, &files);
    ServedApp::start(dir, JWT_SECRET).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_generated_app_passes_the_smoke_test_and_its_load_adds_up() {
    let root = tempfile::tempdir().unwrap();
    for (stem, spec) in specs() {
        let served = serve(&spec, &root.path().join(&stem), |_| {});
        let app = AppUrl::new(&served.base).unwrap();
        let outcome = kiln::agents::smoke_test(&app, &spec, 4242).await;
        assert!(
            outcome.report.passed,
            "{stem}: {:#?}\n{}",
            outcome.report.failures,
            served.log()
        );
        assert_eq!(outcome.report.calls, expected_calls(&spec), "{stem}");
        // Twice on one database: values of unique fields from the first run are gone or apart.
        let again = kiln::agents::smoke_test(&app, &spec, 4243).await;
        assert!(
            again.report.passed,
            "{stem} again: {:#?}",
            again.report.failures
        );

        // The load test on the safe paths the smoke test names, with its token.
        let mut paths = vec!["/health".to_owned()];
        paths.extend(
            spec.resources
                .iter()
                .map(|r| format!("/{}?limit=10", r.plural)),
        );
        let mut named = outcome.safe_paths.clone();
        named[1..].sort();
        paths[1..].sort();
        assert_eq!(named, paths, "{stem}: health first, then every list");
        assert_eq!(
            outcome.headers.is_empty(),
            spec.features.auth == AuthFeature::None,
            "{stem}: a bearer token exactly when the app wants one"
        );
        let settings = LoadSettings {
            requests: 120,
            concurrency: 4,
            time_limit: Duration::from_secs(120),
        };
        let load = load_test(&app, &outcome.safe_paths, &outcome.headers, settings)
            .await
            .unwrap();
        assert_eq!((load.requests, load.errors), (120, 0), "{stem}: {load:?}");
        assert_eq!(load.histogram.iter().map(|b| b.count).sum::<u32>(), 120);
        if !outcome.headers.is_empty() {
            // Without the token every list is refused: the errors are counted.
            let bare = load_test(&app, &outcome.safe_paths, &[], settings)
                .await
                .unwrap();
            let lists = spec.resources.len() as u32;
            let per_round = 1 + lists;
            let refused = (0..120).filter(|i| i % per_round != 0).count() as u32;
            assert_eq!(bare.errors, refused, "{stem}: {bare:?}");
        }
    }
}

/// A route that answers 500 fails the smoke test at that route, and only there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_route_fails_the_smoke_test_where_it_breaks() {
    let root = tempfile::tempdir().unwrap();
    let (_, spec) = specs().into_iter().find(|(s, _)| s == "open_shop").unwrap();
    let served = serve(&spec, root.path(), |f| {
        if f.path == "app/routers/orders.py" {
            let broken = f.contents.replace(
                "    return repo.update(item_id, data)",
                "    raise HTTPException(status_code=500, detail=\"broken on purpose\")",
            );
            assert_ne!(broken, f.contents, "the update route was found");
            f.contents = broken;
        }
    });
    let app = AppUrl::new(&served.base).unwrap();
    let outcome = kiln::agents::smoke_test(&app, &spec, 7).await;
    assert!(!outcome.report.passed);
    assert_eq!(outcome.report.calls, expected_calls(&spec));
    let failures: Vec<(&str, &str, Option<u16>)> = outcome
        .report
        .failures
        .iter()
        .map(|f| (f.method.as_str(), f.path.as_str(), f.status))
        .collect();
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0].0, "PATCH");
    assert!(failures[0].1.starts_with("/orders/"), "{failures:?}");
    assert_eq!(failures[0].2, Some(500));
    assert!(outcome.report.failures[0]
        .problem
        .contains("broken on purpose"));
}

/// Runs each Task in-process, as `kiln serve` does.
struct Tasks(kiln::agents::AgentContext);

#[async_trait::async_trait]
impl kiln::workflow::asl::TaskHandler for Tasks {
    async fn invoke(
        &self,
        _state: &str,
        _resource: &str,
        input: serde_json::Value,
    ) -> Result<serde_json::Value, kiln::workflow::asl::Failure> {
        let request: kiln::agents::StepRequest = serde_json::from_value(input).unwrap();
        kiln::agents::run_recorded_step(&self.0, &request)
            .await
            .map_err(|e| kiln::workflow::asl::Failure::new(e.error_name(), e.to_string()))
    }
}

/// The local backend on a fresh data directory, with a small load test.
async fn local_context(dir: &Path) -> kiln::agents::AgentContext {
    let vars = std::collections::HashMap::from([
        ("KILN_DATA_DIR".to_owned(), dir.display().to_string()),
        (
            "KILN_VENV_DIR".to_owned(),
            kiln_integration_tests::runtime_venv_dir(),
        ),
        ("KILN_LOAD_TEST_REQUESTS".to_owned(), "200".to_owned()),
    ]);
    let config = kiln::config::Config::from_vars(&vars).unwrap();
    kiln::backends::local_state(&config)
        .await
        .unwrap()
        .agents
        .clone()
}

/// The blocks of the project's last message from QA.
async fn last_load_test(
    ctx: &kiln::agents::AgentContext,
    project: uuid::Uuid,
) -> Vec<kiln::model::Block> {
    let messages = ctx
        .projects
        .list_messages(project, &kiln::store::PageRequest::first(200))
        .await
        .unwrap()
        .items;
    messages
        .into_iter()
        .rev()
        .find(|m| m.agent == Some(kiln::model::Agent::QaEngineer) && !m.blocks.is_empty())
        .map(|m| m.blocks)
        .unwrap_or_default()
}

/// Version 2: version 1's files with the update route of tasks broken (answering 500), marked
/// as tested: it stands for a version whose own tests missed what the smoke test finds.
async fn broken_version(ctx: &kiln::agents::AgentContext, project: uuid::Uuid) {
    let v1 = ctx.projects.get_version(project, 1).await.unwrap();
    let mut manifest = Vec::new();
    for entry in &v1.manifest {
        let mut entry = entry.clone();
        if entry.path == "app/routers/tasks.py" {
            let text =
                String::from_utf8(ctx.artifacts.get_blob(&entry.sha256).await.unwrap()).unwrap();
            let broken = text.replace(
                "    return repo.update(item_id, data)",
                "    raise HTTPException(status_code=500, detail=\"broken on purpose\")",
            );
            assert_ne!(broken, text);
            entry.sha256 = ctx.artifacts.put_blob(broken.as_bytes()).await.unwrap();
            entry.size = broken.len() as u64;
        }
        manifest.push(entry);
    }
    let v2 = kiln::model::Version {
        number: 2,
        manifest,
        ..v1
    };
    kiln::store::create_next_version(ctx.projects.as_ref(), v2)
        .await
        .unwrap();
    let mut p = ctx.projects.load_project(project).await.unwrap();
    p.current_version = Some(2);
    p.tested_version = Some(2);
    ctx.projects.update_project(&p).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deploy_that_fails_its_smoke_test_goes_back_to_the_deployment_it_replaced() {
    use kiln::model::{Block, Environment, Intent, Owner, Project, RunStatus};
    let dir = tempfile::tempdir().unwrap();
    let ctx = local_context(dir.path()).await;
    let tasks = Tasks(ctx.clone());
    let project = Project::new(Owner::local(), "Tasks".into(), String::new());
    ctx.projects.create_project(&project).await.unwrap();
    let say = |text: &'static str, intent: Intent| {
        let (ctx, project, tasks) = (&ctx, &project, &tasks);
        async move {
            kiln_integration_tests::execute_message(
                ctx.projects.as_ref(),
                project,
                text,
                intent,
                tasks,
                0.05,
            )
            .await
            .0
        }
    };
    say(
        "API for tasks. Each task has a title and a done flag",
        Intent::Create,
    )
    .await;
    let run = say("deploy it", Intent::Deploy).await;
    assert_eq!(run.status, RunStatus::Succeeded, "{run:?}");
    let names: Vec<&str> = run.steps.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names[names.len() - 3..],
        ["DevOpsReport", "SmokeTest", "Complete"]
    );
    let blocks = last_load_test(&ctx, project.id).await;
    let Some(Block::LoadTest {
        environment,
        version,
        smoke,
        load,
    }) = blocks.first()
    else {
        panic!("no load test block: {blocks:?}");
    };
    assert_eq!((*environment, *version), (Environment::Dev, 1));
    assert!(smoke.passed && smoke.failures.is_empty(), "{smoke:?}");
    assert_eq!(smoke.calls, 1 + 6, "health and six calls for tasks");
    let load = load
        .as_ref()
        .expect("a load test after a passed smoke test");
    assert_eq!(
        (load.requests, load.concurrency, load.errors),
        (200, 16, 0),
        "{load:?}"
    );

    broken_version(&ctx, project.id).await;
    let run = say("deploy it", Intent::Deploy).await;
    assert_eq!(run.status, RunStatus::Failed, "{run:?}");
    let error = run.error.clone().unwrap();
    assert_eq!(error.code, "smoke_failed");
    assert!(
        error
            .message
            .contains("I rolled dev back to version 1, which answers again"),
        "{error:?}"
    );
    let names: Vec<&str> = run.steps.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        kiln_integration_tests::steps::chain(&[
            &["Plan"],
            &kiln_integration_tests::steps::REVIEW,
            &kiln_integration_tests::steps::DEPLOY,
            &kiln_integration_tests::steps::REVERT,
            &["SmokeFailed"]
        ])
    );
    // Version 2's report names the broken route; version 1's, after it, passed.
    let messages = ctx
        .projects
        .list_messages(project.id, &kiln::store::PageRequest::first(200))
        .await
        .unwrap()
        .items;
    let reports: Vec<(u32, bool, Vec<String>)> = messages
        .iter()
        .filter(|m| m.run_id == Some(run.id))
        .flat_map(|m| &m.blocks)
        .filter_map(|b| match b {
            Block::LoadTest { version, smoke, .. } => Some((
                *version,
                smoke.passed,
                smoke
                    .failures
                    .iter()
                    .map(|f| format!("{} {:?}", f.method, f.status))
                    .collect(),
            )),
            _ => None,
        })
        .collect();
    assert_eq!(
        reports,
        [
            (2, false, vec!["PATCH Some(500)".to_owned()]),
            (1, true, vec![])
        ]
    );
    // Version 1 runs in dev again, and answers.
    let loaded = ctx.projects.load_project(project.id).await.unwrap();
    assert_eq!(loaded.deployments.len(), 1);
    assert_eq!(
        (
            loaded.deployments[0].environment,
            loaded.deployments[0].version
        ),
        (Environment::Dev, 1)
    );
    let app = AppUrl::new(loaded.deployments[0].url.as_deref().unwrap()).unwrap();
    let spec = loaded.spec.clone().unwrap();
    let outcome = kiln::agents::smoke_test(&app, &spec, 99).await;
    assert!(outcome.report.passed, "{:?}", outcome.report.failures);

    // In an environment where nothing ran before, the broken version is stopped.
    let run = say("deploy it to staging", Intent::Deploy).await;
    assert_eq!(
        run.error.as_ref().map(|e| e.code.as_str()),
        Some("smoke_failed"),
        "{run:?}"
    );
    assert!(run
        .error
        .unwrap()
        .message
        .contains("nothing ran in staging before, so I stopped it"));
    let loaded = ctx.projects.load_project(project.id).await.unwrap();
    let environments: Vec<Environment> = loaded.deployments.iter().map(|d| d.environment).collect();
    assert_eq!(environments, [Environment::Dev]);
    let stopped = ctx
        .deployer
        .data_endpoint(project.id, Environment::Staging)
        .await;
    assert!(
        matches!(stopped, Err(kiln::runner::RunnerError::NotRunning(_))),
        "{stopped:?}"
    );
    let records = ctx.projects.list_deployments(project.id).await.unwrap();
    let staging: Vec<_> = records
        .iter()
        .filter(|d| d.environment == Environment::Staging)
        .collect();
    assert_eq!(staging.len(), 1);
    assert_eq!(staging[0].status, kiln::model::DeploymentStatus::Failed);
    ctx.deployer.stop(project.id, None).await.unwrap();
}
