//! The MQTT worker of one notifier: connect, bring Home Assistant up to date, then mirror each outbox row.
//!
//! The worker keeps a small mirror of what it has published (which cameras have motion going on, each
//! camera's last picture and event), which it republishes after every reconnect; see the module docs of
//! [`crate::mqtt`] for the order of things and why.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use kw_config::{redacted_url, NotifyConfig};
use kw_logsafe::{Untrusted, UntrustedBytes};
use tokio::sync::Notify;

use super::conn::Conn;
use super::{
    camera_topic, client_id, discovery, label_discovery, label_topic, mode_discovery, on_off, options, parse_command,
    switch_leaf, MqttCommand, DEFAULT_DISCOVERY_PREFIX, MODE_SET_TOPIC, MODE_TOPIC, ROOT, STATUS_TOPIC,
};
use crate::db::{outbox, Db, Row};
use crate::event::Phase;
use crate::{Alerts, Command, Mode, Switch};

/// How long the broker may take to acknowledge what we sent.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// The longest wait between reconnect attempts.
const MAX_RECONNECT_WAIT: Duration = Duration::from_secs(30);
/// A row that breaks the connection this often is given up (e.g. larger than the broker accepts).
const MAX_ROW_ATTEMPTS: i64 = 10;

/// What this worker has published, to republish after a reconnect.
#[derive(Default)]
struct Mirror {
    motion: HashMap<String, HashSet<i64>>,
    snapshot: HashMap<String, Bytes>,
    event: HashMap<String, String>,
    /// (camera, label) → motion events with that label going on.
    labels: HashMap<(String, String), HashSet<i64>>,
}

/// The most (camera, label) sensors one worker keeps (labels are bounded per event; this bounds the sum).
const MAX_LABEL_SENSORS: usize = 1024;

impl Mirror {
    fn apply(&mut self, row: &Row) {
        if let Some(jpeg) = &row.jpeg {
            self.snapshot.insert(row.camera.clone(), Bytes::from(jpeg.clone()));
        }
        self.event.insert(row.camera.clone(), row.payload.clone());
        if row.kind.is_motion() {
            let set = self.motion.entry(row.camera.clone()).or_default();
            match row.phase {
                Phase::Start => set.insert(row.event_id),
                Phase::End => set.remove(&row.event_id),
            };
        }
    }

    /// The label sensors `row` changes, with their new state (a start with labels turns them on; an end
    /// turns off what it had turned on).
    fn apply_labels(&mut self, row: &Row) -> Vec<((String, String), bool)> {
        if !row.kind.is_motion() {
            return Vec::new();
        }
        let mut changed = Vec::new();
        match row.phase {
            Phase::Start => {
                for label in crate::event::payload_labels(&row.payload) {
                    let key = (row.camera.clone(), label);
                    if !self.labels.contains_key(&key) && self.labels.len() >= MAX_LABEL_SENSORS {
                        continue;
                    }
                    self.labels.entry(key.clone()).or_default().insert(row.event_id);
                    changed.push((key, true));
                }
            }
            Phase::End => {
                for (key, set) in self.labels.iter_mut().filter(|(k, _)| k.0 == row.camera) {
                    if set.remove(&row.event_id) {
                        changed.push((key.clone(), !set.is_empty()));
                    }
                }
            }
        }
        changed
    }

    fn motion_on(&self, camera: &str) -> bool {
        self.motion.get(camera).is_some_and(|s| !s.is_empty())
    }
}

/// Runs until aborted.
pub(crate) async fn run(alerts: Arc<Alerts>, cfg: NotifyConfig, wake: Arc<Notify>) {
    let db = crate::deliver::open_db(&alerts).await;
    let shown = redacted_url(&cfg.target);
    let mut mirror = Mirror::default();
    let mut failures: u32 = 0;
    loop {
        let opts = match options(&cfg, client_id(&cfg.name, "live"), true) {
            Ok(o) => o,
            Err(e) => {
                tracing::error!(notifier = %cfg.name, "{e}; its alerts wait in the outbox until the config is fixed");
                return;
            }
        };
        let started = Instant::now();
        let mut conn = Conn::start(opts);
        let mut session = Session { alerts: &alerts, cfg: &cfg, db: &db, conn: &mut conn, mirror: &mut mirror };
        let result = session.run(&wake).await;
        drop(conn);
        let e = match result {
            Ok(never) => match never {},
            Err(e) => e,
        };
        if started.elapsed() > MAX_RECONNECT_WAIT {
            failures = 0;
        }
        failures = failures.saturating_add(1);
        let wait = Duration::from_secs(1 << failures.saturating_sub(1).min(5)).min(MAX_RECONNECT_WAIT);
        tracing::warn!(notifier = %cfg.name, target = %shown, retry_in_s = wait.as_secs(), "MQTT: {e}");
        tokio::time::sleep(wait).await;
    }
}

/// A value that cannot exist: `run` returns only errors.
enum Never {}

struct Session<'a> {
    alerts: &'a Arc<Alerts>,
    cfg: &'a NotifyConfig,
    db: &'a Db,
    conn: &'a mut Conn,
    mirror: &'a mut Mirror,
}

impl Session<'_> {
    async fn run(&mut self, wake: &Notify) -> Result<Never, String> {
        self.conn.connected(CONNECT_TIMEOUT).await?;
        tracing::info!(notifier = %self.cfg.name, target = %redacted_url(&self.cfg.target), "MQTT connected");
        // The switches' commands only where this notifier obeys them (see the module docs of `mqtt`).
        let mut filters = vec![MODE_SET_TOPIC.to_string()];
        if self.cfg.commands {
            filters.extend([format!("{ROOT}/+/recording/set"), format!("{ROOT}/+/motion_detection/set")]);
        }
        for filter in filters {
            self.conn.subscribe(&filter).await?;
        }
        let mut cameras_rx = self.alerts.cameras.subscribe();
        let mut switches_rx = self.alerts.switches.subscribe();
        let mut mode_rx = self.alerts.mode.subscribe();
        let prefix = self.cfg.discovery_prefix.clone().unwrap_or_else(|| DEFAULT_DISCOVERY_PREFIX.to_string());
        let (topic, payload) = mode_discovery(&prefix);
        self.conn.publish(&topic, true, payload).await?;
        self.conn.publish(STATUS_TOPIC, true, "online").await?;
        let mode = *mode_rx.borrow_and_update();
        self.conn.publish(MODE_TOPIC, true, mode.as_str()).await?;
        // Pictures and events first, so that whoever reacts to a motion state finds the matching picture.
        let cameras = cameras_rx.borrow_and_update().clone();
        self.republish_mirror(&cameras).await?;
        let mut announced: Vec<String> = Vec::new();
        self.sync_cameras(&prefix, &cameras, &mut announced).await?;
        switches_rx.borrow_and_update();
        self.conn.flush(FLUSH_TIMEOUT).await?;
        self.handle_inbox().await?;
        loop {
            self.deliver_due().await?;
            tokio::select! {
                _ = wake.notified() => {}
                _ = cameras_rx.changed() => {
                    let cameras = cameras_rx.borrow_and_update().clone();
                    self.sync_cameras(&prefix, &cameras, &mut announced).await?;
                    self.conn.flush(FLUSH_TIMEOUT).await?;
                }
                _ = switches_rx.changed() => {
                    switches_rx.borrow_and_update();
                    for camera in announced.clone() {
                        self.publish_switches(&camera).await?;
                    }
                    self.conn.flush(FLUSH_TIMEOUT).await?;
                }
                _ = mode_rx.changed() => {
                    let mode = *mode_rx.borrow_and_update();
                    self.conn.publish(MODE_TOPIC, true, mode.as_str()).await?;
                    self.conn.flush(FLUSH_TIMEOUT).await?;
                }
                message = self.conn.next() => {
                    let (topic, payload) = message?;
                    self.command(&topic, &payload);
                }
                _ = tokio::time::sleep(Duration::from_secs(5)) => {}
            }
            self.handle_inbox().await?;
        }
    }

    /// Announces `cameras` (those this notifier is for), removes cameras no longer there, publishes states.
    async fn sync_cameras(
        &mut self,
        prefix: &str,
        cameras: &[String],
        announced: &mut Vec<String>,
    ) -> Result<(), String> {
        let wanted: Vec<String> = cameras.iter().filter(|c| self.cfg.wants_camera(c)).cloned().collect();
        for gone in announced.iter().filter(|c| !wanted.contains(c)) {
            for (topic, payload) in discovery(prefix, gone, true, self.cfg.commands) {
                self.conn.publish(&topic, true, payload).await?;
            }
        }
        for camera in wanted.iter().filter(|c| !announced.contains(c)) {
            for (topic, payload) in discovery(prefix, camera, false, self.cfg.commands) {
                self.conn.publish(&topic, true, payload).await?;
            }
            self.conn.publish(&camera_topic(camera, "motion"), true, on_off(self.mirror.motion_on(camera))).await?;
            self.publish_switches(camera).await?;
        }
        *announced = wanted;
        Ok(())
    }

    async fn publish_switches(&mut self, camera: &str) -> Result<(), String> {
        for what in [Switch::Recording, Switch::Motion] {
            let cam = camera.to_string();
            let on = self.db.call(move |c| crate::db::state::switch(c, &cam, what)).await.unwrap_or(true);
            self.conn.publish(&camera_topic(camera, switch_leaf(what)), true, on_off(on)).await?;
        }
        Ok(())
    }

    /// Pictures and events of every camera this worker has published before, and the motion state of
    /// those not in `cameras` (which [`Session::sync_cameras`] covers).
    async fn republish_mirror(&mut self, cameras: &[String]) -> Result<(), String> {
        let snapshots: Vec<(String, Bytes)> =
            self.mirror.snapshot.iter().map(|(c, j)| (c.clone(), j.clone())).collect();
        for (camera, jpeg) in snapshots {
            self.conn.publish(&camera_topic(&camera, "snapshot"), true, jpeg).await?;
        }
        let events: Vec<(String, String)> = self.mirror.event.iter().map(|(c, e)| (c.clone(), e.clone())).collect();
        for (camera, json) in events {
            self.conn.publish(&camera_topic(&camera, "event"), true, json).await?;
        }
        let cameras: Vec<String> = self.mirror.motion.keys().filter(|c| !cameras.contains(c)).cloned().collect();
        for camera in cameras {
            self.conn.publish(&camera_topic(&camera, "motion"), true, on_off(self.mirror.motion_on(&camera))).await?;
        }
        let labels: Vec<((String, String), bool)> =
            self.mirror.labels.iter().map(|(k, s)| (k.clone(), !s.is_empty())).collect();
        let prefix = self.cfg.discovery_prefix.clone().unwrap_or_else(|| DEFAULT_DISCOVERY_PREFIX.to_string());
        for ((camera, label), on) in labels {
            let (topic, payload) = label_discovery(&prefix, &camera, &label);
            self.conn.publish(&topic, true, payload).await?;
            self.conn.publish(&label_topic(&camera, &label), true, on_off(on)).await?;
        }
        Ok(())
    }

    /// Publishes every due row in order, each acknowledged before it is marked delivered.
    async fn deliver_due(&mut self) -> Result<(), String> {
        loop {
            let now = self.alerts.ctx().now();
            let name = self.cfg.name.clone();
            let row = self.db.call(move |c| outbox::next_due(c, &name, now)).await.map_err(|e| e.to_string())?;
            let Some(row) = row else { return Ok(()) };
            if let Err(e) = self.publish_row(&row).await {
                self.note_failure(&row, &e).await;
                return Err(e);
            }
            let (id, now) = (row.id, self.alerts.ctx().now());
            self.db.call(move |c| outbox::mark_delivered(c, id, now)).await.map_err(|e| e.to_string())?;
            tracing::info!(notifier = %self.cfg.name, dedup_key = %row.dedup_key,
                latency_ms = (now - row.created) / 1000, "alert published");
            self.handle_inbox().await?;
        }
    }

    async fn publish_row(&mut self, row: &Row) -> Result<(), String> {
        let known: HashSet<(String, String)> = self.mirror.labels.keys().cloned().collect();
        self.mirror.apply(row);
        let labels = self.mirror.apply_labels(row);
        if let Some(jpeg) = &row.jpeg {
            self.conn.publish(&camera_topic(&row.camera, "snapshot"), true, Bytes::from(jpeg.clone())).await?;
        }
        self.conn.publish(&camera_topic(&row.camera, "event"), true, row.payload.clone()).await?;
        if row.kind.is_motion() {
            let on = self.mirror.motion_on(&row.camera);
            self.conn.publish(&camera_topic(&row.camera, "motion"), true, on_off(on)).await?;
        }
        let prefix = self.cfg.discovery_prefix.clone().unwrap_or_else(|| DEFAULT_DISCOVERY_PREFIX.to_string());
        for ((camera, label), on) in labels {
            if !known.contains(&(camera.clone(), label.clone())) {
                let (topic, payload) = label_discovery(&prefix, &camera, &label);
                self.conn.publish(&topic, true, payload).await?;
            }
            self.conn.publish(&label_topic(&camera, &label), true, on_off(on)).await?;
        }
        self.conn.flush(FLUSH_TIMEOUT).await
    }

    /// Counts a connection lost while publishing `row`; a row that keeps breaking it is given up.
    async fn note_failure(&self, row: &Row, error: &str) {
        let (id, now, error) = (row.id, self.alerts.ctx().now(), error.to_string());
        let give_up = row.attempts + 1 >= MAX_ROW_ATTEMPTS;
        if give_up {
            tracing::error!(notifier = %self.cfg.name, dedup_key = %row.dedup_key, "alert given up: {error}");
        }
        let _ = self
            .db
            .call(move |c| {
                if give_up {
                    outbox::mark_failed(c, id, now, &error)
                } else {
                    outbox::mark_retry(c, id, now, &error)
                }
            })
            .await;
    }

    async fn handle_inbox(&mut self) -> Result<(), String> {
        while !self.conn.inbox.is_empty() {
            let (topic, payload) = self.conn.inbox.remove(0);
            self.command(&topic, &payload);
        }
        Ok(())
    }

    /// Obeys a command; the resulting state changes come back through the watch channels. Without
    /// `commands = true`, only the mode commands a viewer could give (`home`, `away`) are obeyed.
    fn command(&self, topic: &str, payload: &[u8]) {
        let command = parse_command(topic, payload);
        let weakens = matches!(command, Some(MqttCommand::Switch { .. } | MqttCommand::Mode(Mode::Off)));
        if weakens && !self.cfg.commands {
            tracing::warn!(notifier = %self.cfg.name, topic = %Untrusted(topic), payload = %UntrustedBytes(payload),
                "MQTT command ignored: this notifier does not obey commands that switch recording, motion \
                 detection or alerts off (set commands = true in its [[notify]] entry to allow them)");
            return;
        }
        match command {
            Some(MqttCommand::Mode(mode)) => {
                if let Err(e) = self.alerts.set_mode(mode) {
                    tracing::warn!("cannot set the mode from MQTT: {e}");
                }
            }
            Some(MqttCommand::Switch { camera, what, on }) => {
                let cameras = self.alerts.cameras.borrow().clone();
                let known = cameras.is_empty() || cameras.contains(&camera);
                if known && self.cfg.wants_camera(&camera) {
                    self.alerts.command(Command { camera, what, on });
                } else {
                    tracing::warn!(notifier = %self.cfg.name, camera = %Untrusted(&camera),
                        "MQTT command for unknown camera ignored");
                }
            }
            None => tracing::debug!(notifier = %self.cfg.name, topic = %Untrusted(topic), "MQTT message ignored"),
        }
    }
}
