//! [`Engine`]: what every camera's object detection shares: the models (the shipped one is loaded once per
//! process, a user's once per file) and the global inference [`Budget`].

use kw_media::clock::SharedClock;
use kw_objects::{Budget, BudgetConfig, Detector};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// The per-camera rate of the shared budget: the highest a camera may configure (each camera's own
/// `max_per_second` is kept by its [`super::Hook`]); the budget then only keeps the global rate and turns.
const PER_CAMERA_CAP: f64 = 30.0;

type ModelKey = (PathBuf, Option<PathBuf>);

pub struct Engine {
    clock: SharedClock,
    budget: Budget,
    models: Mutex<HashMap<ModelKey, Result<Arc<Detector>, kw_objects::Error>>>,
}

impl Engine {
    /// `global`: `[objects] max_per_second`.
    pub fn new(clock: SharedClock, global: f64) -> Engine {
        let budget = Budget::new(clock.clone(), BudgetConfig { per_camera: PER_CAMERA_CAP, global });
        Engine { clock, budget, models: Mutex::new(HashMap::new()) }
    }

    /// A changed `[objects] max_per_second` (config reload).
    pub fn set_global(&self, global: f64) {
        if self.budget.config().global != global {
            self.budget.set_config(BudgetConfig { per_camera: PER_CAMERA_CAP, global });
        }
    }

    pub(super) fn budget(&self) -> &Budget {
        &self.budget
    }

    pub(super) fn clock(&self) -> &SharedClock {
        &self.clock
    }

    /// The model a camera asks for (`model`/`labels`, or the shipped one). Loading blocks (about a second):
    /// the worker thread calls it. A user's file that fails to load is reported once and not retried until
    /// its path changes.
    pub(super) fn detector(
        &self,
        model: Option<&PathBuf>,
        labels: Option<&PathBuf>,
    ) -> Result<Arc<Detector>, kw_objects::Error> {
        let Some(model) = model else { return Detector::shipped() };
        let key = (model.clone(), labels.cloned());
        if let Some(found) = self.models.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
            return found.clone();
        }
        // Loaded outside the lock: another camera may load the same file meanwhile (rare, harmless).
        let loaded = Detector::from_onnx(model, labels.map(|p| p.as_path())).map(Arc::new);
        self.models.lock().unwrap_or_else(|e| e.into_inner()).insert(key, loaded.clone());
        loaded
    }
}
