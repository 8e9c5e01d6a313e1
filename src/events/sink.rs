//! [`EventSink`]: start / improve / finish an event, each written to the table and then announced.
//!
//! Calls block (SQLite, a few ms); async producers call them from `spawn_blocking`. An announcement is
//! sent only after its row is written, so a listener that reads the row always finds it. Nobody
//! listening is fine (the CLI, tests); a listener that falls behind loses announcements, never rows.

use super::{EventError, EventKind, EventStore, Label, NewEvent};
use kw_media::WallMicros;
use std::sync::Arc;
use tokio::sync::broadcast;

/// How many announcements a slow listener may fall behind before it loses some.
const NOTICE_QUEUE: usize = 256;

/// Which change an announcement is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoticePhase {
    Started,
    Updated,
    Ended,
}

/// One announced change of a stored event (listeners read the row for the rest).
#[derive(Clone, Copy, Debug)]
pub struct Notice {
    pub phase: NoticePhase,
    pub id: i64,
}

/// An event a producer has started and not yet finished.
#[derive(Clone, Debug, PartialEq)]
pub struct OpenEvent {
    pub id: i64,
    pub camera: String,
    pub kind: EventKind,
}

/// The one writer of events. Cheap to clone.
#[derive(Clone)]
pub struct EventSink {
    store: Arc<EventStore>,
    notices: broadcast::Sender<Notice>,
}

impl EventSink {
    pub fn new(store: Arc<EventStore>) -> EventSink {
        let (notices, _) = broadcast::channel(NOTICE_QUEUE);
        EventSink { store, notices }
    }

    /// The table, for readers (API, alerts).
    pub fn store(&self) -> &Arc<EventStore> {
        &self.store
    }

    /// Announcements from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Notice> {
        self.notices.subscribe()
    }

    /// Stores the start of an event and announces it.
    pub fn start(&self, new: &NewEvent<'_>) -> Result<OpenEvent, EventError> {
        let id = self.store.start(new)?;
        let open = OpenEvent { id, camera: new.camera.to_owned(), kind: new.kind };
        self.announce(NoticePhase::Started, &open);
        Ok(open)
    }

    /// A better score, region or picture of an event that goes on (`jpeg: None` keeps the picture).
    pub fn improve(
        &self,
        open: &OpenEvent,
        score: f64,
        region: Option<[f64; 4]>,
        jpeg: Option<&[u8]>,
    ) -> Result<(), EventError> {
        self.store.improve(open.id, score, region, jpeg)?;
        self.announce(NoticePhase::Updated, open);
        Ok(())
    }

    /// What object detection saw during an event that goes on (merged into its labels) and, when given,
    /// its picture with the boxes; announced as an update. Returns whether a label was new to the event.
    pub fn add_labels(&self, open: &OpenEvent, labels: &[Label], jpeg: Option<&[u8]>) -> Result<bool, EventError> {
        let added = self.store.add_labels(open.id, labels, jpeg)?;
        self.announce(NoticePhase::Updated, open);
        Ok(added)
    }

    /// Ends an event at `end` and announces it.
    pub fn finish(&self, open: &OpenEvent, end: WallMicros) -> Result<(), EventError> {
        self.store.finish(open.id, end)?;
        self.announce(NoticePhase::Ended, open);
        Ok(())
    }

    fn announce(&self, phase: NoticePhase, open: &OpenEvent) {
        let _ = self.notices.send(Notice { phase, id: open.id });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_change_is_stored_before_it_is_announced() {
        let dir = tempfile::tempdir().unwrap();
        let sink = EventSink::new(Arc::new(EventStore::open(&dir.path().join("index.sqlite3")).unwrap()));
        let mut rx = sink.subscribe();
        let new =
            NewEvent { camera: "door", kind: EventKind::Motion, start: 1_000, score: 0.3, region: None, jpeg: None };
        let open = sink.start(&new).unwrap();
        let n = rx.try_recv().unwrap();
        assert_eq!((n.phase, n.id), (NoticePhase::Started, open.id));
        assert_eq!((open.camera.as_str(), open.kind), ("door", EventKind::Motion));
        assert_eq!(sink.store().get(n.id).unwrap().unwrap().end, None);
        sink.improve(&open, 0.8, Some([0.1, 0.1, 0.2, 0.2]), Some(b"jpeg")).unwrap();
        assert_eq!(rx.try_recv().unwrap().phase, NoticePhase::Updated);
        sink.finish(&open, 5_000).unwrap();
        assert_eq!(rx.try_recv().unwrap().phase, NoticePhase::Ended);
        let row = sink.store().get(open.id).unwrap().unwrap();
        assert_eq!((row.end, row.score, row.has_snapshot), (Some(5_000), 0.8, true));
    }
}
