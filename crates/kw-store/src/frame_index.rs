//! The per-segment frame index blob: one compact varint encoding of every frame of a segment.
//!
//! Why a blob and not a row per frame: a camera produces 25-60 video frames and ~50 audio frames a
//! second, so rows per frame would make the index as busy as the recorder and many times larger than
//! needed. Readers always want all frames of a segment at once (to build an MP4 fragment or an HLS
//! part), so one blob read by segment id is both the smallest and the fastest form. Data offsets are not
//! stored: they follow from the data start and the fixed record header size.
//!
//! ```text
//! blob:  version 1 | varint data_start | frame*
//! frame: varint flags (bits 0-1 stream, bit 2 key, bit 3 loss_before) | varint size
//!        | zigzag varint pts delta from the previous frame of the same stream (first: from 0)
//! ```
//! Deltas are signed, so B-frame pts (not monotonic in decode order) round-trip.

use std::io;

use kw_media::{varint, StreamKind};

use crate::backend::ReadAt;
use crate::format::RECORD_HEADER_LEN;

const VERSION: u8 = 1;

/// One frame of a segment, as the index describes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameEntry {
    pub stream: StreamKind,
    /// Presentation time in the stream's timescale, relative to the run start.
    pub pts: i64,
    /// Length of the frame data in bytes.
    pub size: u32,
    pub key: bool,
    pub loss_before: bool,
    /// Offset of the frame data (after the record header) in the segment file.
    pub data_offset: u64,
}

impl FrameEntry {
    /// Reads this frame's data from an open segment.
    pub fn read(&self, r: &dyn ReadAt) -> io::Result<Vec<u8>> {
        let mut buf = vec![0u8; self.size as usize];
        r.read_at(self.data_offset, &mut buf)?;
        Ok(buf)
    }

    /// Offset just past this frame's data: where the next record starts.
    pub fn end_offset(&self) -> u64 {
        self.data_offset + u64::from(self.size)
    }
}

/// Builds a blob frame by frame while a segment is written.
#[derive(Debug)]
pub struct IndexBuilder {
    buf: Vec<u8>,
    last_pts: [i64; 2],
    next_record: u64,
}

impl IndexBuilder {
    /// Starts a blob for a segment whose first record starts at `data_start`.
    pub fn new(data_start: u64) -> Self {
        let mut buf = Vec::with_capacity(4096);
        buf.push(VERSION);
        varint::put_u64(&mut buf, data_start);
        IndexBuilder { buf, last_pts: [0; 2], next_record: data_start }
    }

    /// Adds a frame and returns its entry.
    pub fn push(&mut self, stream: StreamKind, pts: i64, size: u32, key: bool, loss: bool) -> FrameEntry {
        let flags = stream as u64 | (u64::from(key) << 2) | (u64::from(loss) << 3);
        varint::put_u64(&mut self.buf, flags);
        varint::put_u64(&mut self.buf, size.into());
        let last = &mut self.last_pts[stream as usize];
        varint::put_i64(&mut self.buf, pts.wrapping_sub(*last));
        *last = pts;
        let data_offset = self.next_record + RECORD_HEADER_LEN;
        self.next_record = data_offset + u64::from(size);
        FrameEntry { stream, pts, size, key, loss_before: loss, data_offset }
    }

    /// The file length the frames so far occupy (header included).
    pub fn end_offset(&self) -> u64 {
        self.next_record
    }

    pub fn blob(&self) -> &[u8] {
        &self.buf
    }
}

/// Decodes a blob. `Err` carries a readable reason.
pub fn decode(blob: &[u8]) -> Result<(u64, Vec<FrameEntry>), String> {
    if blob.first() != Some(&VERSION) {
        return Err(format!("unknown frame index version {:?}", blob.first()));
    }
    let mut pos = 1;
    let bad = |what: &str| format!("frame index is malformed ({what})");
    let data_start = varint::get_u64(blob, &mut pos).ok_or_else(|| bad("data start"))?;
    let mut frames = Vec::with_capacity(blob.len() / 4);
    let mut last_pts = [0i64; 2];
    let mut next = data_start;
    while pos < blob.len() {
        let flags = varint::get_u64(blob, &mut pos).ok_or_else(|| bad("flags"))?;
        if flags > 0xf {
            return Err(bad("flags"));
        }
        let stream = StreamKind::from_u8((flags & 3) as u8).ok_or_else(|| bad("stream"))?;
        let size = varint::get_u64(blob, &mut pos).ok_or_else(|| bad("size"))?;
        let size = u32::try_from(size).map_err(|_| bad("size"))?;
        let delta = varint::get_i64(blob, &mut pos).ok_or_else(|| bad("pts"))?;
        let last = &mut last_pts[stream as usize];
        *last = last.wrapping_add(delta);
        let data_offset = next.checked_add(RECORD_HEADER_LEN).ok_or_else(|| bad("offset"))?;
        next = data_offset.checked_add(u64::from(size)).ok_or_else(|| bad("offset"))?;
        frames.push(FrameEntry {
            stream,
            pts: *last,
            size,
            key: flags & 4 != 0,
            loss_before: flags & 8 != 0,
            data_offset,
        });
    }
    Ok((data_start, frames))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn b_frames_and_audio_round_trip() {
        // Decode order I P B B P with presentation times 0, 3, 1, 2, 6 (frame units of 3000 ticks).
        let video = [0i64, 9000, 3000, 6000, 18000];
        let mut b = IndexBuilder::new(100);
        let mut want = Vec::new();
        for (i, &pts) in video.iter().enumerate() {
            want.push(b.push(StreamKind::Video, pts, 1000 + i as u32, i == 0, i == 3));
            want.push(b.push(StreamKind::Audio, i as i64 * 1024 - 512, 7, true, false));
        }
        let (start, got) = decode(b.blob()).unwrap();
        assert_eq!(start, 100);
        assert_eq!(got, want);
        assert_eq!(got[0].data_offset, 120);
        assert_eq!(got[1].data_offset, 120 + 1000 + 20);
        assert_eq!(got.last().unwrap().end_offset(), b.end_offset());
        assert!(b.blob().len() < 6 * got.len(), "blob is not compact: {}", b.blob().len());
    }

    #[test]
    fn malformed_blobs_are_errors() {
        assert!(decode(&[]).is_err());
        assert!(decode(&[2, 0]).is_err());
        let mut b = IndexBuilder::new(50);
        b.push(StreamKind::Video, 1 << 40, 5, true, false);
        let blob = b.blob();
        for n in 2..blob.len() {
            let r = decode(&blob[..n]);
            assert!(r.is_err() || r.unwrap().1.is_empty(), "truncated blob of {n} accepted");
        }
    }
}
