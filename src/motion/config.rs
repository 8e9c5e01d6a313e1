//! From the config file's `[cameras.motion]` to the detector's own settings: kw-motion knows nothing of
//! the config file (ARCHITECTURE.md: the pixel crates know neither tokio nor the config).

use kw_motion::DetectorConfig;
#[cfg(test)]
use std::time::Duration;

/// The detector's settings from a camera's `[cameras.motion]` table: `sensitivity`, `min_duration` and
/// `zones`; `pre_roll`, `post_roll`, `keyframes_only` and `enabled` are the pipeline's business (recording
/// and decoding), everything else keeps the detector's defaults. Here, not in kw-motion, so the detector
/// knows nothing of the config file.
pub fn detector_config(m: &kw_config::MotionConfig) -> DetectorConfig {
    DetectorConfig {
        sensitivity: m.sensitivity as f32,
        min_duration: m.min_duration,
        zones: m
            .zones
            .iter()
            .map(|z| kw_motion::Zone {
                kind: match z.kind {
                    kw_config::ZoneKind::Include => kw_motion::ZoneKind::Include,
                    kw_config::ZoneKind::Exclude => kw_motion::ZoneKind::Exclude,
                },
                points: z.points.clone(),
            })
            .collect(),
        ..DetectorConfig::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detector_config_from_motion_config() {
        let mut m = kw_config::MotionConfig { sensitivity: 0.8, ..Default::default() };
        m.zones.push(kw_config::Zone {
            name: "a".into(),
            kind: kw_config::ZoneKind::Exclude,
            points: vec![(0.0, 0.0), (1.0, 0.0), (1.0, 1.0)],
        });
        let c = detector_config(&m);
        assert!((c.sensitivity - 0.8).abs() < 1e-6);
        assert_eq!(c.min_duration, Duration::from_secs(1));
        assert_eq!(c.zones.len(), 1);
        assert_eq!(c.zones[0].kind, kw_motion::ZoneKind::Exclude);
    }
}
