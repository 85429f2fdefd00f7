//! The smoke test's calls, made from the spec the version was built from, along the routes the
//! generator writes (every endpoint `generator::design_for` lists; `tests/smoke_load.rs` holds
//! the count to that list): the health check; with authentication a new account
//! registered, logged in and its token sent on every later call; then for each resource,
//! parents before children, a record created with a valid value in every field (and the ids of
//! the records it belongs to), listed, read, changed, and at the end deleted, children first.
//! Each answer's status and JSON shape are checked against what the app documents.

use std::time::Duration;

use serde_json::{json, Map, Value};

use crate::model::{SmokeFailure, SmokeReport};
use crate::runner::AppUrl;
use crate::spec::{AppSpec, AuthFeature, Field, FieldType, Resource};

/// Longest one call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// Longest the whole smoke test may take: calls past it are not made (and count as failed),
/// so the step ends well within its Task's `TimeoutSeconds` (300) with the load test after it.
const TIME_LIMIT: Duration = Duration::from_secs(120);

/// Most characters of an answer quoted in a failure.
const QUOTED_CHARS: usize = 200;

/// One planned call: method, path, body, the status the app documents for it.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// HTTP method.
    pub method: &'static str,
    /// Path under the app's URL.
    pub path: String,
    /// JSON body, if any.
    pub body: Option<Value>,
    /// The documented status.
    pub status: u16,
}

/// A valid value for `field`: `variant` 0 for a create, 1 for a change. `nonce` keeps values
/// of unique fields apart from earlier smoke tests' records (a soft-deleted row keeps its
/// unique values, and a user's rows are there too): every type but a boolean and a choice
/// takes its value from `2 × nonce + variant`, so no two smoke tests' values meet.
pub fn valid_value(field: &Field, variant: u32, nonce: u32) -> Value {
    let n = 2 * i64::from(nonce) + i64::from(variant);
    let from_2000 = |step: time::Duration| {
        time::macros::datetime!(2000-01-01 0:00 UTC) + step * i32::try_from(n).unwrap_or(i32::MAX)
    };
    match &field.ty {
        FieldType::String => json!(format!("smoke {nonce} {variant}")),
        FieldType::Text => json!(format!("Smoke test text {nonce}, take {variant}.")),
        FieldType::Integer => json!(n),
        FieldType::Number => json!(n as f64 + 0.5),
        FieldType::Boolean => json!(variant == 0),
        FieldType::Date => json!(from_2000(time::Duration::DAY).date().to_string()),
        FieldType::Datetime => json!(from_2000(time::Duration::MINUTE)
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default()),
        FieldType::Email => json!(format!("smoke-{nonce}-{variant}@example.com")),
        FieldType::Url => json!(format!("https://example.com/smoke/{nonce}/{variant}")),
        FieldType::Enum { values } => json!(values[variant as usize % values.len()]),
    }
}

/// Whether the app's answer for a field holds the value sent (times come back with an offset).
fn echoes(field: &Field, sent: &Value, got: &Value) -> bool {
    match (&field.ty, sent, got) {
        (FieldType::Number, _, _) => sent.as_f64().is_some() && sent.as_f64() == got.as_f64(),
        (FieldType::Datetime, Value::String(s), Value::String(g)) => {
            g.starts_with(s.trim_end_matches('Z'))
        }
        _ => sent == got,
    }
}

/// The body that creates a record of `r`: every field, and the id of each record it belongs to.
pub fn create_body(
    spec: &AppSpec,
    r: &Resource,
    parents: &Map<String, Value>,
    nonce: u32,
) -> Value {
    let mut body = Map::new();
    for f in &r.fields {
        body.insert(f.name.clone(), valid_value(f, 0, nonce));
    }
    for p in spec.parents_of(r) {
        let id = parents.get(&p.name).cloned().unwrap_or(Value::Null);
        body.insert(format!("{}_id", p.name), id);
    }
    Value::Object(body)
}

/// What the smoke test found, and what the load test after it needs: the headers to send
/// (the bearer token) and the safe paths (health and each list).
#[derive(Debug, Clone)]
pub struct SmokeOutcome {
    /// The report shown to the user.
    pub report: SmokeReport,
    /// Headers every call sent.
    pub headers: Vec<(String, String)>,
    /// Paths a `GET` may call any number of times.
    pub safe_paths: Vec<String>,
}

struct Caller<'a> {
    app: &'a AppUrl,
    nonce: u32,
    deadline: std::time::Instant,
    client: reqwest::Client,
    token: Option<String>,
    report: SmokeReport,
}

impl Caller<'_> {
    /// Makes a call; the parsed JSON answer when it answered the documented status.
    async fn call(&mut self, call: Call) -> Option<Value> {
        self.report.calls += 1;
        let fail = |status: Option<u16>, problem: String| SmokeFailure {
            method: call.method.to_owned(),
            path: call.path.clone(),
            status,
            problem: quoted(&problem),
        };
        if std::time::Instant::now() >= self.deadline {
            let why = format!(
                "not tried: the smoke test ran past {} s",
                TIME_LIMIT.as_secs()
            );
            self.report.failures.push(fail(None, why));
            return None;
        }
        let url = match self.app.join(&call.path) {
            Ok(u) => u,
            Err(e) => {
                self.report.failures.push(fail(None, e.to_string()));
                return None;
            }
        };
        let method = reqwest::Method::from_bytes(call.method.as_bytes()).unwrap_or_default();
        // Marked as Kiln's in the app's log (its request id): `kiln-smoke-{nonce}-{call}`.
        let id = format!("kiln-smoke-{}-{}", self.nonce, self.report.calls);
        let mut request = self.client.request(method, url).header("x-request-id", id);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = &call.body {
            request = request.json(body);
        }
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) => {
                let why = if e.is_timeout() {
                    format!("no answer within {} s", CALL_TIMEOUT.as_secs())
                } else {
                    "no answer (the connection failed)".to_owned()
                };
                self.report.failures.push(fail(None, why));
                return None;
            }
        };
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        if status != call.status {
            let problem = format!("expected {}, got {status}: {text}", call.status);
            self.report.failures.push(fail(Some(status), problem));
            return None;
        }
        if status == 204 {
            return Some(Value::Null);
        }
        match serde_json::from_str::<Value>(&text) {
            Ok(v) => Some(v),
            Err(_) => {
                let problem = format!("the answer is not JSON: {text}");
                self.report.failures.push(fail(Some(status), problem));
                None
            }
        }
    }

    /// Notes a wrong shape of an answer that had the right status.
    fn wrong(&mut self, method: &str, path: &str, status: u16, problem: String) {
        self.report.failures.push(SmokeFailure {
            method: method.to_owned(),
            path: path.to_owned(),
            status: Some(status),
            problem: quoted(&problem),
        });
    }

    /// Checks that a record as answered has an integer id (`id` when given) and the values sent.
    fn check_record(
        &mut self,
        (method, path, status): (&str, &str, u16),
        r: &Resource,
        sent: &Value,
        got: &Value,
        id: Option<&Value>,
    ) {
        let Some(object) = got.as_object() else {
            return self.wrong(
                method,
                path,
                status,
                "the answer is not a JSON object".into(),
            );
        };
        match object.get("id") {
            Some(v) if v.is_i64() && id.is_none_or(|id| id == v) => {}
            other => {
                let problem = format!(
                    "the record's id is {}",
                    other.map_or("missing".into(), Value::to_string)
                );
                return self.wrong(method, path, status, problem);
            }
        }
        for f in &r.fields {
            let Some(value) = sent.get(&f.name) else {
                continue;
            };
            let got = object.get(&f.name).unwrap_or(&Value::Null);
            if !echoes(f, value, got) {
                let problem = format!("{} is {got}, not the {value} sent", f.name);
                return self.wrong(method, path, status, problem);
            }
        }
    }
}

/// A failure's text: one line of printable characters, shortened.
fn quoted(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(QUOTED_CHARS)
        .collect()
}

/// Runs the smoke test of the app at `app`, built from `spec`.
pub async fn smoke_test(app: &AppUrl, spec: &AppSpec, nonce: u32) -> SmokeOutcome {
    let spec = crate::generator::with_defaults(spec);
    let client = match app.client(CALL_TIMEOUT, 1) {
        Ok(client) => client,
        Err(e) => {
            return SmokeOutcome {
                report: SmokeReport {
                    passed: false,
                    calls: 0,
                    failures: vec![SmokeFailure {
                        method: "GET".into(),
                        path: "/health".into(),
                        status: None,
                        problem: e.to_string(),
                    }],
                },
                headers: Vec::new(),
                safe_paths: Vec::new(),
            }
        }
    };
    let mut caller = Caller {
        app,
        nonce,
        deadline: std::time::Instant::now() + TIME_LIMIT,
        client,
        token: None,
        report: SmokeReport::default(),
    };
    let get = |path: String, status: u16| Call {
        method: "GET",
        path,
        body: None,
        status,
    };
    if let Some(health) = caller.call(get("/health".into(), 200)).await {
        if !health.is_object() {
            caller.wrong(
                "GET",
                "/health",
                200,
                "the answer is not a JSON object".into(),
            );
        }
    }
    if spec.features.auth == AuthFeature::Jwt {
        sign_in(&mut caller, nonce).await;
    }
    let ordered = spec.parents_first().unwrap_or_default();
    let mut ids: Map<String, Value> = Map::new();
    for r in &ordered {
        if spec.parents_of(r).any(|p| !ids.contains_key(&p.name)) {
            caller.report.failures.push(SmokeFailure {
                method: "POST".into(),
                path: format!("/{}", r.plural),
                status: None,
                problem: "not tried: a record it belongs to was not created".into(),
            });
            continue;
        }
        let body = create_body(&spec, r, &ids, nonce);
        let path = format!("/{}", r.plural);
        let call = Call {
            method: "POST",
            path: path.clone(),
            body: Some(body.clone()),
            status: 201,
        };
        if let Some(made) = caller.call(call).await {
            caller.check_record(("POST", &path, 201), r, &body, &made, None);
            if let Some(id) = made.get("id").filter(|v| v.is_i64()) {
                ids.insert(r.name.clone(), id.clone());
            }
        }
    }
    for r in &ordered {
        let list = format!("/{}?limit=100", r.plural);
        if let Some(page) = caller.call(get(list.clone(), 200)).await {
            let shaped = page["items"].is_array()
                && page["total"].is_i64()
                && page["limit"] == 100
                && page["offset"] == 0;
            if !shaped {
                caller.wrong(
                    "GET",
                    &list,
                    200,
                    "the answer is not a page of items, total, limit and offset".into(),
                );
            } else if let Some(id) = ids.get(&r.name) {
                let total = page["total"].as_i64().unwrap_or(0);
                let listed = page["items"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|i| &i["id"] == id);
                if total <= 100 && !listed {
                    caller.wrong(
                        "GET",
                        &list,
                        200,
                        format!("the record {id} just created is not listed"),
                    );
                }
            }
        }
        let Some(id) = ids.get(&r.name).cloned() else {
            continue;
        };
        let one = format!("/{}/{id}", r.plural);
        let sent = create_body(&spec, r, &ids, nonce);
        if let Some(got) = caller.call(get(one.clone(), 200)).await {
            caller.check_record(("GET", &one, 200), r, &sent, &got, Some(&id));
        }
        if let Some(first) = r.fields.first() {
            let change = json!({ first.name.clone(): valid_value(first, 1, nonce) });
            let call = Call {
                method: "PATCH",
                path: one.clone(),
                body: Some(change.clone()),
                status: 200,
            };
            if let Some(got) = caller.call(call).await {
                caller.check_record(("PATCH", &one, 200), r, &change, &got, Some(&id));
            }
        }
    }
    for r in ordered.iter().rev() {
        let Some(id) = ids.get(&r.name) else { continue };
        let one = format!("/{}/{id}", r.plural);
        let call = Call {
            method: "DELETE",
            path: one.clone(),
            body: None,
            status: 204,
        };
        if caller.call(call).await.is_some() {
            caller.call(get(one, 404)).await;
        }
    }
    let mut safe_paths = vec!["/health".to_owned()];
    safe_paths.extend(ordered.iter().map(|r| format!("/{}?limit=10", r.plural)));
    let mut report = caller.report;
    report.passed = report.failures.is_empty();
    SmokeOutcome {
        report,
        headers: caller
            .token
            .map(|t| vec![("authorization".to_owned(), format!("Bearer {t}"))])
            .unwrap_or_default(),
        safe_paths,
    }
}

/// Registers a new account, logs in, and keeps the token for every later call.
async fn sign_in(caller: &mut Caller<'_>, nonce: u32) {
    let username = format!("smoke-{nonce}-{}", uuid::Uuid::new_v4().simple());
    let credentials = json!({"username": username, "password": format!("smoke-pw-{nonce}")});
    let register = Call {
        method: "POST",
        path: "/auth/register".into(),
        body: Some(credentials.clone()),
        status: 201,
    };
    if let Some(account) = caller.call(register).await {
        if account["username"] != json!(username)
            || !account["id"].is_i64()
            || account.get("password_hash").is_some()
        {
            caller.wrong(
                "POST",
                "/auth/register",
                201,
                "the account answered is not the one registered (or shows its hash)".into(),
            );
        }
    }
    let login = Call {
        method: "POST",
        path: "/auth/login".into(),
        body: Some(credentials),
        status: 200,
    };
    if let Some(token) = caller.call(login).await {
        match token["access_token"].as_str() {
            Some(t) if token["token_type"] == "bearer" => caller.token = Some(t.to_owned()),
            _ => caller.wrong(
                "POST",
                "/auth/login",
                200,
                "no bearer access_token in the answer".into(),
            ),
        }
    }
    let me = Call {
        method: "GET",
        path: "/auth/me".into(),
        body: None,
        status: 200,
    };
    if let Some(account) = caller.call(me).await {
        if account["username"] != json!(username) {
            caller.wrong(
                "GET",
                "/auth/me",
                200,
                "the token's account is not the one registered".into(),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{Relation, RelationKind};

    fn field(name: &str, ty: FieldType) -> Field {
        Field {
            name: name.into(),
            ty,
            required: true,
            unique: false,
            default: None,
        }
    }

    #[test]
    fn values_are_valid_for_their_type_and_differ_between_create_and_change() {
        let types = [
            FieldType::String,
            FieldType::Text,
            FieldType::Integer,
            FieldType::Number,
            FieldType::Boolean,
            FieldType::Date,
            FieldType::Datetime,
            FieldType::Email,
            FieldType::Url,
            FieldType::Enum {
                values: vec!["low".into(), "high".into()],
            },
        ];
        for ty in types {
            let f = field("x", ty.clone());
            let (a, b) = (valid_value(&f, 0, 42), valid_value(&f, 1, 42));
            assert_ne!(a, b, "{ty:?}");
            assert!(echoes(&f, &a, &a), "{ty:?}");
        }
        let email = valid_value(&field("e", FieldType::Email), 0, 7);
        assert_eq!(email, "smoke-7-0@example.com");
        // Values of unique fields never meet another smoke test's, created or changed.
        for ty in [
            FieldType::Integer,
            FieldType::Number,
            FieldType::Date,
            FieldType::Datetime,
        ] {
            let f = field("u", ty.clone());
            let values: std::collections::BTreeSet<String> = (0..50)
                .flat_map(|nonce| [0, 1].map(|v| valid_value(&f, v, nonce).to_string()))
                .collect();
            assert_eq!(values.len(), 100, "{ty:?}");
        }
        assert_eq!(
            valid_value(&field("d", FieldType::Date), 1, 0),
            "2000-01-02"
        );
        assert_eq!(
            valid_value(&field("t", FieldType::Datetime), 1, 1),
            "2000-01-01T00:03:00Z"
        );
        assert_eq!(
            valid_value(&field("d", FieldType::Date), 0, 999_999),
            "7475-10-23"
        );
        let one_choice = field(
            "k",
            FieldType::Enum {
                values: vec!["only".into()],
            },
        );
        assert_eq!(valid_value(&one_choice, 1, 0), "only");
        let when = field("at", FieldType::Datetime);
        assert!(echoes(
            &when,
            &json!("2026-02-03T10:00:00Z"),
            &json!("2026-02-03T10:00:00+00:00")
        ));
        assert!(!echoes(
            &when,
            &json!("2026-02-03T10:00:00Z"),
            &json!("2026-02-03T11:00:00+00:00")
        ));
    }

    #[test]
    fn a_child_is_created_with_its_parents_ids() {
        let author = Resource {
            name: "author".into(),
            plural: "authors".into(),
            fields: vec![field("name", FieldType::String)],
            relations: vec![],
        };
        let book = Resource {
            name: "book".into(),
            plural: "books".into(),
            fields: vec![field("title", FieldType::String)],
            relations: vec![Relation {
                kind: RelationKind::BelongsTo,
                target: "author".into(),
            }],
        };
        let spec = AppSpec {
            resources: vec![book.clone(), author],
            ..AppSpec::default()
        };
        let ordered: Vec<&str> = spec
            .parents_first()
            .unwrap()
            .iter()
            .map(|r| r.name.as_str())
            .collect();
        assert_eq!(ordered, ["author", "book"]);
        let mut ids = Map::new();
        ids.insert("author".into(), json!(12));
        assert_eq!(
            create_body(&spec, &book, &ids, 5),
            json!({"title": "smoke 5 0", "author_id": 12})
        );
    }
}
