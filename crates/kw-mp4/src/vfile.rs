//! A virtual MP4 file: the header bytes we generated plus references to sample bytes that stay where the
//! recorder stored them.
//!
//! Why virtual: an export or an HTTP response of an hour of video is gigabytes; copying it into memory
//! (or a temporary file) first would be slow and wasteful. The length is known up front, any byte range
//! maps to a short list of parts, and the caller streams them from its own files.

use bytes::Bytes;
use std::io::{self, IoSlice, Write};
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

/// The `source` number that marks a piece held in memory; callers' sources stay below it.
pub(crate) const IN_MEMORY: u32 = u32::MAX;

/// One stored piece of the file, 24 bytes whatever it holds: a day of video is millions of them, held for
/// as long as a response streams. `offset` is the offset in `source`, or for an in-memory piece the index
/// of its bytes in [`Mp4File::bytes`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Piece {
    /// File offset of the piece.
    start: u64,
    offset: u64,
    len: u32,
    source: u32,
}

/// A progressive MP4 file described as parts; see the crate docs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mp4File {
    /// Ascending by `start`; never empty pieces.
    pieces: Vec<Piece>,
    bytes: Vec<Bytes>,
    len: u64,
}

/// How many bytes [`Mp4File::write_to`] reads from a source at a time.
const COPY_CHUNK: u64 = 256 * 1024;

/// The longest piece: lengths are stored in 32 bits.
const MAX_PIECE: u64 = u32::MAX as u64;

impl Mp4File {
    /// Builds a file from parts in order, merging `Data` parts that continue one another. `Data` parts
    /// must not use the source number [`IN_MEMORY`].
    pub(crate) fn from_parts(parts: impl IntoIterator<Item = Part>) -> Mp4File {
        let mut f = Mp4File { pieces: Vec::new(), bytes: Vec::new(), len: 0 };
        let parts = parts.into_iter();
        f.pieces.reserve(parts.size_hint().0);
        for p in parts {
            match p {
                Part::Bytes(b) => {
                    let mut at = 0;
                    while at < b.len() {
                        let n = (b.len() - at).min(MAX_PIECE as usize);
                        let index = f.bytes.len() as u64;
                        f.bytes.push(b.slice(at..at + n));
                        f.push(Piece { start: f.len, offset: index, len: n as u32, source: IN_MEMORY });
                        at += n;
                    }
                }
                Part::Data { source, offset, len } => {
                    let mut done = 0;
                    while done < len {
                        let at = offset.saturating_add(done);
                        let n = (len - done).min(MAX_PIECE);
                        if let Some(last) = f.pieces.last_mut() {
                            let fits = u64::from(last.len) + n <= MAX_PIECE;
                            if last.source == source
                                && source != IN_MEMORY
                                && last.offset.checked_add(last.len.into()) == Some(at)
                                && fits
                            {
                                last.len += n as u32;
                                f.len += n;
                                done += n;
                                continue;
                            }
                        }
                        f.push(Piece { start: f.len, offset: at, len: n as u32, source });
                        done += n;
                    }
                }
            }
        }
        f.pieces.shrink_to_fit();
        f
    }

    fn push(&mut self, p: Piece) {
        self.len += u64::from(p.len);
        self.pieces.push(p);
    }

    fn part(&self, p: &Piece) -> Part {
        if p.source == IN_MEMORY {
            Part::Bytes(self.bytes.get(p.offset as usize).cloned().unwrap_or_default())
        } else {
            Part::Data { source: p.source, offset: p.offset, len: p.len.into() }
        }
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
        self.parts_iter(range).collect()
    }

    /// [`Mp4File::parts_in`] without collecting them (a day of video is millions of parts).
    pub fn parts_iter(&self, range: Range<u64>) -> impl Iterator<Item = Part> + '_ {
        let end = range.end.min(self.len);
        let start = range.start;
        // First piece whose end lies beyond `start`.
        let first = if start >= end {
            self.pieces.len()
        } else {
            self.pieces.partition_point(|p| p.start <= start).saturating_sub(1)
        };
        self.pieces[first..].iter().take_while(move |p| p.start < end).map(move |piece| {
            let from = start.saturating_sub(piece.start);
            let to = (end - piece.start).min(piece.len.into());
            self.part(piece).slice(from, to)
        })
    }

    /// Writes the whole file; `read(source, offset, buf)` must fill `buf` from the caller's file.
    pub fn write_to(&self, w: &mut dyn Write, read: &mut ReadSource<'_>) -> io::Result<()> {
        self.write_range(0..self.len, w, read)
    }

    /// The bytes of `range` (clipped to the file) as buffers that share memory: each run of samples is read
    /// once into one buffer and handed out as slices of it (no copy per sample), for a writer that sends a
    /// list of buffers (an HTTP body). Same bytes as [`Mp4File::write_range`].
    pub fn read_range(&self, range: Range<u64>, read: &mut ReadSource<'_>) -> io::Result<Vec<Bytes>> {
        let mut out = Vec::new();
        let mut parts = self.parts_iter(range).peekable();
        while let Some(part) = parts.next() {
            let (source, offset, len) = match part {
                Part::Bytes(b) => {
                    out.push(b);
                    continue;
                }
                Part::Data { source, offset, len } => (source, offset, len),
            };
            let mut slices = vec![(0usize, len as usize)];
            let mut span_end = offset.saturating_add(len);
            if len <= READ_SPAN {
                while let Some(&Part::Data { source: s, offset: o, len: l }) = parts.peek() {
                    let close = o >= span_end && o - span_end <= MAX_GAP;
                    if s != source || !close || o.saturating_add(l) - offset > READ_SPAN {
                        break;
                    }
                    slices.push(((o - offset) as usize, l as usize));
                    span_end = o + l;
                    parts.next();
                }
            }
            let span = usize::try_from(span_end - offset).map_err(|_| io::Error::other("part too long"))?;
            let mut buf = bytes::BytesMut::zeroed(span);
            read(source, offset, &mut buf)?;
            let buf = buf.freeze();
            out.extend(slices.into_iter().map(|(at, len)| buf.slice(at..at + len)));
        }
        Ok(out)
    }

    /// Writes the bytes of `range` (clipped to the file), as for an HTTP Range request.
    ///
    /// Why reads are coalesced: the samples of a segment lie in its file one after another, separated only
    /// by the store's small record headers, so one large read covers hundreds of samples; their bytes then
    /// go out with vectored writes straight from that buffer. Reading sample by sample cost a read call (and
    /// a copy) per 10-50 kB and ran at a fraction of the disk's speed.
    pub fn write_range(&self, range: Range<u64>, w: &mut dyn Write, read: &mut ReadSource<'_>) -> io::Result<()> {
        let mut buf = Vec::new();
        let mut slices: Vec<(usize, usize)> = Vec::new();
        let mut parts = self.parts_iter(range).peekable();
        while let Some(part) = parts.next() {
            let (source, offset, len) = match part {
                Part::Bytes(b) => {
                    w.write_all(&b)?;
                    continue;
                }
                Part::Data { source, offset, len } => (source, offset, len),
            };
            if len > READ_SPAN {
                copy_chunked(source, offset, len, &mut buf, w, read)?;
                continue;
            }
            // A run: this part and the parts of the same source that follow it closely in that source.
            let mut span_end = offset + len;
            slices.clear();
            slices.push((0, len as usize));
            while let Some(&Part::Data { source: s, offset: o, len: l }) = parts.peek() {
                let close = o >= span_end && o - span_end <= MAX_GAP;
                if s != source || !close || o.saturating_add(l) - offset > READ_SPAN {
                    break;
                }
                slices.push(((o - offset) as usize, l as usize));
                span_end = o + l;
                parts.next();
            }
            buf.resize((span_end - offset) as usize, 0);
            read(source, offset, &mut buf)?;
            write_slices(w, &buf, &slices)?;
        }
        Ok(())
    }
}

/// Most bytes one coalesced read covers.
const READ_SPAN: u64 = 4 << 20;

/// Largest hole between two parts of one source that a coalesced read still spans (the store's record
/// header, or an audio frame between two video samples, is far smaller).
const MAX_GAP: u64 = 16 * 1024;

/// Most slices per vectored write (Linux's `IOV_MAX` is 1024).
const MAX_IOV: usize = 1024;

/// Copies one long part in [`COPY_CHUNK`] pieces.
fn copy_chunked(
    source: u32,
    offset: u64,
    len: u64,
    buf: &mut Vec<u8>,
    w: &mut dyn Write,
    read: &mut ReadSource<'_>,
) -> io::Result<()> {
    let mut done = 0u64;
    while done < len {
        let n = (len - done).min(COPY_CHUNK) as usize;
        buf.resize(n, 0);
        read(source, offset.saturating_add(done), &mut buf[..n])?;
        w.write_all(&buf[..n])?;
        done += n as u64;
    }
    Ok(())
}

/// Writes `buf[at..at + len]` for each `(at, len)` of `slices`, in order, with vectored writes.
fn write_slices(w: &mut dyn Write, buf: &[u8], slices: &[(usize, usize)]) -> io::Result<()> {
    let mut i = 0;
    let mut skip = 0;
    let mut io: Vec<IoSlice<'_>> = Vec::with_capacity(slices.len().min(MAX_IOV));
    while i < slices.len() {
        io.clear();
        for (k, &(at, len)) in slices[i..].iter().take(MAX_IOV).enumerate() {
            let from = if k == 0 { at + skip } else { at };
            io.push(IoSlice::new(&buf[from..at + len]));
        }
        let mut n = match w.write_vectored(&io) {
            Ok(0) if io.iter().any(|s| !s.is_empty()) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        while i < slices.len() {
            let rest = slices[i].1 - skip;
            if n < rest {
                skip += n;
                break;
            }
            n -= rest;
            i += 1;
            skip = 0;
        }
    }
    Ok(())
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
        assert_eq!(f.pieces.len(), 3);
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
    fn a_piece_is_small_and_long_parts_are_split() {
        assert_eq!(std::mem::size_of::<Piece>(), 24);
        let big = 3 * MAX_PIECE + 5;
        let f = Mp4File::from_parts([
            Part::Data { source: 0, offset: 0, len: big },
            Part::Data { source: 0, offset: big, len: 1 },
        ]);
        assert_eq!(f.len(), big + 1);
        assert_eq!(f.pieces.len(), 4);
        let all = f.parts_in(0..f.len());
        assert_eq!(all.iter().map(Part::len).sum::<u64>(), big + 1);
        assert_eq!(all[3], Part::Data { source: 0, offset: 3 * MAX_PIECE, len: 6 });
        let tail = f.parts_in(big - 2..big + 1);
        assert_eq!(tail, [Part::Data { source: 0, offset: big - 2, len: 3 }]);
    }

    /// Takes at most 7 bytes per call, so every vectored write is partial.
    struct Stingy(Vec<u8>);

    impl Write for Stingy {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            let n = b.len().min(7);
            self.0.extend_from_slice(&b[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn coalesced_reads_give_the_bytes_of_part_by_part_reads() {
        // Samples with record-header-sized holes, a hole too big to span, another source, a header.
        let mut parts = vec![Part::Bytes(Bytes::from_static(b"moov"))];
        let mut at = 100;
        for i in 0..50u64 {
            parts.push(Part::Data { source: 0, offset: at, len: 5 + i % 7 });
            at += 5 + i % 7 + if i == 20 { MAX_GAP + 1 } else { 20 };
        }
        parts.push(Part::Data { source: 1, offset: 3, len: 9 });
        parts.push(Part::Data { source: 0, offset: 10, len: 4 });
        let f = Mp4File::from_parts(parts.clone());
        let mut want = Vec::new();
        for p in f.parts_in(0..f.len()) {
            match p {
                Part::Bytes(b) => want.extend_from_slice(&b),
                Part::Data { source, offset, len } => {
                    let mut b = vec![0; len as usize];
                    read(source, offset, &mut b).unwrap();
                    want.extend_from_slice(&b);
                }
            }
        }
        let mut reads = 0;
        let mut counting = |s: u32, o: u64, b: &mut [u8]| {
            reads += 1;
            read(s, o, b)
        };
        let mut out = Stingy(Vec::new());
        f.write_to(&mut out, &mut counting).unwrap();
        assert_eq!(out.0, want);
        assert_eq!(reads, 4, "one read per run of close samples");
        for (a, b) in [(0, 4), (3, 40), (17, f.len() - 3), (f.len() - 20, f.len())] {
            let mut out = Stingy(Vec::new());
            f.write_range(a..b, &mut out, &mut read).unwrap();
            assert_eq!(out.0, want[a as usize..b as usize], "{a}..{b}");
            let shared: Vec<u8> = f.read_range(a..b, &mut read).unwrap().concat();
            assert_eq!(shared, want[a as usize..b as usize], "{a}..{b}, shared buffers");
        }
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
