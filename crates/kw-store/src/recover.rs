//! [`Store::recover`]: bringing index and segment files back into agreement after a crash.
//!
//! Why it exists: the write order (data durable before its row; row deleted before its data) means a
//! crash can leave exactly three kinds of disagreement, and recovery repairs each the only safe way:
//! - a name on the garbage list (row deleted, unlink not done): unlink it. It is never re-indexed, or
//!   deleted recordings would come back.
//! - a file without a row (the segment being written): cut it after its last whole valid frame, sync,
//!   and insert its row (re-creating the run row from the file header if needed). Files whose header
//!   is invalid or that hold no whole frame are removed.
//! - a row whose file is missing or shorter than the row says (lost by hand or by a file system
//!   repair): the row is removed, and a short file is re-indexed from what is left of it.
//!
//! The invariant afterwards: no row points at missing or short data.

use std::collections::{HashMap, HashSet};
use std::fmt;

use crate::backend::SegmentKey;
use crate::error::StoreError;
use crate::index::NewSegment;
use crate::scan::scan;
use crate::store::Store;

/// A file recovery turned into an index row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reindexed {
    pub name: String,
    pub frames: usize,
    /// File length after truncation.
    pub bytes: u64,
    /// Bytes cut off the end (a torn last frame or garbage).
    pub truncated: u64,
}

/// What [`Store::recover`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Garbage-listed segments unlinked.
    pub garbage_removed: Vec<String>,
    /// Rows removed, with the reason.
    pub rows_removed: Vec<(String, String)>,
    /// Files without a row that got one.
    pub reindexed: Vec<Reindexed>,
    /// Files removed, with the reason.
    pub files_removed: Vec<(String, String)>,
    /// Files recovery did not touch, with the reason.
    pub left_alone: Vec<(String, String)>,
}

impl RecoveryReport {
    /// True when recovery found nothing to do.
    pub fn is_empty(&self) -> bool {
        *self == RecoveryReport::default()
    }
}

impl fmt::Display for RecoveryReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return writeln!(f, "recovery: nothing to do");
        }
        for n in &self.garbage_removed {
            writeln!(f, "removed deleted segment {n}")?;
        }
        for (n, why) in &self.rows_removed {
            writeln!(f, "removed the index row of {n}: {why}")?;
        }
        for r in &self.reindexed {
            write!(f, "recovered {}: {} frames, {} bytes", r.name, r.frames, r.bytes)?;
            if r.truncated > 0 {
                write!(f, " ({} incomplete bytes cut off)", r.truncated)?;
            }
            writeln!(f)?;
        }
        for (n, why) in &self.files_removed {
            writeln!(f, "removed {n}: {why}")?;
        }
        for (n, why) in &self.left_alone {
            writeln!(f, "left {n} alone: {why}")?;
        }
        Ok(())
    }
}

/// What happened to one file given to [`Store::reindex`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    Indexed(Reindexed),
    Removed(String),
    LeftAlone(String),
}

impl Outcome {
    pub fn record(self, name: String, report: &mut RecoveryReport) {
        match self {
            Outcome::Indexed(r) => {
                tracing::warn!(segment = %name, frames = r.frames, truncated = r.truncated, "recovered a segment without an index row");
                report.reindexed.push(r);
            }
            Outcome::Removed(why) => {
                tracing::warn!(segment = %name, "removed a segment file: {why}");
                report.files_removed.push((name, why));
            }
            Outcome::LeftAlone(why) => {
                tracing::warn!(segment = %name, "left a segment file alone: {why}");
                report.left_alone.push((name, why));
            }
        }
    }
}

impl Store {
    /// Repairs what a crash left (see the module docs). Run once at start, before recording.
    pub fn recover(&self) -> Result<RecoveryReport, StoreError> {
        let mut report = RecoveryReport::default();
        let garbage = self.remove_garbage(&mut report)?;
        let open: HashSet<SegmentKey> = self.open_keys().into_iter().collect();
        let listed = self.segs().list().map_err(|e| crate::error::io_err(self.segs().root(), e))?;
        let mut files = HashMap::new();
        for l in listed {
            match l.key {
                Some(k) if open.contains(&k) || garbage.contains(&l.name) => {}
                Some(k) => {
                    files.insert(k, l.size);
                }
                None => report.left_alone.push((l.name, "not named like a segment file".into())),
            }
        }
        for (camera_id, _) in self.index().cameras()? {
            for (id, key, bytes) in self.index().segment_sizes(camera_id)? {
                let why = match files.remove(&key) {
                    None => "its file is missing".to_string(),
                    Some(size) if size < bytes => {
                        files.insert(key, size); // re-index what is left
                        format!("its file is short ({size} of {bytes} bytes)")
                    }
                    Some(_) => continue,
                };
                tracing::warn!(segment = %key.name(), "removing an index row: {why}");
                self.index().delete_segment(id)?;
                report.rows_removed.push((key.name(), why));
            }
        }
        let mut orphans: Vec<_> = files.into_iter().collect();
        orphans.sort();
        for (key, size) in orphans {
            self.reindex(&key, size)?.record(key.name(), &mut report);
        }
        Ok(report)
    }

    /// Unlinks everything on the garbage list; returns the names that could not be unlinked.
    fn remove_garbage(&self, report: &mut RecoveryReport) -> Result<HashSet<String>, StoreError> {
        let mut kept = HashSet::new();
        for name in self.index().garbage()? {
            if let Some(key) = SegmentKey::parse(&name) {
                if let Err(e) = self.segs().delete(&key) {
                    let e = self.seg_err(&key, e);
                    tracing::warn!("cannot remove deleted segment: {e}");
                    report.left_alone.push((name.clone(), format!("deleted, but cannot be removed: {e}")));
                    kept.insert(name);
                    continue;
                }
            }
            self.index().remove_garbage(&name)?;
            report.garbage_removed.push(name);
        }
        Ok(kept)
    }

    /// Gives a file without a row a row built from its contents, cutting off an invalid tail; removes
    /// it when it has no valid header or no whole frame.
    pub(crate) fn reindex(&self, key: &SegmentKey, size: u64) -> Result<Outcome, StoreError> {
        let reader = match self.segs().open(key) {
            Ok(r) => r,
            Err(e) => return Ok(Outcome::LeftAlone(format!("cannot open: {e}"))),
        };
        let s = match scan(&*reader, size) {
            Ok(Ok(s)) => s,
            Ok(Err(why)) => return self.remove_file(key, format!("invalid header: {why}")),
            Err(e) => return Ok(Outcome::LeftAlone(format!("cannot read: {e}"))),
        };
        drop(reader);
        let h = &s.header;
        if h.store_id != self.id() {
            return self.remove_file(key, format!("header names another store ({})", h.store_id));
        }
        let named = SegmentKey { camera_id: h.camera_id, run_id: h.run_id, seq: h.seq };
        if named != *key {
            return self.remove_file(key, format!("header names segment {} instead", named.name()));
        }
        let Some((start, end)) = s.extent.wall_range(&h.run, None) else {
            return self.remove_file(key, "no whole valid frame".into());
        };
        match self.index().run(key.run_id)? {
            Some((camera, run)) if camera != key.camera_id || run != h.run => {
                return Ok(Outcome::LeftAlone(format!("header disagrees with run {} in the index", key.run_id)));
            }
            Some(_) => {}
            None => {
                self.index().ensure_camera(key.camera_id, &format!("recovered-camera-{}", key.camera_id))?;
                self.index().insert_run_with_id(key.run_id, key.camera_id, &h.run)?;
            }
        }
        if s.valid_len < size {
            self.segs().truncate(key, s.valid_len).map_err(|e| self.seg_err(key, e))?;
        }
        let row = NewSegment {
            camera_id: key.camera_id,
            run_id: key.run_id,
            seq: key.seq,
            start,
            end,
            bytes: s.valid_len,
            video_frames: u32::try_from(s.extent.video_frames()).unwrap_or(u32::MAX),
            has_loss: s.has_loss,
            frame_index: s.index.blob().to_vec(),
        };
        // On a full disk the index may need the reserved space to take the row.
        self.index_write(|| self.index().upsert_segment(&row))?;
        Ok(Outcome::Indexed(Reindexed {
            name: key.name(),
            frames: s.frames.len(),
            bytes: s.valid_len,
            truncated: size - s.valid_len,
        }))
    }

    fn remove_file(&self, key: &SegmentKey, why: String) -> Result<Outcome, StoreError> {
        self.segs().delete(key).map_err(|e| self.seg_err(key, e))?;
        Ok(Outcome::Removed(why))
    }
}
