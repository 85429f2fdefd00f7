//! Apps that run on PostgreSQL, deployed by `kiln serve`: each project environment gets a
//! database of its own on the server `KILN_POSTGRES_URL` names, made at its first deploy and
//! kept across versions (each version migrates it at start).

use std::path::Path;

use uuid::Uuid;

use crate::model::Environment;
use crate::runner::RunnerError;

/// Whether a version's files run on PostgreSQL: the app's own default `DATABASE_URL` (in
/// `app/config.py`) names PostgreSQL. Every app with a database pins the driver (it may be
/// given a PostgreSQL URL wherever it is deployed), so the pin says nothing; the default says
/// where the app expects its data when nobody says otherwise.
pub(super) fn runs_on_postgres(files: &[(String, Vec<u8>)]) -> bool {
    files
        .iter()
        .find(|(path, _)| path == "app/config.py")
        .and_then(|(_, contents)| default_database_url(&String::from_utf8_lossy(contents)))
        .is_some_and(|url| url.starts_with("postgresql"))
}

/// The default of `DATABASE_URL` in a generated `app/config.py`: the string literal after
/// the variable's name on the line that reads it (`_env("DATABASE_URL", "…")`).
fn default_database_url(config: &str) -> Option<String> {
    let line = config
        .lines()
        .find(|l| l.contains("_env(") && l.contains("DATABASE_URL"))?;
    // Past the name and its closing quote, the next literal is the default.
    let rest = line.split_once("DATABASE_URL")?.1.get(1..)?;
    let start = rest.find(['"', '\''])?;
    let quote = rest[start..].chars().next()?;
    let value = &rest[start + 1..];
    Some(value[..value.find(quote)?].to_owned())
}

/// The database of a project environment: `kiln_<project>_<environment>`, within
/// PostgreSQL's 63 characters.
pub(super) fn database_name(project_id: Uuid, environment: Environment) -> String {
    format!("kiln_{}_{}", project_id.simple(), environment.as_str())
}

/// What the deploy says when the version needs PostgreSQL and none is set.
pub(super) fn missing_server(version: u32) -> RunnerError {
    RunnerError::Missing(format!(
        "version {version} keeps its data in PostgreSQL, and this server has none to put it on: \
         set KILN_POSTGRES_URL to a PostgreSQL server kiln serve may create databases on (for \
         example postgresql://kiln@127.0.0.1:5432/postgres), restart it, and deploy again"
    ))
}

/// Makes the environment's database on the server if it is not there yet; answers its
/// SQLAlchemy URL (psycopg 3), for the app's DATABASE_URL.
pub(super) async fn environment_database(
    python: &Path,
    server: &str,
    project_id: Uuid,
    environment: Environment,
) -> Result<String, RunnerError> {
    let name = database_name(project_id, environment);
    let out = tokio::process::Command::new(python)
        .args(["-c", CREATE_DATABASE])
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("KILN_SERVER_URL", server)
        .env("KILN_DATABASE", &name)
        .output()
        .await
        .map_err(|e| RunnerError::Process(e.to_string()))?;
    if !out.status.success() {
        let why = String::from_utf8_lossy(&out.stderr);
        let last = why.lines().last().unwrap_or_default();
        return Err(RunnerError::Missing(format!(
            "could not make the database {name} on KILN_POSTGRES_URL's server: {last}"
        )));
    }
    database_url(server, &name)
}

/// The server's URL with the database `name` in place of its own, for SQLAlchemy and psycopg.
pub(super) fn database_url(server: &str, name: &str) -> Result<String, RunnerError> {
    let mut url = reqwest::Url::parse(server)
        .map_err(|e| RunnerError::Missing(format!("KILN_POSTGRES_URL is not a URL: {e}")))?;
    url.set_path(&format!("/{name}"));
    let rest = url.as_str().split_once("://").map_or("", |(_, rest)| rest);
    Ok(format!("postgresql+psycopg://{rest}"))
}

/// Makes the database named by KILN_DATABASE, if missing, on the server of KILN_SERVER_URL.
const CREATE_DATABASE: &str = r#"
import os
import psycopg
from psycopg import sql

name = os.environ["KILN_DATABASE"]
with psycopg.connect(os.environ["KILN_SERVER_URL"], autocommit=True, connect_timeout=10) as conn:
    found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
    if found is None:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
"#;

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> Vec<(String, Vec<u8>)> {
        vec![
            ("app/config.py".into(), text.as_bytes().to_vec()),
            (
                "requirements.txt".into(),
                b"SQLAlchemy==2.1.9\npsycopg[binary]==3.3.9\n".to_vec(),
            ),
        ]
    }

    #[test]
    fn an_app_runs_on_postgres_when_its_default_url_names_postgres_whatever_it_pins() {
        let line = |url: &str| {
            format!(
                "    database_url: str = field(default_factory=lambda: _env(\"DATABASE_URL\", \"{url}\"))\n"
            )
        };
        assert!(runs_on_postgres(&config(&line(
            "postgresql+psycopg://app:app@localhost:5432/app"
        ))));
        // SQLite apps pin the driver too, for AWS: the pin does not decide.
        assert!(!runs_on_postgres(&config(&line("sqlite:///./app.db"))));
        // No database at all, or no config.
        assert!(!runs_on_postgres(&config("BASE_PATH = ''\n")));
        assert!(!runs_on_postgres(&[(
            "requirements.txt".into(),
            b"psycopg[binary]==3.3.9\n".to_vec()
        )]));
        assert_eq!(
            default_database_url("x = _env('DATABASE_URL', 'postgresql://h/d')").as_deref(),
            Some("postgresql://h/d")
        );
    }

    /// The generator's own files: its PostgreSQL flavour runs on PostgreSQL, its SQLite one
    /// (which pins the driver too) and its in-memory one do not.
    #[test]
    fn generated_projects_run_on_postgres_only_in_their_postgres_flavour() {
        let specs = [
            (
                include_str!("../../../../tests/golden/specs/notes_postgres.json"),
                true,
            ),
            (
                include_str!("../../../../tests/golden/specs/library_sqlite_auth.json"),
                false,
            ),
            (
                include_str!("../../../../tests/golden/specs/typed_tasks_in_memory.json"),
                false,
            ),
        ];
        for (json, postgres) in specs {
            let spec: crate::spec::AppSpec = serde_json::from_str(json).unwrap();
            let files: Vec<(String, Vec<u8>)> = crate::generator::generate_code(&spec)
                .unwrap()
                .into_iter()
                .map(|f| (f.path, f.contents.into_bytes()))
                .collect();
            assert_eq!(runs_on_postgres(&files), postgres, "{}", spec.name);
        }
    }

    #[test]
    fn the_url_names_the_environment_database_and_keeps_the_rest() {
        assert_eq!(
            database_url(
                "postgresql://kiln:s3cret@db.internal:5433/postgres?sslmode=require",
                "kiln_x_dev"
            )
            .unwrap(),
            "postgresql+psycopg://kiln:s3cret@db.internal:5433/kiln_x_dev?sslmode=require"
        );
        assert_eq!(
            database_url("postgres://127.0.0.1", "d").unwrap(),
            "postgresql+psycopg://127.0.0.1/d"
        );
        let id = Uuid::nil();
        let name = database_name(id, Environment::Staging);
        assert!(name.len() <= 63, "{name}");
        assert_eq!(name, "kiln_00000000000000000000000000000000_staging");
    }
}
