//! The recorder: writes a camera's access units, exactly as received, into segment files of about a
//! minute each. It never decodes and never transcodes.
//!
//! It runs on its own thread (store calls block on fsync) and reads the camera's hub through a deep queue,
//! so a slow disk cannot stall the camera or the viewers; if the queue ever overflows the hub skips it
//! ahead to the next key frame and the loss is marked in the index.
//!
//! Durability: the segment writer is synced about once a second ([`SYNC_INTERVAL`]), so a `kill -9`
//! loses at most the last second or two (the file's whole frames are re-indexed by recovery on the next
//! start); a segment is finished (file fsync, directory fsync, then the index row) when the next one
//! starts, when the run changes and when the camera stops.
//!
//! Time: the sync cadence is measured on the injected clock ([`kw_media::clock::Clock`]), so the in-process
//! tests drive it with a fake one.

mod gate;

pub use gate::Gate;

use crate::hub::MediaEvent;
use kw_media::clock::SharedClock;
use kw_media::{Frame, RunInfo, StreamKind, VIDEO_TIMESCALE};
use kw_store::{SegmentWriter, Store, StoreError};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Target segment length: a new segment starts at the first key frame after this much video.
pub const SEGMENT_LENGTH: Duration = Duration::from_secs(60);
/// How often written data is made durable.
pub const SYNC_INTERVAL: Duration = Duration::from_secs(1);
/// How much to free at once when the disk is full.
const FREE_ON_FULL: u64 = 64 << 20;
/// The queue between hub and recorder: ~40 s of a 25 fps camera with audio.
pub const QUEUE: usize = 2048;

/// Counters for metrics and benchmarks.
#[derive(Debug, Default)]
pub struct Stats {
    pub frames: AtomicU64,
    pub bytes: AtomicU64,
    pub segments: AtomicU64,
    pub skipped: AtomicU64,
    pub errors: AtomicU64,
}

struct Current {
    run: Arc<RunInfo>,
    run_id: i64,
    next_seq: u32,
    writer: Option<SegmentWriter>,
    seg_start_pts: i64,
    last_sync: Instant,
    loss_pending: bool,
}

struct Recorder {
    camera: String,
    store: Arc<Store>,
    clock: SharedClock,
    stats: Arc<Stats>,
    cur: Option<Current>,
    gate: Option<Gate>,
    /// Set after the disk filled up with nothing old to delete: segments are cut at this many bytes.
    seg_cap: Option<u64>,
}

/// The smallest segment size cap a full disk can impose.
const MIN_SEGMENT_CAP: u64 = 256 * 1024;

/// Starts a recorder thread reading `rx` until the hub closes it. With a `gate`, only motion (plus pre-
/// and post-roll) is recorded.
pub fn spawn(
    camera: String,
    store: Arc<Store>,
    clock: SharedClock,
    rx: mpsc::Receiver<MediaEvent>,
    stats: Arc<Stats>,
    gate: Option<Gate>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new().name(format!("rec-{camera}")).spawn(move || {
        let mut r = Recorder { camera, store, clock, stats, cur: None, gate, seg_cap: None };
        r.run(rx);
    })
}

impl Recorder {
    fn run(&mut self, mut rx: mpsc::Receiver<MediaEvent>) {
        while let Some(ev) = rx.blocking_recv() {
            match ev {
                MediaEvent::Run(run) => {
                    self.close(None);
                    if let Some(g) = &mut self.gate {
                        g.clear();
                    }
                    self.begin(run);
                }
                MediaEvent::Frame(f) if self.gate.is_some() => self.gated(f),
                MediaEvent::Frame(f) => self.frame(&f),
                MediaEvent::Gap => {
                    if let Some(g) = &mut self.gate {
                        g.clear();
                    }
                    tracing::warn!(camera = %self.camera, "recorder fell behind; frames were skipped");
                    self.stats.skipped.fetch_add(1, Ordering::Relaxed);
                    if let Some(c) = &mut self.cur {
                        c.loss_pending = true;
                    }
                }
                MediaEvent::Stopped => {
                    self.close(None);
                    self.cur = None;
                }
            }
        }
        self.close(None);
    }

    fn begin(&mut self, run: Arc<RunInfo>) {
        match self.store.begin_run(&self.camera, &run) {
            Ok(run_id) => {
                self.cur = Some(Current {
                    run,
                    run_id,
                    next_seq: 0,
                    writer: None,
                    seg_start_pts: 0,
                    last_sync: self.clock.monotonic(),
                    loss_pending: false,
                })
            }
            Err(e) => {
                self.stats.errors.fetch_add(1, Ordering::Relaxed);
                tracing::error!(camera = %self.camera, "cannot record this run: {e}");
                self.cur = None;
            }
        }
    }

    /// Finishes the open segment, if any. `end_pts` is where the next segment starts, when known.
    fn close(&mut self, end_pts: Option<i64>) {
        // Write out what is buffered first, freeing space if the disk is full, so that finishing (fsync and
        // the index row) does not fail for want of space and leave the segment to recovery.
        if let Some(Err(StoreError::NoSpace { .. })) = self.with_writer(|w| w.sync()) {
            self.disk_full();
            if let Some(Err(e)) = self.with_writer(|w| w.sync()) {
                self.failed(e, "could not write the end of a segment");
            }
        }
        let Some(c) = &mut self.cur else { return };
        let Some(w) = c.writer.take() else { return };
        match w.finish(end_pts) {
            Ok(_) => {
                self.stats.segments.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                self.stats.errors.fetch_add(1, Ordering::Relaxed);
                tracing::error!(camera = %self.camera,
                    "could not finish a segment ({e}); its frames will be re-indexed on the next start");
            }
        }
    }

    fn frame(&mut self, f: &Frame) {
        let Some(c) = &mut self.cur else { return };
        let video_key = f.stream == StreamKind::Video && f.key;
        let seg_ticks = (SEGMENT_LENGTH.as_secs_f64() * f64::from(VIDEO_TIMESCALE)) as i64;
        let over_cap = self.seg_cap.is_some_and(|cap| c.writer.as_ref().is_some_and(|w| w.bytes() >= cap));
        if video_key && c.writer.is_some() && (f.pts - c.seg_start_pts >= seg_ticks || over_cap) {
            self.close(Some(f.pts));
        }
        let Some(c) = &mut self.cur else { return };
        if c.writer.is_none() {
            if !video_key {
                if f.stream == StreamKind::Video {
                    c.loss_pending = true;
                }
                return; // a segment starts at a key frame
            }
            match self.store.create_segment(&self.camera, c.run_id, c.next_seq, &c.run) {
                Ok(w) => {
                    c.writer = Some(w);
                    c.next_seq += 1;
                    c.seg_start_pts = f.pts;
                    c.last_sync = self.clock.monotonic();
                }
                Err(e) => {
                    self.failed(e, "could not start a segment");
                    return;
                }
            }
        }
        let loss =
            f.loss_before || (f.stream == StreamKind::Video && self.cur.as_ref().is_some_and(|c| c.loss_pending));
        let owned;
        let f = if loss != f.loss_before {
            owned = Frame { loss_before: loss, ..f.clone() };
            &owned
        } else {
            f
        };
        let result = self.with_writer(|w| w.append(f));
        match result {
            Some(Ok(())) => {
                self.stats.frames.fetch_add(1, Ordering::Relaxed);
                self.stats.bytes.fetch_add(f.data.len() as u64, Ordering::Relaxed);
                if let Some(c) = &mut self.cur {
                    if f.stream == StreamKind::Video {
                        c.loss_pending = false;
                    }
                }
            }
            Some(Err(StoreError::NoSpace { .. })) => {
                self.disk_full();
                // Retry once after freeing space.
                if let Some(Err(e)) = self.with_writer(|w| w.append(f)) {
                    self.failed(e, "could not write a frame");
                    self.abandon();
                }
            }
            Some(Err(e)) => {
                self.failed(e, "could not write a frame");
                self.abandon();
            }
            None => {}
        }
        self.maybe_sync();
    }

    /// `record = "motion"`: buffer, or write while motion (with pre- and post-roll) says so.
    fn gated(&mut self, f: Arc<Frame>) {
        let Some(run) = self.cur.as_ref().map(|c| c.run.clone()) else { return };
        let writing = self.cur.as_ref().is_some_and(|c| c.writer.is_some());
        let Some(g) = self.gate.as_mut() else { return };
        match g.offer(&run, f, writing) {
            gate::Verdict::Write(frames) => {
                if !writing {
                    tracing::debug!(camera = %self.camera, "motion: recording (with {} buffered frames of pre-roll)",
                        frames.len().saturating_sub(1));
                }
                for b in frames {
                    self.frame(&b);
                }
            }
            gate::Verdict::Hold { stop_writing } => {
                if stop_writing {
                    // Motion and post-roll are over: end the recording here.
                    tracing::debug!(camera = %self.camera, "motion: recording stops");
                    self.close(None);
                }
            }
        }
    }

    fn with_writer<T>(&mut self, op: impl FnOnce(&mut SegmentWriter) -> T) -> Option<T> {
        self.cur.as_mut().and_then(|c| c.writer.as_mut()).map(op)
    }

    fn maybe_sync(&mut self) {
        let now = self.clock.monotonic();
        let due = self
            .cur
            .as_ref()
            .is_some_and(|c| c.writer.is_some() && now.saturating_duration_since(c.last_sync) >= SYNC_INTERVAL);
        if !due {
            return;
        }
        let mut result = self.with_writer(|w| w.sync());
        if let Some(Err(StoreError::NoSpace { .. })) = result {
            self.disk_full();
            result = self.with_writer(|w| w.sync());
        }
        if let Some(Err(e)) = result {
            self.failed(e, "could not sync a segment");
            self.abandon();
        }
        if let Some(c) = &mut self.cur {
            c.last_sync = now;
        }
    }

    fn disk_full(&mut self) {
        tracing::warn!(camera = %self.camera, "disk full: deleting the oldest recordings to keep recording");
        let mut freed = self.free();
        if freed == 0 {
            // Nothing finished to delete (a disk smaller than one segment, or only open segments): cut the
            // open segment where its data is on disk, let recovery index it (it skips other cameras' open
            // writers), and free again. Recording resumes at the next key frame.
            // From now on segments are cut at a third of what fitted, so the next full disk deletes an old
            // piece and keeps the recent ones (a disk that holds less than a segment would otherwise lose
            // everything at every fill).
            let open = self.with_writer(|w| w.bytes()).unwrap_or(0);
            let cap = (open / 3).max(MIN_SEGMENT_CAP);
            self.seg_cap = Some(self.seg_cap.map_or(cap, |c| c.min(cap)));
            tracing::warn!(camera = %self.camera,
                "disk full with nothing old to delete: closing the open segment early; segments are cut at {} kB from now on",
                cap / 1000);
            self.abandon();
            match self.store.recover() {
                Ok(r) if !r.is_empty() => tracing::info!(camera = %self.camera, "{}", r.to_string().trim_end()),
                Ok(_) => {}
                Err(e) => tracing::error!(camera = %self.camera, "could not index the cut segment: {e}"),
            }
            freed = self.free();
        }
        if freed == 0 {
            tracing::error!(camera = %self.camera, "disk full and nothing could be deleted; frames are being lost");
        }
    }

    fn free(&mut self) -> u64 {
        // With small segments (a small disk), free a segment's worth, not the default chunk that would take
        // every recording with it.
        let want = self.seg_cap.map_or(FREE_ON_FULL, |c| c.min(FREE_ON_FULL));
        match self.store.free_space_for(want) {
            Ok(freed) => {
                if freed > 0 {
                    tracing::warn!(camera = %self.camera, "freed {} MB", freed / 1_000_000);
                }
                freed
            }
            Err(e) => {
                tracing::error!(camera = %self.camera, "could not free space: {e}");
                0
            }
        }
    }

    fn failed(&mut self, e: StoreError, what: &str) {
        self.stats.errors.fetch_add(1, Ordering::Relaxed);
        tracing::error!(camera = %self.camera, "{what}: {e}");
    }

    /// Gives up on the open segment after a write error: the file keeps its whole frames, which recovery
    /// indexes on the next start; recording resumes with a new segment at the next key frame.
    fn abandon(&mut self) {
        if let Some(c) = &mut self.cur {
            if c.writer.take().is_some() {
                c.loss_pending = true;
            }
        }
    }
}
