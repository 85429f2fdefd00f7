//! The seed's walkthrough, end to end, through the HTTP API of a real `kiln serve`: describe
//! an API, refine it, build it, run its tests, deploy it, and use the deployment over HTTP.

mod common;

use common::{call, Session};
use reqwest::Method;
use serde_json::{json, Value};

/// Says something and expects the run to succeed.
async fn say(client: &reqwest::Client, api: &str, id: &str, content: &str) -> Value {
    let run = common::say(client, api, id, content).await;
    assert_eq!(run["status"], "succeeded", "{content}: {run}");
    run
}

async fn replies_to(client: &reqwest::Client, api: &str, id: &str, run: &Value) -> Vec<Value> {
    let (_, conversation) = call(
        client,
        Method::GET,
        format!("{api}/projects/{id}/conversation?limit=200"),
        None,
    )
    .await;
    conversation["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["run_id"] == run["id"] && m["role"] != "user")
        .cloned()
        .collect()
}

/// Creates a project with a description and follows the description's run to its end;
/// returns the project's id and that run.
async fn create_described(
    client: &reqwest::Client,
    api: &str,
    name: &str,
    description: &str,
) -> (String, Value) {
    let (status, project) = call(
        client,
        Method::POST,
        format!("{api}/projects"),
        Some(json!({"name": name, "description": description})),
    )
    .await;
    assert_eq!(status, 201, "{project}");
    let id = project["id"].as_str().unwrap().to_owned();
    let (_, conversation) = call(
        client,
        Method::GET,
        format!("{api}/projects/{id}/conversation"),
        None,
    )
    .await;
    let first = conversation["items"][0].clone();
    assert_eq!(first["role"], "user", "{conversation}");
    assert_eq!(
        first["content"], description,
        "the description opens the conversation"
    );
    let run = common::wait_for_run(client, api, &id, first["run_id"].as_str().unwrap()).await;
    (id, run)
}

/// The steps of a deploy of a version that is built, reviewed and tested already.
fn deploy_only() -> Vec<String> {
    use kiln_integration_tests::steps::{chain, DEPLOY, REVIEWED};
    chain(&[&["Plan"], &REVIEWED, &DEPLOY, &["Complete"]])
}

#[tokio::test(flavor = "multi_thread")]
async fn describe_refine_build_test_deploy_and_use_it() {
    let session = Session::start(&[]);
    let (client, api) = (&session.client, &session.api);
    let (_, project) = call(
        client,
        Method::POST,
        format!("{api}/projects"),
        Some(json!({"name": "Task Management API"})),
    )
    .await;
    let id = project["id"].as_str().unwrap().to_owned();

    say(
        client,
        api,
        &id,
        "Create a task management API: tasks have a title, a description and a due date",
    )
    .await;
    say(client, api, &id, "Add user authentication").await;
    say(client, api, &id, "Add database support").await;

    let built = say(client, api, &id, "Build the code").await;
    let steps: Vec<&str> = built["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        steps,
        [
            "Plan",
            "BackendDeveloper",
            "DocumentationWriter",
            "Release",
            "Review",
            "ReviewCheck",
            "Complete"
        ]
    );

    let tested = say(client, api, &id, "Run the tests").await;
    assert_eq!(
        common::step_names(&tested),
        ["Plan", "Review", "QaStart", "QaCheck", "QaReport", "Complete"],
        "the current version is tested as built (its review was recorded when it was built)"
    );
    let replies = replies_to(client, api, &id, &tested).await;
    let report = replies
        .iter()
        .flat_map(|m| m["blocks"].as_array().unwrap().iter())
        .find(|b| b["type"] == "test_report")
        .unwrap_or_else(|| panic!("no test report in {replies:#?}"))
        .clone();
    let passed = report["report"]["passed"].as_u64().unwrap();
    assert!(passed >= 15, "{report}");
    assert_eq!(report["report"]["failed"], 0, "{report}");
    assert_eq!(report["report"]["errors"], 0, "{report}");
    println!(
        "generated tests: {passed} passed in {} s",
        report["report"]["duration_secs"]
    );

    // The version was built and tested, and the spec has not changed since: the deploy
    // neither rebuilds nor re-tests: the DevOps engineer speaks, then QA about the live app.
    let deployed = say(client, api, &id, "Deploy it").await;
    assert_eq!(common::step_names(&deployed), deploy_only());
    let agents: Vec<Value> = replies_to(client, api, &id, &deployed)
        .await
        .iter()
        .map(|m| m["agent"].clone())
        .collect();
    // What it would cost on AWS, "Starting …", "Version N is live", then the smoke and load
    // test of the live app.
    assert_eq!(
        agents,
        [
            json!("devops_engineer"),
            json!("devops_engineer"),
            json!("devops_engineer"),
            json!("qa_engineer")
        ]
    );
    let (_, project) = call(client, Method::GET, format!("{api}/projects/{id}"), None).await;
    assert_eq!(project["status"], "deployed");
    let url = project["deployments"][0]["url"]
        .as_str()
        .unwrap()
        .trim_end_matches('/')
        .to_owned();
    assert_eq!(project["deployments"][0]["environment"], "dev");

    // The deployment answers over HTTP: health, then a real resource behind a real login.
    let health = client.get(format!("{url}/health")).send().await.unwrap();
    assert_eq!(health.status().as_u16(), 200);
    assert_eq!(
        client
            .get(format!("{url}/tasks"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        401
    );
    let credentials = json!({"username": "walker", "password": "a-long-enough-password"});
    assert_eq!(
        client
            .post(format!("{url}/auth/register"))
            .json(&credentials)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        201
    );
    let token: Value = client
        .post(format!("{url}/auth/login"))
        .json(&credentials)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let bearer = token["access_token"].as_str().unwrap().to_owned();
    let created = client
        .post(format!("{url}/tasks"))
        .bearer_auth(&bearer)
        .json(&json!({"title": "Ship Kiln", "due_date": "2026-12-01"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status().as_u16(), 201);
    let task: Value = created.json().await.unwrap();
    let listed: Value = client
        .get(format!("{url}/tasks"))
        .bearer_auth(&bearer)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["items"][0]["title"], "Ship Kiln");
    assert_eq!(listed["items"][0]["id"], task["id"]);

    // A redeploy replaces the process; the data, kept beside the deployment, stays.
    let redeployed = say(client, api, &id, "redeploy").await;
    assert_eq!(common::step_names(&redeployed), deploy_only());
    let (_, project) = call(client, Method::GET, format!("{api}/projects/{id}"), None).await;
    let new_url = project["deployments"][0]["url"]
        .as_str()
        .unwrap()
        .trim_end_matches('/')
        .to_owned();
    assert_ne!(new_url, url);
    assert!(
        client.get(format!("{url}/health")).send().await.is_err(),
        "the old process was stopped"
    );
    let listed: Value = client
        .get(format!("{new_url}/tasks"))
        .bearer_auth(&bearer)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        listed["total"], 1,
        "the database survived the redeploy: {listed}"
    );

    // Staging gets a process of its own.
    say(client, api, &id, "deploy it to staging").await;
    let (_, project) = call(client, Method::GET, format!("{api}/projects/{id}"), None).await;
    let envs: Vec<&str> = project["deployments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["environment"].as_str().unwrap())
        .collect();
    assert_eq!(envs, ["dev", "staging"]);
    let staging = project["deployments"][1]["url"]
        .as_str()
        .unwrap()
        .trim_end_matches('/')
        .to_owned();
    assert_eq!(
        client
            .get(format!("{staging}/health"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );

    // Deleting the project stops everything it runs.
    let (status, _) = call(client, Method::DELETE, format!("{api}/projects/{id}"), None).await;
    assert_eq!(status, 204);
    for u in [&new_url, &staging] {
        assert!(
            client.get(format!("{u}/health")).send().await.is_err(),
            "{u} still answers"
        );
    }
}

/// The plan's own walkthrough: the project's description is its first requirement, read like
/// a first message; then auth, a database, build, test and deploy, ending with a deployed app
/// that has `/tasks` behind a login and keeps its data in a database.
#[tokio::test(flavor = "multi_thread")]
async fn the_description_is_the_first_requirement() {
    let session = Session::start(&[]);
    let (client, api) = (&session.client, &session.api);
    // The conversation opens with the description as the user's message, and its run.
    let (id, run) = create_described(
        client,
        api,
        "Task Management API",
        "Build a REST API for managing tasks",
    )
    .await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["intent"], "create", "{run}");
    let replies = replies_to(client, api, &id, &run).await;
    let pm = replies
        .iter()
        .find(|m| m["agent"] == "product_manager")
        .unwrap_or_else(|| panic!("no product manager reply: {replies:#?}"));
    assert!(
        pm["content"].as_str().unwrap().contains("`tasks`"),
        "the reply says what was understood: {pm}"
    );

    for step in [
        "Add user authentication",
        "Add database support",
        "Build the code",
        "Run the tests",
    ] {
        say(client, api, &id, step).await;
    }
    say(client, api, &id, "Deploy it").await;
    let (_, project) = call(client, Method::GET, format!("{api}/projects/{id}"), None).await;
    assert_eq!(project["status"], "deployed", "{project}");
    let url = project["deployments"][0]["url"]
        .as_str()
        .unwrap()
        .trim_end_matches('/')
        .to_owned();
    let openapi: Value = client
        .get(format!("{url}/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let paths = openapi["paths"].as_object().unwrap();
    for p in [
        "/tasks",
        "/tasks/{item_id}",
        "/auth/register",
        "/auth/login",
    ] {
        assert!(paths.contains_key(p), "{p} missing from {:?}", paths.keys());
    }

    // Auth guards /tasks; a task written before a redeploy is still there after it.
    let task_list = client.get(format!("{url}/tasks")).send().await.unwrap();
    assert_eq!(task_list.status().as_u16(), 401);
    let credentials = json!({"username": "planner", "password": "a-long-enough-password"});
    let registered = client
        .post(format!("{url}/auth/register"))
        .json(&credentials)
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status().as_u16(), 201);
    let token: Value = client
        .post(format!("{url}/auth/login"))
        .json(&credentials)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let bearer = token["access_token"].as_str().unwrap().to_owned();
    let schema = openapi["components"]["schemas"]["TaskCreate"].clone();
    let required: Vec<&str> = schema["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut body = serde_json::Map::new();
    for field in &required {
        body.insert((*field).to_owned(), json!("x"));
    }
    let created = client
        .post(format!("{url}/tasks"))
        .bearer_auth(&bearer)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status().as_u16(), 201, "{schema}");
    say(client, api, &id, "redeploy").await;
    let (_, project) = call(client, Method::GET, format!("{api}/projects/{id}"), None).await;
    let new_url = project["deployments"][0]["url"]
        .as_str()
        .unwrap()
        .trim_end_matches('/')
        .to_owned();
    let listed: Value = client
        .get(format!("{new_url}/tasks"))
        .bearer_auth(&bearer)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["total"], 1, "the database kept the task: {listed}");
}

/// When a sentence could mean two specs, the product manager asks instead of guessing, keeps
/// the question with the project, and applies the answer the next message picks.
#[tokio::test(flavor = "multi_thread")]
async fn a_question_instead_of_a_guess_and_its_answer() {
    let session = Session::start(&[]);
    let (client, api) = (&session.client, &session.api);
    let (id, _) = create_described(client, api, "Loans", "An API for loans").await;

    let asked = say(
        client,
        api,
        &id,
        "loans have a due date and belong to returned",
    )
    .await;
    let replies = replies_to(client, api, &id, &asked).await;
    let question = replies
        .iter()
        .flat_map(|m| m["blocks"].as_array().unwrap().iter())
        .find(|b| b["type"] == "question")
        .unwrap_or_else(|| panic!("no question in {replies:#?}"))
        .clone();
    assert_eq!(
        question["text"],
        "Is `returned` a yes/no field of loans, or a separate thing loans belong to?"
    );
    let (_, project) = call(client, Method::GET, format!("{api}/projects/{id}"), None).await;
    assert_eq!(project["pending_question"]["text"], question["text"]);
    let resources: Vec<&str> = project["spec"]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(resources, ["loan"], "nothing invented while asking");

    // "the first one" is read as the answer, not as a question of its own.
    let answered = say(client, api, &id, "the first one").await;
    assert_eq!(answered["intent"], "refine", "{answered}");
    let (_, project) = call(client, Method::GET, format!("{api}/projects/{id}"), None).await;
    assert!(project.get("pending_question").is_none(), "{project}");
    let loan = &project["spec"]["resources"][0];
    let returned = loan["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "returned")
        .unwrap_or_else(|| panic!("{loan}"));
    assert_eq!(returned["type"]["kind"], "boolean");
}

/// The spec's field `name` of the project's only resource.
async fn field_of(client: &reqwest::Client, api: &str, id: &str, name: &str) -> Value {
    let (_, project) = call(client, Method::GET, format!("{api}/projects/{id}"), None).await;
    let resource = &project["spec"]["resources"][0];
    resource["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == name)
        .unwrap_or_else(|| panic!("no field `{name}` in {resource}"))
        .clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn that_field_is_the_one_named_last_and_a_guessed_type_is_asked_about() {
    let session = Session::start(&[]);
    let (client, api) = (&session.client, &session.api);
    let (id, _) = create_described(client, api, "Helpdesk", "An API for tickets").await;

    // "priority" could be 1–5 or low/high: added with a guess, and asked about.
    let asked = say(client, api, &id, "tickets have a subject and a priority").await;
    let replies = replies_to(client, api, &id, &asked).await;
    let question = replies
        .iter()
        .flat_map(|m| m["blocks"].as_array().unwrap().iter())
        .find(|b| b["type"] == "question")
        .unwrap_or_else(|| panic!("no question in {replies:#?}"))
        .clone();
    assert!(
        question["text"]
            .as_str()
            .unwrap()
            .starts_with("Is `priority` of tickets a number or text?"),
        "{question}"
    );
    assert_eq!(
        field_of(client, api, &id, "priority").await["type"]["kind"],
        "integer"
    );

    // Naming its choices answers it.
    let answered = say(client, api, &id, "low, medium or high").await;
    assert_eq!(answered["intent"], "refine", "{answered}");
    let priority = field_of(client, api, &id, "priority").await;
    assert_eq!(
        priority["type"],
        json!({"kind": "enum", "values": ["low", "medium", "high"]})
    );
    assert_eq!(priority["required"], false);

    // The next message points back at it without naming it, and a later one at another field.
    say(client, api, &id, "make that required").await;
    assert_eq!(
        field_of(client, api, &id, "priority").await["required"],
        true
    );
    say(client, api, &id, "add a due date").await;
    say(client, api, &id, "actually drop it").await;
    let (_, project) = call(client, Method::GET, format!("{api}/projects/{id}"), None).await;
    let names: Vec<&str> = project["spec"]["resources"][0]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["subject", "priority"], "{project}");
}
