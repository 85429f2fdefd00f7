//! Golden files: the whole generated project for a few representative specs, kept as insta
//! snapshots in `tests/snapshots/`, so that any change to generated code shows up as a diff to
//! review (`cargo insta review`, or `INSTA_UPDATE=always` and `git diff`). The specs are fixed
//! JSON in `tests/golden/specs/` (every field type in memory; relations, search, SQLite and
//! JWT; PostgreSQL with timestamps, soft delete, CORS and rate limiting; a hostile name), so
//! that only a change of the generator changes them, never one of the message reader.
//!
//! What the code does is checked elsewhere (its own suites, the oracle, schemathesis); these
//! snapshots only make every change to it visible.

use kiln::generator::{generate_code, generate_readme};
use kiln::spec::AppSpec;

fn project(spec_file: &str) -> String {
    let path = format!(
        "{}/golden/specs/{spec_file}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let spec: AppSpec = serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
        .unwrap_or_else(|e| panic!("{path}: {e}"));
    spec.validate().unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut files = generate_code(&spec).unwrap();
    files.push(generate_readme(&spec, &spec.name).unwrap());
    files.sort_by(|a, b| a.path.cmp(&b.path));
    let mut out = String::new();
    for file in files {
        out.push_str(&format!("===== {} =====\n{}", file.path, file.contents));
        if !file.contents.ends_with('\n') {
            out.push('\n');
        }
    }
    out
}

macro_rules! golden {
    ($($name:ident),* $(,)?) => {$(
        #[test]
        fn $name() {
            insta::assert_snapshot!(stringify!($name), project(stringify!($name)));
        }
    )*};
}

golden!(
    typed_tasks_in_memory,
    library_sqlite_auth,
    notes_postgres,
    hostile_name,
);
