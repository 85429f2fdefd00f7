//! The runner ports: `TestRunner` runs a version's test suite, `Deployer` runs a version
//! somewhere it answers over HTTP. Long operations are started by one call and polled by
//! another, so that no step waits for them.

#[cfg(feature = "aws")]
mod bucket;
#[cfg(feature = "aws")]
mod codebuild;
pub mod data;
#[cfg(feature = "aws")]
mod ecs;
pub mod junit;
pub mod load;
mod local;
pub mod logs;
pub mod review;

#[cfg(feature = "aws")]
pub use bucket::JobBucket;
#[cfg(feature = "aws")]
pub use codebuild::CodeBuildTestRunner;
#[cfg(feature = "aws")]
pub use ecs::{
    database_name, database_url, AppDatabases, DatabaseSettings, EcsDeployer, EcsSettings,
    TEMPLATE_BODY_LIMIT, TEMPLATE_PATH,
};
pub use load::{load_test, AppUrl, LoadSettings};
pub use local::{LocalDeployer, LocalRunnerSettings, LocalTestRunner};
pub use logs::{LogLine, LogPage};

/// A zip archive of a version's files, as CodeBuild takes its source.
pub fn zip_files(files: &[File]) -> Result<Vec<u8>, RunnerError> {
    use std::io::Write;
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .unix_permissions(0o644);
    let fail = |e: &dyn std::fmt::Display| RunnerError::Process(format!("zipping the source: {e}"));
    for (path, bytes) in files {
        if !crate::model::is_safe_relative_path(path) {
            return Err(RunnerError::Process(format!("refusing the path {path:?}")));
        }
        zip.start_file(path.as_str(), options)
            .map_err(|e| fail(&e))?;
        zip.write_all(bytes).map_err(|e| fail(&e))?;
    }
    Ok(zip.finish().map_err(|e| fail(&e))?.into_inner())
}

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::model::{Cause, Environment, ErrorKind, Finding, TestReport};

/// Why a runner could not do its work.
#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    /// The environment needed to run generated projects could not be made.
    #[error("setting up the Python environment failed: {0}")]
    Environment(String),
    /// A process could not be started or watched.
    #[error("{0}")]
    Process(String),
    /// The job is not known (e.g. the server restarted since it was started).
    #[error("the job {0} is not known here; it may have been interrupted")]
    UnknownJob(String),
    /// Something the job needs is not set up here; the message says what to set.
    #[error("{0}")]
    Missing(String),
    /// The service that runs jobs is busy or unreachable now (throttling, a timeout).
    #[error("{0}")]
    Unavailable(Cause),
    /// Nothing runs where the request needs something running (an environment with no
    /// deployment, an app that cannot do what was asked).
    #[error("{0}")]
    NotRunning(String),
    /// The app refused what it was given, and changed nothing; the message lists why.
    #[error("{0}")]
    Refused(String),
    /// A cursor that was not handed out by the call it was given back to.
    #[error("{0}")]
    InvalidCursor(String),
}

impl RunnerError {
    /// What the failure means: only an unavailable service may pass on a retry.
    pub fn kind(&self) -> ErrorKind {
        match self {
            RunnerError::Unavailable(_) => ErrorKind::Transient,
            RunnerError::Environment(_)
            | RunnerError::Process(_)
            | RunnerError::UnknownJob(_)
            | RunnerError::Missing(_) => ErrorKind::Permanent,
            RunnerError::NotRunning(_) => ErrorKind::NotFound,
            RunnerError::Refused(_) | RunnerError::InvalidCursor(_) => ErrorKind::Invalid,
        }
    }
}

#[cfg(feature = "aws")]
impl From<crate::aws::CallFailure> for RunnerError {
    fn from(failure: crate::aws::CallFailure) -> Self {
        match failure {
            crate::aws::CallFailure::Transient(cause) => RunnerError::Unavailable(cause),
            crate::aws::CallFailure::Permanent(cause) => RunnerError::Process(cause.to_string()),
        }
    }
}

/// An AWS call of a runner that failed, as a runner error.
#[cfg(feature = "aws")]
pub(crate) fn aws_call_failed<E, R>(e: aws_sdk_s3::error::SdkError<E, R>) -> RunnerError
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    crate::aws::call_failed("AWS", e).into()
}

/// One file of a version, ready to be written out.
pub type File = (String, Vec<u8>);

/// A started test run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestJob {
    /// Opaque handle.
    pub id: String,
}

/// Where a test run stands.
#[derive(Debug, Clone, PartialEq)]
pub enum TestStatus {
    /// Still running.
    Running,
    /// Finished, with its report.
    Finished(TestReport),
}

/// Where a review's tools stand.
#[derive(Debug, Clone, PartialEq)]
pub enum ReviewStatus {
    /// Still running.
    Running,
    /// Finished, with what ruff, bandit and pip-audit found (a tool that did not run is a
    /// finding too: see [`review`]).
    Finished(Vec<Finding>),
}

/// Runs generated projects' test suites, and the review's tools over them.
#[async_trait]
pub trait TestRunner: Send + Sync {
    /// Whether the environment for running tests must be made first (a slow, one-time step
    /// worth telling the user about).
    async fn needs_environment(&self) -> bool;

    /// Makes the environment if it is missing; says how it was made ("made with uv").
    async fn prepare_environment(&self) -> Result<String, RunnerError>;

    /// Starts the test suite of a version's files. `request` names the call: a repeat with
    /// the same request (a step run again) returns the job the first one started.
    async fn start(
        &self,
        project_id: Uuid,
        version: u32,
        files: Vec<File>,
        request: Uuid,
    ) -> Result<TestJob, RunnerError>;

    /// Where a started run stands.
    async fn poll(&self, job: &TestJob) -> Result<TestStatus, RunnerError>;

    /// Starts the review's tools (ruff, bandit, pip-audit: [`review::REVIEW_SCRIPT`]) over a
    /// version's files, where its tests run. A repeat with the same `request` returns the job
    /// the first one started.
    async fn start_review(
        &self,
        project_id: Uuid,
        version: u32,
        files: Vec<File>,
        request: Uuid,
    ) -> Result<TestJob, RunnerError>;

    /// Where a started review stands.
    async fn poll_review(&self, job: &TestJob) -> Result<ReviewStatus, RunnerError>;
}

/// A started rollout of a version to an environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rollout {
    /// Opaque handle.
    pub id: String,
    /// Where it will answer.
    pub url: String,
    /// Provider handles to record (process id, service ARN, …).
    pub resources: serde_json::Map<String, serde_json::Value>,
}

/// Where a rollout stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RolloutStatus {
    /// Starting.
    Pending,
    /// Answering its health check; the previous rollout of the environment was replaced.
    Running,
    /// Did not come up; the log explains.
    Failed(String),
}

/// Runs versions where they answer over HTTP.
#[async_trait]
pub trait Deployer: Send + Sync {
    /// Starts building an image of the version's files; `None` when the backend needs no image.
    /// A repeat with the same `request` returns the build the first one started.
    async fn build_image(
        &self,
        project_id: Uuid,
        version: u32,
        files: Vec<File>,
        request: Uuid,
    ) -> Result<Option<String>, RunnerError>;

    /// Whether the image build finished.
    async fn image_ready(&self, image_job: Option<&str>) -> Result<bool, RunnerError>;

    /// Starts the version in an environment; the previous rollout keeps serving until this
    /// one is healthy. A repeat with the same `request` returns the rollout the first one
    /// started instead of starting another.
    async fn deploy(
        &self,
        project_id: Uuid,
        environment: Environment,
        version: u32,
        files: Vec<File>,
        request: Uuid,
    ) -> Result<Rollout, RunnerError>;

    /// Where a rollout stands.
    async fn rollout_status(&self, rollout: &Rollout) -> Result<RolloutStatus, RunnerError>;

    /// The last lines of a rollout's log.
    async fn logs(&self, rollout: &Rollout) -> String;

    /// The log of the app running in the environment, oldest line first: with no `since`,
    /// its latest lines (locally the last `limit` of its log file; on AWS those of the last
    /// few minutes); with `since` (a page's `next`), the lines written after that page. At
    /// most `limit` lines (1 to [`logs::MAX_LOG_LIMIT`]) and [`logs::MAX_PAGE_BYTES`] of
    /// text; `NotRunning` when nothing runs there, `InvalidCursor` for a `since` it did not
    /// hand out.
    async fn read_logs(
        &self,
        project_id: Uuid,
        environment: Environment,
        since: Option<&str>,
        limit: u32,
    ) -> Result<LogPage, RunnerError>;

    /// Where the app running in the environment answers (its base URL) and the data token
    /// it was started with; `NotRunning` when nothing there keeps data Kiln can move.
    async fn data_endpoint(
        &self,
        project_id: Uuid,
        environment: Environment,
    ) -> Result<(String, String), RunnerError>;

    /// The data of the app running in the environment: every table's rows, as JSON
    /// (`runner::data`).
    async fn export_data(
        &self,
        project_id: Uuid,
        environment: Environment,
    ) -> Result<serde_json::Value, RunnerError> {
        let (url, token) = self.data_endpoint(project_id, environment).await?;
        data::exchange(&url, &token, None).await
    }

    /// Replaces the data of the app running in the environment with `data` (as an export
    /// gives it), in one transaction; answers how many rows each table now holds. Refused
    /// data changes nothing.
    async fn import_data(
        &self,
        project_id: Uuid,
        environment: Environment,
        data: serde_json::Value,
    ) -> Result<serde_json::Value, RunnerError> {
        let (url, token) = self.data_endpoint(project_id, environment).await?;
        data::exchange(&url, &token, Some(&data)).await
    }

    /// Stops what runs for the project: one environment, or all of them.
    async fn stop(
        &self,
        project_id: Uuid,
        environment: Option<Environment>,
    ) -> Result<(), RunnerError>;
}
