//! The review's tools over a version (ruff, bandit, and pip-audit on its pinned requirements):
//! the script both test runners run (`review.sh`: locally in the shared virtualenv, on AWS in
//! a build of the test CodeBuild project), and what the tools' output means as findings. A
//! tool that did not run, or a vulnerability database that could not be reached, is a finding
//! too: a review never passes silently for want of a tool.

use serde_json::Value;

use crate::model::{Finding, Severity};

/// The script that runs the tools in a project's directory, writing to `$KILN_REVIEW_OUT`.
pub const REVIEW_SCRIPT: &str = include_str!("review.sh");

/// Where the runners put the script (and, on AWS, the tools' requirements) beside a version's
/// files: a directory no generated project has.
pub const REVIEW_DIR: &str = ".kiln";

/// What the tools leave in `$KILN_REVIEW_OUT`.
pub const OUTPUTS: [&str; 4] = [
    "ruff.json",
    "bandit.json",
    "pip-audit.json",
    "pip-audit.log",
];

/// What the tools wrote, by the names of [`OUTPUTS`]; a missing output is `None`.
#[derive(Debug, Clone, Default)]
pub struct ToolOutputs {
    /// `ruff check --output-format json`.
    pub ruff: Option<Vec<u8>>,
    /// `bandit --format json`.
    pub bandit: Option<Vec<u8>>,
    /// `pip-audit --format json`.
    pub pip_audit: Option<Vec<u8>>,
    /// What pip-audit said on its way (why it failed, when it did).
    pub pip_audit_log: Option<Vec<u8>>,
}

impl ToolOutputs {
    /// Sets the output named `name` (one of [`OUTPUTS`]).
    pub fn set(&mut self, name: &str, bytes: Option<Vec<u8>>) {
        match name {
            "ruff.json" => self.ruff = bytes,
            "bandit.json" => self.bandit = bytes,
            "pip-audit.json" => self.pip_audit = bytes,
            "pip-audit.log" => self.pip_audit_log = bytes,
            _ => {}
        }
    }
}

/// Every finding of the tools' outputs; `paths` are the version's files, which name a tool's
/// file (an absolute path where it ran) by the path inside the project.
pub fn findings(outputs: &ToolOutputs, paths: &[String]) -> Vec<Finding> {
    let mut found = Vec::new();
    found.extend(ruff(outputs.ruff.as_deref(), paths));
    found.extend(bandit(outputs.bandit.as_deref(), paths));
    found.extend(pip_audit(
        outputs.pip_audit.as_deref(),
        outputs.pip_audit_log.as_deref(),
    ));
    found
}

/// The project's path of a file a tool named: the version's path it ends with (the longest),
/// or the name as given.
fn relative(name: &str, paths: &[String]) -> String {
    let name = name.trim_start_matches("./");
    paths
        .iter()
        .filter(|p| name == p.as_str() || name.ends_with(&format!("/{p}")))
        .max_by_key(|p| p.len())
        .cloned()
        .unwrap_or_else(|| name.to_owned())
}

/// Names the files of findings by the version's `paths` (a tool names them by where it ran).
pub fn name_files(findings: &mut [Finding], paths: &[String]) {
    for f in findings.iter_mut().filter(|f| !f.file.is_empty()) {
        f.file = relative(&f.file, paths);
    }
}

fn json(bytes: Option<&[u8]>) -> Option<Value> {
    bytes
        .filter(|b| !b.iter().all(u8::is_ascii_whitespace))
        .and_then(|b| serde_json::from_slice(b).ok())
}

fn did_not_run(tool: &str, why: &str) -> Finding {
    Finding::new(
        "",
        0,
        &format!("{tool}/did-not-run"),
        Severity::Medium,
        format!("{tool} did not run, so its checks were not made: {why}"),
        "review the version again (say \"build it\"); if it keeps failing, the runner's \
         environment lacks the tool",
    )
}

fn ruff(bytes: Option<&[u8]>, paths: &[String]) -> Vec<Finding> {
    let Some(Value::Array(items)) = json(bytes) else {
        return vec![did_not_run("ruff", "it wrote no report")];
    };
    items
        .iter()
        .map(|i| {
            let code = i["code"].as_str().unwrap_or("syntax");
            // Pyflakes (F: undefined names, unused imports), syntax errors and ruff's own
            // security rules (S) may break or expose the app; the rest is style.
            let severity =
                if code.starts_with('F') || code.starts_with("E9") || code.starts_with('S') {
                    Severity::Medium
                } else {
                    Severity::Low
                };
            let fix = i["fix"]["message"]
                .as_str()
                .map(|m| format!("{m} (ruff check --fix)"))
                .or_else(|| i["url"].as_str().map(|u| format!("see {u}")))
                .unwrap_or_else(|| "see ruff's documentation of the rule".into());
            Finding::new(
                &relative(i["filename"].as_str().unwrap_or(""), paths),
                i["location"]["row"].as_u64().unwrap_or(0) as u32,
                &format!("ruff/{code}"),
                severity,
                i["message"].as_str().unwrap_or(""),
                fix,
            )
        })
        .collect()
}

fn bandit(bytes: Option<&[u8]>, paths: &[String]) -> Vec<Finding> {
    let Some(report) = json(bytes).filter(|r| r["results"].is_array()) else {
        return vec![did_not_run("bandit", "it wrote no report")];
    };
    let mut found: Vec<Finding> = report["results"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            let confident = r["issue_confidence"].as_str() != Some("LOW");
            let severity = match r["issue_severity"].as_str() {
                Some("HIGH") if confident => Severity::High,
                Some("HIGH") | Some("MEDIUM") => Severity::Medium,
                _ => Severity::Low,
            };
            let id = r["test_id"].as_str().unwrap_or("B000");
            let fix = match r["more_info"].as_str() {
                Some(url) => format!("see {url}"),
                None => "see bandit's documentation of the test".into(),
            };
            Finding::new(
                &relative(r["filename"].as_str().unwrap_or(""), paths),
                r["line_number"].as_u64().unwrap_or(0) as u32,
                &format!("bandit/{id}"),
                severity,
                r["issue_text"].as_str().unwrap_or(""),
                fix,
            )
        })
        .collect();
    for e in report["errors"].as_array().into_iter().flatten() {
        found.push(Finding::new(
            &relative(e["filename"].as_str().unwrap_or(""), paths),
            0,
            "bandit/error",
            Severity::Medium,
            format!(
                "bandit could not read the file: {}",
                e["reason"].as_str().unwrap_or("")
            ),
            "make the file valid Python",
        ));
    }
    found
}

fn pip_audit(bytes: Option<&[u8]>, log: Option<&[u8]>) -> Vec<Finding> {
    let Some(report) = json(bytes).filter(|r| r["dependencies"].is_array()) else {
        let said = String::from_utf8_lossy(log.unwrap_or_default());
        let last = said
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("no output");
        let last: String = last.chars().take(300).collect();
        return vec![Finding::new(
            "requirements.txt",
            0,
            "pip-audit/unreachable",
            Severity::Medium,
            format!(
                "the vulnerability database was unreachable (or pip-audit failed), so the \
                 pinned requirements were not checked for known vulnerabilities: {last}"
            ),
            "review the version again when the database (OSV) can be reached",
        )];
    };
    let mut found = Vec::new();
    for dep in report["dependencies"].as_array().into_iter().flatten() {
        let name = dep["name"].as_str().unwrap_or("?");
        let version = dep["version"].as_str().unwrap_or("?");
        if let Some(why) = dep["skip_reason"].as_str() {
            found.push(Finding::new(
                "requirements.txt",
                0,
                "pip-audit/skipped",
                Severity::Medium,
                format!("{name} was not checked: {why}"),
                format!("pin {name} to one version (name==version)"),
            ));
        }
        for v in dep["vulns"].as_array().into_iter().flatten() {
            let id = v["id"].as_str().unwrap_or("?");
            let fixes: Vec<&str> = v["fix_versions"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            let description = v["description"].as_str().unwrap_or("");
            found.push(Finding::new(
                "requirements.txt",
                0,
                &format!("pip-audit/{id}"),
                Severity::High,
                format!("{name}=={version} has a known vulnerability, {id}: {description}"),
                match fixes.first() {
                    Some(fix) => format!("pin {name}=={fix} or later (fixed in {})", fixes.join(", ")),
                    None => format!(
                        "no fixed release of {name} yet: replace it, or deploy anyway knowing the risk"
                    ),
                },
            ));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths() -> Vec<String> {
        ["app/main.py", "main.py", "requirements.txt"]
            .map(String::from)
            .to_vec()
    }

    #[test]
    fn files_are_named_by_the_version_s_paths() {
        let mut found = vec![
            Finding::new(
                "/codebuild/output/src1/src/app/main.py",
                1,
                "r",
                Severity::Low,
                "",
                "",
            ),
            Finding::new(
                "/codebuild/output/src1/src/main.py",
                1,
                "r",
                Severity::Low,
                "",
                "",
            ),
            Finding::new("/elsewhere/other.py", 1, "r", Severity::Low, "", ""),
        ];
        name_files(&mut found, &paths());
        let names: Vec<&str> = found.iter().map(|f| f.file.as_str()).collect();
        assert_eq!(names, ["app/main.py", "main.py", "/elsewhere/other.py"]);
    }

    #[test]
    fn missing_or_broken_outputs_are_findings_not_passes() {
        let found = findings(
            &ToolOutputs {
                ruff: Some(b"".to_vec()),
                bandit: Some(b"{not json".to_vec()),
                pip_audit: None,
                pip_audit_log: Some(
                    b"Traceback\nrequests.exceptions.ConnectionError: Max retries exceeded\n"
                        .to_vec(),
                ),
            },
            &paths(),
        );
        let rules: Vec<&str> = found.iter().map(|f| f.rule.as_str()).collect();
        assert_eq!(
            rules,
            [
                "ruff/did-not-run",
                "bandit/did-not-run",
                "pip-audit/unreachable"
            ]
        );
        assert!(found[2]
            .message
            .contains("ConnectionError: Max retries exceeded"));
        assert!(found.iter().all(|f| f.severity == Severity::Medium));
    }

    #[test]
    fn each_tool_s_report_is_read() {
        let ruff = br#"[{"code":"F401","filename":"/codebuild/src/app/main.py","location":{"row":3,"column":1},"message":"`os` imported but unused","fix":{"message":"Remove unused import"},"url":"https://docs.astral.sh/ruff/rules/unused-import"},
                        {"code":"E501","filename":"/tmp/x/main.py","location":{"row":9,"column":1},"message":"Line too long","fix":null,"url":"https://docs.astral.sh/ruff/rules/line-too-long"}]"#;
        let bandit = br#"{"errors":[],"results":[{"filename":"./app/main.py","line_number":4,"test_id":"B602","issue_severity":"HIGH","issue_confidence":"HIGH","issue_text":"subprocess call with shell=True","more_info":"https://bandit.example/b602"},
                          {"filename":"./app/main.py","line_number":1,"test_id":"B404","issue_severity":"LOW","issue_confidence":"HIGH","issue_text":"subprocess module"},
                          {"filename":"./app/main.py","line_number":7,"test_id":"B608","issue_severity":"HIGH","issue_confidence":"LOW","issue_text":"possible SQL injection"}]}"#;
        let audit = br#"{"dependencies":[{"name":"fastapi","version":"0.165.0","vulns":[]},{"name":"pyjwt","version":"2.15.1","vulns":[{"id":"GHSA-xxxx","fix_versions":["2.15.2"],"aliases":["CVE-2099-1"],"description":"forged tokens"}]}],"fixes":[]}"#;
        let found = findings(
            &ToolOutputs {
                ruff: Some(ruff.to_vec()),
                bandit: Some(bandit.to_vec()),
                pip_audit: Some(audit.to_vec()),
                pip_audit_log: None,
            },
            &paths(),
        );
        let seen: Vec<(&str, u32, &str, Severity)> = found
            .iter()
            .map(|f| (f.file.as_str(), f.line, f.rule.as_str(), f.severity))
            .collect();
        assert_eq!(
            seen,
            [
                ("app/main.py", 3, "ruff/F401", Severity::Medium),
                ("main.py", 9, "ruff/E501", Severity::Low),
                ("app/main.py", 4, "bandit/B602", Severity::High),
                ("app/main.py", 1, "bandit/B404", Severity::Low),
                ("app/main.py", 7, "bandit/B608", Severity::Medium),
                ("requirements.txt", 0, "pip-audit/GHSA-xxxx", Severity::High),
            ]
        );
        assert_eq!(found[0].fix, "Remove unused import (ruff check --fix)");
        assert!(found[5].fix.contains("pyjwt==2.15.2"), "{}", found[5].fix);
    }
}
