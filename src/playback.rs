//! From the index to an MP4: picks the frames of a wall-clock range out of the segments and hands them to
//! our muxer. Used by `keepwatch export` and the HTTP `video.mp4` route, so both produce the very same
//! bytes for the same range.
//!
//! Rules: the video starts at the key frame at or before `start` (the edit list trims to `start`), ends
//! after the last frame presented before `end` (frames it depends on in decode order are kept), crosses
//! segment boundaries and gaps (a gap stretches the frame before it, so the file's timeline is the wall
//! clock), and a change of parameters adds a sample description. Audio rides along when recorded.
//!
//! Segment files are opened lazily: building touches only the index, and [`Playable::read`] opens a
//! segment's file when its bytes are first needed, keeping at most [`OPEN_READERS`] open per playable
//! (the least recently used is closed first). Why: a long range covers thousands of segments, and
//! opening them all up front cost one file descriptor each for as long as the response lasted, enough to
//! leave the recorder without descriptors. A file deleted by retention while a response streams fails
//! that response when its bytes are reached, as any read error does.

use kw_media::{micros_to_ticks, ticks_to_micros, RunInfo, StreamKind, WallMicros, VIDEO_TIMESCALE};
use kw_mp4::{DataRef, MovieIn, Mp4File, SampleIn, TrackIn};
use kw_store::{ReadAt, SegmentRow, Store};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Most segment files one [`Playable`] keeps open at once. Reads go forward through the file, and at a
/// segment boundary a chunk of the next segment may sit between two of the previous one's (audio and
/// video interleave), so a handful is plenty.
pub const OPEN_READERS: usize = 4;

/// Most samples whose room is reserved up front from the index's frame counts (about three days at 30 fps),
/// so a wrong count in the index cannot make one allocation huge.
const MAX_PREALLOCATED: usize = 8 << 20;

#[derive(Debug, thiserror::Error)]
pub enum PlaybackError {
    #[error("nothing recorded for camera {camera:?} in that range")]
    NothingRecorded { camera: String },
    #[error("the range is empty: start must be before end")]
    EmptyRange,
    #[error(transparent)]
    Store(#[from] kw_store::StoreError),
    #[error("cannot build the MP4: {0}")]
    Mux(#[from] kw_mp4::Mp4Error),
}

/// An MP4 ready to be read: the virtual file and the segments its data lives in (source `i` of the file
/// is `segments[i]`), opened on demand.
pub struct Playable {
    pub file: Mp4File,
    store: Store,
    segments: Vec<SegmentRow>,
    /// The open segment files, least recently used first; at most [`OPEN_READERS`].
    open: Mutex<Vec<(u32, Box<dyn ReadAt>)>>,
    /// What the file actually covers (may be narrower than asked, where nothing was recorded).
    pub start: WallMicros,
    pub end: WallMicros,
}

impl Playable {
    /// Writes the whole MP4 to `w` (what `keepwatch export` and off-site copies write), calling
    /// `progress` with the bytes written so far.
    pub fn write_to(&self, w: &mut dyn std::io::Write, mut progress: impl FnMut(u64)) -> std::io::Result<u64> {
        let total = self.file.len();
        let mut buf = vec![0u8; 1 << 20];
        let mut done = 0u64;
        for part in self.file.parts_in(0..total) {
            match part {
                kw_mp4::Part::Bytes(b) => {
                    w.write_all(&b)?;
                    done += b.len() as u64;
                }
                kw_mp4::Part::Data { source, offset, len } => {
                    let mut at = 0u64;
                    while at < len {
                        let n = (len - at).min(buf.len() as u64) as usize;
                        self.read(source, offset + at, &mut buf[..n])?;
                        w.write_all(&buf[..n])?;
                        at += n as u64;
                    }
                    done += len;
                }
            }
            progress(done);
        }
        Ok(done)
    }

    /// Reads bytes of a source for the muxer's writer, opening its segment file if it is not open yet.
    pub fn read(&self, source: u32, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        match open.iter().position(|(s, _)| *s == source) {
            Some(i) => {
                let used = open.remove(i);
                open.push(used);
            }
            None => {
                let seg = self.segments.get(source as usize).ok_or_else(|| std::io::Error::other("unknown source"))?;
                let reader = self.store.open_data(seg).map_err(std::io::Error::other)?;
                if open.len() >= OPEN_READERS {
                    open.remove(0);
                }
                open.push((source, reader));
            }
        }
        match open.last() {
            Some((_, reader)) => reader.read_at(offset, buf),
            None => Err(std::io::Error::other("no open segment")),
        }
    }

    /// How many segment files are open right now (at most [`OPEN_READERS`]).
    #[cfg(test)]
    pub fn open_files(&self) -> usize {
        self.open.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

/// Builds the MP4 of `[start, end)` for a camera. The result depends only on the range and the index
/// (the file's creation time is the recording's start), so HTTP and `export` give the same bytes and an
/// ETag stays valid.
pub fn build(store: &Store, camera: &str, start: WallMicros, end: WallMicros) -> Result<Playable, PlaybackError> {
    if end <= start {
        return Err(PlaybackError::EmptyRange);
    }
    let segs = store.segments(camera, start, end)?;
    if segs.is_empty() {
        return Err(PlaybackError::NothingRecorded { camera: camera.to_owned() });
    }
    let mut runs: HashMap<i64, Arc<RunInfo>> = HashMap::new();
    let mut vdescs: Vec<(i64, kw_media::StreamParams)> = Vec::new();
    let mut adescs: Vec<(i64, kw_media::StreamParams)> = Vec::new();
    // The samples as the muxer takes them, plus each video sample's wall time (for choosing the first and
    // last): sized once from the index, no copies, since a day of video is millions of samples.
    let frames_hint = segs.iter().map(|s| s.video_frames as usize).sum::<usize>().min(MAX_PREALLOCATED);
    let mut video: Vec<SampleIn> = Vec::with_capacity(frames_hint);
    let mut video_wall: Vec<WallMicros> = Vec::with_capacity(frames_hint);
    let mut audio: Vec<SampleIn> = Vec::new();
    let mut sources: Vec<SegmentRow> = Vec::with_capacity(segs.len());
    let mut covered_end = start;
    // Runs never overlap in time when the clocks behave, but a camera that ends its stream and is called
    // again at once (BYE, then a new session within a frame interval) can start its new run a few tens of
    // milliseconds before the old one's last frame ends: the first frame of a session arrives later than
    // the frames after it, and the run's wall anchor is that arrival. Such a run is moved later by the
    // overlap (at most two frame intervals), so decode times stay monotonic and no frame is lost. A larger
    // overlap (a wall-clock step) drops the new run's frames up to its next key frame after the old run.
    let mut prev_run: Option<i64> = None;
    let mut video_floor = i64::MIN;
    let mut need_key = false;
    let mut shift: i64 = 0;
    for seg in segs {
        if prev_run.is_some_and(|r| r != seg.run_id) {
            let n = video_wall.len();
            let last_interval = if n >= 2 { (video_wall[n - 1] - video_wall[n - 2]).max(0) } else { 0 };
            // The latest presentation among the last frames (B-frames present out of decode order).
            let latest = video_wall[n.saturating_sub(8)..].iter().copied().max();
            shift = 0;
            if let Some(latest) = latest {
                let overlap = latest + last_interval - seg.start;
                if overlap > 0 && overlap <= 2 * last_interval {
                    shift = overlap;
                } else if overlap > 0 {
                    video_floor = latest + last_interval - 1;
                    need_key = true;
                }
            }
        }
        prev_run = Some(seg.run_id);
        let run = match runs.get(&seg.run_id) {
            Some(r) => r.clone(),
            None => {
                let r = Arc::new(store.run_info(seg.run_id)?);
                runs.insert(seg.run_id, r.clone());
                r
            }
        };
        let vdesc = desc_index(&mut vdescs, seg.run_id, &run.video);
        let adesc = run.audio.as_ref().map(|a| desc_index(&mut adescs, seg.run_id, a));
        let source = sources.len() as u32;
        covered_end = covered_end.max((seg.end + shift).min(end));
        for fr in store.frames(&seg)? {
            let data = DataRef { source, offset: fr.data_offset };
            match fr.stream {
                StreamKind::Video => {
                    let wall = run.wall_anchor + ticks_to_micros(fr.pts, VIDEO_TIMESCALE) + shift;
                    if need_key {
                        if wall <= video_floor || !fr.key {
                            continue;
                        }
                        need_key = false;
                    }
                    let pts = micros_to_ticks(wall - start, VIDEO_TIMESCALE);
                    video.push(SampleIn { pts, size: fr.size, key: fr.key, desc: vdesc, data });
                    video_wall.push(wall);
                }
                StreamKind::Audio => {
                    let (Some(desc), Some(a)) = (adesc, run.audio.as_ref()) else { continue };
                    let wall = run.wall_anchor + ticks_to_micros(fr.pts, a.timescale) + shift;
                    if wall < start || wall >= end {
                        continue;
                    }
                    let pts = micros_to_ticks(wall - start, a.timescale);
                    audio.push(SampleIn { pts, size: fr.size, key: true, desc, data });
                }
            }
        }
        sources.push(seg);
    }
    // Start at the key frame at or before `start` (or the first key frame when the range starts earlier).
    let key_at = |i: usize| video[i].key;
    let first = (0..video.len())
        .rev()
        .find(|&i| key_at(i) && video_wall[i] <= start)
        .or_else(|| (0..video.len()).find(|&i| key_at(i)));
    let Some(first) = first else {
        return Err(PlaybackError::NothingRecorded { camera: camera.to_owned() });
    };
    // End after the last frame presented before `end`, keeping what it depends on in decode order.
    let last = video_wall.iter().rposition(|&w| w < end).unwrap_or(first).max(first);
    video.truncate(last + 1);
    video.drain(..first);
    let shown_start = video_wall[first..=last].iter().copied().min().unwrap_or(start).max(start);
    drop(video_wall);
    let shown_end = covered_end.max(shown_start + 1);
    let mut tracks = vec![TrackIn {
        descs: vdescs.into_iter().map(|(_, p)| p).collect(),
        samples: video,
        timescale: VIDEO_TIMESCALE,
    }];
    if !audio.is_empty() {
        let timescale = adescs.first().map(|(_, p)| p.timescale).unwrap_or(48_000);
        // One audio timescale per track: audio of other runs with another rate is left out.
        audio.retain(|s| adescs.get(s.desc as usize).is_some_and(|(_, p)| p.timescale == timescale));
        tracks.push(TrackIn { descs: adescs.into_iter().map(|(_, p)| p).collect(), samples: audio, timescale });
    }
    let movie = MovieIn {
        tracks,
        start: micros_to_ticks(shown_start - start, VIDEO_TIMESCALE),
        end: micros_to_ticks(shown_end - start, VIDEO_TIMESCALE),
        creation_time_unix: shown_start.div_euclid(1_000_000),
    };
    let file = kw_mp4::build(&movie)?;
    Ok(Playable {
        file,
        store: store.clone(),
        segments: sources,
        open: Mutex::new(Vec::new()),
        start: shown_start,
        end: shown_end,
    })
}

fn desc_index(descs: &mut Vec<(i64, kw_media::StreamParams)>, run_id: i64, p: &kw_media::StreamParams) -> u32 {
    if let Some(i) = descs.iter().position(|(_, q)| q == p) {
        return i as u32;
    }
    descs.push((run_id, p.clone()));
    (descs.len() - 1) as u32
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use bytes::Bytes;
    use kw_media::{Codec, Frame, StreamParams};
    use kw_store::Create;
    use std::path::Path;

    /// 2024-01-01T00:00:00Z.
    pub(crate) const T0: WallMicros = 1_704_067_200_000_000;
    /// 10 fps.
    const TICKS: i64 = VIDEO_TIMESCALE as i64 / 10;

    fn run() -> RunInfo {
        RunInfo {
            video: StreamParams {
                codec: Codec::H264,
                timescale: VIDEO_TIMESCALE,
                width: 160,
                height: 96,
                sample_rate: 0,
                channels: 0,
                extra: vec![1, 0x64, 0, 0x1f, 0xff, 0xe1, 0],
                rfc6381: "avc1.64001f".into(),
            },
            audio: None,
            wall_anchor: T0,
        }
    }

    /// Descriptors of this process open on files under `dir`.
    fn open_under(dir: &Path) -> usize {
        let dir = std::fs::canonicalize(dir).unwrap();
        std::fs::read_dir("/proc/self/fd")
            .unwrap()
            .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
            .filter(|target| target.starts_with(&dir))
            .count()
    }

    /// A store with `n` one-second segments of one camera, two frames each; returns the frames' bytes in
    /// order.
    pub(crate) fn store_with_segments(dir: &Path, n: u32) -> (Store, Vec<u8>) {
        let store = Store::open(dir, Create::IfMissing, None).unwrap();
        let info = run();
        let run_id = store.begin_run("cam", &info).unwrap();
        let mut all = Vec::new();
        for seq in 0..n {
            let mut w = store.create_segment("cam", run_id, seq, &info).unwrap();
            for i in 0..2i64 {
                let data: Vec<u8> = [0, 0, 0, 3, 0x65, seq as u8, i as u8].to_vec();
                all.extend_from_slice(&data);
                let pts = (i64::from(seq) * 10 + i * 5) * TICKS;
                let f =
                    Frame { stream: StreamKind::Video, pts, key: true, loss_before: false, data: Bytes::from(data) };
                w.append(&f).unwrap();
            }
            w.finish(Some((i64::from(seq) + 1) * 10 * TICKS)).unwrap();
        }
        (store, all)
    }

    /// Ten 10 fps frames of a new run anchored at `anchor` (key frames at 0 and 5), tagged with `tag`.
    fn run_of_ten(store: &Store, anchor: WallMicros, tag: u8) {
        let info = RunInfo { wall_anchor: anchor, ..run() };
        let run_id = store.begin_run("cam", &info).unwrap();
        let mut w = store.create_segment("cam", run_id, 0, &info).unwrap();
        for i in 0..10i64 {
            let data = Bytes::from(vec![0, 0, 0, 3, 0x65, tag, i as u8]);
            let f = Frame { stream: StreamKind::Video, pts: i * TICKS, key: i % 5 == 0, loss_before: false, data };
            w.append(&f).unwrap();
        }
        w.finish(Some(10 * TICKS)).unwrap();
    }

    fn frames_in(p: &Playable, tag: u8) -> usize {
        let mut out = Vec::new();
        p.write_to(&mut out, |_| {}).unwrap();
        (0..10u8).filter(|i| out.windows(3).any(|w| w == [0x65, tag, *i])).count()
    }

    #[test]
    fn a_session_that_starts_just_before_the_last_one_ends_is_moved_later_not_cut() {
        // BYE, then the next session at once: its anchor (its first frame's arrival) lies 30 ms inside the
        // last frame of the session before.
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), Create::IfMissing, None).unwrap();
        run_of_ten(&store, T0, 1);
        run_of_ten(&store, T0 + 970_000, 2);
        let p = build(&store, "cam", T0, T0 + 3_000_000).unwrap();
        assert_eq!((frames_in(&p, 1), frames_in(&p, 2)), (10, 10), "every frame of both sessions");
        assert_eq!(p.end, T0 + 2_000_000, "the second session moved 30 ms later");
        // A wall-clock step back by half a second is no such thing: the new run starts at its key frame
        // after the old run's end.
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), Create::IfMissing, None).unwrap();
        run_of_ten(&store, T0, 1);
        run_of_ten(&store, T0 + 500_000, 2);
        let p = build(&store, "cam", T0, T0 + 3_000_000).unwrap();
        assert_eq!((frames_in(&p, 1), frames_in(&p, 2)), (10, 5));
    }

    #[test]
    fn segment_files_are_opened_as_their_bytes_are_read_a_few_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let segments = 150;
        let (store, frames) = store_with_segments(&dir.path().join("store"), segments);
        let seg_dir = dir.path().join("store").join(kw_store::SEGMENTS_DIR);
        assert_eq!(open_under(&seg_dir), 0);

        let p = build(&store, "cam", T0, T0 + i64::from(segments) * 1_000_000).unwrap();
        // Built over every segment, and not one segment file is open before the body is read.
        assert_eq!(p.segments.len(), segments as usize);
        assert_eq!(open_under(&seg_dir), 0, "segment files open before the first byte");

        let mut out = Vec::new();
        let mut most = 0;
        let mut read = |source: u32, offset: u64, buf: &mut [u8]| {
            let r = p.read(source, offset, buf);
            most = most.max(open_under(&seg_dir));
            r
        };
        p.file.write_to(&mut out, &mut read).unwrap();
        assert!(out.ends_with(&frames), "the samples are the recorded frames, in order");
        assert!((1..=OPEN_READERS).contains(&most), "at most {OPEN_READERS} segment files open at once, saw {most}");
        assert!(p.open_files() <= OPEN_READERS);
        drop(p);
        assert_eq!(open_under(&seg_dir), 0, "dropping the playable closes its files");
    }

    #[test]
    fn a_segment_deleted_after_building_fails_the_read_not_the_process() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = store_with_segments(&dir.path().join("store"), 3);
        let p = build(&store, "cam", T0, T0 + 3_000_000).unwrap();
        let victim = store.segment_location(&p.segments[2].key());
        std::fs::remove_file(&victim).unwrap();
        let mut out = Vec::new();
        let mut read = |source: u32, offset: u64, buf: &mut [u8]| p.read(source, offset, buf);
        let e = p.file.write_to(&mut out, &mut read).unwrap_err();
        assert!(e.to_string().contains(&victim.display().to_string()), "{e}");
        let mut buf = [0u8; 1];
        assert!(p.read(99, 0, &mut buf).is_err(), "an unknown source is an error");
    }
}
