//! The byte layout of a segment file (`.kws`).
//!
//! Why self-describing: the index row of a segment is written only after the file is complete and
//! synced, so after a crash the newest file of each camera has no row. Recovery must be able to rebuild
//! that row from the file alone, and must be able to tell exactly where valid data ends. Hence a header
//! that names the store, camera, run and segment and carries the stream parameters, and per-frame
//! records with a magic byte, the frame's metadata and a CRC over header and data: the first record
//! that does not check out marks the end of what the crash left intact.
//!
//! ```text
//! header:  magic "KWSEG\0\x01\0" | u32 body length | u32 crc32(body) | body
//! body:    store id (16) | camera id i64 | run id i64 | seq u32 | wall anchor i64
//!          | u32 len + video params | u32 len + audio params (len 0: no audio)
//! record:  0xF5 | stream u8 | flags u8 (bit0 key, bit1 loss_before) | 0 | size u32 | pts i64
//!          | crc32 u32 over the 16 bytes before it and the data   (20 bytes, then `size` data bytes)
//! ```
//! All integers are big-endian.

use std::io;

use kw_media::{RunInfo, StreamKind, StreamParams};
use uuid::Uuid;

use crate::backend::ReadAt;

/// First 8 bytes of every segment file (the last two bytes are the format version 1.0).
pub const MAGIC: [u8; 8] = *b"KWSEG\x00\x01\x00";
/// Length of the fixed part before the header body: magic, body length, body crc.
pub const PREFIX_LEN: usize = 16;
/// First byte of every frame record.
pub const RECORD_MAGIC: u8 = 0xF5;
/// Length of a frame record header.
pub const RECORD_HEADER_LEN: u64 = 20;
/// Largest header body accepted (stream parameters are a few hundred bytes).
pub const MAX_HEADER_BODY: u32 = 1 << 20;
/// Largest frame accepted. A 4K intra frame is a few MB; anything near this is a parse error.
pub const MAX_FRAME: u32 = 256 << 20;

const FLAG_KEY: u8 = 1;
const FLAG_LOSS: u8 = 2;

/// What a segment file says about itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegmentHeader {
    pub store_id: Uuid,
    pub camera_id: i64,
    pub run_id: i64,
    pub seq: u32,
    pub run: RunInfo,
}

impl SegmentHeader {
    /// The complete header: prefix and body.
    pub fn encode(&self) -> Vec<u8> {
        let mut body = Vec::with_capacity(256);
        body.extend_from_slice(self.store_id.as_bytes());
        body.extend_from_slice(&self.camera_id.to_be_bytes());
        body.extend_from_slice(&self.run_id.to_be_bytes());
        body.extend_from_slice(&self.seq.to_be_bytes());
        body.extend_from_slice(&self.run.wall_anchor.to_be_bytes());
        put_len_prefixed(&mut body, &self.run.video.encode());
        match &self.run.audio {
            Some(a) => put_len_prefixed(&mut body, &a.encode()),
            None => body.extend_from_slice(&0u32.to_be_bytes()),
        }
        let mut out = Vec::with_capacity(PREFIX_LEN + body.len());
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&(body.len() as u32).to_be_bytes());
        out.extend_from_slice(&crc32fast::hash(&body).to_be_bytes());
        out.extend_from_slice(&body);
        out
    }

    /// Checks the prefix and returns (body length, body crc).
    fn decode_prefix(p: &[u8; PREFIX_LEN]) -> Result<(u32, u32), String> {
        if p[..8] != MAGIC {
            if p[..5] == MAGIC[..5] {
                return Err(format!("unsupported segment format version {}.{}", p[6], p[7]));
            }
            return Err("not a keepwatch segment file (bad magic)".into());
        }
        let len = be_u32(&p[8..12]);
        if len > MAX_HEADER_BODY {
            return Err(format!("header length {len} is implausible"));
        }
        Ok((len, be_u32(&p[12..16])))
    }

    fn decode_body(body: &[u8], crc: u32) -> Result<Self, String> {
        if crc32fast::hash(body) != crc {
            return Err("header checksum mismatch".into());
        }
        let short = || "header is truncated".to_string();
        let mut pos = 0usize;
        let mut take = |n: usize| -> Result<&[u8], String> {
            let b = body.get(pos..pos + n).ok_or_else(short)?;
            pos += n;
            Ok(b)
        };
        let store_id = Uuid::from_slice(take(16)?).map_err(|e| e.to_string())?;
        let camera_id = be_i64(take(8)?);
        let run_id = be_i64(take(8)?);
        let seq = be_u32(take(4)?);
        let wall_anchor = be_i64(take(8)?);
        let vlen = be_u32(take(4)?) as usize;
        let video = StreamParams::decode(take(vlen)?).map_err(|e| format!("video parameters: {e}"))?;
        let alen = be_u32(take(4)?) as usize;
        let audio = if alen == 0 {
            None
        } else {
            Some(StreamParams::decode(take(alen)?).map_err(|e| format!("audio parameters: {e}"))?)
        };
        if pos != body.len() {
            return Err("header has trailing bytes".into());
        }
        Ok(SegmentHeader { store_id, camera_id, run_id, seq, run: RunInfo { video, audio, wall_anchor } })
    }

    /// Reads and verifies the header of a file of `file_len` bytes. Returns the header and the offset
    /// of the first frame record. The outer error is an I/O error (the file may be fine); the inner
    /// one a readable reason why the bytes are not a valid header.
    pub fn read(r: &dyn ReadAt, file_len: u64) -> io::Result<Result<(Self, u64), String>> {
        if file_len < PREFIX_LEN as u64 {
            return Ok(Err(format!("file of {file_len} bytes is too short for a segment header")));
        }
        let mut prefix = [0u8; PREFIX_LEN];
        r.read_at(0, &mut prefix)?;
        let (len, crc) = match Self::decode_prefix(&prefix) {
            Ok(v) => v,
            Err(e) => return Ok(Err(e)),
        };
        let data_start = PREFIX_LEN as u64 + u64::from(len);
        if data_start > file_len {
            return Ok(Err("header is truncated".into()));
        }
        let mut body = vec![0u8; len as usize];
        r.read_at(PREFIX_LEN as u64, &mut body)?;
        Ok(Self::decode_body(&body, crc).map(|h| (h, data_start)))
    }
}

/// The metadata of one frame record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordHeader {
    pub stream: StreamKind,
    pub key: bool,
    pub loss_before: bool,
    pub size: u32,
    pub pts: i64,
}

impl RecordHeader {
    /// The 20 header bytes of a record carrying `data` (whose length must equal `size`).
    pub fn encode(&self, data: &[u8]) -> [u8; RECORD_HEADER_LEN as usize] {
        let mut h = [0u8; RECORD_HEADER_LEN as usize];
        h[0] = RECORD_MAGIC;
        h[1] = self.stream as u8;
        h[2] = (if self.key { FLAG_KEY } else { 0 }) | (if self.loss_before { FLAG_LOSS } else { 0 });
        h[4..8].copy_from_slice(&self.size.to_be_bytes());
        h[8..16].copy_from_slice(&self.pts.to_be_bytes());
        let mut crc = crc32fast::Hasher::new();
        crc.update(&h[..16]);
        crc.update(data);
        h[16..20].copy_from_slice(&crc.finalize().to_be_bytes());
        h
    }

    /// Parses a record header; `None` when it cannot be one (bad magic, unknown stream or flags).
    /// The CRC is checked separately with [`RecordHeader::crc_matches`] once the data is read.
    pub fn decode(h: &[u8; RECORD_HEADER_LEN as usize]) -> Option<Self> {
        if h[0] != RECORD_MAGIC || h[3] != 0 || h[2] & !(FLAG_KEY | FLAG_LOSS) != 0 {
            return None;
        }
        let size = be_u32(&h[4..8]);
        if size > MAX_FRAME {
            return None;
        }
        Some(RecordHeader {
            stream: StreamKind::from_u8(h[1])?,
            key: h[2] & FLAG_KEY != 0,
            loss_before: h[2] & FLAG_LOSS != 0,
            size,
            pts: be_i64(&h[8..16]),
        })
    }

    /// True when the CRC stored in `h` covers `h[..16]` and `data`.
    pub fn crc_matches(h: &[u8; RECORD_HEADER_LEN as usize], data: &[u8]) -> bool {
        let mut crc = crc32fast::Hasher::new();
        crc.update(&h[..16]);
        crc.update(data);
        crc.finalize() == be_u32(&h[16..20])
    }
}

fn put_len_prefixed(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as u32).to_be_bytes());
    out.extend_from_slice(b);
}

fn be_u32(b: &[u8]) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[..4]);
    u32::from_be_bytes(a)
}

fn be_i64(b: &[u8]) -> i64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    i64::from_be_bytes(a)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{run_info, MemReader};

    fn header() -> SegmentHeader {
        SegmentHeader { store_id: Uuid::new_v4(), camera_id: 3, run_id: 17, seq: 5, run: run_info(true) }
    }

    #[test]
    fn header_round_trip_and_truncation() {
        let h = header();
        let enc = h.encode();
        let r = MemReader(enc.clone());
        assert_eq!(SegmentHeader::read(&r, enc.len() as u64).unwrap().unwrap(), (h.clone(), enc.len() as u64));
        for n in 0..enc.len() {
            let r = MemReader(enc[..n].to_vec());
            assert!(SegmentHeader::read(&r, n as u64).unwrap().is_err(), "prefix of {n} bytes accepted");
        }
        let mut bad = enc.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        let r = MemReader(bad);
        assert!(SegmentHeader::read(&r, enc.len() as u64).unwrap().unwrap_err().contains("checksum"));
        let no_audio = SegmentHeader { run: run_info(false), ..h };
        let enc = no_audio.encode();
        assert_eq!(SegmentHeader::read(&MemReader(enc.clone()), enc.len() as u64).unwrap().unwrap().0, no_audio);
    }

    #[test]
    fn record_round_trip() {
        let rh = RecordHeader { stream: StreamKind::Audio, key: true, loss_before: true, size: 3, pts: -7 };
        let h = rh.encode(b"abc");
        assert_eq!(RecordHeader::decode(&h), Some(rh));
        assert!(RecordHeader::crc_matches(&h, b"abc"));
        assert!(!RecordHeader::crc_matches(&h, b"abd"));
        let mut bad = h;
        bad[0] = 0;
        assert_eq!(RecordHeader::decode(&bad), None);
        let mut bad = h;
        bad[1] = 9;
        assert_eq!(RecordHeader::decode(&bad), None);
    }
}
