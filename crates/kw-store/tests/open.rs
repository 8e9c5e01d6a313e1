//! Opening a store: the marker, wrong directories, schema versions.

mod common;

use std::fs;

use common::*;
use kw_store::{Create, Store, StoreError, MARKER_FILE, SCHEMA_VERSION};
use uuid::Uuid;

#[test]
fn creates_only_where_missing_or_empty() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("a/b");
    assert!(matches!(Store::open(&missing, Create::Never, None), Err(StoreError::NotAStore { .. })));
    let s = Store::open(&missing, Create::IfMissing, None).unwrap();
    assert!(missing.join(MARKER_FILE).exists());
    assert!(missing.join("index.sqlite3").exists());
    assert!(missing.join("segments").is_dir());
    let id = s.id();
    drop(s);
    assert_eq!(Store::open(&missing, Create::Never, Some(id)).unwrap().id(), id);

    let empty = dir.path().join("empty");
    fs::create_dir(&empty).unwrap();
    let e = Store::open(&empty, Create::Never, None).unwrap_err();
    assert!(e.to_string().contains("mounted"), "{e}");
    let want = Uuid::new_v4();
    assert_eq!(Store::open(&empty, Create::IfMissing, Some(want)).unwrap().id(), want);
}

#[test]
fn foreign_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("photo.jpg"), "x").unwrap();
    let e = Store::open(dir.path(), Create::IfMissing, None).unwrap_err();
    assert!(matches!(e, StoreError::NotAStore { .. }), "{e}");
    assert!(e.to_string().contains(&dir.path().display().to_string()), "{e}");
    assert!(!dir.path().join(MARKER_FILE).exists());
    let file = dir.path().join("photo.jpg");
    assert!(matches!(Store::open(&file, Create::IfMissing, None), Err(StoreError::NotAStore { .. })));
}

#[test]
fn wrong_store_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let id = open(dir.path()).id();
    let other = Uuid::new_v4();
    let e = Store::open(dir.path(), Create::IfMissing, Some(other)).unwrap_err();
    match &e {
        StoreError::WrongStore { found, expected, .. } => assert_eq!((*found, *expected), (id, other)),
        _ => panic!("unexpected {e}"),
    }
    assert!(e.to_string().contains(&id.to_string()), "{e}");
}

#[test]
fn schema_version_is_set_and_newer_index_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    drop(open(dir.path()));
    let c = rusqlite::Connection::open(dir.path().join("index.sqlite3")).unwrap();
    let v: u32 = c.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
    assert_eq!(v, SCHEMA_VERSION);
    const { assert!(SCHEMA_VERSION >= 1) };
    let mode: String = c.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
    assert_eq!(mode, "wal");
    c.pragma_update(None, "user_version", SCHEMA_VERSION + 1).unwrap();
    drop(c);
    let e = Store::open(dir.path(), Create::Never, None).unwrap_err();
    assert!(matches!(e, StoreError::TooNew { .. }), "{e}");
    let text = e.to_string();
    assert!(text.contains("index.sqlite3") && text.contains("newer keepwatch"), "{text}");
}

#[test]
fn readers_in_other_handles_see_committed_rows_while_a_writer_is_open() {
    let dir = tempfile::tempdir().unwrap();
    let rec = open(dir.path());
    let run = run_info(T0, false);
    let run_id = rec.begin_run("cam", &run).unwrap();
    let row = write_segment(&rec, "cam", run_id, 0, &run, &gop(0, 5, 10), None);
    let mut w = rec.create_segment("cam", run_id, 1, &run).unwrap();
    w.append(&gop(5 * FRAME, 1, 10)[0]).unwrap();
    let reader = Store::open(dir.path(), Create::Never, Some(rec.id())).unwrap();
    assert_eq!(reader.segments("cam", i64::MIN, i64::MAX).unwrap(), vec![row]);
    w.finish(None).unwrap();
    assert_eq!(reader.segments("cam", i64::MIN, i64::MAX).unwrap().len(), 2);
}

#[test]
fn a_following_reader_sees_another_writers_open_segment_up_to_what_it_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let rec = open(dir.path());
    let run = run_info(T0, false);
    let run_id = rec.begin_run("cam", &run).unwrap();
    let first = write_segment(&rec, "cam", run_id, 0, &run, &gop(0, 5, 10), None);
    let mut w = rec.create_segment("cam", run_id, 1, &run).unwrap();
    let frames = gop(5 * FRAME, 8, 10);
    for f in &frames[..5] {
        w.append(f).unwrap();
    }
    w.sync().unwrap();
    // Buffered, not written yet: invisible to other processes.
    w.append(&frames[5]).unwrap();
    let reader = Store::open(dir.path(), Create::Never, Some(rec.id())).unwrap();
    reader.follow_other_writers();
    let rows = reader.segments("cam", i64::MIN, i64::MAX).unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[0], first);
    let open_row = &rows[1];
    assert!(open_row.is_open());
    assert_eq!((open_row.run_id, open_row.seq, open_row.video_frames), (run_id, 1, 5));
    assert_eq!(read_back(&reader, open_row), frames[..5].to_vec());
    // The range filter applies to the open part too.
    assert!(reader.segments("cam", open_row.end, i64::MAX).unwrap().is_empty());
    // Reading changed nothing: the writer finishes as usual, and the reader then sees the row.
    for f in &frames[6..] {
        w.append(f).unwrap();
    }
    let done = w.finish(None).unwrap();
    let rows = reader.segments("cam", i64::MIN, i64::MAX).unwrap();
    assert_eq!(rows, vec![first, done]);
    assert!(rec.check(false).unwrap().is_clean());
}

/// Every directory and file under `root` (itself included) is closed to group and others.
fn assert_private(root: &std::path::Path) -> usize {
    use std::os::unix::fs::PermissionsExt;
    let mut seen = 0;
    let mut todo = vec![root.to_path_buf()];
    while let Some(p) = todo.pop() {
        let meta = fs::symlink_metadata(&p).unwrap();
        let mode = meta.permissions().mode() & 0o777;
        assert_eq!(mode & 0o077, 0, "{} is mode {mode:o}", p.display());
        seen += 1;
        if meta.is_dir() {
            todo.extend(fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
        }
    }
    seen
}

#[test]
fn everything_the_store_creates_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    // A missing directory (and its missing parent), as a first `run` meets it.
    let path = dir.path().join("srv/store");
    let s = open(&path);
    let info = run_info(T0, true);
    let run = s.begin_run("cam", &info).unwrap();
    write_segment(&s, "cam", run, 0, &info, &gop(0, 10, 100), Some(10 * FRAME));
    let mut open_one = s.create_segment("cam", run, 1, &info).unwrap();
    open_one.append(&video(10 * FRAME, true, 100)).unwrap();
    open_one.sync().unwrap();
    for name in ["index.sqlite3-wal", "index.sqlite3-shm", "space-reserve", MARKER_FILE, "segments/1/1-0.kws"] {
        assert!(path.join(name).exists(), "{name}");
    }
    let n = assert_private(&dir.path().join("srv"));
    assert!(n >= 10, "only {n} entries");
    drop(open_one);
    drop(s);

    // An existing empty directory (a mount point) that becomes a store is made private too.
    let mount = dir.path().join("mnt");
    fs::create_dir(&mount).unwrap();
    fs::set_permissions(&mount, fs::Permissions::from_mode(0o755)).unwrap();
    drop(open(&mount));
    assert_private(&mount);
}
