//! A virtual MP4 file: the header bytes we generated plus references to sample bytes that stay where the
//! recorder stored them.
//!
//! Why virtual: an export or an HTTP response of an hour of video is gigabytes; copying it into memory
//! (or a temporary file) first would be slow and wasteful. The length is known up front, any byte range
//! maps to a short list of parts, and the caller streams them from its own files.

use bytes::Bytes;
use std::io::{self, Write};
use std::ops::Range;

/// A piece of the file: bytes held in memory, or `len` bytes at `offset` of the caller's file number
/// `source`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Part {
    Bytes(Bytes),
    Data { source: u32, offset: u64, len: u64 },
}

impl Part {
    pub fn len(&self) -> u64 {
        match self {
            Part::Bytes(b) => b.len() as u64,
            Part::Data { len, .. } => *len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The sub-part `from..to` (relative to this part's start; both within it).
    fn slice(&self, from: u64, to: u64) -> Part {
        match self {
            Part::Bytes(b) => Part::Bytes(b.slice(from as usize..to as usize)),
            Part::Data { source, offset, .. } => {
                Part::Data { source: *source, offset: offset.saturating_add(from), len: to - from }
            }
        }
    }
}

/// Fills the buffer with the bytes of the caller's file `source` at `offset` (arguments in that order).
pub type ReadSource<'a> = dyn FnMut(u32, u64, &mut [u8]) -> io::Result<()> + 'a;

/// A progressive MP4 file described as parts; see the crate docs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mp4File {
    /// File offset of each part, ascending; parts are never empty.
    starts: Vec<u64>,
    parts: Vec<Part>,
    len: u64,
}

/// How many bytes [`Mp4File::write_to`] reads from a source at a time.
const COPY_CHUNK: u64 = 256 * 1024;

impl Mp4File {
    /// Builds a file from parts in order, merging `Data` parts that continue one another.
    pub(crate) fn from_parts(parts: impl IntoIterator<Item = Part>) -> Mp4File {
        let mut f = Mp4File { starts: Vec::new(), parts: Vec::new(), len: 0 };
        for p in parts {
            if p.is_empty() {
                continue;
            }
            if let (Part::Data { source, offset, len }, Some(Part::Data { source: ls, offset: lo, len: ll })) =
                (&p, f.parts.last_mut())
            {
                if source == ls && lo.checked_add(*ll) == Some(*offset) {
                    *ll += len;
                    f.len += len;
                    continue;
                }
            }
            f.starts.push(f.len);
            f.len += p.len();
            f.parts.push(p);
        }
        f
    }

    /// Total size in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The parts covering `range` (clipped to the file), with the first and last cut to fit.
    pub fn parts_in(&self, range: Range<u64>) -> Vec<Part> {
        let end = range.end.min(self.len);
        let start = range.start;
        if start >= end {
            return Vec::new();
        }
        // First part whose end lies beyond `start`.
        let first = self.starts.partition_point(|&s| s <= start).saturating_sub(1);
        let mut out = Vec::new();
        for (at, part) in self.starts[first..].iter().zip(&self.parts[first..]) {
            if *at >= end {
                break;
            }
            let from = start.saturating_sub(*at);
            let to = (end - at).min(part.len());
            out.push(part.slice(from, to));
        }
        out
    }

    /// Writes the whole file; `read(source, offset, buf)` must fill `buf` from the caller's file.
    pub fn write_to(&self, w: &mut dyn Write, read: &mut ReadSource<'_>) -> io::Result<()> {
        self.write_range(0..self.len, w, read)
    }

    /// Writes the bytes of `range` (clipped to the file), as for an HTTP Range request.
    pub fn write_range(&self, range: Range<u64>, w: &mut dyn Write, read: &mut ReadSource<'_>) -> io::Result<()> {
        let mut buf = Vec::new();
        for part in self.parts_in(range) {
            match part {
                Part::Bytes(b) => w.write_all(&b)?,
                Part::Data { source, offset, len } => {
                    let mut done = 0u64;
                    while done < len {
                        let n = (len - done).min(COPY_CHUNK) as usize;
                        buf.resize(n, 0);
                        read(source, offset.saturating_add(done), &mut buf[..n])?;
                        w.write_all(&buf[..n])?;
                        done += n as u64;
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file() -> Mp4File {
        Mp4File::from_parts([
            Part::Bytes(Bytes::from_static(b"head")),
            Part::Data { source: 0, offset: 10, len: 3 },
            Part::Data { source: 0, offset: 13, len: 2 },
            Part::Data { source: 1, offset: 0, len: 0 },
            Part::Data { source: 1, offset: 5, len: 4 },
        ])
    }

    fn read(source: u32, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        for (i, b) in buf.iter_mut().enumerate() {
            *b = (source as u64 * 100 + offset + i as u64) as u8;
        }
        Ok(())
    }

    #[test]
    fn merges_and_slices() {
        let f = file();
        assert_eq!(f.len(), 13);
        assert_eq!(f.parts.len(), 3);
        assert_eq!(
            f.parts_in(2..7),
            [Part::Bytes(Bytes::from_static(b"ad")), Part::Data { source: 0, offset: 10, len: 3 }]
        );
        assert_eq!(
            f.parts_in(8..100),
            [Part::Data { source: 0, offset: 14, len: 1 }, Part::Data { source: 1, offset: 5, len: 4 }]
        );
        assert!(f.parts_in(13..20).is_empty());
        assert!(f.parts_in(5..5).is_empty());
    }

    #[test]
    fn ranges_match_whole() {
        let f = file();
        let mut all = Vec::new();
        f.write_to(&mut all, &mut read).unwrap();
        assert_eq!(all.len(), 13);
        for a in 0..=13u64 {
            for b in a..=15u64 {
                let mut part = Vec::new();
                f.write_range(a..b, &mut part, &mut read).unwrap();
                assert_eq!(part, all[a as usize..(b.min(13)) as usize]);
            }
        }
    }
}
