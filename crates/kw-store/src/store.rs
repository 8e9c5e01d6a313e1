//! [`Store`]: opening a store directory and the plain queries the recorder and the web server use.
//!
//! Why `Store` composes two narrow backends: the index and the segment bytes may later live in
//! different systems (PostgreSQL, S3), but the rules that keep them consistent must exist once. Those
//! rules live in this crate's `writer`, `recover`, `retention` and `check` modules, each an `impl Store`
//! block of its own; this module holds only the state they share and the read-only queries.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use kw_media::{RunInfo, WallMicros};
use uuid::Uuid;

use crate::backend::{LocalDir, ReadAt, SegmentBackend, SegmentKey};
use crate::error::{io_err, StoreError};
use crate::frame_index::{self, FrameEntry};
use crate::index::{IndexBackend, SegmentRow, SqliteIndex};
use crate::marker;
use crate::private;
use crate::reserve::{Reserve, RESERVE_FILE};

/// File name of the SQLite index inside the store directory.
pub const INDEX_FILE: &str = "index.sqlite3";
/// Directory of segment files inside the store directory.
pub const SEGMENTS_DIR: &str = "segments";

/// Whether [`Store::open`] may create a new store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Create {
    /// Create the store when the directory is missing or empty (`lost+found` aside).
    IfMissing,
    /// Only open an existing store.
    Never,
}

/// A segment writer that has not finished yet: its bytes count as used space.
pub(crate) struct OpenWriter {
    pub camera_id: i64,
    pub key: SegmentKey,
    pub bytes: Arc<AtomicU64>,
    /// What the writer has made durable so far (updated after each successful sync), so readers in this
    /// process see the recording up to the last second instead of up to the last finished segment.
    pub synced: Arc<Mutex<Option<SyncedPart>>>,
}

/// The durable part of an unfinished segment: a row (with a negative id, `-writer id`) and the frame
/// index blob of the frames it covers.
#[derive(Clone)]
pub(crate) struct SyncedPart {
    pub row: SegmentRow,
    pub blob: Arc<Vec<u8>>,
}

pub(crate) struct Inner {
    pub id: Uuid,
    pub index: Box<dyn IndexBackend>,
    pub segs: Box<dyn SegmentBackend>,
    pub writers: Mutex<HashMap<u64, OpenWriter>>,
    pub next_writer: AtomicU64,
    /// Space given up when the disk is full (local stores only).
    pub reserve: Option<Reserve>,
    /// What retention could not free because only protected video was left.
    pub pressure: crate::protect::PressureCell,
    /// Show the unfinished segments of other processes too (see [`Store::follow_other_writers`]).
    pub follow_others: AtomicBool,
    /// Scans of those segments, by key.
    pub peeked: Mutex<HashMap<SegmentKey, crate::peek::Peeked>>,
}

/// A recording store: segment files plus their index. Cheap to clone; all clones share state.
#[derive(Clone)]
pub struct Store {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("id", &self.inner.id)
            .field("index", &self.inner.index.location())
            .field("segments", &self.inner.segs.root())
            .finish()
    }
}

/// Microseconds since the Unix epoch, now.
pub(crate) fn now_micros() -> WallMicros {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX)).unwrap_or(0)
}

impl Store {
    /// Opens the store in `dir`. See [`Create`] for when a store is created; `expected_id`, when
    /// given, must match the store's id (it is also the id a newly created store gets).
    pub fn open(dir: &Path, create: Create, expected_id: Option<Uuid>) -> Result<Store, StoreError> {
        Store::open_with_index(dir, create, expected_id, |dir, _| {
            Ok(Box::new(SqliteIndex::open(&dir.join(INDEX_FILE))?) as Box<dyn IndexBackend>)
        })
    }

    /// Like [`Store::open`], but the index is the one `open_index` opens (PostgreSQL, say) instead of the
    /// SQLite file in the directory. It is called with the directory and the store's id once the directory
    /// has proven to be the right store (so a wrong disk never reaches the index), and only then.
    pub fn open_with_index(
        dir: &Path,
        create: Create,
        expected_id: Option<Uuid>,
        open_index: impl FnOnce(&Path, Uuid) -> Result<Box<dyn IndexBackend>, StoreError>,
    ) -> Result<Store, StoreError> {
        let not_a_store = |reason: &str| StoreError::NotAStore { path: dir.to_path_buf(), reason: reason.into() };
        let exists = match std::fs::metadata(dir) {
            Ok(m) if m.is_dir() => true,
            Ok(_) => return Err(not_a_store("it is not a directory")),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
            Err(e) => return Err(io_err(dir, e)),
        };
        let found = if exists { marker::read(dir)? } else { None };
        let found_existing = found.is_some();
        let marker = match found {
            Some(m) => m,
            None => {
                if exists && !marker::is_empty_dir(dir)? {
                    return Err(not_a_store(&format!(
                        "the directory is not empty and has no {} marker",
                        marker::MARKER_FILE
                    )));
                }
                if create == Create::Never {
                    return Err(not_a_store(if exists {
                        "the directory is empty (is the disk mounted?)"
                    } else {
                        "the directory does not exist"
                    }));
                }
                if exists {
                    private::restrict_dir(dir);
                } else {
                    private::create_dir_all(dir).map_err(|e| io_err(dir, e))?;
                }
                let id = expected_id.unwrap_or_else(Uuid::new_v4);
                let m = marker::create(dir, id, now_micros())?;
                if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
                    marker::sync_dir(parent)?;
                }
                tracing::info!(store = %dir.display(), id = %id, "created a new keepwatch store");
                m
            }
        };
        if found_existing {
            private::warn_if_shared(dir);
        }
        if let Some(expected) = expected_id {
            if expected != marker.store_id {
                return Err(StoreError::WrongStore { path: dir.to_path_buf(), found: marker.store_id, expected });
            }
        }
        let index = open_index(dir, marker.store_id)?;
        let seg_dir = dir.join(SEGMENTS_DIR);
        let segs = LocalDir::new(seg_dir.clone()).map_err(|e| io_err(&seg_dir, e))?;
        let mut store = Store::from_backends(marker.store_id, index, Box::new(segs));
        let reserve = Reserve { path: dir.join(RESERVE_FILE) };
        if let Err(e) = reserve.ensure() {
            tracing::warn!("cannot reserve space for freeing space on a full disk: {e}");
        }
        if let Some(inner) = Arc::get_mut(&mut store.inner) {
            inner.reserve = Some(reserve);
        }
        Ok(store)
    }

    /// A store over arbitrary backends (the seam for other databases and object stores; tests).
    pub fn from_backends(id: Uuid, index: Box<dyn IndexBackend>, segs: Box<dyn SegmentBackend>) -> Store {
        Store {
            inner: Arc::new(Inner {
                id,
                index,
                segs,
                writers: Mutex::new(HashMap::new()),
                next_writer: AtomicU64::new(1),
                reserve: None,
                pressure: Default::default(),
                follow_others: AtomicBool::new(false),
                peeked: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The store's id (from its marker).
    pub fn id(&self) -> Uuid {
        self.inner.id
    }

    pub(crate) fn index(&self) -> &dyn IndexBackend {
        &*self.inner.index
    }

    pub(crate) fn segs(&self) -> &dyn SegmentBackend {
        &*self.inner.segs
    }

    pub(crate) fn writers(&self) -> MutexGuard<'_, HashMap<u64, OpenWriter>> {
        self.inner.writers.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Maps an I/O error on a segment to a [`StoreError`] naming its path.
    pub(crate) fn seg_err(&self, key: &SegmentKey, e: std::io::Error) -> StoreError {
        io_err(self.segs().location(key), e)
    }

    /// Where a segment lives (a path for the local backend), for messages.
    pub fn segment_location(&self, key: &SegmentKey) -> PathBuf {
        self.segs().location(key)
    }

    /// Keys of the segments being written by this process right now.
    pub(crate) fn open_keys(&self) -> Vec<SegmentKey> {
        self.writers().values().map(|w| w.key).collect()
    }

    /// Bytes of unfinished writers, per camera id.
    pub(crate) fn open_bytes(&self) -> HashMap<i64, u64> {
        let mut out = HashMap::new();
        for w in self.writers().values() {
            *out.entry(w.camera_id).or_insert(0) += w.bytes.load(Ordering::Relaxed);
        }
        out
    }

    /// The id of camera `name`, created if missing.
    pub fn camera_id(&self, name: &str) -> Result<i64, StoreError> {
        if name.is_empty() {
            return Err(StoreError::Invalid { what: "a camera name must not be empty".into() });
        }
        self.index().camera_id(name)
    }

    /// Starts a run (one unbroken camera session with fixed stream parameters); returns its id.
    pub fn begin_run(&self, camera: &str, run: &RunInfo) -> Result<i64, StoreError> {
        let camera_id = self.camera_id(camera)?;
        self.index().insert_run(camera_id, run)
    }

    /// All camera names, sorted.
    pub fn cameras(&self) -> Result<Vec<String>, StoreError> {
        Ok(self.index().cameras()?.into_iter().map(|(_, n)| n).collect())
    }

    /// A camera's segments overlapping `[start, end)`, ordered by start. Unknown camera: none.
    ///
    /// Besides the indexed (finished) segments this includes the durable part of segments this process
    /// is writing now (rows with a negative `id`; see [`SegmentRow::is_open`]), so playback, spans and
    /// snapshots reach up to the recorder's last sync, about a second ago, not up to a minute ago.
    /// Other processes (`keepwatch export`) see the segments being written by the recorder up to what it
    /// has written when they ask for it with [`Store::follow_other_writers`], else finished segments only.
    pub fn segments(&self, camera: &str, start: WallMicros, end: WallMicros) -> Result<Vec<SegmentRow>, StoreError> {
        let Some(id) = self.index().find_camera(camera)? else { return Ok(Vec::new()) };
        // Files first, then rows: a segment finished in between is then found in the index, not lost.
        let peeked = self.peek_unindexed(id)?;
        let mut rows = self.index().segments(id, start, end)?;
        let mut open: Vec<SegmentRow> = self
            .writers()
            .values()
            .filter(|w| w.camera_id == id)
            .filter_map(|w| w.synced.lock().unwrap_or_else(|e| e.into_inner()).as_ref().map(|p| p.row.clone()))
            .collect();
        open.extend(peeked);
        open.retain(|r| r.start < end && r.end > start);
        if !open.is_empty() {
            for r in open {
                // A writer that just finished may be in the index already.
                if !rows.iter().any(|x| x.run_id == r.run_id && x.seq == r.seq) {
                    rows.push(r);
                }
            }
            rows.sort_by_key(|r| (r.start, r.run_id, r.seq));
        }
        Ok(rows)
    }

    /// The description of run `run_id`.
    pub fn run_info(&self, run_id: i64) -> Result<RunInfo, StoreError> {
        self.index().run(run_id)?.map(|(_, r)| r).ok_or_else(|| StoreError::NotFound { what: format!("run {run_id}") })
    }

    /// Every frame of a segment, in the order written (decode order).
    pub fn frames(&self, seg: &SegmentRow) -> Result<Vec<FrameEntry>, StoreError> {
        if seg.is_open() {
            let part = self
                .writers()
                .get(&seg.id.unsigned_abs())
                .and_then(|w| w.synced.lock().unwrap_or_else(|e| e.into_inner()).clone());
            let blob = match part.map(|p| p.blob).or_else(|| self.peeked_blob(seg)) {
                Some(b) => Some(b.to_vec()),
                // Finished meanwhile: its row is in the index now.
                None => match self.index().segment(seg.run_id, seg.seq)? {
                    Some(row) => self.index().frame_index(row.id)?,
                    None => None,
                },
            };
            let blob = blob.ok_or_else(|| StoreError::NotFound { what: format!("segment {}", seg.key().name()) })?;
            return frame_index::decode(&blob).map(|(_, f)| f).map_err(|what| StoreError::Corrupt {
                path: PathBuf::from(format!("frame index of the open segment {}", seg.key().name())),
                what,
            });
        }
        let blob = self
            .index()
            .frame_index(seg.id)?
            .ok_or_else(|| StoreError::NotFound { what: format!("segment {} ({})", seg.id, seg.key().name()) })?;
        frame_index::decode(&blob).map(|(_, f)| f).map_err(|what| StoreError::Corrupt {
            path: PathBuf::from(format!("{} (frame index of segment {})", self.index().location(), seg.id)),
            what,
        })
    }

    /// Opens a segment's data for reading at the offsets [`Store::frames`] gives.
    pub fn open_data(&self, seg: &SegmentRow) -> Result<Box<dyn ReadAt>, StoreError> {
        let key = seg.key();
        self.segs().open(&key).map_err(|e| self.seg_err(&key, e))
    }
}
