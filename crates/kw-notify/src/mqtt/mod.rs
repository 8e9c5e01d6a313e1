//! MQTT for Home Assistant: discovery, a live state mirror, and commands back.
//!
//! # Topics
//!
//! | topic | payload | retained |
//! |---|---|---|
//! | `keepwatch/status` | `online`, or `offline` (the last will, so HA greys entities out when keepwatch dies) | yes |
//! | `keepwatch/<camera>/motion` | `ON` while a motion or camera-motion event goes on, else `OFF` | yes |
//! | `keepwatch/<camera>/object/<label>` | `ON` while a motion event in which object detection saw `<label>` (`person`) goes on, else `OFF`; announced (a `binary_sensor`, class `occupancy`) when the label is first seen | yes |
//! | `keepwatch/<camera>/snapshot` | the latest event JPEG (HA `camera` entity) | yes |
//! | `keepwatch/<camera>/event` | the event JSON with `phase` and `dedup_key`, any kind (also the motion sensor's attributes) | yes |
//! | `keepwatch/<camera>/recording`, `…/motion_detection` | switch states `ON`/`OFF` | yes |
//! | `keepwatch/<camera>/recording/set`, `…/motion_detection/set` | commands from HA: `ON`/`OFF` (only with `commands = true`) | (HA's choice) |
//! | `keepwatch/mode`, `keepwatch/mode/set` | `home`/`away`/`off`: state, and command (`off` only with `commands = true`) | yes / — |
//!
//! Discovery configs go to `<discovery_prefix>/<component>/keepwatch_<camera>/<object>/config` (retained,
//! `unique_id` `keepwatch_<camera>_<object>`), one HA device per camera, plus a `select` for the mode on a
//! `keepwatch` device. A camera dropped from [`crate::Alerts::set_cameras`] gets empty retained configs,
//! which removes its entities from HA.
//!
//! # Commands are opt-in
//!
//! Whoever may publish to `keepwatch/#` on the broker can send commands, and many home brokers let every
//! client on the LAN publish anywhere. So a notifier obeys the commands that weaken protection (switch a
//! camera's recording or motion detection, mode `off`) only with `commands = true` in its `[[notify]]`
//! entry; then the broker's ACLs are what decides who may stop recording. Without it (the default) the
//! two switches are announced as read-only `binary_sensor`s, their `/set` topics are not subscribed to,
//! and on `keepwatch/mode/set` only `home` and `away` are obeyed, which is what a viewer account may do
//! through the API.
//!
//! # Delivery
//!
//! Every outbox row of an MQTT notifier is published with QoS 1 and counts as delivered only once the
//! broker acknowledged all its messages; rows go out strictly in order, so the retained state always ends
//! as the host last reported it. The worker reconnects forever (1 s doubling to 30 s). After each
//! connect it subscribes to the command topics and republishes `online`, discovery and the current state
//! of every camera (motion, last picture and event, switches, mode) before sending pending rows, so a
//! broker restarted without persistence, even mid-event, shows the right state once it is back. Mode and
//! cooldown do not apply here: see [`crate::mode`].

mod conn;
mod worker;

use std::time::Duration;

use kw_config::{redacted_url, NotifyConfig};
use rumqttc::{Event, Incoming, MqttOptions, Outgoing, QoS, Transport};
use serde_json::json;

use crate::error::{NotifyError, Result};
use crate::{Ctx, Switch};

pub(crate) use worker::run;

/// The root of keepwatch's own topics.
pub const ROOT: &str = "keepwatch";
/// Availability: `online` / `offline` (last will).
pub const STATUS_TOPIC: &str = "keepwatch/status";
/// The mode's state topic.
pub const MODE_TOPIC: &str = "keepwatch/mode";
/// Where HA (or anyone) sets the mode.
pub const MODE_SET_TOPIC: &str = "keepwatch/mode/set";
/// The default discovery prefix.
pub const DEFAULT_DISCOVERY_PREFIX: &str = "homeassistant";

/// A topic-safe form of a camera name (camera names are `[a-z0-9-]+` already; this is a guard against
/// wildcards and separators).
pub fn topic_name(camera: &str) -> String {
    camera.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect()
}

/// `keepwatch/<camera>/<leaf>`.
pub fn camera_topic(camera: &str, leaf: &str) -> String {
    format!("{ROOT}/{}/{leaf}", topic_name(camera))
}

/// A switch's topic leaf.
pub fn switch_leaf(what: Switch) -> &'static str {
    match what {
        Switch::Recording => "recording",
        Switch::Motion => "motion_detection",
    }
}

pub(crate) fn on_off(on: bool) -> &'static str {
    if on {
        "ON"
    } else {
        "OFF"
    }
}

/// The entities of one camera: (component, object id). The two switches are `switch`es when the notifier
/// obeys commands, else `binary_sensor`s; [`discovery`] clears the form not in use.
const ENTITIES: [(&str, &str); 4] =
    [("binary_sensor", "motion"), ("camera", "snapshot"), ("switch", "recording"), ("switch", "motion_detection")];

/// Discovery `(topic, payload)` pairs for one camera (an empty payload removes an entity): its entities,
/// with the switches as `switch`es when `commands` is on and as read-only `binary_sensor`s when it is off,
/// plus empty configs for the form not in use (so turning `commands` on or off leaves no stale entity).
/// With `remove`, empty configs for every form.
pub fn discovery(prefix: &str, camera: &str, remove: bool, commands: bool) -> Vec<(String, String)> {
    let cam = topic_name(camera);
    let mut out = entity_configs(prefix, camera, remove, commands);
    let unused: &[&str] = match (remove, commands) {
        (true, _) => &["switch", "binary_sensor"],
        (false, true) => &["binary_sensor"],
        (false, false) => &["switch"],
    };
    for object in ["recording", "motion_detection"] {
        for component in unused {
            let topic = format!("{prefix}/{component}/keepwatch_{cam}/{object}/config");
            if !out.iter().any(|(t, _)| *t == topic) {
                out.push((topic, String::new()));
            }
        }
    }
    out
}

fn entity_configs(prefix: &str, camera: &str, remove: bool, commands: bool) -> Vec<(String, String)> {
    let cam = topic_name(camera);
    let device = json!({
        "identifiers": [format!("keepwatch_{cam}")],
        "name": camera,
        "manufacturer": "keepwatch",
        "model": "Camera",
    });
    let origin = json!({"name": "keepwatch", "sw_version": env!("CARGO_PKG_VERSION")});
    ENTITIES
        .iter()
        .map(|&(component, object)| {
            let component = if component == "switch" && !commands { "binary_sensor" } else { component };
            let topic = format!("{prefix}/{component}/keepwatch_{cam}/{object}/config");
            if remove {
                return (topic, String::new());
            }
            let mut p = json!({
                "unique_id": format!("keepwatch_{cam}_{object}"),
                // Home Assistant before 2025.10 reads `object_id`; newer releases want `default_entity_id`
                // and ignore `object_id` from 2026.4. Both, so entity ids never change.
                "object_id": format!("{cam}_{object}"),
                "default_entity_id": default_entity_id(component, &format!("{cam}_{object}")),
                "availability_topic": STATUS_TOPIC,
                "payload_available": "online",
                "payload_not_available": "offline",
                "device": device,
                "origin": origin,
            });
            match object {
                "motion" => {
                    p["name"] = "Motion".into();
                    p["device_class"] = "motion".into();
                    p["state_topic"] = camera_topic(camera, "motion").into();
                    p["payload_on"] = "ON".into();
                    p["payload_off"] = "OFF".into();
                    p["json_attributes_topic"] = camera_topic(camera, "event").into();
                }
                "snapshot" => {
                    p["name"] = "Last event".into();
                    p["topic"] = camera_topic(camera, "snapshot").into();
                }
                leaf => {
                    p["name"] = if leaf == "recording" { "Recording" } else { "Motion detection" }.into();
                    p["icon"] = if leaf == "recording" { "mdi:record-rec" } else { "mdi:motion-sensor" }.into();
                    p["state_topic"] = camera_topic(camera, leaf).into();
                    p["payload_on"] = "ON".into();
                    p["payload_off"] = "OFF".into();
                    if commands {
                        p["command_topic"] = camera_topic(camera, &format!("{leaf}/set")).into();
                        p["state_on"] = "ON".into();
                        p["state_off"] = "OFF".into();
                    }
                }
            }
            (topic, p.to_string())
        })
        .collect()
}

/// `keepwatch/<camera>/object/<label>`: whether an event with that label goes on.
pub fn label_topic(camera: &str, label: &str) -> String {
    camera_topic(camera, &format!("object/{}", topic_name(label)))
}

/// Discovery `(topic, payload)` of a camera's per-label occupancy sensor ("front-door Person").
pub fn label_discovery(prefix: &str, camera: &str, label: &str) -> (String, String) {
    let (cam, obj) = (topic_name(camera), topic_name(label));
    let mut name: String = label.chars().take(64).collect();
    if let Some(first) = name.get(..1) {
        name = first.to_uppercase() + &name[1..];
    }
    let p = json!({
        "name": name,
        "unique_id": format!("keepwatch_{cam}_object_{obj}"),
        "object_id": format!("{cam}_{obj}"),
        "default_entity_id": default_entity_id("binary_sensor", &format!("{cam}_{obj}")),
        "device_class": "occupancy",
        "state_topic": label_topic(camera, label),
        "payload_on": "ON",
        "payload_off": "OFF",
        "json_attributes_topic": camera_topic(camera, "event"),
        "availability_topic": STATUS_TOPIC,
        "payload_available": "online",
        "payload_not_available": "offline",
        "device": {"identifiers": [format!("keepwatch_{cam}")], "name": camera, "manufacturer": "keepwatch", "model": "Camera"},
        "origin": {"name": "keepwatch", "sw_version": env!("CARGO_PKG_VERSION")},
    });
    (format!("{prefix}/binary_sensor/keepwatch_{cam}/object_{obj}/config"), p.to_string())
}

/// The entity id Home Assistant made from `object_id` (`domain.slug`: it slugified the object id, so a
/// camera `front-door` gave `binary_sensor.front_door_motion`), spelled out for `default_entity_id`, whose
/// value must already be a valid entity id.
fn default_entity_id(component: &str, object_id: &str) -> String {
    let slug: String =
        object_id.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).collect();
    format!("{component}.{slug}")
}

/// Discovery of the mode `select` on the `keepwatch` device.
pub fn mode_discovery(prefix: &str) -> (String, String) {
    let p = json!({
        "name": "Alert mode",
        "unique_id": "keepwatch_mode",
        "object_id": "keepwatch_mode",
        "default_entity_id": "select.keepwatch_mode",
        "icon": "mdi:shield-home",
        "command_topic": MODE_SET_TOPIC,
        "state_topic": MODE_TOPIC,
        "options": ["home", "away", "off"],
        "availability_topic": STATUS_TOPIC,
        "payload_available": "online",
        "payload_not_available": "offline",
        "device": {"identifiers": ["keepwatch"], "name": "keepwatch", "manufacturer": "keepwatch", "model": "NVR"},
        "origin": {"name": "keepwatch", "sw_version": env!("CARGO_PKG_VERSION")},
    });
    (format!("{prefix}/select/keepwatch/mode/config"), p.to_string())
}

/// A command read from a topic (what the broker delivers: outside bytes), or `None` for topics and payloads
/// that are not commands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MqttCommand {
    Switch { camera: String, what: Switch, on: bool },
    Mode(crate::Mode),
}

pub fn parse_command(topic: &str, payload: &[u8]) -> Option<MqttCommand> {
    let text = std::str::from_utf8(payload).ok()?.trim();
    if topic == MODE_SET_TOPIC {
        return text.parse().ok().map(MqttCommand::Mode);
    }
    let rest = topic.strip_prefix(ROOT)?.strip_prefix('/')?;
    let (camera, leaf) = rest.split_once('/')?;
    let what = match leaf {
        "recording/set" => Switch::Recording,
        "motion_detection/set" => Switch::Motion,
        _ => return None,
    };
    let valid = !camera.is_empty()
        && camera.len() <= 64
        && camera.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    let on = match text.to_ascii_uppercase().as_str() {
        "ON" | "TRUE" | "1" => true,
        "OFF" | "FALSE" | "0" => false,
        _ => return None,
    };
    valid.then(|| MqttCommand::Switch { camera: camera.to_string(), what, on })
}

/// Broker connection settings from a notifier.
pub(crate) fn options(cfg: &NotifyConfig, client_id: String, will: bool) -> std::result::Result<MqttOptions, String> {
    let shown = redacted_url(&cfg.target);
    let url = url::Url::parse(&cfg.target).map_err(|e| format!("target {shown}: {e}"))?;
    let host = url.host_str().filter(|h| !h.is_empty()).ok_or_else(|| format!("target {shown}: no host"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']').to_string();
    let tls = match url.scheme() {
        "mqtt" => false,
        "mqtts" => true,
        other => return Err(format!("target {shown}: unsupported scheme {other:?} (mqtt or mqtts)")),
    };
    let port = url.port().unwrap_or(if tls { 8883 } else { 1883 });
    let mut o = MqttOptions::new(client_id, host, port);
    o.set_keep_alive(Duration::from_secs(15));
    o.set_max_packet_size(64 * 1024, 32 * 1024 * 1024);
    o.set_clean_session(true);
    if !url.username().is_empty() {
        let decode = |t: &str| {
            url::form_urlencoded::parse(format!("x={}", t.replace('+', "%2B")).as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        };
        o.set_credentials(decode(url.username()), url.password().map(decode).unwrap_or_default());
    }
    if will {
        o.set_last_will(rumqttc::LastWill::new(STATUS_TOPIC, "offline", QoS::AtLeastOnce, true));
    }
    if tls {
        let config = crate::tls::client_config()?;
        o.set_transport(Transport::tls_with_config(rumqttc::TlsConfiguration::Rustls(config)));
    }
    Ok(o)
}

/// A client id unique to this process and notifier.
pub(crate) fn client_id(notifier: &str, purpose: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    format!("keepwatch-{notifier}-{purpose}-{}-{n}", std::process::id())
}

/// "Send test": connect with a separate client, publish a test message to `keepwatch/test`, wait for
/// the broker's acknowledgement.
pub(crate) async fn test(cfg: &NotifyConfig, ctx: &Ctx) -> Result<String> {
    let shown = redacted_url(&cfg.target);
    let setup = |message: String| NotifyError::Setup { name: cfg.name.clone(), message };
    let opts = options(cfg, client_id(&cfg.name, "test"), false).map_err(setup)?;
    let (client, mut events) = rumqttc::AsyncClient::new(opts, 8);
    let payload = json!({"test": true, "notifier": cfg.name, "time": crate::event::rfc3339(ctx.now())}).to_string();
    let topic = format!("{ROOT}/test");
    let run = async {
        let mut published = false;
        loop {
            match events.poll().await {
                Ok(Event::Incoming(Incoming::ConnAck(_))) if !published => {
                    published = true;
                    client
                        .publish(topic.as_str(), QoS::AtLeastOnce, false, payload.clone())
                        .await
                        .map_err(|e| e.to_string())?;
                }
                Ok(Event::Incoming(Incoming::PubAck(_))) => return Ok::<_, String>(()),
                Ok(Event::Outgoing(Outgoing::Publish(_)) | _) => {}
                Err(e) => return Err(e.to_string()),
            }
        }
    };
    let result = tokio::time::timeout(Duration::from_secs(15), run).await;
    let _ = client.try_disconnect();
    match result {
        Ok(Ok(())) => Ok(format!("mqtt {shown}: connected, published {topic}, acknowledged by the broker")),
        Ok(Err(e)) => Err(NotifyError::Delivery(format!("mqtt {shown}: {e}"))),
        Err(_) => Err(NotifyError::Delivery(format!("mqtt {shown}: no answer within 15 s"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_sensors_are_occupancy_per_camera_and_label() {
        assert_eq!(label_topic("front-door", "person"), "keepwatch/front-door/object/person");
        assert_eq!(label_topic("door", "traffic light"), "keepwatch/door/object/traffic_light");
        let (topic, payload) = label_discovery("homeassistant", "front-door", "person");
        assert_eq!(topic, "homeassistant/binary_sensor/keepwatch_front-door/object_person/config");
        let v: serde_json::Value = serde_json::from_str(&payload).unwrap();
        assert_eq!((v["name"].as_str(), v["device_class"].as_str()), (Some("Person"), Some("occupancy")));
        assert_eq!(v["state_topic"], "keepwatch/front-door/object/person");
        assert_eq!(v["device"]["identifiers"][0], "keepwatch_front-door");
    }

    #[test]
    fn discovery_payloads() {
        let d = discovery("homeassistant", "front-door", false, true);
        assert_eq!(d.len(), 6);
        assert_eq!(d[0].0, "homeassistant/binary_sensor/keepwatch_front-door/motion/config");
        let v: serde_json::Value = serde_json::from_str(&d[0].1).unwrap();
        assert_eq!(v["unique_id"], "keepwatch_front-door_motion");
        // Home Assistant 2025.10+ reads default_entity_id, older ones object_id: the same entity id.
        assert_eq!(v["object_id"], "front-door_motion");
        assert_eq!(v["default_entity_id"], "binary_sensor.front_door_motion");
        assert_eq!(v["state_topic"], "keepwatch/front-door/motion");
        assert_eq!(v["device"]["identifiers"][0], "keepwatch_front-door");
        assert_eq!(d[3].0, "homeassistant/switch/keepwatch_front-door/motion_detection/config");
        let sw: serde_json::Value = serde_json::from_str(&d[3].1).unwrap();
        assert_eq!(sw["command_topic"], "keepwatch/front-door/motion_detection/set");
        assert_eq!(sw["default_entity_id"], "switch.front_door_motion_detection");
        let mode: serde_json::Value = serde_json::from_str(&mode_discovery("homeassistant").1).unwrap();
        assert_eq!(
            (mode["object_id"].as_str(), mode["default_entity_id"].as_str()),
            (Some("keepwatch_mode"), Some("select.keepwatch_mode"))
        );
        // The read-only form is cleared.
        assert_eq!(d[4], ("homeassistant/binary_sensor/keepwatch_front-door/recording/config".into(), String::new()));
        assert!(discovery("ha", "x", true, true).iter().all(|(_, p)| p.is_empty()));
        assert_eq!(discovery("ha", "x", true, false).len(), 6, "removal clears both forms");
    }

    #[test]
    fn without_commands_the_switches_are_read_only() {
        let d = discovery("homeassistant", "door", false, false);
        let live: Vec<&(String, String)> = d.iter().filter(|(_, p)| !p.is_empty()).collect();
        assert_eq!(live.len(), 4);
        assert!(live.iter().all(|(t, p)| !t.contains("/switch/") && !p.contains("command_topic")), "{live:?}");
        let rec: serde_json::Value = serde_json::from_str(&live[2].1).unwrap();
        assert_eq!(live[2].0, "homeassistant/binary_sensor/keepwatch_door/recording/config");
        assert_eq!(rec["state_topic"], "keepwatch/door/recording");
        let cleared: Vec<&str> = d.iter().filter(|(_, p)| p.is_empty()).map(|(t, _)| t.as_str()).collect();
        assert_eq!(
            cleared,
            [
                "homeassistant/switch/keepwatch_door/recording/config",
                "homeassistant/switch/keepwatch_door/motion_detection/config"
            ]
        );
    }

    #[test]
    fn commands() {
        assert_eq!(
            parse_command("keepwatch/door/recording/set", b"off"),
            Some(MqttCommand::Switch { camera: "door".into(), what: Switch::Recording, on: false })
        );
        assert_eq!(parse_command("keepwatch/mode/set", b" home\n"), Some(MqttCommand::Mode(crate::Mode::Home)));
        assert_eq!(parse_command("keepwatch/mode/set", b"armed"), None);
        assert_eq!(parse_command("keepwatch/door/recording/set", b"maybe"), None);
        assert_eq!(parse_command("keepwatch/Door/recording/set", b"ON"), None);
        assert_eq!(parse_command("keepwatch/door/recording", b"ON"), None);
        assert_eq!(parse_command("other/door/recording/set", b"ON"), None);
        assert_eq!(parse_command("keepwatch/door/recording/set", &[0xff, 0xfe]), None);
    }

    #[test]
    fn broker_options() {
        let mut cfg = NotifyConfig {
            name: "ha".into(),
            kind: kw_config::NotifyKind::Mqtt,
            target: "mqtt://u%40x:p%3Aw@127.0.0.1".into(),
            cameras: None,
            events: None,
            cooldown: kw_config::DEFAULT_COOLDOWN,
            discovery_prefix: None,
            commands: false,
            secret: None,
            from: None,
            to: Vec::new(),
            labels: None,
        };
        let o = options(&cfg, "id".into(), true).unwrap();
        assert_eq!(o.broker_address(), ("127.0.0.1".to_string(), 1883));
        assert!(o.last_will().is_some());
        cfg.target = "mqtts://broker.example.org".into();
        assert_eq!(options(&cfg, "id".into(), false).unwrap().broker_address().1, 8883);
        cfg.target = "http://x".into();
        assert!(options(&cfg, "id".into(), false).is_err());
    }
}
