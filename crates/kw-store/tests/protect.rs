//! Protected ranges ("keep this clip"): retention skips them, they count toward usage, and a store whose
//! protected video alone exceeds its limit says so.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::*;
use kw_store::{Retention, StoreError};

#[test]
fn retention_skips_protected_segments_and_reports_when_only_they_are_left() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let a = seconds(&store, "a", T0, 4, 2000);
    let b = seconds(&store, "b", T0, 2, 2000);
    // Protect the middle of a's second segment: that whole segment is kept.
    let p = store.protect("a", a[1].start + 100_000, a[1].start + 200_000, "the parcel thief", Some(7), T0).unwrap();
    assert_eq!(store.protections().unwrap(), vec![p.clone()]);
    assert_eq!(p.event_id, Some(7));
    assert_eq!(store.protected_bytes().unwrap(), a[1].bytes);
    assert_eq!(store.usage().unwrap().protected_bytes, a[1].bytes);

    // Age: everything is old, all but the protected segment goes.
    let policy = Retention { max_age: Some(Duration::from_secs(1)), ..Retention::default() };
    let deleted = store.enforce_retention(&policy, T0 + 3_600_000_000).unwrap();
    assert_eq!(deleted.len(), 5);
    assert!(exists(&store, &a[1]));
    assert!(a.iter().chain(&b).filter(|r| r.id != a[1].id).all(|r| !exists(&store, r)));
    assert_eq!(store.storage_pressure(), None);

    // Size: the protected segment alone exceeds the limit; it stays and the store says so.
    let policy = Retention { max_size: Some(a[1].bytes / 2), ..Retention::default() };
    assert!(store.enforce_retention(&policy, T0).unwrap().is_empty());
    assert!(exists(&store, &a[1]));
    let why = store.storage_pressure().expect("pressure reported");
    assert!(why.contains("protected"), "{why}");
    // Per-camera caps too.
    let policy = Retention { cameras: HashMap::from([("a".into(), (Some(1), None))]), ..Retention::default() };
    assert!(store.enforce_retention(&policy, T0).unwrap().is_empty());
    assert!(store.storage_pressure().unwrap().contains("camera a"));

    // A full disk frees nothing protected, and says so.
    assert_eq!(store.free_space_for(1).unwrap(), 0);
    assert!(exists(&store, &a[1]));

    // Unprotected: retention deletes it and the pressure is gone.
    assert!(store.unprotect(p.id).unwrap());
    assert!(!store.unprotect(p.id).unwrap());
    store.free_space_for(0).unwrap();
    let policy = Retention { max_size: Some(a[1].bytes / 2), ..Retention::default() };
    assert_eq!(store.enforce_retention(&policy, T0).unwrap(), vec![a[1].clone()]);
    assert_eq!(store.storage_pressure(), None);
    assert_eq!(store.protected_bytes().unwrap(), 0);
    assert!(store.check(false).unwrap().is_clean());
}

#[test]
fn protections_survive_reopening_and_bad_ones_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    seconds(&store, "a", T0, 1, 100);
    let p = store.protect("a", T0, T0 + 1, "", None, T0).unwrap();
    let bad = |r: Result<_, StoreError>| match r {
        Err(StoreError::Invalid { what }) => what,
        other => panic!("{other:?}"),
    };
    assert!(bad(store.protect("a", T0, T0, "", None, T0)).contains("after its start"));
    assert!(bad(store.protect("a", T0, T0 + 40 * 86_400_000_000, "", None, T0)).contains("31 days"));
    assert!(bad(store.protect("a", T0, T0 + 1, &"x".repeat(501), None, T0)).contains("500"));
    assert!(bad(store.protect("a", T0, T0 + 1, "a\u{1b}[31m", None, T0)).contains("control"));
    drop(store);
    assert_eq!(open(dir.path()).protections().unwrap(), vec![p]);
}
