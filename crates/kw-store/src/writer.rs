//! [`SegmentWriter`]: writing one segment file, and the write order that makes a crash harmless.
//!
//! Why this order: the index row is the promise "these bytes exist". So a segment's bytes are written
//! and made durable (data, file, directory entry) *before* its row is inserted; a crash at any point
//! leaves either a complete row over complete data, or a file without a row that [`Store::recover`]
//! re-indexes from the file's self-describing records. Frames are buffered in memory and written in
//! large chunks; the recorder calls [`SegmentWriter::sync`] about once a second, which bounds what a
//! `kill -9` or power cut can lose.
//!
//! Why positional writes and a retained buffer: on ENOSPC the buffered frames stay in memory and the
//! write is repeated at the same offset later, so the recorder can free space (delete the oldest
//! recordings) and continue the same segment without a hole or a torn record.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use kw_media::{Frame, RunInfo, StreamKind};

use crate::backend::{SegmentKey, SegmentSink};
use crate::error::StoreError;
use crate::format::{RecordHeader, SegmentHeader, MAX_FRAME};
use crate::frame_index::IndexBuilder;
use crate::index::{NewSegment, SegmentRow};
use crate::store::{OpenWriter, Store, SyncedPart};
use crate::timing::Extent;

/// Buffered bytes that trigger a write on the next append.
const FLUSH_AT: usize = 512 * 1024;

/// Registers an unfinished writer's byte count with the store for usage and retention; unregisters
/// when dropped (also when the writer is dropped without `finish`).
struct Registration {
    store: Store,
    id: u64,
    bytes: Arc<AtomicU64>,
    synced: Arc<std::sync::Mutex<Option<SyncedPart>>>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.store.writers().remove(&self.id);
    }
}

/// Writes one segment. Dropping it without [`SegmentWriter::finish`] leaves the file (up to the last
/// successful write) for [`Store::recover`], exactly like a crash would; buffered frames are lost.
pub struct SegmentWriter {
    reg: Registration,
    key: SegmentKey,
    run: RunInfo,
    sink: Box<dyn SegmentSink>,
    /// Encoded records not yet written to the sink.
    pending: Vec<u8>,
    /// Bytes durably handed to the sink, starting at offset 0.
    written: u64,
    /// A write failed: the file may hold partial bytes past `written` that finish must cut off.
    write_failed: bool,
    name_synced: bool,
    index: IndexBuilder,
    extent: Extent,
    frames: u64,
    has_loss: bool,
    first_video_pts: Option<i64>,
}

impl std::fmt::Debug for SegmentWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SegmentWriter")
            .field("segment", &self.key.name())
            .field("bytes", &self.bytes())
            .field("frames", &self.frames)
            .finish()
    }
}

impl Store {
    /// Starts segment `seq` of run `run_id` of `camera`. `run` must be the run's description (it is
    /// written into the file header so the file can be re-indexed on its own).
    pub fn create_segment(
        &self,
        camera: &str,
        run_id: i64,
        seq: u32,
        run: &RunInfo,
    ) -> Result<SegmentWriter, StoreError> {
        let camera_id = self.camera_id(camera)?;
        match self.index().run(run_id)? {
            None => return Err(StoreError::NotFound { what: format!("run {run_id}") }),
            Some((c, _)) if c != camera_id => {
                return Err(StoreError::Invalid { what: format!("run {run_id} does not belong to camera {camera:?}") })
            }
            Some(_) => {}
        }
        let key = SegmentKey { camera_id, run_id, seq };
        let taken = self.index().segment(run_id, seq)?.is_some() || self.open_keys().contains(&key);
        if taken {
            return Err(StoreError::Invalid {
                what: format!("segment {} already exists", self.segment_location(&key).display()),
            });
        }
        let header = SegmentHeader { store_id: self.id(), camera_id, run_id, seq, run: run.clone() }.encode();
        let sink = self.segs().create(&key).map_err(|e| self.seg_err(&key, e))?;
        let bytes = Arc::new(AtomicU64::new(header.len() as u64));
        let id = self.inner.next_writer.fetch_add(1, Ordering::Relaxed);
        let synced = Arc::new(std::sync::Mutex::new(None));
        self.writers().insert(id, OpenWriter { camera_id, key, bytes: bytes.clone(), synced: synced.clone() });
        Ok(SegmentWriter {
            reg: Registration { store: self.clone(), id, bytes, synced },
            key,
            run: run.clone(),
            sink,
            index: IndexBuilder::new(header.len() as u64),
            pending: header,
            written: 0,
            write_failed: false,
            name_synced: false,
            extent: Extent::default(),
            frames: 0,
            has_loss: false,
            first_video_pts: None,
        })
    }
}

impl SegmentWriter {
    /// Adds a frame (buffered). On `Err` the frame was not added; frames appended before are kept and
    /// written by the next `append`, `sync` or `finish`. On [`StoreError::NoSpace`], free space and
    /// append the frame again.
    pub fn append(&mut self, f: &Frame) -> Result<(), StoreError> {
        let size = u32::try_from(f.data.len()).ok().filter(|&s| s <= MAX_FRAME).ok_or_else(|| StoreError::Invalid {
            what: format!("frame of {} bytes is larger than the limit of {MAX_FRAME} bytes", f.data.len()),
        })?;
        if self.pending.len() >= FLUSH_AT {
            self.flush()?;
        }
        let rh = RecordHeader { stream: f.stream, key: f.key, loss_before: f.loss_before, size, pts: f.pts };
        self.pending.extend_from_slice(&rh.encode(&f.data));
        self.pending.extend_from_slice(&f.data);
        self.index.push(f.stream, f.pts, size, f.key, f.loss_before);
        self.extent.push(f.stream, f.pts);
        self.frames += 1;
        self.has_loss |= f.loss_before;
        if f.stream == StreamKind::Video && self.first_video_pts.is_none() {
            self.first_video_pts = Some(f.pts);
        }
        self.reg.bytes.store(self.bytes(), Ordering::Relaxed);
        Ok(())
    }

    /// Writes the buffer to the file (not yet durable).
    fn flush(&mut self) -> Result<(), StoreError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        match self.sink.write_at(self.written, &self.pending) {
            Ok(()) => {
                self.written += self.pending.len() as u64;
                self.pending.clear();
                Ok(())
            }
            Err(e) => {
                self.write_failed = true;
                Err(self.reg.store.seg_err(&self.key, e))
            }
        }
    }

    /// Writes buffered frames and makes them durable (fdatasync); the first sync also makes the file's
    /// directory entry durable. After `Ok`, a crash loses nothing appended before this call.
    pub fn sync(&mut self) -> Result<(), StoreError> {
        self.flush()?;
        self.sink.sync_data().map_err(|e| self.reg.store.seg_err(&self.key, e))?;
        if !self.name_synced {
            self.sink.sync_name().map_err(|e| self.reg.store.seg_err(&self.key, e))?;
            self.name_synced = true;
        }
        self.publish_synced();
        Ok(())
    }

    /// Lets readers in this process see the frames made durable so far (see [`Store::segments`]).
    fn publish_synced(&self) {
        let Some((start, end)) = self.extent.wall_range(&self.run, None) else { return };
        let row = SegmentRow {
            id: -i64::try_from(self.reg.id).unwrap_or(i64::MAX),
            camera_id: self.key.camera_id,
            run_id: self.key.run_id,
            seq: self.key.seq,
            start,
            end,
            bytes: self.written,
            video_frames: self.video_frames(),
            has_loss: self.has_loss,
        };
        let part = SyncedPart { row, blob: Arc::new(self.index.blob().to_vec()) };
        *self.reg.synced.lock().unwrap_or_else(|e| e.into_inner()) = Some(part);
    }

    /// Completes the segment: writes the buffer, fsyncs the file and its directory, and only then
    /// inserts the index row. `end_pts` is the exact end in video ticks (the pts of the key frame that
    /// starts the next segment) when known. A segment without frames is deleted and reported as
    /// [`StoreError::Invalid`]. On any error the file stays for [`Store::recover`]; call
    /// [`SegmentWriter::sync`] first to be able to retry a `NoSpace` without losing frames.
    pub fn finish(mut self, end_pts: Option<i64>) -> Result<SegmentRow, StoreError> {
        let store = self.reg.store.clone();
        let key = self.key;
        let Some((start, end)) = self.extent.wall_range(&self.run, end_pts) else {
            drop(self.sink);
            store.segs().delete(&key).map_err(|e| store.seg_err(&key, e))?;
            return Err(StoreError::Invalid {
                what: format!("segment {} has no frames; it was discarded", store.segment_location(&key).display()),
            });
        };
        self.flush()?;
        let err = |e| store.seg_err(&key, e);
        if self.write_failed {
            self.sink.set_len(self.written).map_err(err)?;
        }
        self.sink.sync_all().map_err(err)?;
        self.sink.sync_name().map_err(err)?;
        drop(self.sink);
        let new = NewSegment {
            camera_id: key.camera_id,
            run_id: key.run_id,
            seq: key.seq,
            start,
            end,
            bytes: self.written,
            video_frames: u32::try_from(self.extent.video_frames()).unwrap_or(u32::MAX),
            has_loss: self.has_loss,
            frame_index: self.index.blob().to_vec(),
        };
        store.index_write(|| store.index().upsert_segment(&new))
    }

    /// Bytes of the segment so far (header and frames, buffered ones included).
    pub fn bytes(&self) -> u64 {
        self.written + self.pending.len() as u64
    }

    pub fn video_frames(&self) -> u32 {
        u32::try_from(self.extent.video_frames()).unwrap_or(u32::MAX)
    }

    /// Frames of any stream appended so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Pts of the first video frame appended (the segment's leading key frame), if any.
    pub fn first_pts(&self) -> Option<i64> {
        self.first_video_pts
    }

    /// Which segment this is.
    pub fn key(&self) -> SegmentKey {
        self.key
    }
}
