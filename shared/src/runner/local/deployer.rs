//! The local `Deployer`: each version under uvicorn on a loopback port Kiln binds, promoted
//! once it answers `/health`, the process it replaces stopped only then; one process, data
//! directory and JWT secret per project and environment.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::Child;
use uuid::Uuid;

use super::files::write_files;
use super::process::{read_tail, spawn, stop_group, LISTENER_FD};
use super::python_env::PythonEnv;
use crate::model::Environment;
use crate::runner::data::DATA_TOKEN_VARIABLE;
use crate::runner::{Deployer, File, LogPage, Rollout, RolloutStatus, RunnerError};

pub(super) struct Instance {
    child: Child,
    port: u16,
    dir: PathBuf,
    project_id: Uuid,
    environment: Environment,
    started: Instant,
}

impl Instance {
    /// The rollout handle of this process, started as rollout `id`.
    fn rollout(&self, id: &str) -> Rollout {
        let mut resources = serde_json::Map::new();
        resources.insert("pid".into(), self.child.id().into());
        resources.insert("port".into(), self.port.into());
        resources.insert("dir".into(), self.dir.display().to_string().into());
        Rollout {
            id: id.to_owned(),
            url: format!("http://127.0.0.1:{}/", self.port),
            resources,
        }
    }
}

impl LocalDeployer {
    /// The rollout `id` if it was started already: still coming up, or serving.
    fn started(&self, id: &str) -> Option<Rollout> {
        if let Some(instance) = self.pending.lock().expect("rollouts").get(id) {
            return Some(instance.rollout(id));
        }
        let current = self.current.lock().expect("deployments");
        current
            .values()
            .find(|i| i.dir.ends_with(id))
            .map(|i| i.rollout(id))
    }
}

/// `Deployer` that runs each version under uvicorn on a free loopback port.
pub struct LocalDeployer {
    pub(super) env: Arc<PythonEnv>,
    pub(super) current: Mutex<HashMap<(Uuid, Environment), Instance>>,
    pub(super) pending: Mutex<HashMap<String, Instance>>,
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

/// A secret of a project's environment (`jwt_secret`, `data_token`): made once, kept beside
/// its data, never logged.
async fn secret(root: &Path, name: &str) -> Result<String, RunnerError> {
    tokio::fs::create_dir_all(root)
        .await
        .map_err(|e| RunnerError::Process(e.to_string()))?;
    let path = root.join(name);
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

/// Nothing serves the environment.
fn not_running(environment: Environment) -> RunnerError {
    RunnerError::NotRunning(format!(
        "nothing runs in {} for this project: deploy it first",
        environment.as_str()
    ))
}

impl LocalDeployer {
    /// Where a project environment keeps its releases, data and secrets.
    fn environment_dir(&self, project_id: Uuid, environment: Environment) -> PathBuf {
        self.env
            .settings
            .deploy_dir
            .join(project_id.to_string())
            .join(environment.as_str())
    }
}

#[async_trait]
impl Deployer for LocalDeployer {
    async fn build_image(
        &self,
        _project_id: Uuid,
        _version: u32,
        _files: Vec<File>,
        _request: Uuid,
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
        request: Uuid,
    ) -> Result<Rollout, RunnerError> {
        self.env.ensure().await?;
        let io = |e: std::io::Error| RunnerError::Process(e.to_string());
        let root = self.environment_dir(project_id, environment);
        let id = format!(
            "{project_id}-{}-v{version}-{}",
            environment.as_str(),
            request.simple()
        );
        if let Some(started) = self.started(&id) {
            return Ok(started);
        }
        // Nothing starts half-way: a database the version needs comes first.
        let database = if super::postgres::runs_on_postgres(&files) {
            let Some(server) = &self.env.settings.postgres_url else {
                return Err(super::postgres::missing_server(version));
            };
            super::postgres::environment_database(
                &self.env.python(),
                server,
                project_id,
                environment,
            )
            .await?
        } else {
            format!("sqlite:///{}", root.join("data").join("app.db").display())
        };
        let dir = root.join("releases").join(&id);
        tokio::fs::create_dir_all(root.join("data"))
            .await
            .map_err(io)?;
        write_files(&dir, &files).await?;
        // Kiln binds the port and hands the socket over: nothing can take it in between.
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0))
            .map_err(|e| RunnerError::Process(format!("no free port: {e}")))?;
        let port = listener.local_addr().map_err(io)?.port();
        let fd = LISTENER_FD.to_string();
        let child = spawn(
            &self.env.python(),
            // The app logs each request itself, as one JSON line.
            &[
                "-m",
                "uvicorn",
                "app.main:app",
                "--fd",
                &fd,
                "--no-access-log",
            ],
            &dir,
            &[
                ("JWT_SECRET", secret(&root, "jwt_secret").await?),
                (DATA_TOKEN_VARIABLE, secret(&root, "data_token").await?),
                ("DATABASE_URL", database),
                ("BASE_PATH", String::new()),
                ("PORT", port.to_string()),
            ],
            &dir.join("server.log"),
            Some(&listener),
        )?;
        drop(listener);
        let instance = Instance {
            child,
            port,
            dir,
            project_id,
            environment,
            started: Instant::now(),
        };
        let rollout = instance.rollout(&id);
        self.pending.lock().expect("rollouts").insert(id, instance);
        Ok(rollout)
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

    /// The log of the release serving the environment (its `server.log`).
    async fn read_logs(
        &self,
        project_id: Uuid,
        environment: Environment,
        since: Option<&str>,
        limit: u32,
    ) -> Result<LogPage, RunnerError> {
        let dir = self
            .current
            .lock()
            .expect("deployments")
            .get(&(project_id, environment))
            .map(|i| i.dir.clone())
            .ok_or_else(|| not_running(environment))?;
        let release = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        super::logs::read(&dir.join("server.log"), &release, since, limit).await
    }

    /// Where the environment's app answers on loopback, and its data token.
    async fn data_endpoint(
        &self,
        project_id: Uuid,
        environment: Environment,
    ) -> Result<(String, String), RunnerError> {
        let port = self
            .current
            .lock()
            .expect("deployments")
            .get(&(project_id, environment))
            .map(|i| i.port)
            .ok_or_else(|| not_running(environment))?;
        let root = self.environment_dir(project_id, environment);
        Ok((
            format!("http://127.0.0.1:{port}"),
            secret(&root, "data_token").await?,
        ))
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
