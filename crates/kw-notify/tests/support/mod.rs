//! Real components on loopback for the alerts tests: a mosquitto broker (started and killed by the test),
//! an HTTP receiver (webhook and ntfy), an SMTP sink, and an MQTT subscriber.
//!
//! The SMTP sink is written here rather than taken from PyPI's aiosmtpd: it needs no install step, speaks
//! plain SMTP with `AUTH PLAIN`, and keeps each message's raw text for the test to inspect.
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::TcpListener as StdListener;
use std::path::PathBuf;
use std::process::{Child, Command as Process, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kw_config::{NotifyConfig, NotifyKind};
use kw_media::clock::{FakeClock, SharedClock};
use kw_notify::{Event, EventKind};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// A free loopback port.
pub fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A notifier config with defaults and no cooldown.
pub fn notifier(name: &str, kind: NotifyKind, target: &str) -> NotifyConfig {
    NotifyConfig {
        name: name.into(),
        kind,
        target: target.into(),
        cameras: None,
        events: None,
        cooldown: Duration::ZERO,
        discovery_prefix: None,
        commands: false,
        secret: None,
        from: None,
        to: Vec::new(),
        labels: None,
    }
}

/// An event of `kind` at `camera` starting now-ish.
pub fn event(id: i64, camera: &str, kind: EventKind) -> Event {
    Event {
        id,
        camera: camera.into(),
        kind,
        start: 1_795_600_800_000_000 + id,
        end: None,
        score: 0.8,
        region: Some([0.1, 0.2, 0.3, 0.4]),
        labels: Vec::new(),
    }
}

/// A JPEG-looking blob (SOI … EOI) with a recognisable body.
pub fn jpeg(tag: u8) -> bytes::Bytes {
    let mut v = vec![0xff, 0xd8, 0xff, 0xe0];
    v.extend(std::iter::repeat_n(tag, 2000));
    v.extend([0xff, 0xd9]);
    bytes::Bytes::from(v)
}

/// A clock the test moves by hand, starting at `start` µs: one to hand over and one to move.
pub fn fake_clock(start: i64) -> (SharedClock, FakeClock) {
    let clock = FakeClock::new(start);
    (clock.shared(), clock)
}

/// Polls `cond` every 20 ms until it holds or `within` passes.
pub async fn wait_until(within: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + within;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() > end {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

// ---------------------------------------------------------------------------------------------------------
// mosquitto

/// A mosquitto broker on 127.0.0.1:`port`, without persistence (a restart forgets retained messages).
pub struct Mosquitto {
    pub port: u16,
    child: Option<Child>,
    dir: tempfile::TempDir,
}

impl Mosquitto {
    pub fn start() -> Mosquitto {
        Mosquitto::start_on(free_port())
    }

    pub fn start_on(port: u16) -> Mosquitto {
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("mosquitto.conf");
        std::fs::write(&conf, format!("listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")).unwrap();
        let child = Process::new(mosquitto_bin())
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto (scripts/install-test-deps.sh installs it)");
        let up = (0..250).any(|_| {
            std::thread::sleep(Duration::from_millis(20));
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        assert!(up, "mosquitto did not start on port {port}");
        Mosquitto { port, child: Some(child), dir }
    }

    /// SIGKILL, like a crash: no goodbye to clients.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts again on the same port.
    pub fn restart(&mut self) {
        self.kill();
        let mut again = Mosquitto::start_on(self.port);
        std::mem::swap(self, &mut again);
    }

    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }

    /// Retained messages under `filter`, via mosquitto_sub (topic → payload).
    pub fn retained(&self, filter: &str) -> HashMap<String, String> {
        let out = Process::new("mosquitto_sub")
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-t", filter, "--retained-only", "-W", "2"])
            .args(["-F", "%r\t%t\t%p"])
            .output()
            .expect("mosquitto_sub");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| {
                let mut parts = l.splitn(3, '\t');
                let (r, t, p) = (parts.next()?, parts.next()?, parts.next().unwrap_or(""));
                (r == "1").then(|| (t.to_string(), p.to_string()))
            })
            .collect()
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        self.kill();
    }
}

fn mosquitto_bin() -> PathBuf {
    let sbin = PathBuf::from("/usr/sbin/mosquitto");
    if sbin.exists() {
        sbin
    } else {
        PathBuf::from("mosquitto")
    }
}

/// A received MQTT message: topic, payload, retain flag, arrival time.
pub type Message = (String, bytes::Bytes, bool, Instant);

/// An MQTT subscriber that records every message with its arrival time.
pub struct Subscriber {
    pub client: rumqttc::AsyncClient,
    pub messages: Arc<Mutex<Vec<Message>>>,
    task: tokio::task::JoinHandle<()>,
}

static SUB_ID: AtomicU16 = AtomicU16::new(0);

impl Subscriber {
    pub async fn connect(port: u16, filters: &[&str]) -> Subscriber {
        let id = format!("test-sub-{}-{}", std::process::id(), SUB_ID.fetch_add(1, Ordering::SeqCst));
        let mut o = rumqttc::MqttOptions::new(id, "127.0.0.1", port);
        o.set_max_packet_size(16 << 20, 1 << 20);
        let (client, mut events) = rumqttc::AsyncClient::new(o, 16);
        for f in filters {
            client.subscribe(*f, rumqttc::QoS::AtLeastOnce).await.unwrap();
        }
        let messages = Arc::new(Mutex::new(Vec::new()));
        let m = messages.clone();
        let task = tokio::spawn(async move {
            loop {
                match events.poll().await {
                    Ok(rumqttc::Event::Incoming(rumqttc::Incoming::Publish(p))) => {
                        m.lock().unwrap().push((p.topic.clone(), p.payload.clone(), p.retain, Instant::now()))
                    }
                    Ok(_) => {}
                    Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            }
        });
        Subscriber { client, messages, task }
    }

    /// The last payload seen on `topic`.
    pub fn last(&self, topic: &str) -> Option<bytes::Bytes> {
        self.messages.lock().unwrap().iter().rev().find(|(t, ..)| t == topic).map(|(_, p, ..)| p.clone())
    }

    /// Waits until the last payload on `topic` is `payload`; returns its arrival time.
    pub async fn wait_for(&self, topic: &str, payload: &[u8], within: Duration) -> Option<Instant> {
        let mut at = None;
        wait_until(within, || {
            let msgs = self.messages.lock().unwrap();
            at = msgs.iter().rev().find(|(t, ..)| t == topic).filter(|(_, p, ..)| p.as_ref() == payload).map(|m| m.3);
            at.is_some()
        })
        .await;
        at
    }

    pub fn count(&self, topic: &str) -> usize {
        self.messages.lock().unwrap().iter().filter(|(t, ..)| t == topic).count()
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        self.task.abort();
    }
}

// ---------------------------------------------------------------------------------------------------------
// HTTP receiver

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub at: Instant,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// A minimal HTTP/1.1 server on 127.0.0.1:`port` that records requests and answers `status`.
pub struct HttpReceiver {
    pub port: u16,
    pub received: Arc<Mutex<Vec<Received>>>,
    pub status: Arc<AtomicU16>,
    task: tokio::task::JoinHandle<()>,
}

impl HttpReceiver {
    pub async fn start_on(port: u16) -> HttpReceiver {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let status = Arc::new(AtomicU16::new(200));
        let (r, s) = (received.clone(), status.clone());
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (r, s) = (r.clone(), s.clone());
                tokio::spawn(async move {
                    let _ = serve(stream, r, s).await;
                });
            }
        });
        HttpReceiver { port, received, status, task }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn all(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    pub async fn wait_count(&self, n: usize, within: Duration) -> bool {
        wait_until(within, || self.received.lock().unwrap().len() >= n).await
    }
}

impl Drop for HttpReceiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(
    stream: tokio::net::TcpStream,
    out: Arc<Mutex<Vec<Received>>>,
    status: Arc<AtomicU16>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let mut parts = line.split_whitespace();
        let (method, path) = (parts.next().unwrap_or("").to_string(), parts.next().unwrap_or("").to_string());
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            reader.read_line(&mut h).await?;
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((n, v)) = h.split_once(':') {
                headers.push((n.trim().to_string(), v.trim().to_string()));
            }
        }
        let len: usize = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; len];
        reader.read_exact(&mut body).await?;
        let at = Instant::now();
        out.lock().unwrap().push(Received { method, path, headers, body, at });
        let code = status.load(Ordering::SeqCst);
        let answer = format!("HTTP/1.1 {code} X\r\nContent-Length: 0\r\n\r\n");
        reader.get_mut().write_all(answer.as_bytes()).await?;
    }
}

// ---------------------------------------------------------------------------------------------------------
// SMTP sink

/// One mail the sink accepted.
#[derive(Debug, Clone)]
pub struct Mail {
    pub auth: Option<String>,
    pub from: String,
    pub to: Vec<String>,
    pub data: String,
}

/// A plain-SMTP sink on 127.0.0.1 that accepts `AUTH PLAIN` and records each message.
pub struct SmtpSink {
    pub port: u16,
    pub mails: Arc<Mutex<Vec<Mail>>>,
    task: tokio::task::JoinHandle<()>,
}

impl SmtpSink {
    pub async fn start() -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let mails = Arc::new(Mutex::new(Vec::new()));
        let m = mails.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let m = m.clone();
                tokio::spawn(async move {
                    let _ = smtp_session(stream, m).await;
                });
            }
        });
        SmtpSink { port, mails, task }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn smtp_session(stream: tokio::net::TcpStream, out: Arc<Mutex<Vec<Mail>>>) -> std::io::Result<()> {
    let mut s = BufReader::new(stream);
    s.get_mut().write_all(b"220 sink ESMTP\r\n").await?;
    let mut mail = Mail { auth: None, from: String::new(), to: Vec::new(), data: String::new() };
    loop {
        let mut line = String::new();
        if s.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let cmd = line.trim_end().to_string();
        let upper = cmd.to_ascii_uppercase();
        let reply: &[u8] = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            b"250-sink\r\n250-AUTH PLAIN\r\n250 8BITMIME\r\n"
        } else if upper.starts_with("AUTH PLAIN") {
            let arg = cmd.get(10..).unwrap_or("").trim().to_string();
            mail.auth = Some(arg);
            b"235 2.7.0 ok\r\n"
        } else if upper.starts_with("MAIL FROM:") {
            mail.from = cmd[10..].trim().to_string();
            b"250 ok\r\n"
        } else if upper.starts_with("RCPT TO:") {
            mail.to.push(cmd[8..].trim().to_string());
            b"250 ok\r\n"
        } else if upper == "DATA" {
            s.get_mut().write_all(b"354 go on\r\n").await?;
            let mut data = String::new();
            loop {
                let mut l = String::new();
                if s.read_line(&mut l).await? == 0 {
                    return Ok(());
                }
                if l == ".\r\n" {
                    break;
                }
                data.push_str(&l);
            }
            mail.data = data;
            out.lock().unwrap().push(mail.clone());
            mail = Mail { auth: mail.auth.clone(), from: String::new(), to: Vec::new(), data: String::new() };
            b"250 queued\r\n"
        } else if upper == "QUIT" {
            s.get_mut().write_all(b"221 bye\r\n").await?;
            return Ok(());
        } else {
            b"250 ok\r\n"
        };
        s.get_mut().write_all(reply).await?;
    }
}
