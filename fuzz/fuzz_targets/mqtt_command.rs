//! What an MQTT broker delivers to keepwatch's command topics (Home Assistant switches, the mode).
//! Property: never panics; a command names a valid camera or a known mode.
#![no_main]
use kw_notify::mqtt::{parse_command, MqttCommand};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let cut = data.iter().position(|&b| b == 0).unwrap_or(data.len());
    let topic = String::from_utf8_lossy(&data[..cut]);
    let payload = data.get(cut + 1..).unwrap_or(&[]);
    if let Some(MqttCommand::Switch { camera, .. }) = parse_command(&topic, payload) {
        assert!(!camera.is_empty() && camera.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'), "{camera:?}");
    }
});
