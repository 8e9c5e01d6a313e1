//! keepwatch's events: what happened on a camera or to the recorder (motion, camera-side motion, a
//! camera going offline, storage trouble), as one typed [`EventKind`] and one table ([`EventStore`]).
//!
//! Why a crate of its own: events have several producers (keepwatch's motion detector, the camera's own
//! ONVIF motion, the health watcher, later object detection) and several readers (the HTTP API, alerts,
//! the web UI). Before, the kinds were bare strings and each producer wrote the table its own way. Here
//! the kinds are one enum that the alerts crate shares, and the table is one type; the binary's event
//! sink (`src/events/`) adds the announcing of each change.

mod kind;
pub mod labels;
mod table;

pub use kind::EventKind;
pub use labels::Label;
pub use table::{EventError, EventRow, EventStore, NewEvent, Query, DEFAULT_KEEP, MAX_PER_CAMERA};
