//! Writing segments and reading them back through the index.

mod common;

use common::*;
use kw_media::{Frame, StreamKind};
use kw_store::Store;

#[test]
fn frames_read_back_byte_identical_with_b_frames_and_audio() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let run = run_info(T0, true);
    let run_id = store.begin_run("front door", &run).unwrap();
    // Decode order I P B B P B B with presentation order 0 3 1 2 6 4 5, interleaved audio.
    let order = [0i64, 3, 1, 2, 6, 4, 5];
    let mut frames = Vec::new();
    for (i, &p) in order.iter().enumerate() {
        let mut f = video(p * FRAME, i == 0, 500 + i * 1000);
        f.loss_before = i == 4;
        frames.push(f);
        frames.push(audio(i as i64 * 640, 100 + i));
    }
    frames.push(video(7 * FRAME, false, 0)); // an empty frame is fine too
    let mut w = store.create_segment("front door", run_id, 0, &run).unwrap();
    for f in &frames {
        w.append(f).unwrap();
    }
    assert_eq!(w.video_frames(), 8);
    assert_eq!(w.first_pts(), Some(0));
    let bytes = w.bytes();
    let row = w.finish(Some(8 * FRAME)).unwrap();
    assert_eq!(row.bytes, bytes);
    assert_eq!(row.video_frames, 8);
    assert!(row.has_loss);
    assert_eq!((row.start, row.end), (T0, T0 + 8 * 40_000));
    assert_eq!(read_back(&store, &row), frames);
    assert_eq!(store.run_info(run_id).unwrap(), run);
    let file = store.segment_location(&row.key());
    assert_eq!(std::fs::metadata(&file).unwrap().len(), row.bytes);
    assert!(file.ends_with(format!("segments/{}/{}-0.kws", row.camera_id, run_id)));

    // The same through a second handle (another process would do the same).
    drop(store);
    let again = open(dir.path());
    let rows = again.segments("front door", T0, T0 + 1).unwrap();
    assert_eq!(rows, vec![row.clone()]);
    assert_eq!(read_back(&again, &row), frames);
    assert!(again.check(false).unwrap().is_clean());
}

#[test]
fn end_is_estimated_without_end_pts() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let run = run_info(T0, false);
    let run_id = store.begin_run("c", &run).unwrap();
    let row = write_segment(&store, "c", run_id, 0, &run, &gop(0, 25, 10), None);
    assert_eq!((row.start, row.end), (T0, T0 + 1_000_000));
    // An end_pts before the last frame is ignored.
    let row = write_segment(&store, "c", run_id, 1, &run, &gop(25 * FRAME, 25, 10), Some(FRAME));
    assert_eq!((row.start, row.end), (T0 + 1_000_000, T0 + 2_000_000));
}

#[test]
fn segments_queries_and_spans() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let run = run_info(T0, false);
    let r1 = store.begin_run("cam", &run).unwrap();
    // Three contiguous 2-second segments, then a reconnect 10 s later.
    for seq in 0..3u32 {
        let first = i64::from(seq) * 50 * FRAME;
        write_segment(&store, "cam", r1, seq, &run, &gop(first, 50, 20), Some(first + 50 * FRAME));
    }
    let run2 = run_info(T0 + 16_000_000, false);
    let r2 = store.begin_run("cam", &run2).unwrap();
    write_segment(&store, "cam", r2, 0, &run2, &gop(0, 50, 20), None);
    // A segment of the same run after a gap of 3 frames splits; 2 frames would merge.
    write_segment(&store, "cam", r2, 1, &run2, &gop(53 * FRAME, 50, 20), None);
    write_segment(&store, "cam", r2, 2, &run2, &gop(105 * FRAME, 50, 20), None);

    let all = store.segments("cam", i64::MIN, i64::MAX).unwrap();
    assert_eq!(all.len(), 6);
    assert!(all.windows(2).all(|w| w[0].start <= w[1].start));
    // Half-open overlap: a query ending at a segment's start excludes it.
    assert_eq!(store.segments("cam", T0, T0 + 2_000_000).unwrap().len(), 1);
    assert_eq!(store.segments("cam", T0 + 1_999_999, T0 + 2_000_001).unwrap().len(), 2);
    assert!(store.segments("nobody", i64::MIN, i64::MAX).unwrap().is_empty());

    let s = T0 + 16_000_000;
    assert_eq!(
        store.spans("cam", i64::MIN, i64::MAX).unwrap(),
        vec![(T0, T0 + 6_000_000), (s, s + 2_000_000), (s + 2_120_000, s + 6_200_000)]
    );
    assert_eq!(store.spans("cam", T0 + 1_000_000, T0 + 5_000_000).unwrap(), vec![(T0 + 1_000_000, T0 + 5_000_000)]);
    assert_eq!(store.cameras().unwrap(), vec!["cam".to_string()]);
}

#[test]
fn usage_counts_open_writers_and_store_is_shareable() {
    fn assert_send_sync<T: Send + Sync + Clone>() {}
    assert_send_sync::<Store>();
    fn assert_send<T: Send>() {}
    assert_send::<kw_store::SegmentWriter>();

    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let run = run_info(T0, false);
    let a = store.begin_run("a", &run).unwrap();
    let b = store.begin_run("b", &run).unwrap();
    let row = write_segment(&store, "a", a, 0, &run, &gop(0, 10, 1000), None);
    let mut w = store.create_segment("b", b, 0, &run).unwrap();
    for f in gop(0, 5, 2000) {
        w.append(&f).unwrap();
    }
    let u = store.usage().unwrap();
    assert_eq!(u.committed_bytes, row.bytes);
    assert_eq!(u.open_bytes, w.bytes());
    assert_eq!(u.total_bytes(), row.bytes + w.bytes());
    assert_eq!(u.cameras.len(), 2);
    assert_eq!(u.cameras[1].open_bytes, w.bytes());
    assert_eq!(u.oldest, Some(T0));
    assert!(u.free_bytes.unwrap() > 0);
    // A writer on another thread through a cloned handle.
    let s2 = store.clone();
    let row_b = std::thread::spawn(move || {
        let _ = &s2;
        w.finish(None).unwrap()
    })
    .join()
    .unwrap();
    let u = store.usage().unwrap();
    assert_eq!((u.open_bytes, u.committed_bytes), (0, row.bytes + row_b.bytes));
}

#[test]
fn misuse_is_reported_not_panicked() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let run = run_info(T0, false);
    let a = store.begin_run("a", &run).unwrap();
    store.camera_id("b").unwrap();
    assert!(store.create_segment("b", a, 0, &run).is_err(), "run of another camera");
    assert!(store.create_segment("a", 999, 0, &run).is_err(), "unknown run");
    write_segment(&store, "a", a, 0, &run, &gop(0, 3, 10), None);
    let e = store.create_segment("a", a, 0, &run).unwrap_err();
    assert!(e.to_string().contains("already exists"), "{e}");
    // A segment without frames is discarded.
    let w = store.create_segment("a", a, 1, &run).unwrap();
    let path = store.segment_location(&w.key());
    assert!(w.finish(None).is_err());
    assert!(!path.exists());
    assert!(store.run_info(12345).is_err());
    // A file left by a dropped writer is never overwritten by a new writer.
    let mut w = store.create_segment("a", a, 2, &run).unwrap();
    w.append(&gop(0, 1, 10)[0]).unwrap();
    w.sync().unwrap();
    let left_path = store.segment_location(&w.key());
    let left = std::fs::read(&left_path).unwrap();
    drop(w);
    let e = store.create_segment("a", a, 2, &run).unwrap_err();
    assert!(e.to_string().contains(&left_path.display().to_string()), "{e}");
    assert_eq!(std::fs::read(&left_path).unwrap(), left);
    // Audio-only segment still gets a sensible range.
    let run_a = run_info(T0, true);
    let ra = store.begin_run("a", &run_a).unwrap();
    let frames: Vec<Frame> = (0..10).map(|i| audio(i * 1024, 10)).collect();
    let row = write_segment(&store, "a", ra, 0, &run_a, &frames, None);
    assert_eq!(row.video_frames, 0);
    assert_eq!(row.start, T0);
    assert_eq!(row.end, T0 + 640_000);
    assert!(read_back(&store, &row).iter().all(|f| f.stream == StreamKind::Audio));
}

#[test]
fn an_open_segment_is_readable_up_to_its_last_sync_in_this_process_only() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let run = run_info(T0, false);
    let run_id = store.begin_run("yard", &run).unwrap();
    let mut w = store.create_segment("yard", run_id, 0, &run).unwrap();
    let frames = gop(0, 10, 700);
    for f in &frames[..6] {
        w.append(f).unwrap();
    }
    assert!(store.segments("yard", T0, T0 + 10_000_000).unwrap().is_empty(), "nothing is durable before a sync");
    w.sync().unwrap();
    for f in &frames[6..] {
        w.append(f).unwrap(); // not synced: must stay invisible
    }
    let rows = store.segments("yard", T0, T0 + 10_000_000).unwrap();
    assert_eq!(rows.len(), 1);
    let open_row = &rows[0];
    assert!(open_row.is_open());
    assert_eq!(open_row.video_frames, 6);
    assert_eq!(read_back(&store, open_row), frames[..6].to_vec());
    assert_eq!(store.spans("yard", T0, T0 + 10_000_000).unwrap().len(), 1);
    // Another process (a second handle) sees only finished segments.
    let other = open(dir.path());
    assert!(other.segments("yard", T0, T0 + 10_000_000).unwrap().is_empty());

    let finished = w.finish(None).unwrap();
    let rows = store.segments("yard", T0, T0 + 10_000_000).unwrap();
    assert_eq!(rows, vec![finished.clone()], "the open row gives way to the finished one");
    // A reader holding the open row from before gets the frames from the index now (all of them).
    assert_eq!(store.frames(open_row).unwrap().len(), 10);
    assert_eq!(read_back(&store, &finished), frames);
    assert!(store.check(false).unwrap().is_clean());
}
