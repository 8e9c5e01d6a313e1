//! keepwatch's recording store: segment files on disk, an SQLite index over them, and the rules that
//! keep the two consistent through crashes, full disks and deletions.
//!
//! # Why it is built this way
//!
//! A recorder is killed, loses power and fills its disk; none of that may cost more than a second or
//! two of video, and none of it may leave the index pointing at data that is not there. Two ideas carry
//! that:
//!
//! 1. **Write order.** Segment bytes are made durable before the index row that promises them
//!    ([`SegmentWriter::finish`]: flush, fsync file, fsync directory, *then* insert). Rows are deleted
//!    before their bytes (one transaction deletes the row and puts the file on a garbage list; then the
//!    file is unlinked; then the list entry goes). A crash therefore leaves only files without rows
//!    (re-indexed by [`Store::recover`]) and garbage entries (unlinked, never resurrected).
//! 2. **Self-describing segment files.** Each file names its store, camera, run and sequence number,
//!    carries the stream parameters, and frames its records with a magic byte and a CRC, so recovery
//!    can rebuild a row from a file alone and cut a torn tail off at the last whole frame.
//!
//! # Layout of a store directory
//!
//! ```text
//! keepwatch-store.json              marker: store id (UUID), format version, creation time
//! index.sqlite3                     the index (WAL mode: `check` and `export` read while recording)
//! space-reserve                     1 MiB given up on a full disk so the index can still commit deletes
//! segments/<camera_id>/<run_id>-<seq>.kws
//! ```
//!
//! Everything the store creates is private: directories 0700, files 0600 (the index's `-wal` and `-shm`
//! files take the index's mode). An existing store that others can read is warned about at open.
//!
//! The marker makes the store refuse a directory that is not itself: a non-empty directory without a
//! marker is [`StoreError::NotAStore`], a marker with another id is [`StoreError::WrongStore`]. A store
//! is only created where the directory is missing or empty, and only with [`Create::IfMissing`]; the
//! caller decides whether an empty directory (perhaps an unmounted mount point) is acceptable.
//!
//! # Segment file (`.kws`)
//!
//! Header: magic `KWSEG\0\x01\0`, u32 body length, u32 CRC-32 of the body; the body holds the store id,
//! camera id, run id, seq, wall anchor and the length-prefixed video (and optional audio)
//! [`kw_media::StreamParams`] encodings. Then frame records: a 20-byte header (0xF5, stream, flags
//! (bit 0 key, bit 1 loss before), reserved, size u32, pts i64, CRC-32 over the first 16 header bytes
//! and the data), then the data. Big-endian throughout. See [`mod@format`].
//!
//! # Index
//!
//! Tables `cameras`, `runs` (stream parameters as blobs), `segments` (wall-clock `[start, end)`, bytes,
//! video frame count, loss flag and ONE frame index blob per segment — see [`frame_index`]) and
//! `garbage`, and `protected` (ranges retention keeps, see [`mod@protect`]). The schema version is `PRAGMA user_version`, advanced by an ordered migration list in one
//! transaction; an index from a newer keepwatch is refused ([`StoreError::TooNew`]).
//!
//! # Seams
//!
//! [`IndexBackend`] (implemented by [`SqliteIndex`]) and [`SegmentBackend`] (implemented by
//! [`LocalDir`]) are deliberately narrow, so that PostgreSQL or an object store can be added without
//! touching the consistency rules, which live in [`Store`].
//!
//! # Durability in numbers
//!
//! The recorder calls [`SegmentWriter::sync`] about once a second, so a `kill -9` or power cut loses
//! at most the last one to two seconds. On ENOSPC ([`StoreError::NoSpace`]) buffered frames are kept;
//! the recorder calls [`Store::free_space_for`] and carries on with the same writer.
#![forbid(unsafe_code)]

pub mod backend;
mod check;
mod error;
pub mod format;
pub mod frame_index;
pub mod index;
mod marker;
mod peek;
mod private;
mod protect;
mod recover;
mod reserve;
mod retention;
mod scan;
mod spans;
mod store;
mod timing;
mod usage;
mod writer;

pub use backend::{LocalDir, ReadAt, SegmentBackend, SegmentKey};
pub use check::{CheckReport, Problem, ProblemKind};
pub use error::{is_no_space, StoreError};
pub use frame_index::FrameEntry;
pub use index::{IndexBackend, NewProtection, Protection, SegmentRow, SqliteIndex, SCHEMA_VERSION};
pub use marker::{FORMAT_VERSION, MARKER_FILE};
pub use protect::{MAX_NOTE_CHARS, MAX_PROTECTIONS, MAX_RANGE};
pub use recover::{RecoveryReport, Reindexed};
pub use reserve::RESERVE_FILE;
pub use retention::Retention;
pub use scan::{scan, Scan};
pub use store::{Create, Store, INDEX_FILE, SEGMENTS_DIR};
pub use usage::{CameraUsage, Usage};
pub use writer::SegmentWriter;

#[cfg(test)]
mod testutil {
    //! Shared fixtures of the unit tests.

    use std::io;

    use crate::backend::ReadAt;

    /// An in-memory segment.
    pub struct MemReader(pub Vec<u8>);

    impl ReadAt for MemReader {
        fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
            let start = usize::try_from(offset).map_err(|_| io::ErrorKind::UnexpectedEof)?;
            let src = self.0.get(start..start + buf.len()).ok_or(io::ErrorKind::UnexpectedEof)?;
            buf.copy_from_slice(src);
            Ok(())
        }
    }

    pub use crate::index::conformance::run_info;
}
