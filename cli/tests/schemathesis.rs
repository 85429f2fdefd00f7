//! schemathesis against `kiln serve`'s own OpenAPI document: generated requests to every
//! operation (and sequences of them, using the ids the API hands out) never get a server
//! error, and every answer has a documented status, content type and schema.

mod common;

use std::process::Command;

use common::Server;

/// With a server token: every check, `ignored_auth` among them (a request without the token,
/// or with another, is refused).
#[test]
fn generated_requests_get_no_server_error_and_documented_answers() {
    let token = "schemathesis-token";
    schemathesis(&[("KILN_TOKEN", token)], Some(token));
}

/// Without a token the server documents no authentication, and answers as documented.
#[test]
fn without_a_token_too() {
    schemathesis(&[], None);
}

/// Signing in with an OpenID Connect provider (the tests' fake one): a provider's ID token.
#[test]
fn with_an_openid_connect_provider_too() {
    let provider = kiln_integration_tests::fake_oidc::FakeOidc::start("kiln-web", 3600);
    let token = provider.mint("schemathesis-user", serde_json::json!({}));
    let issuer = provider.issuer();
    schemathesis(
        &[
            ("KILN_OIDC_ISSUER", issuer.as_str()),
            ("KILN_OIDC_AUDIENCE", "kiln-web"),
        ],
        Some(&token),
    );
}

fn schemathesis(vars: &[(&str, &str)], token: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), vars);
    let python = std::env::var("KILN_TEST_PYTHON").unwrap_or_else(|_| {
        format!(
            "{}/.cache/kiln/pyenv/bin/python",
            std::env::var("HOME").unwrap_or_default()
        )
    });
    let st = std::path::Path::new(&python).with_file_name("st");
    let header = token.map(|t| format!("Authorization: Bearer {t}"));
    let auth: Vec<&str> = match &header {
        Some(h) => vec!["-H", h.as_str()],
        None => vec![],
    };
    let out = Command::new(&st)
        .arg("--config-file")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/schemathesis.toml"
        ))
        .args([
            "run",
            &format!("{}/api/v2/openapi.json", server.base),
            "--url",
            &server.base,
        ])
        .args(&auth)
        .args([
            "--checks",
            "all",
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
