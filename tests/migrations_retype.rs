//! A field whose type changes keeps every stored value that reads as the new type; a value
//! that does not gets the field's default, or is left empty when the field may be empty
//! (never a failed start, never a value silently made another: SQLite's CAST reads
//! "2024-05-01" as the number 2024). Undone by a rollback, the values read as before.

use super::{field, resource, run_driver, spec};
use kiln::generator::{generate_version, SchemaVersion};
use kiln::spec::AppSpec;
use kiln_integration_tests::postgres;
use serde_json::{json, Value};

fn enumeration(name: &str, values: &[&str], default: &str) -> Value {
    json!({"name": name, "type": {"kind": "enum", "values": values}, "required": true,
           "unique": false, "default": default})
}

fn two_versions() -> [AppSpec; 2] {
    let title = field("title", "string", true, Value::Null);
    [
        spec(
            json!([resource(
                "task",
                "tasks",
                vec![
                    title.clone(),
                    field("estimate", "string", false, Value::Null),
                    field("due", "string", false, Value::Null),
                    enumeration("status", &["todo", "doing", "done"], "todo"),
                    field("rating", "number", false, Value::Null),
                ],
                &[]
            )]),
            &[],
            false,
        ),
        spec(
            json!([resource(
                "task",
                "tasks",
                vec![
                    title,
                    field("estimate", "integer", true, json!(0)),
                    field("due", "date", false, Value::Null),
                    enumeration("status", &["open", "doing"], "open"),
                    field("rating", "integer", false, Value::Null),
                ],
                &[]
            )]),
            &[],
            false,
        ),
    ]
}

fn write(root: &std::path::Path, specs: &[AppSpec]) -> std::path::PathBuf {
    let history: Vec<SchemaVersion> = specs
        .iter()
        .enumerate()
        .map(|(i, spec)| SchemaVersion {
            number: i as u32 + 1,
            spec,
            renames: &[],
        })
        .collect();
    let dir = root.join(format!("v{}", specs.len()));
    kiln_integration_tests::write_files(&dir, &generate_version(&history).unwrap());
    dir
}

fn retyped(root: &std::path::Path, db: &str) {
    let specs = two_versions();
    let first = write(root, &specs[..1]);
    let plan = json!({"expect": {}, "create": {"/tasks": [
        {"title": "a", "estimate": "12", "due": "2024-05-01", "status": "doing", "rating": 4.0},
        {"title": "b", "estimate": "about a week", "due": "soon", "status": "todo", "rating": 3.5},
        {"title": "c", "estimate": " 7 ", "due": null, "status": "done", "rating": null},
    ]}});
    assert_eq!(run_driver(&first, db, &plan)["problems"], json!([]));

    let second = write(root, &specs);
    let plan = json!({"expect": {"/tasks": [
        {"id": 1, "title": "a", "estimate": 12, "due": "2024-05-01", "status": "doing", "rating": 4},
        {"id": 2, "title": "b", "estimate": 0, "due": null, "status": "open", "rating": null},
        {"id": 3, "title": "c", "estimate": 7, "due": null, "status": "open", "rating": null},
    ]}, "create": {"/tasks": [{"title": "d", "estimate": 3, "due": "2025-01-31", "status": "doing"}]}});
    assert_eq!(run_driver(&second, db, &plan)["problems"], json!([]));
    let ruff = kiln_integration_tests::run_in(
        &second,
        &kiln_integration_tests::python_tool("ruff"),
        &["check", "--no-cache", "."],
    );
    assert!(
        ruff.status.success(),
        "{}",
        kiln_integration_tests::show(&ruff)
    );

    // Rolled back, the first version reads what the second kept, as its own types.
    super::python_in(
        &second,
        db,
        "from alembic.config import main; main(argv=['downgrade', 'v0001'])",
    );
    let plan = json!({"expect": {"/tasks": [
        {"id": 1, "title": "a", "estimate": "12", "due": "2024-05-01", "status": "doing", "rating": 4.0},
        {"id": 2, "title": "b", "estimate": "0", "due": null, "status": "todo", "rating": null},
        {"id": 3, "title": "c", "estimate": "7", "due": null, "status": "todo", "rating": null},
        {"id": 4, "title": "d", "estimate": "3", "due": "2025-01-31", "status": "doing", "rating": null},
    ]}, "create": {}});
    assert_eq!(run_driver(&first, db, &plan)["problems"], json!([]));
}

#[test]
fn retyped_fields_keep_what_converts_on_sqlite() {
    let root = tempfile::tempdir().unwrap();
    let db = format!("sqlite:///{}", root.path().join("app.db").display());
    retyped(root.path(), &db);
}

#[test]
fn retyped_fields_keep_what_converts_on_postgresql() {
    let server = postgres::Cluster::start();
    let root = tempfile::tempdir().unwrap();
    retyped(root.path(), &server.database("retype"));
}
