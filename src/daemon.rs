//! `keepwatch run`: opens the store, recovers it, starts one supervisor (and recorder) per camera,
//! enforces retention, and follows the config file: cameras added, removed or changed are applied live,
//! without a restart. A config that fails to parse is reported and the running setup is kept.

use crate::camera::{self, Status};
use crate::clock::{SharedClock, SystemClock};
use crate::events::EventStore;
use crate::hub::{Hub, Start};
use crate::ingest::{self, CameraAddr};
use crate::motion::MotionState;
use crate::recorder::{self, Stats};
use crate::Failure;
use kw_config::{CameraConfig, Config, RecordMode};
use kw_store::{Retention, Store};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// How often the config file is looked at.
const CONFIG_POLL: Duration = Duration::from_secs(2);
/// How often retention runs (it counts in-progress data, so the store stays under its cap).
const RETENTION_EVERY: Duration = Duration::from_secs(1);

/// A camera's low-resolution second stream (`sub_url`): ingested into its own hub, never recorded; motion,
/// grid views and snapshots of H.265 cameras use it.
struct SubStream {
    hub: Hub,
    status: watch::Receiver<Status>,
    task: tokio::task::JoinHandle<()>,
}

struct RunningCamera {
    sub: Option<SubStream>,
    motion: Option<(std::thread::JoinHandle<()>, Arc<MotionState>)>,
    cfg: CameraConfig,
    hub: Hub,
    status: watch::Receiver<Status>,
    task: tokio::task::JoinHandle<()>,
    recorder: Option<std::thread::JoinHandle<()>>,
    stats: Arc<Stats>,
}

/// What the HTTP API sees of one running camera.
#[derive(Clone)]
pub struct CameraView {
    pub cfg: CameraConfig,
    pub hub: Hub,
    pub status: watch::Receiver<Status>,
    pub stats: Arc<Stats>,
    /// The `sub_url` stream's hub and status, when configured.
    pub sub_hub: Option<Hub>,
    pub sub_status: Option<watch::Receiver<Status>>,
    /// The motion pipeline's state, when motion detection is enabled.
    pub motion: Option<Arc<MotionState>>,
}

/// The running cameras by name, shared with the HTTP API (which only reads it).
#[derive(Clone, Default)]
pub struct Directory(Arc<std::sync::RwLock<std::collections::BTreeMap<String, CameraView>>>);

impl Directory {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, std::collections::BTreeMap<String, CameraView>> {
        self.0.read().unwrap_or_else(|p| p.into_inner())
    }
    fn write(&self) -> std::sync::RwLockWriteGuard<'_, std::collections::BTreeMap<String, CameraView>> {
        self.0.write().unwrap_or_else(|p| p.into_inner())
    }
    pub fn get(&self, name: &str) -> Option<CameraView> {
        self.read().get(name).cloned()
    }
    /// Ordered by name.
    pub fn list(&self) -> Vec<CameraView> {
        self.read().values().cloned().collect()
    }
    pub fn names(&self) -> Vec<String> {
        self.read().keys().cloned().collect()
    }
}

/// The live set of cameras.
pub struct Cameras {
    store: Arc<Store>,
    clock: SharedClock,
    running: HashMap<String, RunningCamera>,
    dir: Directory,
    events: Arc<EventStore>,
    notices: tokio::sync::broadcast::Sender<crate::motion::Notice>,
}

/// The queue between a camera's hub and its motion pipeline (skipped ahead when decoding falls behind).
const MOTION_QUEUE: usize = 256;
/// Decoded pictures waiting for motion detection (MJPEG/JPEG cameras); more are dropped.
const LUMA_QUEUE: usize = 4;

impl Cameras {
    pub fn new(store: Arc<Store>, clock: SharedClock, events: Arc<EventStore>) -> Self {
        let (notices, _) = tokio::sync::broadcast::channel(256);
        Cameras { store, clock, running: HashMap::new(), dir: Directory::default(), events, notices }
    }

    /// Motion event notices (for alerts).
    pub fn notices(&self) -> tokio::sync::broadcast::Receiver<crate::motion::Notice> {
        self.notices.subscribe()
    }

    /// The view the HTTP API reads.
    pub fn directory(&self) -> Directory {
        self.dir.clone()
    }

    fn insert(&mut self, r: RunningCamera) {
        let view = CameraView {
            cfg: r.cfg.clone(),
            hub: r.hub.clone(),
            status: r.status.clone(),
            stats: r.stats.clone(),
            sub_hub: r.sub.as_ref().map(|s| s.hub.clone()),
            sub_status: r.sub.as_ref().map(|s| s.status.clone()),
            motion: r.motion.as_ref().map(|m| m.1.clone()),
        };
        self.dir.write().insert(r.cfg.name.clone(), view);
        self.running.insert(r.cfg.name.clone(), r);
    }

    /// Brings the running set in line with the config: stops removed or changed cameras, starts new ones.
    pub fn apply(&mut self, wanted: &[CameraConfig]) {
        let names: Vec<String> = self.running.keys().cloned().collect();
        for name in names {
            let keep = wanted.iter().any(|c| c.name == name && self.running.get(&name).is_some_and(|r| &r.cfg == c));
            if !keep {
                tracing::info!(camera = %name, "stopping camera (removed or changed in the config)");
                self.stop(&name);
            }
        }
        for c in wanted {
            if !self.running.contains_key(&c.name) {
                self.start(c);
            }
        }
    }

    fn start(&mut self, c: &CameraConfig) {
        let (status_tx, status_rx) = watch::channel(Status::default());
        let source = CameraAddr::parse(&c.url, c.username.as_deref(), c.password.as_deref())
            .and_then(|a| ingest::source_with_encode(a, encode_settings(&c.encode)));
        let source = match source {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(camera = %c.name, "camera not started: {e}");
                status_tx.send_modify(|s| {
                    s.state = camera::State::Offline;
                    s.last_error = Some(e.to_string());
                });
                let task = tokio::spawn(async move {
                    let _keep = status_tx; // hold the status until the camera is stopped
                    std::future::pending::<()>().await
                });
                let hub = Hub::new(Duration::ZERO);
                let stats = Arc::new(Stats::default());
                self.insert(RunningCamera {
                    cfg: c.clone(),
                    hub,
                    status: status_rx,
                    task,
                    recorder: None,
                    stats,
                    sub: None,
                    motion: None,
                });
                return;
            }
        };
        let hub = Hub::new(Duration::ZERO);
        let stats = Arc::new(Stats::default());
        let sub = match c.sub_url.as_deref() {
            Some(url) => self.start_sub(c, url),
            // An onvif:// camera's smaller profile serves as its sub-stream.
            None => crate::onvif::sub_source(c).map(|s| {
                let what = format!("{} (its ONVIF sub profile)", kw_config::redacted_url(&c.url));
                self.spawn_sub(c, s, &what)
            }),
        };
        let motion_state = Arc::new(MotionState::default());
        let camera_events = crate::onvif::wants_events(c);
        if camera_events {
            let ce = crate::onvif::CameraEvents {
                camera: c.name.clone(),
                events: self.events.clone(),
                notices: self.notices.clone(),
                state: motion_state.clone(),
                post_roll: c.motion.post_roll,
                clock: self.clock.clone(),
                own_motion: c.motion.enabled,
            };
            crate::onvif::spawn_camera_events(c, ce, status_rx.clone());
        }
        let motion = if c.motion.enabled {
            // Motion watches the sub-stream when there is one: fewer pixels to decode.
            let watched = sub.as_ref().map(|s| &s.hub).unwrap_or(&hub);
            let settings = crate::motion::Settings {
                camera: c.name.clone(),
                detector: crate::motion::detector_config(&c.motion),
                keyframes_only: c.motion.keyframes_only,
                post_roll: c.motion.post_roll,
            };
            // MJPEG/JPEG cameras hand over the pictures they decode anyway: motion needs no H.264 decode.
            let (luma_tx, luma_rx) = std::sync::mpsc::sync_channel(LUMA_QUEUE);
            let spawned = if sub.is_none() && source.luma_tap(luma_tx) {
                crate::motion::spawn_luma(
                    settings,
                    luma_rx,
                    self.events.clone(),
                    motion_state.clone(),
                    Some(self.notices.clone()),
                )
            } else {
                let rx = watched.subscribe(MOTION_QUEUE, Start::LastKeyFrame);
                crate::motion::spawn(
                    settings,
                    rx,
                    self.events.clone(),
                    motion_state.clone(),
                    Some(self.notices.clone()),
                )
            };
            match spawned {
                Ok(h) => Some((h, motion_state.clone())),
                Err(e) => {
                    tracing::error!(camera = %c.name, "cannot start motion detection: {e}");
                    None
                }
            }
        } else {
            None
        };
        let gate = match c.record {
            RecordMode::Motion if motion.is_some() || camera_events => {
                Some(recorder::Gate::new(motion_state, c.motion.pre_roll))
            }
            RecordMode::Motion => {
                tracing::warn!(camera = %c.name, "record = \"motion\" needs [cameras.motion] enabled = true: recording continuously");
                None
            }
            _ => None,
        };
        let recorder = if c.record == RecordMode::Off {
            None
        } else {
            let rx = hub.subscribe(recorder::QUEUE, Start::Now);
            match recorder::spawn(c.name.clone(), self.store.clone(), rx, stats.clone(), gate) {
                Ok(h) => Some(h),
                Err(e) => {
                    tracing::error!(camera = %c.name, "cannot start the recorder thread: {e}");
                    None
                }
            }
        };
        let task = tokio::spawn(camera::supervise(c.name.clone(), source, hub.clone(), status_tx, self.clock.clone()));
        tracing::info!(camera = %c.name, url = %kw_config::redacted_url(&c.url), "camera started");
        self.insert(RunningCamera { cfg: c.clone(), hub, status: status_rx, task, recorder, stats, sub, motion });
    }

    fn start_sub(&self, c: &CameraConfig, url: &str) -> Option<SubStream> {
        let source =
            match CameraAddr::parse(url, c.username.as_deref(), c.password.as_deref()).and_then(ingest::source_for) {
                Ok(s) => s,
                Err(e) => {
                    tracing::error!(camera = %c.name, "sub-stream not started: {e}");
                    return None;
                }
            };
        Some(self.spawn_sub(c, source, &kw_config::redacted_url(url)))
    }

    fn spawn_sub(&self, c: &CameraConfig, source: Box<dyn ingest::Source>, what: &str) -> SubStream {
        let (tx, rx) = watch::channel(Status::default());
        let hub = Hub::new(Duration::ZERO);
        let name = format!("sub:{}", c.name);
        let task = tokio::spawn(camera::supervise(name, source, hub.clone(), tx, self.clock.clone()));
        tracing::info!(camera = %c.name, url = %what, "sub-stream started");
        SubStream { hub, status: rx, task }
    }

    fn stop(&mut self, name: &str) {
        self.dir.write().remove(name);
        let Some(r) = self.running.remove(name) else { return };
        r.task.abort();
        if let Some((_, m)) = &r.motion {
            m.stopping.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        r.hub.publish_stopped();
        r.hub.close();
        if let Some(sub) = r.sub {
            sub.task.abort();
            sub.hub.publish_stopped();
            sub.hub.close();
            drop(sub.status);
        }
        if let Some((h, _)) = r.motion {
            // Ends (and stores the end of any event in progress) when its hub closes.
            let _ = h.join();
        }
        if let Some(h) = r.recorder {
            // The recorder finishes its segment when the hub says Stopped and exits when the hub is gone.
            let _ = h.join();
        }
    }

    pub fn stop_all(&mut self) {
        let names: Vec<String> = self.running.keys().cloned().collect();
        for n in names {
            self.stop(&n);
        }
    }

    pub fn statuses(&self) -> Vec<(String, Status, u64)> {
        let mut v: Vec<_> = self
            .running
            .iter()
            .map(|(n, r)| {
                (n.clone(), r.status.borrow().clone(), r.stats.frames.load(std::sync::atomic::Ordering::Relaxed))
            })
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }
}

/// `[cameras.encode]` as ingest takes it.
fn encode_settings(e: &kw_config::EncodeConfig) -> ingest::http::EncodeSettings {
    ingest::http::EncodeSettings {
        fps: e.fps,
        bitrate: e.bitrate.map(|b| u32::try_from(b).unwrap_or(u32::MAX)),
        width: e.width,
        height: e.height,
    }
}

pub fn retention_of(cfg: &Config) -> Retention {
    Retention {
        max_size: cfg.storage.max_size,
        max_age: cfg.storage.max_age,
        cameras: cfg.cameras.iter().map(|c| (c.name.clone(), (c.max_size, c.max_age))).collect(),
    }
}

/// The `home`-mode windows of `[alerts] schedule` (validated when the config was read).
fn schedule_of(cfg: &Config) -> Option<kw_notify::Schedule> {
    cfg.alerts.schedule.as_deref().and_then(|s| kw_notify::Schedule::parse(s).ok())
}

/// `keepwatch run`.
pub fn run(config: &Path) -> Result<(), Failure> {
    let cfg = kw_config::load(config)?;
    runtime()?.block_on(serve(config.to_path_buf(), cfg, |_| {}))
}

pub fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("keepwatch")
        .build()
        .map_err(|e| Failure::runtime(format!("cannot start the runtime: {e}")))
}

/// Serves until Ctrl-C or SIGTERM. `tick` is called every few seconds with the camera statuses (the demo
/// prints them).
pub async fn serve(
    config: PathBuf,
    cfg: Config,
    mut tick: impl FnMut(&[(String, Status, u64)]),
) -> Result<(), Failure> {
    let bound = crate::http::bind(cfg.server.listen)?;
    let store = {
        let (config, cfg) = (config.clone(), cfg.clone());
        tokio::task::spawn_blocking(move || crate::storeopen::open_for_run(&config, &cfg))
            .await
            .map_err(|e| Failure::runtime(format!("store open task failed: {e}")))??
    };
    let store = Arc::new(store);
    let recovered = {
        let s = store.clone();
        tokio::task::spawn_blocking(move || s.recover()).await.map_err(|e| Failure::runtime(e.to_string()))?
    };
    match recovered {
        Ok(r) => tracing::info!(
            "store {} at {} opened; {}",
            store.id(),
            cfg.storage.path.display(),
            r.to_string().trim_end()
        ),
        Err(e) => return Err(Failure::runtime(format!("recovery of the store failed: {e}"))),
    }
    let clock: SharedClock = Arc::new(SystemClock);
    let index_file = cfg.storage.path.join(kw_store::INDEX_FILE);
    let events =
        Arc::new(crate::events::EventStore::open(&index_file).map_err(|e| {
            Failure::runtime(format!("cannot open the events tables in {}: {e}", index_file.display()))
        })?);
    match events.finish_open(clock.wall()) {
        Ok(n) if n > 0 => tracing::info!("ended {n} event(s) left open by the last run"),
        Ok(_) => {}
        Err(e) => tracing::warn!("cannot end events left open: {e}"),
    }
    let mut cameras = Cameras::new(store.clone(), clock.clone(), events.clone());
    let link_key = crate::http::links::LinkKey::load_or_create(&cfg.storage.path).map_err(|e| {
        Failure::runtime(format!("cannot read or make the link key in {}: {e}", cfg.storage.path.display()))
    })?;
    let alerts =
        {
            let (k, c2) = (link_key.clone(), clock.clone());
            let signer: kw_notify::LinkSigner = Arc::new(move |path: &str| {
                k.sign(path, c2.wall().div_euclid(1_000_000) + crate::http::links::LINK_TTL_SECS)
            });
            let options = kw_notify::Options {
                language: cfg.server.language.unwrap_or(kw_config::Language::En),
                timezone: cfg.server.timezone.clone(),
                clock: clock.clone(),
                base_url: cfg.alerts.public_url.clone(),
                link_signer: Some(signer),
            };
            Arc::new(kw_notify::Alerts::open(&index_file, &cfg.notify, options).map_err(|e| {
                Failure::runtime(format!("cannot open the alerts outbox in {}: {e}", index_file.display()))
            })?)
        };
    alerts.set_cameras(&cfg.cameras.iter().map(|c| c.name.clone()).collect::<Vec<_>>());
    alerts.set_schedule(schedule_of(&cfg));
    let alerts_task = alerts.clone().spawn();
    let mut commands = alerts.commands();
    let forward_task = tokio::spawn(crate::alerting::forward_motion(alerts.clone(), events.clone(), cameras.notices()));
    let health_task = tokio::spawn(crate::alerting::watch_health(
        alerts.clone(),
        events.clone(),
        cameras.directory(),
        store.clone(),
        cfg.storage.path.clone(),
        clock.clone(),
    ));
    let config_changed = Arc::new(tokio::sync::Notify::new());
    let parts = crate::http::Parts {
        store: store.clone(),
        cameras: cameras.directory(),
        clock: clock.clone(),
        events: events.clone(),
        alerts: alerts.clone(),
        links: link_key,
        config_changed: config_changed.clone(),
    };
    let state = Arc::new(crate::http::AppState::new(parts, &index_file, &cfg.server, config.clone())?);
    match state.with_auth(|db| db.list_users()).await {
        Ok(users) if users.is_empty() => tracing::warn!(
            "no users yet, so nobody can log in. Create the first admin with: keepwatch user add admin --role admin --config {} (it reads the password from stdin)",
            config.display()
        ),
        Ok(_) => {}
        Err(e) => return Err(Failure::runtime(format!("cannot read the users: {}", e.message))),
    }
    let handle = axum_server::Handle::new();
    let server = tokio::spawn(crate::http::serve(bound, cfg.server.tls.clone(), state, handle.clone()));
    tokio::pin!(server);
    let mut current = cfg.clone();
    cameras.apply(&crate::alerting::effective_cameras(&alerts, &current.cameras));
    if cfg.cameras.is_empty() {
        tracing::warn!("no cameras configured: add a [[cameras]] section to {}", config.display());
    }

    let retention = Arc::new(std::sync::Mutex::new(retention_of(&cfg)));
    let retention_task = {
        let (store, retention, clock) = (store.clone(), retention.clone(), clock.clone());
        let (events, keep_events) = (events.clone(), cfg.storage.max_age.unwrap_or(crate::events::DEFAULT_KEEP));
        tokio::spawn(async move {
            let mut every = tokio::time::interval(RETENTION_EVERY);
            let mut n = 0u64;
            loop {
                every.tick().await;
                n += 1;
                if n % 600 == 1 {
                    let (events, before) = (events.clone(), clock.wall() - keep_events.as_micros() as i64);
                    if let Ok(Err(e)) = tokio::task::spawn_blocking(move || events.prune(before)).await {
                        tracing::error!("pruning old events failed: {e}");
                    }
                }
                let policy = retention.lock().map(|p| p.clone()).unwrap_or_else(|p| p.into_inner().clone());
                let (store, now) = (store.clone(), clock.wall());
                match tokio::task::spawn_blocking(move || store.enforce_retention(&policy, now)).await {
                    Ok(Ok(deleted)) if !deleted.is_empty() => {
                        tracing::info!("retention: deleted {} old segment(s)", deleted.len())
                    }
                    Ok(Err(e)) => tracing::error!("retention failed: {e}"),
                    _ => {}
                }
            }
        })
    };

    let mut last_text = std::fs::read_to_string(&config).unwrap_or_default();
    let mut poll = tokio::time::interval(CONFIG_POLL);
    let mut ticks = 0u64;
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            // An API edit saved the file: look at it now.
            _ = config_changed.notified() => poll.reset_immediately(),
            Some(cmd) = commands.recv() => {
                tracing::info!(camera = %cmd.camera, "switch {} turned {} (Home Assistant or API)", cmd.what.as_str(), if cmd.on { "on" } else { "off" });
                // Stopping a camera joins its recorder and motion threads: not on the reactor.
                let wanted = crate::alerting::effective_cameras(&alerts, &current.cameras);
                tokio::task::block_in_place(|| cameras.apply(&wanted));
            }
            r = &mut server => {
                retention_task.abort();
                tokio::task::block_in_place(|| cameras.stop_all());
                return match r {
                    Ok(Err(e)) => Err(e),
                    Ok(Ok(())) => Err(Failure::runtime("the HTTP server stopped")),
                    Err(e) => Err(Failure::runtime(format!("the HTTP server failed: {e}"))),
                };
            }
            _ = poll.tick() => {
                ticks += 1;
                if ticks.is_multiple_of(5) {
                    tick(&cameras.statuses());
                }
                let Ok(text) = std::fs::read_to_string(&config) else { continue };
                if text == last_text {
                    continue;
                }
                last_text = text.clone();
                match kw_config::parse(&text, &config) {
                    Err(e) => tracing::error!("config change not applied, keeping the running setup: {e}"),
                    Ok(new) => {
                        tracing::info!("config changed: applying");
                        if new.storage.path != cfg.storage.path || new.server != cfg.server {
                            tracing::warn!("[server] and [storage] path changes take effect after a restart");
                        }
                        if let Ok(mut r) = retention.lock() {
                            *r = retention_of(&new);
                        }
                        alerts.update_notifiers(&new.notify);
                        alerts.set_schedule(schedule_of(&new));
                        alerts.set_cameras(&new.cameras.iter().map(|c| c.name.clone()).collect::<Vec<_>>());
                        let wanted = crate::alerting::effective_cameras(&alerts, &new.cameras);
                        tokio::task::block_in_place(|| cameras.apply(&wanted));
                        current = new;
                    }
                }
            }
        }
    }
    tracing::info!("shutting down: finishing open segments");
    handle.graceful_shutdown(Some(crate::http::SHUTDOWN_GRACE));
    retention_task.abort();
    health_task.abort();
    tokio::task::block_in_place(|| cameras.stop_all());
    // Motion events ended by the cameras' stop reach the outbox before the workers go.
    tokio::time::sleep(Duration::from_millis(200)).await;
    forward_task.abort();
    alerts_task.abort();
    Ok(())
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
