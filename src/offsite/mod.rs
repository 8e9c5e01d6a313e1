//! Events → off-site copies: follows the [`EventSink`]'s announcements and queues, per `[[offsite]]`
//! target that wants the event, the first seconds of the clip right after the event starts (so a box
//! smashed mid-event still leaves them off the premises), and the whole clip with pre- and post-roll and
//! the picture once it has ended. It keeps one `kw_offsite` worker per target in step with the effective
//! config, and raises a `storage` event when a target has failed for an hour.
//!
//! Why here: `kw_offsite` knows queues, encryption and storage and nothing of cameras; this module knows
//! the events, the cameras' pre/post-roll and the store ([`source`]) and nothing of S3 or WebDAV.

mod source;

use crate::config_watch::Effective;
use crate::events::{EventKind, EventRow, EventSink, Notice, NoticePhase, OpenEvent};
use kw_config::{NotifyEvent, OffsiteConfig};
use kw_offsite::queue::NewJob;
use kw_offsite::{Health, Part, Queue};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, watch, Notify};
use tokio::task::JoinHandle;

pub use source::StoreSource;

/// Length of the first part sent while an event goes on.
pub const HEAD: Duration = Duration::from_secs(10);
/// Wait after a range's end before reading it (the recorder indexes what it wrote every few seconds).
pub const SETTLE: Duration = Duration::from_secs(8);
/// A target failing this long raises a `storage` event.
pub const ALERT_AFTER: Duration = Duration::from_secs(3600);
/// How often the alert is considered.
const CHECK_EVERY: Duration = Duration::from_secs(30);

/// What the HTTP layer reads: the targets' health and the queue (has an event been copied?).
#[derive(Clone)]
pub struct Handle {
    pub health: Health,
    pub queue: Queue,
    /// Nudged when a target's credentials file was rewritten (the entry itself may be unchanged): every
    /// worker starts again and reads its credentials anew.
    pub reopen: Arc<Notify>,
}

/// What the daemon hands this module.
pub struct Parts {
    pub handle: Handle,
    pub spool_dir: PathBuf,
    pub source: Arc<dyn kw_offsite::worker::Source>,
    pub sink: EventSink,
    pub notices: broadcast::Receiver<Notice>,
    pub config: watch::Receiver<Effective>,
}

struct Running {
    cfg: OffsiteConfig,
    task: JoinHandle<()>,
    wake: Arc<Notify>,
}

fn us(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX / 4)
}

/// Runs until aborted: queues copies of announced events and keeps the workers in step with the config.
pub async fn run(mut p: Parts) {
    let mut workers: HashMap<String, Running> = HashMap::new();
    let mut cfg = p.config.borrow_and_update().clone();
    apply(&p, &mut workers, &cfg);
    catch_up(&p, &workers, &cfg).await;
    let mut alert: Option<OpenEvent> = None;
    let mut check = tokio::time::interval(CHECK_EVERY);
    let mut checks = 0u64;
    loop {
        tokio::select! {
            n = p.notices.recv() => match n {
                Ok(Notice { phase: NoticePhase::Started, id }) => on_event(&p, &workers, &cfg, id, false).await,
                Ok(Notice { phase: NoticePhase::Ended, id }) => on_event(&p, &workers, &cfg, id, true).await,
                Ok(Notice { phase: NoticePhase::Updated, .. }) => {}
                Err(broadcast::error::RecvError::Lagged(n)) => tracing::warn!("off-site copies fell behind by {n} event notices"),
                Err(broadcast::error::RecvError::Closed) => break,
            },
            r = p.config.changed() => {
                if r.is_err() {
                    break;
                }
                cfg = p.config.borrow_and_update().clone();
                apply(&p, &mut workers, &cfg);
            }
            _ = p.handle.reopen.notified() => {
                for (_, r) in workers.drain() {
                    r.task.abort();
                }
                apply(&p, &mut workers, &cfg);
            }
            _ = check.tick() => {
                alert = check_alert(&p, alert).await;
                checks += 1;
                if checks % 2880 == 1 {
                    let q = p.handle.queue.clone();
                    let before = kw_offsite::worker::now_us() - us(kw_offsite::queue::KEEP_FINISHED);
                    let _ = q.call(move |q| q.prune(before)).await;
                }
            }
        }
    }
    for (_, r) in workers {
        r.task.abort();
    }
}

/// Starts, stops and restarts workers so that one runs per configured target with its current settings.
fn apply(p: &Parts, workers: &mut HashMap<String, Running>, cfg: &Effective) {
    workers.retain(|name, r| {
        let keep = cfg.offsite.iter().any(|o| o == &r.cfg);
        if !keep {
            tracing::info!(target = %name, "off-site target stopped or changed");
            r.task.abort();
        }
        keep
    });
    for o in &cfg.offsite {
        if workers.contains_key(&o.name) {
            continue;
        }
        let wake = Arc::new(Notify::new());
        let worker = kw_offsite::worker::Worker {
            cfg: o.clone(),
            queue: p.handle.queue.clone(),
            spool_dir: p.spool_dir.clone(),
            source: p.source.clone(),
            health: p.handle.health.clone(),
            wake: wake.clone(),
        };
        let task = tokio::spawn(worker.run());
        workers.insert(o.name.clone(), Running { cfg: o.clone(), task, wake });
    }
    p.handle.health.retain(&cfg.offsite.iter().map(|o| o.name.clone()).collect::<Vec<_>>());
}

async fn event(p: &Parts, id: i64) -> Option<EventRow> {
    let events = p.sink.store().clone();
    match tokio::task::spawn_blocking(move || events.get(id)).await {
        Ok(Ok(row)) => row,
        Ok(Err(e)) => {
            tracing::error!("cannot read event {id} for off-site copies: {e}");
            None
        }
        Err(e) => {
            tracing::error!("cannot read event {id} for off-site copies: {e}");
            None
        }
    }
}

/// Queues what the targets want of event `id` (its head when it starts, clip and picture when it ends).
async fn on_event(p: &Parts, workers: &HashMap<String, Running>, cfg: &Effective, id: i64, ended: bool) {
    let Some(row) = event(p, id).await else { return };
    if !matches!(row.kind, EventKind::Motion | EventKind::CameraMotion) {
        return;
    }
    let Ok(kind) = row.kind.as_str().parse::<NotifyEvent>() else { return };
    let (pre, post) = cfg
        .cameras
        .iter()
        .find(|c| c.name == row.camera)
        .map_or((0, 0), |c| (us(c.motion.pre_roll), us(c.motion.post_roll)));
    let now = kw_offsite::worker::now_us();
    let mut jobs: Vec<(String, Part, (i64, i64), i64)> = Vec::new();
    for t in cfg.offsite.iter().filter(|t| t.wants_camera(&row.camera) && t.wants_event(kind)) {
        match (ended, row.end) {
            (false, _) if t.what.clip() => {
                let end = row.start + us(HEAD);
                jobs.push((t.name.clone(), Part::Head, (row.start - pre, end), end + us(SETTLE)));
            }
            (true, Some(end)) => {
                if t.what.clip() {
                    let end = end + post;
                    jobs.push((t.name.clone(), Part::Clip, (row.start - pre, end), end + us(SETTLE)));
                }
                if t.what.picture() {
                    jobs.push((t.name.clone(), Part::Picture, (row.start, end), now));
                }
            }
            _ => {}
        }
    }
    if jobs.is_empty() {
        return;
    }
    let hide: HashMap<String, bool> = cfg.offsite.iter().map(|t| (t.name.clone(), t.hide_names)).collect();
    let (q, camera, start) = (p.handle.queue.clone(), row.camera.clone(), row.start);
    let queued = jobs.clone();
    let r = q
        .call(move |q| {
            for (target, part, range, due) in &queued {
                let object = kw_offsite::names::object_name(hide[target], &camera, start, id, *part);
                let job =
                    NewJob { target, event_id: id, camera: &camera, part: *part, range: *range, object, due: *due };
                q.enqueue(&job, now)?;
            }
            Ok(())
        })
        .await;
    match r {
        Ok(()) => {
            for (target, ..) in &jobs {
                if let Some(w) = workers.get(target) {
                    w.wake.notify_one();
                }
            }
        }
        Err(e) => tracing::error!(event = id, "cannot queue off-site copies: {e}"),
    }
}

/// Events whose first part was queued but whose end the daemon never announced (it stopped mid-event;
/// the restart ended the event): their clips and pictures are queued now.
async fn catch_up(p: &Parts, workers: &HashMap<String, Running>, cfg: &Effective) {
    let q = p.handle.queue.clone();
    let names: Vec<String> = cfg.offsite.iter().map(|o| o.name.clone()).collect();
    let ids = q
        .call(move |q| {
            let mut ids = Vec::new();
            for n in &names {
                ids.extend(q.heads_without_clip(n)?);
            }
            Ok(ids)
        })
        .await;
    match ids {
        Ok(mut ids) => {
            ids.sort_unstable();
            ids.dedup();
            for id in ids {
                on_event(p, workers, cfg, id, true).await;
            }
        }
        Err(e) => tracing::error!("off-site queue: {e}"),
    }
}

/// Raises a `storage` event while any target has failed for over [`ALERT_AFTER`]; ends it when all work.
async fn check_alert(p: &Parts, open: Option<OpenEvent>) -> Option<OpenEvent> {
    let now = kw_offsite::worker::now_us();
    let failing: Vec<(String, String)> = p
        .handle
        .health
        .snapshot()
        .into_iter()
        .filter(|(_, s)| s.failing_since.is_some_and(|t| now - t >= us(ALERT_AFTER)))
        .map(|(n, s)| (n, s.last_error.unwrap_or_default()))
        .collect();
    match (open, failing.is_empty()) {
        (None, false) => {
            for (name, err) in &failing {
                tracing::error!(target = %name, "off-site target failing for over an hour: {err}");
            }
            crate::health::start(&p.sink, "", EventKind::Storage, now).await
        }
        (Some(ev), true) => {
            tracing::info!("off-site targets work again");
            crate::health::finish(&p.sink, ev, now).await;
            None
        }
        (open, _) => open,
    }
}
