//! "Fix it" with a configured model (`KILN_LLM=openai` against the fake provider, hand-written
//! fixtures; real pytest judges every repair): the model's fix is the first repair and keeps the
//! user's other changes where the rules would set the whole file aside; a fix that applies but
//! does not make the tests pass is not made current and the rules go on, even when the tests
//! fail just as before (the model's miss does not stop the rules' repairs); a fix that cannot be
//! applied, even after the repair call, leaves the rules to repair and the reply says why.

use axum::http::StatusCode;
use kiln_integration_tests::fake_llm::{Exchange, FakeLlm};
use serde_json::{json, Value};

use crate::common::{app_with, App};

const RAISE: &str = "    raise RuntimeError(\"a slip of mine\")\n";
const MINE: &str = "# Reviewed by hand: recipes keep their titles.\n";

/// A cookbook read by the model (the first fixture), built, with a change of the user's to its
/// router that breaks creating a recipe and a harmless one in the same file; the fix fixtures
/// follow. Answers the app, its project, the router as generated and the broken version.
async fn broken(fixes: &[&str]) -> (FakeLlm, App, String, String, u64) {
    let mut fixtures = vec!["openai/recipes.http"];
    fixtures.extend_from_slice(fixes);
    let fake = FakeLlm::from_fixtures(&fixtures);
    let base = fake.openai_base_url();
    let app = app_with(&[
        ("KILN_LLM", "openai"),
        ("KILN_LLM_MODEL", "gpt-4o-mini"),
        ("KILN_LLM_BASE_URL", base.as_str()),
        ("KILN_LLM_API_KEY", "sk-test-kiln-0123456789"),
    ])
    .await;
    let id = app.create_project("Cookbook").await;
    let (_, read) = app.say(&id, "a place to keep my recipes").await;
    assert_eq!(read["run"]["status"], "succeeded", "{read}");
    let (_, built) = app.say(&id, "build it").await;
    assert_eq!(built["run"]["status"], "succeeded", "{built}");
    let v1 = app.current_version(&id).await;
    let router = app.file(&id, v1, "app/routers/recipes.py").await.unwrap();
    let def = "def create_recipe(body: RecipeCreate, session: SessionDep) -> Any:\n";
    assert!(router.contains(def), "{router}");
    let edited = format!(
        "{MINE}{}",
        router.replacen(def, &format!("{def}{RAISE}"), 1)
    );
    let (status, body) = app
        .call(
            "PUT",
            &format!("/api/v2/projects/{id}/files/app/routers/recipes.py"),
            Some(json!({ "content": edited })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let at = body["version"]["number"].as_u64().unwrap();
    (fake, app, id, router, at)
}

/// What the run `run` said, in order.
async fn said(app: &App, id: &str, run: &Value) -> Vec<String> {
    app.conversation(id)
        .await
        .into_iter()
        .filter(|m| m["run_id"] == run["id"] && m["role"] != "user")
        .map(|m| m["content"].as_str().unwrap().to_owned())
        .collect()
}

/// Says `text` (a fix request) and checks the run succeeded with version `expected` current,
/// its router the generated one (the rules set the user's change to it aside); the run and
/// what it said.
async fn fixed_by_the_rules(
    app: &App,
    id: &str,
    text: &str,
    expected: u64,
    router: &str,
) -> (Value, Vec<String>) {
    let (_, fixing) = app.say(id, text).await;
    assert_eq!(fixing["run"]["status"], "succeeded", "{fixing}");
    assert_eq!(app.current_version(id).await, expected);
    let now = app.file(id, expected, "app/routers/recipes.py").await;
    assert_eq!(now.as_deref(), Some(router));
    let said = said(app, id, &fixing["run"]).await;
    (fixing, said)
}

async fn version(app: &App, id: &str, n: u64) -> Value {
    let path = format!("/api/v2/projects/{id}/versions/{n}");
    app.call("GET", &path, None).await.1
}

/// The bodies the fake was sent for code fixes, parsed.
fn fix_requests(fake: &FakeLlm) -> Vec<Value> {
    fake.requests()
        .into_iter()
        .map(|r| r.body)
        .filter(|b| b["response_format"]["json_schema"]["name"] == "propose_code_fix")
        .collect()
}

#[tokio::test]
async fn the_models_fix_is_the_first_repair_and_keeps_the_users_other_changes() {
    let (fake, app, id, router, broken_at) = broken(&["openai/fix_recipes.http"]).await;
    let (status, fixing) = app.say(&id, "fix it").await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(fixing["run"]["status"], "succeeded", "{fixing}");
    let fixed = app.current_version(&id).await;
    assert_eq!(fixed, broken_at + 1, "the first repair passed");
    let v = version(&app, &id, fixed).await;
    assert_eq!(
        v["note"],
        format!("Repair 1 of version {broken_at}: the fix proposed by gpt-4o-mini")
    );
    // The raise is gone and the user's comment in the same file stays: the rules would have
    // taken the generated router whole.
    let now = app
        .file(&id, fixed, "app/routers/recipes.py")
        .await
        .unwrap();
    assert_eq!(now, format!("{MINE}{router}"));

    // The model was shown the failures and the router, and told the tests are not its to change.
    let sent = fix_requests(&fake);
    assert_eq!(sent.len(), 1, "asked once");
    let user = sent[0]["messages"][1]["content"].as_str().unwrap();
    assert!(user.contains("tests.test_recipes::"), "{user}");
    assert!(
        user.contains("RuntimeError at app/routers/recipes.py:"),
        "{user}"
    );
    assert!(
        user.contains("=== app/routers/recipes.py ===\n# Reviewed by hand"),
        "{user}"
    );
    assert!(
        user.contains("changed by hand: app/routers/recipes.py"),
        "{user}"
    );
    let system = sent[0]["messages"][0]["content"].as_str().unwrap();
    assert!(system.contains("never change a test"), "{system}");
    assert_eq!(sent[0]["response_format"]["json_schema"]["strict"], true);

    let said = said(&app, &id, &fixing["run"]).await;
    let proposal = said
        .iter()
        .find(|t| t.starts_with("gpt-4o-mini (openai) proposes a fix to `app/routers/recipes.py`"))
        .unwrap_or_else(|| panic!("{said:#?}"));
    assert!(proposal.contains("the raise is removed"), "{proposal}");
    let last = said.last().unwrap();
    assert!(
        last.contains("the fix gpt-4o-mini proposed, passes all"),
        "{last}"
    );
    // The run and the project count the call.
    assert_eq!(fixing["run"]["usage"]["calls"], 1, "{fixing}");
    let fixture = Exchange::fixture("openai/fix_recipes.http");
    let answer: Value = serde_json::from_str(&fixture.body).unwrap();
    assert_eq!(
        fixing["run"]["usage"]["input_tokens"], answer["usage"]["prompt_tokens"],
        "{fixing}"
    );
    let (_, project) = app
        .call("GET", &format!("/api/v2/projects/{id}"), None)
        .await;
    assert_eq!(
        project["model_usage"]["calls"], 2,
        "the reading and the fix: {project}"
    );

    // The repair's step run again finds the model's version: the model is not asked again.
    let again = app
        .fix_start_again(&fixing["run"], broken_at, &["app/routers/recipes.py"])
        .await;
    assert_eq!(again["version"], fixed, "{again}");
    assert_eq!(again["by_model"], "gpt-4o-mini", "{again}");
    assert_eq!(fix_requests(&fake).len(), 1, "not asked again");
    assert_eq!(fake.unexpected(), 0);
}

#[tokio::test]
async fn a_models_fix_the_tests_refuse_is_not_made_current_and_the_rules_go_on() {
    let (fake, app, id, router, broken_at) = broken(&["openai/fix_recipes_wrong.http"]).await;
    // The rules' repair after the model's, setting the traced router aside: generated again,
    // the comment with it.
    let (_, said) = fixed_by_the_rules(&app, &id, "please fix it", broken_at + 2, &router).await;
    let models = version(&app, &id, broken_at + 1).await;
    assert!(
        models["note"].as_str().unwrap().contains("gpt-4o-mini"),
        "{models}"
    );
    assert!(app
        .file(&id, broken_at + 1, "app/routers/recipes.py")
        .await
        .unwrap()
        .contains("raise ValueError(\"a slip of mine\")"));
    assert!(
        said.iter().any(|t| t.starts_with("Repair 1 (version")
            && t.contains("still fail")
            && t.contains("ValueError")),
        "{said:#?}"
    );
    assert!(
        said.last().unwrap().contains("Repair 2 fixed it"),
        "{said:#?}"
    );
    assert_eq!(fix_requests(&fake).len(), 1);

    // A repair that did not pass is still a version to roll back to.
    let (_, back) = app
        .say(&id, &format!("roll back to version {}", broken_at + 1))
        .await;
    assert_eq!(back["run"]["intent"], "rollback", "{back}");
    assert_eq!(back["run"]["status"], "succeeded", "{back}");
    assert_eq!(app.current_version(&id).await, broken_at + 1);
}

#[tokio::test]
async fn a_fix_that_cannot_be_applied_after_its_repair_call_leaves_the_rules_and_says_why() {
    let not_found = "openai/fix_recipes_not_found.http";
    let (fake, app, id, router, broken_at) = broken(&[not_found, not_found]).await;
    // No version of the model's: the rules' repair is the first.
    let (fixing, said) = fixed_by_the_rules(&app, &id, "fix it", broken_at + 1, &router).await;
    let why = said
        .iter()
        .find(|t| t.contains("proposed no fix I could use"))
        .unwrap_or_else(|| panic!("{said:#?}"));
    assert!(
        why.contains("after one repair")
            && why.contains("does not occur in `app/routers/recipes.py`"),
        "{why}"
    );
    // The repair call told the model what was wrong.
    let sent = fix_requests(&fake);
    assert_eq!(sent.len(), 2, "one call and one repair call");
    let told = sent[1]["messages"].as_array().unwrap().last().unwrap()["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(told.starts_with("That fix could not be applied"), "{told}");
    assert!(
        told.contains("change 1: its `find` text does not occur"),
        "{told}"
    );
    assert_eq!(fixing["run"]["usage"]["calls"], 2, "{fixing}");
    assert!(fixing["run"]["usage"]["fallback"].is_string(), "{fixing}");

    // The step run again from the state it was given (the model not yet asked in it) finds the
    // rules' repair it made, and does not ask the model again: the project holds the mark of
    // the reply that said what the model answered.
    let again = app
        .fix_start_again(&fixing["run"], broken_at, &["app/routers/recipes.py"])
        .await;
    assert_eq!(again["version"], broken_at + 1, "{again}");
    assert!(again.get("by_model").is_none(), "{again}");
    assert_eq!(fix_requests(&fake).len(), 2, "not asked again");
    assert_eq!(fake.unexpected(), 0);
}

#[tokio::test]
async fn a_models_fix_that_misses_the_cause_does_not_stop_the_rules() {
    let (fake, app, id, router, broken_at) = broken(&["openai/fix_recipes_comment.http"]).await;
    let (_, said) = fixed_by_the_rules(&app, &id, "fix it", broken_at + 2, &router).await;
    let missed = said
        .iter()
        .find(|t| t.starts_with("Repair 1 (version"))
        .unwrap_or_else(|| panic!("{said:#?}"));
    assert!(
        missed.contains("fail as before") && missed.contains("the rules repair next"),
        "{missed}"
    );
    assert!(
        said.last().unwrap().contains("Repair 2 fixed it"),
        "{said:#?}"
    );
    assert_eq!(fix_requests(&fake).len(), 1);
}
