//! MQTT and Home Assistant against a real mosquitto started (and killed) by the tests.

mod support;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kw_config::NotifyKind;
use kw_notify::{Alerts, Command, EventKind, Mode, Options, Phase, Switch};
use rumqttc::QoS;
use support::*;

const SECS: fn(u64) -> Duration = Duration::from_secs;

fn open(dir: &tempfile::TempDir, broker: &Mosquitto) -> Arc<Alerts> {
    open_with(dir, broker, false)
}

/// With `commands`: the notifier obeys switch commands and mode `off` from the broker.
fn open_with(dir: &tempfile::TempDir, broker: &Mosquitto, commands: bool) -> Arc<Alerts> {
    let ha = kw_config::NotifyConfig { commands, ..notifier("ha", NotifyKind::Mqtt, &broker.url()) };
    Arc::new(Alerts::open(&dir.path().join("index.sqlite3"), &[ha], Options::default()).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_retained_and_motion_follows_events() {
    let broker = Mosquitto::start();
    let dir = tempfile::tempdir().unwrap();
    let alerts = open(&dir, &broker);
    alerts.set_cameras(&["door".into(), "yard".into()]);
    let task = alerts.clone().spawn();
    let sub = Subscriber::connect(broker.port, &["keepwatch/#"]).await;
    assert!(sub.wait_for("keepwatch/status", b"online", SECS(10)).await.is_some());
    assert!(sub.wait_for("keepwatch/door/motion", b"OFF", SECS(10)).await.is_some());

    // Discovery: retained, valid JSON, unique ids, one device per camera.
    let configs = broker.retained("homeassistant/#");
    assert_eq!(configs.len(), 9, "{configs:#?}");
    let mut ids = HashSet::new();
    for (topic, payload) in &configs {
        assert!(topic.ends_with("/config"), "{topic}");
        let v: serde_json::Value = serde_json::from_str(payload).unwrap();
        assert!(ids.insert(v["unique_id"].as_str().unwrap().to_string()), "duplicate id in {topic}");
        assert_eq!(v["availability_topic"], "keepwatch/status");
        assert!(v["device"]["identifiers"][0].as_str().unwrap().starts_with("keepwatch"));
    }
    let motion: serde_json::Value =
        serde_json::from_str(&configs["homeassistant/binary_sensor/keepwatch_door/motion/config"]).unwrap();
    assert_eq!(motion["device_class"], "motion");
    assert_eq!(motion["state_topic"], "keepwatch/door/motion");
    let cam: serde_json::Value =
        serde_json::from_str(&configs["homeassistant/camera/keepwatch_yard/snapshot/config"]).unwrap();
    assert_eq!(cam["topic"], "keepwatch/yard/snapshot");
    // Without `commands = true` the switches are read-only sensors.
    let rec: serde_json::Value =
        serde_json::from_str(&configs["homeassistant/binary_sensor/keepwatch_door/recording/config"]).unwrap();
    assert_eq!(rec["state_topic"], "keepwatch/door/recording");
    assert!(rec.get("command_topic").is_none());
    assert!(!configs.keys().any(|t| t.contains("/switch/")), "{configs:#?}");
    assert!(configs.contains_key("homeassistant/select/keepwatch/mode/config"));

    // Motion ON, then OFF, with the picture and the event JSON.
    let mut ev = event(1, "door", EventKind::Motion);
    alerts.event(Phase::Start, &ev, Some(jpeg(5))).await;
    assert!(sub.wait_for("keepwatch/door/motion", b"ON", SECS(10)).await.is_some());
    assert_eq!(sub.last("keepwatch/door/snapshot").unwrap(), jpeg(5));
    let json: serde_json::Value = serde_json::from_slice(&sub.last("keepwatch/door/event").unwrap()).unwrap();
    assert_eq!((json["phase"].as_str(), json["dedup_key"].as_str()), (Some("start"), Some("1-start-ha")));
    ev.end = Some(ev.start + 3_000_000);
    alerts.event(Phase::End, &ev, None).await;
    assert!(sub.wait_for("keepwatch/door/motion", b"OFF", SECS(10)).await.is_some());
    let retained = broker.retained("keepwatch/#");
    assert_eq!(retained.get("keepwatch/door/motion").map(String::as_str), Some("OFF"));
    assert_eq!(retained.get("keepwatch/status").map(String::as_str), Some("online"));

    // Latency: event() → the motion state at a subscriber.
    let mut latencies = Vec::new();
    for id in 100..120 {
        let (phase, want): (Phase, &[u8]) = if id % 2 == 0 { (Phase::Start, b"ON") } else { (Phase::End, b"OFF") };
        let before = sub.count("keepwatch/door/motion");
        let t0 = Instant::now();
        alerts.event(phase, &event(id - id % 2, "door", EventKind::Motion), None).await;
        assert!(wait_until(SECS(10), || sub.count("keepwatch/door/motion") > before).await);
        let at = sub.wait_for("keepwatch/door/motion", want, SECS(1)).await.unwrap();
        latencies.push(at - t0);
    }
    latencies.sort();
    eprintln!(
        "LATENCY mqtt event()->subscriber over 20: min {:?} median {:?} max {:?}",
        latencies[0], latencies[10], latencies[19]
    );

    // A camera removed from the list loses its entities.
    alerts.set_cameras(&["door".into()]);
    let mut left = 0;
    wait_until(SECS(10), || {
        left = broker.retained("homeassistant/#").len();
        left == 5
    })
    .await;
    assert_eq!(left, 5);

    // "Send test".
    let said = alerts.test("ha").await.unwrap();
    assert!(said.contains("acknowledged"), "{said}");
    task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_reach_the_host_and_state_survives() {
    let broker = Mosquitto::start();
    let dir = tempfile::tempdir().unwrap();
    let alerts = open_with(&dir, &broker, true);
    let mut commands = alerts.commands();
    alerts.set_cameras(&["door".into()]);
    let task = alerts.clone().spawn();
    let sub = Subscriber::connect(broker.port, &["keepwatch/#"]).await;
    assert!(sub.wait_for("keepwatch/door/recording", b"ON", SECS(10)).await.is_some());
    let configs = broker.retained("homeassistant/#");
    let sw: serde_json::Value =
        serde_json::from_str(&configs["homeassistant/switch/keepwatch_door/recording/config"]).unwrap();
    assert_eq!(sw["command_topic"], "keepwatch/door/recording/set");
    assert!(!configs.contains_key("homeassistant/binary_sensor/keepwatch_door/recording/config"));

    sub.client.publish("keepwatch/door/recording/set", QoS::AtLeastOnce, false, "OFF").await.unwrap();
    let cmd = tokio::time::timeout(SECS(5), commands.recv()).await.unwrap().unwrap();
    assert_eq!(cmd, Command { camera: "door".into(), what: Switch::Recording, on: false });
    assert!(!alerts.switch("door", Switch::Recording));
    assert!(sub.wait_for("keepwatch/door/recording", b"OFF", SECS(5)).await.is_some());

    // Unknown cameras and nonsense are ignored.
    sub.client.publish("keepwatch/ghost/recording/set", QoS::AtLeastOnce, false, "ON").await.unwrap();
    sub.client.publish("keepwatch/door/motion_detection/set", QoS::AtLeastOnce, false, "maybe").await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(commands.try_recv().is_err());

    // The mode from HA, and from the host.
    sub.client.publish("keepwatch/mode/set", QoS::AtLeastOnce, false, "home").await.unwrap();
    assert!(wait_until(SECS(5), || alerts.mode() == Mode::Home).await);
    assert!(sub.wait_for("keepwatch/mode", b"home", SECS(5)).await.is_some());
    alerts.set_mode(Mode::Off).unwrap();
    assert!(sub.wait_for("keepwatch/mode", b"off", SECS(5)).await.is_some());
    alerts.set_switch("door", Switch::Motion, false).unwrap();
    assert!(sub.wait_for("keepwatch/door/motion_detection", b"OFF", SECS(5)).await.is_some());

    // Dying without a goodbye: the broker publishes the last will.
    task.abort();
    assert!(sub.wait_for("keepwatch/status", b"offline", SECS(10)).await.is_some());
    drop(alerts);

    let again = open_with(&dir, &broker, true);
    assert_eq!(again.mode(), Mode::Off);
    assert!(!again.switch("door", Switch::Recording) && !again.switch("door", Switch::Motion));
    assert!(again.switch("yard", Switch::Recording), "switches are on until turned off");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_commands_the_broker_cannot_switch_recording_or_alerts_off() {
    let broker = Mosquitto::start();
    let dir = tempfile::tempdir().unwrap();
    let alerts = open(&dir, &broker);
    let mut commands = alerts.commands();
    alerts.set_cameras(&["door".into()]);
    alerts.set_mode(Mode::Away).unwrap();
    let task = alerts.clone().spawn();
    let sub = Subscriber::connect(broker.port, &["keepwatch/#"]).await;
    assert!(sub.wait_for("keepwatch/door/recording", b"ON", SECS(10)).await.is_some());
    assert!(sub.wait_for("keepwatch/mode", b"away", SECS(10)).await.is_some());

    // Anyone on the broker publishes "off": nothing is switched.
    for topic in ["keepwatch/door/recording/set", "keepwatch/door/motion_detection/set"] {
        sub.client.publish(topic, QoS::AtLeastOnce, false, "OFF").await.unwrap();
    }
    sub.client.publish("keepwatch/mode/set", QoS::AtLeastOnce, false, "off").await.unwrap();
    // A mode a viewer could set is obeyed, and shows the commands before it were handled.
    sub.client.publish("keepwatch/mode/set", QoS::AtLeastOnce, false, "home").await.unwrap();
    assert!(wait_until(SECS(5), || alerts.mode() == Mode::Home).await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(commands.try_recv().is_err(), "a switch command reached the host");
    assert!(alerts.switch("door", Switch::Recording) && alerts.switch("door", Switch::Motion));
    assert_eq!(broker.retained("keepwatch/door/#").get("keepwatch/door/recording").map(String::as_str), Some("ON"));
    sub.client.publish("keepwatch/mode/set", QoS::AtLeastOnce, false, "off").await.unwrap();
    sub.client.publish("keepwatch/mode/set", QoS::AtLeastOnce, false, "away").await.unwrap();
    assert!(wait_until(SECS(5), || alerts.mode() == Mode::Away).await);
    assert!(sub.wait_for("keepwatch/mode", b"away", SECS(5)).await.is_some());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(alerts.mode(), Mode::Away, "mode off from the broker was obeyed");
    task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_killed_mid_event_shows_the_right_state_after() {
    let mut broker = Mosquitto::start();
    let dir = tempfile::tempdir().unwrap();
    let alerts = open(&dir, &broker);
    alerts.set_cameras(&["door".into()]);
    let task = alerts.clone().spawn();
    let sub = Subscriber::connect(broker.port, &["keepwatch/#"]).await;
    assert!(sub.wait_for("keepwatch/door/motion", b"OFF", SECS(10)).await.is_some());
    let mut ev = event(1, "door", EventKind::Motion);
    alerts.event(Phase::Start, &ev, Some(jpeg(8))).await;
    assert!(sub.wait_for("keepwatch/door/motion", b"ON", SECS(10)).await.is_some());
    drop(sub);

    // Killed while motion goes on; the new broker knows nothing (no persistence).
    broker.restart();
    let sub = Subscriber::connect(broker.port, &["keepwatch/#", "homeassistant/#"]).await;
    assert!(sub.wait_for("keepwatch/door/motion", b"ON", SECS(20)).await.is_some(), "republished after reconnect");
    assert!(wait_until(SECS(5), || sub.last("keepwatch/door/snapshot") == Some(jpeg(8))).await, "the picture too");
    assert!(sub.last("homeassistant/binary_sensor/keepwatch_door/motion/config").is_some());
    drop(sub);

    // Killed, and the event ends while the broker is away.
    broker.kill();
    ev.end = Some(ev.start + 10_000_000);
    alerts.event(Phase::End, &ev, None).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    // The end waits in the outbox (with the start, too, if its acknowledgement was cut off by the kill).
    assert!(alerts.outbox_counts(Some("ha")).unwrap().pending >= 1);
    broker.restart();
    let sub = Subscriber::connect(broker.port, &["keepwatch/#"]).await;
    assert!(sub.wait_for("keepwatch/door/motion", b"OFF", SECS(20)).await.is_some());
    assert!(wait_until(SECS(10), || alerts.outbox_counts(Some("ha")).unwrap().pending == 0).await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let retained = broker.retained("keepwatch/door/#");
    assert_eq!(retained.get("keepwatch/door/motion").map(String::as_str), Some("OFF"), "{retained:?}");
    let json: serde_json::Value = serde_json::from_str(&retained["keepwatch/door/event"]).unwrap();
    assert_eq!(json["phase"], "end");
    task.abort();
}
