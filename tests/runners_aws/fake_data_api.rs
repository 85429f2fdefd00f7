//! A stand-in for the RDS Data API on 127.0.0.1, since moto's runs no SQL (it answers every
//! statement with no rows): `ExecuteStatement` as the service speaks it (`POST /Execute`, a
//! JSON body with `resourceArn`, `secretArn`, `database`, `sql` and named `parameters`; rows
//! as `records` of typed fields; errors as `x-amzn-ErrorType` and a JSON `message`), run
//! for real on a throwaway PostgreSQL cluster with `psql`, one statement in autocommit as the
//! Data API runs a call without a transaction. Every call is recorded, and the next calls can
//! be made to answer as a paused Aurora Serverless v2 cluster does while it resumes.

use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use kiln_integration_tests::postgres::Cluster;
use serde_json::{json, Value};

/// One call as it arrived.
#[derive(Debug, Clone)]
pub struct Call {
    pub resource_arn: String,
    pub secret_arn: String,
    pub database: String,
    pub sql: String,
    pub parameters: Vec<(String, String)>,
}

#[derive(Default)]
struct Shared {
    calls: Vec<Call>,
    resuming: u32,
}

/// The running stand-in; stops with the test's runtime.
#[derive(Clone)]
pub struct FakeDataApi {
    shared: Arc<Mutex<Shared>>,
    /// `http://127.0.0.1:{port}`.
    pub endpoint: String,
}

impl FakeDataApi {
    /// Serves the Data API over `cluster`.
    pub async fn start(cluster: Arc<Cluster>) -> FakeDataApi {
        let shared = Arc::new(Mutex::new(Shared::default()));
        let app = axum::Router::new()
            .route("/Execute", axum::routing::post(execute))
            .with_state((shared.clone(), cluster));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        FakeDataApi { shared, endpoint }
    }

    /// Every call so far, oldest first.
    pub fn calls(&self) -> Vec<Call> {
        self.shared.lock().unwrap().calls.clone()
    }

    /// The next `n` calls answer that the instance is resuming from a pause.
    pub fn pause(&self, n: u32) {
        self.shared.lock().unwrap().resuming = n;
    }
}

fn error(code: &str, message: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        [("x-amzn-ErrorType", code)],
        Json(json!({ "message": message })),
    )
        .into_response()
}

/// `:name` parameters replaced by string literals (quotes doubled), as the server binds them.
fn bound(sql: &str, parameters: &[(String, String)]) -> String {
    let mut out = sql.to_owned();
    for (name, value) in parameters {
        out = out.replace(
            &format!(":{name}"),
            &format!("'{}'", value.replace('\'', "''")),
        );
    }
    out
}

async fn execute(
    State((shared, cluster)): State<(Arc<Mutex<Shared>>, Arc<Cluster>)>,
    Json(body): Json<Value>,
) -> Response {
    let text = |k: &str| body[k].as_str().unwrap_or_default().to_owned();
    let parameters: Vec<(String, String)> = body["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            (
                p["name"].as_str().unwrap_or_default().to_owned(),
                p["value"]["stringValue"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )
        })
        .collect();
    let call = Call {
        resource_arn: text("resourceArn"),
        secret_arn: text("secretArn"),
        database: text("database"),
        sql: text("sql"),
        parameters,
    };
    {
        let mut shared = shared.lock().unwrap();
        shared.calls.push(call.clone());
        if shared.resuming > 0 {
            shared.resuming -= 1;
            return error(
                "DatabaseResumingException",
                "The Aurora DB instance db-XYZ is resuming after being auto-paused. Please wait a few seconds and try again.",
            );
        }
    }
    if call.resource_arn.is_empty() || call.secret_arn.is_empty() || call.sql.is_empty() {
        return error(
            "BadRequestException",
            "resourceArn, secretArn and sql are required",
        );
    }
    let database = if call.database.is_empty() {
        "postgres".to_owned()
    } else {
        call.database.clone()
    };
    let sql = bound(&call.sql, &call.parameters);
    let out = tokio::task::spawn_blocking(move || cluster.psql(&database, &sql))
        .await
        .unwrap();
    if !out.status.success() {
        return error(
            "DatabaseErrorException",
            String::from_utf8_lossy(&out.stderr).trim(),
        );
    }
    let records: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            Value::Array(
                l.split('|')
                    .map(|field| json!({ "stringValue": field }))
                    .collect(),
            )
        })
        .collect();
    Json(json!({ "records": records, "numberOfRecordsUpdated": 0 })).into_response()
}
