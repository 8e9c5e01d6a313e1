//! keepwatch's MP4 writer.
//!
//! Two outputs from recorded access units, without re-encoding:
//! - [`progressive`]: a faststart MP4 (`moov` before `mdat`) for exports and HTTP playback with Range
//!   requests. It is a virtual file ([`Mp4File`]): generated header bytes plus references into the
//!   caller's segment files, so nothing large is copied or buffered.
//! - [`fragmented`]: an fMP4 init segment and media segments for live view.
//!
//! Why our own muxer rather than an MP4 crate: keepwatch needs exactly these two layouts, byte-identical
//! output for identical input (ETags, export equality), sample data that is referenced instead of
//! copied, and exact wall-clock timing of recordings with gaps. That is a few hundred lines of box
//! writing, which is easier to keep correct than a general library is to bend.
//!
//! Errors: malformed input (a missing description, times that do not fit the sample tables, an empty
//! window) returns [`Mp4Error`]; nothing here panics on input.
#![forbid(unsafe_code)]

mod bx;
mod entry;
pub mod fragmented;
pub mod progressive;
mod stbl;
pub mod timing;
mod trak;
mod vfile;

#[cfg(test)]
mod structure_tests;
#[cfg(test)]
mod testwalk;

pub use fragmented::{init_segment, media_segment, FragSample, FragTrack};
pub use progressive::{build, DataRef, MovieIn, SampleIn, TrackIn};
pub use vfile::{Mp4File, Part, ReadSource};

use kw_media::Codec;

/// Why a file could not be written.
#[derive(Debug, thiserror::Error)]
pub enum Mp4Error {
    #[error("empty presentation window: start {start}, end {end}")]
    Window { start: i64, end: i64 },
    #[error("no track has samples to present")]
    NoTracks,
    #[error("track {track}: {reason}")]
    Track { track: usize, reason: String },
    #[error("{codec:?} sample description: {reason}")]
    Config { codec: Codec, reason: &'static str },
    #[error("a box would exceed the size its header can express")]
    TooLarge,
}
