//! The view model the templates see: the app and each of its resources with their links, built
//! from the spec with every name checked and every piece of user text already escaped.

use serde::Serialize;

use super::fields::{unique_makes_sense, FieldView, FilterView, InvalidCase};
use super::literal::{py_tuple, python_literal};
use super::{
    with_defaults, GenerateError, AUTH_REQUIREMENTS, DATABASE_REQUIREMENTS, DEV_REQUIREMENTS,
    POSTGRES_REQUIREMENTS, REQUIREMENTS,
};
use crate::spec::{
    class_name, AppSpec, AuthFeature, DatabaseFeature, Field, FieldType, RelationKind,
};

#[derive(Serialize)]
pub(super) struct AppView {
    title: String,
    summary: String,
    version: String,
    package: String,
    pub(super) auth: bool,
    pub(super) database: bool,
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
    email_pattern: &'static str,
    url_pattern: &'static str,
    sa_imports: Vec<&'static str>,
    /// `app.routers` modules, sorted as an import list wants them.
    router_modules: Vec<String>,
    requirements: Vec<&'static str>,
    dev_requirements: Vec<&'static str>,
    pub(super) resources: Vec<ResourceView>,
}

#[derive(Serialize)]
pub(super) struct ResourceView {
    name: String,
    pub(super) plural: String,
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

#[derive(Serialize, Clone)]
struct LinkView {
    name: String,
    plural: String,
    class: String,
    label: String,
    /// The foreign key column on the child: `{parent}_id`.
    fk: String,
}

impl AppView {
    pub(super) fn new(spec: &AppSpec) -> Result<Self, GenerateError> {
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
            // Every app with a database may be given a PostgreSQL DATABASE_URL (on AWS it
            // always is), whatever it defaults to.
            requirements.extend(DATABASE_REQUIREMENTS);
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
            email_pattern: super::schema::EMAIL_PATTERN,
            url_pattern: super::schema::URL_PATTERN,
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
