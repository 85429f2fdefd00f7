//! Secrets in code: credentials recognised by their own shape (an AWS access key id, a PEM
//! private key, a GitHub or Slack token) in any text file, and literals assigned to names that
//! hold secrets (`password = "…"`, `"api_key": "…"`) in code.

use std::sync::LazyLock;

use regex::Regex;

use super::{line_of, without_comment};
use crate::model::{Finding, Severity};

/// Credentials by their shape: (rule, pattern, what it is).
static SHAPES: LazyLock<Vec<(&'static str, Regex, &'static str)>> = LazyLock::new(|| {
    vec![
        (
            "kiln/aws-access-key",
            Regex::new(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b").expect("pattern"),
            "an AWS access key id",
        ),
        (
            "kiln/private-key",
            Regex::new(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----").expect("pattern"),
            "a private key",
        ),
        (
            "kiln/secret-token",
            Regex::new(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|xox[abposr]-[A-Za-z0-9-]{10,})")
                .expect("pattern"),
            "an access token (GitHub or Slack)",
        ),
    ]
});

/// Names that hold secrets: the whole name, or its last words after `_`.
const SECRET_NAMES: &str = r"(?:[A-Za-z0-9]+_)*(?:password|passwd|pwd|secret|secret_key|api_key|apikey|access_key|private_key|client_secret|auth_token|access_token|api_token|jwt_secret|signing_key)";

/// `name = "literal"` (also `name: str = "literal"`) and `"name": "literal"`.
static ASSIGNMENTS: LazyLock<[Regex; 2]> = LazyLock::new(|| {
    [
        Regex::new(&format!(
            r#"(?i)\b({SECRET_NAMES})\s*(?::\s*[A-Za-z_\[\]|. ]+)?=\s*[bru]*(["'])([^"'\n]*)["']"#
        ))
        .expect("pattern"),
        Regex::new(&format!(
            r#"(?i)["']({SECRET_NAMES})["']\s*:\s*[bru]*(["'])([^"'\n]*)["']"#
        ))
        .expect("pattern"),
    ]
});

/// Credentials recognised by their shape, anywhere in the file.
pub(super) fn credentials(path: &str, text: &str) -> Vec<Finding> {
    let mut found = Vec::new();
    for (rule, pattern, what) in SHAPES.iter() {
        for m in pattern.find_iter(text) {
            found.push(Finding::new(
                path,
                line_of(text, m.start()),
                rule,
                Severity::High,
                format!("{what} is written into the code"),
                "revoke it, remove it from the code, and read it from the environment or a \
                 secrets manager at run time",
            ));
        }
    }
    found
}

/// Literals assigned to names that hold secrets, in code (comments are not code).
pub(super) fn assignments(path: &str, text: &str) -> Vec<Finding> {
    let mut found = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let code = without_comment(line);
        for pattern in ASSIGNMENTS.iter() {
            for c in pattern.captures_iter(code) {
                let (name, value) = (&c[1], &c[3]);
                if !looks_like_a_secret(value) {
                    continue;
                }
                found.push(Finding::new(
                    path,
                    n as u32 + 1,
                    "kiln/hardcoded-secret",
                    Severity::High,
                    format!("`{name}` is given a literal value in the code"),
                    format!(
                        "read `{name}` from the environment (os.environ) or a secrets manager, \
                         and rotate the value that was committed"
                    ),
                ));
            }
        }
    }
    found
}

/// Whether a literal could be a secret: not empty, not a placeholder to fill in, not a name of
/// an environment variable or a template.
fn looks_like_a_secret(value: &str) -> bool {
    let v = value.trim();
    // A NAME_IN_CAPITALS is the variable to read it from, not the secret.
    let variable_name = v.chars().any(|c| c.is_ascii_uppercase())
        && v.chars()
            .all(|c| c.is_ascii_uppercase() || c == '_' || c.is_ascii_digit());
    let template = v.contains('{') || v.starts_with('$') || v.starts_with('<');
    v.chars().count() >= 6 && !template && !variable_name
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(found: &[Finding]) -> Vec<(String, u32)> {
        found.iter().map(|f| (f.rule.clone(), f.line)).collect()
    }

    #[test]
    fn credentials_are_found_by_their_shape() {
        let text = "x = 1\nKEY = 'AKIAIOSFODNN7EXAMPLE'\n-----BEGIN RSA PRIVATE KEY-----\nMIIE\n\
                    -----BEGIN OPENSSH PRIVATE KEY-----\ntoken: ghp_0123456789abcdefghijABCDEFGHIJ012345\n";
        assert_eq!(
            rules(&credentials("deploy/x.yaml", text)),
            [
                ("kiln/aws-access-key".into(), 2),
                ("kiln/private-key".into(), 3),
                ("kiln/private-key".into(), 5),
                ("kiln/secret-token".into(), 6),
            ]
        );
        // Public keys, short look-alikes and words are not credentials.
        let clean = "-----BEGIN PUBLIC KEY-----\nAKIA123\nakiaiosfodnn7example\nghp_short\n";
        assert!(credentials("a.txt", clean).is_empty());
    }

    #[test]
    fn literals_given_to_secret_names_are_found() {
        let text = "password = 'hunter2hunter2'\n\
                    DB_PASSWORD: str = \"s3cr3t-value\"\n\
                    settings = {\"api_key\": \"abcd1234efgh\"}\n\
                    aws_secret_access_key = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'\n\
                    jwt_secret = b'0123456789'\n";
        assert_eq!(
            rules(&assignments("app/settings.py", text)),
            [
                ("kiln/hardcoded-secret".into(), 1),
                ("kiln/hardcoded-secret".into(), 2),
                ("kiln/hardcoded-secret".into(), 3),
                ("kiln/hardcoded-secret".into(), 4),
                ("kiln/hardcoded-secret".into(), 5),
            ]
        );
    }

    #[test]
    fn reading_secrets_from_the_environment_is_not_a_finding() {
        let text = "jwt_secret: str = field(default_factory=lambda: _env(\"JWT_SECRET\"))\n\
                    password = os.environ['DB_PASSWORD']\n\
                    password = ''\n\
                    # password = 'hunter2hunter2' was the old one\n\
                    token_type = 'bearer'\n\
                    {\"password_hash\": hash_password(body.password)}\n\
                    secret = f\"{prefix}-{name}\"\n\
                    api_key = 'API_KEY'\n\
                    raise RuntimeError(\"JWT_SECRET must be set to a random string\")\n";
        let found = assignments("app/config.py", text);
        assert!(found.is_empty(), "{found:#?}");
    }
}
