use super::fields::unique_makes_sense;
use super::literal::{py_tuple, python_value};
use super::*;
use crate::spec::apply_message;

fn spec_from(messages: &[&str]) -> AppSpec {
    let mut spec = AppSpec {
        name: "Tasks".into(),
        ..AppSpec::default()
    };
    for (i, m) in messages.iter().enumerate() {
        apply_message(&mut spec, m, i == 0);
    }
    spec
}

#[test]
fn python_values_and_tuples_as_python_writes_them() {
    use serde_json::json;
    assert_eq!(python_value(&json!(true)), "True");
    assert_eq!(python_value(&json!(false)), "False");
    assert_eq!(python_value(&json!(2.5)), "2.5");
    assert_eq!(python_value(&json!(-7)), "-7");
    assert_eq!(python_value(&json!("a\"b")), "\"a\\\"b\"");
    assert_eq!(python_value(&json!(null)), "None");
    assert_eq!(py_tuple(&[]), "()");
    assert_eq!(
        py_tuple(&["title".into()]),
        "(\"title\",)",
        "one item needs its comma"
    );
    assert_eq!(py_tuple(&["a".into(), "b".into()]), "(\"a\", \"b\")");
}

#[test]
fn uniqueness_only_where_values_can_differ_enough() {
    assert!(unique_makes_sense(&FieldType::String));
    assert!(unique_makes_sense(&FieldType::Email));
    assert!(!unique_makes_sense(&FieldType::Boolean));
    assert!(!unique_makes_sense(&FieldType::Enum {
        values: vec!["a".into(), "b".into()]
    }));
}

#[test]
fn python_literals_escape_everything() {
    // The edges of each escape: the last one-byte, two-byte and four-hex characters.
    assert_eq!(python_literal("\u{ff}"), "\"\\xff\"");
    assert_eq!(python_literal("\u{100}"), "\"\\u0100\"");
    assert_eq!(python_literal("\u{ffff}"), "\"\\uffff\"");
    assert_eq!(python_literal("\u{10000}"), "\"\\U00010000\"");
    // Control characters are dropped from markdown; the text around them stays.
    assert_eq!(markdown_text("a\u{7}b"), "ab");
    assert_eq!(python_literal("plain"), "\"plain\"");
    assert_eq!(python_literal("a\"b\\c\n"), "\"a\\\"b\\\\c\\n\"");
    assert_eq!(python_literal("é🙂\u{0}"), "\"\\xe9\\U0001f642\\x00\"");
    assert!(python_literal("\"\"\"; import os #").is_ascii());
}

#[test]
fn markdown_text_is_inert() {
    assert_eq!(markdown_text("<b>x</b>"), "\\<b\\>x\\</b\\>");
    assert_eq!(markdown_text("# a\n[b](c)"), "\\# a \\[b\\]\\(c\\)");
}

#[test]
fn a_project_has_every_file_of_the_design() {
    let spec = spec_from(&[
        "API for tasks and projects",
        "tasks belong to a project",
        "Add user authentication",
        "Add database support",
    ]);
    let files = generate_code(&spec).unwrap();
    let paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
    for want in [
        "app/main.py",
        "app/config.py",
        "app/db.py",
        "app/models.py",
        "app/schemas.py",
        "app/auth.py",
        "app/routers/tasks.py",
        "app/routers/projects.py",
        "tests/test_tasks.py",
        "tests/test_projects.py",
        "tests/conftest.py",
        "tests/test_auth.py",
        "requirements.txt",
        "Dockerfile",
        ".github/workflows/ci.yml",
        "buildspec.yml",
    ] {
        assert!(paths.contains(&want), "{want} missing from {paths:?}");
    }
    assert!(
        !paths.contains(&"README.md"),
        "the documentation writer adds it"
    );
    let requirements = &files
        .iter()
        .find(|f| f.path == "requirements.txt")
        .unwrap()
        .contents;
    assert!(
        requirements.lines().all(|l| l.contains("==")),
        "pinned: {requirements}"
    );
    let readme = generate_readme(&spec, "Tasks <b>").unwrap();
    assert!(readme.contents.starts_with("# Tasks \\<b\\>\n"));
}

#[test]
fn images_come_from_a_registry_that_does_not_throttle_codebuild_and_trust_the_load_balancer() {
    // Docker Hub limits anonymous pulls per address, and CodeBuild's addresses are shared:
    // every base image comes from ECR Public's copy of the Docker official images.
    let spec = spec_from(&["API for tasks. Each task has a title"]);
    let files = generate_code(&spec).unwrap();
    let dockerfile = &files
        .iter()
        .find(|f| f.path == "Dockerfile")
        .unwrap()
        .contents;
    let bases: Vec<&str> = dockerfile
        .lines()
        .filter_map(|l| l.strip_prefix("FROM "))
        .collect();
    assert!(!bases.is_empty(), "{dockerfile}");
    // Behind the load balancer: the scheme and client address come from X-Forwarded-*.
    assert!(dockerfile.contains("--proxy-headers"), "{dockerfile}");
    assert!(dockerfile.contains("FORWARDED_ALLOW_IPS=*"), "{dockerfile}");
    // The app logs each request as JSON itself; uvicorn's own line would double it.
    assert!(dockerfile.contains("--no-access-log"), "{dockerfile}");
    for base in bases {
        assert!(
            base.starts_with("public.ecr.aws/docker/library/"),
            "FROM {base}"
        );
    }
}

#[test]
fn generation_depends_on_the_spec_alone() {
    let spec = spec_from(&["API for books. Each book has a title, a price and a published date"]);
    // The same spec, as it comes back from storage: a JSON round trip, in another thread (so
    // with other hash seeds), gives the same files byte for byte.
    let stored: AppSpec = serde_json::from_str(&serde_json::to_string(&spec).unwrap()).unwrap();
    let first = generate_code(&spec).unwrap();
    let again = std::thread::spawn(move || generate_code(&stored).unwrap())
        .join()
        .unwrap();
    assert_eq!(first, again);
    // Nothing of the moment leaks in: no date of today.
    let today = time::OffsetDateTime::now_utc().date().to_string();
    for f in &first {
        assert!(!f.contents.contains(&today), "{} names today", f.path);
    }
}

#[test]
fn refuses_specs_that_cannot_be_built() {
    assert!(matches!(
        generate_code(&AppSpec::default()),
        Err(GenerateError::NoResources)
    ));
    let mut spec = spec_from(&["API for tasks"]);
    spec.resources[0].name = "class".into();
    assert!(matches!(generate_code(&spec), Err(GenerateError::Spec(_))));
    let mut spec = spec_from(&["API for tasks"]);
    spec.resources[0].name = "field".into();
    spec.resources[0].plural = "fields".into();
    assert!(
        generate_code(&spec).is_err(),
        "class Field would shadow pydantic's Field"
    );
}

#[test]
fn user_text_reaches_code_only_as_literals() {
    let mut spec = spec_from(&["API for tasks"]);
    spec.name = "x\"\"\"\nimport os; os.system('boom')\n\"\"\"".into();
    spec.summary = "\\\"; __import__('os')".into();
    let files = generate_code(&spec).unwrap();
    let main = &files
        .iter()
        .find(|f| f.path == "app/main.py")
        .unwrap()
        .contents;
    // Written out by hand, not by the function under test: quotes and backslashes escaped,
    // the line breaks as \n, all on one line.
    assert!(
        main.lines()
            .any(|l| l == r#"TITLE = "x\"\"\"\nimport os; os.system('boom')\n\"\"\"""#),
        "the name is one escaped line:\n{main}"
    );
    for f in &files {
        for line in f.contents.lines() {
            let code = line.trim_start();
            assert!(!code.starts_with("import os;"), "{}: {line}", f.path);
            assert!(!code.starts_with("__import__"), "{}: {line}", f.path);
        }
    }
}
