//! `TestRunner` on AWS CodeBuild: the version's source goes to S3 as a zip, a build of the test
//! project runs `infra/buildspec-test.yml` on it, and the JUnit report comes back through S3.
//! A review is another build of the same project with `infra/buildspec-review.yml`: the
//! review's script and the tools' pins go in the zip under `.kiln/`, and the tools' outputs
//! come back through S3 under one key prefix.

use async_trait::async_trait;
use aws_sdk_codebuild::error::DisplayErrorContext;
use aws_sdk_codebuild::types::{
    ArtifactsType, EnvironmentVariable, EnvironmentVariableType, ProjectArtifacts, SourceType,
    StatusType,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::review::{findings, ToolOutputs, OUTPUTS, REVIEW_DIR, REVIEW_SCRIPT};
use super::{
    junit, zip_files, File, JobBucket, ReviewStatus, RunnerError, TestJob, TestRunner, TestStatus,
};
use crate::model::{TestFailure, TestReport};

/// The buildspec of test builds.
pub const TEST_BUILDSPEC: &str = include_str!("../../../infra/buildspec-test.yml");
/// The buildspec of review builds.
pub const REVIEW_BUILDSPEC: &str = include_str!("../../../infra/buildspec-review.yml");

/// A request that could not be built (a defect of Kiln, not of AWS).
fn built<E: std::error::Error + 'static>(e: E) -> RunnerError {
    RunnerError::Process(DisplayErrorContext(e).to_string())
}

/// Starts a build of `project` on a source zip in S3, with environment variables.
pub(super) async fn start_build(
    codebuild: &aws_sdk_codebuild::Client,
    bucket: &JobBucket,
    project: &str,
    source_key: &str,
    buildspec: &str,
    env: &[(&str, String)],
    token: Uuid,
) -> Result<String, RunnerError> {
    // CodeBuild returns the build a request with the same token started in the last five
    // minutes (a repeat must send the same parameters, so the keys above come from the
    // token too); a later repeat starts another build, which only costs the time.
    let mut request = codebuild
        .start_build()
        .idempotency_token(token.to_string())
        .project_name(project)
        .source_type_override(SourceType::S3)
        .source_location_override(format!("{}/{source_key}", bucket.name()))
        .buildspec_override(buildspec)
        .artifacts_override(
            ProjectArtifacts::builder()
                .r#type(ArtifactsType::NoArtifacts)
                .build()
                .map_err(built)?,
        );
    for (name, value) in env {
        request = request.environment_variables_override(
            EnvironmentVariable::builder()
                .name(*name)
                .value(value)
                .r#type(EnvironmentVariableType::Plaintext)
                .build()
                .map_err(built)?,
        );
    }
    let out = request.send().await.map_err(super::aws_call_failed)?;
    out.build_value
        .and_then(|b| b.id)
        .ok_or_else(|| RunnerError::Process("CodeBuild started no build".into()))
}

/// The status of a build.
pub(super) async fn build_status(
    codebuild: &aws_sdk_codebuild::Client,
    id: &str,
) -> Result<StatusType, RunnerError> {
    let out = codebuild
        .batch_get_builds()
        .ids(id)
        .send()
        .await
        .map_err(super::aws_call_failed)?;
    out.builds
        .unwrap_or_default()
        .into_iter()
        .next()
        .and_then(|b| b.build_status)
        .ok_or_else(|| RunnerError::UnknownJob(id.to_owned()))
}

/// Runs test suites as CodeBuild builds.
pub struct CodeBuildTestRunner {
    codebuild: aws_sdk_codebuild::Client,
    bucket: JobBucket,
    project: String,
    review_tools: Vec<String>,
    osv_url: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct Job {
    build: String,
    report_key: String,
}

impl CodeBuildTestRunner {
    /// The IAM actions the CodeBuild runners call (tests here, images from the ECS deployer).
    pub const IAM_ACTIONS: &'static [&'static str] =
        &["codebuild:StartBuild", "codebuild:BatchGetBuilds"];

    /// A runner that starts builds of the CodeBuild project `project`.
    pub fn new(
        codebuild: aws_sdk_codebuild::Client,
        bucket: JobBucket,
        project: impl Into<String>,
    ) -> Self {
        CodeBuildTestRunner {
            codebuild,
            bucket,
            project: project.into(),
            review_tools: Vec::new(),
            osv_url: None,
        }
    }

    /// The same runner, reviewing with the tools `tools` pins (`name==version`, installed by
    /// the review build) and pip-audit asking `osv_url` (osv.dev when `None`). Without tools,
    /// a review reports each as not run.
    pub fn with_review_tools(mut self, tools: Vec<String>, osv_url: Option<String>) -> Self {
        self.review_tools = tools;
        self.osv_url = osv_url;
        self
    }
}

#[async_trait]
impl TestRunner for CodeBuildTestRunner {
    async fn needs_environment(&self) -> bool {
        false
    }

    async fn prepare_environment(&self) -> Result<String, RunnerError> {
        Ok("CodeBuild's image has it".into())
    }

    async fn start(
        &self,
        project_id: Uuid,
        version: u32,
        files: Vec<File>,
        request: Uuid,
    ) -> Result<TestJob, RunnerError> {
        let run = request;
        let source_key = format!("sources/{project_id}/v{version}-{run}.zip");
        self.bucket
            .put(&source_key, zip_files(&files)?, "application/zip")
            .await?;
        let report_key = format!("test-reports/{project_id}/v{version}-{run}/junit.xml");
        let build = start_build(
            &self.codebuild,
            &self.bucket,
            &self.project,
            &source_key,
            TEST_BUILDSPEC,
            &[
                ("KILN_REPORT_BUCKET", self.bucket.name().to_owned()),
                ("KILN_REPORT_KEY", report_key.clone()),
            ],
            request,
        )
        .await?;
        let id = serde_json::to_string(&Job { build, report_key })
            .map_err(|e| RunnerError::Process(e.to_string()))?;
        Ok(TestJob { id })
    }

    async fn poll(&self, job: &TestJob) -> Result<TestStatus, RunnerError> {
        let job: Job =
            serde_json::from_str(&job.id).map_err(|_| RunnerError::UnknownJob(job.id.clone()))?;
        let status = build_status(&self.codebuild, &job.build).await?;
        if status == StatusType::InProgress {
            return Ok(TestStatus::Running);
        }
        let timed_out = status == StatusType::TimedOut;
        let report = match self.bucket.get(&job.report_key).await? {
            Some(xml) if !timed_out => {
                junit::parse(&String::from_utf8_lossy(&xml)).unwrap_or_else(|e| TestReport {
                    errors: 1,
                    failures: vec![TestFailure {
                        name: "pytest".into(),
                        message: e,
                        cause: None,
                    }],
                    ..TestReport::default()
                })
            }
            _ => TestReport {
                errors: u32::from(!timed_out),
                timed_out,
                failures: vec![TestFailure {
                    name: "codebuild".into(),
                    message: format!(
                        "the build {} ended {} without a test report",
                        job.build,
                        status.as_str()
                    ),
                    cause: None,
                }],
                ..TestReport::default()
            },
        };
        Ok(TestStatus::Finished(report))
    }

    async fn start_review(
        &self,
        project_id: Uuid,
        version: u32,
        mut files: Vec<File>,
        request: Uuid,
    ) -> Result<TestJob, RunnerError> {
        let tools: String = self.review_tools.iter().map(|t| format!("{t}\n")).collect();
        files.push((
            format!("{REVIEW_DIR}/review.sh"),
            REVIEW_SCRIPT.as_bytes().to_vec(),
        ));
        files.push((format!("{REVIEW_DIR}/requirements.txt"), tools.into_bytes()));
        let source_key = format!("sources/{project_id}/v{version}-{request}-review.zip");
        self.bucket
            .put(&source_key, zip_files(&files)?, "application/zip")
            .await?;
        let report_key = format!("reviews/{project_id}/v{version}-{request}/");
        let mut env = vec![
            ("KILN_REPORT_BUCKET", self.bucket.name().to_owned()),
            ("KILN_REPORT_KEY", report_key.clone()),
        ];
        if let Some(url) = &self.osv_url {
            env.push(("KILN_OSV_URL", url.clone()));
        }
        let build = start_build(
            &self.codebuild,
            &self.bucket,
            &self.project,
            &source_key,
            REVIEW_BUILDSPEC,
            &env,
            request,
        )
        .await?;
        let id = serde_json::to_string(&Job { build, report_key })
            .map_err(|e| RunnerError::Process(e.to_string()))?;
        Ok(TestJob { id })
    }

    async fn poll_review(&self, job: &TestJob) -> Result<ReviewStatus, RunnerError> {
        let job: Job =
            serde_json::from_str(&job.id).map_err(|_| RunnerError::UnknownJob(job.id.clone()))?;
        if build_status(&self.codebuild, &job.build).await? == StatusType::InProgress {
            return Ok(ReviewStatus::Running);
        }
        // Whatever the build's end, what the tools wrote is read; what they did not is a tool
        // that did not run.
        let mut outputs = ToolOutputs::default();
        for name in OUTPUTS {
            let key = format!("{}{name}", job.report_key);
            outputs.set(name, self.bucket.get(&key).await?);
        }
        // Files are named as the build saw them; the reviewer names them by the version's paths
        // (`review::name_files`), which a job handle is too small to carry.
        Ok(ReviewStatus::Finished(findings(&outputs, &[])))
    }
}
