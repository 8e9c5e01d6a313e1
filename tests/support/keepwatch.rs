//! The real `keepwatch` binary: writes configs, runs commands (`user`, `token`, `recordings`, `export`,
//! `check`, ...), and runs `keepwatch run` (start, wait for log lines, SIGTERM, kill -9). Only processes
//! these helpers started are ever signalled.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::api::Api;
use super::tools::{signal_pid, Signal};
use super::wait;

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_keepwatch")
}

pub fn now_us() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_micros() as i64
}

pub fn rfc3339(us: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(us) * 1000).unwrap();
    t.format(&time::format_description::well_known::Rfc3339).unwrap()
}

pub fn parse_rfc3339(s: &str) -> i64 {
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).unwrap();
    (t.unix_timestamp_nanos() / 1000) as i64
}

/// Writes `keepwatch.toml` in `dir` with the store in `dir/store` and the given camera sections.
pub fn write_config(dir: &Path, extra_storage: &str, cameras: &str) -> PathBuf {
    let path = dir.join("keepwatch.toml");
    let text =
        format!("[server]\nlisten = \"127.0.0.1:0\"\n\n[storage]\npath = \"store\"\n{extra_storage}\n\n{cameras}\n");
    std::fs::write(&path, text).unwrap();
    path
}

/// Makes a self-signed certificate for 127.0.0.1 (`DIR/cert.pem`, `DIR/key.pem`, EC P-256, two days) and
/// points `config`'s `[server]` at it (`tls_cert`, `tls_key`), so keepwatch serves HTTPS (and RTSPS where
/// `[restream] tls_listen` is set). Returns the certificate's path (a client's CA file).
pub fn serve_tls(config: &Path) -> PathBuf {
    let dir = config.parent().expect("config dir");
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let out = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2"])
        .args(["-subj", "/CN=keepwatch-test", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl");
    assert!(out.status.success(), "openssl: {}", String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(config).expect("read config");
    let text = text.replacen("[server]\n", "[server]\ntls_cert = \"cert.pem\"\ntls_key = \"key.pem\"\n", 1);
    std::fs::write(config, text).expect("write config");
    cert
}

/// Runs the binary with `args` and `KEEPWATCH_LOG=log`, writing `stdin` to it (then closing it), and returns
/// what it did, whatever its exit status. A command that exits before reading its input is fine.
pub fn run_cli(args: &[&str], stdin: &str, log: &str) -> Output {
    let mut c = Command::new(bin())
        .args(args)
        .env("KEEPWATCH_LOG", log)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start keepwatch");
    let mut input = c.stdin.take().unwrap();
    let _ = input.write_all(stdin.as_bytes());
    drop(input);
    c.wait_with_output().expect("wait for keepwatch")
}

/// Runs the binary with `args` (nothing on standard input, warnings and errors logged).
pub fn cli(args: &[&str]) -> Output {
    run_cli(args, "", "warn")
}

/// Runs the binary with `args`, writing `stdin` to it; panics unless it succeeds.
#[track_caller]
pub fn cli_stdin(args: &[&str], stdin: &str) -> Output {
    let out = run_cli(args, stdin, "warn");
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out
}

/// `keepwatch user add` with the password on stdin.
pub fn add_user(config: &Path, name: &str, role: &str, cameras: Option<&str>, pw: &str) {
    let c = config.to_str().unwrap();
    let mut args = vec!["user", "add", name, "--role", role, "--config", c];
    if let Some(cams) = cameras {
        args.extend(["--cameras", cams]);
    }
    cli_stdin(&args, &format!("{pw}\n"));
}

/// `keepwatch token create`; returns the token.
pub fn create_token(config: &Path, label: &str, role: &str, cameras: Option<&str>) -> String {
    let c = config.to_str().unwrap();
    let mut args = vec!["token", "create", label, "--role", role, "--config", c];
    if let Some(cams) = cameras {
        args.extend(["--cameras", cams]);
    }
    let out = cli_stdin(&args, "");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.lines().find(|l| l.starts_with("kw_")).unwrap_or_else(|| panic!("no token in {text:?}")).trim().to_owned()
}

pub fn camera(name: &str, url: &str, extra: &str) -> String {
    format!("[[cameras]]\nname = \"{name}\"\nurl = \"{url}\"\n{extra}\n")
}

pub struct Keepwatch {
    pub child: Option<Child>,
    pub log: PathBuf,
}

impl Keepwatch {
    /// Starts `keepwatch run --config CONFIG`, logging to `<config dir>/keepwatch-N.log`.
    pub fn start(config: &Path) -> Keepwatch {
        let dir = config.parent().unwrap();
        let mut n = 0;
        let log = loop {
            let p = dir.join(format!("keepwatch-{n}.log"));
            if !p.exists() {
                break p;
            }
            n += 1;
        };
        let f = std::fs::File::create(&log).unwrap();
        let child = Command::new(bin())
            .args(["run", "--config"])
            .arg(config)
            .env("KEEPWATCH_LOG", "info")
            .stdin(Stdio::null())
            .stdout(f.try_clone().unwrap())
            .stderr(f)
            .spawn()
            .expect("start keepwatch");
        Keepwatch { child: Some(child), log }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until one line of the log contains every needle; says whether one did (for callers that report
    /// a miss with their own context; [`Keepwatch::expect_line`] panics with the log instead).
    pub fn wait_line(&self, needles: &[&str], timeout: Duration) -> bool {
        wait::poll(timeout, || self.log_line(needles).is_some())
    }

    /// The first line of the log that contains every needle.
    pub fn log_line(&self, needles: &[&str]) -> Option<String> {
        self.log_text().lines().find(|l| needles.iter().all(|n| l.contains(n))).map(str::to_owned)
    }

    /// Waits until one line of the log contains every needle; panics after `timeout` with the needles and
    /// the whole log. Returns the line.
    #[track_caller]
    pub fn expect_line(&self, needles: &[&str], timeout: Duration) -> String {
        wait::until_ok(&format!("a keepwatch log line with {needles:?}"), timeout, || {
            self.log_line(needles).ok_or_else(|| format!("log:\n{}", self.log_text()))
        })
    }

    /// Waits until the log contains `needle` (across lines, too); panics like [`Keepwatch::expect_line`].
    #[track_caller]
    pub fn expect_log(&self, needle: &str, timeout: Duration) {
        wait::until_ok(&format!("{needle:?} in the keepwatch log"), timeout, || {
            let log = self.log_text();
            if log.contains(needle) {
                Ok(())
            } else {
                Err(format!("log:\n{log}"))
            }
        })
    }

    /// Waits until every camera in `cameras` logged that it is streaming.
    #[track_caller]
    pub fn expect_streaming(&self, cameras: &[&str], timeout: Duration) {
        for cam in cameras {
            self.expect_line(&["streaming", &format!("camera={cam}")], timeout);
        }
    }

    /// The base URL (`http://127.0.0.1:PORT` or https) from the "listening on" log line.
    #[track_caller]
    pub fn base_url(&self, timeout: Duration) -> String {
        let line = self.expect_line(&["listening on "], timeout);
        let url = line.split("listening on ").nth(1).unwrap().trim();
        url.trim_end_matches('/').to_owned()
    }

    /// An API client (no credentials yet) for this keepwatch, once it listens (30 s at most).
    #[track_caller]
    pub fn api(&self) -> Api {
        Api::new(&self.base_url(Duration::from_secs(30)))
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.as_mut().map(|c| c.try_wait()), Some(Ok(None)))
    }

    /// kill -9; returns the wall time just before the signal.
    pub fn kill9(&mut self) -> i64 {
        let t = now_us();
        signal_pid(self.pid(), Signal::KILL);
        if let Some(mut c) = self.child.take() {
            let _ = c.wait();
        }
        t
    }

    /// SIGTERM and wait (up to 30 s) for a clean exit; returns the exit code.
    pub fn stop(&mut self) -> Option<i32> {
        signal_pid(self.pid(), Signal::TERM);
        let mut c = self.child.take()?;
        let t0 = Instant::now();
        loop {
            if let Ok(Some(st)) = c.try_wait() {
                return st.code();
            }
            if t0.elapsed() > Duration::from_secs(30) {
                let _ = c.kill();
                let _ = c.wait();
                panic!("keepwatch did not stop within 30 s; log:\n{}", self.log_text());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// [`Keepwatch::stop`], asserting a clean exit (code 0); the message has the log.
    #[track_caller]
    pub fn stop_ok(&mut self) {
        let code = self.stop();
        assert_eq!(code, Some(0), "keepwatch did not exit cleanly; log:\n{}", self.log_text());
    }
}

impl Drop for Keepwatch {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The recorded spans of a camera, in µs.
pub fn spans(config: &Path, camera: &str) -> Vec<(i64, i64)> {
    let out = cli(&["recordings", "--config", config.to_str().unwrap(), "--camera", camera]);
    assert!(out.status.success(), "recordings failed: {}", String::from_utf8_lossy(&out.stderr));
    spans_of(&serde_json::from_slice(&out.stdout).expect("recordings JSON"))
}

/// `[{"start": RFC 3339, "end": RFC 3339}, ...]` (from `keepwatch recordings` or `/api/cameras/NAME/recordings`)
/// as spans in µs.
pub fn spans_of(list: &serde_json::Value) -> Vec<(i64, i64)> {
    list.as_array()
        .unwrap_or_else(|| panic!("not a list of spans: {list}"))
        .iter()
        .map(|s| (parse_rfc3339(s["start"].as_str().unwrap()), parse_rfc3339(s["end"].as_str().unwrap())))
        .collect()
}

pub fn export(config: &Path, camera: &str, start: i64, end: i64, out: &Path) -> Output {
    cli(&[
        "export",
        "--config",
        config.to_str().unwrap(),
        "--camera",
        camera,
        "--start",
        &rfc3339(start),
        "--end",
        &rfc3339(end),
        "-o",
        out.to_str().unwrap(),
    ])
}

pub fn check(config: &Path, repair: bool) -> Output {
    let mut args = vec!["check", "--config", config.to_str().unwrap()];
    if repair {
        args.push("--repair");
    }
    cli(&args)
}
