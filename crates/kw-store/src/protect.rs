//! "Keep this clip": protected ranges that retention never deletes, and what happens when only protected
//! video is left.
//!
//! Why ranges, not segment ids: a user protects "this event" or "10:00 to 10:05", and segments are cut
//! independently of that; every segment of the camera that overlaps the range is kept whole. Protected
//! bytes still count toward the store's size (they are on the disk), so a store whose protected video
//! alone exceeds its limit cannot get under it: retention then deletes every unprotected segment it may
//! and reports the shortfall through [`Store::storage_pressure`], which the health watcher turns into a
//! loud `storage` event instead of failing silently.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use kw_media::WallMicros;

use crate::error::StoreError;
use crate::index::{NewProtection, Protection};
use crate::store::Store;

/// Longest note a protection may carry, in characters.
pub const MAX_NOTE_CHARS: usize = 500;
/// Longest range one protection may cover (31 days).
pub const MAX_RANGE: Duration = Duration::from_secs(31 * 24 * 3600);
/// Most protections a store keeps at once.
pub const MAX_PROTECTIONS: usize = 10_000;
/// How long a failed attempt to free space after ENOSPC keeps the pressure reported.
const DISK_FULL_SHOWN: Duration = Duration::from_secs(60);

/// What retention could not do because only protected video was left.
#[derive(Default)]
pub(crate) struct Pressure {
    /// The last retention round ended over a size limit: the message says which.
    over_limit: Option<String>,
    /// When freeing space after ENOSPC last fell short.
    disk_full: Option<Instant>,
}

pub(crate) type PressureCell = Mutex<Pressure>;

impl Store {
    /// Protects `[start, end)` of `camera` from retention, with a note; returns the protection.
    pub fn protect(
        &self,
        camera: &str,
        start: WallMicros,
        end: WallMicros,
        note: &str,
        event_id: Option<i64>,
        now: WallMicros,
    ) -> Result<Protection, StoreError> {
        let invalid = |what: String| Err(StoreError::Invalid { what });
        if end <= start {
            return invalid("the end of a protected range must be after its start".into());
        }
        if end.saturating_sub(start) > i64::try_from(MAX_RANGE.as_micros()).unwrap_or(i64::MAX) {
            return invalid(format!("a protected range may be at most {} days long", MAX_RANGE.as_secs() / 86_400));
        }
        if note.chars().count() > MAX_NOTE_CHARS {
            return invalid(format!("a note may be at most {MAX_NOTE_CHARS} characters long"));
        }
        if note.chars().any(|c| c.is_control() && c != '\n') {
            return invalid("a note may not contain control characters".into());
        }
        if self.index().protections()?.len() >= MAX_PROTECTIONS {
            return invalid(format!("at most {MAX_PROTECTIONS} protections; remove some first"));
        }
        let camera_id = self.camera_id(camera)?;
        let p = NewProtection { camera_id, start, end, note: note.to_owned(), event_id, created: now };
        let id = self.index_write(|| self.index().add_protection(&p))?;
        tracing::info!(protection = id, start, end, "video protected from retention");
        Ok(Protection { id, camera: camera.to_owned(), start, end, note: p.note, event_id, created: now })
    }

    /// Every protection, oldest first.
    pub fn protections(&self) -> Result<Vec<Protection>, StoreError> {
        self.index().protections()
    }

    /// Removes protection `id` (retention may then delete its video); `false` when there is none.
    pub fn unprotect(&self, id: i64) -> Result<bool, StoreError> {
        let gone = self.index().remove_protection(id)?;
        if gone {
            tracing::info!(protection = id, "protection removed");
        }
        Ok(gone)
    }

    /// Bytes of finished segments that some protection covers.
    pub fn protected_bytes(&self) -> Result<u64, StoreError> {
        self.index().protected_bytes()
    }

    /// Why the store cannot stay within its limits although retention ran (only protected video is
    /// left), or `None`. Asked by the health watcher.
    pub fn storage_pressure(&self) -> Option<String> {
        let p = self.pressure();
        if let Some(why) = &p.over_limit {
            return Some(why.clone());
        }
        match p.disk_full {
            Some(at) if at.elapsed() < DISK_FULL_SHOWN => Some(
                "the disk is full and only protected video is left to delete; remove protections \
                 (keepwatch protected list / remove) or free space"
                    .into(),
            ),
            _ => None,
        }
    }

    pub(crate) fn set_over_limit(&self, why: Option<String>) {
        let mut p = self.pressure();
        if let (Some(w), None) = (&why, &p.over_limit) {
            tracing::error!("{w}");
        }
        p.over_limit = why;
    }

    pub(crate) fn set_disk_full(&self, short: bool) {
        let mut p = self.pressure();
        if short {
            if p.disk_full.is_none() {
                tracing::error!(
                    "the disk is full and only protected video is left: recording cannot continue until \
                     protections are removed or space is freed"
                );
            }
            p.disk_full = Some(Instant::now());
        } else {
            p.disk_full = None;
        }
    }

    fn pressure(&self) -> std::sync::MutexGuard<'_, Pressure> {
        self.inner.pressure.lock().unwrap_or_else(|e| e.into_inner())
    }
}
