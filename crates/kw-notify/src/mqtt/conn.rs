//! One broker connection and the bookkeeping that tells when the broker has everything we sent.
//!
//! rumqttc's event loop runs in its own task (the "pump") and forwards what matters over a channel.
//! Each connection attempt gets a fresh client and event loop, so nothing queued for a dead connection is
//! ever sent on the next one: after a reconnect the worker decides afresh what to publish. A publish with
//! QoS 1 shows up as `Outgoing::Publish(pkid)` once written and `PubAck(pkid)` once the broker has it;
//! [`Conn::flush`] waits until every publish issued on this connection was written and acknowledged.

use std::collections::HashSet;
use std::time::Duration;

use bytes::Bytes;
use rumqttc::{AsyncClient, Event, EventLoop, Incoming, MqttOptions, Outgoing, QoS};
use tokio::sync::mpsc;

use crate::supervisor::AbortOnDrop;

/// The most messages kept while waiting for acknowledgements.
const INBOX_CAP: usize = 256;

/// What the pump reports.
#[derive(Debug)]
pub(crate) enum Ev {
    Connected,
    Sent(u16),
    Acked(u16),
    Message(String, Bytes),
    Down(String),
}

pub(crate) struct Conn {
    client: AsyncClient,
    rx: mpsc::UnboundedReceiver<Ev>,
    _pump: AbortOnDrop,
    issued: u64,
    seen: u64,
    outstanding: HashSet<u16>,
    /// Messages (commands) that arrived while waiting for acknowledgements, at most [`INBOX_CAP`].
    pub inbox: Vec<(String, Bytes)>,
}

impl Conn {
    pub(crate) fn start(opts: MqttOptions) -> Conn {
        let (client, events) = AsyncClient::new(opts, 64);
        let (tx, rx) = mpsc::unbounded_channel();
        let pump = AbortOnDrop(tokio::spawn(pump(events, tx)));
        Conn { client, rx, _pump: pump, issued: 0, seen: 0, outstanding: HashSet::new(), inbox: Vec::new() }
    }

    /// Waits for the broker's CONNACK.
    pub(crate) async fn connected(&mut self, within: Duration) -> Result<(), String> {
        let wait = async {
            loop {
                match self.rx.recv().await {
                    Some(Ev::Connected) => return Ok(()),
                    Some(Ev::Down(e)) => return Err(e),
                    None => return Err("connection task ended".to_string()),
                    Some(other) => self.note(other),
                }
            }
        };
        tokio::time::timeout(within, wait).await.unwrap_or_else(|_| Err("no answer from the broker".to_string()))
    }

    pub(crate) async fn subscribe(&mut self, filter: &str) -> Result<(), String> {
        self.client.subscribe(filter, QoS::AtLeastOnce).await.map_err(|e| e.to_string())
    }

    /// Queues a QoS 1 publish.
    pub(crate) async fn publish(&mut self, topic: &str, retain: bool, payload: impl Into<Bytes>) -> Result<(), String> {
        self.client
            .publish_bytes(topic, QoS::AtLeastOnce, retain, payload.into())
            .await
            .map_err(|e| format!("connection closed ({e})"))?;
        self.issued += 1;
        Ok(())
    }

    /// Waits until the broker acknowledged every publish so far.
    pub(crate) async fn flush(&mut self, within: Duration) -> Result<(), String> {
        let wait = async {
            while self.seen < self.issued || !self.outstanding.is_empty() {
                match self.rx.recv().await {
                    Some(Ev::Down(e)) => return Err(e),
                    None => return Err("connection task ended".to_string()),
                    Some(Ev::Message(t, p)) => self.keep(t, p),
                    Some(other) => self.note(other),
                }
            }
            Ok(())
        };
        tokio::time::timeout(within, wait)
            .await
            .unwrap_or_else(|_| Err(format!("the broker did not acknowledge within {} s", within.as_secs())))
    }

    /// Keeps a message for later; beyond [`INBOX_CAP`] waiting ones it is dropped (whoever floods the
    /// command topics costs themselves their commands, not keepwatch its memory).
    fn keep(&mut self, topic: String, payload: Bytes) {
        if self.inbox.len() < INBOX_CAP {
            self.inbox.push((topic, payload));
        } else {
            tracing::debug!(topic = %kw_logsafe::Untrusted(&topic), "MQTT message dropped: too many waiting");
        }
    }

    /// The next message or the end of the connection; bookkeeping events are absorbed.
    pub(crate) async fn next(&mut self) -> Result<(String, Bytes), String> {
        if !self.inbox.is_empty() {
            return Ok(self.inbox.remove(0));
        }
        loop {
            match self.rx.recv().await {
                Some(Ev::Message(t, p)) => return Ok((t, p)),
                Some(Ev::Down(e)) => return Err(e),
                None => return Err("connection task ended".to_string()),
                Some(other) => self.note(other),
            }
        }
    }

    fn note(&mut self, ev: Ev) {
        match ev {
            Ev::Sent(pkid) => {
                self.seen += 1;
                self.outstanding.insert(pkid);
            }
            Ev::Acked(pkid) => {
                self.outstanding.remove(&pkid);
            }
            Ev::Message(t, p) => self.keep(t, p),
            Ev::Connected | Ev::Down(_) => {}
        }
    }
}

async fn pump(mut events: EventLoop, tx: mpsc::UnboundedSender<Ev>) {
    loop {
        let ev = match events.poll().await {
            Ok(Event::Incoming(Incoming::ConnAck(_))) => Ev::Connected,
            Ok(Event::Incoming(Incoming::PubAck(a))) => Ev::Acked(a.pkid),
            Ok(Event::Incoming(Incoming::Publish(p))) => Ev::Message(p.topic, p.payload),
            Ok(Event::Outgoing(Outgoing::Publish(pkid))) => Ev::Sent(pkid),
            Ok(_) => continue,
            Err(e) => {
                let _ = tx.send(Ev::Down(e.to_string()));
                return;
            }
        };
        if tx.send(ev).is_err() {
            return;
        }
    }
}
