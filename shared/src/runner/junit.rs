//! Reads pytest's JUnit XML report.

use crate::model::{FailureCause, TestFailure, TestReport, MAX_CAUSE_FILES};

/// Longest failure message kept, in characters.
const MAX_MESSAGE: usize = 2_000;
/// Longest path a failure's cause names, in bytes.
const MAX_PATH: usize = 300;

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
                let cause = p.text().and_then(|t| cause_of(t, &message));
                report.failures.push(TestFailure {
                    name,
                    message: message.chars().take(MAX_MESSAGE).collect(),
                    cause,
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

/// Where a failure's exception came from, read from pytest's traceback: each frame's
/// location line (`path.py:line: …`); the last names the file and line that raised, and, in
/// the formats pytest writes, the exception's type (else the message's `Type: …` prefix).
/// Only the project's own files count (relative paths; installed packages are absolute).
pub fn cause_of(traceback: &str, message: &str) -> Option<FailureCause> {
    let mut frames: Vec<(&str, u32, &str)> = Vec::new();
    for line in traceback.lines() {
        let Some((path, rest)) = line.split_once(".py:") else {
            continue;
        };
        let Some((number, tail)) = rest.split_once(':') else {
            continue;
        };
        let (Ok(number), false) = (number.parse::<u32>(), path.is_empty()) else {
            continue;
        };
        let path = &line[..path.len() + 3];
        if path.starts_with('/')
            || path.len() > MAX_PATH
            || path.contains(|c: char| c.is_whitespace() || c.is_control())
            || path.contains("..")
        {
            continue;
        }
        frames.push((path, number, tail.trim()));
    }
    let (file, line, tail) = *frames.last()?;
    let identifier = |t: &str| {
        !t.is_empty()
            && t.len() <= 100
            && t.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
    };
    let exception = if identifier(tail) {
        tail.to_owned()
    } else {
        message
            .split_once(':')
            .map(|(t, _)| t.trim())
            .filter(|t| identifier(t))?
            .to_owned()
    };
    let mut files: Vec<String> = Vec::new();
    for (path, _, _) in &frames {
        if !files.iter().any(|f| f == path) && files.len() < MAX_CAUSE_FILES {
            files.push((*path).to_owned());
        }
    }
    Some(FailureCause {
        exception,
        file: file.to_owned(),
        line,
        files,
    })
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

    /// What pytest 8 wrote with `--junitxml` for a small project of two failing tests (one
    /// assertion in the test, one `KeyError` raised in `app/logic.py`), kept as written.
    const PYTEST: &str = include_str!("testdata/pytest_junit_failures.xml");

    #[test]
    fn a_failure_names_what_raised_it_and_where() {
        let r = parse(PYTEST).unwrap();
        assert_eq!((r.passed, r.failed), (1, 2));
        assert_eq!(
            r.failures[0].cause,
            Some(FailureCause {
                exception: "AssertionError".into(),
                file: "tests/test_logic.py".into(),
                line: 5,
                files: vec!["tests/test_logic.py".into()],
            })
        );
        assert_eq!(
            r.failures[1].cause,
            Some(FailureCause {
                exception: "KeyError".into(),
                file: "app/logic.py".into(),
                line: 6,
                files: vec!["tests/test_logic.py".into(), "app/logic.py".into()],
            })
        );
        // Without a traceback there is no cause; installed packages' frames are not the
        // project's.
        assert_eq!(parse(SAMPLE).unwrap().failures[0].cause, None);
        let deep = "tests/test_a.py:3: \n/usr/lib/python3/site-packages/x.py:9: in f\napp/b.py:4: ValueError";
        let cause = cause_of(deep, "ValueError: no").unwrap();
        assert_eq!(cause.files, ["tests/test_a.py", "app/b.py"]);
        let untyped = cause_of("tests/test_a.py:3: ", "TypeError: bad operand").unwrap();
        assert_eq!((untyped.exception.as_str(), untyped.line), ("TypeError", 3));
        assert_eq!(cause_of("tests/test_a.py:3: ", "assert 1 == 2"), None);
    }

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
