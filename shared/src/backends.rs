//! Builds the backends a [`Config`] asks for, once, at start.

use std::sync::Arc;

use crate::agents::AgentContext;
use crate::api::{AppState, Authenticator, Limits};
use crate::config::{Backend, Config};
use crate::store::{FsArtifactStore, SqliteStore, StoreError};
use crate::workflow::{fail_interrupted_runs, InlineWorkflow, WorkflowError};

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

/// The API state for the local backend: SQLite and files under `config.data_dir`, the
/// in-process workflow. Runs a previous process left unfinished are marked failed.
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
    let projects = Arc::new(SqliteStore::open(&dir.join("kiln.db")).map_err(store_error)?);
    let artifacts = Arc::new(FsArtifactStore::new(&dir.join("artifacts")));
    let ctx = AgentContext {
        projects: projects.clone(),
        artifacts: artifacts.clone(),
        repos: Some(dir.join("repos")),
    };
    let interrupted = fail_interrupted_runs(&ctx).await?;
    if interrupted > 0 {
        tracing::warn!(
            interrupted,
            "marked runs left unfinished by a previous process as failed"
        );
    }
    Ok(AppState {
        projects,
        artifacts,
        repos: ctx.repos.clone(),
        workflow: Arc::new(InlineWorkflow::new(ctx)),
        auth: Authenticator::Bearer {
            token: config.token.as_deref().map(Arc::from),
        },
        limits: Limits::from_config(config),
    })
}
