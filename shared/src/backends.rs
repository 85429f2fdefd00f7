//! Builds the backends a [`Config`] asks for, once, at start.

use std::sync::Arc;
use std::time::Duration;

use crate::agents::AgentContext;
use crate::api::{AppState, Authenticator, Limits};
use crate::config::{Backend, Config};
use crate::model::DeploymentStatus;
use crate::runner::{LocalRunnerSettings, LocalTestRunner};
use crate::store::{FsArtifactStore, ObservedStore, ProjectStore, SqliteStore, StoreError};
use crate::workflow::{fail_interrupted_runs, LocalWorkflow, WorkflowError};

/// Why the backends could not be built.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Listening beyond loopback without a token would hand everything to anyone on the network.
    #[error(
        "KILN_BIND={0} is not a loopback address: set KILN_TOKEN so that clients must authenticate"
    )]
    TokenRequired(std::net::SocketAddr),
    /// This build cannot serve the asked-for backend.
    #[error("KILN_BACKEND=aws is not available in this build yet; use KILN_BACKEND=local")]
    Unsupported,
    /// A store could not be opened.
    #[error("could not open the store under {dir}: {source}")]
    Store {
        /// The data directory.
        dir: String,
        /// The cause.
        source: StoreError,
    },
    /// Interrupted runs could not be recorded as failed.
    #[error("could not recover interrupted runs: {0}")]
    Recovery(#[from] WorkflowError),
}

/// The API state for the local backend: SQLite and files under `config.data_dir`, pytest and
/// uvicorn as child processes, the pipeline interpreted in-process. Runs a previous process
/// left unfinished are marked failed, and its deployments (which ended with it) stopped.
pub async fn local_state(config: &Config) -> Result<AppState, StartError> {
    if config.backend != Backend::Local {
        return Err(StartError::Unsupported);
    }
    if !config.is_loopback() && config.token.is_none() {
        return Err(StartError::TokenRequired(config.bind));
    }
    let dir = &config.data_dir;
    let store_error = |source| StartError::Store {
        dir: dir.display().to_string(),
        source,
    };
    let sqlite = Arc::new(SqliteStore::open(&dir.join("kiln.db")).map_err(store_error)?);
    let projects = Arc::new(ObservedStore::new(sqlite, 1024));
    let (tests, deployer) = LocalTestRunner::with_deployer(LocalRunnerSettings {
        python: config.python.clone(),
        venv_root: config.venv_dir.clone(),
        work_dir: dir.join("work"),
        deploy_dir: dir.join("deployments"),
        test_timeout: Duration::from_secs(config.test_timeout_secs),
        deploy_timeout: Duration::from_secs(config.deploy_timeout_secs),
    });
    let ctx = AgentContext {
        projects: projects.clone(),
        artifacts: Arc::new(FsArtifactStore::new(&dir.join("artifacts"))),
        repos: Some(dir.join("repos")),
        tests,
        deployer,
    };
    let interrupted = fail_interrupted_runs(&ctx).await?;
    if interrupted > 0 {
        tracing::warn!(
            interrupted,
            "marked runs left unfinished by a previous process as failed"
        );
    }
    let stopped = stop_orphaned_deployments(projects.as_ref())
        .await
        .map_err(store_error)?;
    if stopped > 0 {
        tracing::warn!(
            stopped,
            "deployments of a previous process ended with it; deploy again to restart them"
        );
    }
    Ok(AppState {
        events: Some(projects),
        workflow: Arc::new(LocalWorkflow::new(ctx.clone(), config.pipeline_time_scale)),
        agents: ctx,
        auth: Authenticator::Bearer {
            token: config.token.as_deref().map(Arc::from),
        },
        limits: Limits::from_config(config),
    })
}

/// Local deployments are child processes and end with the server: record them as stopped.
async fn stop_orphaned_deployments(projects: &dyn ProjectStore) -> Result<usize, StoreError> {
    let live = projects.live_deployments().await?;
    for mut d in live.iter().cloned() {
        d.status = DeploymentStatus::Stopped;
        projects.put_deployment(&d).await?;
        let mut project = projects.load_project(d.project_id).await?;
        project.deployments.retain(|r| r.deployment_id != d.id);
        projects.update_project(&project).await?;
    }
    Ok(live.len())
}
