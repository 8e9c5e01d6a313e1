//! The read model: what the HTTP API, alerts (health) and metrics may know about the running cameras.
//!
//! Why a module of its own: the running set of cameras (`crate::cameras`) is written by the daemon's
//! config watcher; everything else only reads. Readers get a [`Directory`] of cheap [`CameraView`]
//! clones (a hub handle, status receivers, counters) and never the machinery that runs a camera. This
//! module imports only the parts it shows (hub, supervisor status, recorder counters, motion signal),
//! never the daemon, HTTP or alerting.

use crate::hub::Hub;
use crate::motion_signal::MotionSignal;
use crate::recorder::Stats;
use crate::supervisor::Status;
use kw_config::CameraConfig;
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use tokio::sync::watch;

/// What readers see of one running camera.
#[derive(Clone)]
pub struct CameraView {
    /// The camera's effective settings (config plus switches Home Assistant turned off).
    pub cfg: CameraConfig,
    pub hub: Hub,
    pub status: watch::Receiver<Status>,
    pub stats: Arc<Stats>,
    /// The sub-stream's hub, when there is one.
    pub sub_hub: Option<Hub>,
    /// The motion signal, when motion detection (keepwatch's or the camera's) is configured.
    pub motion: Option<Arc<MotionSignal>>,
    /// The camera's own pictures (MJPEG cameras' JPEGs, an ONVIF snapshot page), when it has any.
    pub still: Option<Arc<crate::ingest::still::CameraStill>>,
    /// Players served by the restream RTSP server now.
    pub clients: Arc<Clients>,
}

/// Players of one camera served by keepwatch's own servers (beside the live view's WebSockets).
#[derive(Default, Debug)]
pub struct Clients {
    /// RTSP clients playing the camera (main or sub) through `[restream]`.
    pub restream: std::sync::atomic::AtomicUsize,
    /// WebRTC (WHEP) viewers of the camera.
    pub webrtc: std::sync::atomic::AtomicUsize,
}

/// The running cameras by name, shared with every reader.
#[derive(Clone, Default)]
pub struct Directory(Arc<RwLock<BTreeMap<String, CameraView>>>);

impl Directory {
    fn read(&self) -> RwLockReadGuard<'_, BTreeMap<String, CameraView>> {
        self.0.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, BTreeMap<String, CameraView>> {
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

    /// For the running set only.
    pub(crate) fn insert(&self, view: CameraView) {
        self.write().insert(view.cfg.name.clone(), view);
    }

    /// For the running set only.
    pub(crate) fn remove(&self, name: &str) {
        self.write().remove(name);
    }
}
