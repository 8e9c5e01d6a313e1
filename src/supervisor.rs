//! One camera's supervisor: keeps a session open forever, maps its timestamps to local media time, and
//! publishes runs and frames to the camera's [`Hub`].
//!
//! Reconnect policy (a camera must never be hammered, and a flapping one must come back fast): during the
//! first minute of an outage, retry every [`FAST_RETRY`]; then back off, doubling up to [`MAX_RETRY`]; a
//! wrong password, or an answer keepwatch cannot record (an unsupported codec), waits [`AUTH_RETRY`]
//! between attempts. A camera that ends its stream itself (RTCP BYE, end of stream) after streaming is
//! reconnected at once: a recording gap only as long as the camera takes to answer. The status (connecting / streaming / offline with
//! the last error) is published on a watch channel for the API.

use crate::hub::Hub;
use crate::ingest::timeline::Timeline;
use crate::ingest::{IngestError, Source, SourceEvent, SourceFrame};
use futures::StreamExt;
use kw_logsafe::OneLine;
use kw_media::clock::SharedClock;
use kw_media::{Codec, Frame, RunInfo, StreamKind, StreamParams, WallMicros, VIDEO_TIMESCALE};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

pub const FAST_RETRY: Duration = Duration::from_millis(500);
pub const FAST_PERIOD: Duration = Duration::from_secs(60);
pub const MAX_RETRY: Duration = Duration::from_secs(30);
pub const AUTH_RETRY: Duration = Duration::from_secs(60);
/// How long a connection attempt may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a session may stay silent before it is treated as dead.
pub const FRAME_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Connecting,
    Streaming,
    Offline,
}

/// What the API and logs know about a camera.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Status {
    pub state: State,
    pub last_error: Option<String>,
    pub codec: Option<&'static str>,
    pub width: Option<u16>,
    pub height: Option<u16>,
    pub has_audio: bool,
    pub frames: u64,
    pub bytes: u64,
    pub reconnects: u64,
    pub timestamp_jumps: u64,
    pub last_frame: Option<WallMicros>,
}

impl Default for Status {
    fn default() -> Self {
        Status {
            state: State::Connecting,
            last_error: None,
            codec: None,
            width: None,
            height: None,
            has_audio: false,
            frames: 0,
            bytes: 0,
            reconnects: 0,
            timestamp_jumps: 0,
            last_frame: None,
        }
    }
}

/// The reconnect back-off.
#[derive(Debug, Default)]
pub struct Backoff {
    outage_start: Option<Instant>,
    delay: Duration,
}

impl Backoff {
    /// The wait before the next attempt after `err` at `now`.
    pub fn next(&mut self, err: &IngestError, now: Instant) -> Duration {
        let first = self.outage_start.is_none();
        let start = *self.outage_start.get_or_insert(now);
        if err.is_lasting() {
            return AUTH_RETRY;
        }
        if first && *err == IngestError::Ended {
            return Duration::ZERO;
        }
        if now.duration_since(start) < FAST_PERIOD {
            self.delay = FAST_RETRY;
        } else {
            self.delay = (self.delay * 2).clamp(Duration::from_secs(2), MAX_RETRY);
        }
        self.delay
    }

    /// The camera delivered frames: the outage is over.
    pub fn reset(&mut self) {
        self.outage_start = None;
        self.delay = Duration::ZERO;
    }
}

/// Runs forever (until the task is aborted).
pub async fn supervise(
    name: String,
    source: Box<dyn Source>,
    hub: Hub,
    status: watch::Sender<Status>,
    clock: SharedClock,
) {
    let mut backoff = Backoff::default();
    let mut last_logged: Option<String> = None;
    loop {
        status.send_modify(|s| s.state = State::Connecting);
        let attempt = tokio::time::timeout(CONNECT_TIMEOUT, source.connect()).await;
        let err = match attempt {
            Err(_) => IngestError::Unreachable(format!("no answer within {} s", CONNECT_TIMEOUT.as_secs())),
            Ok(Err(e)) => e,
            Ok(Ok(stream)) => {
                let mut session = Session::new(&name, &hub, &status, &clock);
                let err = session.pump(stream).await;
                if session.frames > 0 {
                    backoff.reset();
                    last_logged = None;
                    tracing::warn!(camera = %name, "camera session ended after {} frames: {}", session.frames,
                        OneLine(&err.to_string()));
                }
                hub.publish_stopped();
                err
            }
        };
        let text = err.to_string();
        if last_logged.as_deref() != Some(text.as_str()) {
            // The text may quote the camera (a reason phrase, a SOAP fault): kept on one line.
            tracing::warn!(camera = %name, "camera offline: {}", OneLine(&text));
            last_logged = Some(text.clone());
        } else {
            tracing::debug!(camera = %name, "camera still offline: {}", OneLine(&text));
        }
        status.send_modify(|s| {
            s.state = State::Offline;
            s.last_error = Some(text);
            s.reconnects += 1;
        });
        tokio::time::sleep(backoff.next(&err, clock.monotonic())).await;
    }
}

/// State of one connected session.
struct Session<'a> {
    name: &'a str,
    hub: &'a Hub,
    status: &'a watch::Sender<Status>,
    clock: &'a SharedClock,
    frames: u64,
    pending: Option<(StreamParams, Option<StreamParams>)>,
    run: Option<Arc<RunInfo>>,
    /// Local pts at which the current run began.
    run_origin: i64,
    /// The camera's video time (seconds) at the run origin, to place audio on the same clock.
    run_origin_cam_secs: f64,
    video_tl: Option<Timeline>,
    waiting_for_key: bool,
    audio_loss: bool,
}

impl<'a> Session<'a> {
    fn new(name: &'a str, hub: &'a Hub, status: &'a watch::Sender<Status>, clock: &'a SharedClock) -> Self {
        Session {
            name,
            hub,
            status,
            clock,
            frames: 0,
            pending: None,
            run: None,
            run_origin: 0,
            run_origin_cam_secs: 0.0,
            video_tl: None,
            waiting_for_key: true,
            audio_loss: false,
        }
    }

    async fn pump(&mut self, mut stream: crate::ingest::SourceStream) -> IngestError {
        loop {
            let ev = match tokio::time::timeout(FRAME_TIMEOUT, stream.next()).await {
                Err(_) => return IngestError::Timeout(FRAME_TIMEOUT),
                Ok(None) => return IngestError::Ended,
                Ok(Some(Err(e))) => return e,
                Ok(Some(Ok(ev))) => ev,
            };
            match ev {
                SourceEvent::Params { video, audio } => self.pending = Some((video, audio)),
                SourceEvent::Frame(f) if f.stream == StreamKind::Video => self.video(f),
                SourceEvent::Frame(f) => self.audio(f),
            }
        }
    }

    fn video(&mut self, f: SourceFrame) {
        let tl = self.video_tl.get_or_insert_with(|| Timeline::new(f.clock_rate, VIDEO_TIMESCALE));
        let mapped = tl.map(f.ts, f.arrival);
        let jumps = tl.jumps();
        let cam_secs = f.ts as f64 / f64::from(f.clock_rate.max(1));
        if let Some((video, audio)) = self.pending.take() {
            // A new run: the first session's first frame, or changed parameters mid-session.
            let wall_anchor = match &self.run {
                // The wall time the frame *arrived*, not when it is handled here: a late start of the pipeline
                // must not shift the run later (it could then overlap the next run).
                None => {
                    let waited = self.clock.monotonic().saturating_duration_since(f.arrival);
                    self.clock.wall() - waited.as_micros() as i64
                }
                Some(old) => old.wall_anchor + kw_media::ticks_to_micros(mapped.pts - self.run_origin, VIDEO_TIMESCALE),
            };
            if let Some(old) = &self.run {
                tracing::info!(camera = %self.name, "stream parameters changed ({}x{} -> {}x{}): new run",
                    old.video.width, old.video.height, video.width, video.height);
            } else {
                tracing::info!(camera = %self.name, "streaming {} {}x{}{}", video.codec.as_str(), video.width,
                    video.height, audio.as_ref().map(|a| format!(" with {} audio", a.codec.as_str())).unwrap_or_default());
            }
            let run = Arc::new(RunInfo { video: video.clone(), audio: audio.clone(), wall_anchor });
            self.run_origin = mapped.pts;
            self.run_origin_cam_secs = cam_secs;
            self.run = Some(run.clone());
            self.waiting_for_key = true;
            self.status.send_modify(|s| {
                s.codec = Some(codec_name(video.codec));
                s.width = Some(video.width);
                s.height = Some(video.height);
                s.has_audio = audio.is_some();
            });
            self.hub.publish_run(run);
        }
        let Some(run) = &self.run else { return };
        if self.waiting_for_key {
            if !f.key {
                return; // a client joining a running stream gets P-frames first: drop until a key frame
            }
            self.waiting_for_key = false;
        }
        if mapped.rebased {
            tracing::warn!(camera = %self.name, "camera timestamps jumped; continuing on keepwatch's clock");
        }
        let pts = mapped.pts - self.run_origin;
        let len = f.data.len() as u64;
        let frame = Frame { stream: StreamKind::Video, pts, key: f.key, loss_before: f.loss, data: f.data };
        self.frames += 1;
        let wall = run.video_wall(pts);
        self.status.send_modify(|s| {
            s.state = State::Streaming;
            s.last_error = None;
            s.frames += 1;
            s.bytes += len;
            s.timestamp_jumps = jumps;
            s.last_frame = Some(wall);
        });
        self.hub.publish_frame(Arc::new(frame));
    }

    fn audio(&mut self, f: SourceFrame) {
        let Some(run) = &self.run else { return };
        if self.waiting_for_key || run.audio.is_none() {
            return;
        }
        let rate = f64::from(f.clock_rate.max(1));
        let pts = ((f.ts as f64 / rate - self.run_origin_cam_secs) * rate).round() as i64;
        if pts < 0 {
            self.audio_loss = true;
            return;
        }
        let loss = f.loss || std::mem::take(&mut self.audio_loss);
        let frame = Frame { stream: StreamKind::Audio, pts, key: true, loss_before: loss, data: f.data };
        self.hub.publish_frame(Arc::new(frame));
    }
}

fn codec_name(c: Codec) -> &'static str {
    c.as_str()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_fast_then_capped_and_auth_slow() {
        let mut b = Backoff::default();
        let t0 = Instant::now();
        let e = IngestError::Unreachable("x".into());
        assert!(b.next(&e, t0) <= Duration::from_secs(1));
        assert!(b.next(&e, t0 + Duration::from_secs(59)) <= Duration::from_secs(1));
        let mut last = Duration::ZERO;
        for i in 0..20 {
            let d = b.next(&e, t0 + Duration::from_secs(61 + i * 30));
            assert!(d >= last && d <= MAX_RETRY);
            last = d;
        }
        assert_eq!(last, MAX_RETRY);
        assert_eq!(b.next(&IngestError::Auth("401".into()), t0), AUTH_RETRY);
        b.reset();
        assert_eq!(b.next(&e, t0 + Duration::from_secs(10_000)), FAST_RETRY);
    }

    #[test]
    fn an_unsupported_camera_waits_like_a_wrong_password() {
        // An RTP/MP2T camera was retried every 0.5 s (124 attempts in 90 s).
        let mut b = Backoff::default();
        let t0 = Instant::now();
        let e = IngestError::Unsupported("video codec; the camera offers video/mp2t".into());
        for i in 0..3 {
            assert_eq!(b.next(&e, t0 + AUTH_RETRY * i), AUTH_RETRY);
        }
        assert_eq!(b.next(&IngestError::NoVideo("audio/pcmu".into()), t0), AUTH_RETRY);
    }

    #[test]
    fn a_camera_that_ends_its_stream_is_reconnected_at_once() {
        let mut b = Backoff::default();
        let t0 = Instant::now();
        assert_eq!(b.next(&IngestError::Ended, t0), Duration::ZERO);
        // Ending again without streaming in between is an outage like any other.
        assert_eq!(b.next(&IngestError::Ended, t0 + Duration::from_millis(10)), FAST_RETRY);
        b.reset();
        assert_eq!(b.next(&IngestError::Ended, t0 + Duration::from_secs(5)), Duration::ZERO);
    }
}
