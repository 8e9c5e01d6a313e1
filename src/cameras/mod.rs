//! The running set of cameras: one entry per configured camera, each with its supervisor task and hub,
//! its sub-stream, motion detection, camera-side events and recorder, started and stopped as the
//! effective config changes.
//!
//! Why it is split this way: starting a camera touches four subsystems, and each has its own small
//! function in its own file: [`streams`] (the main and sub streams: source, supervisor, hub),
//! [`detection`] (keepwatch's motion pipeline and the camera's own motion events) and [`recording`]
//! (the recorder and its `record = "motion"` gate). This module only keeps the set and the
//! [`Directory`] that readers see in step.

mod detection;
mod recording;
mod streams;

use crate::events::EventSink;
use crate::motion_signal::MotionSignal;
use crate::recorder::Stats;
use crate::supervisor::Status;
use crate::view::{CameraView, Directory};
use kw_config::CameraConfig;
use kw_media::clock::SharedClock;
use kw_store::Store;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use streams::Stream;

/// One running camera.
struct RunningCamera {
    cfg: CameraConfig,
    main: Stream,
    sub: Option<Stream>,
    motion: Option<crate::motion::Running>,
    /// Present when keepwatch's own motion detection runs (what readers are shown).
    signal: Option<Arc<MotionSignal>>,
    recorder: Option<std::thread::JoinHandle<()>>,
    stats: Arc<Stats>,
    still: Option<Arc<crate::ingest::still::CameraStill>>,
}

/// The live set of cameras.
pub struct Cameras {
    store: Arc<Store>,
    /// Object detection's models and global budget, shared by every camera.
    objects: Arc<crate::objects::Engine>,
    clock: SharedClock,
    sink: EventSink,
    running: HashMap<String, RunningCamera>,
    dir: Directory,
}

impl Cameras {
    pub fn new(store: Arc<Store>, clock: SharedClock, sink: EventSink) -> Self {
        let objects =
            Arc::new(crate::objects::Engine::new(clock.clone(), kw_config::ObjectsBudget::default().max_per_second));
        Cameras { store, objects, clock, sink, running: HashMap::new(), dir: Directory::default() }
    }

    /// `[objects] max_per_second`: inferences per second, all cameras together.
    pub fn set_objects_budget(&self, budget: &kw_config::ObjectsBudget) {
        self.objects.set_global(budget.max_per_second);
    }

    /// The view readers (HTTP, health, metrics) get.
    pub fn directory(&self) -> Directory {
        self.dir.clone()
    }

    /// Brings the running set in line with `wanted`: stops removed or changed cameras, starts new ones.
    /// Stopping joins threads: call it off the async reactor (`block_in_place`).
    pub fn apply(&mut self, wanted: &[CameraConfig]) {
        let names: Vec<String> = self.running.keys().cloned().collect();
        for name in names {
            let keep = wanted.iter().any(|c| c.name == name && self.running.get(&name).is_some_and(|r| &r.cfg == c));
            if !keep {
                tracing::info!(camera = %name, "stopping camera (removed or changed in the config)");
                self.stop(&name);
            }
        }
        for c in wanted {
            if !self.running.contains_key(&c.name) {
                let r = self.start(c);
                self.insert(r);
            }
        }
    }

    /// Starts one camera. Everything that reads its hub subscribes before its supervisor starts, so the
    /// recorder and motion see the first run from its first frame.
    fn start(&self, c: &CameraConfig) -> RunningCamera {
        let stats = Arc::new(Stats::default());
        let source = match streams::main_source(c) {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(camera = %c.name, "camera not started: {e}");
                let main = streams::not_started(&e);
                return RunningCamera {
                    cfg: c.clone(),
                    main,
                    sub: None,
                    motion: None,
                    signal: None,
                    recorder: None,
                    stats,
                    still: None,
                };
            }
        };
        let sub = streams::sub_stream(c, &self.clock);
        let still = source.still();
        let main = streams::Pending::new();
        let signal = Arc::new(MotionSignal::default());
        let camera_events = detection::start_camera_events(c, &self.sink, &signal, &main.status, &self.clock);
        let watched = sub.as_ref().map(|s| &s.hub).unwrap_or(&main.hub);
        // `record = "objects"` records while object detection sees something, not while anything moves.
        let objects_signal = (c.record == kw_config::RecordMode::Objects).then(|| Arc::new(MotionSignal::default()));
        let objects = detection::start_objects(c, &self.objects, &self.sink, objects_signal.clone());
        let looking = objects.is_some();
        let motion = detection::start_motion(c, &*source, sub.is_some(), watched, &self.sink, &signal, objects);
        let detecting = motion.is_some() || camera_events;
        let gate_signal = match &objects_signal {
            Some(s) => (looking && motion.is_some()).then_some(s),
            None => detecting.then_some(&signal),
        };
        let recorder = recording::start(c, &self.store, &self.clock, &main.hub, &stats, gate_signal, &signal);
        let main = main.run(c.name.clone(), source, &self.clock);
        tracing::info!(camera = %c.name, url = %kw_config::redacted_url(&c.url), "camera started");
        // Readers see motion as on (or unavailable, with why) only where keepwatch's own detector runs.
        let signal = motion.is_some().then_some(signal);
        RunningCamera { cfg: c.clone(), main, sub, motion, signal, recorder, stats, still }
    }

    fn insert(&mut self, r: RunningCamera) {
        self.dir.insert(CameraView {
            cfg: r.cfg.clone(),
            hub: r.main.hub.clone(),
            status: r.main.status.clone(),
            stats: r.stats.clone(),
            sub_hub: r.sub.as_ref().map(|s| s.hub.clone()),
            motion: r.signal.clone(),
            clients: Arc::default(),
            still: r.still.clone(),
        });
        self.running.insert(r.cfg.name.clone(), r);
    }

    fn stop(&mut self, name: &str) {
        self.dir.remove(name);
        let Some(r) = self.running.remove(name) else { return };
        if let Some(m) = &r.motion {
            m.stop();
        }
        r.main.stop();
        if let Some(sub) = r.sub {
            sub.stop();
        }
        if let Some(m) = r.motion {
            // Ends (and stores the end of any event in progress) when its hub closes.
            m.join();
        }
        if let Some(h) = r.recorder {
            // The recorder finishes its segment when the hub says Stopped and exits when the hub is gone.
            let _ = h.join();
        }
    }

    pub fn stop_all(&mut self) {
        let names: Vec<String> = self.running.keys().cloned().collect();
        for n in names {
            self.stop(&n);
        }
    }

    /// Name, status and frames recorded of each camera, by name (the demo prints them).
    pub fn statuses(&self) -> Vec<(String, Status, u64)> {
        let mut v: Vec<_> = self
            .running
            .iter()
            .map(|(n, r)| (n.clone(), r.main.status.borrow().clone(), r.stats.frames.load(Ordering::Relaxed)))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }
}
