//! The design that follows from a spec: the endpoints, data model and stack of what the
//! generator will write, as the architect presents it.

use crate::spec::{AppSpec, AuthFeature, DatabaseFeature, Design, Endpoint, FieldType};

/// The design that follows from a spec. Pure: the same spec always gives the same design.
pub fn design_for(spec: &AppSpec) -> Design {
    // Describe what will really be generated, defaults included.
    let spec = &super::with_defaults(spec);
    let mut endpoints = vec![Endpoint {
        method: "GET".into(),
        path: "/health".into(),
        summary: "liveness check".into(),
    }];
    if spec.features.auth == AuthFeature::Jwt {
        endpoints.push(Endpoint {
            method: "POST".into(),
            path: "/auth/register".into(),
            summary: "create a user account".into(),
        });
        endpoints.push(Endpoint {
            method: "POST".into(),
            path: "/auth/login".into(),
            summary: "exchange credentials for a JWT".into(),
        });
        endpoints.push(Endpoint {
            method: "GET".into(),
            path: "/auth/me".into(),
            summary: "the account of the token".into(),
        });
    }
    let mut data_model = Vec::new();
    for r in &spec.resources {
        let (one, many) = (&r.name, &r.plural);
        for (method, path, summary) in [
            (
                "GET",
                format!("/{many}"),
                format!("list {many} (paginated)"),
            ),
            (
                "POST",
                format!("/{many}"),
                format!("create {}", with_article(one)),
            ),
            ("GET", format!("/{many}/{{id}}"), format!("get one {one}")),
            (
                "PATCH",
                format!("/{many}/{{id}}"),
                format!("update a {one}"),
            ),
            (
                "DELETE",
                format!("/{many}/{{id}}"),
                format!("delete a {one}"),
            ),
        ] {
            endpoints.push(Endpoint {
                method: method.into(),
                path,
                summary,
            });
        }
        let mut columns = vec!["id".to_owned()];
        columns.extend(
            r.fields
                .iter()
                .map(|f| format!("{}: {}", f.name, type_name(&f.ty))),
        );
        columns.extend(
            r.relations
                .iter()
                .filter(|rel| rel.kind == crate::spec::RelationKind::BelongsTo)
                .map(|rel| format!("{}_id → {}", rel.target, rel.target)),
        );
        data_model.push(format!("{many}({})", columns.join(", ")));
    }
    let mut stack = vec!["FastAPI".to_owned(), "Pydantic v2".to_owned()];
    match spec.features.database {
        DatabaseFeature::None => stack.push("in-memory repository".into()),
        DatabaseFeature::Sqlite => stack.push("SQLAlchemy 2 on SQLite".into()),
        DatabaseFeature::Postgres => stack.push("SQLAlchemy 2 on PostgreSQL".into()),
    }
    if spec.features.auth == AuthFeature::Jwt {
        stack.push("JWT bearer tokens (PyJWT), PBKDF2-SHA256 password hashes".into());
    }
    stack.extend(["uvicorn".to_owned(), "pytest".to_owned()]);
    Design {
        endpoints,
        data_model,
        stack,
    }
}

/// "a task", "an author": the identifier with its indefinite article, underscores as spaces.
fn with_article(name: &str) -> String {
    let words = name.replace('_', " ");
    let article = if words.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    format!("{article} {words}")
}

fn type_name(ty: &FieldType) -> String {
    match ty {
        FieldType::Enum { values } => format!("enum({})", values.join("|")),
        other => serde_json::to_value(other)
            .ok()
            .and_then(|v| v["kind"].as_str().map(str::to_owned))
            .unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::Resource;

    #[test]
    fn every_resource_gets_five_endpoints() {
        let mut spec = AppSpec::default();
        for (one, many) in [("task", "tasks"), ("project", "projects")] {
            spec.resources.push(Resource {
                name: one.into(),
                plural: many.into(),
                fields: vec![],
                relations: vec![],
            });
        }
        spec.features.auth = AuthFeature::Jwt;
        let d = design_for(&spec);
        let routes: Vec<String> = d
            .endpoints
            .iter()
            .map(|e| format!("{} {}", e.method, e.path))
            .collect();
        assert_eq!(
            routes,
            [
                "GET /health",
                "POST /auth/register",
                "POST /auth/login",
                "GET /auth/me",
                "GET /tasks",
                "POST /tasks",
                "GET /tasks/{id}",
                "PATCH /tasks/{id}",
                "DELETE /tasks/{id}",
                "GET /projects",
                "POST /projects",
                "GET /projects/{id}",
                "PATCH /projects/{id}",
                "DELETE /projects/{id}",
            ]
        );
    }
}
