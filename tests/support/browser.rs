//! Browser tests' Rust side: make sure `npm ci` has run in `tests/ui` (once, even when several tests or test
//! processes ask at the same time), run a Node script there with environment variables, and fail the test
//! with everything the script printed. The scripts drive headless Chromium through playwright-core
//! (`tests/ui/lib.mjs`); screenshots go to `target/ui-screenshots/`.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// `tests/ui`, where package.json and the scripts live.
pub fn ui_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ui")
}

/// `target/ui-screenshots/` (created).
pub fn screenshot_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/ui-screenshots");
    std::fs::create_dir_all(&dir).expect("create target/ui-screenshots");
    dir
}

/// Installs the locked npm packages (`npm ci`) unless `node_modules` already has playwright-core. A file
/// lock in the target directory keeps two test processes from installing at once.
pub fn ensure_npm() {
    super::require_tools(&["node", "npm", "chromium"]);
    let ui = ui_dir();
    let installed = || ui.join("node_modules/playwright-core/package.json").exists();
    if installed() {
        return;
    }
    let lock_path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("ui-npm-ci.lock");
    let lock = File::create(&lock_path).expect("create the npm lock file");
    lock.lock().expect("lock the npm lock file");
    if !installed() {
        let out = super::run_with_timeout(
            Command::new("npm").args(["ci", "--no-audit", "--no-fund", "--loglevel=error"]).current_dir(&ui),
            Duration::from_secs(300),
        );
        assert!(
            out.status.success(),
            "npm ci in {} failed (run scripts/install-test-deps.sh for node and npm):\n{}{}",
            ui.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let _ = lock.unlock();
}

/// Runs `node tests/ui/<script>` with `env` (plus `SCREENSHOT_DIR` unless given) and returns what it
/// printed; panics with that output when it fails or runs past `timeout` (then it is killed).
pub fn run_node(script: &str, env: &[(&str, String)], timeout: Duration) -> String {
    ensure_npm();
    let ui = ui_dir();
    let log = tempfile::NamedTempFile::new().expect("temp file for node's output");
    let f = log.reopen().expect("reopen node's log");
    let mut cmd = Command::new("node");
    cmd.arg(script).current_dir(&ui).stdin(Stdio::null()).stdout(f.try_clone().unwrap()).stderr(f);
    if !env.iter().any(|(k, _)| *k == "SCREENSHOT_DIR") {
        cmd.env("SCREENSHOT_DIR", screenshot_dir());
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start node {script}: {e}"));
    let t0 = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait for node") {
            break Some(st);
        }
        if t0.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let text = std::fs::read_to_string(log.path()).unwrap_or_default();
    println!("--- node {script} ({:.1} s) ---\n{text}", t0.elapsed().as_secs_f64());
    match status {
        None => panic!("node {script} did not finish within {timeout:?}; it printed:\n{text}"),
        Some(st) if !st.success() => panic!("node {script} failed ({st}); it printed:\n{text}"),
        Some(_) => text,
    }
}
