//! The one virtualenv the test runner and the deployer share: every pinned package of a
//! generated project, made once (with `uv` when it is installed, with venv and pip otherwise)
//! and moved into place whole, so that concurrent makers never see half of one.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::process::Command;
use uuid::Uuid;

use super::process::tail;
use super::LocalRunnerSettings;
use crate::runner::RunnerError;

/// The virtualenv shared by the test runner and the deployer.
#[derive(Debug)]
pub(super) struct PythonEnv {
    pub(super) settings: LocalRunnerSettings,
    dir: PathBuf,
    requirements: String,
    setup: tokio::sync::Mutex<()>,
}

impl PythonEnv {
    pub(super) fn new(settings: LocalRunnerSettings) -> Self {
        let requirements: String = settings
            .requirements
            .iter()
            .map(|r| format!("{r}\n"))
            .collect();
        PythonEnv {
            dir: settings.venv_dir(),
            settings,
            requirements,
            setup: tokio::sync::Mutex::new(()),
        }
    }

    pub(super) fn python(&self) -> PathBuf {
        self.dir.join("bin").join("python")
    }

    pub(super) fn ready(&self) -> bool {
        self.dir.join(".kiln-ready").exists()
    }

    /// Creates the virtualenv once: with `uv` when it is installed, with venv and pip otherwise.
    /// It is built beside its final place and renamed into it, so that concurrent makers (other
    /// runners, other Kiln processes) never see or clobber a half-made one.
    pub(super) async fn ensure(&self) -> Result<String, RunnerError> {
        let _guard = self.setup.lock().await;
        if self.ready() {
            return Ok("it was already there".into());
        }
        let env_err = |m: String| RunnerError::Environment(m);
        tokio::fs::create_dir_all(&self.settings.venv_root)
            .await
            .map_err(|e| env_err(e.to_string()))?;
        let tmp = self
            .settings
            .venv_root
            .join(format!(".building-{}", Uuid::new_v4().simple()));
        let outcome = self.build(&tmp).await;
        if let (Ok(how), false) = (&outcome, self.ready()) {
            if self.dir.exists() {
                // A broken leftover without the ready marker.
                let _ = tokio::fs::remove_dir_all(&self.dir).await;
            }
            if tokio::fs::rename(&tmp, &self.dir).await.is_ok() {
                return Ok(format!("made with {how}"));
            }
        }
        let _ = tokio::fs::remove_dir_all(&tmp).await;
        match outcome {
            // Another maker finished first: use theirs.
            Ok(_) if self.ready() => Ok("another process made it first".into()),
            Ok(_) => Err(env_err(format!(
                "could not move the virtualenv into {}",
                self.dir.display()
            ))),
            Err(e) => Err(e),
        }
    }

    /// Makes the virtualenv in `dir`; says with what ("uv", "venv and pip").
    async fn build(&self, dir: &Path) -> Result<&'static str, RunnerError> {
        let env_err = |m: String| RunnerError::Environment(m);
        let req_file = dir.with_extension("txt");
        tokio::fs::write(&req_file, &self.requirements)
            .await
            .map_err(|e| env_err(e.to_string()))?;
        let dir_s = dir.display().to_string();
        let req = req_file.display().to_string();
        let python = dir.join("bin").join("python").display().to_string();
        let uv = run_quiet("uv", &["--version"]).await.is_ok();
        let steps: Vec<(&str, Vec<&str>)> = if uv {
            vec![
                (
                    "uv",
                    vec!["venv", "--quiet", "--python", &self.settings.python, &dir_s],
                ),
                (
                    "uv",
                    vec!["pip", "install", "--quiet", "--python", &python, "-r", &req],
                ),
            ]
        } else {
            vec![
                (self.settings.python.as_str(), vec!["-m", "venv", &dir_s]),
                (
                    &python,
                    vec![
                        "-m",
                        "pip",
                        "install",
                        "--quiet",
                        "--disable-pip-version-check",
                        "-r",
                        &req,
                    ],
                ),
            ]
        };
        let mut outcome = Ok(());
        for (program, args) in steps {
            if let Err(e) = run_quiet(program, &args).await {
                outcome = Err(env_err(e));
                break;
            }
        }
        let _ = tokio::fs::remove_file(&req_file).await;
        outcome?;
        tokio::fs::write(dir.join(".kiln-ready"), &self.requirements)
            .await
            .map_err(|e| env_err(e.to_string()))?;
        Ok(if uv { "uv" } else { "venv and pip" })
    }
}

/// Runs a setup command, returning its error output on failure.
async fn run_quiet(program: &str, args: &[&str]) -> Result<(), String> {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|e| format!("{program}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        let err = String::from_utf8_lossy(&out.stderr);
        Err(format!(
            "{program} {} failed: {}",
            args.join(" "),
            tail(&err, 1500)
        ))
    }
}
