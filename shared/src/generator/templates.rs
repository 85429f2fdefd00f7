//! The templates of a generated project (`shared/templates/`), compiled once, and the rendering
//! of one of them with its view.

use std::sync::OnceLock;

use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use serde::Serialize;

use super::GenerateError;

fn env() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.set_auto_escape_callback(|_| AutoEscape::None);
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_keep_trailing_newline(true);
        env.add_filter("pybool", |b: bool| if b { "True" } else { "False" });
        for (name, source) in TEMPLATES {
            env.add_template(name, source).expect("templates compile");
        }
        env
    })
}

const TEMPLATES: &[(&str, &str)] = &[
    (
        "app/config.py",
        include_str!("../../templates/app/config.py.j2"),
    ),
    ("app/db.py", include_str!("../../templates/app/db.py.j2")),
    (
        "app/data.py",
        include_str!("../../templates/app/data.py.j2"),
    ),
    (
        "app/models.py",
        include_str!("../../templates/app/models.py.j2"),
    ),
    (
        "app/schemas.py",
        include_str!("../../templates/app/schemas.py.j2"),
    ),
    (
        "app/auth.py",
        include_str!("../../templates/app/auth.py.j2"),
    ),
    (
        "app/main.py",
        include_str!("../../templates/app/main.py.j2"),
    ),
    (
        "app/routers/resource.py",
        include_str!("../../templates/app/routers/resource.py.j2"),
    ),
    (
        "tests/conftest.py",
        include_str!("../../templates/tests/conftest.py.j2"),
    ),
    (
        "tests/test_resource.py",
        include_str!("../../templates/tests/test_resource.py.j2"),
    ),
    (
        "tests/test_auth.py",
        include_str!("../../templates/tests/test_auth.py.j2"),
    ),
    (
        "tests/test_data.py",
        include_str!("../../templates/tests/test_data.py.j2"),
    ),
    (
        "tests/test_health.py",
        include_str!("../../templates/tests/test_health.py.j2"),
    ),
    (
        "requirements.txt",
        include_str!("../../templates/requirements.txt.j2"),
    ),
    (
        "requirements-dev.txt",
        include_str!("../../templates/requirements-dev.txt.j2"),
    ),
    (
        "pyproject.toml",
        include_str!("../../templates/pyproject.toml.j2"),
    ),
    ("Dockerfile", include_str!("../../templates/Dockerfile.j2")),
    (
        "deploy/cloudformation.yaml",
        include_str!("../../templates/deploy/cloudformation.yaml.j2"),
    ),
    (
        ".dockerignore",
        include_str!("../../templates/dockerignore.j2"),
    ),
    (
        ".github/workflows/ci.yml",
        include_str!("../../templates/ci/ci.yml.j2"),
    ),
    (
        "buildspec.yml",
        include_str!("../../templates/buildspec.yml.j2"),
    ),
    ("README.md", include_str!("../../templates/README.md.j2")),
];

pub(super) fn render(name: &str, ctx: &impl Serialize) -> Result<String, GenerateError> {
    let template = env()
        .get_template(name)
        .map_err(|e| GenerateError::Template {
            name: name.to_owned(),
            message: e.to_string(),
        })?;
    let text = template.render(ctx).map_err(|e| GenerateError::Template {
        name: name.to_owned(),
        message: format!("{e:#}"),
    })?;
    // Templates end each file with one newline, whatever their conditionals left.
    Ok(format!("{}\n", text.trim_end()))
}
