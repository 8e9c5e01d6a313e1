//! Progressive ("faststart") MP4 for export and HTTP playback: `ftyp`, `moov`, then one `mdat`.
//!
//! Why `moov` first: a browser or player can start playing and seek over HTTP without fetching the end of
//! the file. Why a virtual file ([`Mp4File`]): the samples stay in the recorder's segment files and are
//! only referenced. The output depends on nothing but the input, so the same window always produces the
//! same bytes (HTTP ETags, export equality).
//!
//! Timing: samples come in decode order with presentation times only; decode times are derived (see
//! [`crate::timing`]). An edit list per track makes the presentation start exactly at `start` (the first
//! sample is usually the key frame before it) and last exactly `end - start`.

use crate::bx::W;
use crate::entry::Kind;
use crate::stbl::{self, Chunk};
use crate::timing::{self, Timing};
use crate::trak::{self, Edit, TrackHead};
use crate::vfile::{Mp4File, Part, IN_MEMORY};
use crate::Mp4Error;
use bytes::Bytes;
use kw_media::{StreamParams, VIDEO_TIMESCALE};

/// Where a sample's bytes live: the caller's file number and the byte offset within it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DataRef {
    /// Any number below `u32::MAX` (which the virtual file keeps for itself).
    pub source: u32,
    pub offset: u64,
}

/// One sample (access unit) of a track.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SampleIn {
    /// Presentation time in the track's timescale.
    pub pts: i64,
    pub size: u32,
    /// A random access point.
    pub key: bool,
    /// Index into [`TrackIn::descs`].
    pub desc: u32,
    pub data: DataRef,
}

/// One track: its sample descriptions and samples in decode order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrackIn {
    pub descs: Vec<StreamParams>,
    pub samples: Vec<SampleIn>,
    pub timescale: u32,
}

/// A movie to write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MovieIn {
    /// Video first, then optional audio. A track without samples before `end` is left out.
    pub tracks: Vec<TrackIn>,
    /// Presentation window in 90 kHz ticks on the video pts clock; audio pts are in their own timescale
    /// on the same origin.
    pub start: i64,
    pub end: i64,
    /// Written into `mvhd`, `tkhd` and `mdhd`.
    pub creation_time_unix: i64,
}

/// The movie timescale.
const MOVIE_TIMESCALE: u32 = VIDEO_TIMESCALE;

/// A track that will be written, with everything derived from its input.
pub(crate) struct Prepared<'a> {
    pub input: &'a TrackIn,
    /// The timescale written: the input's, or a coarser one when the input's cannot express a gap.
    pub timescale: u32,
    pub timing: Timing,
    pub edits: Vec<Edit>,
    pub media_duration: u64,
}

/// Builds the file for `m`.
pub fn build(m: &MovieIn) -> Result<Mp4File, Mp4Error> {
    let window = m.end.checked_sub(m.start).filter(|&d| d > 0);
    let Some(total) = window else {
        return Err(Mp4Error::Window { start: m.start, end: m.end });
    };
    let total = total as u64;
    let mut tracks = Vec::new();
    for (i, t) in m.tracks.iter().enumerate() {
        if let Some(p) = prepare(i, t, m, total)? {
            tracks.push(p);
        }
    }
    if tracks.is_empty() {
        return Err(Mp4Error::NoTracks);
    }
    let (order, per_track) = stbl::layout(&tracks);
    let payload: u64 = order.iter().map(|c| c.bytes).sum();

    let mut head = W::new();
    trak::ftyp(&mut head, b"isom", 0x200, &[b"isom", b"iso2", b"mp41"]);
    let ftyp = head.finish()?;

    let mdat_small = payload.checked_add(8).is_some_and(|s| s <= u32::MAX.into());
    let mdat_header = if mdat_small { 8 } else { 16 };
    let max_rel = order.last().map(|c| c.rel_offset).unwrap_or(0);
    let mut co64 = false;
    let mut moov_len = moov(m, &tracks, &per_track, 0, co64, total)?.len() as u64;
    if ftyp.len() as u64 + moov_len + mdat_header + max_rel > u32::MAX.into() {
        co64 = true;
        moov_len = moov(m, &tracks, &per_track, 0, co64, total)?.len() as u64;
    }
    let base = ftyp.len() as u64 + moov_len + mdat_header;
    let moov = moov(m, &tracks, &per_track, base, co64, total)?;

    let mut head = ftyp;
    head.extend_from_slice(&moov);
    if mdat_small {
        head.extend_from_slice(&((payload + 8) as u32).to_be_bytes());
        head.extend_from_slice(b"mdat");
    } else {
        head.extend_from_slice(&1u32.to_be_bytes());
        head.extend_from_slice(b"mdat");
        head.extend_from_slice(&(payload.saturating_add(16)).to_be_bytes());
    }
    let parts = std::iter::once(Part::Bytes(Bytes::from(head))).chain(order.iter().flat_map(|c| {
        tracks[c.track].input.samples[c.first..c.first + c.count].iter().map(|s| Part::Data {
            source: s.data.source,
            offset: s.data.offset,
            len: s.size.into(),
        })
    }));
    Ok(Mp4File::from_parts(parts))
}

fn moov(
    m: &MovieIn,
    tracks: &[Prepared<'_>],
    chunks: &[Vec<Chunk>],
    base: u64,
    co64: bool,
    total: u64,
) -> Result<Vec<u8>, Mp4Error> {
    let time = trak::mp4_time(m.creation_time_unix);
    let mut w = W::new();
    let b = w.begin(b"moov");
    let next_id = u32::try_from(tracks.len() + 1).map_err(|_| Mp4Error::TooLarge)?;
    trak::mvhd(&mut w, time, MOVIE_TIMESCALE, total, next_id);
    for (i, (t, c)) in tracks.iter().zip(chunks).enumerate() {
        let head = TrackHead {
            track_id: i as u32 + 1,
            descs: &t.input.descs,
            time,
            duration: total,
            timescale: t.timescale,
            media_duration: t.media_duration,
            edits: &t.edits,
        };
        trak::trak(&mut w, &head, |w| {
            stbl::tables(w, t, c, base, co64);
            Ok(())
        })?;
    }
    w.end(b);
    w.finish()
}

/// Validates a track and derives its timing and edit list; `None` when it has nothing to present.
fn prepare<'a>(index: usize, t: &'a TrackIn, m: &MovieIn, total: u64) -> Result<Option<Prepared<'a>>, Mp4Error> {
    let err = |reason: &str| Mp4Error::Track { track: index, reason: reason.into() };
    if t.timescale == 0 {
        return Err(err("timescale is 0"));
    }
    let Some(first) = t.descs.first() else {
        return Err(err("no sample description"));
    };
    if t.descs.iter().any(|d| Kind::of(d.codec) != Kind::of(first.codec)) {
        return Err(err("mixes audio and video sample descriptions"));
    }
    if let Some(s) = t.samples.iter().find(|s| s.desc as usize >= t.descs.len()) {
        return Err(Mp4Error::Track {
            track: index,
            reason: format!("sample refers to missing description {}", s.desc),
        });
    }
    if t.samples.iter().any(|s| s.data.source == IN_MEMORY) {
        return Err(err("a sample's source is u32::MAX, which is reserved"));
    }
    if t.samples.is_empty() {
        return Ok(None);
    }
    if u32::try_from(t.samples.len()).is_err() {
        return Err(err("too many samples"));
    }
    let (ts, timing, start_t, end_t) = fit_timing(t, m).map_err(err)?;
    if timing.first_pts >= end_t {
        return Ok(None);
    }

    let mut edits = Vec::with_capacity(2);
    if timing.first_pts > start_t {
        // Nothing to show before the first sample: an empty edit keeps the track in place.
        let late = i128::from(timing.first_pts) - i128::from(start_t);
        let late = rescale_wide(late, ts, MOVIE_TIMESCALE);
        let empty = u64::try_from(late).map_err(|_| err("first sample out of range"))?;
        if empty >= total {
            return Ok(None);
        }
        edits.push(Edit { duration: empty, media_time: -1 });
        edits.push(Edit { duration: total - empty, media_time: timing.shift });
    } else {
        let media_time = i128::from(start_t) - i128::from(timing.first_pts) + i128::from(timing.shift);
        let media_time = i64::try_from(media_time).map_err(|_| err("window start out of range"))?;
        edits.push(Edit { duration: total, media_time });
    }
    let media_duration =
        timing.durations.iter().map(|&d| u64::from(d)).sum::<u64>().saturating_add(timing.shift as u64);
    Ok(Some(Prepared { input: t, timescale: ts, timing, edits, media_duration }))
}

/// Derives the timing of a track in its own timescale or, when a gap (camera offline for more than 2^32
/// ticks, about 13 hours at 90 kHz) does not fit the 32-bit tables, in a 10 or 100 times coarser one.
/// Returns the timescale, the timing and the window in it.
fn fit_timing(t: &TrackIn, m: &MovieIn) -> Result<(u32, Timing, i64, i64), &'static str> {
    let mut last_err = "timing does not fit";
    for div in [1, 10, 100] {
        let ts = t.timescale / div;
        if div > 1 && ts < 100 {
            break;
        }
        let start_t = rescale(m.start, MOVIE_TIMESCALE, ts).ok_or("window start out of range")?;
        let end_t = rescale(m.end, MOVIE_TIMESCALE, ts).ok_or("window end out of range")?;
        let pts = t.samples.iter().map(|s| rescale(s.pts, t.timescale, ts).ok_or("pts out of range"));
        let pts = pts.collect::<Result<Vec<i64>, _>>()?;
        match timing::track_timing(&pts, end_t, (ts / 25).max(1)) {
            Ok(timing) => return Ok((ts, timing, start_t, end_t)),
            Err(e) => last_err = e,
        }
    }
    Err(last_err)
}

/// `v` ticks of timescale `from` in timescale `to`, rounded to nearest; `None` if it does not fit.
fn rescale(v: i64, from: u32, to: u32) -> Option<i64> {
    i64::try_from(rescale_wide(v.into(), from, to)).ok()
}

fn rescale_wide(v: i128, from: u32, to: u32) -> i128 {
    if from == to {
        return v;
    }
    let (num, den) = (v * i128::from(to), i128::from(from));
    if num >= 0 {
        (num + den / 2) / den
    } else {
        (num - den / 2) / den
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rescaling() {
        assert_eq!(rescale(90_000, 90_000, 48_000), Some(48_000));
        assert_eq!(rescale(3_600, 90_000, 8_000), Some(320));
        assert_eq!(rescale(-3_600, 90_000, 8_000), Some(-320));
        assert_eq!(rescale(i64::MAX, 1, 90_000), None);
    }
}
