//! `AppSpec` → the files of a FastAPI project, rendered from the templates in `shared/templates/`.
//!
//! Templates see a view model built here, never the user's raw text: names are checked
//! identifiers, and free text (the app's name and summary) arrives already escaped as a Python
//! string literal or as Markdown text. Nothing the user typed is ever template source.
//!
//! The view model is built in `view` (the app and its resources) and `fields` (one field);
//! `literal` writes text and values as Python or Markdown; `templates` renders them.

mod design;
mod diff;
mod fields;
mod literal;
mod merge;
mod migrations;
mod schema;
mod templates;
mod view;

pub use design::design_for;
pub use diff::unified_diff;
pub use literal::{markdown_text, python_literal};
pub use merge::{merge_text, Conflict, TextMerge, MARKERS};
pub use migrations::{migration_files, SchemaVersion};

use serde::Serialize;

use crate::spec::{AppSpec, Field, FieldType, SpecError};
use templates::render;
use view::{AppView, ResourceView};

/// One generated file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedFile {
    /// Relative path, `/`-separated.
    pub path: String,
    /// UTF-8 contents.
    pub contents: String,
}

/// Why a project could not be generated.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    /// The spec breaks an invariant.
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// The spec names nothing to manage.
    #[error("the spec has no resources yet: say what the API should manage")]
    NoResources,
    /// A template failed to render (a defect of Kiln, not of the spec).
    #[error("template {name} failed: {message}")]
    Template {
        /// The template.
        name: String,
        /// What went wrong.
        message: String,
    },
}

/// Pinned runtime dependencies of every generated project.
pub const REQUIREMENTS: &[&str] = &["fastapi==0.165.0", "uvicorn==0.54.0", "pydantic==2.14.3"];
/// Added when a database is on.
pub const DATABASE_REQUIREMENTS: &[&str] = &["SQLAlchemy==2.1.9", "alembic==1.20.1"];
/// Added when a database is on, whichever it defaults to: the PostgreSQL driver, since a
/// deployed app may be given a PostgreSQL `DATABASE_URL` (on AWS it always is).
pub const POSTGRES_REQUIREMENTS: &[&str] = &["psycopg[binary]==3.3.9"];
/// Added when authentication is on.
pub const AUTH_REQUIREMENTS: &[&str] = &["PyJWT==2.15.1"];
/// Test and lint tools of every generated project.
pub const DEV_REQUIREMENTS: &[&str] = &["pytest==9.2.0", "httpx2==2.16.2", "ruff==0.17.6"];

/// The review's tools beside ruff (which every project has among its dev requirements):
/// what a version is reviewed with, pinned.
pub const REVIEW_REQUIREMENTS: &[&str] = &["bandit==1.9.4", "pip-audit==2.10.1"];

/// The review's tools, pinned: ruff, bandit and pip-audit (what a review build installs).
pub fn review_tools() -> Vec<String> {
    DEV_REQUIREMENTS
        .iter()
        .filter(|r| r.starts_with("ruff=="))
        .chain(REVIEW_REQUIREMENTS)
        .map(|r| (*r).to_owned())
        .collect()
}

/// Every package any generated project may need, and the review's tools, pinned: what a
/// shared environment for running and reviewing generated projects installs.
pub fn every_requirement() -> Vec<String> {
    [
        REQUIREMENTS,
        DATABASE_REQUIREMENTS,
        POSTGRES_REQUIREMENTS,
        AUTH_REQUIREMENTS,
        DEV_REQUIREMENTS,
        REVIEW_REQUIREMENTS,
    ]
    .concat()
    .into_iter()
    .map(str::to_owned)
    .collect()
}

/// The spec as it will be built: every resource has at least one field.
pub fn with_defaults(spec: &AppSpec) -> AppSpec {
    let mut spec = spec.clone();
    for r in &mut spec.resources {
        if r.fields.is_empty() {
            r.fields.push(Field {
                name: "name".into(),
                ty: FieldType::String,
                required: true,
                unique: false,
                default: None,
            });
        }
    }
    spec
}

/// Every file of the project except its README, which the documentation writer adds, as its
/// first version.
pub fn generate_code(spec: &AppSpec) -> Result<Vec<GeneratedFile>, GenerateError> {
    generate_version(&[SchemaVersion {
        number: 1,
        spec,
        renames: &[],
    }])
}

/// Every file of the last of `versions` (oldest first, each with its spec), its migrations
/// made from how each version's tables differ from the one before.
pub fn generate_version(versions: &[SchemaVersion]) -> Result<Vec<GeneratedFile>, GenerateError> {
    let spec = versions.last().ok_or(GenerateError::NoResources)?.spec;
    let view = AppView::new(spec)?;
    let mut files = Vec::new();
    let mut add = |path: &str, contents: String| {
        files.push(GeneratedFile {
            path: path.to_owned(),
            contents,
        })
    };
    add("app/__init__.py", String::new());
    add("app/routers/__init__.py", String::new());
    add("tests/__init__.py", String::new());
    for name in [
        "app/config.py",
        "app/db.py",
        "app/models.py",
        "app/schemas.py",
        "app/main.py",
        "tests/conftest.py",
        "tests/test_health.py",
        "requirements.txt",
        "requirements-dev.txt",
        "pyproject.toml",
        "Dockerfile",
        ".dockerignore",
        "deploy/cloudformation.yaml",
        ".github/workflows/ci.yml",
        "buildspec.yml",
    ] {
        add(name, render(name, &view)?);
    }
    if view.database {
        add("app/data.py", render("app/data.py", &view)?);
        add("tests/test_data.py", render("tests/test_data.py", &view)?);
    }
    if view.auth {
        add("app/auth.py", render("app/auth.py", &view)?);
        add("tests/test_auth.py", render("tests/test_auth.py", &view)?);
    }
    for r in &view.resources {
        let ctx = ResourceContext { app: &view, r };
        add(
            &format!("app/routers/{}.py", r.plural),
            render("app/routers/resource.py", &ctx)?,
        );
        add(
            &format!("tests/test_{}.py", r.plural),
            render("tests/test_resource.py", &ctx)?,
        );
    }
    files.extend(migration_files(versions));
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}

/// The project's README: how to run, test and configure it, its endpoints and data.
pub fn generate_readme(spec: &AppSpec, project_name: &str) -> Result<GeneratedFile, GenerateError> {
    let view = AppView::new(spec)?;
    let design = design_for(&with_defaults(spec));
    let readme = ReadmeView {
        app: &view,
        name_md: markdown_text(if project_name.trim().is_empty() {
            "API"
        } else {
            project_name
        }),
        summary_md: markdown_text(&spec.summary),
        endpoints: design
            .endpoints
            .iter()
            .map(|e| EndpointView {
                method: e.method.clone(),
                path: e.path.clone(),
                summary: markdown_text(&e.summary),
            })
            .collect(),
    };
    Ok(GeneratedFile {
        path: "README.md".into(),
        contents: render("README.md", &readme)?,
    })
}

#[derive(Serialize)]
struct ResourceContext<'a> {
    #[serde(flatten)]
    app: &'a AppView,
    r: &'a ResourceView,
}

#[derive(Serialize)]
struct ReadmeView<'a> {
    #[serde(flatten)]
    app: &'a AppView,
    name_md: String,
    summary_md: String,
    endpoints: Vec<EndpointView>,
}

#[derive(Serialize)]
struct EndpointView {
    method: String,
    path: String,
    summary: String,
}

#[cfg(test)]
mod tests;
