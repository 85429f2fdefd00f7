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
    /// Failing tests left out of `failures` to keep the report within [`MAX_REPORT_BYTES`].
    #[serde(default)]
    pub omitted_failures: u32,
}

/// The length of `v` as JSON.
fn json_len<T: Serialize>(v: &T) -> usize {
    serde_json::to_vec(v).map_or(usize::MAX, |b| b.len())
}

/// Most bytes a report takes as JSON: it travels in the pipeline's state (Step Functions
/// allows 256 KiB per state) and in a reply's block (DynamoDB allows 400 KB per item), and a
/// suite can fail any number of tests with messages of any length.
pub const MAX_REPORT_BYTES: usize = 64 * 1024;
/// Longest test name kept, in characters.
pub const MAX_NAME_CHARS: usize = 300;
/// Longest failure message kept, in characters.
pub const MAX_MESSAGE_CHARS: usize = 2_000;
/// Longest output tail kept, in characters.
pub const MAX_TAIL_CHARS: usize = 4_000;

impl TestReport {
    /// The report cut to fit [`MAX_REPORT_BYTES`]: names, messages and the output tail
    /// shortened (the tail keeps its end), then failures kept in order while they fit, the
    /// rest counted in `omitted_failures`. The counts stay whole.
    pub fn fitted(mut self) -> Self {
        fn head(s: &str, n: usize) -> String {
            s.chars().take(n).collect()
        }
        let tail_start = self
            .output_tail
            .chars()
            .count()
            .saturating_sub(MAX_TAIL_CHARS);
        self.output_tail = self.output_tail.chars().skip(tail_start).collect();
        let failures = std::mem::take(&mut self.failures);
        // Room for the count of omitted failures to grow to ten digits.
        let mut used = json_len(&self) + 10;
        for mut f in failures {
            f.name = head(&f.name, MAX_NAME_CHARS);
            f.message = head(&f.message, MAX_MESSAGE_CHARS);
            let more = json_len(&f) + 1;
            if self.omitted_failures == 0 && used + more <= MAX_REPORT_BYTES {
                used += more;
                self.failures.push(f);
            } else {
                self.omitted_failures += 1;
            }
        }
        self
    }

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
    /// What raised it and where, read from the traceback.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<FailureCause>,
}

/// Where a failing test's exception came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FailureCause {
    /// The exception's type, e.g. `AssertionError`, `KeyError`.
    pub exception: String,
    /// The project file the exception was raised in.
    pub file: String,
    /// Its line, from 1.
    pub line: u32,
    /// The project files of the traceback, outermost first (at most [`MAX_CAUSE_FILES`]).
    pub files: Vec<String>,
}

/// Most files a [`FailureCause`] names.
pub const MAX_CAUSE_FILES: usize = 10;

impl TestFailure {
    /// What identifies this failure across runs: the test, the exception's type and its
    /// message, normalised (memory addresses, UUIDs and white space runs made alike, cut to 300
    /// characters), so a repair that fails the same way is seen to.
    pub fn signature(&self) -> String {
        let exception = self
            .cause
            .as_ref()
            .map(|c| c.exception.as_str())
            .unwrap_or_default();
        format!("{}|{exception}|{}", self.name, normalised(&self.message))
    }
}

/// `message` with what changes from run to run made alike.
fn normalised(message: &str) -> String {
    let mut out = String::new();
    for word in message.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&normalised_word(word));
    }
    out.chars().take(300).collect()
}

fn normalised_word(word: &str) -> String {
    let mut out = String::new();
    let mut rest = word;
    while !rest.is_empty() {
        if let Some(hex) = rest.strip_prefix("0x") {
            let n = hex.chars().take_while(char::is_ascii_hexdigit).count();
            if n > 0 {
                out.push_str("0x…");
                rest = &hex[n..];
                continue;
            }
        }
        if rest.len() >= 36 && uuid::Uuid::try_parse(&rest[..36]).is_ok() {
            out.push_str("<uuid>");
            rest = &rest[36..];
            continue;
        }
        let c = rest.chars().next().expect("not empty");
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The largest report a suite can produce: more failures than anyone reads, each with a
    /// name and message far over the limits, made of characters JSON escapes to six bytes.
    fn enormous() -> TestReport {
        let escaped = "\u{1}".repeat(3 * MAX_MESSAGE_CHARS);
        TestReport {
            passed: 3,
            failed: 5_000,
            errors: 5,
            duration_secs: 12.5,
            failures: (0..5_005)
                .map(|i| TestFailure {
                    name: format!("tests/test_{i}.py::{escaped}"),
                    message: escaped.clone(),
                    cause: None,
                })
                .collect(),
            output_tail: format!("{escaped}{escaped}the end"),
            ..TestReport::default()
        }
    }

    #[test]
    fn a_fitted_report_stays_within_its_bytes_and_keeps_its_counts() {
        let fitted = enormous().fitted();
        let bytes = serde_json::to_vec(&fitted).unwrap().len();
        assert!(bytes <= MAX_REPORT_BYTES, "{bytes} bytes");
        assert_eq!((fitted.passed, fitted.failed, fitted.errors), (3, 5_000, 5));
        assert!(!fitted.failures.is_empty(), "the first failures are kept");
        assert_eq!(
            fitted.failures.len() as u32 + fitted.omitted_failures,
            5_005,
            "every failure is kept or counted"
        );
        assert!(fitted.failures[0].name.starts_with("tests/test_0.py::"));
        assert!(fitted
            .failures
            .iter()
            .all(|f| f.name.chars().count() <= MAX_NAME_CHARS
                && f.message.chars().count() <= MAX_MESSAGE_CHARS));
        assert!(
            fitted.output_tail.ends_with("the end"),
            "the tail keeps the end"
        );
        assert!(fitted.output_tail.chars().count() <= MAX_TAIL_CHARS);
    }

    #[test]
    fn signatures_tell_failures_apart_and_ignore_what_changes_between_runs() {
        let failure = |name: &str, message: &str, exception: &str| TestFailure {
            name: name.into(),
            message: message.into(),
            cause: Some(FailureCause {
                exception: exception.into(),
                file: "app/x.py".into(),
                line: 3,
                files: vec!["app/x.py".into()],
            }),
        };
        let a = failure(
            "tests.test_a::test_b",
            "AssertionError: <Task object at 0x7f3a9c2b1d90> id 0192e0c4-5a1b-7c3d-8e9f-0a1b2c3d4e5f",
            "AssertionError",
        );
        let again = failure(
            "tests.test_a::test_b",
            "AssertionError:  <Task object at 0x55d1e2f3a4b0>\n id 0192e0c4-ffff-7c3d-8e9f-0a1b2c3d4e5f",
            "AssertionError",
        );
        assert_eq!(a.signature(), again.signature());
        let other_test = failure("tests.test_a::test_c", &a.message, "AssertionError");
        let other_value = failure(
            "tests.test_a::test_b",
            "AssertionError: assert 404 == 200",
            "AssertionError",
        );
        let other_type = failure("tests.test_a::test_b", &a.message, "KeyError");
        for other in [other_test, other_value, other_type] {
            assert_ne!(a.signature(), other.signature(), "{other:?}");
        }
        assert_eq!(normalised("é 0x 0xzz x"), "é 0x 0xzz x");
    }

    #[test]
    fn a_report_that_fits_is_left_as_it_is() {
        let small = TestReport {
            passed: 2,
            failed: 1,
            failures: vec![TestFailure {
                name: "tests/test_a.py::test_b".into(),
                message: "assert 1 == 2".into(),
                cause: None,
            }],
            output_tail: "1 failed, 2 passed".into(),
            ..TestReport::default()
        };
        assert_eq!(small.clone().fitted(), small);
    }
}
