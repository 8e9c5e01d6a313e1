//! The fast in-process layer: the real camera supervisor, hub, recorder, record gate and motion pipeline,
//! driven by a scripted camera and a fake clock on tokio's paused clock, writing a real store in a temp
//! directory. Each test covers minutes of camera time in milliseconds; the slow, real-component tests
//! (GStreamer, ffmpeg, browsers) live in `tests/`.

mod decoding;
mod disk_full;
mod harness;
mod motion_gate;
mod recording;
