//! A full disk while recording: the recorder frees the oldest recordings and keeps going, losing nothing
//! it was sent. The disk is a segment backend with a byte budget (a real directory underneath), so the
//! recorder meets ENOSPC exactly as on a full file system.

use super::harness::*;
use crate::ingest::IngestError;
use kw_store::backend::Listed;
use kw_store::{LocalDir, ReadAt, SegmentBackend, SegmentKey, SqliteIndex, Store};
use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A local directory that holds at most `budget` bytes of segments.
struct Budget {
    dir: LocalDir,
    budget: u64,
    used: Arc<AtomicU64>,
}

struct BudgetSink {
    inner: Box<dyn kw_store::backend::SegmentSink>,
    len: u64,
    budget: u64,
    used: Arc<AtomicU64>,
}

fn no_space() -> io::Error {
    io::Error::from_raw_os_error(28) // ENOSPC
}

impl kw_store::backend::SegmentSink for BudgetSink {
    fn write_at(&mut self, offset: u64, buf: &[u8]) -> io::Result<()> {
        let grow = (offset + buf.len() as u64).saturating_sub(self.len);
        if self.used.load(Ordering::SeqCst) + grow > self.budget {
            return Err(no_space());
        }
        self.inner.write_at(offset, buf)?;
        self.used.fetch_add(grow, Ordering::SeqCst);
        self.len += grow;
        Ok(())
    }
    fn set_len(&mut self, len: u64) -> io::Result<()> {
        self.inner.set_len(len)?;
        if len < self.len {
            self.used.fetch_sub(self.len - len, Ordering::SeqCst);
            self.len = len;
        }
        Ok(())
    }
    fn sync_data(&mut self) -> io::Result<()> {
        self.inner.sync_data()
    }
    fn sync_all(&mut self) -> io::Result<()> {
        self.inner.sync_all()
    }
    fn sync_name(&mut self) -> io::Result<()> {
        self.inner.sync_name()
    }
}

impl SegmentBackend for Budget {
    fn location(&self, key: &SegmentKey) -> PathBuf {
        self.dir.location(key)
    }
    fn root(&self) -> PathBuf {
        self.dir.root()
    }
    fn create(&self, key: &SegmentKey) -> io::Result<Box<dyn kw_store::backend::SegmentSink>> {
        let inner = self.dir.create(key)?;
        Ok(Box::new(BudgetSink { inner, len: 0, budget: self.budget, used: self.used.clone() }))
    }
    fn open(&self, key: &SegmentKey) -> io::Result<Box<dyn ReadAt>> {
        self.dir.open(key)
    }
    fn size(&self, key: &SegmentKey) -> io::Result<Option<u64>> {
        self.dir.size(key)
    }
    fn truncate(&self, key: &SegmentKey, len: u64) -> io::Result<()> {
        let before = self.dir.size(key)?.unwrap_or(0);
        self.dir.truncate(key, len)?;
        self.used.fetch_sub(before.saturating_sub(len), Ordering::SeqCst);
        Ok(())
    }
    fn delete(&self, key: &SegmentKey) -> io::Result<bool> {
        let size = self.dir.size(key)?.unwrap_or(0);
        let gone = self.dir.delete(key)?;
        if gone {
            self.used.fetch_sub(size, Ordering::SeqCst);
        }
        Ok(gone)
    }
    fn list(&self) -> io::Result<Vec<Listed>> {
        self.dir.list()
    }
    fn free_space(&self) -> io::Result<Option<u64>> {
        Ok(Some(self.budget.saturating_sub(self.used.load(Ordering::SeqCst))))
    }
}

#[tokio::test(start_paused = true)]
async fn a_full_disk_deletes_the_oldest_recordings_and_loses_no_frame() {
    let dir = temp_dir();
    let used = Arc::new(AtomicU64::new(0));
    // About 2.5 segments: each minute of this camera is ~185 kB.
    let budget =
        Budget { dir: LocalDir::new(dir.path().join("segments")).unwrap(), budget: 470_000, used: used.clone() };
    let index = SqliteIndex::open(&dir.path().join("index.sqlite3")).unwrap();
    let store = Arc::new(Store::from_backends(uuid::Uuid::new_v4(), Box::new(index), Box::new(budget)));
    let clock = TestClock::new();
    let script =
        vec![Step::Play { params: params(640), shots: shots(0, 3000, 10, 0), end: End::Fail(IngestError::Ended) }];
    let source = Arc::new(ScriptedSource::new(script, &clock));
    let cam = Camera::start("door", source.clone(), &store, &clock, None);
    cam.play_out(&source, Duration::from_secs(1)).await;
    let (_, stats) = cam.stop().await;
    assert_eq!(stats.frames.load(Ordering::Relaxed), 3000, "every frame sent was written");
    assert_eq!(stats.errors.load(Ordering::Relaxed), 0);
    assert!(used.load(Ordering::SeqCst) <= 470_000);
    let spans = spans_s(&store, "door");
    let last = *spans.last().expect("something is kept");
    assert_eq!(last.1, 300.0, "the newest video is kept: {spans:?}");
    assert!(spans[0].0 >= 60.0, "the oldest minute was deleted: {spans:?}");
    assert_eq!(spans.len(), 1, "what is kept is one piece: {spans:?}");
}
