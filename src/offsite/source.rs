//! The bytes an off-site copy carries: the MP4 `keepwatch export` writes for the same range (the same
//! muxer over the same index, so the decrypted copy and an export are byte for byte equal) and the
//! event's picture from the events table.

use crate::events::EventStore;
use crate::playback::PlaybackError;
use kw_store::Store;
use std::io::Write;
use std::sync::Arc;

pub struct StoreSource {
    pub store: Arc<Store>,
    pub events: Arc<EventStore>,
}

impl kw_offsite::worker::Source for StoreSource {
    fn clip(&self, camera: &str, start: i64, end: i64, out: &mut dyn Write) -> Result<bool, String> {
        match crate::playback::build(&self.store, camera, start, end) {
            Ok(p) => p.write_to(out, |_| {}).map(|_| true).map_err(|e| format!("reading the recording: {e}")),
            Err(PlaybackError::NothingRecorded { .. } | PlaybackError::EmptyRange) => Ok(false),
            Err(e) => Err(e.to_string()),
        }
    }

    fn picture(&self, event_id: i64, out: &mut dyn Write) -> Result<bool, String> {
        match self.events.snapshot(event_id) {
            Ok(Some(jpeg)) => out.write_all(&jpeg).map(|()| true).map_err(|e| e.to_string()),
            Ok(None) => Ok(false),
            Err(e) => Err(e.to_string()),
        }
    }
}
