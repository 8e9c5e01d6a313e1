//! `/metrics` in the Prometheus text format, and the request counter behind it.
//!
//! Hand-written text rather than a metrics crate: a dozen series, all read from state keepwatch keeps
//! anyway (camera status, recorder counters, store usage), so nothing is double-booked. Requests are
//! counted per route *pattern* (`/api/cameras/{name}/video.mp4`), never per raw path, so a client cannot
//! blow up the series count.

use super::auth::require_admin;
use super::{ApiError, Shared};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use kw_auth::Principal;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::Ordering;
use std::sync::Mutex;

#[derive(Default)]
pub struct HttpMetrics {
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
}

/// Counts each routed request by route pattern, method and status.
pub async fn count(State(st): State<Shared>, req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().map(|m| m.as_str().to_owned()).unwrap_or_else(|| "other".into());
    let method = req.method().as_str().to_owned();
    let resp = next.run(req).await;
    let status = resp.status().as_u16();
    if let Ok(mut m) = st.metrics.requests.lock() {
        *m.entry((route, method, status)).or_default() += 1;
    }
    resp
}

fn esc(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// Prometheus metrics (admin session or token).
#[utoipa::path(get, path = "/metrics", tag = "admin", security(("session" = []), ("token" = [])),
    responses((status = 200, content_type = "text/plain", description = "Prometheus text format 0.0.4"), (status = 403)))]
pub async fn metrics(State(st): State<Shared>, Extension(p): Extension<Principal>) -> Result<Response, ApiError> {
    require_admin(&p)?;
    let store = st.store.clone();
    let usage = tokio::task::spawn_blocking(move || store.usage()).await?.map_err(ApiError::internal)?;
    let now = st.clock.wall();
    let mut out = String::new();
    let cams = st.cameras.list();
    let mut series = |name: &str, kind: &str, help: &str, rows: Vec<(String, f64)>| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (labels, v) in rows {
            let _ = writeln!(out, "{name}{labels} {v}");
        }
    };
    let per_cam = |f: &dyn Fn(&crate::view::CameraView) -> Option<f64>| -> Vec<(String, f64)> {
        cams.iter().filter_map(|c| f(c).map(|v| (format!("{{camera=\"{}\"}}", esc(&c.cfg.name)), v))).collect()
    };
    series(
        "keepwatch_camera_up",
        "gauge",
        "1 while the camera streams",
        per_cam(&|c| Some(f64::from(u8::from(c.status.borrow().state == crate::supervisor::State::Streaming)))),
    );
    series(
        "keepwatch_camera_frames_total",
        "counter",
        "Frames received from the camera",
        per_cam(&|c| Some(c.status.borrow().frames as f64)),
    );
    series(
        "keepwatch_camera_bytes_total",
        "counter",
        "Bytes of media received from the camera",
        per_cam(&|c| Some(c.status.borrow().bytes as f64)),
    );
    series(
        "keepwatch_camera_reconnects_total",
        "counter",
        "Reconnections to the camera",
        per_cam(&|c| Some(c.status.borrow().reconnects as f64)),
    );
    series(
        "keepwatch_camera_last_frame_age_seconds",
        "gauge",
        "Seconds since the camera's newest frame",
        per_cam(&|c| c.status.borrow().last_frame.map(|t| (now - t).max(0) as f64 / 1e6)),
    );
    series(
        "keepwatch_restream_clients",
        "gauge",
        "RTSP clients playing the camera through the restream server",
        per_cam(&|c| Some(c.clients.restream.load(Ordering::Relaxed) as f64)),
    );
    series(
        "keepwatch_webrtc_clients",
        "gauge",
        "WebRTC (WHEP) viewers of the camera",
        per_cam(&|c| Some(c.clients.webrtc.load(Ordering::Relaxed) as f64)),
    );
    series(
        "keepwatch_recorded_frames_total",
        "counter",
        "Frames written to the store",
        per_cam(&|c| Some(c.stats.frames.load(Ordering::Relaxed) as f64)),
    );
    series(
        "keepwatch_recorded_bytes_total",
        "counter",
        "Bytes written to the store",
        per_cam(&|c| Some(c.stats.bytes.load(Ordering::Relaxed) as f64)),
    );
    let motion = |f: fn((u64, u64)) -> u64| {
        move |c: &crate::view::CameraView| c.motion.as_ref().map(|m| f(m.decode_counts()) as f64)
    };
    series(
        "keepwatch_motion_frames_decoded_total",
        "counter",
        "Frames decoded for motion detection",
        per_cam(&motion(|c| c.0)),
    );
    series(
        "keepwatch_motion_decode_failures_total",
        "counter",
        "Frames motion detection could not decode",
        per_cam(&motion(|c| c.1)),
    );
    series(
        "keepwatch_storage_camera_bytes",
        "gauge",
        "Bytes stored per camera",
        usage
            .cameras
            .iter()
            .map(|c| (format!("{{camera=\"{}\"}}", esc(&c.name)), (c.committed_bytes + c.open_bytes) as f64))
            .collect(),
    );
    series(
        "keepwatch_storage_used_bytes",
        "gauge",
        "Bytes used by the store",
        vec![(String::new(), usage.total_bytes() as f64)],
    );
    if let Some(free) = usage.free_bytes {
        series(
            "keepwatch_storage_free_bytes",
            "gauge",
            "Bytes free on the store's file system",
            vec![(String::new(), free as f64)],
        );
    }
    if let Some(oldest) = usage.oldest {
        series(
            "keepwatch_storage_oldest_recording_timestamp_seconds",
            "gauge",
            "Unix time of the oldest recording",
            vec![(String::new(), oldest as f64 / 1e6)],
        );
        series(
            "keepwatch_retention_horizon_seconds",
            "gauge",
            "How far back recordings reach (now minus the oldest recording)",
            vec![(String::new(), (now - oldest).max(0) as f64 / 1e6)],
        );
    }
    let offsite = st.offsite.health.snapshot();
    let per_target = |f: &dyn Fn(&kw_offsite::TargetStatus) -> f64| -> Vec<(String, f64)> {
        offsite.iter().map(|(n, s)| (format!("{{target=\"{}\"}}", esc(n)), f(s))).collect()
    };
    series(
        "keepwatch_offsite_up",
        "gauge",
        "1 unless the off-site target's last attempts failed",
        per_target(&|s| f64::from(u8::from(s.failing_since.is_none()))),
    );
    series(
        "keepwatch_offsite_queued",
        "gauge",
        "Copies waiting for the off-site target",
        per_target(&|s| s.queued as f64),
    );
    series(
        "keepwatch_offsite_uploaded_bytes_total",
        "counter",
        "Encrypted bytes uploaded to the off-site target since start",
        per_target(&|s| s.uploaded_bytes as f64),
    );
    series(
        "keepwatch_offsite_uploaded_objects_total",
        "counter",
        "Objects uploaded to the off-site target since start",
        per_target(&|s| s.uploaded_objects as f64),
    );
    let reqs: Vec<(String, f64)> = st
        .metrics
        .requests
        .lock()
        .map(|m| {
            m.iter()
                .map(|((route, method, status), n)| {
                    (format!("{{route=\"{}\",method=\"{}\",status=\"{status}\"}}", esc(route), esc(method)), *n as f64)
                })
                .collect()
        })
        .unwrap_or_default();
    series("keepwatch_http_requests_total", "counter", "HTTP requests by route pattern, method and status", reqs);
    Ok(([(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4"))], out).into_response())
}
