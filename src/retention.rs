//! Retention: every [`EVERY`] the store deletes what the effective config's limits (`max_size`,
//! `max_age`, per camera and in total) no longer allow, counting in-progress data, so the store stays
//! under its cap; now and then old events are pruned with the same age limit.
//!
//! It runs on the async runtime but does its work on the blocking pool (deleting is file I/O and SQLite).

use crate::config_watch::Effective;
use crate::events::EventStore;
use kw_config::Config;
use kw_media::clock::SharedClock;
use kw_store::{Retention, Store};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// How often retention runs.
pub const EVERY: Duration = Duration::from_secs(1);
/// Events are pruned every this many retention rounds (10 minutes), the first time at once.
const PRUNE_EVENTS_EVERY: u64 = 600;

/// The store's retention policy from a config.
pub fn policy(cfg: &Config) -> Retention {
    Retention {
        max_size: cfg.storage.max_size,
        max_age: cfg.storage.max_age,
        cameras: cfg.cameras.iter().map(|c| (c.name.clone(), (c.max_size, c.max_age))).collect(),
    }
}

/// Enforces retention until the task is aborted, always with the config as it runs now.
pub async fn run(store: Arc<Store>, events: Arc<EventStore>, config: watch::Receiver<Effective>, clock: SharedClock) {
    let mut every = tokio::time::interval(EVERY);
    let mut n = 0u64;
    loop {
        every.tick().await;
        n += 1;
        let cfg = config.borrow().clone();
        if n % PRUNE_EVENTS_EVERY == 1 {
            let keep = cfg.storage.max_age.unwrap_or(kw_events::DEFAULT_KEEP);
            let before = clock.wall() - i64::try_from(keep.as_micros()).unwrap_or(i64::MAX);
            let events = events.clone();
            if let Ok(Err(e)) = tokio::task::spawn_blocking(move || events.prune(before)).await {
                tracing::error!("pruning old events failed: {e}");
            }
        }
        let (store, now, policy) = (store.clone(), clock.wall(), policy(&cfg));
        match tokio::task::spawn_blocking(move || store.enforce_retention(&policy, now)).await {
            Ok(Ok(deleted)) if !deleted.is_empty() => {
                tracing::info!("retention: deleted {} old segment(s)", deleted.len())
            }
            Ok(Err(e)) => tracing::error!("retention failed: {e}"),
            _ => {}
        }
    }
}
