//! A fixed sample of the understanding benchmark end to end through a real `kiln serve`: each
//! conversation is posted as a user would, then built, tested and deployed, and the deployed
//! app's OpenAPI document must hold a path per resource and a property per field and link of
//! the spec the server read. The server must read each conversation exactly as the in-process
//! replay of the benchmark does (same score), and every build, test run and deployment must
//! succeed. All cases run with `cargo run -p kiln-integration-tests --bin understanding -- --e2e`.

mod common;

use common::Server;
use kiln_integration_tests::understanding::{cases, e2e, replay, score};

/// Ten conversations of varied styles (terse, chatty, bullets, description only, corrections,
/// typos, compound sentences, non-native English), chosen by id before running them.
const SAMPLE: &[&str] = &[
    "a01", "a05", "a10", "a17", "b03", "b07", "b09", "b24", "c04", "c13",
];

#[tokio::test(flavor = "multi_thread")]
async fn a_sample_of_the_benchmark_is_built_tested_and_deployed() {
    let dir = tempfile::tempdir().unwrap();
    // Conversations that ask for PostgreSQL deploy onto a real one, as KILN_POSTGRES_URL says.
    let postgres = kiln_integration_tests::postgres::Cluster::start();
    let server = Server::start(dir.path(), &[("KILN_POSTGRES_URL", &postgres.server_url())]);
    let client = reqwest::Client::new();
    let all = cases();
    let mut failures = Vec::new();
    for id in SAMPLE {
        let case = all
            .iter()
            .find(|c| c.id == *id)
            .unwrap_or_else(|| panic!("no case {id}"));
        let result = e2e::play(&client, &server.base, case).await;
        let local = score(case, &replay(case), &mut Vec::new());
        println!(
            "{id}: overall {:.2} through the API, {:.2} in process; {}",
            result.score.overall(),
            local.overall(),
            result.spec.describe()
        );
        if !result.problems.is_empty() {
            failures.push(format!("{id}: {}", result.problems.join("; ")));
        }
        if (result.score.overall() - local.overall()).abs() > 1e-9 {
            failures.push(format!(
                "{id}: the server read it differently from the replay ({:.3} vs {:.3}): {}",
                result.score.overall(),
                local.overall(),
                result.spec.describe()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
