//! Tests of the fake provider itself and of its fixtures.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::{fixtures_dir, Exchange, FakeLlm, Wire};

const NAMES: &[&str] = &[
    "answer.http",
    "auth.http",
    "code_fix.http",
    "code_fix_not_found.http",
    "phone.http",
    "recipes.http",
    "refused_request.http",
    "reviews.http",
    "reviews_invalid.http",
    "reviews_unknown_key.http",
    "slow.http",
    "throttled.http",
    "unavailable.http",
];

/// Fixtures of one provider only: the code fixes of the local fix tests, which read with OpenAI.
const OPENAI_ONLY: &[&str] = &[
    "fix_recipes.http",
    "fix_recipes_comment.http",
    "fix_recipes_not_found.http",
    "fix_recipes_wrong.http",
];

/// Whether a fixture answers with a code fix (`propose_code_fix`) rather than a spec patch.
fn is_code_fix(e: &Exchange) -> bool {
    let name = e.origin.rsplit('/').next().unwrap_or_default();
    name.starts_with("code_fix") || name.starts_with("fix_")
}

/// The spec patch or code fix a successful fixture carries (the text, for an answer in words),
/// and its (input, output, total) tokens.
fn patch_and_usage(e: &Exchange) -> (Value, [u64; 3]) {
    let body: Value = serde_json::from_str(&e.body).unwrap();
    let usage = |keys: [&str; 3]| keys.map(|k| body["usage"][k].as_u64().unwrap());
    let words = e.origin.ends_with("answer.http");
    match e.wire {
        Wire::Bedrock if words => {
            assert_eq!(body["stopReason"], "end_turn");
            let text = body["output"]["message"]["content"][0]["text"].clone();
            (
                json!({"operations": [text]}),
                usage(["inputTokens", "outputTokens", "totalTokens"]),
            )
        }
        Wire::Openai if words => {
            let text = body["choices"][0]["message"]["content"].clone();
            (
                json!({"operations": [text]}),
                usage(["prompt_tokens", "completion_tokens", "total_tokens"]),
            )
        }
        Wire::Bedrock => {
            assert_eq!(body["stopReason"], "tool_use");
            let block = &body["output"]["message"]["content"][0]["toolUse"];
            let tool = if is_code_fix(e) {
                "propose_code_fix"
            } else {
                "propose_spec_patch"
            };
            assert_eq!(block["name"], tool);
            assert!(block["toolUseId"].as_str().unwrap().starts_with("tooluse_"));
            let tokens = usage(["inputTokens", "outputTokens", "totalTokens"]);
            (block["input"].clone(), tokens)
        }
        Wire::Openai => {
            assert_eq!(body["object"], "chat.completion");
            assert_eq!(body["choices"][0]["finish_reason"], "stop");
            let content = body["choices"][0]["message"]["content"].as_str().unwrap();
            let tokens = usage(["prompt_tokens", "completion_tokens", "total_tokens"]);
            (serde_json::from_str(content).unwrap(), tokens)
        }
    }
}

#[test]
fn every_fixture_parses_with_its_header() {
    let mut token_counts = BTreeSet::new();
    for wire in [Wire::Bedrock, Wire::Openai] {
        let dir = fixtures_dir().join(wire.dir());
        let mut found: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        found.sort();
        let mut names: Vec<&str> = NAMES.to_vec();
        if wire == Wire::Openai {
            names.extend_from_slice(OPENAI_ONLY);
            names.sort();
        }
        assert_eq!(found, names, "{}", dir.display());
        for name in names {
            let e = Exchange::load(dir.join(name)).unwrap_or_else(|err| panic!("{err}"));
            assert_eq!(e.wire, wire);
            assert!(
                e.comment.contains("Written by hand for Kiln's tests"),
                "{name}"
            );
            assert_eq!(e.header("content-type"), Some("application/json"), "{name}");
            let body: Value = serde_json::from_str(&e.body).unwrap();
            if e.status == 200 {
                let (patch, [input, output, total]) = patch_and_usage(&e);
                let list = if is_code_fix(&e) {
                    assert!(patch["explanation"].is_string(), "{name}");
                    "changes"
                } else {
                    "operations"
                };
                assert!(
                    patch[list].as_array().is_some_and(|o| !o.is_empty()),
                    "{name}: no {list}"
                );
                assert_eq!(input + output, total, "{name}");
                assert!(input % 10 != 0 && output % 10 != 0, "{name}: round counts");
                assert!(
                    token_counts.insert((input, output)),
                    "{name}: counts reused"
                );
            } else if wire == Wire::Bedrock {
                let kind = e.header("x-amzn-errortype").unwrap();
                assert!(kind.ends_with(":http://internal.amazon.com/coral/com.amazon.bedrock/"));
                assert!(body["message"].is_string(), "{name}");
            } else {
                assert!(body["error"]["message"].is_string(), "{name}");
            }
        }
        let slow = Exchange::load(dir.join("slow.http")).unwrap();
        let reviews = Exchange::load(dir.join("reviews.http")).unwrap();
        assert_eq!(slow.delay, Duration::from_secs(5));
        assert_eq!(reviews.delay, Duration::ZERO);
        assert_eq!(patch_and_usage(&slow).0, patch_and_usage(&reviews).0);
    }
}

#[test]
fn a_fixture_without_its_header_or_out_of_place_is_refused() {
    let ok = "# by hand\n# delay-ms: 25\nHTTP/1.1 503 Service Unavailable\nX-A: b\n\n";
    let e = Exchange::parse(Wire::Openai, ok).unwrap();
    assert_eq!((e.status, e.delay), (503, Duration::from_millis(25)));
    assert_eq!((e.header("x-a"), e.body.as_str()), (Some("b"), ""));
    assert!(Exchange::parse(Wire::Openai, "HTTP/1.1 200 OK\n\n{}").is_err());
    assert!(Exchange::parse(Wire::Openai, "# delay-ms: 5\nHTTP/1.1 200 OK\n\n{}").is_err());
    assert!(Exchange::parse(
        Wire::Openai,
        "# x\nHTTP/1.1 200 OK\ncontent-length: 2\n\n{}"
    )
    .is_err());
    assert!(Exchange::parse(Wire::Openai, "# x\nHTTP/1.1 200 OK\n").is_err());
    let dir = tempfile::tempdir().unwrap();
    let stray = dir.path().join("reviews.http");
    std::fs::write(&stray, "# x\nHTTP/1.1 200 OK\n\n").unwrap();
    assert!(Exchange::load(&stray)
        .unwrap_err()
        .contains("bedrock/ or openai/"));
}

#[tokio::test(flavor = "current_thread")]
async fn serves_the_scenario_in_order_and_records_raw_paths() {
    let fake = FakeLlm::from_fixtures(&["bedrock/reviews.http", "bedrock/throttled.http"]);
    let client = reqwest::Client::new();
    let converse = format!(
        "{}/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse",
        fake.url()
    );
    let post = || client.post(&converse).json(&json!({"messages": []})).send();

    let first = post().await.unwrap();
    assert_eq!(first.status(), 200);
    let expected = Exchange::fixture("bedrock/reviews.http").body;
    assert_eq!(first.text().await.unwrap(), expected);
    let second = post().await.unwrap();
    assert_eq!(second.status(), 429);
    assert!(second.headers()["x-amzn-errortype"]
        .to_str()
        .unwrap()
        .starts_with("ThrottlingException:"));
    assert_eq!(fake.unexpected(), 0);

    let third = post().await.unwrap();
    assert_eq!(third.status(), 500);
    let body: Value = third.json().await.unwrap();
    assert_eq!(
        body,
        json!({"message": "fake provider: no fixture response left"})
    );
    assert_eq!(fake.unexpected(), 1);

    let requests = fake.requests();
    assert_eq!(requests.len(), 3);
    let r = &requests[0];
    assert_eq!(r.method, "POST");
    assert_eq!(
        r.path,
        "/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse"
    );
    assert_eq!(
        (r.wire, r.body.clone()),
        (Some(Wire::Bedrock), json!({"messages": []}))
    );
    assert_eq!(r.header("content-type"), Some("application/json"));
}

#[tokio::test(flavor = "current_thread")]
async fn the_wrong_provider_or_route_is_unexpected() {
    let fake = FakeLlm::from_fixtures(&["openai/reviews.http", "openai/phone.http"]);
    let client = reqwest::Client::new();
    let wrong = client
        .post(format!("{}/model/m/converse", fake.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 500);
    let unknown = client
        .get(format!("{}/v1/models", fake.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    assert!(unknown.text().await.unwrap().contains("not served here"));
    assert_eq!(fake.unexpected(), 2);
    let right = client
        .post(format!("{}/chat/completions", fake.openai_base_url()))
        .body("not json")
        .send()
        .await
        .unwrap();
    assert_eq!(right.status(), 200);
    let requests = fake.requests();
    assert_eq!(
        (requests[1].method.as_str(), requests[1].wire),
        ("GET", None)
    );
    assert_eq!(
        (requests[2].body.clone(), requests[2].raw_body.as_str()),
        (Value::Null, "not json")
    );
    assert_eq!((fake.unexpected(), fake.remaining()), (2, 0));
}

#[tokio::test(flavor = "current_thread")]
async fn a_delayed_answer_does_not_hold_the_next_request() {
    let delay = Duration::from_millis(600);
    let fake = FakeLlm::start(vec![
        Exchange::fixture("openai/slow.http").with_delay(delay),
        Exchange::fixture("openai/phone.http"),
    ]);
    let client = reqwest::Client::new();
    let url = format!("{}/chat/completions", fake.openai_base_url());
    let started = Instant::now();
    let slow = async {
        let response = client.post(&url).send().await.unwrap();
        (response.text().await.unwrap(), Instant::now())
    };
    let quick = async {
        // Sent once the slow one has taken the first exchange.
        while fake.requests().is_empty() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let response = client.post(&url).send().await.unwrap();
        (response.text().await.unwrap(), Instant::now())
    };
    let ((slow_body, slow_done), (quick_body, quick_done)) = tokio::join!(slow, quick);
    assert!(slow_done - started >= delay);
    assert!(
        quick_done < slow_done,
        "the quick answer waited for the slow one"
    );
    assert!(slow_body.contains("chatcmpl-Ty6pC1vK8mR4wN9bH3sX7dL2fQ5gZ"));
    assert!(quick_body.contains("owner_phone"));
    assert_eq!(fake.unexpected(), 0);
}
