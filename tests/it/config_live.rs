//! The config file is the one source of truth and `run` follows it live: cameras added, removed and
//! changed apply without a restart; a broken edit is reported and the running setup kept. Also: the store
//! refuses a directory that is not itself (an empty mount point when the disk is not mounted).

use crate::support::keepwatch::*;
use std::time::Duration;

const CAM: &str = "demo://synthetic?width=160&height=96&fps=10&gop=1";

#[test]
fn cameras_are_added_changed_and_removed_live() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "", &camera("one", CAM, ""));
    let mut kw = Keepwatch::start(&config);
    kw.expect_streaming(&["one"], Duration::from_secs(30));

    // Add "two", remove "one".
    write_config(dir.path(), "", &camera("two", CAM, ""));
    kw.expect_streaming(&["two"], Duration::from_secs(30));
    kw.expect_line(&["stopping camera", "camera=one"], Duration::from_secs(10));

    // A broken edit is refused and "two" keeps recording.
    std::fs::write(&config, "[storage]\npath = \"store\"\n[[cameras]]\nname = \"Two!\"\n").unwrap();
    kw.expect_line(&["config change not applied", "keepwatch.toml:"], Duration::from_secs(10));

    // Change "two" (a new resolution): it restarts with the new parameters.
    let changed = CAM.replace("width=160", "width=320");
    write_config(dir.path(), "", &camera("two", &changed, ""));
    kw.expect_line(&["streaming h264 320x96", "camera=two"], Duration::from_secs(30));
    std::thread::sleep(Duration::from_secs(2));
    kw.stop_ok();
    assert!(!spans(&config, "one").is_empty());
    assert!(spans(&config, "two").len() >= 2, "two runs for two: {:?}", spans(&config, "two"));
}

#[test]
fn store_refuses_an_empty_mount_point_and_a_foreign_directory() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "", &camera("cam", CAM, ""));
    let mut kw = Keepwatch::start(&config);
    kw.expect_streaming(&["cam"], Duration::from_secs(30));
    kw.stop_ok();

    // The disk "is not mounted": the store directory is empty now.
    let store = dir.path().join("store");
    std::fs::rename(&store, dir.path().join("elsewhere")).unwrap();
    std::fs::create_dir(&store).unwrap();
    let out = cli(&["run", "--config", config.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is the disk mounted"), "{err}");
    assert_eq!(std::fs::read_dir(&store).unwrap().count(), 0, "nothing may be written into the empty mount point");

    // A directory full of someone else's files is never written into.
    let other = tempfile::tempdir().unwrap();
    std::fs::write(other.path().join("holiday.jpg"), b"not ours").unwrap();
    let cfg2 = other.path().join("kw.toml");
    std::fs::write(&cfg2, format!("[storage]\npath = {:?}\n", other.path().to_str().unwrap())).unwrap();
    let out = cli(&["run", "--config", cfg2.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a keepwatch store"));
}

#[test]
fn a_second_run_on_the_same_store_is_refused_and_the_lock_survives_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "", &camera("cam", CAM, ""));
    let mut kw = Keepwatch::start(&config);
    kw.expect_streaming(&["cam"], Duration::from_secs(30));
    let out = cli(&["run", "--config", config.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("another keepwatch is already running") && err.contains(&kw.pid().to_string()), "{err}");
    // Store commands still work beside it.
    assert!(cli(&["check", "--config", config.to_str().unwrap()]).status.success());
    kw.kill9();
    // The OS released the lock with the process: a new run starts at once.
    let mut again = Keepwatch::start(&config);
    again.expect_streaming(&["cam"], Duration::from_secs(30));
    again.stop_ok();
}

/// `systemctl reload` sends SIGHUP: keepwatch reads the config at once (and a SIGHUP never ends it).
#[test]
fn sighup_reads_the_config_and_keeps_running() {
    use crate::support::tools::{signal_pid, Signal};
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "", &camera("one", CAM, ""));
    let mut kw = Keepwatch::start(&config);
    kw.expect_streaming(&["one"], Duration::from_secs(30));
    write_config(dir.path(), "", &format!("{}{}", camera("one", CAM, ""), camera("two", CAM, "")));
    assert!(signal_pid(kw.pid(), Signal::HUP));
    kw.expect_line(&["SIGHUP: reading the config file"], Duration::from_secs(10));
    kw.expect_streaming(&["two"], Duration::from_secs(30));
    assert!(signal_pid(kw.pid(), Signal::HUP), "a second SIGHUP too");
    crate::support::wait::until("the second SIGHUP to be logged", Duration::from_secs(10), || {
        kw.log_text().matches("SIGHUP: reading the config file").count() >= 2
    });
    assert!(kw.is_running(), "SIGHUP does not end keepwatch");
    kw.stop_ok();
}
