//! Camera-side motion through ONVIF PullPoint subscriptions.
//!
//! Why PullPoint: the camera cannot reach keepwatch (NAT, firewall, no callback URL to configure), so
//! keepwatch long-polls: CreatePullPointSubscription, then PullMessages in a loop (each waits up to
//! `pull_timeout` for news), Renew before the subscription's termination time, Unsubscribe on stop, and a
//! fresh subscription (with back-off) after any error.
//!
//! What counts as motion: a notification whose topic mentions motion (`RuleEngine/CellMotionDetector/
//! Motion`, `VideoSource/MotionAlarm`, ...) with a boolean `IsMotion`, `State`, `LogicalState` or `Motion`
//! item. Two camera habits are handled in [`MotionTracker`]:
//! - every new subscription replays the current state with `PropertyOperation="Initialized"`; a replayed
//!   "on" is not new motion and is ignored (a replayed "off" still ends a state keepwatch thought on);
//! - some cameras never send "off": an "on" that is not refreshed for `expire_after` ends by itself.
//!
//! Motion from several sources (video sources, rules) is merged: on while any source is on.

use crate::device::Camera;
use crate::xml::{self, attr, descendant, descendants, text};
use crate::Error;
use kw_logsafe::{OneLine, Untrusted};
use std::collections::HashMap;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

const EVENTS_WSDL: &str = "http://www.onvif.org/ver10/events/wsdl";
const WSN_BW: &str = "http://docs.oasis-open.org/wsn/bw-2";
/// The most notifications read from one answer, and the most motion sources tracked.
const MAX_NOTIFICATIONS: usize = 1024;
const MAX_SOURCES: usize = 256;
/// The shortest time from one PullMessages to the next.
const MIN_PULL_GAP: Duration = Duration::from_millis(200);

/// How the PullPoint loop behaves.
#[derive(Clone, Debug)]
pub struct WatchOptions {
    /// How long one PullMessages may wait for news (the camera's long poll).
    pub pull_timeout: Duration,
    pub message_limit: u32,
    /// Asked subscription lifetime (renewed before it ends).
    pub termination: Duration,
    /// An "on" not refreshed for this long ends.
    pub expire_after: Duration,
    /// The longest wait between failed subscriptions.
    pub max_backoff: Duration,
}

impl Default for WatchOptions {
    fn default() -> Self {
        WatchOptions {
            pull_timeout: Duration::from_secs(10),
            message_limit: 32,
            termination: Duration::from_secs(60),
            expire_after: Duration::from_secs(60),
            max_backoff: Duration::from_secs(60),
        }
    }
}

/// Motion as a whole turned on or off.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MotionChange {
    pub on: bool,
    /// The topic that caused it (prefixes stripped); empty when an "on" expired.
    pub topic: String,
}

/// One `wsnt:NotificationMessage`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Notification {
    /// Without namespace prefixes.
    pub topic: String,
    /// `Initialized`, `Changed`, `Deleted` (or none).
    pub operation: Option<String>,
    pub source: Vec<(String, String)>,
    pub data: Vec<(String, String)>,
}

impl Notification {
    /// Whether this is a motion notification, and which way.
    pub fn motion(&self) -> Option<bool> {
        if !self.topic.to_ascii_lowercase().contains("motion") {
            return None;
        }
        let names = ["ismotion", "state", "logicalstate", "motion", "motionalarm", "active"];
        self.data.iter().find(|(n, _)| names.contains(&n.to_ascii_lowercase().as_str())).and_then(|(_, v)| {
            match v.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "on" | "active" => Some(true),
                "false" | "0" | "off" | "inactive" => Some(false),
                _ => None,
            }
        })
    }

    fn source_key(&self) -> String {
        let mut k = self.topic.clone();
        for (n, v) in &self.source {
            k.push('|');
            k.push_str(n);
            k.push('=');
            k.push_str(v);
        }
        k
    }
}

fn simple_items(n: Option<roxmltree::Node<'_, '_>>) -> Vec<(String, String)> {
    let Some(n) = n else { return Vec::new() };
    descendants(n, "SimpleItem")
        .take(32)
        .filter_map(|i| Some((attr(i, "Name")?.to_owned(), attr(i, "Value")?.to_owned())))
        .collect()
}

/// The notifications in a PullMessages answer (or a Notify).
pub fn parse_notifications(text_: &str) -> Result<Vec<Notification>, Error> {
    notifications(&xml::parse(text_)?)
}

/// What a PullMessages answer holds: the notifications, and the camera's current and termination times
/// (ms since the epoch, camera clock) when it says.
pub type Pulled = (Vec<Notification>, Option<i64>, Option<i64>);

/// A PullMessages answer, from one parse.
pub fn parse_pull(text_: &str) -> Result<Pulled, Error> {
    let doc = xml::parse(text_)?;
    let (current, termination) = times(&doc);
    Ok((notifications(&doc)?, current, termination))
}

fn notifications(doc: &roxmltree::Document<'_>) -> Result<Vec<Notification>, Error> {
    let mut out = Vec::new();
    for nm in descendants(doc.root_element(), "NotificationMessage").take(MAX_NOTIFICATIONS) {
        let topic = descendant(nm, "Topic").map(|t| xml::plain_topic(&text(t))).unwrap_or_default();
        // The inner tt:Message (inside wsnt:Message) carries the operation and the items.
        let msg = descendants(nm, "Message")
            .find(|m| attr(*m, "PropertyOperation").is_some() || attr(*m, "UtcTime").is_some())
            .or_else(|| descendants(nm, "Message").last());
        let Some(msg) = msg else { continue };
        out.push(Notification {
            topic,
            operation: attr(msg, "PropertyOperation").map(str::to_owned),
            source: simple_items(descendant(msg, "Source")),
            data: simple_items(descendant(msg, "Data")),
        });
    }
    Ok(out)
}

/// A subscription's address and lifetime (camera clock, ms since the epoch).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subscription {
    pub address: String,
    pub current_ms: Option<i64>,
    pub termination_ms: Option<i64>,
    /// WS-Addressing reference parameters (e.g. a subscription id) to echo as headers, as XML fragments.
    pub reference_params: Vec<String>,
}

impl Subscription {
    /// How long it lives from now, when the camera said.
    fn remaining(&self) -> Option<Duration> {
        let (c, t) = (self.current_ms?, self.termination_ms?);
        u64::try_from(t - c).ok().map(Duration::from_millis)
    }
}

fn times(doc: &roxmltree::Document<'_>) -> (Option<i64>, Option<i64>) {
    let t = |l: &'static str| descendant(doc.root_element(), l).and_then(|n| crate::xstime::parse_utc(&text(n)));
    (t("CurrentTime"), t("TerminationTime"))
}

/// Parses CreatePullPointSubscription's answer.
pub fn parse_subscription(text_: &str) -> Result<Subscription, Error> {
    let doc = xml::parse(text_)?;
    let address = descendant(doc.root_element(), "SubscriptionReference")
        .and_then(|r| descendant(r, "Address"))
        .map(text)
        .filter(|a| !a.is_empty())
        .ok_or_else(|| Error::Protocol("the camera's subscription has no address".into()))?;
    let (current_ms, termination_ms) = times(&doc);
    let reference_params = descendant(doc.root_element(), "SubscriptionReference")
        .and_then(|r| descendant(r, "ReferenceParameters"))
        .map(|p| p.children().filter(|c| c.is_element()).take(8).filter_map(reference_param).collect())
        .unwrap_or_default();
    Ok(Subscription { address, current_ms, termination_ms, reference_params })
}

/// A reference parameter rebuilt as a self-contained header element (its namespace declared on itself,
/// whatever prefix the camera used), marked as one. Only simple elements with text are kept.
fn reference_param(n: roxmltree::Node<'_, '_>) -> Option<String> {
    if n.children().any(|c| c.is_element()) {
        return None;
    }
    let local = n.tag_name().name();
    let ns = n.tag_name().namespace().unwrap_or_default();
    Some(format!(
        r#"<rp:{local} xmlns:rp="{}" wsa:IsReferenceParameter="true">{}</rp:{local}>"#,
        xml::escape(ns),
        xml::escape(&text(n))
    ))
}

/// Turns notifications into motion on/off, ignoring replays and ending stale "on"s.
#[derive(Debug)]
pub struct MotionTracker {
    expire_after_ms: i64,
    /// Sources that are on, with when they were last said to be.
    active: HashMap<String, i64>,
    on: bool,
}

impl MotionTracker {
    pub fn new(expire_after: Duration) -> MotionTracker {
        MotionTracker {
            expire_after_ms: i64::try_from(expire_after.as_millis()).unwrap_or(i64::MAX),
            active: HashMap::new(),
            on: false,
        }
    }

    pub fn is_on(&self) -> bool {
        self.on
    }

    /// Feeds one notification at `now_ms`; returns the new overall state when it changed.
    pub fn observe(&mut self, n: &Notification, now_ms: i64) -> Option<MotionChange> {
        let motion = n.motion()?;
        let key = n.source_key();
        let replay = n.operation.as_deref() == Some("Initialized");
        match (motion, replay) {
            (true, true) => return None, // the state at subscription time, not new motion
            (true, false) => {
                if self.active.len() < MAX_SOURCES || self.active.contains_key(&key) {
                    self.active.insert(key, now_ms);
                }
            }
            (false, _) => {
                self.active.remove(&key);
            }
        }
        self.update(&n.topic)
    }

    /// Ends sources not refreshed for `expire_after`; returns the new overall state when it changed.
    pub fn tick(&mut self, now_ms: i64) -> Option<MotionChange> {
        let limit = self.expire_after_ms;
        self.active.retain(|_, seen| now_ms.saturating_sub(*seen) < limit);
        self.update("")
    }

    fn update(&mut self, topic: &str) -> Option<MotionChange> {
        let on = !self.active.is_empty();
        (on != self.on).then(|| {
            self.on = on;
            MotionChange { on, topic: topic.to_owned() }
        })
    }
}

fn addressing(action: &str, to: &str) -> String {
    format!("<wsa:Action>{}</wsa:Action><wsa:To>{}</wsa:To>", xml::escape(action), xml::escape(to))
}

/// WS-Addressing headers for a call on subscription `s`, with its reference parameters.
fn sub_headers(action: &str, s: &Subscription) -> String {
    addressing(action, &s.address) + &s.reference_params.concat()
}

fn xs_duration(d: Duration) -> String {
    format!("PT{}S", d.as_secs().max(1))
}

async fn subscribe(cam: &Camera, url: &str, o: &WatchOptions) -> Result<Subscription, Error> {
    let action = format!("{EVENTS_WSDL}/EventPortType/CreatePullPointSubscriptionRequest");
    let body = format!(
        "<tev:CreatePullPointSubscription><tev:InitialTerminationTime>{}</tev:InitialTerminationTime></tev:CreatePullPointSubscription>",
        xs_duration(o.termination)
    );
    let header = addressing(&action, url);
    let mut s =
        cam.client().call_read(url, &action, &header, &body, crate::soap::CALL_TIMEOUT, parse_subscription).await?;
    if let Ok(base) = url::Url::parse(cam.client().device_url()) {
        // Like service addresses: the camera may name an address it has on another network.
        if let Ok(mut u) = url::Url::parse(&s.address) {
            let _ = u.set_host(base.host_str());
            let _ = u.set_port(base.port());
            s.address = u.to_string();
        }
    }
    Ok(s)
}

async fn pull(cam: &Camera, s: &Subscription, o: &WatchOptions) -> Result<Pulled, Error> {
    let action = format!("{EVENTS_WSDL}/PullPointSubscription/PullMessagesRequest");
    let body = format!(
        "<tev:PullMessages><tev:Timeout>{}</tev:Timeout><tev:MessageLimit>{}</tev:MessageLimit></tev:PullMessages>",
        xs_duration(o.pull_timeout),
        o.message_limit
    );
    let limit = o.pull_timeout + Duration::from_secs(10);
    cam.client().call_read(&s.address, &action, &sub_headers(&action, s), &body, limit, parse_pull).await
}

async fn renew(cam: &Camera, s: &Subscription, o: &WatchOptions) -> Result<(Option<i64>, Option<i64>), Error> {
    let action = format!("{WSN_BW}/SubscriptionManager/RenewRequest");
    let body =
        format!("<wsnt:Renew><wsnt:TerminationTime>{}</wsnt:TerminationTime></wsnt:Renew>", xs_duration(o.termination));
    let header = sub_headers(&action, s);
    let read = |t: &str| xml::parse(t).map(|doc| times(&doc));
    cam.client().call_read(&s.address, &action, &header, &body, crate::soap::CALL_TIMEOUT, read).await
}

async fn unsubscribe(cam: &Camera, s: &Subscription) {
    let action = format!("{WSN_BW}/SubscriptionManager/UnsubscribeRequest");
    let header = sub_headers(&action, s);
    let call = cam.client().call_with(&s.address, &action, &header, "<wsnt:Unsubscribe/>", Duration::from_secs(3));
    if let Err(e) = call.await {
        tracing::debug!("unsubscribe failed (the camera ends it at its termination time): {}", OneLine(&e.to_string()));
    }
}

/// The local deadline of a subscription.
fn deadline(current: Option<i64>, termination: Option<i64>, o: &WatchOptions) -> tokio::time::Instant {
    let s = Subscription {
        address: String::new(),
        current_ms: current,
        termination_ms: termination,
        reference_params: Vec::new(),
    };
    tokio::time::Instant::now() + s.remaining().unwrap_or(o.termination).min(Duration::from_secs(24 * 3600))
}

/// Resolves when `stop` turns true (or its sender is gone).
pub async fn stopped(stop: &mut watch::Receiver<bool>) {
    // The guard `wait_for` returns is not Send: drop it here, not in a caller's select.
    let _ = stop.wait_for(|s| *s).await;
}

/// Sleeps `d` unless `stop` turns true first; returns whether it stopped.
async fn sleep_or_stop(d: Duration, stop: &mut watch::Receiver<bool>) -> bool {
    let stopped = tokio::select! {
        _ = tokio::time::sleep(d) => false,
        _ = stopped(stop) => true,
    };
    stopped || *stop.borrow()
}

/// Runs the PullPoint loop, sending motion changes to `tx`, until `stop` turns true or `tx` closes.
/// Returns an error only for what retrying cannot fix: a refused login, no events service.
pub async fn watch(
    cam: &Camera,
    o: &WatchOptions,
    tx: &mpsc::Sender<MotionChange>,
    mut stop: watch::Receiver<bool>,
) -> Result<(), Error> {
    let url = cam
        .services()
        .events
        .clone()
        .ok_or_else(|| Error::Protocol("the camera offers no ONVIF events service".into()))?;
    let mut tracker = MotionTracker::new(o.expire_after);
    let mut backoff = Duration::from_secs(1);
    let send = |c: Option<MotionChange>| async {
        match c {
            Some(c) => tx.send(c).await.is_ok(),
            None => true,
        }
    };
    loop {
        if *stop.borrow() {
            return Ok(());
        }
        let sub = tokio::select! {
            r = subscribe(cam, &url, o) => r,
            _ = stopped(&mut stop) => return Ok(()),
        };
        let sub = match sub {
            Ok(s) => s,
            Err(e @ Error::Auth(_)) => return Err(e),
            Err(Error::Fault(f)) if f.is_not_supported() => {
                return Err(Error::Protocol(format!("the camera does not offer PullPoint subscriptions ({f})")));
            }
            Err(e) => {
                tracing::debug!(
                    "events: cannot subscribe ({}); retrying in {} s",
                    OneLine(&e.to_string()),
                    backoff.as_secs()
                );
                if sleep_or_stop(backoff, &mut stop).await || !send(tracker.tick(cam.client().now_ms())).await {
                    return Ok(());
                }
                backoff = (backoff * 2).min(o.max_backoff);
                continue;
            }
        };
        tracing::debug!("events: subscribed at {}", Untrusted(&sub.address));
        let mut expires = deadline(sub.current_ms, sub.termination_ms, o);
        let failed = loop {
            let margin = o.pull_timeout + Duration::from_secs(10);
            if expires.saturating_duration_since(tokio::time::Instant::now()) < margin {
                match renew(cam, &sub, o).await {
                    Ok((c, t)) => expires = deadline(c, t, o),
                    Err(e) => break e,
                }
            }
            let asked = tokio::time::Instant::now();
            let pulled = tokio::select! {
                r = pull(cam, &sub, o) => r,
                _ = stopped(&mut stop) => {
                    unsubscribe(cam, &sub).await;
                    return Ok(());
                }
            };
            match pulled {
                Ok((notes, _c, _t)) => {
                    backoff = Duration::from_secs(1);
                    let now = cam.client().now_ms();
                    for n in &notes {
                        if !send(tracker.observe(n, now)).await {
                            unsubscribe(cam, &sub).await;
                            return Ok(());
                        }
                    }
                    if !send(tracker.tick(now)).await {
                        unsubscribe(cam, &sub).await;
                        return Ok(());
                    }
                    // A camera that ignores the long-poll timeout answers at once: do not hammer it. One
                    // that answers at once with messages every time (replaying the same state, say) is
                    // asked at most every MIN_PULL_GAP.
                    let took = asked.elapsed();
                    let pause = match (notes.is_empty(), took < MIN_PULL_GAP) {
                        (true, true) => Duration::from_secs(1),
                        (false, true) => MIN_PULL_GAP - took,
                        (_, false) => Duration::ZERO,
                    };
                    if !pause.is_zero() && sleep_or_stop(pause, &mut stop).await {
                        unsubscribe(cam, &sub).await;
                        return Ok(());
                    }
                }
                Err(e) => break e,
            }
        };
        if matches!(failed, Error::Auth(_)) {
            return Err(failed);
        }
        tracing::debug!(
            "events: subscription lost ({}); subscribing again in {} s",
            OneLine(&failed.to_string()),
            backoff.as_secs()
        );
        unsubscribe(cam, &sub).await;
        if sleep_or_stop(backoff, &mut stop).await || !send(tracker.tick(cam.client().now_ms())).await {
            return Ok(());
        }
        backoff = (backoff * 2).min(o.max_backoff);
    }
}

#[cfg(test)]
mod tests;
