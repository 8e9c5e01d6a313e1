//! One loop per off-site target: take the queue's next due job, build its encrypted spool file (once; it
//! stays until the upload succeeds, so a resumed multipart upload sends the same bytes), upload it under
//! the bandwidth cap, and on failure try again later with back-off (5 s doubling to 10 min, forever: a
//! target that comes back after a week still gets everything). After uploads, the target's retention
//! (`keep_count`, `keep_age`) removes our oldest objects.
//!
//! The bytes come from a [`Source`] the daemon provides (the same MP4 `keepwatch export` writes for the
//! range, the event's JPEG), so this crate never reads the store.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use kw_config::OffsiteConfig;
use tokio::sync::Notify;

use crate::queue::{Job, Part, Queue};
use crate::target::Target;
use crate::throttle::Throttle;
use crate::{crypt, Health, OffsiteError};

/// First retry after a failure; doubles per attempt up to [`MAX_BACKOFF`].
pub const FIRST_BACKOFF: Duration = Duration::from_secs(5);
/// Longest wait between tries.
pub const MAX_BACKOFF: Duration = Duration::from_secs(600);
/// How often retention runs at most (and at least, while idle).
const RETENTION_EVERY: Duration = Duration::from_secs(600);
/// Longest idle sleep before looking at the queue again (jobs enqueued by another process).
const IDLE_POLL: Duration = Duration::from_secs(30);

/// Where the bytes to send come from.
pub trait Source: Send + Sync + 'static {
    /// Writes the MP4 of `camera` over `[start, end)` µs to `out`; `Ok(false)` when nothing is recorded there.
    fn clip(&self, camera: &str, start: i64, end: i64, out: &mut dyn Write) -> Result<bool, String>;
    /// Writes the event's picture (JPEG) to `out`; `Ok(false)` when it has none.
    fn picture(&self, event_id: i64, out: &mut dyn Write) -> Result<bool, String>;
}

/// Microseconds since the epoch, now.
pub fn now_us() -> i64 {
    let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// The wait before try number `attempts + 1`.
pub fn backoff(attempts: i64) -> Duration {
    let shift = attempts.clamp(0, 16) as u32;
    FIRST_BACKOFF.saturating_mul(1 << shift).min(MAX_BACKOFF)
}

/// Everything one target's loop needs.
pub struct Worker {
    pub cfg: OffsiteConfig,
    pub queue: Queue,
    /// Private directory (0700) for spool files.
    pub spool_dir: PathBuf,
    pub source: Arc<dyn Source>,
    pub health: Health,
    /// Nudged when a job is enqueued.
    pub wake: Arc<Notify>,
}

impl Worker {
    /// Runs until the task is aborted (the config dropped or changed the target).
    pub async fn run(self) {
        let name = self.cfg.name.clone();
        let (target, recipients) = loop {
            match Target::open(&self.cfg).and_then(|t| Ok((t, crypt::recipients(&self.cfg.recipients)?))) {
                Ok(ok) => break ok,
                Err(e) => {
                    tracing::error!(target = %name, "off-site target unusable: {e}");
                    self.health.failed(&name, now_us(), &e.to_string());
                    self.sleep(MAX_BACKOFF).await;
                }
            }
        };
        let mut throttle = Throttle::new(self.cfg.bandwidth);
        let mut retention_due = true;
        let mut last_retention: Option<tokio::time::Instant> = None;
        loop {
            let now = now_us();
            let q = self.queue.clone();
            let n = name.clone();
            let next = self.queue.call(move |_| Ok((q.pending(&n)?, q.next_due(&n, now)?, q.next_wake(&n)?))).await;
            let (pending, job, wake_at) = match next {
                Ok(v) => v,
                Err(e) => {
                    tracing::error!(target = %name, "off-site queue: {e}");
                    self.sleep(IDLE_POLL).await;
                    continue;
                }
            };
            self.health.queued(&name, pending);
            if let Some(job) = job {
                if self.process(&target, &recipients, job, &mut throttle).await {
                    retention_due = true;
                }
                continue;
            }
            // The queue is drained for now: a fresh cap budget for the next burst, then retention.
            throttle = throttle.fresh();
            if retention_due || last_retention.is_none_or(|t| t.elapsed() >= RETENTION_EVERY) {
                if let Err(e) = self.retention(&target).await {
                    tracing::warn!(target = %name, "off-site retention: {e}");
                }
                retention_due = false;
                last_retention = Some(tokio::time::Instant::now());
            }
            let wait = wake_at.map_or(IDLE_POLL, |at| Duration::from_micros((at - now).max(0) as u64));
            self.sleep(wait.min(IDLE_POLL)).await;
        }
    }

    async fn sleep(&self, d: Duration) {
        tokio::select! {
            _ = tokio::time::sleep(d) => {}
            _ = self.wake.notified() => {}
        }
    }

    /// One try of one job; true when it reached the target.
    async fn process(
        &self,
        target: &Target,
        recipients: &[age::x25519::Recipient],
        mut job: Job,
        throttle: &mut Throttle,
    ) -> bool {
        let name = &self.cfg.name;
        let spool_ok = job.spool.as_deref().is_some_and(|p| Path::new(p).is_file());
        if !spool_ok {
            match self.build_spool(&job, recipients).await {
                Ok(Some((path, size))) => {
                    job.spool = Some(path.display().to_string());
                    job.size = Some(size);
                    job.upload_id = None;
                    job.parts.clear();
                }
                Ok(None) => {
                    let (q, id) = (self.queue.clone(), job.id);
                    let _ = self.queue.call(move |_| q.skip(id, now_us(), "nothing recorded for this range")).await;
                    tracing::info!(target = %name, event = job.event_id, part = job.part.as_str(), "nothing to copy off-site");
                    return false;
                }
                Err(e) => {
                    tracing::warn!(target = %name, event = job.event_id, "cannot prepare the off-site copy: {e}");
                    self.retry(&job, &e.to_string()).await;
                    return false;
                }
            }
        }
        let spool = PathBuf::from(job.spool.clone().unwrap_or_default());
        match target.upload(&job, &spool, &self.queue, throttle).await {
            Ok(()) => {
                let size = job.size.unwrap_or(0);
                let now = now_us();
                let (q, id, ev, part, tname) = (self.queue.clone(), job.id, job.event_id, job.part, name.clone());
                let head = self
                    .queue
                    .call(move |_| {
                        q.done(id, now)?;
                        if part == Part::Clip {
                            q.supersede_head(&tname, ev, now)
                        } else {
                            Ok(None)
                        }
                    })
                    .await;
                let _ = std::fs::remove_file(&spool);
                self.health.uploaded(name, size, now);
                tracing::info!(target = %name, event = job.event_id, part = job.part.as_str(), bytes = size, "copied off-site");
                match head {
                    Ok(Some(h)) => {
                        if let Some(s) = &h.spool {
                            let _ = std::fs::remove_file(s);
                        }
                        if !h.object.is_empty() {
                            if let Err(e) = target.delete(&h.object).await {
                                tracing::warn!(target = %name, "cannot remove the event's first part: {e}");
                            }
                        }
                    }
                    Ok(None) => {}
                    Err(e) => tracing::error!(target = %name, "off-site queue: {e}"),
                }
                true
            }
            Err(e) => {
                tracing::warn!(target = %name, event = job.event_id, attempt = job.attempts + 1, "off-site upload failed: {e}");
                self.retry(&job, &e.to_string()).await;
                false
            }
        }
    }

    async fn retry(&self, job: &Job, error: &str) {
        let now = now_us();
        self.health.failed(&self.cfg.name, now, error);
        let due = now + i64::try_from(backoff(job.attempts).as_micros()).unwrap_or(i64::MAX / 2);
        let (q, id, error) = (self.queue.clone(), job.id, error.to_owned());
        if let Err(e) = self.queue.call(move |_| q.retry(id, due, &error)).await {
            tracing::error!(target = %self.cfg.name, "off-site queue: {e}");
        }
    }

    /// Encrypts the job's bytes into a new spool file (0600) and records it; `None` when there is nothing.
    async fn build_spool(
        &self,
        job: &Job,
        recipients: &[age::x25519::Recipient],
    ) -> Result<Option<(PathBuf, u64)>, OffsiteError> {
        let path = self.spool_dir.join(format!("{}-{}.age", self.cfg.name, job.id));
        let (source, job2, recipients, p) = (self.source.clone(), job.clone(), recipients.to_vec(), path.clone());
        let built = tokio::task::spawn_blocking(move || -> Result<Option<u64>, OffsiteError> {
            let file = private_file(&p)?;
            let w = std::io::BufWriter::with_capacity(1 << 20, file);
            let (any, w) = crypt::encrypt(&recipients, w, |out| {
                let got = match job2.part {
                    Part::Head | Part::Clip => source.clip(&job2.camera, job2.range.0, job2.range.1, out),
                    Part::Picture => source.picture(job2.event_id, out),
                };
                got.map_err(OffsiteError::Io)
            })?;
            let file = w.into_inner().map_err(|e| OffsiteError::io(p.display(), e.into_error()))?;
            file.sync_all().map_err(|e| OffsiteError::io(p.display(), e))?;
            if !any {
                let _ = std::fs::remove_file(&p);
                return Ok(None);
            }
            Ok(Some(file.metadata().map_err(|e| OffsiteError::io(p.display(), e))?.len()))
        })
        .await
        .map_err(|e| OffsiteError::Io(format!("task: {e}")))?;
        let size = match built {
            Ok(Some(size)) => size,
            Ok(None) => return Ok(None),
            Err(e) => {
                let _ = std::fs::remove_file(&path);
                return Err(e);
            }
        };
        let (q, id, ps) = (self.queue.clone(), job.id, path.display().to_string());
        self.queue.call(move |_| q.set_spool(id, &ps, size)).await?;
        Ok(Some((path, size)))
    }

    /// Removes our objects beyond `keep_count` (oldest first) and older than `keep_age`.
    async fn retention(&self, target: &Target) -> Result<(), OffsiteError> {
        if self.cfg.keep_count.is_none() && self.cfg.keep_age.is_none() {
            return Ok(());
        }
        let mut all = target.list().await?;
        self.health.reached(&self.cfg.name, now_us());
        let doomed = doomed(&mut all, self.cfg.keep_count, self.cfg.keep_age, now_us());
        for name in doomed.iter().take(1000) {
            target.delete(name).await?;
        }
        if !doomed.is_empty() {
            tracing::info!(target = %self.cfg.name, removed = doomed.len().min(1000), "off-site retention");
        }
        Ok(())
    }
}

/// Which objects retention removes: older than `keep_age`, then the oldest beyond `keep_count`.
fn doomed(all: &mut [crate::ObjectInfo], keep_count: Option<u64>, keep_age: Option<Duration>, now: i64) -> Vec<String> {
    all.sort_by_key(|o| (o.modified.unwrap_or(i64::MAX), o.name.clone()));
    let cut = keep_age.map(|a| now - i64::try_from(a.as_micros()).unwrap_or(i64::MAX / 2));
    let over = keep_count.map_or(0, |k| all.len().saturating_sub(usize::try_from(k).unwrap_or(usize::MAX)));
    all.iter()
        .enumerate()
        .filter(|(i, o)| *i < over || cut.is_some_and(|c| o.modified.is_some_and(|m| m < c)))
        .map(|(_, o)| o.name.clone())
        .collect()
}

/// A new private file (0600), truncating any leftover.
fn private_file(p: &Path) -> Result<std::fs::File, OffsiteError> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(p)
        .map_err(|e| OffsiteError::io(p.display(), e))?;
    f.set_permissions(std::fs::Permissions::from_mode(0o600)).map_err(|e| OffsiteError::io(p.display(), e))?;
    Ok(f)
}

/// Creates the spool directory (0700).
pub fn spool_dir(p: &Path) -> Result<(), OffsiteError> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(p).map_err(|e| OffsiteError::io(p.display(), e))?;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o700)).map_err(|e| OffsiteError::io(p.display(), e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ObjectInfo;

    #[test]
    fn backoff_doubles_to_a_cap() {
        assert_eq!(backoff(0), Duration::from_secs(5));
        assert_eq!(backoff(3), Duration::from_secs(40));
        assert_eq!(backoff(50), MAX_BACKOFF);
    }

    #[test]
    fn retention_takes_the_oldest() {
        let o = |n: &str, m: i64| ObjectInfo { name: n.into(), size: 1, modified: Some(m) };
        let mut all = vec![o("c", 30), o("a", 10), o("b", 20), o("d", 40)];
        assert_eq!(doomed(&mut all.clone(), Some(2), None, 50), vec!["a", "b"]);
        assert_eq!(doomed(&mut all.clone(), None, Some(Duration::from_micros(25)), 50), vec!["a", "b"]);
        assert_eq!(doomed(&mut all.clone(), Some(3), Some(Duration::from_micros(35)), 50), vec!["a"]);
        assert_eq!(doomed(&mut all, Some(10), Some(Duration::from_secs(1)), 50), Vec::<String>::new());
    }
}
