//! The seam between the store's logic and the database that indexes segments.
//!
//! Why a trait: SQLite ([`SqliteIndex`]) suits one recorder on one machine; a bigger installation may
//! want PostgreSQL. The store's rules (which row is written when, what recovery re-creates, what
//! retention deletes first) live in [`crate::Store`]; a backend only stores and queries rows. The
//! trait speaks in the store's own types, so nothing SQL-specific leaks out of the backend.

#[cfg(any(test, feature = "test-support"))]
#[doc(hidden)]
pub mod conformance;
mod migrations;
mod sqlite;
mod sqlite_protect;

use kw_media::{RunInfo, WallMicros};

pub use migrations::SCHEMA_VERSION;
pub use sqlite::SqliteIndex;

use crate::backend::SegmentKey;
use crate::error::StoreError;

/// One finished segment as the index knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegmentRow {
    pub id: i64,
    pub camera_id: i64,
    pub run_id: i64,
    pub seq: u32,
    /// Wall time of the smallest video pts.
    pub start: WallMicros,
    /// End of the segment (exclusive): `[start, end)`.
    pub end: WallMicros,
    /// Length of the segment file (header and all frame records).
    pub bytes: u64,
    pub video_frames: u32,
    /// Some frame of the segment follows lost packets.
    pub has_loss: bool,
}

impl SegmentRow {
    /// A segment still being written by this process (only its durable part is described); its
    /// `id` is negative and not an index row id.
    pub fn is_open(&self) -> bool {
        self.id < 0
    }

    pub fn key(&self) -> SegmentKey {
        SegmentKey { camera_id: self.camera_id, run_id: self.run_id, seq: self.seq }
    }
}

/// A segment row to insert (the id is assigned by the backend).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewSegment {
    pub camera_id: i64,
    pub run_id: i64,
    pub seq: u32,
    pub start: WallMicros,
    pub end: WallMicros,
    pub bytes: u64,
    pub video_frames: u32,
    pub has_loss: bool,
    /// See [`crate::frame_index`].
    pub frame_index: Vec<u8>,
}

/// Per-camera totals of committed segments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CameraStats {
    pub camera_id: i64,
    pub name: String,
    pub bytes: u64,
    pub segments: u64,
    pub oldest: Option<WallMicros>,
}

/// A protected range ("keep this clip"): the camera's segments overlapping `[start, end)` are kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Protection {
    pub id: i64,
    pub camera: String,
    pub start: WallMicros,
    pub end: WallMicros,
    pub note: String,
    /// The event it was made from, if any.
    pub event_id: Option<i64>,
    pub created: WallMicros,
}

/// A protection to insert (the id is assigned by the backend).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewProtection {
    pub camera_id: i64,
    pub start: WallMicros,
    pub end: WallMicros,
    pub note: String,
    pub event_id: Option<i64>,
    pub created: WallMicros,
}

/// What the store needs from an index database.
pub trait IndexBackend: Send + Sync {
    /// Where the index is, for messages.
    fn location(&self) -> String;

    /// The id of camera `name`, created if missing.
    fn camera_id(&self, name: &str) -> Result<i64, StoreError>;
    /// The id of camera `name`, `None` if unknown.
    fn find_camera(&self, name: &str) -> Result<Option<i64>, StoreError>;
    /// All cameras as (id, name), ordered by name.
    fn cameras(&self) -> Result<Vec<(i64, String)>, StoreError>;
    /// Makes sure camera `id` exists; recovery uses it when a segment names a camera the index lost.
    /// A created camera gets a name derived from `name_hint` that is not taken yet.
    fn ensure_camera(&self, id: i64, name_hint: &str) -> Result<(), StoreError>;

    /// Adds a run, returning its id.
    fn insert_run(&self, camera_id: i64, run: &RunInfo) -> Result<i64, StoreError>;
    /// Adds a run with a given id (recovery re-creates runs from segment headers).
    fn insert_run_with_id(&self, run_id: i64, camera_id: i64, run: &RunInfo) -> Result<(), StoreError>;
    /// A run's camera id and description.
    fn run(&self, run_id: i64) -> Result<Option<(i64, RunInfo)>, StoreError>;

    /// Inserts a segment row, or replaces the row with the same (run, seq).
    fn upsert_segment(&self, seg: &NewSegment) -> Result<SegmentRow, StoreError>;
    /// The row of (run, seq).
    fn segment(&self, run_id: i64, seq: u32) -> Result<Option<SegmentRow>, StoreError>;
    /// A camera's segments overlapping `[start, end)`, ordered by start.
    fn segments(&self, camera_id: i64, start: WallMicros, end: WallMicros) -> Result<Vec<SegmentRow>, StoreError>;
    /// Every row of a camera as (id, key, bytes), in no particular order: what recovery compares with the
    /// files. Backends should answer it without reading whole rows (each carries a frame index blob).
    fn segment_sizes(&self, camera_id: i64) -> Result<Vec<(i64, SegmentKey, u64)>, StoreError> {
        Ok(self.segments(camera_id, i64::MIN, i64::MAX)?.into_iter().map(|r| (r.id, r.key(), r.bytes)).collect())
    }
    /// The frame index blob of a segment.
    fn frame_index(&self, segment_id: i64) -> Result<Option<Vec<u8>>, StoreError>;
    /// Up to `limit` oldest segments (by start), of one camera or of all.
    fn oldest_segments(&self, camera_id: Option<i64>, limit: usize) -> Result<Vec<SegmentRow>, StoreError>;
    /// Up to `limit` oldest segments (by start) that no protection covers, of one camera or of all.
    fn oldest_unprotected(&self, camera_id: Option<i64>, limit: usize) -> Result<Vec<SegmentRow>, StoreError>;
    /// Per-camera totals, one entry per camera (also cameras without segments), ordered by name.
    fn camera_stats(&self) -> Result<Vec<CameraStats>, StoreError>;

    /// In ONE transaction: deletes the rows and adds their segment names to the garbage list.
    fn delete_to_garbage(&self, rows: &[SegmentRow]) -> Result<(), StoreError>;
    /// Deletes one row (only for a row whose data is gone).
    fn delete_segment(&self, segment_id: i64) -> Result<(), StoreError>;
    /// Names on the garbage list: segments whose rows are deleted but whose data may still exist.
    fn garbage(&self) -> Result<Vec<String>, StoreError>;
    /// Removes a name from the garbage list once its data is gone.
    fn remove_garbage(&self, name: &str) -> Result<(), StoreError>;

    /// Adds a protection, returning its id.
    fn add_protection(&self, p: &NewProtection) -> Result<i64, StoreError>;
    /// Every protection, oldest first (by id).
    fn protections(&self) -> Result<Vec<Protection>, StoreError>;
    /// Removes a protection; `false` when there was none with that id.
    fn remove_protection(&self, id: i64) -> Result<bool, StoreError>;
    /// Bytes of the segments some protection covers (each segment counted once).
    fn protected_bytes(&self) -> Result<u64, StoreError>;
}
