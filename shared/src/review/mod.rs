//! Kiln's own review of a version's files: the checks no general tool makes about a generated
//! FastAPI project (the runners add ruff's, bandit's and pip-audit's findings).
//!
//! Each check reads the files as text and reports [`Finding`]s with the file, the line, the
//! rule, its severity and how to fix it:
//!
//! | rule | severity | what |
//! |---|---|---|
//! | `kiln/aws-access-key`, `kiln/private-key`, `kiln/secret-token` | high | a credential's own shape, in any text file (tests too: a real key in a test is still leaked) |
//! | `kiln/hardcoded-secret` | high | `password = "…"`, `"api_key": "…"` and the like in code outside `tests/` (test fixtures are not secrets) |
//! | `kiln/debug` | high | `debug=True` outside `tests/`: tracebacks to every caller |
//! | `kiln/reload` | medium | `reload=True` or `--reload`: a development server in production |
//! | `kiln/cors-credentials` | high | `CORSMiddleware` allowing every origin (`["*"]`, `".*"`) with credentials |
//! | `kiln/missing-auth` | high | with authentication on, a router under `app/routers/` whose routes do not depend on `current_account` |
//! | `kiln/unpinned-requirement` | medium | a line of a `requirements*.txt` that is not `name==version` (pip-audit cannot audit it, and builds drift) |
//!
//! Files that are not UTF-8 text, or larger than [`MAX_FILE_BYTES`], are not read.

mod code;
mod requirements;
mod secrets;

use crate::model::Finding;

/// Largest file the checks read.
pub const MAX_FILE_BYTES: usize = 1024 * 1024;

/// What the checks need to know of the app beyond its files.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReviewContext {
    /// Whether the spec turns authentication on: then every resource's router must require it.
    pub auth: bool,
}

/// Every finding of Kiln's own checks over `files` (`(path, bytes)`), in file order.
pub fn own_checks(files: &[(String, Vec<u8>)], context: ReviewContext) -> Vec<Finding> {
    let mut findings = Vec::new();
    for (path, bytes) in files {
        if bytes.len() > MAX_FILE_BYTES {
            continue;
        }
        let Ok(text) = std::str::from_utf8(bytes) else {
            continue;
        };
        let in_tests = path.starts_with("tests/") || path.contains("/tests/");
        findings.extend(secrets::credentials(path, text));
        if path.ends_with(".py") {
            if !in_tests {
                findings.extend(secrets::assignments(path, text));
                findings.extend(code::debug_settings(path, text));
            }
            findings.extend(code::wildcard_cors(path, text));
            if context.auth && is_router(path) {
                findings.extend(code::missing_auth(path, text));
            }
        } else if is_launcher(path) {
            findings.extend(code::reload_flags(path, text));
        }
        if is_requirements(path) {
            findings.extend(requirements::unpinned(path, text));
        }
    }
    findings
}

/// A resource's router: `app/routers/<name>.py`.
fn is_router(path: &str) -> bool {
    path.strip_prefix("app/routers/")
        .is_some_and(|name| !name.contains('/') && name != "__init__.py")
}

/// Files that start the server: where `--reload` would run a development server.
fn is_launcher(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    name == "Dockerfile" || name == "Procfile" || name.ends_with(".sh")
}

/// `requirements.txt`, `requirements-dev.txt`, anywhere.
fn is_requirements(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    name.starts_with("requirements") && name.ends_with(".txt")
}

/// The code of a Python line without its comment (a `#` outside a string literal).
pub(crate) fn without_comment(line: &str) -> &str {
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        match quote {
            Some(_) if escaped => escaped = false,
            Some(_) if c == '\\' => escaped = true,
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '"' || c == '\'' => quote = Some(c),
            None if c == '#' => return &line[..i],
            None => {}
        }
    }
    line
}

/// The code of a Python line with its comment cut and its string literals blanked: what the
/// line does, not what it says.
pub(crate) fn outside_strings(line: &str) -> String {
    let mut quote: Option<char> = None;
    let mut escaped = false;
    let mut out = String::with_capacity(line.len());
    for c in without_comment(line).chars() {
        let inside = quote.is_some();
        match quote {
            Some(_) if escaped => escaped = false,
            Some(_) if c == '\\' => escaped = true,
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '"' || c == '\'' => quote = Some(c),
            None => {}
        }
        // Still inside after the character: it is part of the literal, not its quote.
        out.push(if inside && quote.is_some() { ' ' } else { c });
    }
    out
}

/// The 1-based line of byte offset `at` in `text`.
pub(crate) fn line_of(text: &str, at: usize) -> u32 {
    text[..at.min(text.len())].matches('\n').count() as u32 + 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Severity;

    fn files(list: &[(&str, &str)]) -> Vec<(String, Vec<u8>)> {
        list.iter()
            .map(|(p, t)| (p.to_string(), t.as_bytes().to_vec()))
            .collect()
    }

    #[test]
    fn comments_are_cut_outside_strings_only() {
        assert_eq!(without_comment("x = 1  # note"), "x = 1  ");
        assert_eq!(without_comment("x = 'a#b'  # c"), "x = 'a#b'  ");
        assert_eq!(without_comment(r##"x = "a\"#" # c"##), r##"x = "a\"#" "##);
        assert_eq!(
            outside_strings("f(debug=True, h='debug=True') # x"),
            "f(debug=True, h='          ') "
        );
    }

    #[test]
    fn binary_and_huge_files_are_not_read() {
        let mut list = files(&[("app/x.py", "debug = True\n")]);
        list.push(("app/y.py".into(), vec![0xff, 0xfe, b'd']));
        list.push((
            "app/z.py".into(),
            format!("debug=True\n{}", " ".repeat(MAX_FILE_BYTES)).into_bytes(),
        ));
        let found = own_checks(&list, ReviewContext::default());
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].file, "app/x.py");
    }

    #[test]
    fn a_clean_project_has_no_findings() {
        let clean = files(&[
            ("requirements.txt", "fastapi==0.165.0\npsycopg[binary]==3.3.9\n"),
            ("requirements-dev.txt", "-r requirements.txt\npytest==9.2.0\n"),
            (
                "app/main.py",
                "app = FastAPI(title='x')\napp.add_middleware(\n    CORSMiddleware,\n    allow_origins=settings.cors_origins,\n    allow_methods=['*'],\n)\n",
            ),
            (
                "app/config.py",
                "jwt_secret: str = field(default_factory=lambda: _env('JWT_SECRET'))\n",
            ),
            (
                "app/routers/tasks.py",
                "router = APIRouter(\n    prefix='/tasks',\n    dependencies=[Depends(current_account)],\n)\n",
            ),
            (
                "tests/test_auth.py",
                "CREDENTIALS = {'username': 'a', 'password': 'a-long-enough-password'}\n",
            ),
            ("Dockerfile", "CMD [\"uvicorn\", \"app.main:app\", \"--no-access-log\"]\n"),
        ]);
        let found = own_checks(&clean, ReviewContext { auth: true });
        assert!(found.is_empty(), "{found:#?}");
    }

    #[test]
    fn every_rule_has_its_severity() {
        let bad = files(&[
            ("requirements.txt", "fastapi>=0.100\n"),
            ("app/settings.py", "password = 'hunter2hunter2'\n"),
            ("app/main.py", "app = FastAPI(debug=True)\n"),
            ("Dockerfile", "CMD uvicorn app.main:app --reload\n"),
        ]);
        let found = own_checks(&bad, ReviewContext::default());
        let rules: Vec<(&str, Severity)> = found
            .iter()
            .map(|f| (f.rule.as_str(), f.severity))
            .collect();
        assert_eq!(
            rules,
            [
                ("kiln/unpinned-requirement", Severity::Medium),
                ("kiln/hardcoded-secret", Severity::High),
                ("kiln/debug", Severity::High),
                ("kiln/reload", Severity::Medium),
            ]
        );
    }
}
