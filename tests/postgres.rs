//! A throwaway PostgreSQL server for tests: Debian's `postgresql` package, a cluster made in a
//! temporary directory, listening on a free loopback port, stopped and removed when dropped.
//! Run as root, the server runs as the `postgres` user (PostgreSQL refuses root).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A running cluster.
pub struct Cluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    as_postgres: bool,
}

/// Where the server's programs are: Debian's versioned directory (the newest), else beside
/// the `pg_ctl` on PATH.
fn bin_dir() -> PathBuf {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| d.filter_map(|e| Some(e.ok()?.path().join("bin"))).collect())
        .unwrap_or_default();
    versions.retain(|b| b.join("pg_ctl").is_file());
    versions.sort();
    if let Some(newest) = versions.pop() {
        return newest;
    }
    let out = Command::new("sh")
        .args(["-c", "command -v pg_ctl"])
        .output()
        .unwrap();
    let found = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(
        out.status.success() && !found.is_empty(),
        "PostgreSQL is needed for these tests: ./scripts/test installs Debian's postgresql package"
    );
    Path::new(&found).parent().unwrap().to_path_buf()
}

impl Cluster {
    /// Makes and starts a cluster whose superuser `kiln` needs no password on loopback.
    pub fn start() -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let uid = Command::new("id").arg("-u").output().unwrap();
        let as_postgres = String::from_utf8_lossy(&uid.stdout).trim() == "0";
        if as_postgres {
            let chown = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()
                .unwrap();
            assert!(chown.success());
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let cluster = Cluster {
            dir,
            bin: bin_dir(),
            port,
            as_postgres,
        };
        let data = cluster.dir.path().join("data");
        cluster.run(
            "initdb",
            &[
                "-D",
                data.to_str().unwrap(),
                "-U",
                "kiln",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
            ],
        );
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {port} -k {} -c fsync=off",
            cluster.dir.path().display()
        );
        cluster.run(
            "pg_ctl",
            &[
                "-D",
                data.to_str().unwrap(),
                "-o",
                &options,
                "-l",
                cluster.dir.path().join("log").to_str().unwrap(),
                "-w",
                "start",
            ],
        );
        cluster
    }

    fn run(&self, program: &str, args: &[&str]) -> Output {
        let path = self.bin.join(program);
        let out = if self.as_postgres {
            Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(&path)
                .args(args)
                .current_dir(self.dir.path())
                .output()
        } else {
            Command::new(&path).args(args).output()
        }
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(
            out.status.success(),
            "{program} {args:?}:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// The server's own database, as a libpq URL: where databases are made from.
    pub fn server_url(&self) -> String {
        format!("postgresql://kiln@127.0.0.1:{}/postgres", self.port)
    }

    /// A new, empty database, as a SQLAlchemy URL (psycopg 3).
    pub fn database(&self, name: &str) -> String {
        self.run(
            "psql",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "kiln",
                "-d",
                "postgres",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                &format!("CREATE DATABASE \"{name}\""),
            ],
        );
        format!("postgresql+psycopg://kiln@127.0.0.1:{}/{name}", self.port)
    }

    /// Runs one SQL command with `psql` in `database` as the superuser; the output as it is,
    /// failed or not.
    pub fn psql(&self, database: &str, sql: &str) -> Output {
        let target = format!("postgresql://kiln@127.0.0.1:{}/{database}", self.port);
        self.psql_at(&target, sql)
    }

    /// Runs one SQL command with `psql` at the libpq URL `url`, without a password file or
    /// environment: only what the URL says.
    pub fn psql_at(&self, url: &str, sql: &str) -> Output {
        Command::new(self.bin.join("psql"))
            .args([
                "-X",
                "-q",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-d",
                url,
                "-c",
                sql,
            ])
            .env_remove("PGPASSWORD")
            .env("PGPASSFILE", "/nonexistent/pgpass")
            .env("PGCONNECT_TIMEOUT", "10")
            .output()
            .unwrap_or_else(|e| panic!("psql: {e}"))
    }

    /// The port the server listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Makes the server ask `role` for its password (SCRAM) on loopback, where everyone else
    /// is trusted.
    pub fn require_password_for(&self, role: &str) {
        let hba = self.dir.path().join("data/pg_hba.conf");
        let rest = std::fs::read_to_string(&hba).unwrap();
        std::fs::write(
            &hba,
            format!("host all {role} 127.0.0.1/32 scram-sha-256\n{rest}"),
        )
        .unwrap();
        let out = self.psql("postgres", "SELECT pg_reload_conf()");
        assert!(out.status.success(), "{out:?}");
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let data = self.dir.path().join("data");
        let path = self.bin.join("pg_ctl");
        let args = ["-D", data.to_str().unwrap(), "-m", "immediate", "stop"];
        let _ = if self.as_postgres {
            Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(&path)
                .args(args)
                .output()
        } else {
            Command::new(&path).args(args).output()
        };
    }
}
