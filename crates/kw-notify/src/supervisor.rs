//! The supervisor: one worker per notifier, restarted when its config changes, plus housekeeping.
//!
//! Workers are plain tokio tasks owned by the supervisor through [`AbortOnDrop`], so aborting the
//! supervisor's handle (or dropping the runtime) stops them all; a delivery cut off that way is simply
//! retried next time, which the outbox makes safe.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use kw_config::{NotifyConfig, NotifyKind};
use tokio::task::JoinHandle;

use crate::SECOND;
use crate::{db, deliver, mqtt, Alerts};

/// How often the outbox bounds are applied.
const HOUSEKEEPING_EVERY: i64 = 10 * 60 * SECOND;
/// How often the stored mode is checked for changes made by another process.
const MODE_POLL: Duration = Duration::from_secs(2);

/// Aborts the task when dropped.
pub(crate) struct AbortOnDrop(pub JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

pub(crate) async fn run(alerts: Arc<Alerts>) {
    let mut config = alerts.notifiers.subscribe();
    let mut workers: HashMap<String, (NotifyConfig, AbortOnDrop)> = HashMap::new();
    let mut tick = tokio::time::interval(MODE_POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_housekeeping: Option<i64> = None;
    loop {
        let list = config.borrow_and_update().clone();
        reconcile(&alerts, &list, &mut workers);
        loop {
            tokio::select! {
                changed = config.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    break;
                }
                _ = tick.tick() => {
                    alerts.mode();
                    let now = alerts.ctx().now();
                    if last_housekeeping.is_none_or(|t| now - t >= HOUSEKEEPING_EVERY || now < t) {
                        last_housekeeping = Some(now);
                        housekeeping(&alerts, &list).await;
                    }
                }
            }
        }
    }
}

/// Starts, restarts and stops workers to match `list`.
fn reconcile(alerts: &Arc<Alerts>, list: &[NotifyConfig], workers: &mut HashMap<String, (NotifyConfig, AbortOnDrop)>) {
    workers.retain(|name, (cfg, _)| {
        let keep = list.iter().any(|n| n == cfg);
        if !keep {
            tracing::info!(notifier = %name, "notifier removed or changed: worker stopped");
        }
        keep
    });
    for cfg in list {
        if workers.contains_key(&cfg.name) {
            continue;
        }
        let wake = alerts.waker(&cfg.name);
        let task = match cfg.kind {
            NotifyKind::Mqtt => tokio::spawn(mqtt::run(alerts.clone(), cfg.clone(), wake)),
            _ => tokio::spawn(deliver::run(alerts.clone(), cfg.clone(), wake)),
        };
        tracing::info!(notifier = %cfg.name, kind = %cfg.kind, target = %kw_config::redacted_url(&cfg.target),
            "notifier worker started");
        workers.insert(cfg.name.clone(), (cfg.clone(), AbortOnDrop(task)));
    }
}

async fn housekeeping(alerts: &Arc<Alerts>, list: &[NotifyConfig]) {
    let names: Vec<String> = list.iter().map(|n| n.name.clone()).collect();
    let now = alerts.ctx().now();
    if let Err(e) = alerts.db.call(move |c| db::outbox::housekeeping(c, now, &names)).await {
        tracing::warn!("alerts housekeeping failed: {e}");
    }
}
