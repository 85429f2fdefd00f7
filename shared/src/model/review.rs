//! What the code reviewer found in a version: findings with their file, line, rule, severity
//! and fix; the review as a reply's block; what the project keeps of it per version; and a
//! deploy that went ahead over blocking findings because the user said so.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// How much a finding matters. A `High` finding blocks a deploy until it is fixed or the
/// user says "deploy anyway".
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Worth knowing; nothing breaks.
    Low,
    /// Should be fixed; does not block.
    Medium,
    /// Blocks a deploy.
    High,
}

impl Severity {
    /// The lower-case name shown in replies.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
        }
    }
}

/// One thing the reviewer found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Finding {
    /// The file, relative to the project (`requirements.txt`, `app/main.py`); empty for a
    /// finding about the review itself (a tool that could not run).
    pub file: String,
    /// 1-based line, 0 when the finding is about the whole file.
    pub line: u32,
    /// Which check: `kiln/…` for Kiln's own, `ruff/…`, `bandit/…`, `pip-audit/…`.
    pub rule: String,
    /// How much it matters.
    pub severity: Severity,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub fix: String,
}

impl Finding {
    /// A finding of `rule` at `file:line`.
    pub fn new(
        file: &str,
        line: u32,
        rule: &str,
        severity: Severity,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Finding {
            file: file.to_owned(),
            line,
            rule: rule.to_owned(),
            severity,
            message: message.into(),
            fix: fix.into(),
        }
    }

    /// `file:line rule`, how a refusal names it.
    pub fn short(&self) -> String {
        match (self.file.as_str(), self.line) {
            ("", _) => self.rule.clone(),
            (f, 0) => format!("{f} {}", self.rule),
            (f, n) => format!("{f}:{n} {}", self.rule),
        }
    }
}

/// How many findings of each severity a review made (all of them, listed or not).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SeverityCounts {
    /// High: each blocks a deploy.
    pub high: u32,
    /// Medium.
    pub medium: u32,
    /// Low.
    pub low: u32,
}

impl SeverityCounts {
    /// The counts of `findings`.
    pub fn of(findings: &[Finding]) -> Self {
        let mut c = SeverityCounts::default();
        for f in findings {
            match f.severity {
                Severity::High => c.high += 1,
                Severity::Medium => c.medium += 1,
                Severity::Low => c.low += 1,
            }
        }
        c
    }
}

/// Most bytes a review's findings take as JSON: the review is a reply's block (a DynamoDB
/// item holds 400 KB) and its tools' findings travel in a step's answer (a Step Functions
/// state holds 256 KiB); a linter can find any number of things.
pub const MAX_REVIEW_BYTES: usize = 64 * 1024;
/// Longest message or fix kept, in characters.
pub const MAX_FINDING_TEXT_CHARS: usize = 500;
/// Longest file or rule kept, in characters.
pub const MAX_FINDING_NAME_CHARS: usize = 200;
/// How many blocking findings the project keeps per reviewed version (the refusal names them).
pub const BLOCKING_KEPT: usize = 3;
/// Longest file or rule a project keeps of a blocking finding, in characters.
pub const KEPT_NAME_CHARS: usize = 100;
/// Most bytes all of a project's review records take as JSON: they live in the project's
/// DynamoDB item beside the spec (48 KiB at most) and its design, under 400 KB in all.
pub const MAX_RECORDS_BYTES: usize = 40 * 1024;

/// A version's review: every finding, most severe first, cut to fit.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Review {
    /// The findings listed, most severe first.
    pub findings: Vec<Finding>,
    /// All findings by severity, listed or not.
    pub counts: SeverityCounts,
    /// Findings left out of `findings` to keep the review within [`MAX_REVIEW_BYTES`].
    #[serde(default)]
    pub omitted: u32,
}

impl Review {
    /// The review of `findings`: sorted most severe first (then by file and line), texts
    /// shortened, and findings kept in that order while they fit in [`MAX_REVIEW_BYTES`], the
    /// rest counted in `omitted`. The counts stay whole.
    pub fn of(mut findings: Vec<Finding>) -> Self {
        fn head(s: &str, n: usize) -> String {
            s.chars().take(n).collect()
        }
        findings.sort_by(|a, b| {
            (b.severity, &a.file, a.line, &a.rule).cmp(&(a.severity, &b.file, b.line, &b.rule))
        });
        findings.dedup();
        let mut review = Review {
            findings: Vec::new(),
            counts: SeverityCounts::of(&findings),
            omitted: 0,
        };
        // Room for the count of omitted findings to grow to ten digits.
        let mut used = json_len(&review) + 10;
        for mut f in findings {
            f.file = head(&f.file, MAX_FINDING_NAME_CHARS);
            f.rule = head(&f.rule, MAX_FINDING_NAME_CHARS);
            f.message = head(&f.message, MAX_FINDING_TEXT_CHARS);
            f.fix = head(&f.fix, MAX_FINDING_TEXT_CHARS);
            let more = json_len(&f) + 1;
            if review.omitted == 0 && used + more <= MAX_REVIEW_BYTES {
                used += more;
                review.findings.push(f);
            } else {
                review.omitted += 1;
            }
        }
        review
    }

    /// Whether nothing in it blocks a deploy.
    pub fn passed(&self) -> bool {
        self.counts.high == 0
    }
}

/// What the project keeps of one version's review (versions never change, so it lives on the
/// project): enough for a later deploy to know whether the version may go out, and to name
/// what stops it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReviewRecord {
    /// The version reviewed.
    pub version: u32,
    /// Its findings by severity.
    pub counts: SeverityCounts,
    /// The first [`BLOCKING_KEPT`] high-severity findings.
    #[serde(default)]
    pub blocking: Vec<Finding>,
}

impl ReviewRecord {
    /// How many reviews a project keeps, newest last.
    pub const KEPT: usize = 10;

    /// What a project keeps of `review`: the counts, and the first blocking findings by file,
    /// line and rule only (what a refusal names; the reply's block has the rest).
    pub fn of(version: u32, review: &Review) -> Self {
        let name = |s: &str| s.chars().take(KEPT_NAME_CHARS).collect::<String>();
        ReviewRecord {
            version,
            counts: review.counts,
            blocking: review
                .findings
                .iter()
                .filter(|f| f.severity == Severity::High)
                .take(BLOCKING_KEPT)
                .map(|f| Finding {
                    file: name(&f.file),
                    rule: name(&f.rule),
                    message: String::new(),
                    fix: String::new(),
                    ..f.clone()
                })
                .collect(),
        }
    }

    /// Whether nothing in it blocks a deploy.
    pub fn passed(&self) -> bool {
        self.counts.high == 0
    }
}

/// A deploy that went ahead over a review's blocking findings because the user said so
/// ("deploy anyway"): kept on the run and on the deployment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReviewOverride {
    /// The version deployed.
    pub version: u32,
    /// How many high-severity findings its review had.
    pub high: u32,
    /// The message that said so, as the user wrote it (cut to 200 characters).
    pub said: String,
}

/// The length of `v` as JSON.
fn json_len<T: Serialize>(v: &T) -> usize {
    serde_json::to_vec(v).map_or(usize::MAX, |b| b.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(severity: Severity, n: u32, text: &str) -> Finding {
        Finding::new("app/x.py", n, "ruff/E501", severity, text, text)
    }

    #[test]
    fn an_enormous_review_fits_and_counts_what_it_leaves_out() {
        // Characters JSON escapes to six bytes, far over every limit.
        let escaped = "\u{1}".repeat(3 * MAX_FINDING_TEXT_CHARS);
        let findings: Vec<Finding> = (0..5_000)
            .map(|n| Finding {
                file: escaped.clone(),
                rule: escaped.clone(),
                ..finding(
                    if n % 7 == 0 {
                        Severity::High
                    } else {
                        Severity::Low
                    },
                    n,
                    &escaped,
                )
            })
            .collect();
        let review = Review::of(findings);
        let bytes = serde_json::to_vec(&review).unwrap().len();
        assert!(bytes <= MAX_REVIEW_BYTES, "{bytes} bytes");
        assert_eq!(review.counts.high, 715);
        assert_eq!(review.counts.low, 4_285);
        assert_eq!(
            review.findings.len() as u32 + review.omitted,
            5_000,
            "every finding is listed or counted"
        );
        assert!(review.omitted > 0);
        // Most severe first: what is listed is what blocks.
        assert!(review.findings.iter().all(|f| f.severity == Severity::High));
        assert!(!review.passed());
        let record = ReviewRecord::of(3, &review);
        assert_eq!(record.blocking.len(), BLOCKING_KEPT);
        assert!(!record.passed());
        // As many of the largest records as a project keeps fit their budget.
        let kept = vec![record; ReviewRecord::KEPT];
        let bytes = serde_json::to_vec(&kept).unwrap().len();
        assert!(bytes <= MAX_RECORDS_BYTES, "{bytes} bytes");
    }

    #[test]
    fn a_small_review_keeps_everything_in_order() {
        let review = Review::of(vec![
            finding(Severity::Low, 9, "b"),
            finding(Severity::High, 3, "a"),
            finding(Severity::Medium, 1, "c"),
        ]);
        let order: Vec<Severity> = review.findings.iter().map(|f| f.severity).collect();
        assert_eq!(order, [Severity::High, Severity::Medium, Severity::Low]);
        assert_eq!(review.omitted, 0);
        assert_eq!(review.findings[0].short(), "app/x.py:3 ruff/E501");
    }
}
