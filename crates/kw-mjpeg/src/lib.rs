//! Cutting JPEG pictures out of an MJPEG (`multipart/x-mixed-replace`) byte stream.
//!
//! Why not a by-the-book multipart parser: the cameras that only speak MJPEG are the ones whose firmware
//! gets multipart wrong. Seen in the field: a boundary declared as `--myboundary` and sent as
//! `----myboundary` (or the reverse), no boundary line at all between pictures, `Content-Length` missing,
//! off by a few bytes or simply the previous picture's, and stray CR/LF or text between parts. None of that
//! matters here, because a JPEG says itself where it ends: the parser looks for a start-of-image marker
//! (`FF D8 FF`), then walks the JPEG's own structure (marker segments by their lengths, entropy-coded data
//! up to the next real marker) to its end-of-image marker (`FF D9`). Walking the structure rather than
//! searching for `FF D9` keeps an EXIF thumbnail (a whole JPEG inside an APP1 segment) from ending the
//! picture early. Everything between pictures — boundaries, part headers, junk — is skipped unread.
//!
//! A picture cut short (the camera started the next one, or sent garbage) is reported as
//! [`Item::Broken`] and skipped; nothing here panics or grows without bound ([`MAX_PICTURE`]).
//!
//! Why a crate of its own: the bytes come from a camera on the network, so the parser is a fuzzing target,
//! and a fuzz target should not have to build the whole daemon. The entry point for fuzzing is
//! [`MjpegParser`]: [`MjpegParser::push`] any bytes, in any chunking, then [`MjpegParser::next_item`] until
//! `None` (with [`MjpegParser::with_max`] for a small cap); [`is_multipart`] and [`boundary_of`] read the
//! answer's `Content-Type`.
#![forbid(unsafe_code)]

use bytes::{Buf, Bytes, BytesMut};

/// The largest picture accepted; a "picture" that grows past this is dropped and the parser resyncs.
pub const MAX_PICTURE: usize = 16 << 20;

/// What the parser found.
#[derive(Debug, PartialEq, Eq)]
pub enum Item {
    /// One whole JPEG, from SOI to EOI inclusive.
    Jpeg(Bytes),
    /// A picture that could not be completed; the text says why.
    Broken(&'static str),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Looking for a start-of-image marker.
    Seek,
    /// Inside the header: marker segments with lengths.
    Segments,
    /// Inside entropy-coded data after SOS.
    Entropy,
}

/// Incremental MJPEG picture extractor: [`push`](Self::push) bytes as they arrive, then take pictures
/// with [`next_item`](Self::next_item) until it returns `None`.
#[derive(Debug)]
pub struct MjpegParser {
    /// Unconsumed bytes; while a picture is being walked it starts at `buf[0]`.
    buf: BytesMut,
    /// Next byte to examine.
    pos: usize,
    mode: Mode,
    max: usize,
    /// Bytes skipped between pictures (boundaries, headers, junk), for diagnostics.
    pub skipped: u64,
}

impl Default for MjpegParser {
    fn default() -> Self {
        MjpegParser::new()
    }
}

impl MjpegParser {
    pub fn new() -> Self {
        MjpegParser { buf: BytesMut::with_capacity(256 << 10), pos: 0, mode: Mode::Seek, max: MAX_PICTURE, skipped: 0 }
    }

    /// A parser that drops pictures larger than `max` bytes (at most [`MAX_PICTURE`]).
    pub fn with_max(max: usize) -> Self {
        let max = max.min(MAX_PICTURE);
        MjpegParser { max, ..MjpegParser::new() }
    }

    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// The next picture (or broken one) in what was pushed so far; `None` when more bytes are needed.
    pub fn next_item(&mut self) -> Option<Item> {
        loop {
            if self.mode != Mode::Seek && self.buf.len() > self.max {
                self.skipped += self.buf.len() as u64;
                self.buf.clear();
                self.pos = 0;
                self.mode = Mode::Seek;
                return Some(Item::Broken("a picture larger than the limit"));
            }
            match self.mode {
                Mode::Seek => {
                    if !self.seek() {
                        return None;
                    }
                }
                Mode::Segments => match self.segment() {
                    Step::More => return None,
                    Step::Continue => {}
                    Step::Done(item) => return Some(item),
                },
                Mode::Entropy => match self.entropy() {
                    Step::More => return None,
                    Step::Continue => {}
                    Step::Done(item) => return Some(item),
                },
            }
        }
    }

    /// Finds `FF D8 FF`; drops what comes before it. False when more bytes are needed.
    fn seek(&mut self) -> bool {
        let b = &self.buf[..];
        let mut i = 0;
        while i + 2 < b.len() {
            match b[i..b.len() - 2].iter().position(|&x| x == 0xFF) {
                None => break,
                Some(k) => i += k,
            }
            if b[i + 1] == 0xD8 && b[i + 2] == 0xFF {
                self.skipped += i as u64;
                self.buf.advance(i);
                self.pos = 2;
                self.mode = Mode::Segments;
                return true;
            }
            i += 1;
        }
        // Keep the last two bytes: a marker may straddle two pushes.
        let keep = self.buf.len().min(2);
        let drop = self.buf.len() - keep;
        self.skipped += drop as u64;
        self.buf.advance(drop);
        false
    }

    /// Abandons the picture at `buf[0]`; resumes the search for the next one at `at`.
    fn broken(&mut self, at: usize, why: &'static str) -> Step {
        let at = at.max(1).min(self.buf.len());
        self.skipped += at as u64;
        self.buf.advance(at);
        self.pos = 0;
        self.mode = Mode::Seek;
        Step::Done(Item::Broken(why))
    }

    fn finish(&mut self, end: usize) -> Step {
        let jpeg = self.buf.split_to(end).freeze();
        self.pos = 0;
        self.mode = Mode::Seek;
        Step::Done(Item::Jpeg(jpeg))
    }

    fn segment(&mut self) -> Step {
        let b = &self.buf[..];
        let mut p = self.pos;
        if p + 1 >= b.len() {
            return Step::More;
        }
        if b[p] != 0xFF {
            return self.broken(1, "no marker where the JPEG header needs one");
        }
        // Fill bytes before a marker.
        while p + 1 < b.len() && b[p + 1] == 0xFF {
            p += 1;
        }
        if p + 1 >= b.len() {
            self.pos = p;
            return Step::More;
        }
        let marker = b[p + 1];
        match marker {
            0xD8 => self.broken(p, "a new picture began inside a JPEG header"),
            0xD9 => self.finish(p + 2),
            0x01 | 0xD0..=0xD7 => {
                self.pos = p + 2;
                Step::Continue
            }
            0x00 => self.broken(1, "an invalid marker in a JPEG header"),
            _ => {
                if p + 3 >= b.len() {
                    self.pos = p;
                    return Step::More;
                }
                let len = usize::from(u16::from_be_bytes([b[p + 2], b[p + 3]]));
                if len < 2 {
                    return self.broken(1, "a JPEG segment with a bad length");
                }
                let end = p + 2 + len;
                if end > b.len() {
                    self.pos = p;
                    return Step::More;
                }
                self.pos = end;
                if marker == 0xDA {
                    self.mode = Mode::Entropy;
                }
                Step::Continue
            }
        }
    }

    fn entropy(&mut self) -> Step {
        let b = &self.buf[..];
        let mut p = self.pos;
        loop {
            match b.get(p..).and_then(|rest| rest.iter().position(|&x| x == 0xFF)) {
                None => {
                    self.pos = b.len();
                    return Step::More;
                }
                Some(k) => p += k,
            }
            let Some(&next) = b.get(p + 1) else {
                self.pos = p;
                return Step::More;
            };
            match next {
                0x00 | 0xD0..=0xD7 => p += 2, // stuffed byte, restart marker
                0xFF => p += 1,               // fill byte
                0xD9 => return self.finish(p + 2),
                0xD8 => return self.broken(p, "a picture cut short (the next one began)"),
                _ => {
                    // Another segment (DHT, a further SOS of a progressive JPEG, ...).
                    self.pos = p;
                    self.mode = Mode::Segments;
                    return Step::Continue;
                }
            }
        }
    }
}

enum Step {
    More,
    Continue,
    Done(Item),
}

/// Whether a response's `Content-Type` is a multipart stream (`multipart/x-mixed-replace` and the
/// `multipart/mixed` some cameras send instead).
pub fn is_multipart(content_type: &str) -> bool {
    content_type.trim_start().to_ascii_lowercase().starts_with("multipart/")
}

/// The declared boundary, without quotes and without a leading `--` (which some cameras include), for logs.
pub fn boundary_of(content_type: &str) -> Option<String> {
    let lower = content_type.to_ascii_lowercase();
    let at = lower.find("boundary=")? + "boundary=".len();
    let raw = content_type.get(at..)?;
    let raw = raw.split(';').next().unwrap_or_default().trim().trim_matches('"');
    let b = raw.trim_start_matches("--");
    (!b.is_empty()).then(|| b.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small real JPEG made with the `image` crate.
    fn jpeg(w: u32, h: u32, shade: u8) -> Vec<u8> {
        let img = image::GrayImage::from_fn(w, h, |x, y| image::Luma([shade.wrapping_add((x * 7 + y * 3) as u8)]));
        let rgb = image::DynamicImage::ImageLuma8(img).to_rgb8();
        let mut out = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 80).encode_image(&rgb).unwrap();
        out
    }

    fn all(p: &mut MjpegParser) -> Vec<Item> {
        std::iter::from_fn(|| p.next_item()).collect()
    }

    fn feed(data: &[u8], chunk: usize) -> Vec<Item> {
        let mut p = MjpegParser::new();
        let mut out = Vec::new();
        for c in data.chunks(chunk.max(1)) {
            p.push(c);
            out.extend(all(&mut p));
        }
        out
    }

    fn jpegs(items: &[Item]) -> Vec<&[u8]> {
        items
            .iter()
            .filter_map(|i| match i {
                Item::Jpeg(b) => Some(&b[..]),
                Item::Broken(_) => None,
            })
            .collect()
    }

    #[test]
    fn well_formed_stream_in_any_chunking() {
        let (a, b) = (jpeg(32, 24, 10), jpeg(16, 16, 200));
        let mut s = Vec::new();
        for j in [&a, &b, &a] {
            s.extend_from_slice(
                format!("--frame\r\nContent-Type: image/jpeg\r\nContent-Length: {}\r\n\r\n", j.len()).as_bytes(),
            );
            s.extend_from_slice(j);
            s.extend_from_slice(b"\r\n");
        }
        for chunk in [1, 2, 3, 7, 100, 4096, 1 << 20] {
            let items = feed(&s, chunk);
            assert_eq!(jpegs(&items), vec![&a[..], &b[..], &a[..]], "chunk {chunk}");
            assert_eq!(items.len(), 3, "chunk {chunk}");
        }
    }

    #[test]
    fn lying_headers_missing_boundaries_and_junk() {
        let (a, b) = (jpeg(40, 30, 50), jpeg(24, 24, 90));
        let mut s = Vec::new();
        // Wrong Content-Length, boundary without "--", no blank line discipline.
        s.extend_from_slice(b"myboundary\r\nContent-Type: image/jpeg\r\nContent-Length: 12\r\n\r\n");
        s.extend_from_slice(&a);
        // No boundary at all, stray bytes and CRLFs, then a picture straight away.
        s.extend_from_slice(b"\r\n\r\n\x00\x01garbage\xff\xfe\xff");
        s.extend_from_slice(&b);
        // Missing Content-Length, extra dashes.
        s.extend_from_slice(b"\r\n------myboundary\r\nContent-Type: image/jpeg\r\n\r\n");
        s.extend_from_slice(&a);
        s.extend_from_slice(b"\r\n--myboundary--\r\n");
        for chunk in [1, 5, 64, 1 << 20] {
            let items = feed(&s, chunk);
            assert_eq!(jpegs(&items), vec![&a[..], &b[..], &a[..]], "chunk {chunk}");
        }
    }

    #[test]
    fn truncated_picture_is_skipped_and_the_next_one_kept() {
        let (a, b) = (jpeg(64, 48, 0), jpeg(32, 32, 128));
        let mut s = Vec::new();
        s.extend_from_slice(b"--x\r\n\r\n");
        s.extend_from_slice(&a[..a.len() / 2]); // cut in the entropy-coded data
        s.extend_from_slice(b"\r\n--x\r\nContent-Type: image/jpeg\r\n\r\n");
        s.extend_from_slice(&b);
        s.extend_from_slice(b"--x\r\n\r\n");
        s.extend_from_slice(&a[..20]); // cut in the header
        s.extend_from_slice(b"\r\n--x\r\n\r\n");
        s.extend_from_slice(&b);
        let items = feed(&s, 13);
        assert_eq!(jpegs(&items), vec![&b[..], &b[..]]);
        assert!(items.iter().filter(|i| matches!(i, Item::Broken(_))).count() >= 1, "{items:?}");
    }

    #[test]
    fn exif_thumbnail_does_not_end_the_picture() {
        let thumb = jpeg(8, 8, 1);
        let main = jpeg(32, 32, 77);
        // SOI, APP1 holding "Exif\0\0" + the thumbnail, then the main picture's segments.
        let mut app1 = b"Exif\0\0".to_vec();
        app1.extend_from_slice(&thumb);
        let mut j = vec![0xFF, 0xD8, 0xFF, 0xE1];
        j.extend_from_slice(&u16::try_from(app1.len() + 2).unwrap().to_be_bytes());
        j.extend_from_slice(&app1);
        j.extend_from_slice(&main[2..]);
        let items = feed(&[&j[..], &j[..]].concat(), 9);
        assert_eq!(jpegs(&items), vec![&j[..], &j[..]]);
    }

    #[test]
    fn garbage_never_panics_and_memory_stays_bounded() {
        let mut p = MjpegParser::with_max(4096);
        let mut x: u32 = 12345;
        let mut chunk = Vec::new();
        for round in 0..2000 {
            chunk.clear();
            for _ in 0..(round % 97 + 1) {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                // Bias towards 0xFF and marker bytes so the walker sees many states.
                let v = (x >> 16) as u8;
                chunk.push(match v % 5 {
                    0 => 0xFF,
                    1 => [0xD8, 0xD9, 0xDA, 0x00, 0xC4][(v / 5 % 5) as usize],
                    _ => v,
                });
            }
            p.push(&chunk);
            let _ = all(&mut p);
            assert!(p.buf.len() <= 4096 + 200, "buffer grew to {}", p.buf.len());
        }
        // A header that never ends: dropped at the limit.
        let mut p = MjpegParser::with_max(1000);
        p.push(&[0xFF, 0xD8, 0xFF, 0xE0, 0xFF, 0xFF]);
        p.push(&[0u8; 2000]);
        assert!(matches!(p.next_item(), Some(Item::Broken(_)) | None));
        assert!(p.buf.len() <= 2100);
    }

    #[test]
    fn content_types() {
        assert!(is_multipart("multipart/x-mixed-replace; boundary=--myboundary"));
        assert!(is_multipart("Multipart/Mixed;boundary=x"));
        assert!(!is_multipart("image/jpeg"));
        assert_eq!(boundary_of("multipart/x-mixed-replace; boundary=--myboundary").as_deref(), Some("myboundary"));
        assert_eq!(boundary_of("multipart/x-mixed-replace;boundary=\"frame\"; x=y").as_deref(), Some("frame"));
        assert_eq!(boundary_of("multipart/x-mixed-replace"), None);
    }
}
