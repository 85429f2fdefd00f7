//! A generated app's data survives its next versions: six versions of one project, each
//! changing its tables (new fields with and without defaults, a new table, a wider type, a
//! searched field, timestamps, a renamed table and column, a dropped field, a new required
//! field, a new linked table), each started over the database the one before left with rows
//! in it. Every row written by any version is still there, with its values, and every list,
//! read and create answers (tests/python/migration_driver.py runs each version's app).

use kiln::generator::{generate_version, SchemaVersion};
use kiln::spec::{AppSpec, Renamed};
use kiln_integration_tests::postgres;
use serde_json::{json, Value};

fn field(name: &str, kind: &str, required: bool, default: Value) -> Value {
    json!({"name": name, "type": {"kind": kind}, "required": required, "unique": false,
           "default": default})
}

fn spec(resources: Value, search: &[&str], timestamps: bool) -> AppSpec {
    serde_json::from_value(json!({
        "name": "Tasks", "summary": "Tasks and their labels.",
        "resources": resources,
        "features": {"auth": "none", "database": "sqlite", "pagination": true,
                     "search": search, "timestamps": timestamps, "soft_delete": false,
                     "cors": false, "rate_limit": false},
    }))
    .unwrap()
}

fn resource(name: &str, plural: &str, fields: Vec<Value>, parents: &[&str]) -> Value {
    let relations: Vec<Value> = parents
        .iter()
        .map(|p| json!({"kind": "belongs_to", "target": p}))
        .collect();
    json!({"name": name, "plural": plural, "fields": fields, "relations": relations})
}

/// The six versions, each with the renames since the one before.
fn versions() -> Vec<(AppSpec, Vec<Renamed>)> {
    let title = |kind: &str| field("title", kind, true, Value::Null);
    let done = field("done", "boolean", false, json!(false));
    let unique_name = || {
        let mut f = field("name", "string", true, Value::Null);
        f["unique"] = json!(true);
        f
    };
    vec![
        (
            spec(
                json!([resource(
                    "task",
                    "tasks",
                    vec![title("string"), done.clone()],
                    &[]
                )]),
                &[],
                false,
            ),
            vec![],
        ),
        // A field with a default, an optional one, and a new table.
        (
            spec(
                json!([
                    resource(
                        "task",
                        "tasks",
                        vec![
                            title("string"),
                            done.clone(),
                            field("priority", "integer", true, json!(3)),
                            field("notes", "text", false, Value::Null)
                        ],
                        &[]
                    ),
                    resource("tag", "tags", vec![unique_name()], &[]),
                ]),
                &[],
                false,
            ),
            vec![],
        ),
        // A wider type, a searched field, timestamps on every table.
        (
            spec(
                json!([
                    resource(
                        "task",
                        "tasks",
                        vec![
                            title("text"),
                            done.clone(),
                            field("priority", "integer", true, json!(3)),
                            field("notes", "text", false, Value::Null)
                        ],
                        &[]
                    ),
                    resource("tag", "tags", vec![unique_name()], &[]),
                ]),
                &["task.title"],
                true,
            ),
            vec![],
        ),
        // Tags are labels now, and a task's priority its rank.
        (
            spec(
                json!([
                    resource(
                        "task",
                        "tasks",
                        vec![
                            title("text"),
                            done.clone(),
                            field("rank", "integer", true, json!(3)),
                            field("notes", "text", false, Value::Null)
                        ],
                        &[]
                    ),
                    resource("label", "labels", vec![unique_name()], &[]),
                ]),
                &["task.title"],
                true,
            ),
            vec![
                Renamed::Resource {
                    from: "tag".into(),
                    to: "label".into(),
                },
                Renamed::Field {
                    resource: "task".into(),
                    from: "priority".into(),
                    to: "rank".into(),
                },
            ],
        ),
        // Notes are gone; an estimate everyone must give from now on.
        (
            spec(
                json!([
                    resource(
                        "task",
                        "tasks",
                        vec![
                            title("text"),
                            done.clone(),
                            field("rank", "integer", true, json!(3)),
                            field("estimate", "integer", true, Value::Null)
                        ],
                        &[]
                    ),
                    resource("label", "labels", vec![unique_name()], &[]),
                ]),
                &["task.title"],
                true,
            ),
            vec![],
        ),
        // Label names may repeat; comments on a task.
        (
            spec(
                json!([
                    resource(
                        "task",
                        "tasks",
                        vec![
                            title("text"),
                            done,
                            field("rank", "integer", true, json!(3)),
                            field("estimate", "integer", true, Value::Null)
                        ],
                        &[]
                    ),
                    resource(
                        "label",
                        "labels",
                        vec![field("name", "string", true, Value::Null)],
                        &[]
                    ),
                    resource(
                        "comment",
                        "comments",
                        vec![field("body", "text", true, Value::Null)],
                        &["task"]
                    ),
                ]),
                &["task.title"],
                true,
            ),
            vec![],
        ),
    ]
}

#[test]
fn every_row_survives_six_versions_of_changing_tables_on_sqlite() {
    let root = tempfile::tempdir().unwrap();
    let db = format!("sqlite:///{}", root.path().join("app.db").display());
    six_versions(root.path(), &db);
}

#[test]
fn every_row_survives_six_versions_of_changing_tables_on_postgresql() {
    let server = postgres::Cluster::start();
    let root = tempfile::tempdir().unwrap();
    six_versions(root.path(), &server.database("chain"));
}

fn six_versions(root: &std::path::Path, db: &str) {
    let chain = versions();
    // What each table must hold, by path: (id, the values that must have stayed).
    let mut tasks: Vec<Value> = Vec::new();
    let mut labels: Vec<Value> = Vec::new();
    let mut comments: Vec<Value> = Vec::new();
    for k in 0..chain.len() {
        let number = k as u32 + 1;
        let history: Vec<SchemaVersion> = chain[..=k]
            .iter()
            .enumerate()
            .map(|(i, (spec, renames))| SchemaVersion {
                number: i as u32 + 1,
                spec,
                renames,
            })
            .collect();
        let files = generate_version(&history).unwrap();
        let dir = root.join(format!("v{number}"));
        kiln_integration_tests::write_files(&dir, &files);
        if std::env::var_os("KILN_SHOW_MIGRATIONS").is_some() && number == 6 {
            for f in files
                .iter()
                .filter(|f| f.path.starts_with("migrations/versions/"))
            {
                println!("==> {}\n{}", f.path, f.contents);
            }
        }

        // Names as this version has them.
        let (tag_path, priority) = if number >= 4 {
            ("/labels", "rank")
        } else {
            ("/tags", "priority")
        };
        if number == 2 {
            // Rows written before the priority existed get its default.
            for t in &mut tasks {
                t["priority"] = json!(3);
            }
        }
        if number == 4 {
            for t in &mut tasks {
                let p = t.as_object_mut().unwrap().remove("priority").unwrap();
                t["rank"] = p;
            }
        }
        if number == 5 {
            for t in &mut tasks {
                t.as_object_mut().unwrap().remove("notes");
                // Rows written before the estimate was asked for get 0.
                t["estimate"] = json!(0);
            }
        }
        let mut expect = serde_json::Map::new();
        expect.insert("/tasks".into(), json!(tasks));
        if number >= 2 {
            expect.insert(tag_path.into(), json!(labels));
        }
        if number >= 6 {
            expect.insert("/comments".into(), json!(comments));
        }
        let mut task_bodies = Vec::new();
        for n in 0..2 {
            let mut body =
                json!({"title": format!("task {n} of version {number}"), "done": n == 1});
            if number >= 2 {
                body[priority] = json!(n + 1);
            }
            if (2..5).contains(&number) {
                body["notes"] = json!(format!("notes of version {number}"));
            }
            if number >= 5 {
                body["estimate"] = json!(10 * number + n);
            }
            task_bodies.push(body);
        }
        let mut create = serde_json::Map::new();
        create.insert("/tasks".into(), json!(task_bodies));
        if number >= 2 {
            create.insert(
                tag_path.into(),
                json!([{"name": format!("label {number}")}]),
            );
        }
        if number >= 6 {
            let first = tasks[0]["id"].clone();
            create.insert(
                "/comments".into(),
                json!([{"body": "still here", "task_id": first}]),
            );
        }
        let plan = json!({"expect": expect, "create": create});

        let out = run_driver(&dir, db, &plan);
        let problems = out["problems"].as_array().unwrap();
        assert!(
            problems.is_empty(),
            "version {number}:\n{}",
            problems
                .iter()
                .map(|p| p.as_str().unwrap())
                .collect::<Vec<_>>()
                .join("\n")
        );
        let keep = |row: &Value, keys: &[&str]| -> Value {
            Value::Object(
                keys.iter()
                    .filter_map(|k| Some((k.to_string(), row.get(*k)?.clone())))
                    .collect(),
            )
        };
        for row in out["created"]["/tasks"].as_array().unwrap() {
            tasks.push(keep(
                row,
                &["id", "title", "done", priority, "notes", "estimate"],
            ));
        }
        for row in out["created"][tag_path].as_array().into_iter().flatten() {
            labels.push(keep(row, &["id", "name"]));
        }
        for row in out["created"]["/comments"].as_array().into_iter().flatten() {
            comments.push(keep(row, &["id", "body", "task_id"]));
        }
    }
    // The image holds what the app reads at start: a directory with only what the Dockerfile
    // copies starts the last version over the same database.
    let image = root.join("image");
    std::fs::create_dir_all(&image).unwrap();
    let last = root.join(format!("v{}", chain.len()));
    let dockerfile = std::fs::read_to_string(last.join("Dockerfile")).unwrap();
    for line in dockerfile.lines().filter(|l| l.starts_with("COPY ")) {
        let parts: Vec<&str> = line.split_whitespace().collect();
        let to = image.join(parts[2].trim_start_matches("./"));
        let copied = std::process::Command::new("cp")
            .arg("-r")
            .arg(last.join(parts[1]))
            .arg(&to)
            .status()
            .unwrap();
        assert!(copied.success(), "{line}");
    }
    let plan = json!({"expect": {"/tasks": tasks}, "create": {}});
    let out = run_driver(&image, db, &plan);
    assert_eq!(out["problems"], json!([]), "from the image's files");

    // The revisions are ordinary Python, clean by the project's own linter.
    let ruff = kiln_integration_tests::run_in(
        &last,
        &kiln_integration_tests::python_tool("ruff"),
        &["check", "--no-cache", "."],
    );
    assert!(
        ruff.status.success(),
        "{}",
        kiln_integration_tests::show(&ruff)
    );
    assert_eq!(tasks.len(), 12);
    assert_eq!(labels.len(), 5);
}

/// Writes version `number` (1-based) of the chain into `root/v{number}`.
fn write_version(
    root: &std::path::Path,
    chain: &[(AppSpec, Vec<Renamed>)],
    number: usize,
) -> std::path::PathBuf {
    let history: Vec<SchemaVersion> = chain[..number]
        .iter()
        .enumerate()
        .map(|(i, (spec, renames))| SchemaVersion {
            number: i as u32 + 1,
            spec,
            renames,
        })
        .collect();
    let dir = root.join(format!("v{number}"));
    kiln_integration_tests::write_files(&dir, &generate_version(&history).unwrap());
    dir
}

fn python_in(dir: &std::path::Path, db: &str, code: &str) {
    let out = std::process::Command::new(kiln_integration_tests::python())
        .args(["-c", code])
        .current_dir(dir)
        .env("PYTHONPATH", dir)
        .env("DATABASE_URL", db)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The last version's revisions undo their changes: the database goes back to version 3's
/// tables, renamed columns and tables under their old names with their values, and version 3's
/// app reads every row.
#[test]
fn a_rollback_takes_the_database_back_with_its_rows_on_sqlite() {
    let root = tempfile::tempdir().unwrap();
    let db = format!("sqlite:///{}", root.path().join("app.db").display());
    rollback(root.path(), &db);
}

#[test]
fn a_rollback_takes_the_database_back_with_its_rows_on_postgresql() {
    let server = postgres::Cluster::start();
    let root = tempfile::tempdir().unwrap();
    rollback(root.path(), &server.database("rollback"));
}

fn rollback(root: &std::path::Path, db: &str) {
    let chain = versions();
    let first = write_version(root, &chain, 2);
    let plan = json!({"expect": {}, "create": {
        "/tasks": [{"title": "kept", "done": true, "priority": 5, "notes": "n"}],
        "/tags": [{"name": "red"}],
    }});
    assert_eq!(run_driver(&first, db, &plan)["problems"], json!([]));
    let last = write_version(root, &chain, 6);
    let plan = json!({"expect": {"/tasks": [{"id": 1, "title": "kept", "rank": 5, "estimate": 0}],
                                 "/labels": [{"id": 1, "name": "red"}]}, "create": {}});
    assert_eq!(run_driver(&last, db, &plan)["problems"], json!([]));
    python_in(
        &last,
        db,
        "from alembic.config import main; main(argv=['downgrade', 'v0003'])",
    );
    let third = write_version(root, &chain, 3);
    let plan = json!({"expect": {"/tasks": [{"id": 1, "title": "kept", "priority": 5, "notes": null}],
                                 "/tags": [{"id": 1, "name": "red"}]},
                      "create": {"/tasks": [{"title": "after the rollback", "done": false, "priority": 1}]}});
    assert_eq!(run_driver(&third, db, &plan)["problems"], json!([]));
}

/// A database made before apps had migrations (the tables made from the models, nothing
/// recorded) is recognised by its tables, and brought forward with its rows.
#[test]
fn a_database_made_before_migrations_is_brought_forward() {
    let root = tempfile::tempdir().unwrap();
    let db = format!("sqlite:///{}", root.path().join("app.db").display());
    let chain = versions();
    let second = write_version(root.path(), &chain, 2);
    python_in(
        &second,
        &db,
        "from sqlalchemy import create_engine, text\n\
         from app import models\n\
         from app.config import Settings\n\
         engine = create_engine(Settings().database_url)\n\
         models.Base.metadata.create_all(engine)\n\
         with engine.begin() as c:\n    \
             c.execute(text(\"insert into tasks (title, done, priority) values ('old', 0, 2)\"))\n",
    );
    let last = write_version(root.path(), &chain, 6);
    let plan = json!({"expect": {"/tasks": [{"id": 1, "title": "old", "rank": 2, "estimate": 0}],
                                 "/labels": []}, "create": {}});
    assert_eq!(run_driver(&last, &db, &plan)["problems"], json!([]));

    // Tables no version made are left alone, and the app says so.
    let stranger = root.path().join("other.db");
    let stranger_url = format!("sqlite:///{}", stranger.display());
    python_in(&second, &stranger_url, "import sqlite3, os\nsqlite3.connect(os.environ['DATABASE_URL'][10:]).execute('create table invoices (id integer)')");
    let out = std::process::Command::new(kiln_integration_tests::python())
        .args(["-c", "from app.main import create_app; create_app()"])
        .current_dir(&last)
        .env("PYTHONPATH", &last)
        .env("DATABASE_URL", format!("sqlite:///{}", stranger.display()))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("tables no version of this app made"));
}

fn run_driver(dir: &std::path::Path, db: &str, plan: &Value) -> Value {
    use std::io::Write;
    let mut child = std::process::Command::new(kiln_integration_tests::python())
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/python/migration_driver.py"
        ))
        .current_dir(dir)
        .env("PYTHONPATH", dir)
        .env("DATABASE_URL", db)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(plan.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[path = "migrations_retype.rs"]
mod retype;
