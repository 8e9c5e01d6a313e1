//! The daemon's side of alerts: turns what happens (motion events, cameras going offline, the disk
//! filling up) into `kw_notify` events, and obeys what comes back (Home Assistant switching a camera's
//! recording or motion detection).
//!
//! Why here and not in `kw-notify`: that crate knows delivery (outbox, MQTT, webhooks, mail, ntfy) and
//! nothing of cameras; this module knows cameras and the events table and nothing of delivery.
//!
//! Health events are events like motion ones (stored, in `/api/events`, with start and end):
//! - `camera-offline` when a camera has delivered no frame for [`OFFLINE_AFTER`], ended when frames flow;
//! - `storage` when the store's file system has less than [`LOW_SPACE`] free, or the store directory is
//!   gone (an unmounted disk), ended when it recovers.

use crate::daemon::Directory;
use crate::events::{EventRow, EventStore};
use crate::motion::Notice;
use kw_notify::{Alerts, Event, EventKind, Phase};
use kw_store::Store;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// A camera silent this long is reported offline.
pub const OFFLINE_AFTER: Duration = Duration::from_secs(60);
/// Less free space than this on the store's file system is a `storage` event.
pub const LOW_SPACE: u64 = 1 << 30;
/// How often health is looked at.
const HEALTH_EVERY: Duration = Duration::from_secs(5);

pub fn to_notify(e: &EventRow) -> Event {
    Event {
        id: e.id,
        camera: e.camera.clone(),
        kind: EventKind::parse(&e.kind).unwrap_or(EventKind::Motion),
        start: e.start,
        end: e.end,
        score: e.score as f32,
        region: e.region.map(|r| [r[0] as f32, r[1] as f32, r[2] as f32, r[3] as f32]),
    }
}

/// Sends one stored event's phase to the alerts engine.
pub async fn announce(alerts: &Alerts, events: &Arc<EventStore>, id: i64, phase: Phase) {
    let ev = events.clone();
    let found = tokio::task::spawn_blocking(move || -> Result<_, crate::events::EventError> {
        Ok((ev.get(id)?, ev.snapshot(id)?))
    })
    .await;
    match found {
        Ok(Ok((Some(row), jpeg))) => {
            alerts.event(phase, &to_notify(&row), jpeg.map(bytes::Bytes::from)).await;
        }
        Ok(Ok((None, _))) => {}
        Ok(Err(e)) => tracing::error!("cannot read event {id} for its alert: {e}"),
        Err(e) => tracing::error!("cannot read event {id} for its alert: {e}"),
    }
}

/// Forwards motion notices to the alerts engine until the channel closes.
pub async fn forward_motion(
    alerts: Arc<Alerts>,
    events: Arc<EventStore>,
    mut rx: tokio::sync::broadcast::Receiver<Notice>,
) {
    loop {
        match rx.recv().await {
            Ok(Notice::Started { id, .. }) => announce(&alerts, &events, id, Phase::Start).await,
            Ok(Notice::Ended { id, .. }) => announce(&alerts, &events, id, Phase::End).await,
            Ok(Notice::Updated { .. }) => {}
            Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                tracing::warn!("alerts fell behind by {n} motion notices")
            }
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        }
    }
}

/// Watches cameras and storage; raises and ends `camera-offline` and `storage` events.
pub async fn watch_health(
    alerts: Arc<Alerts>,
    events: Arc<EventStore>,
    cameras: Directory,
    store: Arc<Store>,
    store_dir: std::path::PathBuf,
    clock: crate::clock::SharedClock,
) {
    let started = clock.wall();
    let mut offline: HashMap<String, i64> = HashMap::new();
    let mut storage: Option<i64> = None;
    let mut every = tokio::time::interval(HEALTH_EVERY);
    let after = i64::try_from(OFFLINE_AFTER.as_micros()).unwrap_or(i64::MAX);
    loop {
        every.tick().await;
        let now = clock.wall();
        let views = cameras.list();
        for v in &views {
            let name = v.cfg.name.clone();
            let s = v.status.borrow().clone();
            let streaming = s.state == crate::camera::State::Streaming;
            let silent_since = s.last_frame.unwrap_or(started);
            match (offline.get(&name).copied(), streaming) {
                (None, false) if now - silent_since >= after => {
                    let ev = events.clone();
                    let cam = name.clone();
                    let id = tokio::task::spawn_blocking(move || {
                        ev.start(&cam, "camera-offline", silent_since, 1.0, None, None)
                    })
                    .await;
                    if let Ok(Ok(id)) = id {
                        tracing::warn!(camera = %name, event = id, "camera offline for over {} s", OFFLINE_AFTER.as_secs());
                        offline.insert(name.clone(), id);
                        announce(&alerts, &events, id, Phase::Start).await;
                    }
                }
                (Some(id), true) => {
                    offline.remove(&name);
                    let ev = events.clone();
                    let _ = tokio::task::spawn_blocking(move || ev.finish(id, now)).await;
                    tracing::info!(camera = %name, event = id, "camera back online");
                    announce(&alerts, &events, id, Phase::End).await;
                }
                _ => {}
            }
        }
        // Cameras removed from the config: their offline events end.
        let gone: Vec<(String, i64)> = offline
            .iter()
            .filter(|(n, _)| !views.iter().any(|v| &v.cfg.name == *n))
            .map(|(n, i)| (n.clone(), *i))
            .collect();
        for (name, id) in gone {
            offline.remove(&name);
            let ev = events.clone();
            let _ = tokio::task::spawn_blocking(move || ev.finish(id, now)).await;
            announce(&alerts, &events, id, Phase::End).await;
        }

        let st = store.clone();
        let dir = store_dir.clone();
        let low = tokio::task::spawn_blocking(move || -> Option<String> {
            if !dir.join(kw_store::MARKER_FILE).exists() {
                return Some(format!("the store directory {} is gone (is the disk mounted?)", dir.display()));
            }
            match st.usage() {
                Ok(u) => match u.free_bytes {
                    Some(free) if free < LOW_SPACE => {
                        Some(format!("only {} MB free on the store's disk", free / 1_000_000))
                    }
                    _ => None,
                },
                Err(e) => Some(format!("cannot read the store: {e}")),
            }
        })
        .await
        .unwrap_or(None);
        match (storage, low) {
            (None, Some(why)) => {
                tracing::error!("storage problem: {why}");
                let ev = events.clone();
                if let Ok(Ok(id)) =
                    tokio::task::spawn_blocking(move || ev.start("", "storage", now, 1.0, None, None)).await
                {
                    storage = Some(id);
                    announce(&alerts, &events, id, Phase::Start).await;
                }
            }
            (Some(id), None) => {
                storage = None;
                let ev = events.clone();
                let _ = tokio::task::spawn_blocking(move || ev.finish(id, now)).await;
                tracing::info!("storage problem resolved");
                announce(&alerts, &events, id, Phase::End).await;
            }
            _ => {}
        }
    }
}

/// The cameras as they should run: the config, with the switches Home Assistant (or the API) turned
/// off applied (recording off → `record = "off"`; motion off → `motion.enabled = false`).
pub fn effective_cameras(alerts: &Alerts, cameras: &[kw_config::CameraConfig]) -> Vec<kw_config::CameraConfig> {
    cameras
        .iter()
        .map(|c| {
            let mut c = c.clone();
            if !alerts.switch(&c.name, kw_notify::Switch::Recording) {
                c.record = kw_config::RecordMode::Off;
            }
            if !alerts.switch(&c.name, kw_notify::Switch::Motion) {
                c.motion.enabled = false;
            }
            c
        })
        .collect()
}

fn open_for_cli(config: &std::path::Path) -> Result<(kw_config::Config, kw_notify::Alerts), crate::Failure> {
    let cfg = kw_config::load(config)?;
    let store = crate::storeopen::open_existing(config, &cfg)?;
    drop(store);
    let index = cfg.storage.path.join(kw_store::INDEX_FILE);
    let options = kw_notify::Options {
        language: cfg.server.language.unwrap_or(kw_config::Language::En),
        timezone: cfg.server.timezone.clone(),
        ..Default::default()
    };
    let alerts = kw_notify::Alerts::open(&index, &cfg.notify, options)
        .map_err(|e| crate::Failure::runtime(format!("cannot open the alerts outbox in {}: {e}", index.display())))?;
    Ok((cfg, alerts))
}

/// `keepwatch notify test NAME`.
pub fn cli_test(config: &std::path::Path, name: &str) -> Result<(), crate::Failure> {
    let (cfg, alerts) = open_for_cli(config)?;
    if !cfg.notify.iter().any(|n| n.name == name) {
        let names: Vec<&str> = cfg.notify.iter().map(|n| n.name.as_str()).collect();
        return Err(crate::Failure::usage(format!(
            "no notifier {name:?} in {} (configured: {})",
            config.display(),
            if names.is_empty() { "none".to_owned() } else { names.join(", ") }
        )));
    }
    let rt = crate::daemon::runtime()?;
    match rt.block_on(alerts.test(name)) {
        Ok(what) => {
            println!("{what}");
            Ok(())
        }
        Err(e) => Err(crate::Failure::runtime(format!("the test message through {name:?} failed: {e}"))),
    }
}

/// `keepwatch mode [MODE]`.
pub fn cli_mode(config: &std::path::Path, mode: Option<&str>) -> Result<(), crate::Failure> {
    let (_, alerts) = open_for_cli(config)?;
    match mode {
        None => println!("{}", alerts.mode().as_str()),
        Some(m) => {
            let mode: kw_notify::Mode =
                m.parse().map_err(|_| crate::Failure::usage(format!("unknown mode {m:?}: use home, away or off")))?;
            alerts.set_mode(mode).map_err(|e| crate::Failure::runtime(format!("cannot set the mode: {e}")))?;
            println!("{}", mode.as_str());
        }
    }
    Ok(())
}
