//! One live subscriber's hub events → fMP4 init segments and media fragments (one `moof`+`mdat` per video
//! frame, with the audio that arrived since the previous video frame).
//!
//! Timing. MP4 fragments need decode times and durations; the camera gives presentation times only, and a
//! live subscriber sees breaks the camera never made: it joins mid-stream, it is skipped ahead to the next
//! key frame when it falls behind ([`MediaEvent::Gap`]), the camera reconnects with a new run whose clock
//! starts at 0. A player (MSE, HLS) wants one timeline that never goes back and has no holes, so:
//! - The output decode timeline is continuous: each sample's decode time is the previous one's plus its
//!   duration. Video starts at 0; after a run change or a skip it simply continues (the output time is
//!   the input pts plus an offset chosen at that key frame), so a skipped viewer plays on at once instead of
//!   waiting out a hole.
//! - A sample's duration has to be chosen when it is sent, before the next frame is known (holding a frame
//!   back would add a frame interval of latency). It is the recent frame interval, corrected by how far the
//!   decode timeline has drifted from the camera's timestamps, so presentation times stay within a frame
//!   of the camera's and jitter never accumulates. A disagreement of more than a second (the camera's
//!   clock jumped) re-synchronises the offset instead.
//! - B-frames: the reorder depth is learnt as frames arrive and the decode timeline is slowed until every
//!   frame's composition offset is non-negative again; until then offsets may be negative, which `trun`
//!   version 1 allows.
//! - Audio is placed on the same offset as video (same run clock, its own timescale), continuous while it
//!   stays within half a second of where it belongs; audio from before the first video key frame is
//!   dropped, as are audio codecs browsers cannot play from MP4 (G.711): only AAC goes out.

use crate::hub::MediaEvent;
use bytes::Bytes;
use kw_media::{Codec, Frame, RunInfo, StreamKind, StreamParams, WallMicros, VIDEO_TIMESCALE};
use kw_mp4::{FragSample, FragTrack};
use serde::Serialize;
use std::collections::VecDeque;
use std::sync::Arc;

const VIDEO_TRACK: u32 = 1;
const AUDIO_TRACK: u32 = 2;
/// Audio frames held back at most, waiting for a video frame to share a fragment with.
const MAX_PENDING_AUDIO: usize = 8;
/// Recent timestamps used to estimate the frame interval.
const RECENT: usize = 16;

/// What a player needs to know before the init segment (e.g. to build an MSE `SourceBuffer`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct StreamInfo {
    /// RFC 6381 codec of the video, e.g. `avc1.64001f` or `hvc1.1.6.L93.B0`
    pub codec: String,
    /// RFC 6381 codec of the audio track (`mp4a.40.2`), or null when the stream has none (or one that is
    /// not AAC, which is left out)
    pub audio: Option<String>,
    pub width: u16,
    pub height: u16,
    /// The MIME type for `MediaSource.isTypeSupported` / `addSourceBuffer`:
    /// `video/mp4; codecs="avc1.64001f,mp4a.40.2"`
    pub mime: String,
}

/// The init segment of one run.
#[derive(Debug)]
pub struct InitSegment {
    pub info: StreamInfo,
    /// `ftyp` + `moov` (video track 1, audio track 2 when present).
    pub bytes: Bytes,
}

/// One `moof`+`mdat`.
#[derive(Clone, Debug)]
pub struct MediaFragment {
    pub bytes: Bytes,
    /// Starts with a video key frame (a player can start here; HLS cuts segments here).
    pub key: bool,
    /// Decode time of its video sample on the output timeline (90 kHz); None for audio only. Read by the
    /// tests that check the timeline is continuous.
    #[cfg_attr(not(test), allow(dead_code))]
    pub video_dts: Option<u64>,
    /// Video decode time it covers (90 kHz); 0 for audio only.
    pub video_ticks: u64,
    /// Wall-clock time of its video frame (the run's anchor + pts), for latency figures.
    pub wall: Option<WallMicros>,
}

#[derive(Clone, Debug)]
pub enum Output {
    /// A new run: every fragment that follows needs this init segment.
    Init(Arc<InitSegment>),
    Media(MediaFragment),
    /// The camera connection ended; a new `Init` follows when it is back.
    Stopped,
}

/// Where one sample lands on the output timeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Placed {
    dts: u64,
    duration: u32,
    cts: i32,
}

/// One track's mapping from input presentation times to the continuous output decode timeline.
#[derive(Debug)]
struct TrackClock {
    timescale: i64,
    /// Output decode time of the next sample.
    next: Option<i64>,
    /// Output presentation time = input pts + offset.
    offset: i64,
    /// Recent input pts in decode order.
    recent: VecDeque<i64>,
    max_pts: Option<i64>,
    /// Reorder depth seen in this run (B-frames), in ticks.
    shift: i64,
    default_interval: i64,
}

impl TrackClock {
    fn new(timescale: u32, default_interval: i64) -> TrackClock {
        TrackClock {
            timescale: i64::from(timescale.max(1)),
            next: None,
            offset: 0,
            recent: VecDeque::with_capacity(RECENT),
            max_pts: None,
            shift: 0,
            default_interval: default_interval.max(1),
        }
    }

    /// Forgets what was learnt from the input (a new run, a skip, a jump) but the frame interval; the
    /// output timeline continues.
    fn reset_input(&mut self) {
        self.default_interval = self.interval();
        self.recent.clear();
        self.max_pts = None;
        self.shift = 0;
    }

    fn interval(&self) -> i64 {
        let (Some(min), Some(max)) = (self.recent.iter().min(), self.recent.iter().max()) else {
            return self.default_interval;
        };
        if self.recent.len() < 2 || max <= min {
            return self.default_interval;
        }
        ((max - min) / (self.recent.len() as i64 - 1)).max(1)
    }

    /// Notes a timestamp for the interval estimate and, for video, the reorder depth. With reordering the
    /// estimate uses the newest presentation time so far, which advances one interval per frame on average.
    fn observe(&mut self, pts: i64, reorders: bool) {
        let mut v = pts;
        if reorders {
            if let Some(m) = self.max_pts {
                self.shift = self.shift.max(m.saturating_sub(pts)).min(self.timescale);
            }
            let m = self.max_pts.map_or(pts, |m| m.max(pts));
            self.max_pts = Some(m);
            v = m;
        }
        if self.recent.len() == RECENT {
            self.recent.pop_front();
        }
        self.recent.push_back(v);
    }

    /// Makes the next sample's decode time correspond to input pts `pts` (video, at a key frame).
    fn align(&mut self, pts: i64) {
        self.offset = self.next.unwrap_or(0).saturating_sub(pts);
    }

    /// Where the decode timeline should be for a sample with input pts `pts`. Without reordering that
    /// is the sample's own presentation time (so composition offsets are 0). With B-frames it is one frame
    /// interval more than the reorder depth behind the newest presentation time, which keeps every
    /// composition offset non-negative.
    fn reference(&self, pts: i64) -> i64 {
        if self.shift == 0 {
            pts.saturating_add(self.offset)
        } else {
            let newest = self.max_pts.unwrap_or(pts);
            newest.saturating_sub(self.shift).saturating_sub(self.interval()).saturating_add(self.offset)
        }
    }

    /// Gives a sample at decode time `dts` its duration, steering the decode timeline towards its
    /// reference: all at once without reordering, a quarter at a time with B-frames (whose reference jumps
    /// about from frame to frame).
    fn finish(&mut self, dts: i64, pts: i64) -> Placed {
        let err = dts.saturating_sub(self.reference(pts));
        let err = if self.shift == 0 { err } else { err / 4 };
        let iv = self.interval();
        let duration = iv.saturating_sub(err).clamp((iv / 4).max(1), i64::from(u32::MAX));
        self.next = Some(dts.saturating_add(duration));
        let cts = pts.saturating_add(self.offset).saturating_sub(dts);
        Placed {
            dts: u64::try_from(dts).unwrap_or(0),
            duration: u32::try_from(duration).unwrap_or(u32::MAX),
            cts: i32::try_from(cts.clamp(i64::from(i32::MIN), i64::from(i32::MAX))).unwrap_or(0),
        }
    }

    /// Places a video frame (decode order). Returns whether the offset was re-synchronised.
    fn place_video(&mut self, pts: i64) -> (Placed, bool) {
        let mut resync = false;
        if let Some(next) = self.next {
            let off = next.saturating_sub(pts.saturating_add(self.offset));
            if off.abs() > self.timescale.saturating_add(self.shift) {
                // The camera's clock jumped: follow it from here, without going back, keeping the interval.
                self.offset = self.offset.saturating_add(off);
                self.reset_input();
                resync = true;
            }
        }
        self.observe(pts, true);
        let dts = self.next.unwrap_or_else(|| self.reference(pts).max(0));
        (self.finish(dts, pts), resync)
    }

    /// Places an audio frame; None when it belongs before what was already sent. The flag says whether
    /// it follows the previous sample without a hole.
    fn place_audio(&mut self, pts: i64) -> Option<(Placed, bool)> {
        let target = pts.saturating_add(self.offset);
        if target < 0 {
            return None;
        }
        let half = self.timescale / 2;
        let (dts, contiguous) = match self.next {
            Some(n) if n.saturating_sub(target) > half => return None,
            Some(n) if target.saturating_sub(n) <= half => (n, true),
            _ => (target, false),
        };
        if !contiguous {
            self.reset_input();
        }
        self.observe(pts, false);
        Some((self.finish(dts, pts), contiguous))
    }
}

/// Turns one subscriber's events into fMP4. Feed it every event of a hub subscription in order.
pub struct Fragmenter {
    allow_audio: bool,
    run: Option<Arc<RunInfo>>,
    /// The current run's audio goes out.
    audio_on: bool,
    waiting_key: bool,
    realign: bool,
    video: TrackClock,
    audio: TrackClock,
    pending_audio: Vec<(Placed, Bytes)>,
    seq: u32,
}

impl Default for Fragmenter {
    fn default() -> Self {
        Fragmenter::new(true)
    }
}

impl Fragmenter {
    /// `allow_audio`: include the camera's AAC audio as track 2.
    pub fn new(allow_audio: bool) -> Fragmenter {
        Fragmenter {
            allow_audio,
            run: None,
            audio_on: false,
            waiting_key: true,
            realign: true,
            video: TrackClock::new(VIDEO_TIMESCALE, i64::from(VIDEO_TIMESCALE / 25)),
            audio: TrackClock::new(8000, 1024),
            pending_audio: Vec::new(),
            seq: 0,
        }
    }

    /// Handles one event, appending what it produces to `out`.
    pub fn push(&mut self, ev: &MediaEvent, out: &mut Vec<Output>) {
        match ev {
            MediaEvent::Run(run) => self.start_run(run, out),
            MediaEvent::Frame(f) => self.frame(f, out),
            MediaEvent::Gap => {
                self.pending_audio.clear();
                self.waiting_key = true;
                self.realign = true;
                self.video.reset_input();
                self.audio.reset_input();
            }
            MediaEvent::Stopped => {
                self.pending_audio.clear();
                if self.run.take().is_some() {
                    out.push(Output::Stopped);
                }
            }
        }
    }

    fn start_run(&mut self, run: &Arc<RunInfo>, out: &mut Vec<Output>) {
        self.pending_audio.clear();
        let audio = run.audio.as_ref().filter(|a| self.allow_audio && a.codec == Codec::Aac && a.timescale > 0);
        let mut tracks: Vec<StreamParams> = vec![run.video.clone()];
        tracks.extend(audio.cloned());
        match kw_mp4::init_segment(&tracks) {
            Ok(bytes) => {
                let a = audio.map(|a| if a.rfc6381.is_empty() { "mp4a.40.2".to_owned() } else { a.rfc6381.clone() });
                let codecs = match &a {
                    Some(a) => format!("{},{a}", run.video.rfc6381),
                    None => run.video.rfc6381.clone(),
                };
                let info = StreamInfo {
                    codec: run.video.rfc6381.clone(),
                    audio: a,
                    width: run.video.width,
                    height: run.video.height,
                    mime: format!("video/mp4; codecs=\"{codecs}\""),
                };
                out.push(Output::Init(Arc::new(InitSegment { info, bytes: Bytes::from(bytes) })));
                self.run = Some(run.clone());
            }
            Err(e) => {
                tracing::warn!(
                    "live view: cannot describe this camera's stream in MP4 ({e}); waiting for the next run"
                );
                self.run = None;
            }
        }
        self.audio_on = audio.is_some();
        if let Some(a) = audio {
            if self.audio.timescale != i64::from(a.timescale) {
                self.audio = TrackClock::new(a.timescale, 1024);
            }
        }
        self.waiting_key = true;
        self.realign = true;
        self.video.reset_input();
        self.audio.reset_input();
    }

    /// Puts audio on the video's offset (both clocks count from the run's start).
    fn sync_audio_offset(&mut self) {
        let v = i128::from(self.video.offset) * i128::from(self.audio.timescale);
        let ts = i128::from(VIDEO_TIMESCALE);
        let a = if v >= 0 { (v + ts / 2) / ts } else { (v - ts / 2) / ts };
        self.audio.offset = i64::try_from(a).unwrap_or(0);
    }

    fn frame(&mut self, f: &Frame, out: &mut Vec<Output>) {
        let Some(run) = self.run.clone() else { return };
        let Ok(size) = u32::try_from(f.data.len()) else { return };
        match f.stream {
            StreamKind::Video => {
                if self.waiting_key {
                    if !f.key {
                        return;
                    }
                    self.waiting_key = false;
                }
                if std::mem::take(&mut self.realign) {
                    self.video.align(f.pts);
                    self.sync_audio_offset();
                }
                let (p, resynced) = self.video.place_video(f.pts);
                if resynced {
                    self.sync_audio_offset();
                }
                let mut tracks = vec![FragTrack {
                    track_id: VIDEO_TRACK,
                    base_dts: p.dts,
                    samples: vec![FragSample { duration: p.duration, size, cts_offset: p.cts, key: f.key }],
                    data: vec![f.data.clone()],
                }];
                tracks.extend(self.take_audio());
                self.seq = self.seq.wrapping_add(1);
                out.push(Output::Media(MediaFragment {
                    bytes: Bytes::from(kw_mp4::media_segment(self.seq, &tracks)),
                    key: f.key,
                    video_dts: Some(p.dts),
                    video_ticks: u64::from(p.duration),
                    wall: Some(run.video_wall(f.pts)),
                }));
            }
            StreamKind::Audio => {
                if !self.audio_on || self.waiting_key || self.realign {
                    return;
                }
                let Some((p, contiguous)) = self.audio.place_audio(f.pts) else { return };
                if !contiguous {
                    self.flush_audio(out);
                }
                self.pending_audio.push((p, f.data.clone()));
                if self.pending_audio.len() >= MAX_PENDING_AUDIO {
                    self.flush_audio(out);
                }
            }
        }
    }

    fn take_audio(&mut self) -> Option<FragTrack> {
        let first = self.pending_audio.first()?.0.dts;
        let pending = std::mem::take(&mut self.pending_audio);
        let mut t = FragTrack { track_id: AUDIO_TRACK, base_dts: first, samples: Vec::new(), data: Vec::new() };
        for (p, data) in pending {
            let size = u32::try_from(data.len()).unwrap_or(u32::MAX);
            t.samples.push(FragSample { duration: p.duration, size, cts_offset: 0, key: true });
            t.data.push(data);
        }
        Some(t)
    }

    fn flush_audio(&mut self, out: &mut Vec<Output>) {
        let Some(track) = self.take_audio() else { return };
        self.seq = self.seq.wrapping_add(1);
        out.push(Output::Media(MediaFragment {
            bytes: Bytes::from(kw_mp4::media_segment(self.seq, &[track])),
            key: false,
            video_dts: None,
            video_ticks: 0,
            wall: None,
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(codec: Codec) -> StreamParams {
        match codec {
            Codec::Aac => StreamParams {
                codec,
                timescale: 48_000,
                width: 0,
                height: 0,
                sample_rate: 48_000,
                channels: 1,
                extra: vec![0x11, 0x88],
                rfc6381: "mp4a.40.2".into(),
            },
            _ => StreamParams {
                codec: Codec::H264,
                timescale: 90_000,
                width: 320,
                height: 240,
                sample_rate: 0,
                channels: 0,
                extra: vec![1, 0x64, 0, 0x1f, 0xff, 0xe1, 0, 4, 0x67, 0x64, 0, 0x1f, 1, 0, 2, 0x68, 0xee],
                rfc6381: "avc1.64001f".into(),
            },
        }
    }

    fn run(audio: bool) -> MediaEvent {
        MediaEvent::Run(Arc::new(RunInfo {
            video: params(Codec::H264),
            audio: audio.then(|| params(Codec::Aac)),
            wall_anchor: 1_000_000,
        }))
    }

    fn video(pts: i64, key: bool) -> MediaEvent {
        MediaEvent::Frame(Arc::new(Frame {
            stream: StreamKind::Video,
            pts,
            key,
            loss_before: false,
            data: Bytes::from_static(&[0, 0, 0, 1, 0x65]),
        }))
    }

    fn audio(pts: i64) -> MediaEvent {
        MediaEvent::Frame(Arc::new(Frame {
            stream: StreamKind::Audio,
            pts,
            key: true,
            loss_before: false,
            data: Bytes::from_static(&[1, 2, 3]),
        }))
    }

    fn feed(f: &mut Fragmenter, evs: impl IntoIterator<Item = MediaEvent>) -> Vec<Output> {
        let mut out = Vec::new();
        for ev in evs {
            f.push(&ev, &mut out);
        }
        out
    }

    fn media(out: &[Output]) -> Vec<&MediaFragment> {
        out.iter()
            .filter_map(|o| match o {
                Output::Media(m) if m.video_dts.is_some() => Some(m),
                _ => None,
            })
            .collect()
    }

    fn assert_continuous(ms: &[&MediaFragment]) {
        for w in ms.windows(2) {
            assert_eq!(w[0].video_dts.unwrap() + w[0].video_ticks, w[1].video_dts.unwrap(), "{w:?}");
        }
    }

    #[test]
    fn starts_at_a_key_frame_and_keeps_time_continuous() {
        let mut f = Fragmenter::new(true);
        // Joins mid-GOP: the P-frames before the first key frame are dropped.
        let mut evs = vec![run(false), video(0, false), video(9000, false)];
        // 10 fps with ±2 ms of jitter.
        evs.extend((2..60).map(|i| video(i * 9000 + [0, 180, -180, 90][i as usize % 4], i % 20 == 2)));
        let out = feed(&mut f, evs);
        assert!(matches!(out[0], Output::Init(ref i) if i.info.mime == "video/mp4; codecs=\"avc1.64001f\""));
        let ms = media(&out);
        assert_eq!(ms.len(), 58);
        assert!(ms[0].key);
        assert_eq!(ms[0].video_dts, Some(0));
        assert_continuous(&ms);
        // Presentation stays within a frame of the camera's timestamps.
        let last = ms.last().unwrap().video_dts.unwrap() as i64;
        assert!((last - 57 * 9000).abs() < 9000, "{last}");
    }

    #[test]
    fn gap_and_new_run_continue_the_timeline() {
        let mut f = Fragmenter::new(true);
        let mut evs = vec![run(false)];
        evs.extend((0..10).map(|i| video(i * 9000, i == 0)));
        // Skipped ahead: a Gap, then frames (the first a key frame) much later.
        evs.push(MediaEvent::Gap);
        evs.extend((50..60).map(|i| video(i * 9000, i == 50)));
        // Reconnected: a new run whose clock starts at 0 again.
        evs.push(MediaEvent::Stopped);
        evs.push(run(false));
        evs.extend((0..10).map(|i| video(i * 9000, i % 5 == 0)));
        let out = feed(&mut f, evs);
        assert_eq!(out.iter().filter(|o| matches!(o, Output::Init(_))).count(), 2);
        assert_eq!(out.iter().filter(|o| matches!(o, Output::Stopped)).count(), 1);
        let ms = media(&out);
        assert_eq!(ms.len(), 30);
        assert_continuous(&ms);
        assert!(ms[10].key && ms[20].key);
        assert_eq!(ms[10].video_dts, Some(90_000));
    }

    #[test]
    fn a_jump_resynchronises_without_going_back() {
        let mut f = Fragmenter::new(false);
        let mut evs = vec![run(false)];
        evs.extend((0..5).map(|i| video(i * 9000, i == 0)));
        evs.extend((0..5).map(|i| video(900_000 + i * 9000, false)));
        let ms_out = feed(&mut f, evs);
        let ms = media(&ms_out);
        assert_continuous(&ms);
        assert!(ms.iter().all(|m| m.video_ticks >= 2250 && m.video_ticks <= 9000 * 4), "{ms:?}");
    }

    #[test]
    fn b_frames_converge_to_non_negative_offsets() {
        let mut f = Fragmenter::new(false);
        let mut evs = vec![run(false)];
        // I P B B per 3 frames, decode order: pts 0 3 1 2 6 4 5 ...
        let mut pts = vec![0i64];
        for g in 0..30 {
            let b = g * 3;
            pts.extend([b + 3, b + 1, b + 2]);
        }
        evs.extend(pts.iter().enumerate().map(|(i, p)| video(p * 3600, i == 0)));
        let out = feed(&mut f, evs);
        let ms = media(&out);
        assert_continuous(&ms);
        // After a few frames every composition offset is >= 0: decode never after presentation.
        let mut samples = Vec::new();
        for m in &ms[16..] {
            let b = &m.bytes;
            // trun v1 with one sample: the sample's cts is the last 4 bytes of the trun, which ends the moof.
            let moof_len = u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize;
            samples.push(i32::from_be_bytes([b[moof_len - 4], b[moof_len - 3], b[moof_len - 2], b[moof_len - 1]]));
        }
        assert!(samples.iter().all(|&c| c >= 0), "{samples:?}");
    }

    #[test]
    fn audio_goes_with_video_and_only_aac() {
        let mut f = Fragmenter::new(true);
        let mut evs = vec![run(true), audio(0)];
        for i in 0..20i64 {
            evs.push(video(i * 9000, i == 0));
            // 48 kHz, 1024-sample frames: ~4.7 per 100 ms video frame.
            for k in 0..5 {
                let a = (i * 5 + k) * 960;
                evs.push(audio(a));
            }
        }
        let out = feed(&mut f, evs);
        let Output::Init(init) = &out[0] else { panic!() };
        assert_eq!(init.info.audio.as_deref(), Some("mp4a.40.2"));
        assert!(init.info.mime.contains("avc1.64001f,mp4a.40.2"));
        assert!(init.bytes.windows(4).any(|w| w == b"mp4a"));
        let with_audio =
            media(&out).iter().filter(|m| m.bytes.windows(4).filter(|w| *w == b"traf").count() == 2).count();
        assert!(with_audio >= 18, "{with_audio}");
        // G.711 is left out.
        let mut g = Fragmenter::new(true);
        let mut r = RunInfo { video: params(Codec::H264), audio: Some(params(Codec::Aac)), wall_anchor: 0 };
        if let Some(a) = r.audio.as_mut() {
            a.codec = Codec::Pcmu;
        }
        let out = feed(&mut g, [MediaEvent::Run(Arc::new(r)), video(0, true), audio(0)]);
        let Output::Init(init) = &out[0] else { panic!() };
        assert_eq!(init.info.audio, None);
        assert_eq!(media(&out).len(), 1);
    }

    #[test]
    fn bad_parameters_wait_for_the_next_run() {
        let mut f = Fragmenter::new(true);
        let mut bad = params(Codec::H264);
        bad.extra.clear();
        let r = RunInfo { video: bad, audio: None, wall_anchor: 0 };
        let out = feed(&mut f, [MediaEvent::Run(Arc::new(r)), video(0, true), video(9000, false)]);
        assert!(out.is_empty());
        let out = feed(&mut f, [run(false), video(0, true)]);
        assert_eq!(out.len(), 2);
    }
}
