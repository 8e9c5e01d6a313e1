//! The daemon's and the command line's side of ONVIF (the protocol itself is in `kw_onvif`):
//!
//! - `keepwatch discover`: WS-Discovery, one line per camera with a ready `onvif://` URL for the config;
//! - camera-side motion: for `onvif://` cameras (unless `[cameras.onvif] events = false`) a task follows
//!   the camera's PullPoint events and turns its motion on/off into `camera-motion` events, announced to
//!   alerts like keepwatch's own motion events and opening the `record = "motion"` gate the same way.
//!
//! Why camera events besides keepwatch's own detector: the camera sees every frame at full resolution
//! for free (its own chip), including H.265 streams keepwatch cannot decode for motion.

use crate::camera::Status;
use crate::clock::SharedClock;
use crate::events::EventStore;
use crate::ingest::{onvif as source, CameraAddr};
use crate::motion::{MotionState, Notice};
use crate::Failure;
use kw_config::CameraConfig;
use kw_onvif::{MotionChange, WatchOptions};
use std::net::Ipv4Addr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, watch};

/// `keepwatch discover [--interface ADDR] [--timeout SECS]`.
pub fn discover_cli(interface: Option<Ipv4Addr>, timeout_secs: u64) -> Result<(), Failure> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::runtime(format!("cannot start the runtime: {e}")))?;
    let timeout = Duration::from_secs(timeout_secs.clamp(1, 600));
    let found = rt.block_on(kw_onvif::discover(interface, timeout)).map_err(|e| Failure::runtime(e.to_string()))?;
    if found.is_empty() {
        eprintln!("no ONVIF devices answered within {} s", timeout.as_secs());
        return Ok(());
    }
    for d in &found {
        let host = d.host_port().map(|(h, _)| h).unwrap_or_else(|| "?".into());
        let url = d.onvif_url().unwrap_or_else(|| "-".into());
        let maker = d.maker.as_deref().map(printable).unwrap_or_else(|| "-".into());
        let model = d.model.as_deref().map(printable).unwrap_or_else(|| "-".into());
        println!("{host}\t{maker}\t{model}\t{url}");
    }
    eprintln!("{} ONVIF device(s) answered; add one with url = \"onvif://USER:PASS@HOST:PORT\"", found.len());
    Ok(())
}

/// A camera-chosen name fit for one field of a tab-separated line on a terminal: control characters (tabs,
/// newlines, escape sequences) become spaces.
fn printable(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

/// Whether a camera gets camera-side motion events.
pub fn wants_events(c: &CameraConfig) -> bool {
    c.onvif.events && c.url.trim_start().to_ascii_lowercase().starts_with("onvif://")
}

/// The source of an `onvif://` camera's sub profile (for cameras without `sub_url`).
pub fn sub_source(c: &CameraConfig) -> Option<Box<dyn crate::ingest::Source>> {
    if !c.url.trim_start().to_ascii_lowercase().starts_with("onvif://") {
        return None;
    }
    let addr = CameraAddr::parse(&c.url, c.username.as_deref(), c.password.as_deref()).ok()?;
    Some(Box::new(source::OnvifSource::new(addr, source::Which::Sub)))
}

/// What the camera-events task needs.
pub struct CameraEvents {
    pub camera: String,
    pub events: Arc<EventStore>,
    pub notices: broadcast::Sender<Notice>,
    pub state: Arc<MotionState>,
    pub post_roll: Duration,
    pub clock: SharedClock,
    /// keepwatch's own motion detection runs for this camera too. When it does not, camera events are the
    /// only motion there is: while they cannot be followed, `MotionState::unavailable` says so and
    /// `record = "motion"` records everything rather than nothing.
    pub own_motion: bool,
}

/// Starts following the camera's motion events; the task ends when the camera's supervisor ends (its
/// status channel closes), unsubscribing and ending an event in progress.
pub fn spawn_camera_events(c: &CameraConfig, ce: CameraEvents, status: watch::Receiver<Status>) {
    let addr = match CameraAddr::parse(&c.url, c.username.as_deref(), c.password.as_deref()) {
        Ok(a) => a,
        Err(e) => {
            tracing::warn!(camera = %c.name, "no camera motion events: {e}");
            return;
        }
    };
    tokio::spawn(run(addr, ce, status));
}

async fn run(addr: CameraAddr, ce: CameraEvents, mut status: watch::Receiver<Status>) {
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        while status.changed().await.is_ok() {}
        let _ = stop_tx.send(true);
    });
    let (tx, mut rx) = mpsc::channel(16);
    let unavailable = (!ce.own_motion).then(|| ce.state.clone());
    tokio::spawn(follow(addr, ce.camera.clone(), stop_rx, tx, unavailable));
    let mut open: Option<i64> = None;
    let mut refresh = tokio::time::interval(Duration::from_secs(1));
    let post_roll = i64::try_from(ce.post_roll.as_micros()).unwrap_or(i64::MAX);
    loop {
        tokio::select! {
            m = rx.recv() => match m {
                Some(MotionChange { on: true, topic }) if open.is_none() => {
                    let now = ce.clock.wall();
                    ce.state.record_until.fetch_max(now.saturating_add(post_roll), Ordering::Relaxed);
                    let (ev, cam) = (ce.events.clone(), ce.camera.clone());
                    match tokio::task::spawn_blocking(move || ev.start(&cam, "camera-motion", now, 1.0, None, None)).await {
                        Ok(Ok(id)) => {
                            tracing::info!(camera = %ce.camera, event = id, topic = %topic, "camera motion started");
                            open = Some(id);
                            let _ = ce.notices.send(Notice::Started { id, camera: ce.camera.clone() });
                        }
                        Ok(Err(e)) => tracing::error!(camera = %ce.camera, "cannot store a camera-motion event: {e}"),
                        Err(e) => tracing::error!(camera = %ce.camera, "cannot store a camera-motion event: {e}"),
                    }
                }
                Some(MotionChange { on: false, .. }) => finish(&ce, &mut open, post_roll).await,
                Some(_) => {}
                None => break,
            },
            _ = refresh.tick() => {
                if open.is_some() {
                    // While the camera says motion goes on, recording follows it (plus post-roll).
                    let until = ce.clock.wall().saturating_add(post_roll);
                    ce.state.record_until.fetch_max(until, Ordering::Relaxed);
                }
            }
        }
    }
    finish(&ce, &mut open, post_roll).await;
}

async fn finish(ce: &CameraEvents, open: &mut Option<i64>, post_roll: i64) {
    let Some(id) = open.take() else { return };
    let now = ce.clock.wall();
    ce.state.record_until.fetch_max(now.saturating_add(post_roll), Ordering::Relaxed);
    let ev = ce.events.clone();
    match tokio::task::spawn_blocking(move || ev.finish(id, now)).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::error!(camera = %ce.camera, "cannot end camera-motion event {id}: {e}"),
        Err(e) => tracing::error!(camera = %ce.camera, "cannot end camera-motion event {id}: {e}"),
    }
    tracing::info!(camera = %ce.camera, event = id, "camera motion ended");
    let _ = ce.notices.send(Notice::Ended { id, camera: ce.camera.clone() });
}

/// Sleeps unless stopped first; true when stopped.
async fn pause(d: Duration, stop: &mut watch::Receiver<bool>) -> bool {
    let stopped = tokio::select! {
        _ = tokio::time::sleep(d) => false,
        _ = kw_onvif::pullpoint::stopped(stop) => true,
    };
    stopped || *stop.borrow()
}

fn set_unavailable(state: Option<&Arc<MotionState>>, why: Option<String>) {
    if let Some(st) = state {
        *st.unavailable.lock().unwrap_or_else(|e| e.into_inner()) = why;
    }
}

/// Connects to the camera and runs the PullPoint loop, again after failures, until stopped. `unavailable`:
/// the motion state to mark while events cannot be followed (when they are the camera's only motion).
async fn follow(
    addr: CameraAddr,
    camera: String,
    mut stop: watch::Receiver<bool>,
    tx: mpsc::Sender<MotionChange>,
    unavailable: Option<Arc<MotionState>>,
) {
    let device = match source::device_url(&addr) {
        Ok(d) => d,
        Err(e) => {
            tracing::warn!(camera = %camera, "no camera motion events: {e}");
            return;
        }
    };
    let opts = WatchOptions::default();
    let mut backoff = Duration::from_secs(5);
    let mut last_error = String::new();
    loop {
        if *stop.borrow() {
            return;
        }
        let started = tokio::time::Instant::now();
        // Connecting asks the camera several things (each up to 10 s): a removed camera must not wait for it.
        let connected = tokio::select! {
            c = kw_onvif::Camera::connect(&device, source::credentials(&addr)) => c,
            _ = kw_onvif::pullpoint::stopped(&mut stop) => return,
        };
        let result = match connected {
            Ok(cam) if cam.services().events.is_some() => {
                tracing::info!(camera = %camera, "following the camera's motion events (ONVIF PullPoint)");
                set_unavailable(unavailable.as_ref(), None);
                kw_onvif::pullpoint::watch(&cam, &opts, &tx, stop.clone()).await
            }
            Ok(_) => Err(kw_onvif::Error::Protocol("the camera offers no ONVIF events service".into())),
            Err(e) => Err(e),
        };
        if started.elapsed() > Duration::from_secs(60) {
            backoff = Duration::from_secs(5); // it worked for a while: a new problem starts over
            last_error.clear();
        }
        let wait = match result {
            Ok(()) => return, // stopped, or nobody listens any more
            Err(e) => {
                let unreachable = matches!(e, kw_onvif::Error::Unreachable(_));
                let text = source::map_error(e).to_string();
                if text != last_error {
                    tracing::warn!(camera = %camera, "camera motion events unavailable: {text}");
                    last_error = text.clone();
                }
                if !unreachable {
                    let why = format!("the camera's motion events cannot be followed: {text}");
                    set_unavailable(unavailable.as_ref(), Some(why));
                }
                backoff
            }
        };
        if pause(wait, &mut stop).await {
            return;
        }
        backoff = (backoff * 2).min(Duration::from_secs(60));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_onvif_cameras_get_events_and_a_sub_profile() {
        let mut c = CameraConfig::new("door", "onvif://admin:pw@10.0.0.5");
        assert!(wants_events(&c) && sub_source(&c).is_some());
        c.onvif.events = false;
        assert!(!wants_events(&c));
        let r = CameraConfig::new("door", "rtsp://10.0.0.5/s1");
        assert!(!wants_events(&r) && sub_source(&r).is_none());
    }

    #[test]
    fn discovered_names_cannot_break_lines_or_the_terminal() {
        assert_eq!(printable("Acme\tCam\n\x1b[2Jx"), "Acme Cam  [2Jx");
    }
}
