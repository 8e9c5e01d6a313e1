//! Fan-out: one camera connection feeds every consumer (recorder, live viewers, motion detection).
//!
//! Why this shape: cheap cameras allow one or two RTSP sessions, so keepwatch opens exactly one per stream
//! and copies `Arc`s, never bytes, to each subscriber. Each subscriber has its own bounded queue; a
//! subscriber that falls behind (a slow browser, a stalled disk) is skipped ahead to the next key frame
//! with a [`MediaEvent::Gap`] marker, so it can never slow the camera or the other subscribers, and its
//! memory is bounded by its queue.
//!
//! The hub also keeps the current GOP in memory, so a new live viewer starts at once from the latest key
//! frame and a snapshot of "now" can be decoded. (Record-on-motion keeps its own pre-roll in the
//! recorder's gate, sized by the camera's `pre_roll`.)

use kw_media::{Frame, RunInfo, StreamKind};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

/// What flows from a camera to its subscribers.
#[derive(Clone, Debug)]
pub enum MediaEvent {
    /// A new run starts (first connection, reconnection, or changed parameters). Frames that follow
    /// belong to it.
    Run(Arc<RunInfo>),
    /// One access unit, in decode order.
    Frame(Arc<Frame>),
    /// This subscriber fell behind and frames were skipped; the next frame is a video key frame.
    Gap,
    /// The camera connection ended (frames resume with a new `Run`).
    Stopped,
}

struct Subscriber {
    tx: mpsc::Sender<MediaEvent>,
    /// Skipping until the next video key frame.
    skipping: bool,
}

struct Inner {
    run: Option<Arc<RunInfo>>,
    /// The frames since the latest video key frame, that key frame first.
    gop: VecDeque<Arc<Frame>>,
    subs: Vec<Subscriber>,
}

/// One camera's fan-out point. Cheap to clone.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<Mutex<Inner>>,
}

/// Where a new subscription starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Start {
    /// With the next frame published.
    Now,
    /// With the latest buffered video key frame (live view, motion).
    LastKeyFrame,
}

impl Hub {
    pub fn new() -> Self {
        Hub { inner: Arc::new(Mutex::new(Inner { run: None, gop: VecDeque::new(), subs: Vec::new() })) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the buffer half-updated in a way that matters
        // (worst case a frame is missing), so recover from poisoning instead of propagating it.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Subscribes with a queue of `capacity` events.
    pub fn subscribe(&self, capacity: usize, start: Start) -> mpsc::Receiver<MediaEvent> {
        let (tx, rx) = mpsc::channel(capacity.max(4));
        let mut inner = self.lock();
        let mut skipping = false;
        if start == Start::LastKeyFrame {
            if let Some(run) = inner.run.clone() {
                let _ = tx.try_send(MediaEvent::Run(run));
                for f in inner.gop.iter() {
                    if tx.try_send(MediaEvent::Frame(f.clone())).is_err() {
                        skipping = true;
                        break;
                    }
                }
            }
        }
        inner.subs.push(Subscriber { tx, skipping });
        rx
    }

    /// The current run: what a new subscriber's stream looks like. None when the camera is not streaming.
    pub fn current_run(&self) -> Option<Arc<RunInfo>> {
        self.lock().run.clone()
    }

    /// The current run and its buffered video frames from the latest video key frame on, in decode order
    /// (for snapshots). None when the camera is not streaming or no key frame has arrived yet.
    pub fn current_gop(&self) -> Option<(Arc<RunInfo>, Vec<Arc<Frame>>)> {
        let inner = self.lock();
        let run = inner.run.clone()?;
        if inner.gop.is_empty() {
            return None;
        }
        let frames = inner.gop.iter().filter(|f| f.stream == StreamKind::Video).cloned().collect();
        Some((run, frames))
    }

    /// The most events any subscriber has queued and not yet taken (the in-process tests run the camera in
    /// lockstep with its consumers).
    #[cfg(test)]
    pub fn backlog(&self) -> usize {
        self.lock().subs.iter().map(|s| s.tx.max_capacity() - s.tx.capacity()).max().unwrap_or(0)
    }

    pub fn publish_run(&self, run: Arc<RunInfo>) {
        let mut inner = self.lock();
        inner.gop.clear();
        inner.run = Some(run.clone());
        Self::send_all(&mut inner, MediaEvent::Run(run), false);
    }

    /// Ends every subscription (the camera is being removed): subscribers see their queue close after
    /// draining what was already sent.
    pub fn close(&self) {
        let mut inner = self.lock();
        inner.subs.clear();
        inner.run = None;
        inner.gop.clear();
    }

    pub fn publish_stopped(&self) {
        let mut inner = self.lock();
        inner.run = None;
        inner.gop.clear();
        Self::send_all(&mut inner, MediaEvent::Stopped, false);
    }

    pub fn publish_frame(&self, frame: Arc<Frame>) {
        let mut inner = self.lock();
        let video_key = frame.stream == StreamKind::Video && frame.key;
        if video_key {
            inner.gop.clear();
            inner.gop.push_back(frame.clone());
        } else if !inner.gop.is_empty() {
            inner.gop.push_back(frame.clone());
        }
        Self::send_all(&mut inner, MediaEvent::Frame(frame), video_key);
    }

    fn send_all(inner: &mut Inner, ev: MediaEvent, video_key: bool) {
        inner.subs.retain_mut(|s| {
            if s.tx.is_closed() {
                return false;
            }
            if s.skipping {
                if !video_key {
                    return true;
                }
                if s.tx.try_send(MediaEvent::Gap).is_err() {
                    return true;
                }
                s.skipping = false;
            }
            match s.tx.try_send(ev.clone()) {
                Ok(()) => true,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    s.skipping = true;
                    true
                }
                Err(mpsc::error::TrySendError::Closed(_)) => false,
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use kw_media::{Codec, StreamParams};

    fn run() -> Arc<RunInfo> {
        Arc::new(RunInfo {
            video: StreamParams {
                codec: Codec::H264,
                timescale: 90_000,
                width: 64,
                height: 64,
                sample_rate: 0,
                channels: 0,
                extra: vec![],
                rfc6381: "avc1.42001e".into(),
            },
            audio: None,
            wall_anchor: 0,
        })
    }

    fn frame(i: i64, key: bool) -> Arc<Frame> {
        Arc::new(Frame { stream: StreamKind::Video, pts: i * 3600, key, loss_before: false, data: Bytes::new() })
    }

    #[test]
    fn slow_subscriber_skips_to_key_frame() {
        let hub = Hub::new();
        let mut fast = hub.subscribe(1000, Start::Now);
        let mut slow = hub.subscribe(4, Start::Now);
        hub.publish_run(run());
        for i in 0..50 {
            hub.publish_frame(frame(i, i % 10 == 0));
        }
        let mut n = 0;
        while let Ok(ev) = fast.try_recv() {
            if matches!(ev, MediaEvent::Frame(_)) {
                n += 1;
            }
        }
        assert_eq!(n, 50, "the fast subscriber loses nothing");
        let evs: Vec<MediaEvent> = std::iter::from_fn(|| slow.try_recv().ok()).collect();
        assert_eq!(evs.len(), 4);
        // Drained: it resumes at the next key frame (50), after a Gap marker.
        for i in 50..61 {
            hub.publish_frame(frame(i, i % 10 == 0));
        }
        match slow.try_recv() {
            Ok(MediaEvent::Gap) => {}
            other => panic!("expected Gap, got {other:?}"),
        }
        match slow.try_recv() {
            Ok(MediaEvent::Frame(f)) => assert!(f.key && f.pts == 50 * 3600),
            other => panic!("expected key frame, got {other:?}"),
        }
    }

    #[test]
    fn late_subscriber_starts_at_last_key_frame() {
        let hub = Hub::new();
        hub.publish_run(run());
        for i in 0..95 {
            hub.publish_frame(frame(i, i % 25 == 0));
        }
        let mut live = hub.subscribe(1000, Start::LastKeyFrame);
        assert!(matches!(live.try_recv(), Ok(MediaEvent::Run(_))));
        match live.try_recv() {
            Ok(MediaEvent::Frame(f)) => assert_eq!(f.pts, 75 * 3600),
            other => panic!("{other:?}"),
        }
        let (_, gop) = hub.current_gop().unwrap();
        assert_eq!(gop.len(), 20, "only the current GOP is kept");
        let mut now = hub.subscribe(1000, Start::Now);
        assert!(now.try_recv().is_err(), "Now starts with the next frame");
    }
}
