//! Generated apps keep the README's promises, checked by an oracle Kiln did not write: for each
//! spec in `tests/python/oracle/specs/`, the generated project is served by a real uvicorn on a
//! loopback port and `tests/python/oracle/` (a pytest suite written by hand, as an HTTP client
//! of that app) runs against it. The generated project's own tests come from the same templates
//! as its code, so they cannot catch a template that is wrong in both; this suite can.

use std::path::{Path, PathBuf};
use std::process::Command;

use kiln::generator::generate_code;
use kiln::spec::AppSpec;
use kiln_integration_tests::{python, show, write_files, ServedApp};

/// `tests/python/oracle/`.
fn oracle_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("python/oracle")
}

/// The JWT secret of the apps under test, also given to the oracle so that it can forge an
/// expired token that is otherwise valid.
const JWT_SECRET: &str = "an-oracle-secret-that-is-long-enough-0123456789abcdef";

/// The oracle's module for a spec: `every_type.in_memory` is checked by `test_every_type.py`.
fn module_of(stem: &str) -> String {
    format!("test_{}.py", stem.split('.').next().unwrap())
}

/// The representative specs, by file stem.
fn specs() -> Vec<(String, AppSpec)> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(oracle_dir().join("specs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let spec: AppSpec = serde_json::from_str(&std::fs::read_to_string(&p).unwrap())
                .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            spec.validate()
                .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            let stem = p.file_stem().unwrap().to_string_lossy().into_owned();
            (stem, spec)
        })
        .collect()
}

/// A generated app under uvicorn, stopped when dropped; `log` collects its stderr.
/// Generates the project of `spec`, serves it and runs the oracle against it.
fn check_app(stem: &str, spec: &AppSpec, root: &Path) -> Result<String, String> {
    let dir = root.join(stem);
    write_files(
        &dir,
        &generate_code(spec).map_err(|e| format!("{stem}: {e}"))?,
    );
    let served = ServedApp::start(&dir, JWT_SECRET).map_err(|e| format!("{stem}: {e}"))?;
    let out = Command::new(python())
        // `-rxXfE` lists failures and each known bug (an xfail whose reason starts with BUG).
        .args(["-m", "pytest", "tests/python/oracle", "-q", "-rxXfE"])
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap())
        .env("ORACLE_APP", stem)
        .env("ORACLE_BASE_URL", &served.base)
        .env("ORACLE_JWT_SECRET", JWT_SECRET)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env_remove("VIRTUAL_ENV")
        .env_remove("PYTHONPATH")
        .output()
        .map_err(|e| format!("{stem}: running pytest: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let summary = stdout
        .lines()
        .rev()
        .find(|l| l.contains(" in ") && (l.contains("passed") || l.contains("failed")))
        .unwrap_or("no summary");
    if out.status.success() {
        let mut report = format!("{stem:<21} {}: {summary}", spec.describe());
        // Each known bug once, with how many tests show it.
        let mut bugs: Vec<(&str, usize)> = Vec::new();
        for reason in stdout
            .lines()
            .filter(|l| l.starts_with("XFAIL "))
            .filter_map(|l| l.split_once(" - ").map(|(_, reason)| reason))
        {
            match bugs.iter_mut().find(|(r, _)| *r == reason) {
                Some((_, n)) => *n += 1,
                None => bugs.push((reason, 1)),
            }
        }
        for (reason, n) in bugs {
            report.push_str(&format!("\n    known, {n} test(s): {reason}"));
        }
        Ok(report)
    } else {
        Err(format!(
            "{stem} ({}) failed the oracle:\n{}\n--- uvicorn log\n{}",
            spec.describe(),
            show(&out),
            served.log()
        ))
    }
}

#[test]
fn generated_apps_pass_an_oracle_kiln_did_not_write() {
    let specs = specs();
    assert!(specs.len() >= 3, "the oracle covers at least three apps");
    let root = tempfile::tempdir().unwrap();
    // Each app is served and checked on a thread of its own: most of the time is waiting.
    let results: Vec<Result<String, String>> = std::thread::scope(|scope| {
        let handles: Vec<_> = specs
            .iter()
            .map(|(stem, spec)| {
                let root = root.path();
                scope.spawn(move || check_app(stem, spec, root))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut failures = Vec::new();
    for r in results {
        match r {
            Ok(line) => println!("{line}"),
            Err(e) => failures.push(e),
        }
    }
    if !failures.is_empty() {
        let kept = root.keep();
        panic!(
            "{} app(s) failed the oracle (projects kept in {}):\n\n{}",
            failures.len(),
            kept.display(),
            failures.join("\n\n")
        );
    }
}

#[test]
fn every_oracle_spec_has_its_test_module() {
    for (stem, _) in specs() {
        let module = oracle_dir().join(module_of(&stem));
        assert!(module.exists(), "{} is missing", module.display());
    }
}
