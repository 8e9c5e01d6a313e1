//! The vocabulary every other keepwatch crate speaks: which codec a stream has, its parameters, one
//! access unit ("frame"), and the time units.
//!
//! Why a crate of its own: ingest, recorder, store and muxers must agree on these types without
//! depending on each other, and this crate has no heavy dependencies, so it compiles first and fast.
//!
//! Time rule: every video timestamp is in [`VIDEO_TIMESCALE`] (90 kHz) units; an audio stream's
//! timestamps are in its own sample rate. Timestamps are relative to the start of a *run* (one unbroken
//! camera session with fixed parameters); a run carries a wall-clock anchor in microseconds since the Unix
//! epoch, so `wall = anchor + pts / timescale`.
//!
//! The clock seam ([`clock`]: a [`clock::Clock`] trait, the system clock and a fake one for tests) lives
//! here too, since every crate that asks for "now" speaks these time units.
#![forbid(unsafe_code)]

pub mod clock;
pub mod nal;
mod params;
pub mod varint;

pub use params::{Codec, ParamsError, StreamParams};

use bytes::Bytes;

/// Ticks per second of video media time.
pub const VIDEO_TIMESCALE: u32 = 90_000;

/// Microseconds since the Unix epoch (UTC): the wall-clock unit of the index.
pub type WallMicros = i64;

/// Which stream of a run a frame belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StreamKind {
    Video = 0,
    Audio = 1,
}

impl StreamKind {
    pub fn from_u8(v: u8) -> Option<Self> {
        match v {
            0 => Some(StreamKind::Video),
            1 => Some(StreamKind::Audio),
            _ => None,
        }
    }
}

/// One access unit as the camera sent it: never decoded, never re-encoded on the recording path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    pub stream: StreamKind,
    /// Presentation time in the stream's timescale, relative to the run start. Frames arrive in decode
    /// order; with B-frames the pts sequence is not monotonic (the muxer derives decode times).
    pub pts: i64,
    /// A random access point: IDR for H.264, any IRAP (NAL types 16..=23) for H.265; every audio frame.
    pub key: bool,
    /// Packets were lost between the previous frame of this stream and this one.
    pub loss_before: bool,
    /// Video: NAL units each with a 4-byte big-endian length prefix (the MP4 sample format).
    /// Audio: one raw AAC frame (no ADTS header) or G.711 bytes.
    pub data: Bytes,
}

/// What describes one run: the parameters of its streams and where it sits on the wall clock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunInfo {
    pub video: StreamParams,
    pub audio: Option<StreamParams>,
    /// Wall-clock time of pts 0.
    pub wall_anchor: WallMicros,
}

impl RunInfo {
    /// Wall-clock time of a video pts.
    pub fn video_wall(&self, pts: i64) -> WallMicros {
        self.wall_anchor + ticks_to_micros(pts, VIDEO_TIMESCALE)
    }
}

/// Converts ticks of `timescale` to microseconds, rounding to nearest.
pub fn ticks_to_micros(ticks: i64, timescale: u32) -> i64 {
    let t = ticks as i128 * 1_000_000;
    let ts = timescale as i128;
    (if t >= 0 { (t + ts / 2) / ts } else { (t - ts / 2) / ts }) as i64
}

/// Converts microseconds to ticks of `timescale`, rounding to nearest.
pub fn micros_to_ticks(us: i64, timescale: u32) -> i64 {
    let t = us as i128 * timescale as i128;
    (if t >= 0 { (t + 500_000) / 1_000_000 } else { (t - 500_000) / 1_000_000 }) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tick_conversions_round_trip() {
        assert_eq!(ticks_to_micros(90_000, VIDEO_TIMESCALE), 1_000_000);
        assert_eq!(ticks_to_micros(3_600, VIDEO_TIMESCALE), 40_000);
        assert_eq!(micros_to_ticks(40_000, VIDEO_TIMESCALE), 3_600);
        assert_eq!(micros_to_ticks(-40_000, VIDEO_TIMESCALE), -3_600);
        assert_eq!(ticks_to_micros(1024, 48_000), 21_333);
    }
}
