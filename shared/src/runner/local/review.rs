//! The review's tools on this machine: `review.sh` (ruff, bandit, pip-audit) as a child
//! process in the shared virtualenv, over a version written out, its outputs read back as
//! findings. Like a test run, one process group per job, stopped at the time limit.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Instant;

use tokio::process::Child;
use uuid::Uuid;

use super::files::write_files;
use super::process::{spawn, stop_group};
use super::python_env::PythonEnv;
use crate::model::Finding;
use crate::runner::review::{findings, ToolOutputs, OUTPUTS, REVIEW_SCRIPT};
use crate::runner::{File, ReviewStatus, RunnerError, TestJob};

struct ReviewProcess {
    child: Child,
    dir: PathBuf,
    paths: Vec<String>,
    deadline: Instant,
}

/// The reviews started here, and the findings of the last ones that finished (a repeated poll,
/// a retried step, gets the same answer).
#[derive(Default)]
pub(super) struct LocalReviews {
    jobs: Mutex<HashMap<String, ReviewProcess>>,
    finished: Mutex<VecDeque<(String, Vec<Finding>)>>,
}

/// How many finished reviews are kept for repeated polls.
const FINISHED_KEPT: usize = 64;

impl LocalReviews {
    pub(super) async fn start(
        &self,
        env: &PythonEnv,
        (project_id, version): (Uuid, u32),
        files: Vec<File>,
        request: Uuid,
    ) -> Result<TestJob, RunnerError> {
        env.ensure().await?;
        let id = format!("review-{project_id}-v{version}-{}", request.simple());
        let started = self.jobs.lock().expect("reviews").contains_key(&id)
            || self
                .finished
                .lock()
                .expect("finished reviews")
                .iter()
                .any(|(done, _)| *done == id);
        if started {
            return Ok(TestJob { id });
        }
        let dir = env.settings.work_dir.join(&id);
        let project = dir.join("project");
        let paths = files.iter().map(|(p, _)| p.clone()).collect();
        write_files(&project, &files).await?;
        let bin = env.python().parent().map(PathBuf::from).unwrap_or_default();
        let mut vars = vec![
            (
                "PATH",
                format!("{}:/usr/local/bin:/usr/bin:/bin", bin.display()),
            ),
            ("KILN_REVIEW_OUT", dir.join("out").display().to_string()),
        ];
        if let Some(url) = &env.settings.osv_url {
            vars.push(("KILN_OSV_URL", url.clone()));
        }
        let child = spawn(
            std::path::Path::new("/bin/sh"),
            &["-c", REVIEW_SCRIPT],
            &project,
            &vars,
            &dir.join("review.log"),
            None,
        )?;
        let deadline = Instant::now() + env.settings.test_timeout;
        self.jobs.lock().expect("reviews").insert(
            id.clone(),
            ReviewProcess {
                child,
                dir,
                paths,
                deadline,
            },
        );
        Ok(TestJob { id })
    }

    pub(super) async fn poll(&self, job: &TestJob) -> Result<ReviewStatus, RunnerError> {
        if let Some((_, found)) = self
            .finished
            .lock()
            .expect("finished reviews")
            .iter()
            .find(|(id, _)| *id == job.id)
        {
            return Ok(ReviewStatus::Finished(found.clone()));
        }
        let mut process = {
            let mut jobs = self.jobs.lock().expect("reviews");
            let process = jobs
                .get_mut(&job.id)
                .ok_or_else(|| RunnerError::UnknownJob(job.id.clone()))?;
            let exited = process
                .child
                .try_wait()
                .map_err(|e| RunnerError::Process(e.to_string()))?;
            if exited.is_none() && Instant::now() <= process.deadline {
                return Ok(ReviewStatus::Running);
            }
            let mut process = jobs.remove(&job.id).expect("present");
            // Stopped at the limit, or ended: nothing it started runs on. What a tool did not
            // write by then is reported as not run.
            stop_group(&mut process.child);
            process
        };
        let _ = process.child.wait().await;
        let mut outputs = ToolOutputs::default();
        for name in OUTPUTS {
            outputs.set(
                name,
                tokio::fs::read(process.dir.join("out").join(name))
                    .await
                    .ok(),
            );
        }
        let found = findings(&outputs, &process.paths);
        let _ = tokio::fs::remove_dir_all(&process.dir).await;
        let mut kept = self.finished.lock().expect("finished reviews");
        if kept.len() == FINISHED_KEPT {
            kept.pop_front();
        }
        kept.push_back((job.id.clone(), found.clone()));
        Ok(ReviewStatus::Finished(found))
    }
}
