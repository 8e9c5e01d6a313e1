//! HLS for one camera: a segmenter subscribed to the camera's hub cuts the live fragments into segments at
//! key frames and keeps the last few in memory, for every HLS client of that camera at once.
//!
//! Why one per camera rather than per client: HLS clients poll a playlist and fetch segments by name, so
//! they all need the same segments; cutting them once costs the same for one client or fifty. A segmenter
//! starts with the first request for the camera's playlist and stops when nobody has asked for anything
//! for [`IDLE`], so a camera nobody watches over HLS costs nothing. It is an ordinary hub subscriber: if it
//! ever fell behind it would be skipped ahead like any other, never slowing the recorder.
//!
//! Segments are runs of the per-frame fragments of [`crate::live::fragmenter`] from one key frame to the
//! next, at least [`MIN_SEGMENT`] long (so about one GOP for the common 1–2 s GOPs). A new run (the camera
//! reconnected, or its parameters changed) gets a new init segment (`init-N.mp4`) and an
//! `EXT-X-DISCONTINUITY`. Partial segments (LL-HLS) are not made: latency is about three segments.

use super::fragmenter::{Fragmenter, InitSegment, Output};
use crate::hub::{Hub, MediaEvent, Start};
use bytes::Bytes;
use std::collections::{HashMap, VecDeque};
use std::fmt::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Segments kept (and listed in the playlist).
pub const WINDOW: usize = 6;
/// A segment ends at the first key frame after at least this much video.
pub const MIN_SEGMENT: Duration = Duration::from_secs(1);
/// A segmenter nobody asked anything of for this long stops.
pub const IDLE: Duration = Duration::from_secs(60);
/// Hub queue of a segmenter (it only copies `Arc`s and bytes, so it keeps up easily).
const QUEUE: usize = 512;
/// A segment that grows past this much video or data without a key frame is dropped (a camera that sends
/// no key frames must not fill memory).
const MAX_SEGMENT_TICKS: u64 = 30 * 90_000;
const MAX_SEGMENT_BYTES: usize = 64 << 20;
/// How often the idle check runs.
const IDLE_CHECK: Duration = Duration::from_secs(5);

/// One finished segment.
#[derive(Debug)]
pub struct Segment {
    pub seq: u64,
    /// Generation of its init segment.
    pub init: u64,
    /// First segment of a new run.
    pub discontinuity: bool,
    pub seconds: f64,
    pub bytes: Bytes,
}

struct Open {
    init: u64,
    discontinuity: bool,
    ticks: u64,
    parts: Vec<Bytes>,
    len: usize,
}

#[derive(Default)]
struct State {
    /// Init segments still referenced by a kept segment, and the newest.
    inits: VecDeque<(u64, Arc<InitSegment>)>,
    segments: VecDeque<Arc<Segment>>,
    open: Option<Open>,
    next_seq: u64,
    /// Discontinuities that left the window (EXT-X-DISCONTINUITY-SEQUENCE).
    discontinuity_seq: u64,
    /// EXT-X-TARGETDURATION: whole seconds, the longest segment *rounded to the nearest integer* (RFC 8216
    /// §4.3.3.1 compares rounded EXTINF durations with it, and §6.2.1 forbids changing it, so a segment of
    /// 2.00001 s must not raise a target of 2); never decreases.
    target: u64,
    /// The next segment starts a new run.
    discontinuity: bool,
}

impl State {
    fn generation(&self) -> Option<u64> {
        self.inits.back().map(|(g, _)| *g)
    }

    fn apply(&mut self, out: Output) -> bool {
        match out {
            Output::Init(init) => {
                let done = self.finish();
                let g = self.generation().map_or(0, |g| g + 1);
                self.inits.push_back((g, init));
                self.discontinuity = self.next_seq > 0;
                self.trim_inits();
                done
            }
            Output::Stopped => self.finish(),
            Output::Media(m) => {
                let mut done = false;
                if m.key && self.open.as_ref().is_some_and(|o| o.ticks >= ticks(MIN_SEGMENT)) {
                    done = self.finish();
                }
                if self.open.is_none() {
                    let Some(init) = self.generation() else { return done };
                    if !m.key {
                        return done; // a segment starts with a key frame
                    }
                    let discontinuity = std::mem::take(&mut self.discontinuity);
                    self.open = Some(Open { init, discontinuity, ticks: 0, parts: Vec::new(), len: 0 });
                }
                if let Some(o) = self.open.as_mut() {
                    o.ticks += m.video_ticks;
                    o.len += m.bytes.len();
                    o.parts.push(m.bytes);
                    if o.ticks > MAX_SEGMENT_TICKS || o.len > MAX_SEGMENT_BYTES {
                        tracing::warn!("HLS: no key frame for {} s; dropping the segment", o.ticks / 90_000);
                        self.open = None;
                    }
                }
                done
            }
        }
    }

    /// Ends the open segment; true if one was added.
    fn finish(&mut self) -> bool {
        let Some(o) = self.open.take() else { return false };
        if o.ticks == 0 {
            return false;
        }
        let mut bytes = Vec::with_capacity(o.len);
        for p in &o.parts {
            bytes.extend_from_slice(p);
        }
        let seconds = o.ticks as f64 / 90_000.0;
        self.target = self.target.max(target_seconds(seconds));
        self.segments.push_back(Arc::new(Segment {
            seq: self.next_seq,
            init: o.init,
            discontinuity: o.discontinuity,
            seconds,
            bytes: Bytes::from(bytes),
        }));
        self.next_seq += 1;
        while self.segments.len() > WINDOW {
            if let Some(s) = self.segments.pop_front() {
                if s.discontinuity {
                    self.discontinuity_seq += 1;
                }
            }
        }
        self.trim_inits();
        true
    }

    fn trim_inits(&mut self) {
        let oldest_used = self.segments.front().map(|s| s.init).or(self.open.as_ref().map(|o| o.init));
        while self.inits.len() > 1 && self.inits.front().is_some_and(|(g, _)| oldest_used.is_none_or(|u| *g < u)) {
            self.inits.pop_front();
        }
    }

    /// The media playlist; `suffix` is appended to every URI (`?token=...`).
    fn playlist(&self, suffix: &str) -> Option<String> {
        let first = self.segments.front()?;
        let mut p = String::with_capacity(256 + self.segments.len() * 64);
        let _ = write!(
            p,
            "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:{}\n#EXT-X-MEDIA-SEQUENCE:{}\n\
             #EXT-X-DISCONTINUITY-SEQUENCE:{}\n#EXT-X-INDEPENDENT-SEGMENTS\n",
            self.target.max(1),
            first.seq,
            self.discontinuity_seq
        );
        let mut map = None;
        for s in &self.segments {
            if s.discontinuity {
                p.push_str("#EXT-X-DISCONTINUITY\n");
            }
            if map != Some(s.init) {
                let _ = writeln!(p, "#EXT-X-MAP:URI=\"live/init-{}.mp4{suffix}\"", s.init);
                map = Some(s.init);
            }
            let _ = write!(p, "#EXTINF:{:.5},\nlive/{}.m4s{suffix}\n", s.seconds, s.seq);
        }
        Some(p)
    }
}

/// The target duration a segment of `seconds` needs: its duration rounded to the nearest integer (RFC 8216
/// §4.3.3.1), at least 1.
fn target_seconds(seconds: f64) -> u64 {
    (seconds.round() as u64).max(1)
}

fn ticks(d: Duration) -> u64 {
    (d.as_secs_f64() * 90_000.0) as u64
}

/// One camera's HLS segmenter.
pub struct Segmenter {
    state: Mutex<State>,
    /// Segments finished so far; `u64::MAX` once the segmenter has ended.
    progress: watch::Sender<u64>,
    last_used: Mutex<Instant>,
    ended: AtomicBool,
}

impl Segmenter {
    fn new() -> Segmenter {
        Segmenter {
            state: Mutex::new(State::default()),
            progress: watch::channel(0).0,
            last_used: Mutex::new(Instant::now()),
            ended: AtomicBool::new(false),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn touch(&self) {
        *self.last_used.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
    }

    fn idle_for(&self) -> Duration {
        self.last_used.lock().unwrap_or_else(|p| p.into_inner()).elapsed()
    }

    /// Waits until at least one segment is ready; false when none came within `timeout` or it ended.
    pub async fn wait_ready(&self, timeout: Duration) -> bool {
        let mut rx = self.progress.subscribe();
        let ready = tokio::time::timeout(timeout, rx.wait_for(|n| *n > 0)).await;
        matches!(ready, Ok(Ok(n)) if *n != u64::MAX) || (!self.ended.load(Ordering::Relaxed) && self.has_segments())
    }

    fn has_segments(&self) -> bool {
        !self.state().segments.is_empty()
    }

    /// The playlist, or None before the first segment.
    pub fn playlist(&self, suffix: &str) -> Option<String> {
        self.state().playlist(suffix)
    }

    pub fn segment(&self, seq: u64) -> Option<Arc<Segment>> {
        self.state().segments.iter().find(|s| s.seq == seq).cloned()
    }

    /// Init segment of generation `g`, or the newest.
    pub fn init(&self, g: Option<u64>) -> Option<Bytes> {
        let st = self.state();
        match g {
            Some(g) => st.inits.iter().find(|(i, _)| *i == g).map(|(_, s)| s.bytes.clone()),
            None => st.inits.back().map(|(_, s)| s.bytes.clone()),
        }
    }

    fn apply(&self, outs: &mut Vec<Output>) {
        let mut added = false;
        {
            let mut st = self.state();
            for o in outs.drain(..) {
                added |= st.apply(o);
            }
        }
        if added {
            self.progress.send_modify(|n| *n = n.saturating_add(1).min(u64::MAX - 1));
        }
    }
}

/// The running segmenters by camera name.
#[derive(Clone, Default)]
pub struct Registry {
    map: Arc<Mutex<HashMap<String, Arc<Segmenter>>>>,
}

impl Registry {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Segmenter>>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The camera's segmenter, marked as used; started (subscribed to `hub`) when none runs. Call within
    /// the tokio runtime.
    pub fn get_or_start(&self, camera: &str, hub: &Hub) -> Arc<Segmenter> {
        let mut map = self.lock();
        if let Some(s) = map.get(camera).filter(|s| !s.ended.load(Ordering::Relaxed)) {
            s.touch();
            return s.clone();
        }
        let seg = Arc::new(Segmenter::new());
        map.insert(camera.to_owned(), seg.clone());
        let rx = hub.subscribe(super::queue_for(hub, QUEUE), Start::LastKeyFrame);
        tokio::spawn(run(camera.to_owned(), seg.clone(), rx, self.clone()));
        tracing::info!(camera = %camera, "HLS segmenter started");
        seg
    }

    /// The camera's running segmenter, marked as used.
    pub fn find(&self, camera: &str) -> Option<Arc<Segmenter>> {
        let map = self.lock();
        let s = map.get(camera).filter(|s| !s.ended.load(Ordering::Relaxed))?;
        s.touch();
        Some(s.clone())
    }

    /// Removes `seg` if it is still the camera's entry and unused for `idle` (or `force`).
    fn retire(&self, camera: &str, seg: &Arc<Segmenter>, idle: Duration, force: bool) -> bool {
        let mut map = self.lock();
        if !force && seg.idle_for() < idle {
            return false;
        }
        seg.ended.store(true, Ordering::Relaxed);
        if map.get(camera).is_some_and(|s| Arc::ptr_eq(s, seg)) {
            map.remove(camera);
        }
        true
    }
}

async fn run(camera: String, seg: Arc<Segmenter>, mut rx: tokio::sync::mpsc::Receiver<MediaEvent>, reg: Registry) {
    let mut frag = Fragmenter::new(true);
    let mut out = Vec::new();
    let mut check = tokio::time::interval(IDLE_CHECK);
    check.tick().await;
    loop {
        tokio::select! {
            ev = rx.recv() => match ev {
                Some(ev) => {
                    if matches!(ev, MediaEvent::Gap) {
                        tracing::warn!(camera = %camera, "HLS segmenter fell behind; frames were skipped");
                    }
                    frag.push(&ev, &mut out);
                    seg.apply(&mut out);
                }
                None => {
                    reg.retire(&camera, &seg, IDLE, true);
                    break;
                }
            },
            _ = check.tick() => {
                if reg.retire(&camera, &seg, IDLE, false) {
                    tracing::info!(camera = %camera, "HLS segmenter stopped: nobody asked for {} s", IDLE.as_secs());
                    break;
                }
            }
        }
    }
    seg.progress.send_replace(u64::MAX);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::fragmenter::{MediaFragment, StreamInfo};
    fn init() -> Output {
        let info = StreamInfo { codec: String::new(), audio: None, width: 2, height: 2, mime: String::new() };
        Output::Init(Arc::new(InitSegment { info, bytes: Bytes::from_static(b"init") }))
    }

    fn media(key: bool) -> Output {
        Output::Media(MediaFragment {
            bytes: Bytes::from_static(b"frag"),
            key,
            video_dts: Some(0),
            video_ticks: 45_000,
            wall: None,
        })
    }

    #[test]
    fn cuts_at_key_frames_keeps_a_window_and_marks_runs() {
        let mut st = State::default();
        assert!(!st.apply(media(true)), "nothing before an init segment");
        st.apply(init());
        assert!(!st.apply(media(false)), "a segment starts with a key frame");
        // 2 s GOPs of 0.5 s frames: key, 3 others.
        let mut done = 0;
        for i in 0..40 {
            done += usize::from(st.apply(media(i % 4 == 0)));
        }
        assert_eq!(done, 9);
        assert_eq!(st.segments.len(), WINDOW);
        assert!(st.segments.iter().all(|s| (s.seconds - 2.0).abs() < 1e-9 && s.bytes.len() == 16));
        let p = st.playlist("?token=kw_x").unwrap();
        assert!(p.starts_with("#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:3\n"), "{p}");
        assert!(p.contains("#EXT-X-MAP:URI=\"live/init-0.mp4?token=kw_x\"\n#EXTINF:2.00000,\nlive/3.m4s?token=kw_x\n"));
        assert_eq!(p.matches("#EXTINF").count(), WINDOW);
        assert!(!p.contains("DISCONTINUITY\n"));
        // The camera reconnects: the open segment ends, a new init and a discontinuity follow.
        st.apply(Output::Stopped);
        st.apply(init());
        for i in 0..8 {
            st.apply(media(i % 4 == 0));
        }
        st.apply(media(true));
        let p = st.playlist("").unwrap();
        assert!(p.contains("#EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI=\"live/init-1.mp4\"\n"), "{p}");
        assert_eq!(st.inits.len(), 2);
        // Once the old run's segments leave the window, its init goes and the discontinuity is counted.
        for i in 0..40 {
            st.apply(media(i % 4 == 0));
        }
        assert_eq!(st.inits.len(), 1);
        let p = st.playlist("").unwrap();
        assert!(p.contains("#EXT-X-DISCONTINUITY-SEQUENCE:1\n") && !p.contains("#EXT-X-DISCONTINUITY\n"), "{p}");
    }

    fn media_ticks(key: bool, video_ticks: u64) -> Output {
        Output::Media(MediaFragment {
            bytes: Bytes::from_static(b"frag"),
            key,
            video_dts: Some(0),
            video_ticks,
            wall: None,
        })
    }

    #[test]
    fn target_duration_compares_rounded_durations() {
        // A 2 s GOP whose segment lasted 2.00001 s raised the target from 2 to 3 mid-stream.
        let mut st = State::default();
        st.apply(init());
        st.apply(media_ticks(true, 90_000));
        st.apply(media_ticks(false, 90_000));
        st.apply(media_ticks(true, 90_000));
        st.apply(media_ticks(false, 90_001));
        st.apply(media_ticks(true, 45_000));
        st.apply(media_ticks(false, 90_000));
        st.apply(media_ticks(true, 1));
        assert_eq!(st.segments.len(), 3);
        assert!(st.segments[1].seconds > 2.0);
        assert_eq!(st.target, 2);
        assert!(st.playlist("").unwrap().contains("#EXT-X-TARGETDURATION:2\n"));
        assert_eq!(target_seconds(0.2), 1);
        assert_eq!(target_seconds(2.49), 2);
        assert_eq!(target_seconds(2.5), 3);
    }

    #[test]
    fn no_key_frames_do_not_fill_memory() {
        let mut st = State::default();
        st.apply(init());
        st.apply(media(true));
        for _ in 0..100 {
            st.apply(media(false));
        }
        assert!(st.open.is_none() || st.open.as_ref().is_some_and(|o| o.ticks <= MAX_SEGMENT_TICKS));
        assert!(st.segments.is_empty());
    }
}
