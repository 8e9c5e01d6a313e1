//! The RTSP camera stand-in: GStreamer's RTSP server (`rtsp_server.py` beside this file) serving looping
//! clips on 127.0.0.1, one mount each, fed in real time by ffmpeg without re-encoding.

use std::ffi::OsString;
use std::fs;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use super::tools::{free_port, signal_pid, Signal};

/// How long to wait for the RTSP server to say `READY`.
pub const READY_TIMEOUT: Duration = Duration::from_secs(60);

const RTSP_SERVER_SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/rtsp_server.py");

/// RTSP authentication the server demands (one scheme per server).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Auth {
    Basic { user: String, password: String },
    Digest { user: String, password: String },
}

impl Auth {
    pub fn basic(user: &str, password: &str) -> Auth {
        Auth::Basic { user: user.into(), password: password.into() }
    }
    pub fn digest(user: &str, password: &str) -> Auth {
        Auth::Digest { user: user.into(), password: password.into() }
    }
    pub fn user(&self) -> &str {
        match self {
            Auth::Basic { user, .. } | Auth::Digest { user, .. } => user,
        }
    }
    pub fn password(&self) -> &str {
        match self {
            Auth::Basic { password, .. } | Auth::Digest { password, .. } => password,
        }
    }
    fn scheme(&self) -> &'static str {
        match self {
            Auth::Basic { .. } => "basic",
            Auth::Digest { .. } => "digest",
        }
    }
}

/// Less common server settings, for [`RtspServer::start_with`].
#[derive(Clone, Debug)]
pub struct ServerOptions {
    /// For clips with AAC: `"aac"` passes it through (RTP MPEG4-GENERIC, pt 97),
    /// `"pcmu"` re-encodes it to G.711 µ-law 8 kHz (pt 0), `"none"` leaves audio out.
    pub audio: &'static str,
    /// Listen on this port instead of a free one.
    pub port: Option<u16>,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions { audio: "aac", port: None }
    }
}

/// Percent-encodes a URL userinfo part.
fn encode_userinfo(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A GStreamer RTSP server on 127.0.0.1 serving looping clips, one mount each, fed in real
/// time without re-encoding. Stopped (with its ffmpeg feeders) on drop.
pub struct RtspServer {
    pub port: u16,
    /// Arguments after the port, reused by `restart`.
    args: Vec<OsString>,
    auth: Option<Auth>,
    child: Option<Child>,
    stdin: Option<ChildStdin>,
    /// Pids of ffmpeg feeders the server reported (including restarted ones).
    feeders: Arc<Mutex<Vec<u32>>>,
    log_dir: tempfile::TempDir,
}

impl RtspServer {
    /// Serves each `(mount, clip)` at `rtsp://127.0.0.1:PORT/mount` (video codec and AAC
    /// audio are detected from the clip), on a free port.
    pub fn start(mounts: &[(&str, &Path)], auth: Option<Auth>) -> RtspServer {
        Self::start_with(mounts, auth, ServerOptions::default())
    }

    pub fn start_with(mounts: &[(&str, &Path)], auth: Option<Auth>, opts: ServerOptions) -> RtspServer {
        assert!(!mounts.is_empty(), "RtspServer needs at least one mount");
        let mut args: Vec<OsString> = Vec::new();
        for (name, path) in mounts {
            let name = name.trim_start_matches('/');
            let mut spec = OsString::from(format!("/{name}="));
            spec.push(path.as_os_str());
            args.push("--mount".into());
            args.push(spec);
        }
        args.push("--audio".into());
        args.push(opts.audio.into());
        if let Some(a) = &auth {
            for s in ["--auth", a.scheme(), "--user", a.user(), "--password", a.password()] {
                args.push(s.into());
            }
        }
        let mut server = RtspServer {
            port: opts.port.unwrap_or_else(free_port),
            args,
            auth,
            child: None,
            stdin: None,
            feeders: Default::default(),
            log_dir: tempfile::Builder::new().prefix("kw-rtsp-server").tempdir().expect("tempdir"),
        };
        // A port picked by free_port can be taken by someone else before the server binds
        // it; then pick another one.
        let mut attempts = 0;
        loop {
            match server.spawn() {
                Ok(()) => return server,
                Err(e) if e.bind_failed && opts.port.is_none() && attempts < 3 => {
                    attempts += 1;
                    server.port = free_port();
                }
                Err(e) => panic!("{}", e.message),
            }
        }
    }

    /// `rtsp://[user:password@]127.0.0.1:PORT/mount`, with the server's credentials.
    pub fn url(&self, mount: &str) -> String {
        match &self.auth {
            Some(a) => self.url_with_credentials(mount, a.user(), a.password()),
            None => self.url_without_credentials(mount),
        }
    }

    pub fn url_without_credentials(&self, mount: &str) -> String {
        format!("rtsp://127.0.0.1:{}/{}", self.port, mount.trim_start_matches('/'))
    }

    pub fn url_with_credentials(&self, mount: &str, user: &str, password: &str) -> String {
        format!(
            "rtsp://{}:{}@127.0.0.1:{}/{}",
            encode_userinfo(user),
            encode_userinfo(password),
            self.port,
            mount.trim_start_matches('/')
        )
    }

    /// The server process's pid while it runs.
    #[allow(dead_code, reason = "a debugging aid, documented in README.md")]
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Everything the server and its feeders wrote to stderr, across restarts.
    #[allow(dead_code, reason = "a debugging aid, documented in README.md")]
    pub fn stderr_log(&self) -> String {
        fs::read_to_string(self.log_dir.path().join("stderr.log")).unwrap_or_default()
    }

    /// Stops the server (SIGTERM, then SIGKILL after 10 s) and the ffmpeg feeders it
    /// started. Idempotent.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        drop(self.stdin.take()); // end of input also asks the server to stop
        if child.try_wait().ok().flatten().is_none() {
            signal_pid(child.id(), Signal::TERM);
            let deadline = Instant::now() + Duration::from_secs(10);
            while child.try_wait().ok().flatten().is_none() {
                if Instant::now() >= deadline {
                    let _ = child.kill();
                    break;
                }
                thread::sleep(Duration::from_millis(20));
            }
        }
        let _ = child.wait();
        // The server stops its feeders, and the kernel kills them if it died (setpriv
        // --pdeathsig). Make sure anyway; only pids it reported, and only while they are
        // still the feeder ffmpeg (not a recycled pid).
        for pid in self.feeders.lock().unwrap().drain(..) {
            if is_our_feeder(pid) {
                signal_pid(pid, Signal::KILL);
            }
        }
    }

    /// Stops the server and starts it again on the same port with the same mounts
    /// (a camera going away and coming back).
    pub fn restart(&mut self) {
        self.stop();
        // The listening socket allows address reuse; retry briefly in case it lingers.
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            match self.spawn() {
                Ok(()) => return,
                Err(e) if e.bind_failed && Instant::now() < deadline => thread::sleep(Duration::from_millis(200)),
                Err(e) => panic!("restart: {}", e.message),
            }
        }
    }

    fn spawn(&mut self) -> Result<(), SpawnError> {
        assert!(self.child.is_none());
        let python = std::env::var_os("KW_TEST_PYTHON").unwrap_or_else(|| "/usr/bin/python3".into());
        let log_path = self.log_dir.path().join("stderr.log");
        let log_start = fs::metadata(&log_path).map(|m| m.len()).unwrap_or(0);
        let log = fs::OpenOptions::new().create(true).append(true).open(&log_path).expect("server log");
        let mut child = Command::new(&python)
            .arg("-u")
            .arg(RTSP_SERVER_SCRIPT)
            .arg(self.port.to_string())
            .args(&self.args)
            .arg("--exit-on-stdin-eof")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {} {RTSP_SERVER_SCRIPT}: {e}", python.to_string_lossy()));
        self.stdin = child.stdin.take();
        let stdout = child.stdout.take().unwrap();
        let feeders = Arc::clone(&self.feeders);
        let (ready_tx, ready_rx) = mpsc::channel::<u16>();
        // Reads the server's stdout for its whole life: feeder pids and READY.
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(pid) = line.strip_prefix("FEEDER ").and_then(|p| p.trim().parse().ok()) {
                    feeders.lock().unwrap().push(pid);
                } else if let Some(port) = line.strip_prefix("READY ").and_then(|p| p.trim().parse().ok()) {
                    let _ = ready_tx.send(port);
                }
            }
        });
        let result = ready_rx.recv_timeout(READY_TIMEOUT);
        self.child = Some(child);
        match result {
            Ok(port) if port == self.port => Ok(()),
            other => {
                self.stop();
                let log = fs::read_to_string(&log_path).unwrap_or_default();
                let log = log.get(log_start as usize..).unwrap_or(&log).to_owned();
                let why = match other {
                    Ok(port) => format!("reported port {port}, expected {}", self.port),
                    Err(mpsc::RecvTimeoutError::Timeout) => {
                        format!("not READY within {READY_TIMEOUT:?}")
                    }
                    Err(mpsc::RecvTimeoutError::Disconnected) => "exited before READY".to_owned(),
                };
                Err(SpawnError {
                    bind_failed: log.contains("cannot listen"),
                    message: format!(
                        "RTSP test server on 127.0.0.1:{} {why} (run scripts/install-test-deps.sh if GStreamer \
                         is missing); its stderr:\n{log}",
                        self.port
                    ),
                })
            }
        }
    }
}

struct SpawnError {
    bind_failed: bool,
    message: String,
}

/// Whether `pid` is still an ffmpeg feeder (one sending MPEG-TS to loopback UDP).
fn is_our_feeder(pid: u32) -> bool {
    match fs::read(format!("/proc/{pid}/cmdline")) {
        Ok(cmdline) => {
            let cmdline = String::from_utf8_lossy(&cmdline);
            cmdline.contains("ffmpeg") && cmdline.contains("udp://127.0.0.1:")
        }
        Err(_) => false,
    }
}

impl Drop for RtspServer {
    fn drop(&mut self) {
        self.stop();
    }
}
