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
