//! A full file system: writes report `NoSpace`, freeing space lets the same writer continue.
//!
//! Needs a tiny file system: mounts a 4 MiB tmpfs (root only). Skipped with a message when the mount
//! is not possible (not root, no CAP_SYS_ADMIN).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use kw_media::Frame;
use kw_store::{Create, Store, StoreError};

/// Unmounts the tmpfs even when the test fails.
struct Mount(PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn tiny_fs(dir: &Path) -> Option<Mount> {
    let mnt = dir.join("mnt");
    std::fs::create_dir(&mnt).ok()?;
    let ok = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=4m", "tmpfs"])
        .arg(&mnt)
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        eprintln!("SKIPPED: cannot mount a tmpfs (needs root); the ENOSPC test did not run");
        return None;
    }
    Some(Mount(mnt))
}

#[test]
fn no_space_then_free_then_continue() {
    let dir = tempfile::tempdir().unwrap();
    let Some(mnt) = tiny_fs(dir.path()) else { return };
    let store = Store::open(&mnt.0.join("store"), Create::IfMissing, None).unwrap();
    let run = run_info(T0, false);
    let run_id = store.begin_run("cam", &run).unwrap();
    // Six old segments of ~300 kB.
    for seq in 0..6u32 {
        let first = i64::from(seq) * 25 * FRAME;
        write_segment(&store, "cam", run_id, seq, &run, &gop(first, 25, 12_000), None);
    }
    let mut w = store.create_segment("cam", run_id, 6, &run).unwrap();
    let mut accepted: Vec<Frame> = Vec::new();
    let mut pts = 150 * FRAME;
    let mut failed: Option<(StoreError, Option<Frame>)> = None;
    for i in 0..500 {
        let f = video(pts, i == 0, 20_000);
        pts += FRAME;
        if let Err(e) = w.append(&f) {
            failed = Some((e, Some(f)));
            break;
        }
        accepted.push(f);
        if let Err(e) = w.sync() {
            failed = Some((e, None));
            break;
        }
    }
    let (err, retry) = failed.expect("the 4 MiB file system never filled up");
    assert!(err.is_no_space(), "expected NoSpace, got {err}");
    assert!(matches!(err, StoreError::NoSpace { .. }));
    assert!(err.to_string().contains(".kws"), "{err}");

    let freed = store.free_space_for(600_000).unwrap();
    assert!(freed >= 600_000, "freed only {freed}");
    if let Some(f) = retry {
        w.append(&f).unwrap();
        accepted.push(f);
    }
    w.sync().unwrap();
    for _ in 0..3 {
        let f = video(pts, false, 20_000);
        pts += FRAME;
        w.append(&f).unwrap();
        accepted.push(f);
    }
    w.sync().unwrap();
    let row = w.finish(Some(pts)).unwrap();
    assert_eq!(read_back(&store, &row), accepted);
    assert_eq!(std::fs::metadata(store.segment_location(&row.key())).unwrap().len(), row.bytes);
    let report = store.check(false).unwrap();
    assert!(report.is_clean(), "{report}");
    // The reserve given up on the full disk is back.
    assert!(mnt.0.join("store").join(kw_store::RESERVE_FILE).exists());
    drop(store);
    drop(mnt);
}
