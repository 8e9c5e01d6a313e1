//! Shared helpers for keepwatch's integration tests: real third-party components on
//! loopback. Use with `mod support;` from a file in `tests/`. See README.md here.
//!
//! Everything started here is owned by the value that started it (pids are kept; nothing
//! is ever killed by name), and everything listens on or talks to 127.0.0.1 only.
#![allow(dead_code)]

use std::collections::HashSet;
use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long to wait for the RTSP server to say `READY`.
pub const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// Default limit for one ffprobe/ffmpeg run started by these helpers.
pub const TOOL_TIMEOUT: Duration = Duration::from_secs(120);

pub mod browser;

const RTSP_SERVER_SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/rtsp_server.py");

// ---------------------------------------------------------------------------------------
// Processes

mod sys {
    pub use rustix::process::Signal;
    pub const SIGTERM: Signal = Signal::TERM;
    pub const SIGKILL: Signal = Signal::KILL;
}

/// Sends `sig` to one process this test started. Returns false if it was already gone.
fn signal_pid(pid: u32, sig: sys::Signal) -> bool {
    match rustix::process::Pid::from_raw(pid as i32) {
        Some(p) => rustix::process::kill_process(p, sig).is_ok(),
        None => false,
    }
}

/// Whether `name` is an executable on PATH (or an executable path, if it has a slash).
pub fn have_tool(name: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let is_exec =
        |p: &Path| fs::metadata(p).map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0).unwrap_or(false);
    if name.contains('/') {
        return is_exec(Path::new(name));
    }
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|dir| is_exec(&dir.join(name))))
        .unwrap_or(false)
}

/// Panics with a pointer to `scripts/install-test-deps.sh` when a tool is missing.
pub fn require_tools(names: &[&str]) {
    let missing: Vec<&str> = names.iter().copied().filter(|n| !have_tool(n)).collect();
    assert!(
        missing.is_empty(),
        "integration test needs {missing:?} on PATH; install them with scripts/install-test-deps.sh"
    );
}

/// Runs `cmd` to completion, capturing stdout and stderr, killing it (and panicking with
/// what it printed) if it runs longer than `timeout`.
pub fn run_with_timeout(cmd: &mut Command, timeout: Duration) -> Output {
    let desc = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {desc}: {e}"));
    let drain = |r: Option<Box<dyn Read + Send>>| {
        thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut r) = r {
                let _ = r.read_to_end(&mut buf);
            }
            buf
        })
    };
    let out = drain(child.stdout.take().map(|r| Box::new(r) as Box<dyn Read + Send>));
    let err = drain(child.stderr.take().map(|r| Box::new(r) as Box<dyn Read + Send>));
    let deadline = Instant::now() + timeout;
    let status: ExitStatus = loop {
        if let Some(st) = child.try_wait().expect("try_wait") {
            break st;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            let stderr = err.join().unwrap_or_default();
            panic!("{desc} did not finish within {timeout:?}; stderr:\n{}", String::from_utf8_lossy(&stderr));
        }
        thread::sleep(Duration::from_millis(20));
    };
    Output { status, stdout: out.join().unwrap_or_default(), stderr: err.join().unwrap_or_default() }
}

/// A TCP port on 127.0.0.1 that was free a moment ago (never the same one twice in a
/// test process).
pub fn free_port() -> u16 {
    static HANDED_OUT: OnceLock<Mutex<HashSet<u16>>> = OnceLock::new();
    let handed_out = HANDED_OUT.get_or_init(Default::default);
    for _ in 0..100 {
        let port = TcpListener::bind(("127.0.0.1", 0)).expect("bind 127.0.0.1:0").local_addr().unwrap().port();
        if handed_out.lock().unwrap().insert(port) {
            return port;
        }
    }
    panic!("no free port found on 127.0.0.1");
}

// ---------------------------------------------------------------------------------------
// ffprobe / ffmpeg

fn is_rtsp(target: &OsStr) -> bool {
    let t = target.to_string_lossy();
    t.starts_with("rtsp://") || t.starts_with("rtsps://")
}

/// `ffprobe -show_format -show_streams` as JSON. `target` is a file or a URL; for
/// `rtsp://` URLs RTP goes over the RTSP connection (`-rtsp_transport tcp`). Panics if
/// ffprobe fails.
pub fn ffprobe_json(target: impl AsRef<OsStr>) -> serde_json::Value {
    let target = target.as_ref();
    let mut cmd = Command::new("ffprobe");
    cmd.args(["-v", "error"]);
    if is_rtsp(target) {
        cmd.args(["-rtsp_transport", "tcp"]);
    }
    cmd.args(["-print_format", "json", "-show_format", "-show_streams"]).arg(target);
    let out = run_with_timeout(&mut cmd, TOOL_TIMEOUT);
    assert!(
        out.status.success(),
        "ffprobe {} failed ({}): {}",
        target.to_string_lossy(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("ffprobe printed invalid JSON")
}

/// Codec names (`h264`, `hevc`, `aac`, `pcm_mulaw`, ...) of the streams in an
/// `ffprobe_json` result, of one `codec_type` (`video`, `audio`).
pub fn codecs_of(probe: &serde_json::Value, codec_type: &str) -> Vec<String> {
    probe["streams"]
        .as_array()
        .map(|streams| {
            streams
                .iter()
                .filter(|s| s["codec_type"] == codec_type)
                .filter_map(|s| s["codec_name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Decodes every frame of `path` (`ffmpeg -v error -i path -f null -`) and returns what
/// ffmpeg reported on stderr: empty when the file decodes cleanly.
pub fn ffmpeg_decode_errors(path: impl AsRef<Path>) -> String {
    let out = run_with_timeout(
        Command::new("ffmpeg").args(["-nostdin", "-v", "error", "-i"]).arg(path.as_ref()).args(["-f", "null", "-"]),
        Duration::from_secs(600),
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

// ---------------------------------------------------------------------------------------
// Test clips

/// A synthetic test clip: testsrc2 video (it moves), optionally a 440 Hz tone as AAC.
#[derive(Clone, Debug, PartialEq)]
pub struct ClipSpec {
    /// `"h264"` (libx264) or `"h265"` (libx265, default open GOP: key frames are CRA).
    pub codec: &'static str,
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    pub seconds: u32,
    /// B-frames (decode order differs from presentation order) or `-bf 0`.
    pub bframes: bool,
    /// A mono AAC audio track.
    pub audio: bool,
    /// Key frame interval in seconds (fixed; no scene-cut key frames).
    pub gop_seconds: f64,
}

impl Default for ClipSpec {
    fn default() -> Self {
        ClipSpec {
            codec: "h264",
            width: 640,
            height: 360,
            fps: 25,
            seconds: 10,
            bframes: false,
            audio: false,
            gop_seconds: 1.0,
        }
    }
}

impl ClipSpec {
    pub fn h264() -> Self {
        ClipSpec::default()
    }
    pub fn h265() -> Self {
        ClipSpec { codec: "h265", ..ClipSpec::default() }
    }
    /// Key frame interval in frames.
    pub fn gop_frames(&self) -> u32 {
        ((self.gop_seconds * self.fps as f64).round() as u32).max(1)
    }
    /// File name in the clip cache; every field, and the recipe version, is part of it.
    pub fn file_name(&self) -> String {
        format!(
            "r{CLIP_RECIPE}-{}-{}x{}-{}fps-{}s-gop{}-{}-{}.mp4",
            self.codec,
            self.width,
            self.height,
            self.fps,
            self.seconds,
            self.gop_frames(),
            if self.bframes { "bf" } else { "nobf" },
            if self.audio { "aac" } else { "noaudio" },
        )
    }
}

/// Bump when `clip`'s ffmpeg command changes, so cached clips made the old way are not reused.
const CLIP_RECIPE: u32 = 1;

/// `<cargo target dir>/kw-test-clips` (or `$KW_TEST_CLIPS_DIR`).
pub fn clips_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("KW_TEST_CLIPS_DIR") {
        return PathBuf::from(dir);
    }
    // CARGO_TARGET_TMPDIR is `<target dir>/tmp` for integration tests.
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent().unwrap_or(tmp).join("kw-test-clips")
}

/// Path to an MP4 clip matching `spec`, generated with ffmpeg the first time and cached
/// in [`clips_dir`]. Safe to call from parallel tests and test processes (each
/// generates into a temporary name and renames it into place).
pub fn clip(spec: &ClipSpec) -> PathBuf {
    assert!(spec.codec == "h264" || spec.codec == "h265", "ClipSpec.codec must be h264 or h265, not {:?}", spec.codec);
    assert!(spec.width.is_multiple_of(2) && spec.height.is_multiple_of(2), "clip dimensions must be even");
    assert!(spec.fps > 0 && spec.seconds > 0, "clip needs fps and seconds");
    cached_clip(&spec.file_name(), |tmp| {
        let gop = spec.gop_frames();
        let mut cmd = Command::new("ffmpeg");
        cmd.args(["-nostdin", "-hide_banner", "-v", "error", "-y"]);
        cmd.args(["-f", "lavfi", "-i"]).arg(format!("testsrc2=size={}x{}:rate={}", spec.width, spec.height, spec.fps));
        if spec.audio {
            cmd.args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"]);
        }
        cmd.args(["-map", "0:v"]);
        if spec.audio {
            cmd.args(["-map", "1:a"]);
        }
        cmd.args(["-t", &spec.seconds.to_string(), "-pix_fmt", "yuv420p"]);
        match spec.codec {
            "h264" => {
                cmd.args(["-c:v", "libx264", "-preset", "veryfast", "-profile:v", "high"]);
                cmd.args(["-g", &gop.to_string(), "-keyint_min", &gop.to_string(), "-sc_threshold", "0"]);
                cmd.args(["-bf", if spec.bframes { "3" } else { "0" }]);
            }
            _ => {
                // x265 keeps its default open GOP, so key frames are CRA as on many cameras.
                cmd.args(["-c:v", "libx265", "-preset", "ultrafast", "-tag:v", "hvc1"]);
                cmd.args(["-g", &gop.to_string()]);
                cmd.arg("-x265-params").arg(format!(
                    "keyint={gop}:min-keyint={gop}:scenecut=0:bframes={}:log-level=error",
                    if spec.bframes { 3 } else { 0 }
                ));
            }
        }
        if spec.audio {
            cmd.args(["-c:a", "aac", "-b:a", "64k", "-ac", "1"]);
        }
        cmd.args(["-movflags", "+faststart", "-f", "mp4"]).arg(tmp);
        cmd
    })
}

/// Length of [`motion_clip`] in seconds (it loops in the RTSP server: one crossing per loop).
pub const MOTION_CLIP_SECONDS: u32 = 20;
/// When, in seconds into each loop of [`motion_clip`], the box enters and has left the frame.
pub const MOTION_CLIP_CROSSING: (u32, u32) = (8, 12);

/// A camera's view of a still scene that something crosses, for motion detection: H.264 640×360 at
/// 10 fps, 1 s GOP, no B-frames, no audio, [`MOTION_CLIP_SECONDS`] long. The background is still and
/// textured (a grid over sky and ground, a few buildings, static grain); a bright 192×120 box (10 % of
/// the frame) crosses it from left to right during [`MOTION_CLIP_CROSSING`] and is gone the rest of
/// the time. Cached like [`clip`].
pub fn motion_clip() -> PathBuf {
    let (enter, leave) = MOTION_CLIP_CROSSING;
    let name = format!("r{MOTION_RECIPE}-motion-h264-640x360-10fps-{MOTION_CLIP_SECONDS}s-gop10-nobf-noaudio.mp4");
    cached_clip(&name, |tmp| {
        let background = [
            "color=c=0x3a4a5a:s=640x360:r=10",                  // sky
            "drawbox=x=0:y=250:w=640:h=110:c=0x4a5a3a:t=fill",  // ground
            "drawgrid=w=40:h=40:t=1:c=0xc0c0c0@0.3",            // texture
            "drawbox=x=60:y=120:w=140:h=130:c=0x806040:t=fill", // a house
            "drawbox=x=90:y=180:w=40:h=70:c=0x302010:t=fill",   // its door
            "drawbox=x=420:y=60:w=80:h=190:c=0x2a3a2a:t=fill",  // a tower
            "drawbox=x=520:y=150:w=70:h=50:c=0xa0a0a0:t=fill",  // a shed
            "noise=alls=8",                                     // grain, the same in every frame
        ]
        .join(",");
        // From x = -192 (just left of the frame) at `enter` to x = 640 (just right of it) at `leave`.
        let speed = (640 + 192) / (leave - enter);
        let crossing = format!(
            "[0:v][1:v]overlay=x='-192+(t-{enter})*{speed}':y=170:enable='between(t,{enter},{leave})':shortest=1,\
             format=yuv420p"
        );
        let mut cmd = Command::new("ffmpeg");
        cmd.args(["-nostdin", "-hide_banner", "-v", "error", "-y"]);
        cmd.args(["-f", "lavfi", "-i", &background]);
        cmd.args(["-f", "lavfi", "-i", "color=c=0xf8f0a0:s=192x120:r=10"]);
        cmd.args(["-filter_complex", &crossing, "-t", &MOTION_CLIP_SECONDS.to_string()]);
        cmd.args(["-c:v", "libx264", "-preset", "veryfast", "-profile:v", "high"]);
        cmd.args(["-g", "10", "-keyint_min", "10", "-sc_threshold", "0", "-bf", "0"]);
        cmd.args(["-movflags", "+faststart", "-f", "mp4"]).arg(tmp);
        cmd
    })
}

/// Bump when `motion_clip`'s ffmpeg command changes.
const MOTION_RECIPE: u32 = 1;

/// `<clips_dir>/name`, made by running `ffmpeg(tmp)` the first time (it writes `tmp`, which is then
/// renamed into place, so a half-written clip is never used).
fn cached_clip(name: &str, ffmpeg: impl FnOnce(&Path) -> Command) -> PathBuf {
    let dir = clips_dir();
    let path = dir.join(name);
    if path.exists() {
        return path;
    }
    // One generation at a time in this process (there are few cores, and two tests
    // asking for the same clip then generate it once).
    static GENERATING: Mutex<()> = Mutex::new(());
    let _guard = GENERATING.lock().unwrap_or_else(|e| e.into_inner());
    if path.exists() {
        return path;
    }
    fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().subsec_nanos();
    let tmp = dir.join(format!(".{name}.{}-{nanos}.tmp.mp4", std::process::id()));
    let out = run_with_timeout(&mut ffmpeg(&tmp), Duration::from_secs(600));
    if !out.status.success() {
        let _ = fs::remove_file(&tmp);
        panic!("generating clip {name} failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    fs::rename(&tmp, &path).unwrap_or_else(|e| panic!("cannot rename {} into place: {e}", tmp.display()));
    path
}

// ---------------------------------------------------------------------------------------
// RTSP server (GStreamer, tests/support/rtsp_server.py)

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

    pub fn auth(&self) -> Option<&Auth> {
        self.auth.as_ref()
    }

    /// The server process's pid while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// Everything the server and its feeders wrote to stderr, across restarts.
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
            signal_pid(child.id(), sys::SIGTERM);
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
                signal_pid(pid, sys::SIGKILL);
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
