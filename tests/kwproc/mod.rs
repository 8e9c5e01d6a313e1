//! Test helper: runs the real `keepwatch` binary (start, SIGTERM, kill -9), writes configs, and reads
//! recordings back through the CLI. Only processes these helpers started are ever signalled.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

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

/// Runs the binary with `args`, writing `stdin` to it; panics unless it succeeds.
pub fn cli_stdin(args: &[&str], stdin: &str) -> Output {
    use std::io::Write;
    let mut c = Command::new(bin())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    c.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let out = c.wait_with_output().unwrap();
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
    pub config: PathBuf,
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
        Keepwatch { child: Some(child), log, config: config.to_path_buf() }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the log contains `needle`.
    pub fn wait_log(&self, needle: &str, timeout: Duration) -> bool {
        let t0 = Instant::now();
        while t0.elapsed() < timeout {
            if self.log_text().contains(needle) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }

    /// Waits until one line of the log contains every needle.
    pub fn wait_line(&self, needles: &[&str], timeout: Duration) -> bool {
        let t0 = Instant::now();
        while t0.elapsed() < timeout {
            if self.log_text().lines().any(|l| needles.iter().all(|n| l.contains(n))) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }

    /// The base URL (`http://127.0.0.1:PORT` or https) from the "listening on" log line.
    pub fn base_url(&self, timeout: Duration) -> String {
        assert!(self.wait_line(&["listening on "], timeout), "keepwatch did not listen; log:\n{}", self.log_text());
        let text = self.log_text();
        let line = text.lines().find(|l| l.contains("listening on ")).unwrap();
        let url = line.split("listening on ").nth(1).unwrap().trim();
        url.trim_end_matches('/').to_owned()
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.as_mut().map(|c| c.try_wait()), Some(Ok(None)))
    }

    fn signal(&self, sig: &str) {
        use rustix::process::{kill_process, Pid, Signal};
        let sig = if sig == "KILL" { Signal::KILL } else { Signal::TERM };
        if let Some(p) = Pid::from_raw(self.pid() as i32) {
            let _ = kill_process(p, sig);
        }
    }

    /// kill -9; returns the wall time just before the signal.
    pub fn kill9(&mut self) -> i64 {
        let t = now_us();
        self.signal("KILL");
        if let Some(mut c) = self.child.take() {
            let _ = c.wait();
        }
        t
    }

    /// SIGTERM and wait (up to 30 s) for a clean exit; returns the exit code.
    pub fn stop(&mut self) -> Option<i32> {
        self.signal("TERM");
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
}

impl Drop for Keepwatch {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

pub fn cli(args: &[&str]) -> Output {
    Command::new(bin()).args(args).env("KEEPWATCH_LOG", "warn").output().expect("run keepwatch")
}

/// The recorded spans of a camera, in µs.
pub fn spans(config: &Path, camera: &str) -> Vec<(i64, i64)> {
    let out = cli(&["recordings", "--config", config.to_str().unwrap(), "--camera", camera]);
    assert!(out.status.success(), "recordings failed: {}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("recordings JSON");
    v.as_array()
        .unwrap()
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

/// Frames a decoder outputs for the first video stream (edit lists applied), via `ffprobe -count_frames`.
pub fn decoded_video_frames(path: &Path) -> u64 {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries", "stream=nb_read_frames"])
        .args(["-of", "default=nokey=1:noprint_wrappers=1"])
        .arg(path)
        .output()
        .expect("ffprobe");
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap_or(0)
}
