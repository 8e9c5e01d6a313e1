//! Waiting for something to become true: poll a check with a generous timeout, and when it runs out,
//! panic with a message that names what was awaited (and, where the check says so, the last state seen).

use std::time::{Duration, Instant};

/// How often a check is polled.
pub const POLL: Duration = Duration::from_millis(100);

/// Polls `check` until it returns `Ok(value)` and returns the value. After `timeout`, panics with
/// "timed out after … waiting for {what}: {the last Err}".
#[track_caller]
pub fn until_ok<T>(what: &str, timeout: Duration, mut check: impl FnMut() -> Result<T, String>) -> T {
    let t0 = Instant::now();
    loop {
        match check() {
            Ok(v) => return v,
            Err(last) if t0.elapsed() >= timeout => {
                panic!("timed out after {timeout:?} waiting for {what}: {last}")
            }
            Err(_) => std::thread::sleep(POLL),
        }
    }
}

/// Polls `check` until it returns `Some(value)` and returns the value; panics after `timeout`, naming `what`.
#[track_caller]
pub fn until_some<T>(what: &str, timeout: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    until_ok(what, timeout, || check().ok_or_else(|| "not yet".to_owned()))
}

/// Polls `check` until it returns true; panics after `timeout`, naming `what`.
#[track_caller]
pub fn until(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    until_some(what, timeout, || check().then_some(()))
}

/// Polls `check` until it returns true or `timeout` passes; says which. For waits whose failure the caller
/// reports itself.
pub fn poll(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let t0 = Instant::now();
    loop {
        if check() {
            return true;
        }
        if t0.elapsed() >= timeout {
            return false;
        }
        std::thread::sleep(POLL);
    }
}
