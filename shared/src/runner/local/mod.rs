//! Local runners: pytest and uvicorn as child processes, in one cached virtualenv that holds
//! every package a generated project pins.
//!
//! `python_env` is the shared virtualenv, `test_runner` and `deployer` the two runners
//! (`review` runs the review's tools for the test runner);
//! `process` starts and stops their child processes and `files` writes a version out for them;
//! `logs` reads a deployed app's log back.

mod deployer;
mod files;
mod logs;
mod postgres;
mod process;
mod python_env;
mod review;
mod test_runner;

pub use deployer::LocalDeployer;
pub use test_runner::LocalTestRunner;

use std::path::PathBuf;
use std::time::Duration;

/// Where and how the local runners work.
#[derive(Debug, Clone)]
pub struct LocalRunnerSettings {
    /// The Python that makes the virtualenv, e.g. `python3`.
    pub python: String,
    /// Where virtualenvs live; each is named after the hash of its requirements.
    pub venv_root: PathBuf,
    /// Every pinned package a project may need (`name==version`), installed once into the
    /// shared virtualenv.
    pub requirements: Vec<String>,
    /// Scratch space for test runs.
    pub work_dir: PathBuf,
    /// Where deployments keep their files, data and secrets.
    pub deploy_dir: PathBuf,
    /// Longest a test suite may run.
    pub test_timeout: Duration,
    /// Longest a deployment may take to answer its health check.
    pub deploy_timeout: Duration,
    /// The PostgreSQL server apps that keep their data in PostgreSQL get a database on, one
    /// per project environment (`KILN_POSTGRES_URL`).
    pub postgres_url: Option<String>,
    /// The OSV API pip-audit asks in a review (`KILN_OSV_URL`; osv.dev when unset).
    pub osv_url: Option<String>,
}

impl LocalRunnerSettings {
    /// The shared virtualenv's directory: `venv_root/py-<hash of the requirements>`, so that
    /// another set of requirements gets a virtualenv of its own.
    pub fn venv_dir(&self) -> PathBuf {
        let list: String = self.requirements.iter().map(|r| format!("{r}\n")).collect();
        let key = &crate::model::sha256_hex(list.as_bytes())[..16];
        self.venv_root.join(format!("py-{key}"))
    }
}
