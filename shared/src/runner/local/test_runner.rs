//! The local `TestRunner`: pytest in the shared virtualenv, one child process per run, stopped
//! at the time limit, its JUnit report read back as the run's `TestReport`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use async_trait::async_trait;
use tokio::process::Child;
use uuid::Uuid;

use super::deployer::LocalDeployer;
use super::files::write_files;
use super::process::{read_tail, spawn, stop_group};
use super::python_env::PythonEnv;
use super::review::LocalReviews;
use super::LocalRunnerSettings;
use crate::model::{TestFailure, TestReport};
use crate::runner::{junit, File, ReviewStatus, RunnerError, TestJob, TestRunner, TestStatus};

struct TestProcess {
    child: Child,
    dir: PathBuf,
    deadline: Instant,
}

/// `TestRunner` that runs pytest in the cached virtualenv.
pub struct LocalTestRunner {
    env: Arc<PythonEnv>,
    jobs: Mutex<HashMap<String, TestProcess>>,
    /// The reports of the last jobs that finished, so that a repeated poll (a retried step)
    /// gets the same answer instead of an unknown job.
    finished: Mutex<std::collections::VecDeque<(String, TestReport)>>,
    /// The review's tools, run in the same virtualenv.
    reviews: LocalReviews,
}

/// How many finished reports a runner keeps for repeated polls.
const FINISHED_KEPT: usize = 64;

impl LocalTestRunner {
    /// A runner, and the deployer that shares its virtualenv.
    pub fn with_deployer(
        settings: LocalRunnerSettings,
    ) -> (Arc<LocalTestRunner>, Arc<LocalDeployer>) {
        let env = Arc::new(PythonEnv::new(settings));
        (
            Arc::new(LocalTestRunner {
                env: env.clone(),
                jobs: Mutex::new(HashMap::new()),
                finished: Mutex::new(std::collections::VecDeque::new()),
                reviews: LocalReviews::default(),
            }),
            Arc::new(LocalDeployer {
                env,
                current: Mutex::new(HashMap::new()),
                pending: Mutex::new(HashMap::new()),
            }),
        )
    }
}

#[async_trait]
impl TestRunner for LocalTestRunner {
    async fn needs_environment(&self) -> bool {
        !self.env.ready()
    }

    async fn prepare_environment(&self) -> Result<String, RunnerError> {
        self.env.ensure().await
    }

    async fn start(
        &self,
        project_id: Uuid,
        version: u32,
        files: Vec<File>,
        request: Uuid,
    ) -> Result<TestJob, RunnerError> {
        self.env.ensure().await?;
        let id = format!("{project_id}-v{version}-{}", request.simple());
        let started = self.jobs.lock().expect("job registry").contains_key(&id)
            || self
                .finished
                .lock()
                .expect("finished reports")
                .iter()
                .any(|(done, _)| *done == id);
        if started {
            return Ok(TestJob { id });
        }
        let dir = self.env.settings.work_dir.join(&id);
        let project = dir.join("project");
        write_files(&project, &files).await?;
        let junit = dir.join("junit.xml").display().to_string();
        // The suite's temporary files (`tmp_path`) in the job's own directory: under pytest's
        // default, one directory for every run of the user's, runs at once removed each
        // other's (pytest keeps the newest three), and a report carried the warnings of that.
        let basetemp = dir.join("tmp").display().to_string();
        let child = spawn(
            &self.env.python(),
            &[
                "-m",
                "pytest",
                "-p",
                "no:cacheprovider",
                "-o",
                "addopts=",
                "-q",
                &format!("--junitxml={junit}"),
                &format!("--basetemp={basetemp}"),
            ],
            &project,
            &[],
            &dir.join("pytest.log"),
            None,
        )?;
        let deadline = Instant::now() + self.env.settings.test_timeout;
        self.jobs.lock().expect("job registry").insert(
            id.clone(),
            TestProcess {
                child,
                dir,
                deadline,
            },
        );
        Ok(TestJob { id })
    }

    async fn poll(&self, job: &TestJob) -> Result<TestStatus, RunnerError> {
        if let Some((_, report)) = self
            .finished
            .lock()
            .expect("finished reports")
            .iter()
            .find(|(id, _)| *id == job.id)
        {
            return Ok(TestStatus::Finished(report.clone()));
        }
        let finished = {
            let mut jobs = self.jobs.lock().expect("job registry");
            let process = jobs
                .get_mut(&job.id)
                .ok_or_else(|| RunnerError::UnknownJob(job.id.clone()))?;
            let exited = process
                .child
                .try_wait()
                .map_err(|e| RunnerError::Process(e.to_string()))?;
            let timed_out = exited.is_none() && Instant::now() > process.deadline;
            if exited.is_none() && !timed_out {
                return Ok(TestStatus::Running);
            }
            let mut process = jobs.remove(&job.id).expect("present");
            // Stopped at the limit, or ended: nothing it started runs on.
            stop_group(&mut process.child);
            (process, exited, timed_out)
        };
        let (mut process, exited, timed_out) = finished;
        if timed_out {
            let _ = process.child.wait().await;
        }
        let log = read_tail(&process.dir.join("pytest.log"), 4000).await;
        let mut report = match tokio::fs::read_to_string(process.dir.join("junit.xml")).await {
            Ok(xml) if !timed_out => junit::parse(&xml).unwrap_or_else(|e| TestReport {
                errors: 1,
                failures: vec![TestFailure {
                    name: "pytest".into(),
                    message: e,
                    cause: None,
                }],
                ..TestReport::default()
            }),
            _ => TestReport {
                errors: u32::from(!timed_out),
                failures: vec![TestFailure {
                    name: "pytest".into(),
                    message: match (timed_out, exited) {
                        (true, _) => format!(
                            "the suite ran longer than {} s and was stopped",
                            self.env.settings.test_timeout.as_secs()
                        ),
                        (false, status) => format!("pytest exited ({status:?}) without a report"),
                    },
                    cause: None,
                }],
                ..TestReport::default()
            },
        };
        report.timed_out = timed_out;
        report.output_tail = log;
        let _ = tokio::fs::remove_dir_all(&process.dir).await;
        let mut kept = self.finished.lock().expect("finished reports");
        if kept.len() == FINISHED_KEPT {
            kept.pop_front();
        }
        kept.push_back((job.id.clone(), report.clone()));
        Ok(TestStatus::Finished(report))
    }

    async fn start_review(
        &self,
        project_id: Uuid,
        version: u32,
        files: Vec<File>,
        request: Uuid,
    ) -> Result<TestJob, RunnerError> {
        self.reviews
            .start(&self.env, (project_id, version), files, request)
            .await
    }

    async fn poll_review(&self, job: &TestJob) -> Result<ReviewStatus, RunnerError> {
        self.reviews.poll(job).await
    }
}
