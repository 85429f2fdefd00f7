//! Settings and wiring in the app's code: debug and reload switched on, CORS open to every
//! origin with credentials, a resource's router without the authentication dependency.

use std::sync::LazyLock;

use regex::Regex;

use super::{line_of, outside_strings, without_comment};
use crate::model::{Finding, Severity};

static DEBUG: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\bdebug\s*=\s*True\b").expect("pattern"));
static RELOAD: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\breload\s*=\s*True\b").expect("pattern"));
static RELOAD_FLAG: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"(?:^|[\s"'\[,])--reload\b"#).expect("pattern"));
static CREDENTIALS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\ballow_credentials\s*=\s*True\b").expect("pattern"));
static ANY_ORIGIN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"\ballow_origins\s*=\s*[\[(]\s*["']\*["']\s*,?\s*[\])]|\ballow_origin_regex\s*=\s*r?["']\.[*+]["']"#,
    )
    .expect("pattern")
});
static ROUTE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?m)^[ \t]*@router\.(?:get|post|put|patch|delete|head|options|api_route)\(")
        .expect("pattern")
});

const RELOAD_FIX: &str = "run the server without reload (uvicorn's --reload is for development: \
                          it watches files and restarts on every change)";

/// `debug=True` (FastAPI's tracebacks to every caller) and `reload=True`, in code.
pub(super) fn debug_settings(path: &str, text: &str) -> Vec<Finding> {
    let mut found = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let code = &outside_strings(line);
        let line = n as u32 + 1;
        if DEBUG.is_match(code) {
            found.push(Finding::new(
                path,
                line,
                "kiln/debug",
                Severity::High,
                "debug mode is on: errors answer with tracebacks and internals to every caller",
                "remove debug=True (or read it from the environment, off by default)",
            ));
        }
        if RELOAD.is_match(code) {
            found.push(Finding::new(
                path,
                line,
                "kiln/reload",
                Severity::Medium,
                "the server reloads on file changes, a development setting",
                RELOAD_FIX,
            ));
        }
    }
    found
}

/// `--reload` in what starts the server (a Dockerfile's CMD, a Procfile, a script).
pub(super) fn reload_flags(path: &str, text: &str) -> Vec<Finding> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim_start().starts_with('#') && RELOAD_FLAG.is_match(l))
        .map(|(n, _)| {
            Finding::new(
                path,
                n as u32 + 1,
                "kiln/reload",
                Severity::Medium,
                "the server is started with --reload, a development setting",
                RELOAD_FIX,
            )
        })
        .collect()
}

/// The arguments of the call that starts at `open` (the byte after its `(`), up to the
/// parenthesis that closes it, comments left out.
fn call_arguments(text: &str, open: usize) -> String {
    let mut depth = 1;
    let mut out = String::new();
    for line in text[open..].split_inclusive('\n') {
        for c in without_comment(line).chars() {
            match c {
                '(' | '[' | '{' => depth += 1,
                ')' | ']' | '}' => depth -= 1,
                _ => {}
            }
            if depth == 0 {
                return out;
            }
            out.push(c);
        }
        out.push('\n');
    }
    out
}

/// `CORSMiddleware` that lets every origin send credentials: any site may call the API as the
/// signed-in user.
pub(super) fn wildcard_cors(path: &str, text: &str) -> Vec<Finding> {
    let mut found = Vec::new();
    for (at, _) in text.match_indices("CORSMiddleware") {
        // The call it is an argument of: `add_middleware(CORSMiddleware, …)` or
        // `Middleware(CORSMiddleware, …)`.
        let Some(open) = text[..at].rfind('(') else {
            continue;
        };
        if text[open + 1..at].trim() != "" {
            continue;
        }
        let args = call_arguments(text, open + 1);
        if CREDENTIALS.is_match(&args) && ANY_ORIGIN.is_match(&args) {
            found.push(Finding::new(
                path,
                line_of(text, at),
                "kiln/cors-credentials",
                Severity::High,
                "CORS allows every origin together with credentials: any website can call the \
                 API with its visitors' cookies or tokens",
                "list the origins that may call the API (allow_origins=[\"https://…\"]), or \
                 drop allow_credentials=True",
            ));
        }
    }
    found
}

/// A resource's router whose routes do not require a signed-in account, when the spec asks for
/// authentication: the router itself depends on `current_account`, or else every route does.
pub(super) fn missing_auth(path: &str, text: &str) -> Vec<Finding> {
    let fix = "add dependencies=[Depends(current_account)] to the router (from app.auth import \
               current_account)";
    let Some(at) = text.find("APIRouter(") else {
        return Vec::new();
    };
    let router = call_arguments(text, at + "APIRouter(".len());
    if router.contains("Depends(current_account)") {
        return Vec::new();
    }
    let routes: Vec<usize> = ROUTE.find_iter(text).map(|m| m.start()).collect();
    if routes.is_empty() {
        return vec![Finding::new(
            path,
            line_of(text, at),
            "kiln/missing-auth",
            Severity::High,
            "authentication is on, but this router does not require it",
            fix,
        )];
    }
    let mut found = Vec::new();
    for (i, start) in routes.iter().enumerate() {
        // The decorator and the function's signature, up to the body.
        let end = routes.get(i + 1).copied().unwrap_or(text.len());
        let route = &text[*start..end];
        let signature = route.find("):\n").map_or(route, |e| &route[..e]);
        if !signature.contains("current_account") {
            found.push(Finding::new(
                path,
                line_of(text, *start),
                "kiln/missing-auth",
                Severity::High,
                "authentication is on, but this route answers without a signed-in account",
                fix,
            ));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(found: &[Finding]) -> Vec<(&str, u32)> {
        found.iter().map(|f| (f.rule.as_str(), f.line)).collect()
    }

    #[test]
    fn debug_and_reload_in_code() {
        let text = "app = FastAPI(debug=True)\n# debug=True in the old days\n\
                    uvicorn.run(app, reload=True)\ndebug = False\nDEBUG_HELP = 'debug=True'\n";
        assert_eq!(
            lines(&debug_settings("app/main.py", text)),
            [("kiln/debug", 1), ("kiln/reload", 3)]
        );
        assert!(debug_settings("app/main.py", "app = FastAPI(title='x')\n").is_empty());
    }

    #[test]
    fn reload_flags_where_the_server_starts() {
        let text = "FROM python\n# CMD uvicorn --reload\nCMD [\"uvicorn\", \"app.main:app\", \"--reload\"]\n";
        assert_eq!(
            lines(&reload_flags("Dockerfile", text)),
            [("kiln/reload", 3)]
        );
        assert!(reload_flags("Dockerfile", "CMD [\"uvicorn\", \"--reloader-off\"]\n").is_empty());
    }

    #[test]
    fn wildcard_cors_with_credentials() {
        let bad = "app.add_middleware(\n    CORSMiddleware,\n    allow_origins=[\"*\"],\n    \
                   allow_credentials=True,\n)\n";
        assert_eq!(
            lines(&wildcard_cors("app/main.py", bad)),
            [("kiln/cors-credentials", 2)]
        );
        let regex =
            "app.add_middleware(CORSMiddleware, allow_origin_regex='.*', allow_credentials=True)\n";
        assert_eq!(lines(&wildcard_cors("app/main.py", regex)).len(), 1);
        // Every origin without credentials, or credentials for listed origins, are fine.
        let open = "app.add_middleware(CORSMiddleware, allow_origins=['*'], allow_methods=['*'])\n";
        let listed = "app.add_middleware(CORSMiddleware, allow_origins=['https://a.example'], allow_credentials=True)\n";
        let commented = "app.add_middleware(\n    CORSMiddleware,\n    allow_origins=['*'],\n    # allow_credentials=True,\n)\n";
        for text in [open, listed, commented, "from x import CORSMiddleware\n"] {
            assert!(wildcard_cors("app/main.py", text).is_empty(), "{text}");
        }
    }

    #[test]
    fn routers_without_the_auth_dependency() {
        let guarded = "router = APIRouter(\n    prefix='/tasks',\n    dependencies=[Depends(current_account)],\n)\n\n@router.get('')\ndef list_tasks(session: SessionDep) -> Page:\n    ...\n";
        assert!(missing_auth("app/routers/tasks.py", guarded).is_empty());
        let per_route = "router = APIRouter(prefix='/tasks')\n\n@router.get('')\ndef list_tasks(account: Annotated[Account, Depends(current_account)]) -> Page:\n    ...\n";
        assert!(missing_auth("app/routers/tasks.py", per_route).is_empty());
        let open = "router = APIRouter(\n    prefix='/tasks',\n)\n\n@router.get('')\ndef list_tasks() -> Page:\n    ...\n\n@router.post('', status_code=201)\ndef create(account = Depends(current_account)):\n    ...\n";
        assert_eq!(
            lines(&missing_auth("app/routers/tasks.py", open)),
            [("kiln/missing-auth", 5)]
        );
        let empty = "router = APIRouter(prefix='/tasks')\n";
        assert_eq!(
            lines(&missing_auth("app/routers/tasks.py", empty)),
            [("kiln/missing-auth", 1)]
        );
    }
}
