//! The seam between the store's logic and where segment bytes live.
//!
//! Why a trait: today segments are files in a local directory ([`LocalDir`]); later they may live in S3
//! or similar. The store's durability rules (write, sync, then index; index delete, then unlink) are the
//! same everywhere, so they stay in [`crate::Store`], and a backend only has to move bytes. Writes are
//! sequential, except that after a failed write (ENOSPC) the same bytes are written again at the same
//! offset, which an object store can implement as a retried part upload.

mod local;

use std::io;
use std::path::PathBuf;

pub use local::LocalDir;

/// Random-access reads of a segment. Implementations read exactly `buf.len()` bytes or fail
/// (`UnexpectedEof` past the end).
pub trait ReadAt: Send + Sync {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()>;
}

/// Names one segment: which camera, run and position in the run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SegmentKey {
    pub camera_id: i64,
    pub run_id: i64,
    pub seq: u32,
}

impl SegmentKey {
    /// The backend-independent name, `<camera_id>/<run_id>-<seq>.kws` (also what the garbage list
    /// stores).
    pub fn name(&self) -> String {
        format!("{}/{}-{}.kws", self.camera_id, self.run_id, self.seq)
    }

    /// Parses [`SegmentKey::name`].
    pub fn parse(name: &str) -> Option<Self> {
        let (camera, file) = name.split_once('/')?;
        let stem = file.strip_suffix(".kws")?;
        let (run, seq) = stem.split_once('-')?;
        // Only the canonical spelling counts (no "+1", no leading zeros): name() must give it back.
        Some(SegmentKey { camera_id: canonical(camera)?, run_id: canonical(run)?, seq: canonical(seq)? })
    }
}

/// A decimal number as [`SegmentKey::name`] writes it: digits (a `-` first for negatives), no leading
/// zeros, no `+`. Checked by hand because recovery parses every file name of the store.
fn canonical<T: std::str::FromStr>(s: &str) -> Option<T> {
    let digits = s.strip_prefix('-').unwrap_or(s);
    let ok = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'))
        && !(s.starts_with('-') && digits == "0");
    if ok {
        s.parse().ok()
    } else {
        None
    }
}

/// A segment being written.
pub trait SegmentSink: Send {
    /// Writes all of `buf` at `offset`.
    fn write_at(&mut self, offset: u64, buf: &[u8]) -> io::Result<()>;
    /// Cuts the segment to `len` bytes (drops what a failed write may have left past the end).
    fn set_len(&mut self, len: u64) -> io::Result<()>;
    /// Makes the data written so far durable (fdatasync).
    fn sync_data(&mut self) -> io::Result<()>;
    /// Makes data and metadata durable (fsync).
    fn sync_all(&mut self) -> io::Result<()>;
    /// Makes the segment's name durable (fsync of its directory and the directories above it that
    /// the backend created).
    fn sync_name(&mut self) -> io::Result<()>;
}

/// One stored segment as listed by the backend.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listed {
    /// Name relative to the backend root (for messages), `<camera_id>/<file>`.
    pub name: String,
    /// `None` for a file that is not named like a segment (left alone, reported).
    pub key: Option<SegmentKey>,
    pub size: u64,
}

/// Where segment bytes live.
pub trait SegmentBackend: Send + Sync {
    /// Where a segment is, for messages (a path for a local directory).
    fn location(&self, key: &SegmentKey) -> PathBuf;
    /// The backend's root, for messages.
    fn root(&self) -> PathBuf;
    /// Creates a new segment for writing; fails (`AlreadyExists`) rather than replace existing data.
    fn create(&self, key: &SegmentKey) -> io::Result<Box<dyn SegmentSink>>;
    /// Opens a segment for reading.
    fn open(&self, key: &SegmentKey) -> io::Result<Box<dyn ReadAt>>;
    /// The segment's size, `None` when it does not exist.
    fn size(&self, key: &SegmentKey) -> io::Result<Option<u64>>;
    /// Cuts a segment to `len` bytes and makes that durable.
    fn truncate(&self, key: &SegmentKey, len: u64) -> io::Result<()>;
    /// Deletes a segment; `Ok(false)` when it did not exist.
    fn delete(&self, key: &SegmentKey) -> io::Result<bool>;
    /// Every stored object.
    fn list(&self) -> io::Result<Vec<Listed>>;
    /// The segments of one camera (names only; no sizes), in no particular order.
    fn list_camera(&self, camera_id: i64) -> io::Result<Vec<SegmentKey>> {
        Ok(self.list()?.into_iter().filter_map(|l| l.key).filter(|k| k.camera_id == camera_id).collect())
    }
    /// Bytes available to the store, `None` when unknown or unlimited.
    fn free_space(&self) -> io::Result<Option<u64>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_names_round_trip() {
        let k = SegmentKey { camera_id: 3, run_id: 17, seq: 0 };
        assert_eq!(k.name(), "3/17-0.kws");
        assert_eq!(SegmentKey::parse("3/17-0.kws"), Some(k));
        let neg = SegmentKey { camera_id: -3, run_id: 17, seq: 0 };
        assert_eq!(SegmentKey::parse(&neg.name()), Some(neg));
        for bad in [
            "3/17-0.mp4",
            "x/17-0.kws",
            "3/17.kws",
            "3/017-0.kws",
            "3/+17-0.kws",
            "3/17-0.kws/x",
            "-0/1-2.kws",
            "3/1-00.kws",
            "3/1--2.kws",
        ] {
            assert_eq!(SegmentKey::parse(bad), None, "{bad}");
        }
    }
}
