//! Events as one room: the table and the kinds come from `kw_events`; this module adds the one way every
//! producer writes them, [`EventSink`], which stores each change and announces it on a channel that
//! alerts (and anything else that cares) follow.
//!
//! Producers: keepwatch's motion pipeline (`crate::motion`), the camera's own motion events
//! (`crate::camera_motion`), the health watcher (`crate::health`). Each starts an event, improves it
//! (a better picture or score) and finishes it through the sink, so none of them writes SQL or knows
//! who listens.

mod sink;

pub use kw_events::{EventError, EventKind, EventRow, EventStore, Label, NewEvent, Query};
pub use sink::{EventSink, Notice, NoticePhase, OpenEvent};
