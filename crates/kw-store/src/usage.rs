//! [`Store::usage`]: how much the store holds and how much room is left.
//!
//! Why it includes unfinished segments: the web UI and the retention logic must see the bytes the
//! recorder has written but not yet indexed, or a full disk would come as a surprise.

use std::sync::atomic::Ordering;

use kw_media::WallMicros;

use crate::error::{io_err, StoreError};
use crate::store::Store;

/// Space used by one camera.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CameraUsage {
    pub name: String,
    /// Bytes of finished (indexed) segments.
    pub committed_bytes: u64,
    /// Bytes of segments being written now.
    pub open_bytes: u64,
    pub segments: u64,
    /// Start of the oldest finished segment.
    pub oldest: Option<WallMicros>,
}

/// Space used by the store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Usage {
    /// Ordered by camera name.
    pub cameras: Vec<CameraUsage>,
    pub committed_bytes: u64,
    pub open_bytes: u64,
    /// Bytes still available on the file system (`None` when unknown).
    pub free_bytes: Option<u64>,
    /// Start of the oldest recording of any camera.
    pub oldest: Option<WallMicros>,
    /// Bytes of finished segments kept by a protection (part of `committed_bytes`).
    pub protected_bytes: u64,
}

impl Usage {
    /// Committed plus open bytes.
    pub fn total_bytes(&self) -> u64 {
        self.committed_bytes + self.open_bytes
    }
}

impl Store {
    /// Bytes per camera (finished segments and those being written), free space, oldest recording.
    pub fn usage(&self) -> Result<Usage, StoreError> {
        let open = self.open_bytes();
        let cameras: Vec<CameraUsage> = self
            .index()
            .camera_stats()?
            .into_iter()
            .map(|c| CameraUsage {
                open_bytes: open.get(&c.camera_id).copied().unwrap_or(0),
                name: c.name,
                committed_bytes: c.bytes,
                segments: c.segments,
                oldest: c.oldest,
            })
            .collect();
        let free_bytes = self.segs().free_space().map_err(|e| io_err(self.segs().root(), e))?;
        Ok(Usage {
            committed_bytes: cameras.iter().map(|c| c.committed_bytes).sum(),
            open_bytes: self.writers().values().map(|w| w.bytes.load(Ordering::Relaxed)).sum(),
            oldest: cameras.iter().filter_map(|c| c.oldest).min(),
            free_bytes,
            protected_bytes: self.index().protected_bytes()?,
            cameras,
        })
    }
}
