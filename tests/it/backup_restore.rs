//! `keepwatch backup` and `keepwatch restore` through the real binary: a store with a user, an API token and
//! events is backed up (while nothing else is special about it), restored into a new directory as a new box
//! would, and the restored keepwatch lets the user log in, accepts the token and lists the events. Damaged,
//! foreign and misplaced restores fail with a clear message and write nothing.

use crate::support::keepwatch::*;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Output;
use std::time::Duration;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[track_caller]
fn ok(out: &Output) -> String {
    assert!(out.status.success(), "failed ({:?}): {}", out.status.code(), text(&out.stderr));
    text(&out.stderr)
}

#[track_caller]
fn fails(out: &Output, code: i32, needle: &str) {
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "stderr: {err}");
    assert!(err.contains(needle), "expected {needle:?} in: {err}");
}

fn restore(backup: &Path, store: &Path, config: &Path) -> Output {
    cli(&[
        "restore",
        backup.to_str().unwrap(),
        "--store",
        store.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
    ])
}

/// Two events written through kw-events' own writer: one motion event with a picture, one storage event.
fn write_events(index: &Path) -> i64 {
    let events = kw_events::EventStore::open(index).unwrap();
    let t0 = now_us() - 3_600_000_000;
    let jpeg = b"\xff\xd8not really a jpeg\xff\xd9";
    let id = events
        .start(&kw_events::NewEvent {
            camera: "front-door",
            kind: kw_events::EventKind::Motion,
            start: t0,
            score: 0.7,
            region: Some([0.1, 0.2, 0.3, 0.4]),
            jpeg: Some(jpeg),
        })
        .unwrap();
    events.finish(id, t0 + 5_000_000).unwrap();
    let s = events
        .start(&kw_events::NewEvent {
            camera: "",
            kind: kw_events::EventKind::Storage,
            start: t0 + 10_000_000,
            score: 1.0,
            region: None,
            jpeg: None,
        })
        .unwrap();
    events.finish(s, t0 + 20_000_000).unwrap();
    t0
}

#[test]
fn a_backup_restored_on_a_new_box_keeps_users_tokens_and_events() {
    let old = tempfile::tempdir().unwrap();
    let config = write_config(old.path(), "", &camera("front-door", "demo://synthetic", ""));
    add_user(&config, "admin", "admin", None, "the admin's password");
    let token = create_token(&config, "home-assistant", "viewer", Some("front-door"));
    let t0 = write_events(&old.path().join("store").join("index.sqlite3"));
    // The link key `run` makes on its first start (alerts' signed links).
    let key: Vec<u8> = (0..32u8).map(|i| i.wrapping_mul(37).wrapping_add(11)).collect();
    std::fs::write(old.path().join("store").join("link.key"), &key).unwrap();
    std::fs::set_permissions(old.path().join("store").join("link.key"), std::fs::Permissions::from_mode(0o600))
        .unwrap();

    let backup = old.path().join("keepwatch.backup");
    let said = ok(&cli(&["backup", "-o", backup.to_str().unwrap(), "--config", config.to_str().unwrap()]));
    assert!(said.contains("left out") && said.contains("segment rows"), "{said}");
    let mode = std::fs::metadata(&backup).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the backup holds password hashes and the link key");
    assert!(!said.contains("the admin's password"));

    // The new box: nothing but the backup file.
    let new = tempfile::tempdir().unwrap();
    let new_backup = new.path().join("from-the-old-box.backup");
    std::fs::copy(&backup, &new_backup).unwrap();
    let new_config = new.path().join("keepwatch.toml");
    let store = new.path().join("data");
    let said = ok(&restore(&new_backup, &store, &new_config));
    assert!(said.contains("1 user(s), 1 API token(s), 2 event(s)"), "{said}");
    let mode = std::fs::metadata(&new_config).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let written = std::fs::read_to_string(&new_config).unwrap();
    assert!(written.contains(store.to_str().unwrap()), "the config names the new store: {written}");
    assert!(written.contains("front-door"), "the cameras came along: {written}");
    let key_mode = std::fs::metadata(store.join("link.key")).unwrap().permissions().mode() & 0o777;
    assert_eq!(key_mode, 0o600);
    assert_eq!(std::fs::read(store.join("link.key")).unwrap(), key, "links in alerts already sent keep opening");

    let mut kw = Keepwatch::start(&new_config);
    let api = kw.api();
    let session = api.login("admin", "the admin's password");
    let me = api.with_session(&session);
    let list = me.get_json(&format!("/api/events?start={}", rfc3339(t0 - 1_000_000).replace('+', "%2B")));
    let list = list.as_array().expect("an event list");
    assert_eq!(list.len(), 2, "{list:?}");
    let motion = list.iter().find(|e| e["kind"] == "motion").expect("the motion event");
    assert_eq!(motion["camera"], "front-door");
    assert_eq!(parse_rfc3339(motion["start"].as_str().unwrap()), t0);
    let pic = me.get(motion["snapshot"].as_str().unwrap());
    assert_eq!(pic.status, 200, "the event's picture came along");
    let with_token = api.with_bearer(&token).get("/api/cameras");
    assert_eq!(with_token.status, 200, "{}", with_token.text());
    kw.stop_ok();

    // Into a store that is not empty: refused, nothing written.
    let other_config = new.path().join("other.toml");
    fails(&restore(&new_backup, &store, &other_config), 1, "is not empty");
    assert!(!other_config.exists());
    // Over an existing config: refused.
    fails(&restore(&new_backup, &new.path().join("data2"), &new_config), 2, "exists");
    assert!(!new.path().join("data2").exists());

    // A damaged copy and a foreign file: clear errors, no store.
    let bytes = std::fs::read(&new_backup).unwrap();
    let cut = new.path().join("cut.backup");
    std::fs::write(&cut, &bytes[..bytes.len() * 2 / 3]).unwrap();
    fails(&restore(&cut, &new.path().join("data3"), &new.path().join("c3.toml")), 1, "damaged");
    assert!(!new.path().join("data3").exists(), "nothing is left of a failed restore");
    let foreign = new.path().join("holiday.tar.gz");
    std::fs::write(&foreign, b"PK\x03\x04 a zip file, say").unwrap();
    fails(&restore(&foreign, &new.path().join("data4"), &new.path().join("c4.toml")), 1, "not a keepwatch backup");
    assert!(!new.path().join("data4").exists());
}

#[test]
fn a_backup_is_taken_while_run_records() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "", &camera("front-door", "demo://synthetic", ""));
    add_user(&config, "admin", "admin", None, "pw of the admin");
    let mut kw = Keepwatch::start(&config);
    kw.expect_streaming(&["front-door"], Duration::from_secs(60));
    let backup = dir.path().join("b.backup");
    ok(&cli(&["backup", "-o", backup.to_str().unwrap(), "--config", config.to_str().unwrap()]));
    kw.stop_ok();
    let restored = tempfile::tempdir().unwrap();
    let c = restored.path().join("keepwatch.toml");
    let said = ok(&restore(&backup, &restored.path().join("store"), &c));
    assert!(said.contains("1 user(s)"), "{said}");
    let segments = restored.path().join("store").join("segments");
    let files = std::fs::read_dir(&segments).map(|d| d.count()).unwrap_or(0);
    assert_eq!(files, 0, "no video in a backup");
}
