//! keepwatch's integration tests, as one test binary (`cargo test --test it`): the real `keepwatch` binary
//! against real components (GStreamer's RTSP server fed by ffmpeg-made clips, test HTTP, MJPEG and ONVIF
//! cameras, headless Chromium). One module per area; the shared helpers are in `tests/support/`
//! (`support::keepwatch` runs the binary, `support::api` speaks its HTTP API, `support::wait` polls).
//!
//! Run one area with `cargo test --test it http_api::`, one test with its full name. Every test makes its
//! own temporary directory and free ports, so they run in parallel.

#[path = "../support/mod.rs"]
mod support;

mod alerts_e2e;
mod architecture;
mod auth_hardening;
mod backup_restore;
mod bounds;
mod camera_admin;
mod camera_faults;
mod camera_stills;
mod camera_tls;
mod compat_matrix;
mod config_live;
mod durability;
mod freshness;
mod harness;
mod hostile_clients;
mod http_api;
mod live_view;
mod mjpeg_camera;
mod motion_bframes;
mod motion_events;
mod objects_e2e;
mod offsite;
mod onvif_camera;
mod packaging;
mod protected;
mod ptz;
mod record_rtsp;
mod reliability;
mod restream;
mod storage_pg;
mod ui_admin;
mod ui_alerts;
mod ui_camera_tls;
mod ui_e2e;
mod users_cli;
mod webrtc_view;
