//! A stand-in for the OSV vulnerability database, for the review's pip-audit: it speaks OSV's
//! v1 query API as osv.dev documents it and pip-audit's `OsvService` reads it
//! (`POST /v1/query` with `{"package": {"name", "ecosystem"}, "version"}`, answered `{}` when
//! nothing is known, else `{"vulns": [{"id", "summary", "aliases", "affected": [{"package",
//! "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced"}, {"fixed"}]}]}]}]}`), from
//! advisories the test gives it. Kiln points pip-audit at it with `KILN_OSV_URL`, so no review
//! in the tests asks the network.

use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};

/// One known vulnerability of one release of a package.
#[derive(Debug, Clone)]
pub struct Advisory {
    /// The package's name, as PyPI normalises it (`pyjwt`).
    pub package: String,
    /// The affected release.
    pub version: String,
    /// The advisory's id (`GHSA-…`, `PYSEC-…`).
    pub id: String,
    /// Its one-line summary.
    pub summary: String,
    /// The release that fixes it.
    pub fixed: String,
}

#[derive(Default)]
struct Shared {
    advisories: Vec<Advisory>,
    queries: Mutex<Vec<Value>>,
}

/// The stand-in, on a free loopback port, on a thread of its own; it stops when dropped.
pub struct FakeOsv {
    shared: Arc<Shared>,
    url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl FakeOsv {
    /// A database that knows `advisories` and nothing else.
    pub fn start(advisories: Vec<Advisory>) -> FakeOsv {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}/v1/query", listener.local_addr().unwrap());
        let shared = Arc::new(Shared {
            advisories,
            queries: Mutex::default(),
        });
        let app = Router::new()
            .route("/v1/query", post(query))
            .with_state(shared.clone());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        crate::serve_on_own_thread(listener, app, Some(stopped));
        FakeOsv {
            shared,
            url,
            stop: Some(stop),
        }
    }

    /// The query URL, what `KILN_OSV_URL` is set to.
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// Every query received, in order.
    pub fn queries(&self) -> Vec<Value> {
        self.shared.queries.lock().unwrap().clone()
    }
}

impl Drop for FakeOsv {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// pip-audit posts the query without a content type, as OSV accepts: the body is read as
/// JSON whatever the header says.
async fn query(State(s): State<Arc<Shared>>, body: axum::body::Bytes) -> Json<Value> {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    s.queries.lock().unwrap().push(body.clone());
    let name = body["package"]["name"].as_str().unwrap_or_default();
    let version = body["version"].as_str().unwrap_or_default();
    let ecosystem = body["package"]["ecosystem"].as_str().unwrap_or_default();
    let vulns: Vec<Value> = s
        .advisories
        .iter()
        .filter(|a| ecosystem == "PyPI" && a.package == name && a.version == version)
        .map(|a| {
            json!({
                "schema_version": "1.6.0",
                "id": a.id,
                "summary": a.summary,
                "aliases": [],
                "published": "2026-01-02T03:04:05Z",
                "affected": [{
                    "package": {"name": a.package, "ecosystem": "PyPI"},
                    "ranges": [{
                        "type": "ECOSYSTEM",
                        "events": [{"introduced": "0"}, {"fixed": a.fixed}],
                    }],
                }],
            })
        })
        .collect();
    // OSV answers an empty object when it knows nothing of the release.
    Json(if vulns.is_empty() {
        json!({})
    } else {
        json!({ "vulns": vulns })
    })
}
