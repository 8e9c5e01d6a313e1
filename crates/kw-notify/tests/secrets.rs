//! Secrets never reach a log or an error message: targets with passwords, webhook secrets, broker
//! credentials, while their deliveries fail and are retried.

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kw_config::NotifyKind;
use kw_notify::{Alerts, EventKind, Options, Phase};
use support::*;

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_deliveries_log_no_secrets() {
    let logs = Buffer::default();
    let writer = logs.clone();
    tracing_subscriber::fmt().with_max_level(tracing::Level::DEBUG).with_writer(move || writer.clone()).init();

    let dead = free_port();
    let mut hook =
        notifier("hook", NotifyKind::Webhook, &format!("http://u:hunter2a@127.0.0.1:{dead}/x?token=hunter2b"));
    hook.secret = Some("hunter2c".into());
    let push = notifier("push", NotifyKind::Ntfy, &format!("http://u:hunter2d@127.0.0.1:{dead}/t"));
    let mqtt = notifier("ha", NotifyKind::Mqtt, &format!("mqtt://u:hunter2e@127.0.0.1:{dead}"));
    let mut mail = notifier("mail", NotifyKind::Email, &format!("smtp://u:hunter2f@127.0.0.1:{dead}"));
    mail.to = vec!["me@example.org".into()];
    let all = [hook, push, mqtt, mail];

    let dir = tempfile::tempdir().unwrap();
    let alerts = Arc::new(Alerts::open(&dir.path().join("index.sqlite3"), &all, Options::default()).unwrap());
    let task = alerts.clone().spawn();
    alerts.event(Phase::Start, &event(1, "door", EventKind::Motion), Some(jpeg(1))).await;
    let mut said = format!("{alerts:?}");
    for n in &all {
        said.push_str(&alerts.test(&n.name).await.unwrap_err().to_string());
    }
    tokio::time::sleep(Duration::from_millis(2500)).await;
    task.abort();

    let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("alert not delivered"), "{logs}");
    assert!(logs.contains("MQTT"), "{logs}");
    for text in [&logs, &said] {
        assert!(!text.contains("hunter2"), "a secret leaked:\n{text}");
    }
}
