//! Seeing the segments another process is writing right now, up to what it has written so far.
//!
//! Why: the recorder (`keepwatch run`) inserts a segment's index row only when the segment is finished
//! (a minute or so), and the store commands (`export`, `recordings`, `check`) run in other processes. Without
//! this, `keepwatch export --start "5 minutes ago"` silently missed up to the last minute. The segment files
//! are self-describing (see [`mod@crate::format`]), so a reader can describe an unfinished file on its own:
//! scan it from the start and stop at the first record that does not check out. What the recorder has
//! written (it writes in large chunks and syncs about once a second) is therefore visible; a record it
//! is writing at this very moment fails its CRC and ends the prefix, exactly like a torn tail after a crash.
//!
//! Reading changes nothing: no lock, no truncation, no row. Recovery stays the recorder's job.
//!
//! Which files: per run only the newest two sequence numbers can lack a row (the recorder finishes one
//! segment around the start of the next), plus leftovers of a crash, which are also the newest of their
//! run. Files on the garbage list are deleted recordings and never shown. Scans are cached by file
//! length, so repeated queries (a long-lived reader) only rescan a file that grew.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::backend::SegmentKey;
use crate::error::StoreError;
use crate::index::SegmentRow;
use crate::scan::scan;
use crate::store::{Store, SyncedPart};

/// Newest sequence numbers per run that are looked at.
const NEWEST_PER_RUN: usize = 2;

/// A scanned unfinished file: the file length the scan saw, and what it found (`None`: nothing valid).
#[derive(Clone)]
pub(crate) struct Peeked {
    pub len: u64,
    pub part: Option<SyncedPart>,
}

impl Store {
    /// Makes [`Store::segments`] and [`Store::frames`] include the valid prefix of segment files that have
    /// no index row yet: the segments another process (the recorder) is writing. For the store commands
    /// (`export`, `recordings`, `check`), which run beside `keepwatch run`. Reads only.
    pub fn follow_other_writers(&self) {
        self.inner.follow_others.store(true, Ordering::Relaxed);
    }

    /// Rows (negative ids) for the valid prefixes of `camera_id`'s segment files without an index row.
    pub(crate) fn peek_unindexed(&self, camera_id: i64) -> Result<Vec<SegmentRow>, StoreError> {
        if !self.inner.follow_others.load(Ordering::Relaxed) {
            return Ok(Vec::new());
        }
        let root = self.segs().root();
        let keys = self.segs().list_camera(camera_id).map_err(|e| crate::error::io_err(&root, e))?;
        let mut per_run: BTreeMap<i64, Vec<u32>> = BTreeMap::new();
        for k in keys {
            per_run.entry(k.run_id).or_default().push(k.seq);
        }
        let own: HashSet<SegmentKey> = self.open_keys().into_iter().collect();
        let mut garbage: Option<HashSet<String>> = None;
        let mut out = Vec::new();
        for (run_id, mut seqs) in per_run {
            seqs.sort_unstable_by(|a, b| b.cmp(a));
            for seq in seqs.into_iter().take(NEWEST_PER_RUN) {
                let key = SegmentKey { camera_id, run_id, seq };
                if own.contains(&key) || self.index().segment(run_id, seq)?.is_some() {
                    continue;
                }
                if garbage.is_none() {
                    garbage = Some(self.index().garbage()?.into_iter().collect());
                }
                if garbage.as_ref().is_some_and(|g| g.contains(&key.name())) {
                    continue;
                }
                if let Some(part) = self.peek_file(&key)? {
                    out.push(part.row);
                }
            }
        }
        Ok(out)
    }

    /// The valid prefix of one file without a row, from the cache when the file has not grown.
    fn peek_file(&self, key: &SegmentKey) -> Result<Option<SyncedPart>, StoreError> {
        let Some(len) = self.segs().size(key).map_err(|e| self.seg_err(key, e))? else { return Ok(None) };
        if let Some(p) = self.peeked().get(key).filter(|p| p.len == len) {
            return Ok(p.part.clone());
        }
        let part = self.scan_unindexed(key, len);
        self.peeked().insert(*key, Peeked { len, part: part.clone() });
        Ok(part)
    }

    /// Scans a file; `None` when it cannot be read, is not this store's segment `key`, its run is unknown
    /// or it holds no whole frame (all of which the recorder's recovery deals with, not a reader).
    fn scan_unindexed(&self, key: &SegmentKey, len: u64) -> Option<SyncedPart> {
        let reader = self.segs().open(key).ok()?;
        let s = scan(&*reader, len).ok()?.ok()?;
        let h = &s.header;
        let named = SegmentKey { camera_id: h.camera_id, run_id: h.run_id, seq: h.seq };
        if h.store_id != self.id() || named != *key {
            return None;
        }
        match self.index().run(key.run_id) {
            Ok(Some((camera, run))) if camera == key.camera_id && run == h.run => {}
            _ => return None,
        }
        let (start, end) = s.extent.wall_range(&h.run, None)?;
        let id = self.inner.next_writer.fetch_add(1, Ordering::Relaxed);
        let row = SegmentRow {
            id: -i64::try_from(id).unwrap_or(i64::MAX),
            camera_id: key.camera_id,
            run_id: key.run_id,
            seq: key.seq,
            start,
            end,
            bytes: s.valid_len,
            video_frames: u32::try_from(s.extent.video_frames()).unwrap_or(u32::MAX),
            has_loss: s.has_loss,
        };
        Some(SyncedPart { row, blob: Arc::new(s.index.blob().to_vec()) })
    }

    /// The frame index blob of a peeked file. A rescan since `row` was handed out only added frames at
    /// the end (files grow by appending), which readers choosing frames by time ignore.
    pub(crate) fn peeked_blob(&self, row: &SegmentRow) -> Option<Arc<Vec<u8>>> {
        Some(self.peeked().get(&row.key())?.part.as_ref()?.blob.clone())
    }

    fn peeked(&self) -> std::sync::MutexGuard<'_, HashMap<SegmentKey, Peeked>> {
        self.inner.peeked.lock().unwrap_or_else(|e| e.into_inner())
    }
}
