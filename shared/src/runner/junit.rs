//! Reads pytest's JUnit XML report.

use crate::model::{TestFailure, TestReport};

/// Longest failure message kept, in characters.
const MAX_MESSAGE: usize = 2_000;

/// Parses a JUnit XML document into counts and failures.
pub fn parse(xml: &str) -> Result<TestReport, String> {
    let doc =
        roxmltree::Document::parse(xml).map_err(|e| format!("the test report is not XML: {e}"))?;
    let mut report = TestReport::default();
    let mut total = 0u32;
    for case in doc.descendants().filter(|n| n.has_tag_name("testcase")) {
        total += 1;
        let name = format!(
            "{}::{}",
            case.attribute("classname").unwrap_or_default(),
            case.attribute("name").unwrap_or_default()
        );
        let problem = case.children().find(|c| {
            c.has_tag_name("failure") || c.has_tag_name("error") || c.has_tag_name("skipped")
        });
        match problem {
            Some(p) if p.has_tag_name("skipped") => report.skipped += 1,
            Some(p) => {
                if p.has_tag_name("failure") {
                    report.failed += 1;
                } else {
                    report.errors += 1;
                }
                let message = p
                    .attribute("message")
                    .map(str::to_owned)
                    .or_else(|| p.text().map(str::to_owned))
                    .unwrap_or_default();
                report.failures.push(TestFailure {
                    name,
                    message: message.chars().take(MAX_MESSAGE).collect(),
                });
            }
            None => report.passed += 1,
        }
    }
    report.duration_secs = doc
        .descendants()
        .filter(|n| n.has_tag_name("testsuite"))
        .filter_map(|n| n.attribute("time").and_then(|t| t.parse::<f64>().ok()))
        .sum();
    if total == 0 && !doc.descendants().any(|n| n.has_tag_name("testsuite")) {
        return Err("the test report has no test suite".into());
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<testsuites name="pytest tests"><testsuite name="pytest" errors="1" failures="1" skipped="1" tests="5" time="1.25">
<testcase classname="tests.test_tasks" name="test_create" time="0.1"/>
<testcase classname="tests.test_tasks" name="test_list" time="0.1"/>
<testcase classname="tests.test_tasks" name="test_update" time="0.1"><failure message="assert 404 == 200">long traceback</failure></testcase>
<testcase classname="tests.test_auth" name="test_login" time="0.1"><error message="fixture 'db' not found">trace</error></testcase>
<testcase classname="tests.test_auth" name="test_skip" time="0.0"><skipped message="later"/></testcase>
</testsuite></testsuites>"#;

    #[test]
    fn counts_and_failures_are_read() {
        let r = parse(SAMPLE).unwrap();
        assert_eq!((r.passed, r.failed, r.errors, r.skipped), (2, 1, 1, 1));
        assert_eq!(r.duration_secs, 1.25);
        assert_eq!(r.failures[0].name, "tests.test_tasks::test_update");
        assert_eq!(r.failures[0].message, "assert 404 == 200");
        assert_eq!(r.failures[1].message, "fixture 'db' not found");
        assert!(!r.all_passed());
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(parse("not xml").is_err());
        assert!(parse("<html/>").is_err());
    }
}
