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
    1 + auth + 6 * spec.resources.len() as u32
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
        assert!(
            load.p50_ms <= load.p95_ms && load.p95_ms <= load.p99_ms,
            "{load:?}"
        );
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
