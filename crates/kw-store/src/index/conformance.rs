//! The behaviour every [`IndexBackend`] must show, written once and run against each backend.
//!
//! Why here: the store's rules (write order, recovery, retention) assume these behaviours, and a second
//! backend (PostgreSQL, in `kw-store-pg`) is only trustworthy if it passes the very checks the SQLite one
//! passes. Each check takes a FRESH, empty index and panics (it is test code) on the first difference.
//! Compiled for this crate's tests and, with the `test-support` feature, for other backends' tests; not
//! part of the store's API.

use kw_media::{Codec, RunInfo, StreamParams};

use super::{IndexBackend, NewProtection, NewSegment, SegmentRow};

/// One behaviour check, run against a fresh index.
pub type Check = fn(&dyn IndexBackend);

/// Every check, by name. Run each against a fresh index.
pub const CHECKS: &[(&str, Check)] = &[
    ("cameras_runs_segments_garbage", cameras_runs_segments_garbage),
    ("explicit_ids_do_not_collide", explicit_ids_do_not_collide),
    ("range_queries_are_half_open", range_queries_are_half_open),
    ("wide_values_round_trip", wide_values_round_trip),
    ("delete_to_garbage_many", delete_to_garbage_many),
    ("stats_follow_changes", stats_follow_changes),
    ("oldest_and_sizes", oldest_and_sizes),
    ("bad_references_are_errors", bad_references_are_errors),
    ("protections_keep_what_they_overlap", protections_keep_what_they_overlap),
];

/// H.264 video and, when asked, 8 kHz G.711 audio, anchored at 2024-01-01.
pub fn run_info(audio: bool) -> RunInfo {
    RunInfo {
        video: StreamParams {
            codec: Codec::H264,
            timescale: 90_000,
            width: 1280,
            height: 720,
            sample_rate: 0,
            channels: 0,
            extra: vec![1, 0x64, 0, 0x1f, 0xff, 0xe1],
            rfc6381: "avc1.64001f".into(),
        },
        audio: audio.then(|| StreamParams {
            codec: Codec::Pcmu,
            timescale: 8_000,
            width: 0,
            height: 0,
            sample_rate: 8_000,
            channels: 1,
            extra: vec![],
            rfc6381: "ulaw".into(),
        }),
        wall_anchor: 1_704_067_200_000_000,
    }
}

/// A segment row of 100 bytes and 3 frames.
pub fn seg(camera_id: i64, run_id: i64, seq: u32, start: i64, end: i64) -> NewSegment {
    NewSegment {
        camera_id,
        run_id,
        seq,
        start,
        end,
        bytes: 100,
        video_frames: 3,
        has_loss: false,
        frame_index: vec![1, 0],
    }
}

/// The basic life of rows: cameras, runs, segments (insert, replace, query), garbage, recovered ids.
pub fn cameras_runs_segments_garbage(ix: &dyn IndexBackend) {
    let a = ix.camera_id("a").unwrap();
    assert_eq!(ix.camera_id("a").unwrap(), a);
    let b = ix.camera_id("b").unwrap();
    assert_ne!(a, b);
    assert_eq!(ix.find_camera("a").unwrap(), Some(a));
    assert_eq!(ix.find_camera("zz").unwrap(), None);
    let run = run_info(true);
    let r = ix.insert_run(a, &run).unwrap();
    assert_eq!(ix.run(r).unwrap(), Some((a, run.clone())));
    let r2 = ix.insert_run(b, &run_info(false)).unwrap();
    assert_eq!(ix.run(r2).unwrap(), Some((b, run_info(false))));
    assert_eq!(ix.run(r2 + 1000).unwrap(), None);
    let s0 = ix.upsert_segment(&seg(a, r, 0, 0, 10)).unwrap();
    let s1 = ix.upsert_segment(&seg(a, r, 1, 10, 20)).unwrap();
    let s1b = ix.upsert_segment(&NewSegment { bytes: 200, ..seg(a, r, 1, 10, 21) }).unwrap();
    assert_eq!(s1b.id, s1.id);
    assert_eq!((s1b.bytes, s1b.end), (200, 21));
    assert_eq!(ix.segment(r, 1).unwrap(), Some(s1b.clone()));
    assert_eq!(ix.segment(r, 7).unwrap(), None);
    assert_eq!(ix.segments(a, 10, 11).unwrap(), vec![s1b.clone()]);
    assert_eq!(ix.segments(a, 9, 11).unwrap(), vec![s0.clone(), s1b.clone()]);
    assert_eq!(ix.segments(a, 21, 30).unwrap(), vec![]);
    assert_eq!(ix.segments(b, 0, 30).unwrap(), vec![]);
    assert_eq!(ix.oldest_segments(None, 1).unwrap(), vec![s0.clone()]);
    assert_eq!(ix.frame_index(s0.id).unwrap(), Some(vec![1, 0]));
    let stats = ix.camera_stats().unwrap();
    assert_eq!(stats.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["a", "b"]);
    assert_eq!((stats[0].bytes, stats[0].segments, stats[0].oldest), (300, 2, Some(0)));
    assert_eq!((stats[1].bytes, stats[1].segments, stats[1].oldest), (0, 0, None));
    ix.delete_to_garbage(std::slice::from_ref(&s0)).unwrap();
    assert_eq!(ix.garbage().unwrap(), vec![s0.key().name()]);
    assert_eq!(ix.segment(r, 0).unwrap(), None);
    assert_eq!(ix.frame_index(s0.id).unwrap(), None);
    ix.remove_garbage(&s0.key().name()).unwrap();
    assert!(ix.garbage().unwrap().is_empty());
    ix.remove_garbage("not-there").unwrap();
    ix.ensure_camera(42, "a").unwrap();
    assert_eq!(ix.cameras().unwrap().iter().find(|c| c.0 == 42).unwrap().1, "a-1");
    ix.ensure_camera(42, "other").unwrap(); // exists: nothing changes
    assert_eq!(ix.cameras().unwrap().len(), 3);
    ix.insert_run_with_id(77, 42, &run).unwrap();
    assert_eq!(ix.run(77).unwrap().unwrap().0, 42);
    ix.delete_segment(s1b.id).unwrap();
    ix.delete_segment(s1b.id).unwrap(); // gone already: fine
    assert!(ix.segments(a, 0, 100).unwrap().is_empty());
    assert!(ix.garbage().unwrap().is_empty(), "delete_segment does not list garbage");
}

/// Ids given by recovery (`ensure_camera`, `insert_run_with_id`) never collide with ids assigned later.
pub fn explicit_ids_do_not_collide(ix: &dyn IndexBackend) {
    ix.ensure_camera(5, "recovered-camera-5").unwrap();
    let mut cams = vec![5];
    for name in ["x", "y", "z", "w", "v", "u"] {
        cams.push(ix.camera_id(name).unwrap());
    }
    let mut sorted = cams.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), cams.len(), "camera ids {cams:?}");
    ix.insert_run_with_id(3, 5, &run_info(false)).unwrap();
    let mut runs = vec![3];
    for _ in 0..5 {
        runs.push(ix.insert_run(5, &run_info(false)).unwrap());
    }
    let mut sorted = runs.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), runs.len(), "run ids {runs:?}");
    // A taken run id is refused, not overwritten.
    assert!(ix.insert_run_with_id(3, 5, &run_info(true)).is_err());
    assert_eq!(ix.run(3).unwrap().unwrap().1, run_info(false));
}

/// `segments` answers `[start, end)` overlap, also for a long segment that began well before the range.
pub fn range_queries_are_half_open(ix: &dyn IndexBackend) {
    let c = ix.camera_id("c").unwrap();
    let r = ix.insert_run(c, &run_info(false)).unwrap();
    let short: Vec<SegmentRow> = (0..10u32)
        .map(|i| ix.upsert_segment(&seg(c, r, i, i64::from(i) * 10, i64::from(i) * 10 + 10)).unwrap())
        .collect();
    assert_eq!(ix.segments(c, 20, 30).unwrap(), vec![short[2].clone()]);
    assert_eq!(ix.segments(c, 19, 31).unwrap(), short[1..4].to_vec());
    assert_eq!(ix.segments(c, 100, 200).unwrap(), vec![]);
    assert_eq!(ix.segments(c, i64::MIN, i64::MAX).unwrap(), short);
    // One long segment, inserted after queries have run (a cached bound must grow with it).
    let long = ix.upsert_segment(&seg(c, r, 100, 1_000, 100_000)).unwrap();
    assert_eq!(ix.segments(c, 90_000, 90_001).unwrap(), vec![long.clone()]);
    assert_eq!(ix.segments(c, 95, 1_001).unwrap(), vec![short[9].clone(), long.clone()]);
    // Same start: ordered by id.
    let twin = ix.upsert_segment(&seg(c, r, 101, 1_000, 1_005)).unwrap();
    assert_eq!(ix.segments(c, 1_000, 1_001).unwrap(), vec![long, twin]);
}

/// Values at the edges of their types and a large blob come back exactly.
pub fn wide_values_round_trip(ix: &dyn IndexBackend) {
    let name = "kamera-ü \"'; DROP TABLE x; --";
    let c = ix.camera_id(name).unwrap();
    assert_eq!(ix.find_camera(name).unwrap(), Some(c));
    let mut run = run_info(true);
    run.wall_anchor = i64::MIN + 1;
    let r = ix.insert_run(c, &run).unwrap();
    assert_eq!(ix.run(r).unwrap().unwrap().1, run);
    let blob: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let s = ix
        .upsert_segment(&NewSegment {
            camera_id: c,
            run_id: r,
            seq: u32::MAX,
            start: -5,
            end: 4_102_444_800_000_000, // 2100-01-01
            bytes: u64::from(u32::MAX) * 8,
            video_frames: u32::MAX,
            has_loss: true,
            frame_index: blob.clone(),
        })
        .unwrap();
    assert_eq!((s.seq, s.bytes, s.video_frames, s.has_loss), (u32::MAX, u64::from(u32::MAX) * 8, u32::MAX, true));
    assert_eq!(ix.segment(r, u32::MAX).unwrap(), Some(s.clone()));
    assert_eq!(ix.frame_index(s.id).unwrap(), Some(blob));
    assert_eq!(ix.segments(c, 0, 1).unwrap(), vec![s.clone()]);
    let sizes = ix.segment_sizes(c).unwrap();
    assert_eq!(sizes, vec![(s.id, s.key(), s.bytes)]);
}

/// One call deletes many rows and lists each name once, also names already listed.
pub fn delete_to_garbage_many(ix: &dyn IndexBackend) {
    let c = ix.camera_id("c").unwrap();
    let r = ix.insert_run(c, &run_info(false)).unwrap();
    let rows: Vec<SegmentRow> =
        (0..50u32).map(|i| ix.upsert_segment(&seg(c, r, i, i64::from(i), i64::from(i) + 1)).unwrap()).collect();
    ix.delete_to_garbage(&rows[..30]).unwrap();
    // Again, overlapping: rows already gone and names already listed are fine.
    ix.delete_to_garbage(&rows[20..40]).unwrap();
    let mut want: Vec<String> = rows[..40].iter().map(|s| s.key().name()).collect();
    want.sort();
    assert_eq!(ix.garbage().unwrap(), want);
    assert_eq!(ix.segments(c, 0, 100).unwrap(), rows[40..].to_vec());
    ix.delete_to_garbage(&[]).unwrap();
    for n in &want {
        ix.remove_garbage(n).unwrap();
    }
    assert!(ix.garbage().unwrap().is_empty());
}

/// `camera_stats` follows inserts, replacements and deletes made through the same index.
pub fn stats_follow_changes(ix: &dyn IndexBackend) {
    let a = ix.camera_id("a").unwrap();
    let r = ix.insert_run(a, &run_info(false)).unwrap();
    let stat = |ix: &dyn IndexBackend| {
        let s = ix.camera_stats().unwrap().into_iter().find(|s| s.camera_id == a).unwrap();
        (s.bytes, s.segments, s.oldest)
    };
    assert_eq!(stat(ix), (0, 0, None));
    let s0 = ix.upsert_segment(&seg(a, r, 0, 50, 60)).unwrap();
    let s1 = ix.upsert_segment(&seg(a, r, 1, 60, 70)).unwrap();
    assert_eq!(stat(ix), (200, 2, Some(50)));
    ix.upsert_segment(&NewSegment { bytes: 1_000, ..seg(a, r, 1, 60, 70) }).unwrap();
    assert_eq!(stat(ix), (1_100, 2, Some(50)));
    let early = ix.upsert_segment(&seg(a, r, 2, 10, 20)).unwrap();
    assert_eq!(stat(ix), (1_200, 3, Some(10)));
    ix.delete_to_garbage(std::slice::from_ref(&early)).unwrap();
    assert_eq!(stat(ix), (1_100, 2, Some(50)));
    ix.delete_segment(s0.id).unwrap();
    assert_eq!(stat(ix), (1_000, 1, Some(60)));
    ix.delete_to_garbage(std::slice::from_ref(&s1)).unwrap();
    assert_eq!(stat(ix), (0, 0, None));
}

/// `oldest_segments` (per camera and over all, limited) and `segment_sizes` agree with the rows.
pub fn oldest_and_sizes(ix: &dyn IndexBackend) {
    let a = ix.camera_id("a").unwrap();
    let b = ix.camera_id("b").unwrap();
    let ra = ix.insert_run(a, &run_info(false)).unwrap();
    let rb = ix.insert_run(b, &run_info(false)).unwrap();
    let mut all = Vec::new();
    for i in 0..6u32 {
        let t = i64::from(i) * 10;
        all.push(ix.upsert_segment(&seg(a, ra, i, t, t + 10)).unwrap());
        all.push(ix.upsert_segment(&seg(b, rb, i, t + 5, t + 15)).unwrap());
    }
    assert_eq!(ix.oldest_segments(None, 3).unwrap(), all[..3].to_vec());
    let of_b: Vec<SegmentRow> = all.iter().filter(|s| s.camera_id == b).cloned().collect();
    assert_eq!(ix.oldest_segments(Some(b), 2).unwrap(), of_b[..2].to_vec());
    assert_eq!(ix.oldest_segments(Some(b), 100).unwrap(), of_b);
    assert_eq!(ix.oldest_segments(None, 0).unwrap(), vec![]);
    let mut sizes = ix.segment_sizes(a).unwrap();
    sizes.sort_by_key(|x| x.0);
    let want: Vec<_> = all.iter().filter(|s| s.camera_id == a).map(|s| (s.id, s.key(), s.bytes)).collect();
    assert_eq!(sizes, want);
    assert!(ix.segment_sizes(a + b + 100).unwrap().is_empty());
}

/// Rows that point at nothing are refused with an error (never a panic), and leave nothing behind.
pub fn bad_references_are_errors(ix: &dyn IndexBackend) {
    let a = ix.camera_id("a").unwrap();
    let r = ix.insert_run(a, &run_info(false)).unwrap();
    assert!(ix.upsert_segment(&seg(a, r + 999, 0, 0, 1)).is_err());
    assert!(ix.upsert_segment(&seg(a + 999, r, 0, 0, 1)).is_err());
    assert!(ix.insert_run(a + 999, &run_info(false)).is_err());
    assert!(ix.segment(r + 999, 0).unwrap().is_none());
    assert!(ix.segments(a, 0, 10).unwrap().is_empty());
    // The index still works after the refusals.
    let s = ix.upsert_segment(&seg(a, r, 0, 0, 1)).unwrap();
    assert_eq!(ix.segments(a, 0, 10).unwrap(), vec![s]);
    assert!(!ix.location().is_empty());
}

/// A protection keeps exactly the segments of its camera it overlaps (half-open) out of
/// `oldest_unprotected`, counts each covered segment's bytes once, and goes away when removed.
pub fn protections_keep_what_they_overlap(ix: &dyn IndexBackend) {
    let a = ix.camera_id("a").unwrap();
    let b = ix.camera_id("b").unwrap();
    let ra = ix.insert_run(a, &run_info(false)).unwrap();
    let rb = ix.insert_run(b, &run_info(false)).unwrap();
    let sa: Vec<SegmentRow> = (0..4u32)
        .map(|i| ix.upsert_segment(&seg(a, ra, i, i64::from(i) * 10, i64::from(i) * 10 + 10)).unwrap())
        .collect();
    let sb = ix.upsert_segment(&seg(b, rb, 0, 10, 20)).unwrap();
    assert_eq!(ix.protected_bytes().unwrap(), 0);
    // [10, 21) on camera a overlaps a's segments 1 and 2 only (not 0, which ends at 10, nor b's).
    let p = NewProtection { camera_id: a, start: 10, end: 21, note: "Tür".into(), event_id: Some(7), created: 99 };
    let id = ix.add_protection(&p).unwrap();
    let also = ix.add_protection(&NewProtection { start: 15, end: 16, event_id: None, ..p.clone() }).unwrap();
    assert_ne!(id, also);
    let listed = ix.protections().unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!((listed[0].id, listed[0].camera.as_str(), listed[0].start, listed[0].end), (id, "a", 10, 21));
    assert_eq!((listed[0].note.as_str(), listed[0].event_id, listed[0].created), ("Tür", Some(7), 99));
    assert_eq!(listed[1].event_id, None);
    assert_eq!(ix.oldest_unprotected(None, 10).unwrap(), vec![sa[0].clone(), sb.clone(), sa[3].clone()]);
    assert_eq!(ix.oldest_unprotected(Some(a), 1).unwrap(), vec![sa[0].clone()]);
    assert_eq!(ix.protected_bytes().unwrap(), sa[1].bytes + sa[2].bytes, "each covered segment counted once");
    assert!(ix.remove_protection(id).unwrap());
    assert!(!ix.remove_protection(id).unwrap());
    assert!(ix.remove_protection(also).unwrap());
    assert_eq!(ix.oldest_unprotected(Some(a), 10).unwrap(), sa);
    assert_eq!(ix.protected_bytes().unwrap(), 0);
}
