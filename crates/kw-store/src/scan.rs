//! Reading a segment file from its bytes alone: header, then frame records until the first one that
//! does not check out.
//!
//! Why one scanner: recovery (rebuilding the row of a crashed file) and check (verifying a row against
//! its file) must agree exactly on what "a valid frame" is; both use this. Reads go through a chunk
//! buffer because records are small and a segment has thousands of them.

use std::io;

use crate::backend::ReadAt;
use crate::format::{RecordHeader, SegmentHeader, RECORD_HEADER_LEN};
use crate::frame_index::{FrameEntry, IndexBuilder};
use crate::timing::Extent;

const CHUNK: usize = 1 << 20;

/// What a scan found.
pub struct Scan {
    pub header: SegmentHeader,
    /// The whole valid frames, in file order.
    pub frames: Vec<FrameEntry>,
    /// The frame index blob of those frames.
    pub index: IndexBuilder,
    pub extent: Extent,
    pub has_loss: bool,
    /// Length of the valid prefix: header and whole valid frames.
    pub valid_len: u64,
    /// Why the scan stopped before `len`, if it did.
    pub stop: Option<String>,
}

/// Sequential reads over a [`ReadAt`] in large chunks.
struct Chunked<'a> {
    r: &'a dyn ReadAt,
    len: u64,
    buf: Vec<u8>,
    buf_start: u64,
}

impl Chunked<'_> {
    /// Fills `out` from `pos`; the caller guarantees `pos + out.len() <= len`.
    fn read(&mut self, pos: u64, out: &mut [u8]) -> io::Result<()> {
        let end = pos + out.len() as u64;
        let buf_end = self.buf_start + self.buf.len() as u64;
        if pos >= self.buf_start && end <= buf_end {
            let from = (pos - self.buf_start) as usize;
            out.copy_from_slice(&self.buf[from..from + out.len()]);
            return Ok(());
        }
        if out.len() >= CHUNK {
            return self.r.read_at(pos, out);
        }
        let n = (self.len - pos).min(CHUNK as u64) as usize;
        self.buf.resize(n, 0);
        self.r.read_at(pos, &mut self.buf)?;
        self.buf_start = pos;
        out.copy_from_slice(&self.buf[..out.len()]);
        Ok(())
    }
}

/// Scans the first `len` bytes of a segment. Outer error: I/O; inner: the header is not valid.
pub fn scan(r: &dyn ReadAt, len: u64) -> io::Result<Result<Scan, String>> {
    let (header, data_start) = match SegmentHeader::read(r, len)? {
        Ok(v) => v,
        Err(e) => return Ok(Err(e)),
    };
    let mut rd = Chunked { r, len, buf: Vec::new(), buf_start: 0 };
    let mut index = IndexBuilder::new(data_start);
    let mut frames = Vec::new();
    let mut extent = Extent::default();
    let mut has_loss = false;
    let mut pos = data_start;
    let mut hdr = [0u8; RECORD_HEADER_LEN as usize];
    let mut data = Vec::new();
    let mut stop = None;
    while pos < len {
        if len - pos < RECORD_HEADER_LEN {
            stop = Some(format!("frame record at offset {pos} is cut short"));
            break;
        }
        rd.read(pos, &mut hdr)?;
        let Some(rh) = RecordHeader::decode(&hdr) else {
            stop = Some(format!("no valid frame record at offset {pos}"));
            break;
        };
        let data_at = pos + RECORD_HEADER_LEN;
        let end = data_at + u64::from(rh.size);
        if end > len {
            stop = Some(format!("frame at offset {pos} is cut short"));
            break;
        }
        data.resize(rh.size as usize, 0);
        rd.read(data_at, &mut data)?;
        if !RecordHeader::crc_matches(&hdr, &data) {
            stop = Some(format!("checksum mismatch in the frame at offset {pos}"));
            break;
        }
        frames.push(index.push(rh.stream, rh.pts, rh.size, rh.key, rh.loss_before));
        extent.push(rh.stream, rh.pts);
        has_loss |= rh.loss_before;
        pos = end;
    }
    Ok(Ok(Scan { header, frames, index, extent, has_loss, valid_len: pos, stop }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{run_info, MemReader};
    use kw_media::StreamKind;
    use uuid::Uuid;

    fn file(frames: &[(&[u8], i64)]) -> Vec<u8> {
        let h = SegmentHeader { store_id: Uuid::nil(), camera_id: 1, run_id: 2, seq: 3, run: run_info(false) };
        let mut out = h.encode();
        for &(data, pts) in frames {
            let rh = RecordHeader {
                stream: StreamKind::Video,
                key: pts == 0,
                loss_before: false,
                size: data.len() as u32,
                pts,
            };
            out.extend_from_slice(&rh.encode(data));
            out.extend_from_slice(data);
        }
        out
    }

    #[test]
    fn stops_at_the_first_bad_record() {
        let good = file(&[(b"aaaa", 0), (b"bbbbbb", 3000), (b"", 6000)]);
        let s = scan(&MemReader(good.clone()), good.len() as u64).unwrap().unwrap();
        assert_eq!(s.frames.len(), 3);
        assert_eq!(s.valid_len, good.len() as u64);
        assert_eq!(s.stop, None);
        // Every cut inside the frames keeps exactly the whole frames before it.
        let hdr_len = file(&[]).len() as u64;
        for cut in hdr_len..good.len() as u64 {
            let s = scan(&MemReader(good[..cut as usize].to_vec()), cut).unwrap().unwrap();
            let whole = s.frames.iter().map(|f| f.end_offset()).max().unwrap_or(hdr_len);
            assert_eq!(s.valid_len, whole);
            assert!(s.stop.is_some() || cut == whole);
        }
        // A flipped data byte ends the scan before that frame.
        let mut bad = good.clone();
        bad[hdr_len as usize + 20 + 4 + 20] ^= 0xff;
        let s = scan(&MemReader(bad), good.len() as u64).unwrap().unwrap();
        assert_eq!(s.frames.len(), 1);
        assert!(s.stop.unwrap().contains("checksum"));
    }
}
