//! The in-process harness: a scripted camera ([`ScriptedSource`]) and a fake clock drive the real camera
//! supervisor, hub and recorder into a real store in a temporary directory.
//!
//! Time: tests run on tokio's paused clock (`#[tokio::test(start_paused = true)]`), so the supervisor's
//! timeouts and back-off sleeps and the camera's frame pacing take no real time. The [`FakeClock`] that
//! keepwatch reads (wall time for run anchors, monotonic time for the recorder's sync cadence and the
//! back-off) is set from tokio's virtual time at each scripted event, so every part agrees on "now".

use crate::hub::{Hub, Start};
use crate::ingest::{ConnectFuture, IngestError, Source, SourceEvent, SourceFrame, SourceStream};
use crate::recorder::{self, Gate, Stats};
use crate::supervisor::{self, Status};
use bytes::Bytes;
use kw_media::clock::{Clock, FakeClock, SharedClock};
use kw_media::{Codec, StreamKind, StreamParams, WallMicros, VIDEO_TIMESCALE};
use kw_store::{Create, Store};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

/// 2026-01-01T00:00:00Z: where the fake wall clock starts.
pub const T0: WallMicros = 1_767_225_600_000_000;
/// Scripted cameras send 10 frames a second.
pub const FPS: i64 = 10;
/// 90 kHz ticks per frame.
pub const TICKS: i64 = VIDEO_TIMESCALE as i64 / FPS;

/// Stream parameters of a scripted H.264 camera (the recorder never decodes, so `extra` is a stand-in).
pub fn params(width: u16) -> StreamParams {
    StreamParams {
        codec: Codec::H264,
        timescale: VIDEO_TIMESCALE,
        width,
        height: width * 9 / 16,
        sample_rate: 0,
        channels: 0,
        extra: vec![1, 0x64, 0, 0x1f, 0xff, 0xe1, 0, 1, 0x67, 1, 0, 1, 0x68],
        rfc6381: "avc1.64001f".into(),
    }
}

/// One frame a scripted camera sends.
#[derive(Clone, Debug)]
pub struct Shot {
    /// Camera time, 90 kHz.
    pub ts: i64,
    pub key: bool,
    /// New stream parameters announced just before this frame (a changed resolution).
    pub params: Option<StreamParams>,
    pub data: Bytes,
}

/// `n` frames from camera time `first_ts` on, a key frame every `gop` frames (counting from `first_key`).
pub fn shots(first_ts: i64, n: usize, gop: usize, first_key: usize) -> Vec<Shot> {
    (0..n)
        .map(|i| {
            let key = i >= first_key && (i - first_key).is_multiple_of(gop);
            let mut data = vec![0u8; 300];
            data[..4].copy_from_slice(&296u32.to_be_bytes());
            data[4] = if key { 0x65 } else { 0x41 };
            data[5..13].copy_from_slice(&(i as u64).to_be_bytes());
            Shot { ts: first_ts + i as i64 * TICKS, key, params: None, data: Bytes::from(data) }
        })
        .collect()
}

/// How a scripted session ends after its last frame.
#[derive(Clone, Debug)]
pub enum End {
    /// The stream reports this error.
    Fail(IngestError),
    /// The camera says nothing more (the supervisor's frame timeout ends the session).
    Silence,
}

/// One connection attempt of a scripted camera.
#[derive(Clone, Debug)]
pub enum Step {
    /// The attempt fails at once.
    Refuse(IngestError),
    /// A session: parameters, then frames paced in (virtual) real time, then `end`.
    Play { params: StreamParams, shots: Vec<Shot>, end: End },
}

/// A camera that follows a script, one [`Step`] per connection attempt; when the script is done every
/// attempt is refused as unreachable.
pub struct ScriptedSource {
    steps: Mutex<VecDeque<Step>>,
    /// Sessions being played now.
    playing: Arc<std::sync::atomic::AtomicUsize>,
    /// The hub whose subscribers the camera waits for before each frame (see [`Camera::start`]).
    lockstep: Arc<Mutex<Option<Hub>>>,
    clock: TestClock,
    /// Called with each frame's index in its session just before it is sent (tests use it to act "while
    /// the camera shows frame i", e.g. to raise the motion signal).
    on_frame: Option<Arc<dyn Fn(usize) + Send + Sync>>,
}

impl ScriptedSource {
    pub fn new(steps: Vec<Step>, clock: &TestClock) -> ScriptedSource {
        ScriptedSource {
            steps: Mutex::new(steps.into()),
            playing: Arc::default(),
            lockstep: Arc::default(),
            clock: clock.clone(),
            on_frame: None,
        }
    }

    pub fn on_frame(mut self, f: impl Fn(usize) + Send + Sync + 'static) -> ScriptedSource {
        self.on_frame = Some(Arc::new(f));
        self
    }

    /// Whether every step has been played to its end.
    pub fn done(&self) -> bool {
        self.steps.lock().unwrap().is_empty() && self.playing.load(std::sync::atomic::Ordering::SeqCst) == 0
    }
}

impl Source for ScriptedSource {
    fn connect(&self) -> ConnectFuture<'_> {
        Box::pin(async move {
            self.clock.sync();
            let step = self.steps.lock().unwrap().pop_front();
            let (params, shots, end) = match step {
                None => return Err(IngestError::Unreachable("the script is over".into())),
                Some(Step::Refuse(e)) => return Err(e),
                Some(Step::Play { params, shots, end }) => (params, shots, end),
            };
            let (tx, rx) = tokio::sync::mpsc::channel(8);
            let clock = self.clock.clone();
            let on_frame = self.on_frame.clone();
            let lockstep = self.lockstep.lock().unwrap().clone();
            let playing = self.playing.clone();
            playing.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            tokio::spawn(async move {
                play(params, shots, end, clock, on_frame, lockstep, tx).await;
                playing.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
            });
            let stream = futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|ev| (ev, rx)) });
            Ok(Box::pin(stream) as SourceStream)
        })
    }
}

type Tx = tokio::sync::mpsc::Sender<Result<SourceEvent, IngestError>>;

async fn play(
    params: StreamParams,
    shots: Vec<Shot>,
    end: End,
    clock: TestClock,
    on_frame: Option<Arc<dyn Fn(usize) + Send + Sync>>,
    lockstep: Option<Hub>,
    tx: Tx,
) {
    let started = tokio::time::Instant::now();
    let first_ts = shots.first().map_or(0, |s| s.ts);
    if tx.send(Ok(SourceEvent::Params { video: params, audio: None })).await.is_err() {
        return;
    }
    for (i, s) in shots.into_iter().enumerate() {
        let due = started + Duration::from_micros(((s.ts - first_ts) * 1_000_000 / TICKS / FPS) as u64);
        tokio::time::sleep_until(due).await;
        if let Some(hub) = &lockstep {
            // The paused clock would let the camera outrun the consumers' threads: wait until they have
            // taken everything sent so far, so the test sees what a real-time camera would give.
            let hub = hub.clone();
            tokio::task::spawn_blocking(move || {
                while hub.backlog() > 0 {
                    std::thread::yield_now();
                }
            })
            .await
            .ok();
        }
        clock.sync();
        if let Some(f) = &on_frame {
            f(i);
        }
        if let Some(p) = s.params {
            if tx.send(Ok(SourceEvent::Params { video: p, audio: None })).await.is_err() {
                return;
            }
        }
        let frame = SourceFrame {
            stream: StreamKind::Video,
            ts: s.ts,
            clock_rate: VIDEO_TIMESCALE,
            key: s.key,
            loss: false,
            data: s.data,
            arrival: clock.monotonic(),
        };
        if tx.send(Ok(SourceEvent::Frame(frame))).await.is_err() {
            return;
        }
    }
    match end {
        End::Fail(e) => {
            let _ = tx.send(Err(e)).await;
        }
        End::Silence => {
            // Hold the stream open and say nothing until the supervisor gives up on it.
            tx.closed().await;
        }
    }
}

/// The fake clock, set from tokio's virtual time (see the module doc).
#[derive(Clone)]
pub struct TestClock {
    fake: FakeClock,
    origin: tokio::time::Instant,
    set: Arc<Mutex<Duration>>,
}

impl TestClock {
    /// Call on a paused runtime.
    pub fn new() -> TestClock {
        TestClock { fake: FakeClock::new(T0), origin: tokio::time::Instant::now(), set: Arc::default() }
    }

    /// Moves the fake clock to tokio's virtual now.
    pub fn sync(&self) {
        let now = tokio::time::Instant::now().saturating_duration_since(self.origin);
        let mut set = self.set.lock().unwrap();
        if now > *set {
            self.fake.advance(now - *set);
            *set = now;
        }
    }

    pub fn shared(&self) -> SharedClock {
        Arc::new(self.fake.clone())
    }

    fn monotonic(&self) -> std::time::Instant {
        self.fake.monotonic()
    }
}

/// A temporary directory, in memory where the system has one (`/dev/shm`): the recorder fsyncs every
/// second of camera time, and these tests play minutes of it.
pub fn temp_dir() -> tempfile::TempDir {
    let shm = std::path::Path::new("/dev/shm");
    if shm.is_dir() {
        if let Ok(d) = tempfile::tempdir_in(shm) {
            return d;
        }
    }
    tempfile::tempdir().unwrap()
}

/// A store in a temporary directory.
pub fn temp_store() -> (tempfile::TempDir, Arc<Store>) {
    let dir = temp_dir();
    let store = Store::open(&dir.path().join("store"), Create::IfMissing, None).unwrap();
    (dir, Arc::new(store))
}

/// One camera as `run` wires it, minus what the test does not need: supervisor → hub → recorder. The
/// scripted camera runs in lockstep with the recorder (each frame is sent once the recorder has taken the
/// previous one), so results do not depend on thread scheduling.
pub struct Camera {
    pub hub: Hub,
    pub status: watch::Receiver<Status>,
    pub stats: Arc<Stats>,
    task: tokio::task::JoinHandle<()>,
    recorder: std::thread::JoinHandle<()>,
}

impl Camera {
    pub fn start(
        name: &str,
        source: Arc<ScriptedSource>,
        store: &Arc<Store>,
        clock: &TestClock,
        gate: Option<Gate>,
    ) -> Camera {
        let hub = Hub::new();
        let stats = Arc::new(Stats::default());
        let rx = hub.subscribe(recorder::QUEUE, Start::Now);
        let recorder =
            recorder::spawn(name.to_owned(), store.clone(), clock.shared(), rx, stats.clone(), gate).unwrap();
        *source.lockstep.lock().unwrap() = Some(hub.clone());
        let (status_tx, status) = watch::channel(Status::default());
        let task = tokio::spawn(supervisor::supervise(
            name.to_owned(),
            Box::new(Shared(source)),
            hub.clone(),
            status_tx,
            clock.shared(),
        ));
        Camera { hub, status, stats, task, recorder }
    }

    /// Waits (in virtual time) until `source` has played its whole script, plus `settle`.
    pub async fn play_out(&self, source: &ScriptedSource, settle: Duration) {
        while !source.done() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        tokio::time::sleep(settle).await;
    }

    /// Stops the camera as `run` does and waits for the recorder to work through its queue and finish its
    /// segment. Returns the camera's last status and the recorder's counters.
    pub async fn stop(self) -> (Status, Arc<Stats>) {
        self.task.abort();
        self.hub.publish_stopped();
        self.hub.close();
        let r = self.recorder;
        tokio::task::spawn_blocking(move || r.join()).await.unwrap().unwrap();
        let status = self.status.borrow().clone();
        (status, self.stats)
    }
}

/// Lets the supervisor own a source the test still holds.
struct Shared(Arc<ScriptedSource>);

impl Source for Shared {
    fn connect(&self) -> ConnectFuture<'_> {
        self.0.connect()
    }
}

/// The recorded spans of `camera`, as (start, end) in seconds after [`T0`].
pub fn spans_s(store: &Store, camera: &str) -> Vec<(f64, f64)> {
    let s = |t: WallMicros| ((t - T0) as f64 / 1e5).round() / 10.0;
    store.spans(camera, i64::MIN / 2, i64::MAX / 2).unwrap().iter().map(|&(a, b)| (s(a), s(b))).collect()
}
