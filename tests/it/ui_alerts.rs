//! Alerts set up in a real browser: the real keepwatch binary, a real mosquitto that wants a password, a
//! real SMTP sink (aiosmtpd) and an HTTP sink, headless Chromium driven by `tests/ui/alerts.mjs` (schedule
//! and public address, a webhook, an MQTT notifier whose wrong password is named, an e-mail notifier, a bad
//! URL refused, edit, delete, German). Afterwards this test checks what reached the sinks and what the
//! browser wrote into the config file: the notifiers with their secrets, the file's own comments, nothing of
//! the refused or deleted ones. Screenshots: `target/ui-screenshots/alerts-*.png`.

use crate::support::http_sink::HttpSink;
use crate::support::keepwatch::*;
use crate::support::{browser, free_port, require_tools};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A process this test started, killed when dropped.
struct Started(Child);

impl Drop for Started {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_port(port: u16, what: &str) {
    crate::support::wait::until(what, Duration::from_secs(20), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
}

/// mosquitto on a free loopback port, with one user.
fn mosquitto(dir: &std::path::Path, user: &str, password: &str) -> (Started, u16) {
    let port = free_port();
    let pw = dir.join("passwd");
    let out = Command::new("mosquitto_passwd").args(["-c", "-b"]).arg(&pw).args([user, password]).output().unwrap();
    assert!(out.status.success(), "mosquitto_passwd: {}", String::from_utf8_lossy(&out.stderr));
    let conf = dir.join("mosquitto.conf");
    std::fs::write(
        &conf,
        format!(
            "listener {port} 127.0.0.1\nallow_anonymous false\npassword_file {}\npersistence false\n",
            pw.display()
        ),
    )
    .unwrap();
    let child = Command::new("mosquitto").arg("-c").arg(&conf).stdout(Stdio::null()).stderr(Stdio::null()).spawn();
    let child = Started(child.expect("mosquitto (scripts/install-test-deps.sh)"));
    wait_port(port, "mosquitto to listen");
    (child, port)
}

/// aiosmtpd (Debian's python3) on a free loopback port, printing each message to `out`.
fn smtp_sink(out: &std::path::Path) -> (Started, u16) {
    let port = free_port();
    let log = std::fs::File::create(out).unwrap();
    let child = Command::new("/usr/bin/python3")
        .args(["-u", "-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn();
    let child = Started(child.expect("aiosmtpd (scripts/install-test-deps.sh installs python3-aiosmtpd)"));
    wait_port(port, "the SMTP sink to listen");
    (child, port)
}

#[test]
fn alerts_set_up_in_a_browser() {
    require_tools(&["mosquitto", "mosquitto_passwd"]);
    browser::ensure_npm();
    let dir = tempfile::tempdir().unwrap();
    let (_broker, mqtt_port) = mosquitto(dir.path(), "kw", "broker-pass-1");
    let mail_log = dir.path().join("smtp.log");
    let (_smtp, smtp_port) = smtp_sink(&mail_log);
    let sink = HttpSink::start();
    let cam = camera("porch", "demo://synthetic?width=160&height=96&fps=5", "");
    let config = write_config(dir.path(), "", &format!("# Alerts for the porch (this comment must survive)\n{cam}"));
    add_user(&config, "root", "admin", None, "root-password-1");
    let mut kw = Keepwatch::start(&config);
    let base = kw.base_url(Duration::from_secs(30));

    browser::run_node(
        "alerts.mjs",
        &[
            ("BASE_URL", base),
            ("ADMIN_USER", "root".into()),
            ("ADMIN_PASSWORD", "root-password-1".into()),
            ("CAMERA", "porch".into()),
            ("HOOK_URL", sink.url("/hook")),
            ("MQTT_URL", format!("mqtt://127.0.0.1:{mqtt_port}")),
            ("MQTT_USER", "kw".into()),
            ("MQTT_PASSWORD", "broker-pass-1".into()),
            ("SMTP_URL", format!("smtp://127.0.0.1:{smtp_port}")),
        ],
        Duration::from_secs(240),
    );

    // The sinks got the tests.
    let hook = sink.recv_timeout(Duration::from_secs(5)).expect("the webhook test reached the sink");
    assert!(hook.header("x-keepwatch-signature").is_some(), "the webhook test is not signed");
    let mail = std::fs::read_to_string(&mail_log).unwrap();
    assert!(mail.contains("MESSAGE FOLLOWS") && mail.contains("me@example.org"), "{mail}");

    // What the browser wrote.
    let text = std::fs::read_to_string(&config).unwrap();
    println!("--- the config file after the browser ---\n{text}");
    assert!(text.contains("# Alerts for the porch (this comment must survive)"), "{text}");
    assert!(text.contains("schedule = \"mon-fri 08:00-17:00\""), "{text}");
    assert!(text.contains("public_url = \"https://nvr.example.org\""), "{text}");
    assert!(text.contains("name = \"hook\"") && text.contains("secret = \"hmac-secret-1\""), "{text}");
    assert!(text.contains("events = [\"motion\"]") && text.contains("cameras = [\"porch\"]"), "{text}");
    assert!(
        text.contains(&format!("mqtt://kw:broker-pass-1@127.0.0.1:{mqtt_port}")),
        "the MQTT password was lost: {text}"
    );
    assert!(text.contains("cooldown = \"2m\""), "{text}");
    for gone in ["\"bad\"", "ftp://", "\"mail\"", "\"gone\"", "not-the-password", "***"] {
        assert!(!text.contains(gone), "{gone} is in the config: {text}");
    }
    let cfg = kw_config_check(&config);
    assert!(
        cfg.status.success(),
        "the config the browser wrote is not valid: {}",
        String::from_utf8_lossy(&cfg.stderr)
    );

    assert!(kw.is_running(), "keepwatch exited; log:\n{}", kw.log_text());
    kw.stop_ok();
    let log = kw.log_text();
    for secret in ["broker-pass-1", "not-the-password", "hmac-secret-1"] {
        assert!(!log.contains(secret), "a secret reached the log:\n{log}");
    }
}

/// The binary's own check of the written config: `keepwatch mode` loads it and prints the mode.
fn kw_config_check(config: &std::path::Path) -> std::process::Output {
    cli(&["mode", "--config", config.to_str().unwrap()])
}
