//! The health watcher: a producer of events like the motion pipeline, for what goes wrong around the
//! cameras rather than in front of them.
//!
//! - `camera-offline` when a camera has delivered no frame for [`OFFLINE_AFTER`], ended when frames flow
//!   again (or when the camera is removed from the config);
//! - `storage` when the store's file system has less than [`LOW_SPACE`] free, or the store directory is
//!   gone (an unmounted disk), or the store cannot keep within its limits because only protected video is
//!   left (`kw_store::Store::storage_pressure`), ended when it recovers. It concerns no camera: its camera is empty.
//!
//! Events go through the [`EventSink`], so alerts hear of them like of motion.

use crate::events::{EventKind, EventSink, NewEvent, OpenEvent};
use crate::supervisor::State;
use crate::view::Directory;
use kw_media::clock::SharedClock;
use kw_media::WallMicros;
use kw_store::Store;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// A camera silent this long is reported offline.
pub const OFFLINE_AFTER: Duration = Duration::from_secs(60);
/// Less free space than this on the store's file system is a `storage` event.
pub const LOW_SPACE: u64 = 1 << 30;
/// How often health is looked at.
const HEALTH_EVERY: Duration = Duration::from_secs(5);

/// What the watcher looks at.
pub struct Watched {
    pub cameras: Directory,
    pub store: Arc<Store>,
    pub store_dir: PathBuf,
}

/// Watches cameras and storage until the task is aborted.
pub async fn watch(sink: EventSink, watched: Watched, clock: SharedClock) {
    let started = clock.wall();
    let mut offline: HashMap<String, OpenEvent> = HashMap::new();
    let mut storage: Option<OpenEvent> = None;
    let mut every = tokio::time::interval(HEALTH_EVERY);
    let after = i64::try_from(OFFLINE_AFTER.as_micros()).unwrap_or(i64::MAX);
    loop {
        every.tick().await;
        let now = clock.wall();
        let views = watched.cameras.list();
        for v in &views {
            let name = v.cfg.name.clone();
            let s = v.status.borrow().clone();
            let streaming = s.state == State::Streaming;
            let silent_since = s.last_frame.unwrap_or(started);
            match (offline.contains_key(&name), streaming) {
                (false, false) if now - silent_since >= after => {
                    if let Some(ev) = start(&sink, &name, EventKind::CameraOffline, silent_since).await {
                        tracing::warn!(camera = %name, event = ev.id, "camera offline for over {} s", OFFLINE_AFTER.as_secs());
                        offline.insert(name, ev);
                    }
                }
                (true, true) => {
                    if let Some(ev) = offline.remove(&name) {
                        tracing::info!(camera = %name, event = ev.id, "camera back online");
                        finish(&sink, ev, now).await;
                    }
                }
                _ => {}
            }
        }
        // Cameras removed from the config: their offline events end.
        let gone: Vec<String> = offline.keys().filter(|n| !views.iter().any(|v| &v.cfg.name == *n)).cloned().collect();
        for name in gone {
            if let Some(ev) = offline.remove(&name) {
                finish(&sink, ev, now).await;
            }
        }
        match (&storage, storage_problem(&watched).await) {
            (None, Some(why)) => {
                tracing::error!("storage problem: {why}");
                storage = start(&sink, "", EventKind::Storage, now).await;
            }
            (Some(_), None) => {
                tracing::info!("storage problem resolved");
                if let Some(ev) = storage.take() {
                    finish(&sink, ev, now).await;
                }
            }
            _ => {}
        }
    }
}

/// What is wrong with the store, if anything.
async fn storage_problem(w: &Watched) -> Option<String> {
    let (store, dir) = (w.store.clone(), w.store_dir.clone());
    tokio::task::spawn_blocking(move || -> Option<String> {
        if !dir.join(kw_store::MARKER_FILE).exists() {
            return Some(format!("the store directory {} is gone (is the disk mounted?)", dir.display()));
        }
        if let Some(why) = store.storage_pressure() {
            return Some(why);
        }
        match store.usage() {
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
    .unwrap_or(None)
}

pub(crate) async fn start(sink: &EventSink, camera: &str, kind: EventKind, at: WallMicros) -> Option<OpenEvent> {
    let (sink, camera) = (sink.clone(), camera.to_owned());
    let r = tokio::task::spawn_blocking(move || {
        sink.start(&NewEvent { camera: &camera, kind, start: at, score: 1.0, region: None, jpeg: None })
    })
    .await;
    match r {
        Ok(Ok(ev)) => Some(ev),
        Ok(Err(e)) => {
            tracing::error!("cannot store a {kind} event: {e}");
            None
        }
        Err(e) => {
            tracing::error!("cannot store a {kind} event: {e}");
            None
        }
    }
}

pub(crate) async fn finish(sink: &EventSink, ev: OpenEvent, at: WallMicros) {
    let sink = sink.clone();
    let id = ev.id;
    match tokio::task::spawn_blocking(move || sink.finish(&ev, at)).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::error!("cannot end event {id}: {e}"),
        Err(e) => tracing::error!("cannot end event {id}: {e}"),
    }
}
