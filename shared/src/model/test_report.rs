//! What a test run found: counts, failures, and the end of its output.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The outcome of a test run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TestReport {
    /// Tests that passed.
    pub passed: u32,
    /// Tests whose assertions failed.
    pub failed: u32,
    /// Tests that raised an error.
    pub errors: u32,
    /// Tests skipped.
    pub skipped: u32,
    /// Wall time of the suite, in seconds.
    pub duration_secs: f64,
    /// Every failing or erroring test with its message.
    pub failures: Vec<TestFailure>,
    /// Whether the suite was stopped at the time limit.
    pub timed_out: bool,
    /// The end of pytest's output, for when there is no report to read.
    pub output_tail: String,
}

impl TestReport {
    /// Whether every test ran and passed.
    pub fn all_passed(&self) -> bool {
        !self.timed_out && self.failed == 0 && self.errors == 0 && self.passed > 0
    }
}

/// One failing test.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TestFailure {
    /// `file::test_name`.
    pub name: String,
    /// The failure's message.
    pub message: String,
}
