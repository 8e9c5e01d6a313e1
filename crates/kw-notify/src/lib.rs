//! keepwatch's alerts: tell people about events, on their phone or in Home Assistant, within seconds, with
//! a picture, and without anyone's cloud in between unless they configure one.
//!
//! The host (the daemon) hands [`Alerts`] each event phase; the crate decides which `[[notify]]` entries
//! get it and delivers it. Why it is built this way:
//!
//! - **Outbox first.** [`Alerts::event`] only writes rows into an outbox table in the store's SQLite file
//!   (one row per notifier, event and phase, with the delivery JSON and the JPEG) and returns; nothing on
//!   the motion path waits for a network. Delivery workers send from the outbox and mark rows done, so a
//!   target that is down gets its alerts when it returns, and a restart loses nothing pending. Delivery is
//!   at least once; each delivery carries `dedup_key` = `{event id}-{phase}-{notifier}` for the receiver to
//!   drop repeats. The outbox is bounded: a row still pending after 24 h is given up, JPEGs are dropped
//!   once delivered, after a day, and beyond the newest 50 pending per notifier; done rows go after 7 days.
//! - **One worker per notifier**, each with its own database connection and retry clock, so a dead mail
//!   server never delays MQTT. Retries back off exponentially from 1 s to 5 min.
//! - **Filters, mode, cooldown** are decided when the alert is queued, in one transaction: the notifier's
//!   `cameras` and `events`, then the [`Mode`] (see [`mode`] for the rule: `off` and unarmed `home` drop
//!   motion, health alerts always go out), then `cooldown` per (notifier, camera, kind) counted between
//!   queued starts. An end phase follows its start: it goes out exactly when the start went out.
//! - **MQTT is a state mirror** for Home Assistant, not an alert channel: it gets every phase whatever the
//!   mode and cooldown (filters still apply), so HA's motion sensors are always right; see [`mqtt`] for
//!   the topics and discovery. Commands from HA (switches, mode) come back through [`Alerts::commands`]
//!   and [`Alerts::set_mode`]; those that switch recording, motion detection or alerts off are obeyed
//!   only from a notifier with `commands = true` (broker ACLs then decide who may send them).
//!
//! Text that others choose (broker topics, servers' answers) reaches the log only through
//! [`kw_logsafe::Untrusted`].
//!
//! Delivery kinds: webhook (signed JSON POST), ntfy (push with the JPEG attached), e-mail (lettre,
//! STARTTLS or TLS, JPEG attached), MQTT (rumqttc, Home Assistant discovery). All TLS is rustls on ring.
//! Texts are English or German (`[server] language`). Secrets never reach a log: targets are logged
//! redacted ([`kw_config::redacted_url`]).
#![forbid(unsafe_code)]

mod db;
mod deliver;
mod error;
mod event;
pub mod mode;
pub mod mqtt;
mod supervisor;
mod text;
mod tls;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use bytes::Bytes;
use kw_config::{Language, NotifyConfig, NotifyKind};
use kw_media::clock::{SharedClock, SystemClock};
use tokio::sync::{mpsc, watch, Notify};
use tokio::task::JoinHandle;

pub use db::{Counts, SCHEMA_VERSION};
pub use error::{NotifyError, Result};
pub use event::{dedup_key, snapshot_path, Event, EventKind, Phase};
pub use mode::{Mode, Schedule};

use db::Db;

/// Turns an API path (`/api/events/42/snapshot.jpg`) into the path and query to put in alerts, e.g. by
/// appending a signed, expiring `?exp=&sig=` that the HTTP server checks. The host supplies it; without
/// one, links are plain (the receiver needs a login or `?token=`).
pub type LinkSigner = Arc<dyn Fn(&str) -> String + Send + Sync>;

/// How the engine is set up, besides the notifiers.
#[derive(Clone)]
pub struct Options {
    /// The server's public base URL (`https://nvr.example.org`); links in alerts are absolute when set and
    /// plain API paths when not. A trailing `/` is ignored.
    pub base_url: Option<String>,
    /// Language of message texts (`[server] language`; default English).
    pub language: Language,
    /// IANA time zone for texts and schedules (`[server] timezone`); `None` is the system's.
    pub timezone: Option<String>,
    /// The clock (`kw_media::clock`): cooldowns, schedules, retry times and the outbox's bookkeeping ask
    /// it, so tests move time by hand with a `FakeClock` instead of sleeping. Sleeping between retries still
    /// uses tokio's timer; a worker re-reads the clock at least every few seconds, so a moved fake clock is
    /// noticed promptly.
    pub clock: SharedClock,
    /// Signs links in alerts; see [`LinkSigner`].
    pub link_signer: Option<LinkSigner>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            base_url: None,
            language: Language::En,
            timezone: None,
            clock: SystemClock::shared(),
            link_signer: None,
        }
    }
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("base_url", &self.base_url)
            .field("language", &self.language)
            .field("timezone", &self.timezone)
            .field("link_signer", &self.link_signer.is_some())
            .finish_non_exhaustive()
    }
}

/// A per-camera switch that Home Assistant (or the API) turns on and off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Switch {
    /// Whether the camera records.
    Recording,
    /// Whether motion detection runs.
    Motion,
}

impl Switch {
    /// `recording` or `motion` (the database's spelling).
    pub fn as_str(self) -> &'static str {
        match self {
            Switch::Recording => "recording",
            Switch::Motion => "motion",
        }
    }
}

/// A command from outside (Home Assistant) for the host to obey: turn a camera's switch on or off.
/// The new state is already stored ([`Alerts::switch`]) and mirrored to MQTT when this arrives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// The camera.
    pub camera: String,
    /// Which switch.
    pub what: Switch,
    /// The new state.
    pub on: bool,
}

/// What happened to one event phase at one notifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Queued in the outbox.
    Queued,
    /// This (event, phase) was queued before; not again.
    AlreadyQueued,
    /// The notifier is not for this camera.
    OtherCamera,
    /// The notifier is not for this kind of event.
    OtherKind,
    /// The notifier wants events with certain labels (`labels`), and this one has none of them.
    OtherLabels,
    /// Motion while disarmed (mode `off`, or `home` outside the schedule).
    Disarmed,
    /// Within the cooldown after the last alert for this camera and kind.
    Cooldown,
    /// An end whose start was not sent (suppressed), so the end is not sent either.
    StartNotSent,
}

/// The result of [`Alerts::event`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Per notifier, in config order.
    pub decisions: Vec<(String, Decision)>,
    /// Set when the outbox could not be written (the alert is lost; logged as an error too).
    pub error: Option<String>,
}

impl Outcome {
    /// The decision for `notifier`.
    pub fn decision(&self, notifier: &str) -> Option<Decision> {
        self.decisions.iter().find(|(n, _)| n == notifier).map(|(_, d)| *d)
    }
}

/// Settings every worker needs.
pub(crate) struct Ctx {
    pub language: Language,
    pub tz: jiff::tz::TimeZone,
    pub base_url: Option<String>,
    pub signer: Option<LinkSigner>,
    pub clock: SharedClock,
}

/// One second in µs (the unit of the clock and of the outbox's times).
pub(crate) const SECOND: i64 = 1_000_000;

impl Ctx {
    /// Wall-clock time, µs since the epoch.
    pub(crate) fn now(&self) -> i64 {
        self.clock.wall()
    }

    /// The snapshot link for an event: absolute with a base URL, else the API path; signed if a signer is set.
    pub(crate) fn snapshot_link(&self, event_id: i64) -> String {
        let path = snapshot_path(event_id);
        let path = match &self.signer {
            Some(sign) => sign(&path),
            None => path,
        };
        match &self.base_url {
            Some(base) => format!("{}{path}", base.trim_end_matches('/')),
            None => path,
        }
    }
}

/// The alerts engine. Share it as `Arc<Alerts>`; start delivery with [`Alerts::spawn`].
pub struct Alerts {
    path: PathBuf,
    db: Db,
    ctx: Arc<Ctx>,
    notifiers: watch::Sender<Arc<Vec<NotifyConfig>>>,
    schedule: RwLock<Option<Schedule>>,
    mode: watch::Sender<Mode>,
    cameras: watch::Sender<Arc<Vec<String>>>,
    /// Bumped when a switch changes, so MQTT workers republish switch states.
    switches: watch::Sender<u64>,
    commands: Mutex<Option<mpsc::Sender<Command>>>,
    wakers: Mutex<HashMap<String, Arc<Notify>>>,
}

impl std::fmt::Debug for Alerts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Alerts").field("path", &self.path).field("notifiers", &*self.notifiers.borrow()).finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Alerts {
    /// Opens (creating the tables if needed) the alerts state in the SQLite file at `db_path` (the store's
    /// `index.sqlite3`). Nothing is delivered until [`Alerts::spawn`].
    pub fn open(db_path: &Path, notifiers: &[NotifyConfig], options: Options) -> Result<Alerts> {
        let conn = db::open(db_path)?;
        let mode = db::state::mode(&conn)?;
        let tz = match &options.timezone {
            Some(name) => jiff::tz::TimeZone::get(name).map_err(|_| NotifyError::TimeZone(name.clone()))?,
            None => jiff::tz::TimeZone::try_system().unwrap_or(jiff::tz::TimeZone::UTC),
        };
        let ctx = Ctx {
            language: options.language,
            tz,
            base_url: options.base_url.filter(|b| !b.trim().is_empty()),
            signer: options.link_signer,
            clock: options.clock,
        };
        Ok(Alerts {
            path: db_path.to_path_buf(),
            db: Db::new(conn),
            ctx: Arc::new(ctx),
            notifiers: watch::Sender::new(Arc::new(notifiers.to_vec())),
            schedule: RwLock::new(None),
            mode: watch::Sender::new(mode),
            cameras: watch::Sender::new(Arc::new(Vec::new())),
            switches: watch::Sender::new(0),
            commands: Mutex::new(None),
            wakers: Mutex::new(HashMap::new()),
        })
    }

    /// Replaces the notifiers (config reload). Workers of removed or changed notifiers stop (a delivery in
    /// flight is retried by the new worker); pending alerts of a removed notifier are dropped at the next
    /// housekeeping.
    pub fn update_notifiers(&self, notifiers: &[NotifyConfig]) {
        self.notifiers.send_replace(Arc::new(notifiers.to_vec()));
    }

    /// The notifiers in use.
    pub fn notifiers(&self) -> Arc<Vec<NotifyConfig>> {
        self.notifiers.borrow().clone()
    }

    /// Tells the engine the cameras there are (for Home Assistant discovery; removed cameras' entities are
    /// removed from HA).
    pub fn set_cameras(&self, cameras: &[String]) {
        let mut list = cameras.to_vec();
        list.sort();
        list.dedup();
        self.cameras.send_if_modified(|old| {
            let changed = **old != list;
            if changed {
                *old = Arc::new(list);
            }
            changed
        });
    }

    /// Sets (or with `None` clears) the schedule that arms `home` mode; see [`mode`].
    pub fn set_schedule(&self, schedule: Option<Schedule>) {
        *self.schedule.write().unwrap_or_else(PoisonError::into_inner) = schedule;
    }

    /// Whether motion alerts go out right now.
    pub fn motion_armed(&self) -> bool {
        self.motion_armed_at(self.mode(), self.ctx.now())
    }

    fn motion_armed_at(&self, mode: Mode, now: i64) -> bool {
        let in_window = self
            .schedule
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .is_some_and(|s| s.contains_instant(now, &self.ctx.tz));
        mode::motion_armed(mode, in_window)
    }

    /// Queues one event phase for every notifier that wants it (see the crate docs for the rules) and wakes
    /// their workers. Returns at once; delivery happens in the workers. `jpeg` is the picture to send
    /// (usually with the start, or the best frame with the end).
    pub async fn event(&self, phase: Phase, ev: &Event, jpeg: Option<Bytes>) -> Outcome {
        let notifiers = self.notifiers();
        if notifiers.is_empty() {
            return Outcome::default();
        }
        let now = self.ctx.now();
        let schedule = self.schedule.read().unwrap_or_else(PoisonError::into_inner).clone();
        let tz = self.ctx.tz.clone();
        let snapshot = self.ctx.snapshot_link(ev.id);
        let event = ev.clone();
        let list = notifiers.clone();
        let result = self
            .db
            .call(move |conn| {
                let mode = db::state::mode(conn)?;
                let in_window = schedule.as_ref().is_some_and(|s| s.contains_instant(now, &tz));
                let e = db::Enqueue {
                    ev: &event,
                    phase,
                    now,
                    motion_armed: mode::motion_armed(mode, in_window),
                    snapshot: &snapshot,
                    jpeg: jpeg.as_deref(),
                };
                Ok((mode, db::outbox::enqueue(conn, &list, &e)?))
            })
            .await;
        match result {
            Ok((mode, decisions)) => {
                self.mode.send_if_modified(|old| std::mem::replace(old, mode) != mode);
                for (name, d) in &decisions {
                    tracing::debug!(notifier = %name, event = ev.id, camera = %ev.camera, kind = %ev.kind,
                        phase = %phase, mode = %mode, decision = ?d, "alert");
                    if *d == Decision::Queued {
                        self.wake(name);
                    }
                }
                Outcome { decisions, error: None }
            }
            Err(e) => {
                tracing::error!(event = ev.id, camera = %ev.camera, kind = %ev.kind, phase = %phase,
                    "cannot queue alert: {e}");
                Outcome { decisions: Vec::new(), error: Some(e.to_string()) }
            }
        }
    }

    /// The alert mode, as stored (so a change made by another process, e.g. the CLI, is seen).
    pub fn mode(&self) -> Mode {
        match self.db.with(|c| db::state::mode(c)) {
            Ok(m) => {
                self.mode.send_if_modified(|old| std::mem::replace(old, m) != m);
                m
            }
            Err(e) => {
                tracing::warn!("cannot read the alert mode, using the last known: {e}");
                *self.mode.borrow()
            }
        }
    }

    /// Sets and stores the alert mode; MQTT mirrors it at once.
    pub fn set_mode(&self, mode: Mode) -> Result<()> {
        self.db.with(|c| db::state::set_mode(c, mode))?;
        tracing::info!(%mode, "alert mode set");
        self.mode.send_replace(mode);
        Ok(())
    }

    /// Follows mode changes (made here, over MQTT, or noticed in the database).
    pub fn watch_mode(&self) -> watch::Receiver<Mode> {
        self.mode.subscribe()
    }

    /// A camera switch's stored state (on unless turned off).
    pub fn switch(&self, camera: &str, what: Switch) -> bool {
        self.db.with(|c| db::state::switch(c, camera, what)).unwrap_or(true)
    }

    /// Stores a camera switch's state (from the API, or as the host confirms a change) and mirrors it to
    /// MQTT. Does not send a [`Command`]: the caller is the host.
    pub fn set_switch(&self, camera: &str, what: Switch, on: bool) -> Result<()> {
        self.db.with(|c| db::state::set_switch(c, camera, what, on))?;
        self.switches.send_modify(|g| *g = g.wrapping_add(1));
        Ok(())
    }

    /// A new receiver of [`Command`]s from Home Assistant. Only the latest receiver gets commands (an
    /// earlier one sees its channel closed); commands arriving with no receiver, or while it is 64 behind,
    /// are dropped with a warning (their switch state is stored all the same).
    pub fn commands(&self) -> mpsc::Receiver<Command> {
        let (tx, rx) = mpsc::channel(64);
        *lock(&self.commands) = Some(tx);
        rx
    }

    /// Applies a switch command from outside: store, mirror, forward to the host.
    pub(crate) fn command(&self, cmd: Command) {
        tracing::info!(camera = %cmd.camera, what = cmd.what.as_str(), on = cmd.on, "switch command");
        if let Err(e) = self.set_switch(&cmd.camera, cmd.what, cmd.on) {
            tracing::warn!("cannot store switch state: {e}");
        }
        let sender = lock(&self.commands).clone();
        match sender {
            Some(tx) => {
                if let Err(e) = tx.try_send(cmd) {
                    tracing::warn!("switch command dropped: {e}");
                }
            }
            None => tracing::warn!("switch command dropped: nobody listens for commands"),
        }
    }

    /// Sends a test alert through `notifier` right now, bypassing the outbox, filters and mode, and says
    /// what happened (for the "send test" button and `keepwatch notify test`).
    pub async fn test(&self, notifier: &str) -> Result<String> {
        let cfg = self
            .notifiers()
            .iter()
            .find(|n| n.name == notifier)
            .cloned()
            .ok_or_else(|| NotifyError::NoSuchNotifier(notifier.to_string()))?;
        self.test_config(&cfg).await
    }

    /// Sends a test alert through a notifier that need not be configured yet (the editor's "send test"
    /// before saving), like [`Alerts::test`].
    pub async fn test_config(&self, cfg: &NotifyConfig) -> Result<String> {
        match cfg.kind {
            NotifyKind::Mqtt => mqtt::test(cfg, &self.ctx).await,
            _ => deliver::test(cfg, &self.ctx).await,
        }
    }

    /// Outbox rows by state, for one notifier or (with `None`) all; for metrics and tests.
    pub fn outbox_counts(&self, notifier: Option<&str>) -> Result<Counts> {
        self.db.with(|c| db::outbox::counts(c, notifier))
    }

    /// Starts delivery: a supervisor task that runs one worker per notifier (restarting them on
    /// [`Alerts::update_notifiers`]), keeps the outbox bounded and follows mode changes made elsewhere.
    /// Aborting the returned handle stops every worker; pending alerts stay in the outbox for next time.
    pub fn spawn(self: Arc<Self>) -> JoinHandle<()> {
        tokio::spawn(supervisor::run(self))
    }

    /// The waker of `notifier`'s worker (created on first use, so a wake before the worker starts is kept).
    pub(crate) fn waker(&self, notifier: &str) -> Arc<Notify> {
        lock(&self.wakers).entry(notifier.to_string()).or_default().clone()
    }

    fn wake(&self, notifier: &str) {
        self.waker(notifier).notify_one();
    }

    pub(crate) fn db_path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn ctx(&self) -> &Arc<Ctx> {
        &self.ctx
    }
}
