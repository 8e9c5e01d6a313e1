//! Chunk layout and sample tables of a progressive file.
//!
//! Why chunks of about a second, interleaved in time order: a player reading the file front to back (or
//! a browser fetching ranges) then finds audio and video of the same moment close together, instead of
//! seeking between two long runs. A chunk also never mixes sample descriptions, because `stsc` assigns
//! one description per chunk.

use crate::bx::W;
use crate::progressive::Prepared;
use std::cmp::Ordering;

/// A run of consecutive samples of one track, stored contiguously in `mdat`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Chunk {
    /// Index into the prepared tracks.
    pub track: usize,
    /// First sample (decode order) and sample count.
    pub first: usize,
    pub count: usize,
    /// Decode time of the first sample, in the track's timescale.
    pub dts: i64,
    pub desc: u32,
    /// Byte offset within the `mdat` payload, and byte length.
    pub rel_offset: u64,
    pub bytes: u64,
}

/// Splits every track into chunks and orders them by time. Returns the file order and each track's
/// chunks in its own order.
pub(crate) fn layout(tracks: &[Prepared<'_>]) -> (Vec<Chunk>, Vec<Vec<Chunk>>) {
    let mut all = Vec::new();
    for (ti, t) in tracks.iter().enumerate() {
        let span = i128::from(t.timescale);
        let mut dts = i128::from(t.timing.first_dts);
        let mut open: Option<Chunk> = None;
        for (i, (s, &dur)) in t.input.samples.iter().zip(&t.timing.durations).enumerate() {
            let split = match &open {
                Some(c) => c.desc != s.desc || dts - i128::from(c.dts) >= span,
                None => true,
            };
            if split {
                all.extend(open.take());
                let at = i64::try_from(dts).unwrap_or(i64::MAX);
                open = Some(Chunk { track: ti, first: i, count: 0, dts: at, desc: s.desc, rel_offset: 0, bytes: 0 });
            }
            if let Some(c) = open.as_mut() {
                c.count += 1;
                c.bytes += u64::from(s.size);
            }
            dts += i128::from(dur);
        }
        all.extend(open);
    }
    // Stable: chunks of one track keep their order, ties go to the earlier track.
    all.sort_by(|a, b| earlier(a, b, tracks));
    let mut rel = 0u64;
    let mut per_track = vec![Vec::new(); tracks.len()];
    for c in &mut all {
        c.rel_offset = rel;
        rel += c.bytes;
        per_track[c.track].push(c.clone());
    }
    (all, per_track)
}

fn earlier(a: &Chunk, b: &Chunk, tracks: &[Prepared<'_>]) -> Ordering {
    let ta = i128::from(tracks[a.track].timescale);
    let tb = i128::from(tracks[b.track].timescale);
    (i128::from(a.dts) * tb).cmp(&(i128::from(b.dts) * ta)).then(a.track.cmp(&b.track))
}

/// Writes `stts`, `ctts`, `stss`, `stsz`, `stsc` and `stco`/`co64` of one track; chunk offsets are
/// `base` plus each chunk's offset within the `mdat` payload.
pub(crate) fn tables(w: &mut W, t: &Prepared<'_>, chunks: &[Chunk], base: u64, co64: bool) {
    let samples = &t.input.samples;

    let stts = runs(t.timing.durations.iter().copied());
    let b = w.begin_full(b"stts", 0, 0);
    w.u32(stts.len() as u32);
    for (n, d) in stts {
        w.u32(n);
        w.u32(d);
    }
    w.end(b);

    if t.timing.offsets.iter().any(|&o| o != 0) {
        let ctts = runs(t.timing.offsets.iter().copied());
        let b = w.begin_full(b"ctts", 0, 0);
        w.u32(ctts.len() as u32);
        for (n, o) in ctts {
            w.u32(n);
            w.u32(o);
        }
        w.end(b);
    }

    if samples.iter().any(|s| !s.key) {
        let b = w.begin_full(b"stss", 0, 0);
        let count = w.pos();
        w.u32(0);
        let mut n = 0u32;
        for (i, s) in samples.iter().enumerate() {
            if s.key {
                w.u32(i as u32 + 1);
                n += 1;
            }
        }
        w.patch_u32(count, n);
        w.end(b);
    }

    let b = w.begin_full(b"stsz", 0, 0);
    w.u32(0); // sizes follow
    w.u32(samples.len() as u32);
    for s in samples {
        w.u32(s.size);
    }
    w.end(b);

    let b = w.begin_full(b"stsc", 0, 0);
    let count = w.pos();
    w.u32(0);
    let mut n = 0u32;
    let mut last: Option<(usize, u32)> = None;
    for (i, c) in chunks.iter().enumerate() {
        if last != Some((c.count, c.desc)) {
            w.u32(i as u32 + 1);
            w.u32(c.count as u32);
            w.u32(c.desc + 1);
            n += 1;
            last = Some((c.count, c.desc));
        }
    }
    w.patch_u32(count, n);
    w.end(b);

    let b = w.begin_full(if co64 { b"co64" } else { b"stco" }, 0, 0);
    w.u32(chunks.len() as u32);
    for c in chunks {
        let at = base.saturating_add(c.rel_offset);
        if co64 {
            w.u64(at);
        } else {
            w.u32(at as u32);
        }
    }
    w.end(b);
}

/// Run-length encoding: (count, value).
fn runs(values: impl Iterator<Item = u32>) -> Vec<(u32, u32)> {
    let mut out: Vec<(u32, u32)> = Vec::new();
    for v in values {
        match out.last_mut() {
            Some((n, last)) if *last == v && *n < u32::MAX => *n += 1,
            _ => out.push((1, v)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_length() {
        assert_eq!(runs([5, 5, 6, 5].into_iter()), [(2, 5), (1, 6), (1, 5)]);
        assert!(runs(std::iter::empty()).is_empty());
    }
}
