//! schemathesis against `kiln serve`'s own OpenAPI document: generated requests to every
//! operation (and sequences of them, using the ids the API hands out) never get a server
//! error, and every answer has a documented status, content type and schema.

mod common;

use std::process::Command;

use common::Server;

#[test]
fn generated_requests_get_no_server_error_and_documented_answers() {
    schemathesis(Some("schemathesis-token"));
}

/// Without a token the server documents no authentication, and answers as documented.
#[test]
fn without_a_token_too() {
    schemathesis(None);
}

fn schemathesis(token: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let vars: Vec<(&str, &str)> = token.map(|t| ("KILN_TOKEN", t)).into_iter().collect();
    let server = Server::start(dir.path(), &vars);
    let python = std::env::var("KILN_TEST_PYTHON").unwrap_or_else(|_| {
        format!(
            "{}/.cache/kiln/pyenv/bin/python",
            std::env::var("HOME").unwrap_or_default()
        )
    });
    let st = std::path::Path::new(&python).with_file_name("st");
    let header = token.map(|t| format!("Authorization: Bearer {t}"));
    // With a token, also that a request without it or with another is refused.
    let checks = if token.is_some() {
        "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance,ignored_auth"
    } else {
        "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance"
    };
    let auth: Vec<&str> = match &header {
        Some(h) => vec!["-H", h.as_str()],
        None => vec![],
    };
    let out = Command::new(&st)
        .args([
            "run",
            &format!("{}/api/v2/openapi.json", server.base),
            "--url",
            &server.base,
        ])
        .args(&auth)
        .args([
            "--checks",
            checks,
            "--max-examples",
            "20",
            "--request-timeout",
            "10",
            // The same cases every run, and no example database left behind.
            "--seed",
            "20261126",
            "--generation-database",
            "none",
            // The event stream never ends by design; it has a test of its own.
            "--exclude-path-regex",
            "/events$",
        ])
        .env("NO_COLOR", "1")
        // Whatever it still writes (its crash cache) goes to the test's own directory.
        .current_dir(dir.path())
        .output()
        .unwrap_or_else(|e| panic!("{} (installed by ./scripts/test): {e}", st.display()));
    let report = String::from_utf8_lossy(&out.stdout);
    for line in report
        .lines()
        .filter(|l| l.contains("generated") || l.contains("passed") || l.contains("failed"))
    {
        println!("schemathesis: {}", line.trim());
    }
    assert!(
        out.status.success(),
        "{report}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary = report
        .lines()
        .find(|l| l.contains(" generated, "))
        .expect("a summary line");
    let generated: u32 = summary.split_whitespace().next().unwrap().parse().unwrap();
    assert!(
        generated >= 300,
        "schemathesis generated only {generated} cases: {summary}"
    );
}
