//! The model backends of the understanding port over the wire, against the fake provider
//! (`fake_llm.rs`, hand-written fixtures in each provider's documented format; no test reaches
//! a real provider): what each sends (compared with golden request bodies as parsed JSON, the
//! Bedrock model id's `:` sent as `%3A`, the credentials where the provider expects them), and
//! what each does with what comes back: a patch used, a refused patch repaired once, refused
//! twice and the rules answering with the reason, throttling retried, retries exhausted, a
//! refused key, and a provider that does not answer in time.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use kiln::config::Config;
use kiln::spec::AppSpec;
use kiln::understand::{Request, Rules, Understander, Understood};
use kiln_integration_tests::fake_llm::{Exchange, FakeLlm, Recorded};
use serde_json::Value;

#[path = "understanders/code_fix.rs"]
mod code_fix;

const BEDROCK_MODEL: &str = "anthropic.claude-3-5-haiku-20241022-v1:0";
const OPENAI_MODEL: &str = "gpt-4o-mini";
const KEY: &str = "sk-test-kiln-0123456789";
const MESSAGE: &str = "other people can leave reviews on a recipe with a rating from 1 to 5";

#[derive(Clone, Copy, PartialEq, Debug)]
enum Provider {
    Bedrock,
    Openai,
}

use Provider::{Bedrock, Openai};

impl Provider {
    fn dir(self) -> &'static str {
        match self {
            Bedrock => "bedrock",
            Openai => "openai",
        }
    }
}

fn recipes() -> AppSpec {
    kiln::spec::understand(
        None,
        "Cookbook",
        "recipes have a title (required) and instructions",
        true,
    )
    .unwrap()
    .0
}

/// An understander for `provider` at the fake, with `extra` settings.
async fn understander(
    provider: Provider,
    fake: &FakeLlm,
    extra: &[(&str, &str)],
) -> std::sync::Arc<dyn Understander> {
    let mut vars: HashMap<String, String> = HashMap::from([
        ("KILN_LLM_INPUT_PRICE".into(), "3".into()),
        ("KILN_LLM_OUTPUT_PRICE".into(), "15".into()),
    ]);
    match provider {
        Bedrock => {
            // Credentials the SDK signs with; the fake checks none. No instance metadata.
            std::env::set_var("AWS_ACCESS_KEY_ID", "AKIAKILNTESTKEY00000");
            std::env::set_var("AWS_SECRET_ACCESS_KEY", "kiln-test-secret");
            std::env::set_var("AWS_REGION", "us-east-1");
            std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
            std::env::remove_var("AWS_ENDPOINT_URL");
            vars.insert("KILN_LLM".into(), "bedrock".into());
            vars.insert("KILN_LLM_MODEL".into(), BEDROCK_MODEL.into());
            vars.insert("KILN_LLM_BASE_URL".into(), fake.url());
        }
        Openai => {
            vars.insert("KILN_LLM".into(), "openai".into());
            vars.insert("KILN_LLM_MODEL".into(), OPENAI_MODEL.into());
            vars.insert("KILN_LLM_BASE_URL".into(), fake.openai_base_url());
            vars.insert("KILN_LLM_API_KEY".into(), KEY.into());
        }
    }
    for (k, v) in extra {
        vars.insert((*k).into(), (*v).into());
    }
    let config = Config::from_vars(&vars).unwrap();
    kiln::understand::from_settings(config.llm, &config.llm_settings)
        .await
        .unwrap()
}

fn fixtures(provider: Provider, names: &[&str]) -> Vec<Exchange> {
    names
        .iter()
        .map(|n| Exchange::fixture(&format!("{}/{n}.http", provider.dir())))
        .collect()
}

async fn read(u: &dyn Understander, spec: &AppSpec, text: &str) -> Understood {
    u.understand(&Request {
        spec: Some(spec),
        project_name: "Cookbook",
        text,
        describes_app: false,
        focus: None,
    })
    .await
    .unwrap()
}

/// The token counts a fixture's answer carries, read from the fixture as written.
fn tokens_of(provider: Provider, name: &str) -> (u64, u64) {
    let e = Exchange::fixture(&format!("{}/{name}.http", provider.dir()));
    let body: Value = serde_json::from_str(&e.body).unwrap();
    match provider {
        Bedrock => (
            body["usage"]["inputTokens"].as_u64().unwrap(),
            body["usage"]["outputTokens"].as_u64().unwrap(),
        ),
        Openai => (
            body["usage"]["prompt_tokens"].as_u64().unwrap(),
            body["usage"]["completion_tokens"].as_u64().unwrap(),
        ),
    }
}

fn golden(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("golden/llm/{name}.json"))
}

/// The request body equals the golden file, as parsed JSON (`KILN_UPDATE_GOLDEN=1` rewrites
/// it, to be read before committing).
fn matches_golden(request: &Recorded, name: &str) {
    let path = golden(name);
    if std::env::var_os("KILN_UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(
            &path,
            serde_json::to_string_pretty(&request.body).unwrap() + "\n",
        )
        .unwrap();
    }
    let want: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(
        request.body,
        want,
        "{name}: the request body differs from {}",
        path.display()
    );
}

fn assert_reviews(read: &Understood) {
    assert_eq!(
        read.spec.describe(),
        "recipe(title:string!, instructions:text) review(rating:integer!, comment:text, >recipe)"
    );
}

async fn a_patch_is_used_and_what_was_sent_is_the_golden_request(provider: Provider) {
    let fake = FakeLlm::start(fixtures(provider, &["reviews"]));
    let u = understander(provider, &fake, &[]).await;
    let read = read(u.as_ref(), &recipes(), MESSAGE).await;
    assert_reviews(&read);
    assert!(read.change.notes.is_empty(), "{:?}", read.change.notes);
    let usage = read.usage.unwrap();
    let (input, output) = tokens_of(provider, "reviews");
    assert_eq!(
        (usage.calls, usage.input_tokens, usage.output_tokens),
        (1, input, output)
    );
    // At $3 and $15 per million tokens.
    let cost = (input as f64 * 3.0 + output as f64 * 15.0) / 1e6;
    assert!(
        (usage.cost_usd - cost).abs() < 1e-9,
        "{} vs {cost}",
        usage.cost_usd
    );
    assert_eq!(usage.fallback, None);
    let requests = fake.requests();
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    match provider {
        Bedrock => {
            assert_eq!(
                r.path,
                "/model/anthropic.claude-3-5-haiku-20241022-v1%3A0/converse"
            );
            let auth = r.header("authorization").unwrap();
            assert!(
                auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIAKILNTESTKEY00000/"),
                "{auth}"
            );
            assert!(auth.contains("/us-east-1/bedrock/aws4_request"), "{auth}");
            // Claude 3 and later take a named tool.
            assert_eq!(
                r.body["toolConfig"]["toolChoice"],
                serde_json::json!({"tool": {"name": "propose_spec_patch"}})
            );
        }
        Openai => {
            assert_eq!(r.path, "/v1/chat/completions");
            assert_eq!(r.header("authorization").unwrap(), format!("Bearer {KEY}"));
            assert_eq!(r.body["response_format"]["json_schema"]["strict"], true);
        }
    }
    matches_golden(r, &format!("{}_request", provider.dir()));
    assert_eq!((fake.unexpected(), fake.remaining()), (0, 0));
}

async fn a_refused_patch_is_repaired_with_its_errors(provider: Provider) {
    let fake = FakeLlm::start(fixtures(provider, &["reviews_invalid", "reviews"]));
    let u = understander(provider, &fake, &[]).await;
    let read = read(u.as_ref(), &recipes(), MESSAGE).await;
    assert_reviews(&read);
    let usage = read.usage.unwrap();
    let (a, b) = (
        tokens_of(provider, "reviews_invalid"),
        tokens_of(provider, "reviews"),
    );
    assert_eq!(
        (usage.calls, usage.input_tokens, usage.output_tokens),
        (2, a.0 + b.0, a.1 + b.1)
    );
    assert_eq!(usage.fallback, None);
    let requests = fake.requests();
    assert_eq!(requests.len(), 2);
    let repair = requests[1].body.to_string();
    assert!(
        repair.contains("cookbook") && repair.contains("needs its `values`"),
        "{repair}"
    );
    if provider == Bedrock {
        // The refused call's result is an error result of that very tool use.
        let messages = requests[1].body["messages"].as_array().unwrap();
        assert_eq!(messages.len(), 3);
        let call = &messages[1]["content"][0]["toolUse"];
        let result = &messages[2]["content"][0]["toolResult"];
        assert_eq!(call["toolUseId"], result["toolUseId"]);
        assert_eq!(result["status"], "error");
    }
    matches_golden(&requests[1], &format!("{}_repair_request", provider.dir()));
}

async fn refused_twice_the_rules_answer_with_the_reason(provider: Provider) {
    let fake = FakeLlm::start(fixtures(
        provider,
        &["reviews_invalid", "reviews_unknown_key"],
    ));
    let u = understander(provider, &fake, &[]).await;
    let read = read(u.as_ref(), &recipes(), MESSAGE).await;
    let spec = recipes();
    let rules = Rules
        .understand(&Request {
            spec: Some(&spec),
            project_name: "Cookbook",
            text: MESSAGE,
            describes_app: false,
            focus: None,
        })
        .await
        .unwrap();
    assert_eq!(read.spec, rules.spec);
    let usage = read.usage.unwrap();
    assert_eq!(usage.calls, 2);
    let why = usage.fallback.unwrap();
    assert!(
        why.contains("after one repair") && why.contains("nullable"),
        "{why}"
    );
    assert!(
        read.change.notes[0].starts_with("I read this with the rules instead of"),
        "{:?}",
        read.change.notes
    );
    assert_eq!(fake.requests().len(), 2, "one repair call, no more");
}

async fn throttling_is_retried(provider: Provider) {
    let fake = FakeLlm::start(fixtures(provider, &["throttled", "unavailable", "reviews"]));
    let u = understander(provider, &fake, &[]).await;
    let read = read(u.as_ref(), &recipes(), MESSAGE).await;
    assert_reviews(&read);
    assert_eq!(
        read.usage.unwrap().calls,
        1,
        "one answer; the retries are the provider's"
    );
    assert_eq!(fake.requests().len(), 3);
}

async fn retries_run_out_and_the_rules_answer(provider: Provider, attempts: usize) {
    let fake = FakeLlm::start(fixtures(provider, &vec!["throttled"; attempts]));
    let u = understander(provider, &fake, &[]).await;
    let read = read(u.as_ref(), &recipes(), MESSAGE).await;
    let why = read.usage.unwrap().fallback.unwrap();
    assert!(why.contains(&format!("after {attempts} attempts")), "{why}");
    assert!(
        why.to_lowercase().contains("rate limit") || why.contains("Throttling"),
        "{why}"
    );
    assert_eq!(
        (fake.requests().len(), fake.unexpected(), fake.remaining()),
        (attempts, 0, 0)
    );
}

async fn a_refused_key_is_not_retried(provider: Provider) {
    let fake = FakeLlm::start(fixtures(provider, &["auth"]));
    let u = understander(provider, &fake, &[]).await;
    let read = read(u.as_ref(), &recipes(), MESSAGE).await;
    let usage = read.usage.unwrap();
    assert_eq!(usage.calls, 0);
    let why = usage.fallback.unwrap();
    assert!(
        why.starts_with("the provider refused the credentials"),
        "{why}"
    );
    assert!(
        read.change.notes[0].contains(&why),
        "{:?}",
        read.change.notes
    );
    assert_eq!(fake.requests().len(), 1);
}

async fn no_answer_in_time_is_a_timeout(provider: Provider) {
    let slow = fixtures(provider, &["slow"])
        .remove(0)
        .with_delay(Duration::from_secs(4));
    let fake = FakeLlm::start(vec![slow]);
    let u = understander(provider, &fake, &[("KILN_LLM_TIMEOUT_SECS", "1")]).await;
    let started = std::time::Instant::now();
    let read = read(u.as_ref(), &recipes(), MESSAGE).await;
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    let why = read.usage.unwrap().fallback.unwrap();
    assert!(why.contains("did not answer within 1s"), "{why}");
}

async fn a_question_is_answered_in_words_from_the_facts(provider: Provider) {
    let fake = FakeLlm::start(fixtures(provider, &["answer"]));
    let u = understander(provider, &fake, &[]).await;
    let facts = "Project: Cookbook\nEndpoints:\n  GET /recipes — list recipes";
    let answered = u
        .answer(&kiln::understand::Asked {
            question: "what endpoints does it have?",
            facts,
        })
        .await
        .expect("a model answers questions");
    assert!(answered.text.unwrap().starts_with("Recipes are listed"));
    let (input, output) = tokens_of(provider, "answer");
    assert_eq!(
        (
            answered.usage.calls,
            answered.usage.input_tokens,
            answered.usage.output_tokens
        ),
        (1, input, output)
    );
    let body = &fake.requests()[0].body;
    let sent = body.to_string();
    assert!(sent.contains("GET /recipes — list recipes"), "{sent}");
    assert!(sent.contains("what endpoints does it have?"), "{sent}");
    // Words, not a patch: no tool, no response format.
    assert!(
        body.get("toolConfig").is_none() && body.get("response_format").is_none(),
        "{sent}"
    );
    // Without a model there is no model answer: the rules answer.
    assert!(Rules
        .answer(&kiln::understand::Asked {
            question: "?",
            facts
        })
        .await
        .is_none());
}

macro_rules! for_both {
    ($($name:ident => $body:expr;)*) => {
        mod bedrock { use super::*; $(#[tokio::test] async fn $name() { let p = Bedrock; $body(p).await })* }
        mod openai { use super::*; $(#[tokio::test] async fn $name() { let p = Openai; $body(p).await })* }
    };
}

for_both! {
    a_patch_is_used_and_the_request_is_the_golden_one => a_patch_is_used_and_what_was_sent_is_the_golden_request;
    a_refused_patch_is_repaired_once => a_refused_patch_is_repaired_with_its_errors;
    refused_twice_the_rules_answer => refused_twice_the_rules_answer_with_the_reason;
    throttling_then_success => throttling_is_retried;
    auth_error => a_refused_key_is_not_retried;
    timeout => no_answer_in_time_is_a_timeout;
    a_question_is_answered_in_words => a_question_is_answered_in_words_from_the_facts;
    a_code_fix_is_asked_with_its_own_tool => code_fix::a_code_fix_is_asked_with_its_own_tool_and_repaired_once;
}

/// A request Bedrock refuses as invalid is not retried: the rules answer, saying why.
#[tokio::test]
async fn bedrock_refusing_the_request_is_not_retried() {
    let fake = FakeLlm::start(fixtures(Bedrock, &["refused_request"]));
    let u = understander(Bedrock, &fake, &[]).await;
    let read = read(u.as_ref(), &recipes(), MESSAGE).await;
    let why = read.usage.unwrap().fallback.unwrap();
    assert!(
        why.starts_with("the provider refused the request: ValidationException"),
        "{why}"
    );
    assert_eq!(fake.requests().len(), 1);
}

/// A server that refuses `max_tokens` (OpenAI's reasoning models) is asked again once with
/// `max_completion_tokens` and no temperature, and keeps being asked that way.
#[tokio::test]
async fn openai_servers_that_take_the_newer_limit_words_are_asked_in_them() {
    let fake = FakeLlm::start(fixtures(Openai, &["refused_request", "reviews", "reviews"]));
    let u = understander(Openai, &fake, &[]).await;
    assert_reviews(&read(u.as_ref(), &recipes(), MESSAGE).await);
    assert_reviews(&read(u.as_ref(), &recipes(), MESSAGE).await);
    let r = fake.requests();
    assert_eq!(r.len(), 3);
    assert_eq!(
        (
            r[0].body["max_tokens"].as_u64(),
            r[0].body["temperature"].as_u64()
        ),
        (Some(4096), Some(0))
    );
    for later in &r[1..] {
        assert_eq!(later.body["max_completion_tokens"], 4096);
        assert!(
            later.body.get("max_tokens").is_none() && later.body.get("temperature").is_none(),
            "{}",
            later.body
        );
    }
}

#[tokio::test]
async fn bedrock_retries_run_out_after_the_sdks_standard_attempts() {
    retries_run_out_and_the_rules_answer(Bedrock, 3).await;
}

#[tokio::test]
async fn openai_retries_run_out_after_four_attempts_honouring_retry_after() {
    let started = std::time::Instant::now();
    retries_run_out_and_the_rules_answer(Openai, 4).await;
    // `retry-after: 1` three times.
    assert!(
        started.elapsed() >= Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

/// Models Bedrock documents no named tool choice for get `any`, with the one tool offered.
#[tokio::test]
async fn bedrock_models_without_a_named_tool_choice_get_any() {
    let fake = FakeLlm::start(fixtures(Bedrock, &["reviews"]));
    let u = understander(
        Bedrock,
        &fake,
        &[("KILN_LLM_MODEL", "meta.llama3-1-70b-instruct-v1:0")],
    )
    .await;
    assert_reviews(&read(u.as_ref(), &recipes(), MESSAGE).await);
    let r = &fake.requests()[0];
    assert_eq!(r.path, "/model/meta.llama3-1-70b-instruct-v1%3A0/converse");
    assert_eq!(
        r.body["toolConfig"]["toolChoice"],
        serde_json::json!({"any": {}})
    );
    assert_eq!(r.body["toolConfig"]["tools"].as_array().unwrap().len(), 1);
}

/// `KILN_LLM_RECORD_DIR` writes each exchange in the fixture format, the key removed, and what
/// it wrote is served by the fake as a fixture again.
#[tokio::test]
async fn exchanges_are_recorded_as_fixtures_without_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("openai");
    let fake = FakeLlm::start(fixtures(Openai, &["auth", "reviews"]));
    let u = understander(
        Openai,
        &fake,
        &[("KILN_LLM_RECORD_DIR", record.to_str().unwrap())],
    )
    .await;
    read(u.as_ref(), &recipes(), MESSAGE).await;
    read(u.as_ref(), &recipes(), MESSAGE).await;
    let mut answers: Vec<PathBuf> = std::fs::read_dir(&record)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().unwrap() == "http")
        .collect();
    answers.sort();
    assert_eq!(answers.len(), 2);
    for p in std::fs::read_dir(&record).unwrap() {
        let text = std::fs::read_to_string(p.unwrap().path()).unwrap();
        assert!(!text.contains(KEY), "{text}");
    }
    let replayed = FakeLlm::start(vec![Exchange::load(&answers[1]).unwrap()]);
    let again = understander(Openai, &replayed, &[]).await;
    assert_reviews(&read(again.as_ref(), &recipes(), MESSAGE).await);
}

/// Bedrock's exchanges are recorded from the SDK's own request and answer (the signature, in
/// the headers, never written), and served again as a fixture.
#[tokio::test]
async fn bedrock_exchanges_are_recorded_as_fixtures_without_the_signature() {
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("bedrock");
    let fake = FakeLlm::start(fixtures(Bedrock, &["reviews"]));
    let u = understander(
        Bedrock,
        &fake,
        &[("KILN_LLM_RECORD_DIR", record.to_str().unwrap())],
    )
    .await;
    assert_reviews(&read(u.as_ref(), &recipes(), MESSAGE).await);
    let files: Vec<PathBuf> = std::fs::read_dir(&record)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 2, "{files:?}");
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        assert!(
            !text.contains("AWS4-HMAC-SHA256") && !text.contains("kiln-test-secret"),
            "{text}"
        );
    }
    let request = files
        .iter()
        .find(|f| f.to_string_lossy().ends_with(".request.json"))
        .unwrap();
    let sent: Value = serde_json::from_str(&std::fs::read_to_string(request).unwrap()).unwrap();
    assert_eq!(sent, fake.requests()[0].body);
    let answer = files
        .iter()
        .find(|f| f.extension().unwrap() == "http")
        .unwrap();
    let replayed = FakeLlm::start(vec![Exchange::load(answer).unwrap()]);
    let again = understander(Bedrock, &replayed, &[]).await;
    assert_reviews(&read(again.as_ref(), &recipes(), MESSAGE).await);
}
