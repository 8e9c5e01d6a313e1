//! The off-site targets of `tests/it/offsite.rs`, real servers on loopback: SeaweedFS (`weed mini`, an
//! S3 API with SigV4 and real multipart) and WsgiDAV (a WebDAV server with Basic auth), both from the
//! virtual environment `scripts/install-test-deps.sh` makes ($KEEPWATCH_TEST_VENV, default
//! `~/.cache/keepwatch-test-venv`). Each is owned by its value: stopped by its pid, killed on drop.

use super::tools::{free_port, signal_pid, Signal};
use std::fs;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The virtual environment with `weed` and `wsgidav`.
pub fn venv() -> PathBuf {
    match std::env::var_os("KEEPWATCH_TEST_VENV") {
        Some(v) => PathBuf::from(v),
        None => {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into())).join(".cache/keepwatch-test-venv")
        }
    }
}

fn tool(name: &str) -> PathBuf {
    let p = venv().join("bin").join(name);
    assert!(p.exists(), "{} missing: run scripts/install-test-deps.sh", p.display());
    p
}

fn wait_port(port: u16, timeout: Duration, what: &str, log: &Path) {
    let until = Instant::now() + timeout;
    while Instant::now() < until {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{what} did not listen on {port} within {timeout:?}:\n{}", fs::read_to_string(log).unwrap_or_default());
}

/// `weed mini` with one S3 identity; the bucket is created on first write.
pub struct SeaweedS3 {
    child: Option<Child>,
    dir: PathBuf,
    pub port: u16,
    ports: [u16; 5],
    pub access_key: String,
    pub secret_key: String,
}

impl SeaweedS3 {
    pub fn start(dir: &Path) -> SeaweedS3 {
        // Every port P also takes P + 10000 for gRPC: pick ports whose partners are free too.
        let pick = || loop {
            let p = free_port();
            if p < 55000 && std::net::TcpListener::bind(("127.0.0.1", p + 10000)).is_ok() {
                return p;
            }
        };
        let port = pick();
        let ports = [pick(), pick(), pick(), pick(), free_port()];
        let s3 = SeaweedS3 {
            child: None,
            dir: dir.to_path_buf(),
            port,
            ports,
            access_key: "kwtestaccess".into(),
            secret_key: "kwtestsecret-0123456789".into(),
        };
        fs::create_dir_all(dir.join("data")).unwrap();
        let identities = serde_json::json!({"identities": [{"name": "kw", "credentials":
            [{"accessKey": s3.access_key, "secretKey": s3.secret_key}], "actions": ["Admin", "Read", "Write", "List"]}]});
        fs::write(dir.join("identities.json"), identities.to_string()).unwrap();
        let mut s3 = s3;
        s3.launch();
        s3
    }

    fn launch(&mut self) {
        let log = self.dir.join("weed.log");
        let out = fs::OpenOptions::new().create(true).append(true).open(&log).unwrap();
        let [master, volume, filer, admin, metrics] = self.ports;
        let child = Command::new(tool("weed"))
            .args([
                "mini",
                &format!("-dir={}", self.dir.join("data").display()),
                "-ip=127.0.0.1",
                "-ip.bind=127.0.0.1",
                "-master.telemetry=false",
                "-s3.autoCreateBucket=true",
                &format!("-s3.config={}", self.dir.join("identities.json").display()),
                &format!("-s3.port={}", self.port),
                &format!("-master.port={master}"),
                &format!("-volume.port={volume}"),
                &format!("-filer.port={filer}"),
                &format!("-admin.port={admin}"),
                &format!("-metricsPort={metrics}"),
                "-webdav=false",
                "-admin.ui=false",
                // Fixed ports by default (8181, 9101): off, so several instances can run at once.
                "-s3.port.iceberg=0",
                "-s3.port.lance=0",
            ])
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("start weed mini");
        self.child = Some(child);
        wait_port(self.port, Duration::from_secs(60), "SeaweedFS S3", &log);
        // Ready for signed requests a moment after it listens.
        std::thread::sleep(Duration::from_secs(3));
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            signal_pid(c.id(), Signal::KILL);
            let _ = c.wait();
        }
    }
}

impl Drop for SeaweedS3 {
    fn drop(&mut self) {
        self.stop();
    }
}

/// WsgiDAV serving `root` at `http://127.0.0.1:PORT/dav/` with one Basic-auth user.
pub struct WebDav {
    child: Option<Child>,
    dir: PathBuf,
    pub root: PathBuf,
    pub port: u16,
    pub user: String,
    pub password: String,
}

impl WebDav {
    pub fn start(dir: &Path) -> WebDav {
        let root = dir.join("root");
        fs::create_dir_all(&root).unwrap();
        let mut d = WebDav {
            child: None,
            dir: dir.to_path_buf(),
            root,
            port: free_port(),
            user: "kwdav".into(),
            password: "dav-secret-pw".into(),
        };
        let conf = serde_json::json!({
            "host": "127.0.0.1",
            "port": d.port,
            "provider_mapping": {"/dav": d.root.display().to_string()},
            "http_authenticator": {"accept_basic": true, "accept_digest": false, "default_to_digest": false},
            "simple_dc": {"user_mapping": {"*": {d.user.clone(): {"password": d.password.clone()}}}},
            "verbose": 3,
            "dir_browser": {"enable": false},
        });
        fs::write(dir.join("wsgidav.json"), conf.to_string()).unwrap();
        d.launch();
        d
    }

    fn launch(&mut self) {
        let log = self.dir.join("wsgidav.log");
        let out = fs::OpenOptions::new().create(true).append(true).open(&log).unwrap();
        let child = Command::new(tool("wsgidav"))
            .arg(format!("--config={}", self.dir.join("wsgidav.json").display()))
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("start wsgidav");
        self.child = Some(child);
        wait_port(self.port, Duration::from_secs(30), "WsgiDAV", &log);
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            signal_pid(c.id(), Signal::KILL);
            let _ = c.wait();
        }
    }

    pub fn restart(&mut self) {
        self.stop();
        self.launch();
    }

    /// Every file under the root, relative to it.
    pub fn files(&self) -> Vec<(String, Vec<u8>)> {
        fn walk(base: &Path, dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
            for e in fs::read_dir(dir).into_iter().flatten().flatten() {
                let p = e.path();
                if p.is_dir() {
                    walk(base, &p, out);
                } else {
                    let rel = p.strip_prefix(base).unwrap().display().to_string();
                    out.push((rel, fs::read(&p).unwrap_or_default()));
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.root, &self.root, &mut out);
        out.sort();
        out
    }
}

impl Drop for WebDav {
    fn drop(&mut self) {
        self.stop();
    }
}
