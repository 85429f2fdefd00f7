//! A property test: hostile project names and descriptions never become code.
//!
//! 1,000 random strings built from quotes, triple quotes, backslashes, newlines, control and
//! Unicode characters, Python keywords and `__import__` calls are used as the app's name and
//! summary; Python's own parser then checks every generated file (tests/python/check_hostile.py).
//! The same strings, sent as chat messages, must only ever yield valid identifiers.

use kiln::generator::{generate_code, generate_readme, GenerateError};
use kiln::spec::{apply_message, check_identifier, AppSpec};
use kiln_integration_tests::{python, run_in, show, write_files};

const CASES: usize = 1_000;

const FRAGMENTS: &[&str] = &[
    "\"",
    "'",
    "\"\"\"",
    "'''",
    "\\",
    "\\\\",
    "\n",
    "\r\n",
    "\t",
    "\0",
    "\x07",
    "\x1b[31m",
    "é",
    "🙂",
    "\u{202e}",
    "\u{200b}",
    "\u{2028}",
    "\u{feff}",
    "ß",
    "中文",
    "𝕏",
    "import",
    "class",
    "def",
    "lambda",
    "return",
    "None",
    "True",
    "yield",
    "async",
    "await",
    "__import__('os').system('id')",
    "exec(\"print(1)\")",
    "eval('1+1')",
    "os.system",
    ";",
    "#",
    "# noqa",
    "{{ 7*7 }}",
    "{% raw %}",
    "{#",
    "${HOME}",
    "$(id)",
    "`id`",
    "%s",
    "%(x)s",
    "{0}",
    "f\"{x}\"",
    "\\N{BULLET}",
    "\\x41",
    "\\u0041",
    "\\",
    "*/",
    "<!--",
    "<script>",
    "EOF",
    "tasks",
    "for managing",
    " and ",
    ", ",
    "drop table",
    "DROP TABLE projects;--",
    ")",
    "(",
    "[",
    "]",
    "{",
    "}",
    ":",
    "=",
    "==",
    "\\n",
    "\\'",
    "\\\"",
];

/// xorshift64*: deterministic, so a failure can be reproduced from its case number.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn hostile(&mut self) -> String {
        let parts = 1 + self.below(12);
        let mut s: String = (0..parts)
            .map(|_| FRAGMENTS[self.below(FRAGMENTS.len())])
            .collect();
        if self.below(10) == 0 {
            s = s.repeat(1 + self.below(20));
        }
        s
    }
}

fn base_spec() -> AppSpec {
    let mut spec = AppSpec::default();
    for m in [
        "API for tasks and projects",
        "tasks belong to a project",
        "tasks have a title, a due date, a priority from low/medium/high and a done flag",
        "add user authentication",
        "add database support",
    ] {
        apply_message(&mut spec, m, false);
    }
    spec
}

#[test]
fn hostile_names_and_descriptions_never_become_code() {
    let root = tempfile::tempdir().unwrap();
    let mut rng = Rng(0x6b69_6c6e_2026);
    let base = base_spec();

    let mut baseline = base.clone();
    baseline.name = "Baseline".into();
    baseline.summary = "Baseline".into();
    write_files(
        &root.path().join("baseline"),
        &generate_code(&baseline).unwrap(),
    );

    let cases = root.path().join("cases");
    for i in 0..CASES {
        let mut spec = base.clone();
        spec.name = rng.hostile();
        spec.summary = rng.hostile();
        let files = generate_code(&spec).unwrap_or_else(|e| panic!("case {i}: {e}"));
        let dir = cases.join(format!("case{i:04}"));
        write_files(&dir, &files);
        let expected = format!(
            "{{\"name\": {}, \"summary\": {}}}",
            json_string(&spec.name),
            json_string(&spec.summary)
        );
        std::fs::write(dir.join("expected.json"), expected).unwrap();

        let readme = generate_readme(&spec, &spec.name).unwrap().contents;
        let title = readme.lines().next().unwrap();
        assert!(title.starts_with("# "), "case {i}: {title:?}");
        assert!(
            !readme.contains("<script>"),
            "case {i}: raw HTML in the README"
        );
    }

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/python/check_hostile.py");
    let out = run_in(
        root.path(),
        &python(),
        &[
            script,
            &root.path().join("baseline").display().to_string(),
            &cases.display().to_string(),
        ],
    );
    println!("{}", String::from_utf8_lossy(&out.stdout).trim());
    assert!(out.status.success(), "{}", show(&out));
}

#[test]
fn hostile_chat_messages_only_ever_yield_identifiers() {
    let mut rng = Rng(0x6d65_7373_6167);
    let mut resources = 0;
    for i in 0..CASES {
        let mut spec = base_spec();
        let message = format!(
            "{} for managing {}s and {} with a {}",
            rng.hostile(),
            rng.hostile(),
            rng.hostile(),
            rng.hostile()
        );
        apply_message(&mut spec, &message, i % 2 == 0);
        spec.validate()
            .unwrap_or_else(|e| panic!("case {i} {message:?}: {e}"));
        for r in &spec.resources {
            resources += 1;
            check_identifier(&r.plural).unwrap();
            for f in &r.fields {
                check_identifier(&f.name).unwrap_or_else(|e| panic!("case {i}: {e}"));
            }
        }
        match generate_code(&spec) {
            Ok(_) | Err(GenerateError::NoResources) => {}
            Err(e) => panic!("case {i} {message:?}: {e}"),
        }
    }
    println!("{CASES} hostile messages: every one of {resources} resources has checked names");
}

fn json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 || c == '\u{2028}' || c == '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
