//! What a person does with a Kiln installation, from the outside, through what the installation
//! publishes: the outputs of its CloudFormation stack, its Cognito user pool, its HTTP API and
//! the load balancer its apps answer on. The same code runs against a deployed stack
//! (`KILN_AWS_STACK`) and against the moto stand-in of one (`stand_ins.rs`).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aws_sdk_cognitoidentityprovider::types::{AttributeType, AuthFlowType, MessageActionType};
use serde_json::{json, Value};

use crate::stack::{left_of, note_made, project_stacks, stack_gone, Made};
pub use crate::stack::{read_stack, Clients, Installation, OUTPUTS};

/// How often to look again, and how long a run, a rollout or a teardown may take.
#[derive(Debug, Clone, Copy)]
pub struct Pace {
    pub poll: Duration,
    pub run_deadline: Duration,
    pub teardown_deadline: Duration,
}

impl Pace {
    /// On AWS: test builds take minutes, image builds and rollouts several, and deleting a
    /// stack waits for the service's tasks to drain.
    pub const AWS: Pace = Pace {
        poll: Duration::from_secs(5),
        run_deadline: Duration::from_secs(30 * 60),
        teardown_deadline: Duration::from_secs(20 * 60),
    };
}

/// A user the walkthrough makes, signs in as, and deletes at the end.
pub struct User {
    pub name: String,
    password: String,
}

impl User {
    /// A fresh user, with a password that meets the pool's policy (12 characters or more,
    /// upper and lower case, digits).
    pub fn fresh() -> User {
        let id = uuid::Uuid::new_v4().simple().to_string();
        User {
            name: format!("kiln-live-{}@example.com", &id[..12]),
            password: format!("Kl-{}-a9Z!", &id[..20]),
        }
    }

    /// Made by an administrator (no invitation mail), with its password made permanent.
    pub async fn create(&self, clients: &Clients, kiln: &Installation) {
        clients
            .cognito
            .admin_create_user()
            .user_pool_id(&kiln.user_pool)
            .username(&self.name)
            .message_action(MessageActionType::Suppress)
            .temporary_password(format!("{}-t", self.password))
            .user_attributes(attribute("email", &self.name))
            .user_attributes(attribute("email_verified", "true"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("AdminCreateUser {}: {e:?}", self.name));
        clients
            .cognito
            .admin_set_user_password()
            .user_pool_id(&kiln.user_pool)
            .username(&self.name)
            .password(&self.password)
            .permanent(true)
            .send()
            .await
            .unwrap_or_else(|e| panic!("AdminSetUserPassword: {e:?}"));
    }

    /// Signs in with the administrator's flow on the web client; returns the ID token, which
    /// the API's authorizer takes (its `aud` is the client).
    pub async fn sign_in(&self, clients: &Clients, kiln: &Installation) -> String {
        let out = clients
            .cognito
            .admin_initiate_auth()
            .user_pool_id(&kiln.user_pool)
            .client_id(&kiln.client)
            .auth_flow(AuthFlowType::AdminUserPasswordAuth)
            .auth_parameters("USERNAME", &self.name)
            .auth_parameters("PASSWORD", &self.password)
            .send()
            .await
            .unwrap_or_else(|e| panic!("AdminInitiateAuth: {e:?}"));
        out.authentication_result()
            .and_then(|r| r.id_token())
            .unwrap_or_else(|| panic!("no tokens, a challenge instead: {out:?}"))
            .to_owned()
    }

    pub async fn delete(&self, clients: &Clients, kiln: &Installation) {
        clients
            .cognito
            .admin_delete_user()
            .user_pool_id(&kiln.user_pool)
            .username(&self.name)
            .send()
            .await
            .unwrap_or_else(|e| panic!("AdminDeleteUser {}: {e:?}", self.name));
    }
}

fn attribute(name: &str, value: &str) -> AttributeType {
    AttributeType::builder()
        .name(name)
        .value(value)
        .build()
        .unwrap()
}

/// The v2 API as a signed-in client sees it.
#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

impl Api {
    /// `method` on `{ApiUrl}{path}`; the status and the body as JSON (null when it is not).
    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let url = format!("{}{path}", self.base);
        let mut req = self
            .http
            .request(method.parse().unwrap(), &url)
            .header("accept", "application/json");
        if let Some(token) = &self.token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res = req
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
        let status = res.status().as_u16();
        let bytes = res.bytes().await.unwrap_or_default();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    /// Posts `content` and follows its run until it ends; the run as it ended.
    pub async fn say(&self, project: &str, content: &str, pace: Pace) -> Value {
        let (status, posted) = self
            .call(
                "POST",
                &format!("/projects/{project}/messages"),
                Some(json!({ "content": content })),
            )
            .await;
        assert_eq!(status, 202, "posting {content:?}: {posted}");
        let run = posted["run"]["id"].as_str().unwrap().to_owned();
        let deadline = Instant::now() + pace.run_deadline;
        loop {
            let (status, run) = self
                .call("GET", &format!("/projects/{project}/runs/{run}"), None)
                .await;
            assert_eq!(status, 200, "{run}");
            if run["status"] == "succeeded" || run["status"] == "failed" {
                return run;
            }
            assert!(
                Instant::now() < deadline,
                "{content:?} did not finish in {:?}: {run}",
                pace.run_deadline
            );
            tokio::time::sleep(pace.poll).await;
        }
    }

    /// Says `content` and asserts that its run succeeded; the project afterwards.
    async fn succeeds(&self, project: &str, content: &str, pace: Pace) -> Value {
        let run = self.say(project, content, pace).await;
        let last = self.last_message(project).await;
        assert_eq!(run["status"], "succeeded", "{content:?}: {run}\n{last}");
        self.project(project).await
    }

    pub async fn project(&self, project: &str) -> Value {
        let (status, body) = self
            .call("GET", &format!("/projects/{project}"), None)
            .await;
        assert_eq!(status, 200, "{body}");
        body
    }

    async fn last_message(&self, project: &str) -> Value {
        let (_, conversation) = self
            .call("GET", &format!("/projects/{project}/conversation"), None)
            .await;
        conversation["items"]
            .as_array()
            .and_then(|items| items.last().cloned())
            .unwrap_or(Value::Null)
    }
}

/// GETs `url` until it answers 200 (a rollout's last targets may take a moment to register
/// with the load balancer), and returns the body; fails after `patience`.
async fn fetch_ok(http: &reqwest::Client, url: &str, patience: Duration, poll: Duration) -> String {
    let deadline = Instant::now() + patience;
    loop {
        let outcome = http.get(url).send().await;
        let seen = match outcome {
            Ok(res) if res.status().is_success() => return res.text().await.unwrap(),
            Ok(res) => format!("{} {}", res.status(), res.text().await.unwrap_or_default()),
            Err(e) => e.to_string(),
        };
        assert!(Instant::now() < deadline, "GET {url}: {seen}");
        tokio::time::sleep(poll).await;
    }
}

/// GETs the app's OpenAPI document until `wanted` says it is the one served.
async fn serves(http: &reqwest::Client, url: &str, pace: Pace, wanted: impl Fn(&str) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let doc = fetch_ok(
            http,
            &format!("{url}openapi.json"),
            Duration::from_secs(120),
            pace.poll,
        )
        .await;
        if wanted(&doc) {
            return;
        }
        assert!(Instant::now() < deadline, "{url} still serves {doc}");
        tokio::time::sleep(pace.poll).await;
    }
}

/// The one deployment of `project` (dev): its URL and version.
fn dev_deployment(project: &Value) -> (String, u64) {
    let deployments = project["deployments"].as_array().expect("deployments");
    assert_eq!(deployments.len(), 1, "{project}");
    let d = &deployments[0];
    assert_eq!(d["environment"], "dev", "{d}");
    (
        d["url"].as_str().expect("a URL").to_owned(),
        d["version"].as_u64().unwrap(),
    )
}

/// The walkthrough: a user signs in, describes an API, builds it, tests it, deploys it,
/// changes it and deploys again, rolls back, and deletes the project; after that, nothing the
/// project ran is left. The user is deleted at the end, also when a step fails.
pub async fn walkthrough(
    clients: &Clients,
    kiln: &Installation,
    http: &reqwest::Client,
    pace: Pace,
) {
    let anonymous = Api {
        http: http.clone(),
        base: kiln.api.clone(),
        token: None,
    };
    let (status, body) = anonymous.call("GET", "/projects", None).await;
    assert_eq!(
        status, 401,
        "the API answers nobody who has not signed in: {body}"
    );
    // But the page asks how to sign in before it has a token: on the installation's managed
    // login, as the installation's web client, for tokens of its user pool.
    let (status, body) = anonymous.call("GET", "/auth/config", None).await;
    assert_eq!(status, 200, "how to sign in is public: {body}");
    let region = kiln.user_pool.split('_').next().unwrap();
    let login = &kiln.sign_in_url;
    assert_eq!(
        body,
        json!({"mode": "oidc", "oidc": {
            "issuer": format!("https://cognito-idp.{region}.amazonaws.com/{}", kiln.user_pool),
            "client_id": kiln.client,
            "scopes": "openid email profile",
            "authorization_endpoint": format!("{login}/oauth2/authorize"),
            "token_endpoint": format!("{login}/oauth2/token"),
            "end_session_endpoint": format!("{login}/logout"),
        }})
    );

    let user = User::fresh();
    user.create(clients, kiln).await;
    let outcome = {
        let token = user.sign_in(clients, kiln).await;
        let api = Api {
            token: Some(token),
            ..anonymous
        };
        // Its own task, so that a failing step still lets the user be deleted.
        tokio::spawn(signed_in(api, clients.clone(), kiln.clone(), pace)).await
    };
    user.delete(clients, kiln).await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

async fn signed_in(api: Api, clients: Clients, kiln: Installation, pace: Pace) {
    let http = api.http.clone();
    let name = format!(
        "live check {}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let (status, project) = api
        .call(
            "POST",
            "/projects",
            Some(json!({"name": name, "description": "Made by Kiln's live acceptance test"})),
        )
        .await;
    assert_eq!(status, 201, "{project}");
    let id = project["id"].as_str().unwrap().to_owned();

    let project = api
        .succeeds(
            &id,
            "An API for tasks. Each task has a title and a done flag",
            pace,
        )
        .await;
    assert_eq!(
        project["spec"]["resources"][0]["plural"], "tasks",
        "{project}"
    );
    let project = api.succeeds(&id, "build it", pace).await;
    assert_eq!(project["current_version"], 1, "{project}");

    let run = api.say(&id, "run the tests", pace).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    let (_, conversation) = api
        .call("GET", &format!("/projects/{id}/conversation"), None)
        .await;
    let report = conversation["items"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|m| m["blocks"].as_array().cloned().unwrap_or_default())
        .rfind(|b| b["type"] == "test_report")
        .expect("the tests' report is in the conversation");
    assert_eq!(report["version"], 1, "{report}");
    assert!(report["report"]["passed"].as_u64().unwrap() > 0, "{report}");
    assert_eq!(report["report"]["failed"], 0, "{report}");
    assert_eq!(report["report"]["errors"], 0, "{report}");

    // Everything the project's stacks make along the way, replaced resources included; all
    // of it must be gone at the end.
    let mut made: BTreeMap<String, Made> = BTreeMap::new();
    let project = api.succeeds(&id, "deploy it", pace).await;
    note_made(&clients, &kiln, &id, &mut made).await;
    let (url, version) = dev_deployment(&project);
    assert_eq!(version, 1);
    assert!(
        url.starts_with(&kiln.apps_url),
        "{url} is under {}",
        kiln.apps_url
    );
    let health = fetch_ok(
        &http,
        &format!("{url}health"),
        Duration::from_secs(120),
        pace.poll,
    )
    .await;
    assert_eq!(
        serde_json::from_str::<Value>(&health).unwrap(),
        json!({"status": "ok"})
    );
    serves(&http, &url, pace, |doc| {
        doc.contains("/tasks\"") && !doc.contains("priority")
    })
    .await;

    // A second version, deployed over the first.
    api.succeeds(&id, "Tasks also have a priority number", pace)
        .await;
    let project = api.succeeds(&id, "build it", pace).await;
    assert_eq!(project["current_version"], 2, "{project}");
    api.succeeds(&id, "run the tests", pace).await;
    let project = api.succeeds(&id, "deploy it", pace).await;
    note_made(&clients, &kiln, &id, &mut made).await;
    assert_eq!(dev_deployment(&project), (url.clone(), 2));
    serves(&http, &url, pace, |doc| doc.contains("priority")).await;

    // Rolling back makes version 1 current and serves it again, at the same address.
    let project = api.succeeds(&id, "roll back", pace).await;
    note_made(&clients, &kiln, &id, &mut made).await;
    assert_eq!(project["current_version"], 1, "{project}");
    assert_eq!(dev_deployment(&project), (url.clone(), 1));
    serves(&http, &url, pace, |doc| {
        doc.contains("/tasks\"") && !doc.contains("priority")
    })
    .await;

    // Deleting the project deletes its stack, and with it everything the stack made.
    let stacks = project_stacks(&clients, &kiln, &id).await;
    assert_eq!(stacks.len(), 1, "one environment, one stack: {stacks:?}");
    let made: Vec<Made> = made.into_values().collect();
    for kind in [
        "AWS::ECS::Service",
        "AWS::ECS::TaskDefinition",
        "AWS::ElasticLoadBalancingV2::TargetGroup",
        "AWS::ElasticLoadBalancingV2::ListenerRule",
    ] {
        assert!(
            made.iter().any(|m| m.kind == kind),
            "the stack made no {kind}: {made:?}"
        );
    }
    let (status, body) = api.call("DELETE", &format!("/projects/{id}"), None).await;
    assert_eq!(status, 204, "{body}");
    let (status, _) = api.call("GET", &format!("/projects/{id}"), None).await;
    assert_eq!(status, 404);
    let deadline = Instant::now() + pace.teardown_deadline;
    for name in stacks.keys() {
        while !stack_gone(&clients, name).await {
            assert!(Instant::now() < deadline, "the stack {name} is still there");
            tokio::time::sleep(pace.poll).await;
        }
    }
    loop {
        let mut left = Vec::new();
        for m in &made {
            left.extend(left_of(&clients, m).await);
        }
        if left.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "left behind by the deleted project: {left:?}"
        );
        tokio::time::sleep(pace.poll).await;
    }
}
