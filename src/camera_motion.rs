//! Camera-side motion: for `onvif://` cameras (unless `[cameras.onvif] events = false`) a task follows the
//! camera's PullPoint events (the protocol is in `kw_onvif`) and turns its motion on/off into
//! `camera-motion` events through the [`EventSink`], and opens the `record = "motion"` gate through the
//! camera's [`MotionSignal`], like keepwatch's own motion.
//!
//! Why camera events besides keepwatch's own detector: the camera sees every frame at full resolution
//! for free (its own chip), including H.265 streams keepwatch cannot decode for motion.

use crate::events::{EventKind, EventSink, NewEvent, OpenEvent};
use crate::ingest::{onvif as source, CameraAddr};
use crate::motion_signal::MotionSignal;
use crate::supervisor::Status;
use kw_config::CameraConfig;
use kw_logsafe::{OneLine, Untrusted};
use kw_media::clock::SharedClock;
use kw_onvif::{MotionChange, WatchOptions};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// Whether a camera gets camera-side motion events.
pub fn wants_events(c: &CameraConfig) -> bool {
    c.onvif.events && c.url.trim_start().to_ascii_lowercase().starts_with("onvif://")
}

/// What the camera-events task needs.
pub struct CameraEvents {
    pub camera: String,
    pub sink: EventSink,
    pub signal: Arc<MotionSignal>,
    pub post_roll: Duration,
    pub clock: SharedClock,
    /// keepwatch's own motion detection runs for this camera too. When it does not, camera events are the
    /// only motion there is: while they cannot be followed, the signal says it is unavailable and
    /// `record = "motion"` records everything rather than nothing.
    pub own_motion: bool,
}

/// Starts following the camera's motion events; the task ends when the camera's supervisor ends (its
/// status channel closes), unsubscribing and ending an event in progress.
pub fn spawn(c: &CameraConfig, ce: CameraEvents, status: watch::Receiver<Status>) {
    let addr = match CameraAddr::parse(&c.url, c.username.as_deref(), c.password.as_deref())
        .and_then(|a| a.with_tls_pin(c.tls_fingerprint.as_deref()))
    {
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
    let unavailable = (!ce.own_motion).then(|| ce.signal.clone());
    tokio::spawn(follow(addr, ce.camera.clone(), stop_rx, tx, unavailable));
    let mut open: Option<OpenEvent> = None;
    let mut refresh = tokio::time::interval(Duration::from_secs(1));
    let post_roll = i64::try_from(ce.post_roll.as_micros()).unwrap_or(i64::MAX);
    loop {
        tokio::select! {
            m = rx.recv() => match m {
                Some(MotionChange { on: true, topic }) if open.is_none() => {
                    let now = ce.clock.wall();
                    ce.signal.record_until_at_least(now.saturating_add(post_roll));
                    let (sink, cam) = (ce.sink.clone(), ce.camera.clone());
                    let started = tokio::task::spawn_blocking(move || {
                        let new = NewEvent { camera: &cam, kind: EventKind::CameraMotion, start: now, score: 1.0, region: None, jpeg: None };
                        sink.start(&new)
                    })
                    .await;
                    match started {
                        Ok(Ok(ev)) => {
                            tracing::info!(camera = %ce.camera, event = ev.id, topic = %Untrusted(&topic),
                                "camera motion started");
                            open = Some(ev);
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
                    ce.signal.record_until_at_least(ce.clock.wall().saturating_add(post_roll));
                }
            }
        }
    }
    finish(&ce, &mut open, post_roll).await;
}

async fn finish(ce: &CameraEvents, open: &mut Option<OpenEvent>, post_roll: i64) {
    let Some(ev) = open.take() else { return };
    let now = ce.clock.wall();
    ce.signal.record_until_at_least(now.saturating_add(post_roll));
    let (sink, id) = (ce.sink.clone(), ev.id);
    match tokio::task::spawn_blocking(move || sink.finish(&ev, now)).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::error!(camera = %ce.camera, "cannot end camera-motion event {id}: {e}"),
        Err(e) => tracing::error!(camera = %ce.camera, "cannot end camera-motion event {id}: {e}"),
    }
    tracing::info!(camera = %ce.camera, event = id, "camera motion ended");
}

/// Sleeps unless stopped first; true when stopped.
async fn pause(d: Duration, stop: &mut watch::Receiver<bool>) -> bool {
    let stopped = tokio::select! {
        _ = tokio::time::sleep(d) => false,
        _ = kw_onvif::pullpoint::stopped(stop) => true,
    };
    stopped || *stop.borrow()
}

fn set_unavailable(signal: Option<&Arc<MotionSignal>>, why: Option<String>) {
    if let Some(s) = signal {
        s.set_unavailable(why);
    }
}

/// Connects to the camera and runs the PullPoint loop, again after failures, until stopped. `unavailable`:
/// the motion signal to mark while events cannot be followed (when they are the camera's only motion).
async fn follow(
    addr: CameraAddr,
    camera: String,
    mut stop: watch::Receiver<bool>,
    tx: mpsc::Sender<MotionChange>,
    unavailable: Option<Arc<MotionSignal>>,
) {
    if let Err(e) = source::device_url(&addr) {
        tracing::warn!(camera = %camera, "no camera motion events: {e}");
        return;
    }
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
            c = async {
                kw_onvif::Camera::connect_with(source::client(&addr, kw_media::clock::SystemClock::shared())?).await
            } => c,
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
                let text = addr.explain(source::map_error(e)).to_string();
                if text != last_error {
                    tracing::warn!(camera = %camera, "camera motion events unavailable: {}", OneLine(&text));
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
    fn only_onvif_cameras_get_events() {
        let mut c = CameraConfig::new("door", "onvif://admin:pw@10.0.0.5");
        assert!(wants_events(&c));
        c.onvif.events = false;
        assert!(!wants_events(&c));
        assert!(!wants_events(&CameraConfig::new("door", "rtsp://10.0.0.5/s1")));
    }
}
