//! `fake-llm <fixture>...`: runs the tests' language-model provider
//! ([`kiln_integration_tests::fake_llm`]) until killed, after printing its URL on the first
//! line (an OpenAI client's base URL is that URL with `/v1`). It answers with the fixtures
//! named, in order, one request each: names under `tests/fixtures/llm`, such as
//! `openai/reviews.http`, or absolute paths. The browser tests start it.

use kiln_integration_tests::fake_llm::FakeLlm;

fn main() {
    let fixtures: Vec<String> = std::env::args().skip(1).collect();
    assert!(
        !fixtures.is_empty(),
        "usage: fake-llm <fixture>... (such as openai/reviews.http)"
    );
    let names: Vec<&str> = fixtures.iter().map(String::as_str).collect();
    let provider = FakeLlm::from_fixtures(&names);
    println!("{}", provider.url());
    loop {
        std::thread::park();
    }
}
