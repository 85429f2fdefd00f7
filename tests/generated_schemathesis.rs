//! Generated apps are as strict as Kiln's own API: schemathesis, with every check it has, run
//! against representative generated apps served by uvicorn (auth on and off, relations, every
//! field type, filters and search), finds no failure: no server error, every status and header
//! documented, every answer as its schema says, schema-valid requests accepted and invalid ones
//! refused. The apps' own tests are written by the generator; this oracle is not.

use std::process::Command;

use kiln::generator::generate_code;
use kiln::spec::{apply_message, AppSpec};
use kiln_integration_tests::{python_tool, write_files, ServedApp};

/// (name, conversation): each kind of app once.
const APPS: &[(&str, &[&str])] = &[
    ("Open shop", &[
        "Customers have a name, a unique email and a birth date.",
        "Orders belong to a customer and have a total, a paid flag, a status from new/shipped/delivered, a placed at datetime, a count of items and notes.",
        "let me filter orders by status, paid and total, and search customers by name",
        "add database support",
    ]),
    ("Guarded notes", &[
        "notes have a title, a body (text), a website and a pinned flag",
        "add user authentication",
        "add timestamps and soft delete",
    ]),
];

fn spec_for(name: &str, conversation: &[&str]) -> AppSpec {
    let mut spec = AppSpec {
        name: name.to_owned(),
        ..AppSpec::default()
    };
    for (i, m) in conversation.iter().enumerate() {
        apply_message(&mut spec, m, i == 0);
    }
    spec.validate().unwrap();
    spec
}

/// A bearer token from the app's own register and login.
fn token(base: &str) -> String {
    let body = r#"{"username": "schemathesis", "password": "a-long-enough-password"}"#;
    let post = |path: &str| {
        let out = Command::new("curl")
            .args([
                "-s",
                "-X",
                "POST",
                &format!("{base}{path}"),
                "-H",
                "content-type: application/json",
                "-d",
                body,
            ])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    post("/auth/register");
    let login: serde_json::Value = serde_json::from_str(&post("/auth/login")).unwrap();
    login["access_token"].as_str().unwrap().to_owned()
}

#[test]
fn schemathesis_finds_no_failure_in_generated_apps() {
    let root = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for (name, conversation) in APPS {
        let spec = spec_for(name, conversation);
        let dir = root.path().join(name.replace(' ', "_"));
        write_files(&dir, &generate_code(&spec).unwrap());
        let app = ServedApp::start(&dir, "a-secret-that-is-long-enough-for-the-app-0123456789")
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let base = app.base.clone();
        let mut args = vec![
            "run".to_owned(),
            format!("{base}/openapi.json"),
            "--url".into(),
            base.clone(),
            "--checks".into(),
            "all".into(),
            "--max-examples".into(),
            "25".into(),
            "--seed".into(),
            "20261126".into(),
            "--request-timeout".into(),
            "10".into(),
            // No example database: every run is the seed's.
            "--generation-database".into(),
            "none".into(),
            "--no-color".into(),
        ];
        if spec.features.auth == kiln::spec::AuthFeature::Jwt {
            args.push("-H".into());
            args.push(format!("Authorization: Bearer {}", token(&base)));
        }
        let out = Command::new(python_tool("st"))
            .args(&args)
            .current_dir(&dir)
            .env("SCHEMATHESIS_HOOKS", "")
            .output()
            .unwrap();
        let report = String::from_utf8_lossy(&out.stdout);
        let summary = report
            .lines()
            .find(|l| l.contains(" generated, "))
            .unwrap_or("no summary")
            .trim()
            .to_owned();
        println!("{name:<14} {}: {summary}", spec.describe());
        if !out.status.success() {
            failures.push(format!(
                "{name}: {summary}\n{report}\n{}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
