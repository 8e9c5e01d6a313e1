//! Crash recovery, check and repair.

mod common;

use std::fs::{self, OpenOptions};
use std::io::Write;

use common::*;
use kw_store::{ProblemKind, SegmentKey, Store};

fn append_bytes(path: &std::path::Path, bytes: &[u8]) {
    OpenOptions::new().append(true).open(path).unwrap().write_all(bytes).unwrap();
}

#[test]
fn killed_writer_is_recovered_up_to_the_last_whole_frame() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let run = run_info(T0, true);
    let run_id = store.begin_run("cam", &run).unwrap();
    let done = write_segment(&store, "cam", run_id, 0, &run, &gop(0, 25, 300), Some(25 * FRAME));
    let mut frames = gop(25 * FRAME, 30, 4000);
    frames.insert(3, audio(16_000, 200));
    let mut w = store.create_segment("cam", run_id, 1, &run).unwrap();
    for f in &frames {
        w.append(f).unwrap();
    }
    w.sync().unwrap();
    let synced_len = w.bytes();
    let key = w.key();
    drop(w); // the process is killed here: no finish, no row
    let path = store.segment_location(&key);
    assert_eq!(fs::metadata(&path).unwrap().len(), synced_len);
    drop(store);

    // A torn half frame at the end: a valid-looking record header, then only part of its data.
    let mut torn = vec![0xF5, 0, 0, 0, 0, 0, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4];
    torn.extend_from_slice(&[7u8; 100]);
    append_bytes(&path, &torn);

    let store = open(dir.path());
    let report = store.recover().unwrap();
    assert_eq!(report.reindexed.len(), 1, "{report}");
    assert_eq!(report.reindexed[0].frames, frames.len());
    assert_eq!(report.reindexed[0].truncated, torn.len() as u64);
    assert_eq!(fs::metadata(&path).unwrap().len(), synced_len);
    let rows = store.segments("cam", i64::MIN, i64::MAX).unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0], done);
    assert_eq!(rows[1].bytes, synced_len);
    assert_eq!(rows[1].start, T0 + 1_000_000);
    assert_eq!(rows[1].end, T0 + 1_000_000 + 30 * 40_000);
    assert_eq!(read_back(&store, &rows[1]), frames);
    assert!(store.check(false).unwrap().is_clean());
    // Idempotent.
    assert!(store.recover().unwrap().is_empty());
}

#[test]
fn garbage_tail_and_lost_run_row_are_recovered() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let run = run_info(T0, false);
    let run_id = store.begin_run("cam", &run).unwrap();
    let frames = gop(0, 10, 1234);
    let mut w = store.create_segment("cam", run_id, 0, &run).unwrap();
    for f in &frames {
        w.append(f).unwrap();
    }
    w.sync().unwrap();
    let key = w.key();
    drop(w);
    let path = store.segment_location(&key);
    append_bytes(&path, b"this is not a frame record at all");
    drop(store);
    // Simulate an index that lost the run row (e.g. restored from an older backup).
    {
        let c = rusqlite::Connection::open(dir.path().join("index.sqlite3")).unwrap();
        c.execute("DELETE FROM runs", []).unwrap();
    }
    let store = open(dir.path());
    let report = store.recover().unwrap();
    assert_eq!(report.reindexed.len(), 1, "{report}");
    assert_eq!(store.run_info(run_id).unwrap(), run);
    let row = &store.segments("cam", i64::MIN, i64::MAX).unwrap()[0];
    assert_eq!(read_back(&store, row), frames);
}

#[test]
fn bad_header_and_empty_files_are_removed_foreign_files_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let run = run_info(T0, false);
    let run_id = store.begin_run("cam", &run).unwrap();
    let cam = store.camera_id("cam").unwrap();
    let seg_dir = dir.path().join("segments").join(cam.to_string());

    // A header only (killed before the first frame was written) and a file with a broken header.
    let w = store.create_segment("cam", run_id, 0, &run).unwrap();
    let mut w = w;
    w.sync().unwrap();
    drop(w);
    let mut w = store.create_segment("cam", run_id, 1, &run).unwrap();
    w.append(&gop(0, 1, 100)[0]).unwrap();
    w.sync().unwrap();
    let bad = store.segment_location(&w.key());
    drop(w);
    let mut bytes = fs::read(&bad).unwrap();
    bytes[20] ^= 0xff; // inside the header body: checksum mismatch
    fs::write(&bad, bytes).unwrap();
    fs::write(seg_dir.join("README.txt"), "not mine").unwrap();

    let report = store.recover().unwrap();
    assert_eq!(report.files_removed.len(), 2, "{report}");
    assert!(report.files_removed.iter().any(|(_, why)| why.contains("checksum")), "{report}");
    assert!(report.files_removed.iter().any(|(_, why)| why.contains("no whole valid frame")), "{report}");
    assert_eq!(report.left_alone.len(), 1);
    assert!(seg_dir.join("README.txt").exists());
    assert!(!bad.exists());
    assert!(store.segments("cam", i64::MIN, i64::MAX).unwrap().is_empty());
}

#[test]
fn garbage_is_unlinked_and_not_resurrected() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let run = run_info(T0, false);
    let run_id = store.begin_run("cam", &run).unwrap();
    let row = write_segment(&store, "cam", run_id, 0, &run, &gop(0, 10, 100), None);
    let path = store.segment_location(&row.key());
    drop(store);
    // A crash between "delete row + add to garbage" and the unlink.
    {
        let c = rusqlite::Connection::open(dir.path().join("index.sqlite3")).unwrap();
        c.execute("DELETE FROM segments", []).unwrap();
        c.execute("INSERT INTO garbage (path) VALUES (?1)", [row.key().name()]).unwrap();
    }
    let store = open(dir.path());
    let check = store.check(false).unwrap();
    assert!(check.problems.iter().any(|p| p.kind == ProblemKind::PendingGarbage), "{check}");
    let report = store.recover().unwrap();
    assert_eq!(report.garbage_removed, vec![row.key().name()]);
    assert!(report.reindexed.is_empty(), "deleted segment came back: {report}");
    assert!(!path.exists());
    assert!(store.segments("cam", i64::MIN, i64::MAX).unwrap().is_empty());
    assert!(store.check(false).unwrap().is_clean());
}

fn two_segments(store: &Store) -> (kw_store::SegmentRow, kw_store::SegmentRow) {
    let run = run_info(T0, false);
    let run_id = store.begin_run("cam", &run).unwrap();
    let a = write_segment(store, "cam", run_id, 0, &run, &gop(0, 10, 500), Some(10 * FRAME));
    let b = write_segment(store, "cam", run_id, 1, &run, &gop(10 * FRAME, 10, 500), None);
    (a, b)
}

#[test]
fn missing_and_short_files_check_repair() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let (a, b) = two_segments(&store);
    fs::remove_file(store.segment_location(&a.key())).unwrap();
    // Cut b inside its 6th frame.
    let b_path = store.segment_location(&b.key());
    let entries = store.frames(&b).unwrap();
    let cut = entries[5].data_offset + 10;
    OpenOptions::new().write(true).open(&b_path).unwrap().set_len(cut).unwrap();

    let report = store.check(false).unwrap();
    assert!(!report.is_clean());
    let kinds: Vec<_> = report.problems.iter().map(|p| p.kind).collect();
    assert_eq!(kinds, vec![ProblemKind::MissingFile, ProblemKind::ShortFile], "{report}");
    let text = report.to_string();
    assert!(text.contains(&a.key().name()) && text.contains("missing"), "{text}");
    // Reporting changed nothing.
    assert_eq!(store.segments("cam", i64::MIN, i64::MAX).unwrap().len(), 2);

    let repaired = store.check(true).unwrap();
    assert_eq!(repaired.repaired.len(), 2, "{repaired}");
    let rows = store.segments("cam", i64::MIN, i64::MAX).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].video_frames, 5);
    assert_eq!(rows[0].bytes, entries[4].end_offset());
    assert_eq!(fs::metadata(&b_path).unwrap().len(), entries[4].end_offset());
    assert!(store.check(false).unwrap().is_clean());
}

#[test]
fn recover_never_leaves_rows_over_missing_or_short_data() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let (a, b) = two_segments(&store);
    fs::remove_file(store.segment_location(&a.key())).unwrap();
    let b_path = store.segment_location(&b.key());
    let entries = store.frames(&b).unwrap();
    OpenOptions::new().write(true).open(&b_path).unwrap().set_len(entries[2].data_offset).unwrap();
    let report = store.recover().unwrap();
    assert_eq!(report.rows_removed.len(), 2, "{report}");
    assert_eq!(report.reindexed.len(), 1, "{report}");
    let rows = store.segments("cam", i64::MIN, i64::MAX).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].video_frames, 2);
    for r in &rows {
        assert!(fs::metadata(store.segment_location(&r.key())).unwrap().len() >= r.bytes);
    }
    assert!(store.check(false).unwrap().is_clean());
}

#[test]
fn check_finds_flipped_bits_and_repair_keeps_the_valid_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let (_, b) = two_segments(&store);
    let path = store.segment_location(&b.key());
    let entries = store.frames(&b).unwrap();
    let mut bytes = fs::read(&path).unwrap();
    bytes[entries[7].data_offset as usize + 3] ^= 0x40;
    fs::write(&path, bytes).unwrap();
    let report = store.check(false).unwrap();
    assert_eq!(report.problems.len(), 1, "{report}");
    assert_eq!(report.problems[0].kind, ProblemKind::BadFrame);
    assert!(report.problems[0].detail.contains("checksum"), "{report}");
    store.check(true).unwrap();
    let rows = store.segments("cam", i64::MIN, i64::MAX).unwrap();
    assert_eq!(rows[1].video_frames, 7);
    assert!(store.check(false).unwrap().is_clean());
}

#[test]
fn unindexed_files_are_notes_and_open_writers_are_not_touched() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let run = run_info(T0, false);
    let run_id = store.begin_run("cam", &run).unwrap();
    let mut w = store.create_segment("cam", run_id, 0, &run).unwrap();
    for f in gop(0, 5, 100) {
        w.append(&f).unwrap();
    }
    w.sync().unwrap();
    // The same process: the open writer is neither recovered nor reported.
    assert!(store.recover().unwrap().is_empty());
    assert!(store.check(false).unwrap().notes.is_empty());
    // Another process (a second handle) sees a file without a row: a note, not a problem.
    let other = open(dir.path());
    let report = other.check(true).unwrap();
    assert!(report.is_clean(), "{report}");
    assert_eq!(report.notes.len(), 1, "{report}");
    assert!(report.notes[0].contains(&SegmentKey { camera_id: w.key().camera_id, run_id, seq: 0 }.name()));
    // finish still works and wins even if the other process re-indexed the file meanwhile.
    other.recover().unwrap();
    let row = w.finish(None).unwrap();
    assert_eq!(store.segments("cam", i64::MIN, i64::MAX).unwrap(), vec![row]);
}
