//! Per-target health, read by `/api/system`, `/metrics` and the daemon's storage alert: is the target
//! taking our uploads, since when has it not, what did it last say, how much waits.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// One target's state.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TargetStatus {
    /// Jobs waiting (due or not).
    pub queued: u64,
    /// Objects uploaded since start.
    pub uploaded_objects: u64,
    /// Encrypted bytes uploaded since start.
    pub uploaded_bytes: u64,
    /// µs of the last successful upload (or contact, for listing) since start.
    pub last_success: Option<i64>,
    /// µs since when every attempt has failed; `None` while it works.
    pub failing_since: Option<i64>,
    /// The last failure's message (no credentials in it).
    pub last_error: Option<String>,
}

impl TargetStatus {
    /// `ok`, `failing` or `idle` (nothing tried yet).
    pub fn state(&self) -> &'static str {
        match (self.failing_since, self.last_success) {
            (Some(_), _) => "failing",
            (None, Some(_)) => "ok",
            (None, None) => "idle",
        }
    }
}

/// Every target's state, shared between the workers and the readers. Cheap to clone.
#[derive(Clone, Default)]
pub struct Health {
    inner: Arc<Mutex<BTreeMap<String, TargetStatus>>>,
}

impl Health {
    fn edit(&self, target: &str, f: impl FnOnce(&mut TargetStatus)) {
        let mut m = self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        f(m.entry(target.to_owned()).or_default());
    }

    /// A snapshot, by target name.
    pub fn snapshot(&self) -> BTreeMap<String, TargetStatus> {
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// Keeps only `names` (targets removed from the config disappear).
    pub fn retain(&self, names: &[String]) {
        let mut m = self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        m.retain(|k, _| names.contains(k));
        for n in names {
            m.entry(n.clone()).or_default();
        }
    }

    pub(crate) fn queued(&self, target: &str, n: u64) {
        self.edit(target, |s| s.queued = n);
    }

    pub(crate) fn uploaded(&self, target: &str, bytes: u64, now: i64) {
        self.edit(target, |s| {
            s.uploaded_objects += 1;
            s.uploaded_bytes += bytes;
            s.last_success = Some(now);
            s.failing_since = None;
        });
    }

    pub(crate) fn reached(&self, target: &str, now: i64) {
        self.edit(target, |s| {
            s.last_success = Some(now);
            s.failing_since = None;
        });
    }

    pub(crate) fn failed(&self, target: &str, now: i64, error: &str) {
        self.edit(target, |s| {
            s.failing_since.get_or_insert(now);
            s.last_error = Some(error.chars().take(300).collect());
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failing_since_the_first_failure_until_a_success() {
        let h = Health::default();
        h.retain(&["b2".into()]);
        assert_eq!(h.snapshot()["b2"].state(), "idle");
        h.failed("b2", 10, "connection refused");
        h.failed("b2", 20, "timeout");
        let s = &h.snapshot()["b2"];
        assert_eq!((s.state(), s.failing_since, s.last_error.as_deref()), ("failing", Some(10), Some("timeout")));
        h.uploaded("b2", 1000, 30);
        let s = &h.snapshot()["b2"];
        assert_eq!((s.state(), s.uploaded_bytes, s.uploaded_objects), ("ok", 1000, 1));
        h.retain(&[]);
        assert!(h.snapshot().is_empty());
    }
}
