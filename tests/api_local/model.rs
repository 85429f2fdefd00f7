//! A project read by a language model (`KILN_LLM=openai`, against the fake provider with
//! hand-written fixtures): each reply carries what its reading cost, the run records it, the
//! project keeps the total, and a failed provider leaves the rules' reading with the reason in
//! the reply.

use kiln_integration_tests::fake_llm::{Exchange, FakeLlm};
use serde_json::Value;

use crate::common::{app_with, App};

/// The (input, output) tokens a fixture's answer counts, as written in the fixture.
fn tokens(name: &str) -> (u64, u64) {
    let body: Value =
        serde_json::from_str(&Exchange::fixture(&format!("openai/{name}.http")).body).unwrap();
    (
        body["usage"]["prompt_tokens"].as_u64().unwrap(),
        body["usage"]["completion_tokens"].as_u64().unwrap(),
    )
}

/// A server whose messages `gpt-4o-mini` reads at the fake, which answers with `fixtures`.
async fn app_reading_with(fixtures: &[&str], extra: &[(&str, &str)]) -> (FakeLlm, App) {
    let fake = FakeLlm::from_fixtures(fixtures);
    let base = fake.openai_base_url();
    let mut vars = vec![
        ("KILN_LLM", "openai"),
        ("KILN_LLM_MODEL", "gpt-4o-mini"),
        ("KILN_LLM_BASE_URL", base.as_str()),
    ];
    vars.extend_from_slice(extra);
    let app = app_with(&vars).await;
    (fake, app)
}

/// The `usage` block of a reply.
fn usage_of(reply: &Value) -> Value {
    reply["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["type"] == "usage")
        .map(|b| b["usage"].clone())
        .unwrap_or_else(|| panic!("no usage block: {reply}"))
}

#[tokio::test]
async fn each_reply_run_and_project_shows_what_the_model_cost_and_a_fallback_says_why() {
    let (fake, app) = app_reading_with(
        &[
            "openai/recipes.http",
            "openai/reviews.http",
            "openai/auth.http",
        ],
        &[
            ("KILN_LLM_API_KEY", "sk-test-kiln-0123456789"),
            ("KILN_LLM_INPUT_PRICE", "0.15"),
            ("KILN_LLM_OUTPUT_PRICE", "0.6"),
        ],
    )
    .await;
    let id = app.create_project("Cookbook").await;
    let mut said = Vec::new();
    for text in [
        "a place to keep my recipes",
        "other people can leave reviews on a recipe with a rating from 1 to 5",
        "recipes also have a cooking time in minutes",
    ] {
        let (status, body) = app.say(&id, text).await;
        assert!(status.is_success(), "{body}");
        assert_eq!(body["run"]["status"], "succeeded", "{body}");
        said.push(body["run"].clone());
    }
    let (_, project) = app
        .call("GET", &format!("/api/v2/projects/{id}"), None)
        .await;
    let spec = &project["spec"]["resources"];
    assert_eq!(spec[0]["name"], "recipe");
    assert_eq!(spec[1]["name"], "review");
    // The third message was read by the rules: the field they make of it is there.
    let recipe_fields: Vec<&str> = spec[0]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert!(
        recipe_fields
            .iter()
            .any(|f| f.contains("cooking_time") || *f == "duration"),
        "{recipe_fields:?}"
    );

    let (a, b) = (tokens("recipes"), tokens("reviews"));
    let cost = |t: (u64, u64)| (t.0 as f64 * 0.15 + t.1 as f64 * 0.6) / 1e6;
    // Each run records its own reading.
    for (run, t) in said.iter().zip([Some(a), Some(b), None]) {
        let usage = &run["usage"];
        assert_eq!(usage["provider"], "openai");
        assert_eq!(usage["model"], "gpt-4o-mini");
        match t {
            Some(t) => {
                assert_eq!(
                    (
                        usage["calls"].as_u64(),
                        usage["input_tokens"].as_u64(),
                        usage["output_tokens"].as_u64()
                    ),
                    (Some(1), Some(t.0), Some(t.1)),
                    "{usage}"
                );
                assert!(
                    (usage["cost_usd"].as_f64().unwrap() - cost(t)).abs() < 1e-9,
                    "{usage}"
                );
                assert!(usage.get("fallback").is_none(), "{usage}");
            }
            None => {
                assert_eq!(usage["calls"], 0, "{usage}");
                assert!(
                    usage["fallback"]
                        .as_str()
                        .unwrap()
                        .contains("refused the credentials"),
                    "{usage}"
                );
            }
        }
    }
    // Each reply carries the same, and the fallback is said in words.
    let replies: Vec<Value> = app
        .conversation(&id)
        .await
        .into_iter()
        .filter(|m| m["agent"] == "product_manager")
        .collect();
    assert_eq!(replies.len(), 3);
    for (reply, run) in replies.iter().zip(&said) {
        assert_eq!(usage_of(reply), run["usage"]);
    }
    let last = replies[2]["content"].as_str().unwrap();
    assert!(last.contains("Note: I read this with the rules instead of gpt-4o-mini (openai), because the provider refused the credentials"), "{last}");
    // The project's total.
    let total = &project["model_usage"];
    assert_eq!(total["calls"], 2);
    assert_eq!(total["input_tokens"], a.0 + b.0);
    assert_eq!(total["output_tokens"], a.1 + b.1);
    assert_eq!(total["fallbacks"], 1);
    assert!(
        (total["cost_usd"].as_f64().unwrap() - (cost(a) + cost(b))).abs() < 1e-6,
        "{total}"
    );
    assert_eq!((fake.unexpected(), fake.remaining()), (0, 0));
}

/// A question is answered by the model from the project's facts (the spec and endpoints are in
/// what it is sent); when the model fails, the rules' answer stands and says why. Both show the
/// call, and the project counts it.
#[tokio::test]
async fn questions_are_answered_by_the_model_from_the_projects_facts() {
    let (fake, app) = app_reading_with(
        &[
            "openai/recipes.http",
            "openai/reviews.http",
            "openai/answer.http",
            "openai/auth.http",
        ],
        &[],
    )
    .await;
    let id = app.create_project("Cookbook").await;
    for text in [
        "a place to keep my recipes",
        "other people can leave reviews on a recipe with a rating from 1 to 5",
        "what endpoints does it have?",
        "is there authentication?",
    ] {
        let (_, body) = app.say(&id, text).await;
        assert_eq!(body["run"]["status"], "succeeded", "{body}");
    }
    let replies: Vec<Value> = app
        .conversation(&id)
        .await
        .into_iter()
        .filter(|m| m["agent"] == "product_manager")
        .collect();
    let answer: Value =
        serde_json::from_str(&Exchange::fixture("openai/answer.http").body).unwrap();
    assert_eq!(
        replies[2]["content"], answer["choices"][0]["message"]["content"],
        "the model's answer is the reply"
    );
    let usage = usage_of;
    assert_eq!(usage(&replies[2])["input_tokens"], tokens("answer").0);
    // The rules' answer, with the reason.
    let last = replies[3]["content"].as_str().unwrap();
    assert!(last.starts_with("No, the API is open."), "{last}");
    assert!(last.contains("Note: I answered with the rules instead of gpt-4o-mini (openai), because the provider refused the credentials"), "{last}");
    assert!(usage(&replies[3])["fallback"].is_string());
    // What the model was given: the facts, the spec and endpoints among them; the question as
    // the user's turn.
    let asked = &fake.requests()[2].body;
    let system = asked["messages"][0]["content"].as_str().unwrap();
    assert!(
        system.contains("review(rating:integer") && system.contains("GET /reviews"),
        "{system}"
    );
    assert_eq!(
        asked["messages"][1]["content"],
        "what endpoints does it have?"
    );
    assert!(asked.get("response_format").is_none());
    let (_, project) = app
        .call("GET", &format!("/api/v2/projects/{id}"), None)
        .await;
    assert_eq!(project["model_usage"]["calls"], 3);
    assert_eq!(project["model_usage"]["fallbacks"], 1);
}
