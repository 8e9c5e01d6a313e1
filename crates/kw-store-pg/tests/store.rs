//! The whole store (`kw_store::Store`: segment files in a directory) with its index on PostgreSQL: segments
//! written, the store reopened, read back; retention deleting through the garbage list; recovery re-indexing a
//! file the index lost.

#[path = "../../kw-store/tests/common/mod.rs"]
mod common;

use std::path::Path;

use common::*;
use kw_store::{Create, IndexBackend, Retention, Store};
use kw_store_pg::testing::TestCluster;
use kw_store_pg::{PgIndex, PgOptions};

fn open_pg(dir: &Path, url: &str) -> Store {
    Store::open_with_index(dir, Create::IfMissing, None, |_, id| {
        Ok(Box::new(PgIndex::open(url, id, PgOptions::default())?) as Box<dyn IndexBackend>)
    })
    .expect("open the store with the PostgreSQL index")
}

#[test]
fn segments_written_reopened_read_back_and_retired_through_garbage() {
    let Some(pg) = TestCluster::start_or_skip() else { return };
    let url = pg.new_database();
    let db = url.rsplit('/').next().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let store_dir = dir.path().join("store");
    let run = run_info(T0, true);
    let (rows, written) = {
        let store = open_pg(&store_dir, &url);
        let run_id = store.begin_run("front", &run).unwrap();
        let mut rows = Vec::new();
        let mut written = Vec::new();
        for seq in 0..4u32 {
            let first = i64::from(seq) * 50 * FRAME;
            let mut frames = gop(first, 50, 1500);
            frames.insert(1, audio(first / 90 * 16, 200)); // 16 kHz audio beside the video
            rows.push(write_segment(&store, "front", run_id, seq, &run, &frames, Some(first + 50 * FRAME)));
            written.push(frames);
        }
        (rows, written)
    };
    // Nothing of the index is in the directory: it is all in PostgreSQL.
    assert!(!store_dir.join(kw_store::INDEX_FILE).exists());
    assert_eq!(pg.psql(&db, "SELECT count(*) FROM segments").unwrap(), "4");

    let store = open_pg(&store_dir, &url);
    assert!(store.recover().unwrap().is_empty(), "a clean reopen has nothing to recover");
    assert_eq!(store.cameras().unwrap(), vec!["front".to_string()]);
    let found = store.segments("front", T0, T0 + 3_600_000_000).unwrap();
    assert_eq!(found, rows);
    for (row, frames) in found.iter().zip(&written) {
        assert_eq!(&read_back(&store, row), frames);
    }
    assert_eq!(store.run_info(rows[0].run_id).unwrap(), run);
    assert!(store.check(false).unwrap().is_clean());

    // Retention: keep about two segments; the oldest go through the garbage list, files and rows alike.
    let keep = rows[2].bytes + rows[3].bytes;
    let policy = Retention { max_size: Some(keep), ..Retention::default() };
    let deleted = store.enforce_retention(&policy, T0).unwrap();
    assert_eq!(deleted, rows[..2].to_vec());
    for r in &rows[..2] {
        assert!(!store.segment_location(&r.key()).exists(), "{} still on disk", r.key().name());
    }
    assert_eq!(store.segments("front", T0, T0 + 3_600_000_000).unwrap(), rows[2..].to_vec());
    assert_eq!(pg.psql(&db, "SELECT count(*) FROM garbage").unwrap(), "0", "the garbage list is emptied");
    assert_eq!(store.usage().unwrap().oldest, Some(rows[2].start));
    assert!(store.check(false).unwrap().is_clean());
}

#[test]
fn recovery_reindexes_a_file_whose_row_the_index_lost() {
    let Some(pg) = TestCluster::start_or_skip() else { return };
    let url = pg.new_database();
    let db = url.rsplit('/').next().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let store = open_pg(dir.path(), &url);
    let run = run_info(T0, false);
    let run_id = store.begin_run("yard", &run).unwrap();
    let frames = gop(0, 25, 800);
    let row = write_segment(&store, "yard", run_id, 0, &run, &frames, Some(25 * FRAME));
    drop(store);
    // The row (and the run) vanish from the database, as after restoring an older backup of it.
    pg.psql(&db, "DELETE FROM segments; DELETE FROM runs;").unwrap();
    let store = open_pg(dir.path(), &url);
    let report = store.recover().unwrap();
    assert_eq!(report.reindexed.len(), 1, "{report}");
    let back = store.segments("yard", T0, T0 + 60_000_000).unwrap();
    assert_eq!(back.len(), 1);
    assert_eq!((back[0].run_id, back[0].seq, back[0].bytes), (row.run_id, row.seq, row.bytes));
    assert_eq!(read_back(&store, &back[0]), frames);
    // Ids the database assigns next do not collide with the recovered run's.
    let next = store.begin_run("yard", &run).unwrap();
    assert!(next > row.run_id, "{next} <= {}", row.run_id);
}
