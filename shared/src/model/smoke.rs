//! What QA found when it called a live deployment: the smoke test (every endpoint once, with
//! valid data) and the bounded load test after it.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The smoke test of one deployment: every endpoint called once with valid data.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SmokeReport {
    /// Whether every call answered as documented.
    pub passed: bool,
    /// Calls made.
    pub calls: u32,
    /// The calls that did not answer as documented, in the order made.
    pub failures: Vec<SmokeFailure>,
}

/// One call of a smoke test that did not answer as documented.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SmokeFailure {
    /// HTTP method.
    pub method: String,
    /// The path called (with the record's id), relative to the app's URL.
    pub path: String,
    /// The status it answered, if it answered.
    pub status: Option<u16>,
    /// What was wrong, shortened.
    pub problem: String,
}

/// A bounded load test of one deployment's safe endpoints (`GET` only).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LoadReport {
    /// Requests that got an answer or an error (at most the number asked for; fewer when the
    /// time bound ended the test first).
    pub requests: u32,
    /// Connections used at once.
    pub concurrency: u32,
    /// How long the test ran, in milliseconds.
    pub duration_ms: u64,
    /// Requests per second over the test.
    pub rps: f64,
    /// Median latency, in milliseconds.
    pub p50_ms: f64,
    /// 95th percentile latency, in milliseconds.
    pub p95_ms: f64,
    /// 99th percentile latency, in milliseconds.
    pub p99_ms: f64,
    /// Requests that failed (no answer, or a status of 400 or more).
    pub errors: u32,
    /// `errors / requests` (0 when nothing was sent).
    pub error_rate: f64,
    /// How many requests took how long, in ascending buckets.
    pub histogram: Vec<LatencyBucket>,
}

/// One bucket of a latency histogram.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LatencyBucket {
    /// The bucket's upper bound in milliseconds (inclusive); `None` for the last, open one.
    pub le_ms: Option<f64>,
    /// Requests that took at most `le_ms` and more than the bucket before's bound.
    pub count: u32,
}
