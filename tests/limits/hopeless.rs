//! The test runner of the limits' tests: a suite that fails as badly as a suite can, and a
//! review that finds everything.

use async_trait::async_trait;
use kiln::model::{Finding, Severity, TestFailure, TestReport};
use kiln::runner::{File, ReviewStatus, RunnerError, TestJob, TestRunner, TestStatus};
use uuid::Uuid;

/// A suite that fails as badly as a suite can: every test, with messages and names far over
/// any sensible length, made of characters JSON escapes to six bytes each.
pub struct Hopeless;

#[async_trait]
impl TestRunner for Hopeless {
    async fn needs_environment(&self) -> bool {
        false
    }
    async fn prepare_environment(&self) -> Result<String, RunnerError> {
        Ok("none needed".into())
    }
    async fn start(&self, _: Uuid, _: u32, _: Vec<File>, _: Uuid) -> Result<TestJob, RunnerError> {
        Ok(TestJob {
            id: "hopeless".into(),
        })
    }
    async fn poll(&self, _: &TestJob) -> Result<TestStatus, RunnerError> {
        let escaped = "\u{7}".repeat(20_000);
        Ok(TestStatus::Finished(TestReport {
            failed: 3_000,
            failures: (0..3_000)
                .map(|i| TestFailure {
                    name: format!("tests/test_{i}.py::{escaped}"),
                    message: escaped.clone(),
                    cause: Some(kiln::model::FailureCause {
                        exception: "E".repeat(100),
                        file: "f".repeat(300),
                        line: u32::MAX,
                        files: vec!["f".repeat(300); kiln::model::MAX_CAUSE_FILES],
                    }),
                })
                .collect(),
            output_tail: escaped.repeat(5),
            ..TestReport::default()
        }))
    }
    async fn start_review(
        &self,
        _: Uuid,
        _: u32,
        _: Vec<File>,
        _: Uuid,
    ) -> Result<TestJob, RunnerError> {
        Ok(TestJob {
            id: "hopeless".into(),
        })
    }
    /// A linter's worst day: 30,000 findings, a third of them high, each far over every limit.
    async fn poll_review(&self, _: &TestJob) -> Result<ReviewStatus, RunnerError> {
        let escaped = "\u{7}".repeat(5_000);
        Ok(ReviewStatus::Finished(
            (0..30_000)
                .map(|i| Finding {
                    file: format!("app/{escaped}_{i}.py"),
                    line: i,
                    rule: format!("ruff/{escaped}"),
                    severity: if i % 3 == 0 {
                        Severity::High
                    } else {
                        Severity::Low
                    },
                    message: escaped.clone(),
                    fix: escaped.clone(),
                })
                .collect(),
        ))
    }
}
