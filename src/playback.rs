//! From the index to an MP4: picks the frames of a wall-clock range out of the segments and hands them to
//! our muxer. Used by `keepwatch export` and (later) the HTTP `video.mp4` route, so both produce the very
//! same bytes for the same range.
//!
//! Rules: the video starts at the key frame at or before `start` (the edit list trims to `start`), ends
//! after the last frame presented before `end` (frames it depends on in decode order are kept), crosses
//! segment boundaries and gaps (a gap stretches the frame before it, so the file's timeline is the wall
//! clock), and a change of parameters adds a sample description. Audio rides along when recorded.

use kw_media::{micros_to_ticks, ticks_to_micros, RunInfo, StreamKind, WallMicros, VIDEO_TIMESCALE};
use kw_mp4::{DataRef, MovieIn, Mp4File, SampleIn, TrackIn};
use kw_store::{ReadAt, Store};
use std::collections::HashMap;
use std::sync::Arc;

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

/// An MP4 ready to be read: the virtual file and the segment files its data lives in.
pub struct Playable {
    pub file: Mp4File,
    pub sources: Vec<Box<dyn ReadAt>>,
    /// What the file actually covers (may be narrower than asked, where nothing was recorded).
    pub start: WallMicros,
    pub end: WallMicros,
}

impl Playable {
    /// Reads bytes of a source for the muxer's writer.
    pub fn read(&self, source: u32, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        match self.sources.get(source as usize) {
            Some(s) => s.read_at(offset, buf),
            None => Err(std::io::Error::other("unknown source")),
        }
    }
}

struct Pick {
    wall: WallMicros,
    pts_out: i64,
    size: u32,
    key: bool,
    desc: u32,
    data: DataRef,
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
    let mut video: Vec<Pick> = Vec::new();
    let mut audio: Vec<Pick> = Vec::new();
    let mut sources: Vec<Box<dyn ReadAt>> = Vec::new();
    let mut covered_end = start;
    // Runs never overlap in time when the clocks behave; a run that starts (or, after a wall-clock step,
    // overlaps) within one frame interval of the run before it loses its frames up to its next key frame, so
    // decode times stay monotonic and at least a frame apart for players.
    let mut prev_run: Option<i64> = None;
    let mut video_floor = i64::MIN;
    let mut need_key = false;
    for seg in &segs {
        if prev_run.is_some_and(|r| r != seg.run_id) {
            // The next run must begin at least one frame interval after the last frame of this one.
            let n = video.len();
            let last_interval = if n >= 2 { video[n - 1].wall - video[n - 2].wall } else { 0 };
            video_floor = video.last().map(|p| p.wall + last_interval.max(0) - 1).unwrap_or(i64::MIN);
            need_key = true;
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
        sources.push(store.open_data(seg)?);
        covered_end = covered_end.max(seg.end.min(end));
        for fr in store.frames(seg)? {
            let data = DataRef { source, offset: fr.data_offset };
            match fr.stream {
                StreamKind::Video => {
                    let wall = run.wall_anchor + ticks_to_micros(fr.pts, VIDEO_TIMESCALE);
                    if need_key {
                        if wall <= video_floor || !fr.key {
                            continue;
                        }
                        need_key = false;
                    }
                    let pts_out = micros_to_ticks(wall - start, VIDEO_TIMESCALE);
                    video.push(Pick { wall, pts_out, size: fr.size, key: fr.key, desc: vdesc, data });
                }
                StreamKind::Audio => {
                    let (Some(desc), Some(a)) = (adesc, run.audio.as_ref()) else { continue };
                    let wall = run.wall_anchor + ticks_to_micros(fr.pts, a.timescale);
                    if wall < start || wall >= end {
                        continue;
                    }
                    let pts_out = micros_to_ticks(wall - start, a.timescale);
                    audio.push(Pick { wall, pts_out, size: fr.size, key: true, desc, data });
                }
            }
        }
    }
    // Start at the key frame at or before `start` (or the first key frame when the range starts earlier).
    let first = video.iter().rposition(|p| p.key && p.wall <= start).or_else(|| video.iter().position(|p| p.key));
    let Some(first) = first else {
        return Err(PlaybackError::NothingRecorded { camera: camera.to_owned() });
    };
    // End after the last frame presented before `end`, keeping what it depends on in decode order.
    let last = video.iter().rposition(|p| p.wall < end).unwrap_or(first).max(first);
    let video: Vec<Pick> = video.drain(first..=last).collect();
    let shown_start = video.iter().map(|p| p.wall).min().unwrap_or(start).max(start);
    let shown_end = covered_end.max(shown_start + 1);
    let to_track = |picks: &[Pick]| -> Vec<SampleIn> {
        picks
            .iter()
            .map(|p| SampleIn { pts: p.pts_out, size: p.size, key: p.key, desc: p.desc, data: p.data })
            .collect()
    };
    let mut tracks = vec![TrackIn {
        descs: vdescs.into_iter().map(|(_, p)| p).collect(),
        samples: to_track(&video),
        timescale: VIDEO_TIMESCALE,
    }];
    if !audio.is_empty() {
        let timescale = adescs.first().map(|(_, p)| p.timescale).unwrap_or(48_000);
        // One audio timescale per track: audio of other runs with another rate is left out.
        let same: Vec<Pick> = audio.into_iter().filter(|p| adescs[p.desc as usize].1.timescale == timescale).collect();
        tracks.push(TrackIn {
            descs: adescs.into_iter().map(|(_, p)| p).collect(),
            samples: to_track(&same),
            timescale,
        });
    }
    let movie = MovieIn {
        tracks,
        start: micros_to_ticks(shown_start - start, VIDEO_TIMESCALE),
        end: micros_to_ticks(shown_end - start, VIDEO_TIMESCALE),
        creation_time_unix: shown_start.div_euclid(1_000_000),
    };
    let file = kw_mp4::build(&movie)?;
    Ok(Playable { file, sources, start: shown_start, end: shown_end })
}

fn desc_index(descs: &mut Vec<(i64, kw_media::StreamParams)>, run_id: i64, p: &kw_media::StreamParams) -> u32 {
    if let Some(i) = descs.iter().position(|(_, q)| q == p) {
        return i as u32;
    }
    descs.push((run_id, p.clone()));
    (descs.len() - 1) as u32
}
