//! Apps that run on PostgreSQL, deployed by `kiln serve`: each project environment gets a
//! database of its own on the server `KILN_POSTGRES_URL` names, made at its first deploy and
//! kept across versions (each version migrates it at start).

use std::path::Path;

use uuid::Uuid;

use crate::model::Environment;
use crate::runner::RunnerError;

/// Whether a version's files run on PostgreSQL: its requirements pin the driver.
pub(super) fn runs_on_postgres(files: &[(String, Vec<u8>)]) -> bool {
    files.iter().any(|(path, contents)| {
        path == "requirements.txt"
            && String::from_utf8_lossy(contents)
                .lines()
                .any(|l| l.trim_start().starts_with("psycopg"))
    })
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
