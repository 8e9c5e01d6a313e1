//! Shared helpers for keepwatch's integration tests (`tests/it/`, one test binary): the real binary
//! ([`keepwatch`]), its HTTP API ([`api`]), waiting ([`wait`]), and real third-party components on
//! loopback (GStreamer's RTSP server, ffmpeg/ffprobe, test cameras, a webhook receiver, headless
//! Chromium). See README.md here.
//!
//! Everything started here is owned by the value that started it (pids are kept; nothing
//! is ever killed by name), and everything listens on or talks to 127.0.0.1 only.

pub mod api;
pub mod browser;
pub mod http_sink;
pub mod https_camera;
pub mod keepwatch;
pub mod live555;
pub mod media;
pub mod mjpeg_camera;
pub mod offsite_targets;
pub mod onvif_device;
pub mod rtsp_server;
pub mod tools;
pub mod wait;

pub use media::{
    clip, codecs_of, decoded_video_frames, ffmpeg_decode_errors, ffprobe_json, motion_clip, motion_clip_bframes,
    ClipSpec, MOTION_CLIP_CROSSING, MOTION_CLIP_SECONDS,
};
pub use rtsp_server::{Auth, RtspServer, ServerOptions};
pub use tools::{free_port, have_tool, require_tools, run_with_timeout};
