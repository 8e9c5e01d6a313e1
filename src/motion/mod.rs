//! The motion pipeline of one camera: hub → H.264 decoding (openh264) → `kw_motion::Detector` → events
//! (through the [`EventSink`]) and the [`MotionSignal`] that `record = "motion"` records through.
//!
//! Why it decodes so little: decoding is most of the cost (openh264 is ~3× slower than libavcodec), and
//! most of the day nothing moves. While all is quiet only key frames are decoded (each decodes on its own),
//! and the sizes of the other frames are watched: moving things make P-frames grow. When a frame is much
//! larger than usual, or the detector wants to look closer, the frames buffered since the last key frame
//! are decoded at once and every frame after that, until the scene has been quiet for a while. With
//! `keyframes_only` the pipeline never leaves the key-frame mode (lowest power, coarser onset).
//!
//! It runs on its own thread (decoding is CPU work), reads the camera's sub-stream when configured (the
//! caller picks the hub), and never touches the recording path: it only reads `Arc<Frame>`s the hub
//! already shares.
//!
//! Cameras whose source decodes every picture anyway (MJPEG and JPEG-snapshot cameras, which keepwatch
//! encodes to H.264) hand their luma planes over directly ([`spawn_luma`], fed by
//! [`crate::ingest::Source::luma_tap`]): no second decode, every picture analysed, and the event picture is
//! the camera's own JPEG.

mod config;
mod pipeline;

use crate::events::EventSink;
use crate::hub::MediaEvent;
use crate::ingest::LumaEvent;
use crate::motion_signal::MotionSignal;
pub use config::detector_config;
use kw_motion::DetectorConfig;
use pipeline::Pipeline;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// What one camera's pipeline is told.
pub struct Settings {
    pub camera: String,
    pub detector: DetectorConfig,
    pub keyframes_only: bool,
    pub post_roll: Duration,
    /// Object detection on frames with motion (`[cameras.objects]`), when it runs.
    pub objects: Option<crate::objects::Hook>,
}

/// Shared between a running pipeline and whoever stops it.
#[derive(Debug, Default)]
pub struct Control {
    /// Set when the camera stops: the pipeline ends without working through its queue.
    stopping: AtomicBool,
    /// Frames decoded and analysed (for the log and the CPU benchmark).
    decoded: AtomicI64,
    analysed: AtomicI64,
    /// Hub events worked through (the in-process tests wait for it).
    handled: AtomicI64,
}

/// A running pipeline thread.
pub struct Running {
    thread: std::thread::JoinHandle<()>,
    control: Arc<Control>,
}

impl Running {
    /// Asks the pipeline to end soon, without working through its queue.
    pub fn stop(&self) {
        self.control.stopping.store(true, Ordering::Relaxed);
    }

    /// Waits for the pipeline to end (it stores the end of any event in progress first).
    pub fn join(self) {
        let _ = self.thread.join();
    }

    /// Frames decoded so far (the in-process tests check the decode scheduling with it).
    #[cfg(test)]
    pub fn decoded(&self) -> i64 {
        self.control.decoded.load(Ordering::SeqCst)
    }

    /// Hub events worked through so far.
    #[cfg(test)]
    pub fn handled(&self) -> i64 {
        self.control.handled.load(Ordering::SeqCst)
    }
}

/// Starts the pipeline thread on a hub subscription; it ends when the hub closes the subscription.
pub fn spawn(
    settings: Settings,
    rx: mpsc::Receiver<MediaEvent>,
    sink: EventSink,
    signal: Arc<MotionSignal>,
) -> std::io::Result<Running> {
    start(settings, sink, signal, move |p| p.run(rx))
}

/// Starts the pipeline thread on a source's luma side channel; it ends when the source goes away.
pub fn spawn_luma(
    settings: Settings,
    rx: std::sync::mpsc::Receiver<LumaEvent>,
    sink: EventSink,
    signal: Arc<MotionSignal>,
) -> std::io::Result<Running> {
    start(settings, sink, signal, move |p| p.run_luma(rx))
}

fn start(
    settings: Settings,
    sink: EventSink,
    signal: Arc<MotionSignal>,
    body: impl FnOnce(&mut Pipeline) + Send + 'static,
) -> std::io::Result<Running> {
    let control = Arc::new(Control::default());
    let c = control.clone();
    let name = format!("motion-{}", settings.camera);
    let thread =
        std::thread::Builder::new().name(name).spawn(move || body(&mut Pipeline::new(settings, sink, signal, c)))?;
    Ok(Running { thread, control })
}
