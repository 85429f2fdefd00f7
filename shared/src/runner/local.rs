//! Local runners: pytest and uvicorn as child processes, in one cached virtualenv that holds
//! every package a generated project pins.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};
use uuid::Uuid;

use super::{
    junit, Deployer, File, Rollout, RolloutStatus, RunnerError, TestJob, TestRunner, TestStatus,
};
use crate::model::is_safe_relative_path;
use crate::model::{Environment, TestFailure, TestReport};

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

/// The virtualenv shared by the test runner and the deployer.
#[derive(Debug)]
struct PythonEnv {
    settings: LocalRunnerSettings,
    dir: PathBuf,
    requirements: String,
    setup: tokio::sync::Mutex<()>,
}

impl PythonEnv {
    fn new(settings: LocalRunnerSettings) -> Self {
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

    fn python(&self) -> PathBuf {
        self.dir.join("bin").join("python")
    }

    fn ready(&self) -> bool {
        self.dir.join(".kiln-ready").exists()
    }

    /// Creates the virtualenv once: with `uv` when it is installed, with venv and pip otherwise.
    /// It is built beside its final place and renamed into it, so that concurrent makers (other
    /// runners, other Kiln processes) never see or clobber a half-made one.
    async fn ensure(&self) -> Result<String, RunnerError> {
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

fn tail(text: &str, chars: usize) -> String {
    let n = text.chars().count();
    text.chars().skip(n.saturating_sub(chars)).collect()
}

async fn read_tail(path: &Path, chars: usize) -> String {
    tokio::fs::read(path)
        .await
        .map(|b| tail(&String::from_utf8_lossy(&b), chars))
        .unwrap_or_default()
}

/// Writes a version's files under `dir`, refusing any path that would leave it, directly or
/// through a symbolic link already there.
async fn write_files(dir: &Path, files: &[File]) -> Result<(), RunnerError> {
    // Every path is checked before the first file is written: a refused set writes nothing.
    if let Some((path, _)) = files.iter().find(|(p, _)| !is_safe_relative_path(p)) {
        return Err(RunnerError::Process(format!("refusing the path {path:?}")));
    }
    for (path, bytes) in files {
        let target = dir.join(path);
        let mut at = dir.to_path_buf();
        for part in Path::new(path).components() {
            at.push(part);
            if tokio::fs::symlink_metadata(&at)
                .await
                .is_ok_and(|m| m.file_type().is_symlink())
            {
                return Err(RunnerError::Process(format!(
                    "refusing to write through the link {}",
                    at.display()
                )));
            }
        }
        if let Some(parent) = target.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|e| RunnerError::Process(e.to_string()))?;
        }
        tokio::fs::write(&target, bytes)
            .await
            .map_err(|e| RunnerError::Process(e.to_string()))?;
    }
    Ok(())
}

/// A child process with a clean environment, its output in `log`, that dies with Kiln.
/// The descriptor a child finds a listening socket on, when it is handed one (`uvicorn --fd 3`).
const LISTENER_FD: i32 = 3;

fn spawn(
    program: &Path,
    args: &[&str],
    cwd: &Path,
    env: &[(&str, String)],
    log: &Path,
    listener: Option<&std::net::TcpListener>,
) -> Result<Child, RunnerError> {
    let out = std::fs::File::create(log).map_err(|e| RunnerError::Process(e.to_string()))?;
    let err = out
        .try_clone()
        .map_err(|e| RunnerError::Process(e.to_string()))?;
    let mut cmd = Command::new(program);
    cmd.args(args)
        .current_dir(cwd)
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("HOME", cwd)
        .env("LANG", "C.UTF-8")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("PYTHONUNBUFFERED", "1")
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err);
    for (k, v) in env {
        cmd.env(k, v);
    }
    // Its own process group, so that stopping it stops whatever it started too (see
    // `stop_group`).
    cmd.process_group(0);
    let handed = listener.map(std::os::fd::AsRawFd::as_raw_fd);
    #[cfg(target_os = "linux")]
    // SAFETY: prctl, dup2 and fcntl are async-signal-safe. prctl asks the kernel to end the
    // child with Kiln, so no generated app outlives the server that started it; the listener,
    // when there is one, becomes descriptor 3 without close-on-exec, so the child serves on
    // the socket Kiln bound (no window in which another process could take its port).
    unsafe {
        cmd.pre_exec(move || {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
            if let Some(fd) = handed {
                let ok = if fd == LISTENER_FD {
                    libc::fcntl(fd, libc::F_SETFD, 0)
                } else {
                    libc::dup2(fd, LISTENER_FD)
                };
                if ok < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    cmd.spawn()
        .map_err(|e| RunnerError::Process(format!("starting {}: {e}", program.display())))
}

/// Kills the process group `child` leads (it and everything it started, see `spawn`).
fn stop_group(child: &mut Child) {
    if let Some(pid) = child.id().and_then(|p| i32::try_from(p).ok()) {
        // SAFETY: killpg only sends a signal; the group is the child's own (`process_group(0)`).
        unsafe {
            libc::killpg(pid, libc::SIGKILL);
        }
    }
    let _ = child.start_kill();
}

struct TestProcess {
    child: Child,
    dir: PathBuf,
    deadline: Instant,
}

/// `TestRunner` that runs pytest in the cached virtualenv.
pub struct LocalTestRunner {
    env: Arc<PythonEnv>,
    jobs: Mutex<HashMap<String, TestProcess>>,
}

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
    ) -> Result<TestJob, RunnerError> {
        self.env.ensure().await?;
        let id = format!("{project_id}-v{version}-{}", Uuid::new_v4().simple());
        let dir = self.env.settings.work_dir.join(&id);
        let project = dir.join("project");
        write_files(&project, &files).await?;
        let junit = dir.join("junit.xml").display().to_string();
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
                }],
                ..TestReport::default()
            },
        };
        report.timed_out = timed_out;
        report.output_tail = log;
        let _ = tokio::fs::remove_dir_all(&process.dir).await;
        Ok(TestStatus::Finished(report))
    }
}

struct Instance {
    child: Child,
    port: u16,
    dir: PathBuf,
    project_id: Uuid,
    environment: Environment,
    started: Instant,
}

/// `Deployer` that runs each version under uvicorn on a free loopback port.
pub struct LocalDeployer {
    env: Arc<PythonEnv>,
    current: Mutex<HashMap<(Uuid, Environment), Instance>>,
    pending: Mutex<HashMap<String, Instance>>,
}

/// Whether `http://127.0.0.1:{port}/health` answers 200.
async fn healthy(port: u16) -> bool {
    let check = async {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .ok()?;
        let request =
            format!("GET /health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut head = [0u8; 12];
        stream.read_exact(&mut head).await.ok()?;
        Some(head.starts_with(b"HTTP/1.1 200") || head.starts_with(b"HTTP/1.0 200"))
    };
    tokio::time::timeout(Duration::from_secs(2), check)
        .await
        .ok()
        .flatten()
        .unwrap_or(false)
}

/// The JWT secret of a project's environment: made once, kept beside its data, never logged.
async fn secret(root: &Path) -> Result<String, RunnerError> {
    let path = root.join("jwt_secret");
    if let Ok(s) = tokio::fs::read_to_string(&path).await {
        if s.trim().len() >= 32 {
            return Ok(s.trim().to_owned());
        }
    }
    let value = format!("{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple());
    tokio::fs::write(&path, &value)
        .await
        .map_err(|e| RunnerError::Process(e.to_string()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = tokio::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).await;
    }
    Ok(value)
}

#[async_trait]
impl Deployer for LocalDeployer {
    async fn build_image(
        &self,
        _project_id: Uuid,
        _version: u32,
        _files: Vec<File>,
    ) -> Result<Option<String>, RunnerError> {
        // Local deployments run from source: there is no image to build.
        Ok(None)
    }

    async fn image_ready(&self, _image_job: Option<&str>) -> Result<bool, RunnerError> {
        Ok(true)
    }

    async fn deploy(
        &self,
        project_id: Uuid,
        environment: Environment,
        version: u32,
        files: Vec<File>,
    ) -> Result<Rollout, RunnerError> {
        self.env.ensure().await?;
        let io = |e: std::io::Error| RunnerError::Process(e.to_string());
        let root = self
            .env
            .settings
            .deploy_dir
            .join(project_id.to_string())
            .join(environment.as_str());
        let id = format!(
            "{project_id}-{}-v{version}-{}",
            environment.as_str(),
            Uuid::new_v4().simple()
        );
        let dir = root.join("releases").join(&id);
        tokio::fs::create_dir_all(root.join("data"))
            .await
            .map_err(io)?;
        write_files(&dir, &files).await?;
        // Kiln binds the port and hands the socket over: nothing can take it in between.
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0))
            .map_err(|e| RunnerError::Process(format!("no free port: {e}")))?;
        let port = listener.local_addr().map_err(io)?.port();
        let database = format!("sqlite:///{}", root.join("data").join("app.db").display());
        let fd = LISTENER_FD.to_string();
        let child = spawn(
            &self.env.python(),
            &["-m", "uvicorn", "app.main:app", "--fd", &fd],
            &dir,
            &[
                ("JWT_SECRET", secret(&root).await?),
                ("DATABASE_URL", database),
                ("BASE_PATH", String::new()),
                ("PORT", port.to_string()),
            ],
            &dir.join("server.log"),
            Some(&listener),
        )?;
        drop(listener);
        let mut resources = serde_json::Map::new();
        resources.insert("pid".into(), child.id().into());
        resources.insert("port".into(), port.into());
        resources.insert("dir".into(), dir.display().to_string().into());
        self.pending.lock().expect("rollouts").insert(
            id.clone(),
            Instance {
                child,
                port,
                dir,
                project_id,
                environment,
                started: Instant::now(),
            },
        );
        Ok(Rollout {
            id,
            url: format!("http://127.0.0.1:{port}/"),
            resources,
        })
    }

    async fn rollout_status(&self, rollout: &Rollout) -> Result<RolloutStatus, RunnerError> {
        enum Seen {
            Up(u16),
            Exited(Instance, std::process::ExitStatus),
            TooSlow(Instance),
            Current,
        }
        let seen = {
            let mut pending = self.pending.lock().expect("rollouts");
            match pending.get_mut(&rollout.id) {
                None => {
                    let current = self.current.lock().expect("deployments");
                    if current.values().any(|i| i.dir.ends_with(&rollout.id)) {
                        Seen::Current
                    } else {
                        return Err(RunnerError::UnknownJob(rollout.id.clone()));
                    }
                }
                Some(instance) => match instance.child.try_wait() {
                    Ok(Some(status)) => {
                        Seen::Exited(pending.remove(&rollout.id).expect("present"), status)
                    }
                    _ if instance.started.elapsed() > self.env.settings.deploy_timeout => {
                        Seen::TooSlow(pending.remove(&rollout.id).expect("present"))
                    }
                    _ => Seen::Up(instance.port),
                },
            }
        };
        let port = match seen {
            Seen::Current => return Ok(RolloutStatus::Running),
            Seen::Exited(instance, status) => {
                let log = read_tail(&instance.dir.join("server.log"), 3000).await;
                return Ok(RolloutStatus::Failed(format!(
                    "the app exited ({status}) before answering:\n{log}"
                )));
            }
            Seen::TooSlow(mut instance) => {
                stop_group(&mut instance.child);
                let _ = instance.child.wait().await;
                let log = read_tail(&instance.dir.join("server.log"), 3000).await;
                return Ok(RolloutStatus::Failed(format!(
                    "the app did not answer /health within {} s:\n{log}",
                    self.env.settings.deploy_timeout.as_secs()
                )));
            }
            Seen::Up(port) => port,
        };
        if !healthy(port).await {
            return Ok(RolloutStatus::Pending);
        }
        let promoted = self.pending.lock().expect("rollouts").remove(&rollout.id);
        let Some(instance) = promoted else {
            return Ok(RolloutStatus::Running);
        };
        let key = (instance.project_id, instance.environment);
        let old = self
            .current
            .lock()
            .expect("deployments")
            .insert(key, instance);
        if let Some(mut old) = old {
            stop_group(&mut old.child);
            let _ = old.child.wait().await;
            let _ = tokio::fs::remove_dir_all(&old.dir).await;
        }
        Ok(RolloutStatus::Running)
    }

    async fn logs(&self, rollout: &Rollout) -> String {
        let dir = rollout
            .resources
            .get("dir")
            .and_then(|d| d.as_str())
            .map(PathBuf::from);
        match dir {
            Some(d) => read_tail(&d.join("server.log"), 3000).await,
            None => String::new(),
        }
    }

    async fn stop(
        &self,
        project_id: Uuid,
        environment: Option<Environment>,
    ) -> Result<(), RunnerError> {
        let hit = |i: &Instance| {
            i.project_id == project_id && environment.is_none_or(|e| e == i.environment)
        };
        let mut doomed: Vec<Instance> = Vec::new();
        {
            let mut current = self.current.lock().expect("deployments");
            let keys: Vec<_> = current
                .iter()
                .filter(|(_, i)| hit(i))
                .map(|(k, _)| *k)
                .collect();
            doomed.extend(keys.iter().filter_map(|k| current.remove(k)));
            let mut pending = self.pending.lock().expect("rollouts");
            let ids: Vec<_> = pending
                .iter()
                .filter(|(_, i)| hit(i))
                .map(|(k, _)| k.clone())
                .collect();
            doomed.extend(ids.iter().filter_map(|k| pending.remove(k)));
        }
        for mut instance in doomed {
            stop_group(&mut instance.child);
            let _ = instance.child.wait().await;
            let _ = tokio::fs::remove_dir_all(&instance.dir).await;
        }
        if environment.is_none() {
            let root = self.env.settings.deploy_dir.join(project_id.to_string());
            let _ = tokio::fs::remove_dir_all(root).await;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn writing_through_a_planted_link_is_refused() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let target = root.path().join("release");
        std::fs::create_dir_all(&target).unwrap();
        std::os::unix::fs::symlink(outside.path(), target.join("app")).unwrap();
        let files = vec![("app/main.py".to_owned(), b"x = 1\n".to_vec())];
        assert!(write_files(&target, &files).await.is_err());
        assert!(
            !outside.path().join("main.py").exists(),
            "nothing was written outside"
        );
        let files = vec![("other/main.py".to_owned(), b"x = 1\n".to_vec())];
        write_files(&target, &files).await.unwrap();
        assert!(target.join("other/main.py").exists());
    }
}
