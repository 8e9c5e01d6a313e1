//! Processes and ports: whether a tool is installed, running a tool with a time limit, signalling a process
//! this test started (by its pid, never by name), a free port on 127.0.0.1.

use std::collections::HashSet;
use std::fs;
use std::io::Read;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, ExitStatus, Output, Stdio};
use std::sync::{Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

pub use rustix::process::Signal;

/// Sends `sig` to one process this test started. Returns false if it was already gone.
pub fn signal_pid(pid: u32, sig: Signal) -> bool {
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
