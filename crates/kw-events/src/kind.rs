//! The kinds of event of the public contract (docs/conventions.md), spelt as the contract spells them.

use serde::{Deserialize, Serialize};
use std::fmt;

/// What an event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EventKind {
    /// Motion detected by keepwatch.
    Motion,
    /// Motion reported by the camera itself (ONVIF).
    CameraMotion,
    /// A camera stopped delivering video (`start`) and came back (`end`).
    CameraOffline,
    /// Storage trouble: nearly full, missing, recording stopped.
    Storage,
}

impl EventKind {
    /// All kinds.
    pub const ALL: [EventKind; 4] =
        [EventKind::Motion, EventKind::CameraMotion, EventKind::CameraOffline, EventKind::Storage];

    /// The contract's spelling (`camera-offline`).
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Motion => "motion",
            EventKind::CameraMotion => "camera-motion",
            EventKind::CameraOffline => "camera-offline",
            EventKind::Storage => "storage",
        }
    }

    /// Parses the contract's spelling.
    pub fn parse(text: &str) -> Option<EventKind> {
        EventKind::ALL.into_iter().find(|k| k.as_str() == text)
    }

    /// Motion of either origin: these follow the alert mode; health kinds always go out.
    pub fn is_motion(self) -> bool {
        matches!(self, EventKind::Motion | EventKind::CameraMotion)
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_round_trip() {
        for k in EventKind::ALL {
            assert_eq!(EventKind::parse(k.as_str()), Some(k));
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
        }
        assert_eq!(EventKind::parse("Motion"), None);
    }
}
