//! The child processes of the local runners: each started with a clean environment in a
//! process group of its own (handed the socket Kiln bound, when it serves), stopped with
//! everything it started, and the tail of its log read back.

use std::path::Path;
use std::process::Stdio;

use tokio::process::{Child, Command};

use crate::runner::RunnerError;

pub(super) fn tail(text: &str, chars: usize) -> String {
    let n = text.chars().count();
    text.chars().skip(n.saturating_sub(chars)).collect()
}

pub(super) async fn read_tail(path: &Path, chars: usize) -> String {
    tokio::fs::read(path)
        .await
        .map(|b| tail(&String::from_utf8_lossy(&b), chars))
        .unwrap_or_default()
}

/// The descriptor a child finds a listening socket on, when it is handed one (`uvicorn --fd 3`).
pub(super) const LISTENER_FD: i32 = 3;

/// A child process with a clean environment, its output in `log`, that dies with Kiln.
pub(super) fn spawn(
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
pub(super) fn stop_group(child: &mut Child) {
    if let Some(pid) = child.id().and_then(|p| i32::try_from(p).ok()) {
        // SAFETY: killpg only sends a signal; the group is the child's own (`process_group(0)`).
        unsafe {
            libc::killpg(pid, libc::SIGKILL);
        }
    }
    let _ = child.start_kill();
}
