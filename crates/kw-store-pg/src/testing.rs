//! A throwaway PostgreSQL cluster for tests (feature `test-cluster`; never in a normal build).
//!
//! Why a real server: the index's transactions, constraints and sequences are PostgreSQL's behaviour, and a
//! mock would only repeat our assumptions. Debian's `postgresql-15` (installed by
//! `scripts/install-test-deps.sh`) gives `initdb` and `pg_ctl` in `/usr/lib/postgresql/15/bin` (or the
//! directory in `KW_PG_BIN`). The cluster lives in a temporary directory, listens on a free 127.0.0.1 port
//! with its socket in that directory, asks TCP logins for a password (SCRAM; the superuser `postgres` has
//! [`PASSWORD`], so the index's real login path is what the tests use) and trusts logins through its own
//! socket (the helper's `psql`), runs without fsync, and is stopped
//! by [`Drop`]: only the server this helper started. `initdb` and the server refuse to run as root, so as root
//! they run as the `postgres` user through `runuser`.
//!
//! When PostgreSQL cannot be started, [`TestCluster::start_or_skip`] fails the test, unless the environment
//! says `KW_SKIP_PG=1`: then it says why on stderr and the test skips.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Default place of the PostgreSQL 15 programs on Debian.
pub const DEFAULT_BIN: &str = "/usr/lib/postgresql/15/bin";

/// The password of the superuser `postgres` over TCP.
pub const PASSWORD: &str = "kw-test-pw";

/// A running throwaway cluster; stopped and deleted when dropped.
pub struct TestCluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    as_postgres: bool,
    next_db: std::sync::atomic::AtomicU32,
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0").unwrap_or(false)
}

fn free_port() -> Result<u16, String> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| format!("cannot find a free port: {e}"))?;
    l.local_addr().map(|a| a.port()).map_err(|e| format!("cannot find a free port: {e}"))
}

fn describe(what: &str, o: &Output) -> String {
    format!(
        "{what} failed ({}): {}{}",
        o.status,
        String::from_utf8_lossy(&o.stdout).trim(),
        String::from_utf8_lossy(&o.stderr).trim()
    )
}

impl TestCluster {
    /// Starts a cluster, or fails the test; with `KW_SKIP_PG=1` a cluster that cannot start means `None`.
    pub fn start_or_skip() -> Option<TestCluster> {
        match TestCluster::start() {
            Ok(c) => Some(c),
            Err(e) if std::env::var("KW_SKIP_PG").as_deref() == Ok("1") => {
                eprintln!("SKIPPED (KW_SKIP_PG=1): PostgreSQL could not be started: {e}");
                None
            }
            Err(e) => panic!(
                "PostgreSQL could not be started: {e}\n(install it with scripts/install-test-deps.sh, or set \
                 KW_SKIP_PG=1 to skip the PostgreSQL tests)"
            ),
        }
    }

    /// Creates and starts a cluster.
    pub fn start() -> Result<TestCluster, String> {
        let bin = std::env::var_os("KW_PG_BIN").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(DEFAULT_BIN));
        if !bin.join("initdb").exists() {
            return Err(format!("{} not found (is postgresql-15 installed?)", bin.join("initdb").display()));
        }
        let dir = tempfile::Builder::new().prefix("kw-pg-").tempdir().map_err(|e| format!("temp dir: {e}"))?;
        let as_postgres = is_root();
        if as_postgres {
            let o = Command::new("chown")
                .args(["postgres:postgres"])
                .arg(dir.path())
                .output()
                .map_err(|e| format!("chown: {e}"))?;
            if !o.status.success() {
                return Err(describe("chown postgres (is there a postgres user?)", &o));
            }
        }
        let mut cluster = TestCluster { dir, bin, port: 0, as_postgres, next_db: std::sync::atomic::AtomicU32::new(0) };
        let data = cluster.data();
        let pwfile = cluster.dir.path().join("pwfile");
        std::fs::write(&pwfile, format!("{PASSWORD}\n")).map_err(|e| format!("password file: {e}"))?;
        let o = cluster
            .command("initdb")
            .arg("-D")
            .arg(&data)
            .arg(format!("--pwfile={}", pwfile.display()))
            .args(["-U", "postgres", "--auth-local=trust", "--auth-host=scram-sha-256"])
            .args(["-E", "UTF8", "--locale=C.UTF-8", "--no-sync"])
            .output()
            .map_err(|e| format!("initdb: {e}"))?;
        if !o.status.success() {
            return Err(describe("initdb", &o));
        }
        // A port found free may be taken before the server binds it: try a few.
        let mut last = String::new();
        for _ in 0..3 {
            cluster.port = free_port()?;
            match cluster.restart() {
                Ok(()) => return Ok(cluster),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// A command for program `name` of the PostgreSQL binaries, as the `postgres` user when we are root.
    fn command(&self, name: &str) -> Command {
        let program = self.bin.join(name);
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(program);
            c
        } else {
            Command::new(program)
        }
    }

    /// The server's port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The directory holding the data directory, the log and the socket.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The URL of database `db` as the superuser `postgres`, with its password.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres:{PASSWORD}@127.0.0.1:{}/{db}", self.port)
    }

    /// [`TestCluster::url`] without the password (to give it some other way).
    pub fn url_without_password(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// Runs SQL through `psql` on database `db`; returns its output.
    pub fn psql(&self, db: &str, sql: &str) -> Result<String, String> {
        let o = self
            .command("psql")
            .args(["-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-U", "postgres", "-h"])
            .arg(self.dir.path())
            .args(["-p", &self.port.to_string(), "-d", db, "-c", sql])
            .output()
            .map_err(|e| format!("psql: {e}"))?;
        if !o.status.success() {
            return Err(describe("psql", &o));
        }
        Ok(String::from_utf8_lossy(&o.stdout).trim().to_string())
    }

    /// Creates a new, empty database and returns its URL.
    pub fn new_database(&self) -> String {
        let n = self.next_db.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("kw_test_{n}");
        if let Err(e) = self.psql("postgres", &format!("CREATE DATABASE {name}")) {
            panic!("cannot create test database {name}: {e}");
        }
        self.url(&name)
    }

    /// Stops the server (fast shutdown) and leaves the data in place; [`TestCluster::restart`] starts it
    /// again on the same port.
    pub fn stop(&self) -> Result<(), String> {
        let o = self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(["-w", "-t", "60", "-m", "fast", "stop"])
            .output()
            .map_err(|e| format!("pg_ctl: {e}"))?;
        if o.status.success() {
            Ok(())
        } else {
            Err(describe("pg_ctl stop", &o))
        }
    }

    /// Starts the server (again, after [`TestCluster::stop`]) on its port.
    pub fn restart(&self) -> Result<(), String> {
        let opts = format!(
            "-c listen_addresses=127.0.0.1 -p {} -k {} -c fsync=off -c max_connections=50",
            self.port,
            self.dir.path().display()
        );
        let o = self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .arg("-l")
            .arg(self.dir.path().join("log"))
            .args(["-w", "-t", "120", "-o", &opts, "start"])
            .output()
            .map_err(|e| format!("pg_ctl: {e}"))?;
        if o.status.success() {
            return Ok(());
        }
        let log = std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(10).collect();
        Err(format!(
            "{}; log: {}",
            describe("pg_ctl start", &o),
            tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
        ))
    }
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        // Only our server: pg_ctl finds it through the data directory's postmaster.pid.
        let stopped = self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(["-w", "-t", "60", "-m", "immediate", "stop"])
            .output();
        if let Ok(o) = stopped {
            if !o.status.success() && self.data().join("postmaster.pid").exists() {
                eprintln!("{}", describe("stopping the test PostgreSQL", &o));
            }
        }
    }
}
