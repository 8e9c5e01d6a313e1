//! Deleting recordings: retention limits and freeing space after ENOSPC.
//!
//! Why this deletion order: a row is the promise that data exists, so the row goes first. In ONE
//! transaction the row is deleted and the segment's name is put on the garbage list; then the file is
//! unlinked; then the name leaves the list. A crash in between leaves a name on the garbage list, which
//! recovery unlinks, and never re-indexes (deleted recordings must not come back).
//!
//! Why protected video is skipped, not stopped at: retention deletes the oldest *unprotected* segments
//! (see [`crate::protect`]); protected bytes still count toward the limits, so unprotected video goes
//! first, and when only protected video is left over a limit the shortfall is reported, loudly.
//!
//! Why open writers count: a segment being written has no row yet, but its bytes are on the disk. If
//! retention ignored them, a store with a size limit would exceed it by up to one segment per camera.

use std::collections::HashMap;
use std::time::Duration;

use kw_media::WallMicros;

use crate::error::StoreError;
use crate::index::SegmentRow;
use crate::store::Store;

/// Rows fetched per round when looking for the oldest segments.
const BATCH: usize = 256;

/// How long and how much to keep. Limits apply oldest first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Retention {
    /// Total bytes of all cameras (committed segments plus segments being written).
    pub max_size: Option<u64>,
    /// Default age limit for every camera.
    pub max_age: Option<Duration>,
    /// Per camera name: (size limit of that camera, age limit replacing `max_age` when set).
    pub cameras: HashMap<String, (Option<u64>, Option<Duration>)>,
}

fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

impl Store {
    /// Deletes segments that exceed the policy, oldest first, and returns them. Per camera: segments
    /// that ended more than the age limit before `now`, then the oldest until the camera fits its
    /// size limit. Then, over all cameras, the oldest until the total fits `max_size`. Protected segments
    /// are never deleted but count toward the limits; when only they are left over a limit, the store
    /// reports it ([`Store::storage_pressure`]).
    pub fn enforce_retention(&self, policy: &Retention, now: WallMicros) -> Result<Vec<SegmentRow>, StoreError> {
        let open = self.open_bytes();
        let mut deleted = Vec::new();
        let mut total: u64 = open.values().sum();
        let mut over_limit = None;
        for cam in self.index().camera_stats()? {
            let (cap, age) = policy.cameras.get(&cam.name).copied().unwrap_or((None, None));
            let mut used = cam.bytes.saturating_add(open.get(&cam.camera_id).copied().unwrap_or(0));
            if let Some(age) = age.or(policy.max_age) {
                let cutoff = now.saturating_sub(micros(age));
                let gone = self.delete_oldest(Some(cam.camera_id), |r| r.end <= cutoff)?;
                used = used.saturating_sub(gone.iter().map(|r| r.bytes).sum());
                deleted.extend(gone);
            }
            if let Some(cap) = cap {
                let gone = self.delete_oldest(Some(cam.camera_id), |r| {
                    let over = used > cap;
                    if over {
                        used = used.saturating_sub(r.bytes);
                    }
                    over
                })?;
                deleted.extend(gone);
                if used > cap && over_limit.is_none() && self.index().protected_bytes()? > 0 {
                    over_limit = Some(format!(
                        "camera {} holds {} MB, over its max_size of {} MB, and only protected video is left to \
                         delete; remove protections (keepwatch protected list / remove) or raise the limit",
                        cam.name,
                        used / 1_000_000,
                        cap / 1_000_000
                    ));
                }
            }
            total += used.saturating_sub(open.get(&cam.camera_id).copied().unwrap_or(0));
        }
        if let Some(max) = policy.max_size {
            let gone = self.delete_oldest(None, |r| {
                let over = total > max;
                if over {
                    total = total.saturating_sub(r.bytes);
                }
                over
            })?;
            deleted.extend(gone);
            if total > max && self.index().protected_bytes()? > 0 {
                over_limit = Some(format!(
                    "the store holds {} MB, over its max_size of {} MB, and only protected video is left to \
                     delete; remove protections (keepwatch protected list / remove) or raise the limit",
                    total / 1_000_000,
                    max / 1_000_000
                ));
            }
        }
        self.set_over_limit(over_limit);
        for r in &deleted {
            tracing::info!(segment = %r.key().name(), start = r.start, "retention deleted a segment");
        }
        Ok(deleted)
    }

    /// After ENOSPC: deletes the oldest unprotected segments of any camera until at least `bytes` are freed (or
    /// nothing is left). Returns the bytes freed.
    pub fn free_space_for(&self, bytes: u64) -> Result<u64, StoreError> {
        let mut freed = 0u64;
        let gone = self.delete_oldest(None, |r| {
            let more = freed < bytes;
            if more {
                freed += r.bytes;
            }
            more
        })?;
        if !gone.is_empty() {
            tracing::warn!(segments = gone.len(), bytes = freed, "deleted the oldest recordings to free space");
        }
        // Short of the goal: nothing unprotected is left. Only a concern when protected video holds the disk.
        self.set_disk_full(freed < bytes && self.index().protected_bytes().unwrap_or(0) > 0);
        Ok(freed)
    }

    /// Deletes the oldest unprotected segments (of one camera or all) while `take` says yes; stops at the
    /// first no.
    fn delete_oldest(
        &self,
        camera_id: Option<i64>,
        mut take: impl FnMut(&SegmentRow) -> bool,
    ) -> Result<Vec<SegmentRow>, StoreError> {
        let mut all = Vec::new();
        loop {
            let batch = self.index().oldest_unprotected(camera_id, BATCH)?;
            let mut chosen = Vec::new();
            for r in &batch {
                if !take(r) {
                    break;
                }
                chosen.push(r.clone());
            }
            let done = chosen.len() < batch.len() || batch.is_empty();
            self.delete_segments(&chosen)?;
            all.extend(chosen);
            if done {
                return Ok(all);
            }
        }
    }

    /// Deletes segments in the crash-safe order (see the module docs).
    pub(crate) fn delete_segments(&self, rows: &[SegmentRow]) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        self.index_write(|| self.index().delete_to_garbage(rows))?;
        for r in rows {
            let key = r.key();
            match self.segs().delete(&key) {
                Ok(_) => self.index().remove_garbage(&key.name())?,
                // The name stays on the garbage list; recovery removes the file later.
                Err(e) => tracing::warn!("cannot remove deleted segment: {}", self.seg_err(&key, e)),
            }
        }
        self.restore_reserve();
        Ok(())
    }
}
