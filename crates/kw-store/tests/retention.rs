//! Retention and freeing space.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::*;
use kw_store::Retention;

#[test]
fn max_size_counts_open_writers_and_deletes_oldest_first() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let a = seconds(&store, "a", T0, 3, 4000); // ~100 kB each
    let b = seconds(&store, "b", T0 + 500_000, 2, 4000);
    let committed: u64 = a.iter().chain(&b).map(|r| r.bytes).sum();
    let policy = Retention { max_size: Some(committed), ..Retention::default() };
    assert!(store.enforce_retention(&policy, T0).unwrap().is_empty());

    // An open writer of 150 kB pushes the total over the limit: the two oldest segments go.
    let run = run_info(T0 + 10_000_000, false);
    let rc = store.begin_run("c", &run).unwrap();
    let mut w = store.create_segment("c", rc, 0, &run).unwrap();
    for f in gop(0, 30, 5000) {
        w.append(&f).unwrap();
    }
    assert!(w.bytes() > a[0].bytes && w.bytes() < a[0].bytes + b[0].bytes);
    let deleted = store.enforce_retention(&policy, T0).unwrap();
    assert_eq!(deleted, vec![a[0].clone(), b[0].clone()]);
    assert!(!exists(&store, &a[0]) && !exists(&store, &b[0]) && exists(&store, &a[1]));
    let u = store.usage().unwrap();
    assert!(u.total_bytes() <= committed, "{} > {committed}", u.total_bytes());
    assert_eq!(u.oldest, Some(a[1].start));
    assert!(store.check(false).unwrap().is_clean());
    drop(w);
}

#[test]
fn per_camera_age_and_size_limits() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let hour = 3_600_000_000i64;
    let old_a = seconds(&store, "a", T0, 2, 100);
    let new_a = seconds(&store, "a", T0 + 2 * hour, 2, 100);
    let old_b = seconds(&store, "b", T0, 2, 100);
    let c = seconds(&store, "c", T0, 4, 1000);
    let now = T0 + 2 * hour + 10_000_000;
    let mut cameras = HashMap::new();
    cameras.insert("a".to_string(), (None, Some(Duration::from_secs(3600))));
    cameras.insert("c".to_string(), (Some(c[0].bytes * 2 + 1), None));
    let policy = Retention { max_size: None, max_age: None, cameras };
    let deleted = store.enforce_retention(&policy, now).unwrap();
    let mut want = old_a.clone();
    want.extend(c[..2].iter().cloned());
    assert_eq!(deleted, want);
    assert!(new_a.iter().chain(&old_b).chain(&c[2..]).all(|r| exists(&store, r)));

    // The global age applies to cameras without their own; a camera's own age replaces it.
    let policy = Retention {
        max_age: Some(Duration::from_secs(60)),
        cameras: [("a".to_string(), (None, Some(Duration::from_secs(3 * 3600))))].into(),
        ..Retention::default()
    };
    let deleted = store.enforce_retention(&policy, now).unwrap();
    let mut want = old_b.clone();
    want.extend(c[2..].iter().cloned());
    assert_eq!(deleted, want);
    assert_eq!(store.segments("a", i64::MIN, i64::MAX).unwrap(), new_a);
    assert!(store.check(false).unwrap().is_clean());
}

#[test]
fn free_space_for_deletes_oldest_of_any_camera() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let a = seconds(&store, "a", T0 + 1, 2, 1000);
    let b = seconds(&store, "b", T0, 2, 1000);
    let freed = store.free_space_for(b[0].bytes + 1).unwrap();
    assert_eq!(freed, b[0].bytes + a[0].bytes);
    assert!(!exists(&store, &b[0]) && !exists(&store, &a[0]) && exists(&store, &b[1]));
    assert_eq!(store.free_space_for(u64::MAX).unwrap(), a[1].bytes + b[1].bytes);
    assert_eq!(store.free_space_for(1).unwrap(), 0);
    assert!(store.recover().unwrap().is_empty());
}

/// Usage is cached and kept up to date by the store's own writes and deletes; it must always equal what a
/// fresh look at the index says. Range queries are bounded by the longest segment and still find a
/// segment that began long before the range.
#[test]
fn cached_usage_follows_writes_and_deletes_and_long_segments_are_found() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    seconds(&store, "a", T0, 5, 300);
    let before = store.usage().unwrap(); // fills the cache
    assert_eq!(before.cameras[0].segments, 5);
    seconds(&store, "a", T0 + 10_000_000, 3, 300);
    seconds(&store, "b", T0, 2, 300);
    let policy = Retention { max_size: None, max_age: Some(Duration::from_secs(3)), cameras: HashMap::new() };
    let deleted = store.enforce_retention(&policy, T0 + 13_500_000).unwrap();
    assert!(!deleted.is_empty());
    let cached = store.usage().unwrap();
    let fresh = open(dir.path()).usage().unwrap();
    assert_eq!(cached.cameras, fresh.cameras, "cached usage drifted from the index");
    assert_eq!(cached.oldest, fresh.oldest);

    // A 40-second segment among 1-second ones: a range inside its end is still answered with it.
    let run = run_info(T0 + 100_000_000, false);
    let run_id = store.begin_run("c", &run).unwrap();
    write_segment(&store, "c", run_id, 0, &run, &gop(0, 1000, 10), Some(1000 * FRAME));
    let long = store.segments("c", T0 + 135_000_000, T0 + 136_000_000).unwrap();
    assert_eq!(long.len(), 1);
    assert_eq!(open(dir.path()).segments("c", T0 + 135_000_000, T0 + 136_000_000).unwrap(), long);
}
