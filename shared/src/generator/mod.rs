//! `AppSpec` → the files of a FastAPI project, rendered from the templates in `shared/templates/`.
//!
//! Templates see a view model built here, never the user's raw text: names are checked
//! identifiers, and free text (the app's name and summary) arrives already escaped as a Python
//! string literal or as Markdown text. Nothing the user typed is ever template source.

mod design;
mod diff;

pub use design::design_for;
pub use diff::unified_diff;

use std::sync::OnceLock;

use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use serde::Serialize;

use crate::spec::{
    class_name, AppSpec, AuthFeature, DatabaseFeature, Field, FieldType, RelationKind, SpecError,
};

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
pub const DATABASE_REQUIREMENTS: &[&str] = &["SQLAlchemy==2.1.9"];
/// Added for PostgreSQL.
pub const POSTGRES_REQUIREMENTS: &[&str] = &["psycopg[binary]==3.3.9"];
/// Added when authentication is on.
pub const AUTH_REQUIREMENTS: &[&str] = &["PyJWT==2.15.1"];
/// Test and lint tools of every generated project.
pub const DEV_REQUIREMENTS: &[&str] = &["pytest==9.2.0", "httpx2==2.16.2", "ruff==0.17.6"];

/// Every package any generated project may need, pinned: what a shared environment for running
/// generated projects installs.
pub fn every_requirement() -> Vec<String> {
    [
        REQUIREMENTS,
        DATABASE_REQUIREMENTS,
        POSTGRES_REQUIREMENTS,
        AUTH_REQUIREMENTS,
        DEV_REQUIREMENTS,
    ]
    .concat()
    .into_iter()
    .map(str::to_owned)
    .collect()
}

/// A Python string literal that reads back as exactly `s`, written in plain ASCII.
pub fn python_literal(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            ' '..='~' => out.push(c),
            c if (c as u32) < 0x100 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push('"');
    out
}

/// Markdown text that shows `s` literally on one line: markup characters are escaped.
pub fn markdown_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\n' | '\r' | '\t' => out.push(' '),
            c if c.is_control() => {}
            '\\' | '`' | '*' | '_' | '{' | '}' | '[' | ']' | '(' | ')' | '#' | '+' | '-' | '.'
            | '!' | '|' | '<' | '>' | '&' | '~' | '"' | '\'' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
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

fn render(name: &str, ctx: &impl Serialize) -> Result<String, GenerateError> {
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

/// Every file of the project except its README, which the documentation writer adds.
pub fn generate_code(spec: &AppSpec) -> Result<Vec<GeneratedFile>, GenerateError> {
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
        ".github/workflows/ci.yml",
        "buildspec.yml",
    ] {
        add(name, render(name, &view)?);
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

#[derive(Serialize)]
struct AppView {
    title: String,
    summary: String,
    version: String,
    package: String,
    auth: bool,
    database: bool,
    database_label: &'static str,
    default_database_url: String,
    default_database_url_plain: &'static str,
    docker_database_url: &'static str,
    timestamps: bool,
    soft_delete: bool,
    cors: bool,
    rate_limit: bool,
    uses_date: bool,
    uses_datetime: bool,
    uses_enum: bool,
    sa_imports: Vec<&'static str>,
    /// `app.routers` modules, sorted as an import list wants them.
    router_modules: Vec<String>,
    requirements: Vec<&'static str>,
    dev_requirements: Vec<&'static str>,
    resources: Vec<ResourceView>,
}

#[derive(Serialize)]
struct ResourceView {
    name: String,
    plural: String,
    class: String,
    label: String,
    fields: Vec<FieldView>,
    parents: Vec<LinkView>,
    children: Vec<LinkView>,
    search_tuple: String,
    unique_tuple: String,
    never_null: Vec<String>,
    never_null_tuple: String,
    required_names: Vec<String>,
    uses_n: bool,
    imports: Vec<String>,
    update_field: String,
    update_value: String,
    invalid_cases: Vec<InvalidCase>,
    unique_fields: Vec<FieldView>,
    search_field: Option<String>,
    search_value: String,
    /// Fields asked for as filters whose type is not text: exact-match query parameters.
    filters: Vec<FilterView>,
    /// Which answers besides 2xx and 422 an operation can give, for its documentation.
    create_conflicts: bool,
    create_not_found: bool,
    /// Whether a filter's type needs `datetime` or `Literal` in the router.
    filters_use_datetime: bool,
    filters_use_literal: bool,
}

/// An exact-match filter on a non-text field: `GET /tickets?status=open`.
#[derive(Serialize)]
struct FilterView {
    name: String,
    /// The query parameter's Python type.
    query_type: String,
    /// Extra arguments of its `Query(...)`: the bounds the database can hold.
    bounds: String,
    /// Two different valid values (Python literals), for the generated test.
    sample: String,
    other: String,
    /// `sample` as it is written in a query string (a Python literal).
    sample_param: String,
}

impl FilterView {
    /// A filter for a field of a type that is not text, `None` for text (text is searched).
    fn new(f: &Field) -> Option<Self> {
        let (query_type, sample, other, param) = match &f.ty {
            FieldType::String | FieldType::Text | FieldType::Email | FieldType::Url => return None,
            FieldType::Enum { values } => (
                FieldView::new(f).input,
                values[0].clone(),
                values.get(1).cloned().unwrap_or_default(),
                values[0].clone(),
            ),
            FieldType::Boolean => ("bool".into(), "True".into(), "False".into(), "true".into()),
            FieldType::Integer => ("int".into(), "7".into(), "8".into(), "7".into()),
            FieldType::Number => ("float".into(), "1.5".into(), "2.5".into(), "1.5".into()),
            FieldType::Date => (
                "datetime.date".into(),
                "2026-02-03".into(),
                "2026-02-04".into(),
                "2026-02-03".into(),
            ),
            FieldType::Datetime => (
                "schemas.UtcDateTime".into(),
                "2026-02-03T10:00:00Z".into(),
                "2026-02-03T11:00:00Z".into(),
                "2026-02-03T10:00:00Z".into(),
            ),
        };
        let literal = |v: &str| match &f.ty {
            FieldType::Enum { .. } | FieldType::Date | FieldType::Datetime => python_literal(v),
            _ => v.to_owned(),
        };
        let bounds = match &f.ty {
            FieldType::Integer => ", ge=-(2**53 - 1), le=2**53 - 1".to_owned(),
            FieldType::Number => ", allow_inf_nan=False".to_owned(),
            _ => String::new(),
        };
        Some(FilterView {
            name: f.name.clone(),
            query_type,
            bounds,
            sample: literal(&sample),
            // An enum with one choice has no other value: the test then checks only a match.
            other: if other.is_empty() {
                String::new()
            } else {
                literal(&other)
            },
            sample_param: python_literal(&param),
        })
    }
}

#[derive(Serialize, Clone)]
struct LinkView {
    name: String,
    plural: String,
    class: String,
    label: String,
    /// The foreign key column on the child: `{parent}_id`.
    fk: String,
}

#[derive(Serialize, Clone)]
struct FieldView {
    name: String,
    label: String,
    input: String,
    output: String,
    mapped: String,
    column: String,
    required: bool,
    has_default: bool,
    default: String,
    sample: String,
    invalid: String,
}

#[derive(Serialize)]
struct InvalidCase {
    name: String,
    invalid: String,
}

fn py_tuple(items: &[String]) -> String {
    match items {
        [] => "()".to_owned(),
        [one] => format!("({},)", python_literal(one)),
        many => format!(
            "({})",
            many.iter()
                .map(|s| python_literal(s))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn python_value(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Bool(true) => "True".into(),
        serde_json::Value::Bool(false) => "False".into(),
        serde_json::Value::Number(n) => n.to_string(),
        serde_json::Value::String(s) => python_literal(s),
        _ => "None".into(),
    }
}

impl FieldView {
    fn new(f: &Field) -> Self {
        let (input, output, py, column, sample, invalid) = match &f.ty {
            FieldType::String => (
                "_ShortText".to_owned(),
                "str",
                "str",
                "String(200)",
                "f\"example {n}\"",
                "\"\"".to_owned(),
            ),
            FieldType::Text => (
                "_LongText".into(),
                "str",
                "str",
                "Text",
                "f\"Some longer text, number {n}.\"",
                "12345".into(),
            ),
            FieldType::Integer => (
                "_Int".into(),
                "int",
                "int",
                "Integer",
                "n",
                "\"many\"".into(),
            ),
            FieldType::Number => (
                "_Number".into(),
                "float",
                "float",
                "Float",
                "n + 0.5",
                "\"lots\"".into(),
            ),
            FieldType::Boolean => (
                "_Bool".into(),
                "bool",
                "bool",
                "Boolean",
                "True",
                "\"perhaps\"".into(),
            ),
            FieldType::Date => (
                "_Date".into(),
                "datetime.date",
                "datetime.date",
                "Date",
                "f\"2026-01-{n % 28 + 1:02d}\"",
                "\"not-a-date\"".into(),
            ),
            FieldType::Datetime => (
                "_DateTime".into(),
                "_DateTimeOut",
                "datetime.datetime",
                "DateTime",
                "f\"2026-01-15T10:{n % 60:02d}:00Z\"",
                "\"yesterday at noon\"".into(),
            ),
            FieldType::Email => (
                "_Email".into(),
                "str",
                "str",
                "String(320)",
                "f\"user{n}@example.com\"",
                "\"not-an-email\"".into(),
            ),
            FieldType::Url => (
                "_Url".into(),
                "str",
                "str",
                "String(2048)",
                "f\"https://example.com/items/{n}\"",
                "\"ftp:/nowhere\"".into(),
            ),
            FieldType::Enum { values } => {
                let literal = format!(
                    "Literal[{}]",
                    values
                        .iter()
                        .map(|v| python_literal(v))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                (
                    literal,
                    "str",
                    "str",
                    "String(50)",
                    "",
                    python_literal("not_one_of_them"),
                )
            }
        };
        let sample = match &f.ty {
            FieldType::Enum { values } => python_literal(&values[0]),
            _ => sample.to_owned(),
        };
        let has_default = f.default.is_some();
        let nullable = !f.required && !has_default;
        let mut column = column.trim_start_matches("").to_owned();
        if nullable {
            column.push_str(", nullable=True");
        }
        if f.unique && unique_makes_sense(&f.ty) {
            column.push_str(", unique=True");
        }
        if let Some(d) = &f.default {
            column.push_str(&format!(", default={}", python_value(d)));
        }
        FieldView {
            name: f.name.clone(),
            label: match &f.ty {
                FieldType::Enum { values } => format!("one of {}", values.join(", ")),
                other => crate::spec::type_label(other).to_owned(),
            },
            input,
            output: output.to_owned(),
            mapped: if nullable {
                format!("{py} | None")
            } else {
                py.to_owned()
            },
            column,
            required: f.required,
            has_default,
            default: f
                .default
                .as_ref()
                .map(python_value)
                .unwrap_or_else(|| "None".into()),
            sample,
            invalid,
        }
    }

    /// A valid value different from every sample, for the update test.
    fn changed_value(f: &Field) -> String {
        match &f.ty {
            FieldType::String => python_literal("changed value"),
            FieldType::Text => python_literal("Changed text."),
            FieldType::Integer => "4242".into(),
            FieldType::Number => "42.25".into(),
            FieldType::Boolean => "False".into(),
            FieldType::Date => python_literal("2027-02-02"),
            FieldType::Datetime => python_literal("2027-02-02T08:00:00Z"),
            FieldType::Email => python_literal("changed@example.com"),
            FieldType::Url => python_literal("https://example.org/changed"),
            FieldType::Enum { values } => {
                python_literal(values.last().expect("validated: not empty"))
            }
        }
    }
}

/// A uniqueness constraint on a boolean or a three-valued enum would make a table of two rows.
fn unique_makes_sense(ty: &FieldType) -> bool {
    !matches!(ty, FieldType::Boolean | FieldType::Enum { .. })
}

impl AppView {
    fn new(spec: &AppSpec) -> Result<Self, GenerateError> {
        let spec = with_defaults(spec);
        spec.validate()?;
        if spec.resources.is_empty() {
            return Err(GenerateError::NoResources);
        }
        let f = &spec.features;
        let database = f.database != DatabaseFeature::None;
        let all_fields = || spec.resources.iter().flat_map(|r| r.fields.iter());
        let uses = |pred: fn(&FieldType) -> bool| all_fields().any(|f| pred(&f.ty));
        let uses_date = uses(|t| matches!(t, FieldType::Date));
        let uses_datetime = uses(|t| matches!(t, FieldType::Datetime));
        let has_parents = spec.resources.iter().any(|r| {
            r.relations
                .iter()
                .any(|rel| rel.kind == RelationKind::BelongsTo)
        });

        let mut sa_imports: Vec<&'static str> = Vec::new();
        if f.auth == AuthFeature::Jwt {
            sa_imports.push("String");
        }
        for field in all_fields() {
            sa_imports.push(match field.ty {
                FieldType::String | FieldType::Email | FieldType::Url | FieldType::Enum { .. } => {
                    "String"
                }
                FieldType::Text => "Text",
                FieldType::Integer => "Integer",
                FieldType::Number => "Float",
                FieldType::Boolean => "Boolean",
                FieldType::Date => "Date",
                FieldType::Datetime => "DateTime",
            });
        }
        if f.timestamps || f.soft_delete {
            sa_imports.push("DateTime");
        }
        if has_parents {
            sa_imports.push("ForeignKey");
        }
        sa_imports.sort_unstable();
        sa_imports.dedup();

        let mut requirements: Vec<&'static str> = REQUIREMENTS.to_vec();
        if database {
            requirements.extend(DATABASE_REQUIREMENTS);
        }
        if f.database == DatabaseFeature::Postgres {
            requirements.extend(POSTGRES_REQUIREMENTS);
        }
        if f.auth == AuthFeature::Jwt {
            requirements.extend(AUTH_REQUIREMENTS);
        }

        let resources: Vec<ResourceView> = spec
            .resources
            .iter()
            .map(|r| ResourceView::new(&spec, r))
            .collect();
        let mut router_modules: Vec<String> = resources.iter().map(|r| r.plural.clone()).collect();
        router_modules.sort();
        let (default_url, docker_url, label) = match f.database {
            DatabaseFeature::Postgres => (
                "postgresql+psycopg://app:app@localhost:5432/app",
                "postgresql+psycopg://app:app@db:5432/app",
                "PostgreSQL",
            ),
            _ => ("sqlite:///./app.db", "sqlite:////srv/data/app.db", "SQLite"),
        };
        Ok(AppView {
            title: python_literal(&spec.name),
            summary: python_literal(&spec.summary),
            version: "1.0.0".into(),
            package: spec.resources[0].plural.replace('_', "-") + "-api",
            auth: f.auth == AuthFeature::Jwt,
            database,
            database_label: label,
            default_database_url: python_literal(default_url),
            default_database_url_plain: default_url,
            docker_database_url: docker_url,
            timestamps: f.timestamps,
            soft_delete: f.soft_delete,
            cors: f.cors,
            rate_limit: f.rate_limit,
            uses_date,
            uses_datetime,
            uses_enum: uses(|t| matches!(t, FieldType::Enum { .. })),
            sa_imports,
            router_modules,
            requirements,
            dev_requirements: DEV_REQUIREMENTS.to_vec(),
            resources,
        })
    }
}

impl ResourceView {
    fn new(spec: &AppSpec, r: &crate::spec::Resource) -> Self {
        let link = |other: &crate::spec::Resource, fk_owner: &str| LinkView {
            name: other.name.clone(),
            plural: other.plural.clone(),
            class: class_name(&other.name),
            label: other.name.replace('_', " "),
            fk: format!("{fk_owner}_id"),
        };
        let parents: Vec<LinkView> = spec.parents_of(r).map(|p| link(p, &p.name)).collect();
        let children: Vec<LinkView> = spec
            .resources
            .iter()
            .filter(|c| {
                c.relations
                    .iter()
                    .any(|rel| rel.kind == RelationKind::BelongsTo && rel.target == r.name)
            })
            .map(|c| link(c, &r.name))
            .collect();
        let fields: Vec<FieldView> = r.fields.iter().map(FieldView::new).collect();
        // Search keys on text are searched with `q`; on any other type they are exact-match
        // filters, each its own query parameter.
        let keys: Vec<&Field> = spec
            .features
            .search
            .iter()
            .filter_map(|s| s.strip_prefix(&format!("{}.", r.name)))
            .filter_map(|name| r.fields.iter().find(|f| f.name == name))
            .collect();
        let filters: Vec<FilterView> = keys.iter().filter_map(|f| FilterView::new(f)).collect();
        let search: Vec<String> = keys
            .iter()
            .filter(|f| !filters.iter().any(|x| x.name == f.name))
            .map(|f| f.name.clone())
            .collect();
        let unique: Vec<String> = r
            .fields
            .iter()
            .filter(|f| f.unique && unique_makes_sense(&f.ty))
            .map(|f| f.name.clone())
            .collect();
        let mut never_null: Vec<String> = r
            .fields
            .iter()
            .filter(|f| f.required || f.default.is_some())
            .map(|f| f.name.clone())
            .collect();
        never_null.extend(parents.iter().map(|p| p.fk.clone()));
        let mut required_names: Vec<String> = r
            .fields
            .iter()
            .filter(|f| f.required)
            .map(|f| f.name.clone())
            .collect();
        required_names.extend(parents.iter().map(|p| p.fk.clone()));
        let mut invalid_cases: Vec<InvalidCase> = fields
            .iter()
            .map(|f| InvalidCase {
                name: f.name.clone(),
                invalid: f.invalid.clone(),
            })
            .collect();
        invalid_cases.extend(parents.iter().map(|p| InvalidCase {
            name: p.fk.clone(),
            invalid: python_literal("not-an-id"),
        }));
        let mut imports = vec![format!("{}_payload", r.name), format!("make_{}", r.name)];
        imports.extend(children.iter().map(|c| format!("make_{}", c.name)));
        imports.sort();
        imports.dedup();
        let search_field = search.first().cloned();
        let search_value = search_field
            .as_ref()
            .and_then(|s| r.fields.iter().find(|f| f.name == *s))
            .map(|f| match f.ty {
                FieldType::Email => python_literal("needle@example.com"),
                FieldType::Url => python_literal("https://needle.example.com/"),
                _ => python_literal("Find the needle here"),
            })
            .unwrap_or_default();
        let first = &r.fields[0];
        let create_conflicts = !unique.is_empty();
        let create_not_found = !parents.is_empty();
        ResourceView {
            name: r.name.clone(),
            plural: r.plural.clone(),
            class: class_name(&r.name),
            label: r.name.replace('_', " "),
            uses_n: fields
                .iter()
                .any(|f| f.sample.contains("{n") || f.sample == "n" || f.sample.starts_with("n ")),
            unique_fields: fields
                .iter()
                .filter(|f| unique.contains(&f.name))
                .cloned()
                .collect(),
            fields,
            parents,
            children,
            search_tuple: py_tuple(&search),
            unique_tuple: py_tuple(&unique),
            never_null_tuple: py_tuple(&never_null),
            never_null,
            required_names,
            imports,
            update_field: first.name.clone(),
            update_value: FieldView::changed_value(first),
            invalid_cases,
            search_field,
            search_value,
            create_conflicts,
            create_not_found,
            filters_use_datetime: filters.iter().any(|f| f.query_type == "datetime.date"),
            filters_use_literal: filters.iter().any(|f| f.query_type.starts_with("Literal")),
            filters,
        }
    }
}

#[cfg(test)]
mod tests;
