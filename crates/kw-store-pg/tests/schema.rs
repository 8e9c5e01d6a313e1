//! Opening a PostgreSQL index: migrations, the owning store, bounded and clear failures, a server restart.

use std::time::Duration;

use kw_store::{IndexBackend, StoreError};
use kw_store_pg::testing::TestCluster;
use kw_store_pg::{PgIndex, PgOptions, SCHEMA_VERSION};
use uuid::Uuid;

fn short() -> PgOptions {
    PgOptions {
        connect_timeout: Duration::from_secs(5),
        wait_timeout: Duration::from_secs(5),
        call_timeout: Duration::from_secs(30),
        ..PgOptions::default()
    }
}

#[test]
fn migrates_once_keeps_rows_and_refuses_newer_and_other_stores() {
    let Some(pg) = TestCluster::start_or_skip() else { return };
    let url = pg.new_database();
    let db = url.rsplit('/').next().unwrap().to_string();
    let id = Uuid::new_v4();
    let ix = PgIndex::open(&url, id, PgOptions::default()).unwrap();
    let cam = ix.camera_id("front").unwrap();
    drop(ix);
    assert_eq!(pg.psql(&db, "SELECT version FROM store_schema").unwrap(), SCHEMA_VERSION.to_string());
    // Reopening migrates nothing and keeps the rows; two opens at once both succeed.
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| PgIndex::open(&url, id, PgOptions::default()));
        let b = s.spawn(|| PgIndex::open(&url, id, PgOptions::default()));
        (a.join().unwrap(), b.join().unwrap())
    });
    assert_eq!(a.unwrap().find_camera("front").unwrap(), Some(cam));
    assert_eq!(b.unwrap().cameras().unwrap(), vec![(cam, "front".to_string())]);
    assert_eq!(pg.psql(&db, "SELECT count(*) FROM store_schema").unwrap(), "1");

    // Another store's index is refused, by name.
    let other = Uuid::new_v4();
    let e = PgIndex::open(&url, other, PgOptions::default()).err().expect("another store refused");
    assert!(matches!(e, StoreError::Index { .. }), "{e}");
    assert!(e.to_string().contains(&id.to_string()) && e.to_string().contains("own database"), "{e}");

    // A newer schema is refused with the store's usual message.
    pg.psql(&db, &format!("UPDATE store_schema SET version = {}", SCHEMA_VERSION + 1)).unwrap();
    let e = PgIndex::open(&url, id, PgOptions::default()).err().expect("newer schema refused");
    assert!(matches!(e, StoreError::TooNew { .. }), "{e}");
    assert!(e.to_string().contains("upgrade keepwatch"), "{e}");
}

#[test]
fn failures_are_errors_that_name_the_database_without_the_password() {
    let Some(pg) = TestCluster::start_or_skip() else { return };
    // Nobody listens on this port (bound, then released).
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let e = PgIndex::open(&format!("postgres://kw:hunter2@127.0.0.1:{port}/x"), Uuid::new_v4(), short())
        .err()
        .expect("nothing listens");
    let msg = e.to_string();
    assert!(matches!(e, StoreError::Index { .. }), "{msg}");
    assert!(msg.contains(&format!("postgres://kw@127.0.0.1:{port}/x")) && !msg.contains("hunter2"), "{msg}");
    // A database that does not exist, and a URL that is not PostgreSQL's.
    let e = PgIndex::open(&pg.url("missing_db"), Uuid::new_v4(), short()).err().expect("no such database");
    assert!(e.to_string().contains("missing_db"), "{e}");
    let e = PgIndex::open("mysql://kw:hunter2@h/d", Uuid::new_v4(), short()).err().expect("not postgres");
    assert!(matches!(e, StoreError::Invalid { .. }) && !e.to_string().contains("hunter2"), "{e}");
}

#[test]
fn a_statement_over_the_timeout_fails_and_the_index_goes_on() {
    let Some(pg) = TestCluster::start_or_skip() else { return };
    let url = pg.new_database();
    let db = url.rsplit('/').next().unwrap().to_string();
    let opts = PgOptions { statement_timeout: Duration::from_secs(1), pool_size: 2, ..short() };
    let ix = PgIndex::open(&url, Uuid::new_v4(), opts).unwrap();
    let cam = ix.camera_id("a").unwrap();
    // Another session holds a lock on the cameras table for 8 s: our insert waits, then gives up.
    let locker = std::thread::scope(|s| {
        let h =
            s.spawn(|| pg.psql(&db, "BEGIN; LOCK TABLE cameras IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(8); COMMIT;"));
        std::thread::sleep(Duration::from_secs(3));
        let e = ix.camera_id("b").expect_err("the lock outlasts the timeouts");
        assert!(matches!(e, StoreError::Index { .. }), "{e}");
        h.join().unwrap()
    });
    locker.unwrap();
    assert_eq!(ix.find_camera("a").unwrap(), Some(cam));
    assert!(ix.camera_id("b").is_ok());
}

#[test]
fn the_index_works_again_after_the_server_restarts() {
    let Some(pg) = TestCluster::start_or_skip() else { return };
    let url = pg.new_database();
    let ix = PgIndex::open(&url, Uuid::new_v4(), short()).unwrap();
    let cam = ix.camera_id("a").unwrap();
    pg.stop().unwrap();
    let e = ix.find_camera("a").expect_err("server down");
    assert!(matches!(e, StoreError::Index { .. }), "{e}");
    pg.restart().unwrap();
    // The pool drops the dead connections and makes new ones.
    let mut last = None;
    for _ in 0..5 {
        match ix.find_camera("a") {
            Ok(v) => {
                last = Some(v);
                break;
            }
            Err(e) => {
                eprintln!("after restart: {e}");
                std::thread::sleep(Duration::from_millis(500));
            }
        }
    }
    assert_eq!(last, Some(Some(cam)));
}

#[test]
fn callable_and_droppable_on_an_async_worker_thread() {
    let Some(pg) = TestCluster::start_or_skip() else { return };
    let url = pg.new_database();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    // Opening, calling and dropping inside async code must neither panic nor deadlock (the blocking
    // `postgres` crate would panic here: it starts a runtime inside a runtime).
    let cams = rt.block_on(async {
        let ix = PgIndex::open(&url, Uuid::new_v4(), short()).unwrap();
        ix.camera_id("a").unwrap();
        let cams = ix.cameras().unwrap();
        drop(ix);
        cams
    });
    assert_eq!(cams.len(), 1);
    let ix = PgIndex::open(&url, Uuid::new_v4(), short());
    assert!(ix.is_err(), "another store id is refused, also here");
}

#[test]
fn password_from_the_url_or_a_file_and_a_wrong_one_refused_without_quoting_it() {
    let Some(pg) = TestCluster::start_or_skip() else { return };
    let url = pg.new_database();
    let db = url.rsplit('/').next().unwrap().to_string();
    let id = Uuid::new_v4();
    PgIndex::open(&url, id, short()).expect("the password in the URL");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pw");
    std::fs::write(&file, format!("{}\n", kw_store_pg::testing::PASSWORD)).unwrap();
    let opts = PgOptions { password_file: Some(file.clone()), ..short() };
    let ix = PgIndex::open(&pg.url_without_password(&db), id, opts.clone()).expect("the password from the file");
    assert_eq!(ix.cameras().unwrap(), vec![]);
    std::fs::write(&file, "wrong-pw-123\n").unwrap();
    let e = PgIndex::open(&pg.url_without_password(&db), id, opts).err().expect("a wrong password is refused");
    let msg = e.to_string();
    assert!(matches!(e, StoreError::Index { .. }) && msg.contains("password authentication failed"), "{msg}");
    assert!(!msg.contains("wrong-pw-123") && !msg.contains(kw_store_pg::testing::PASSWORD), "{msg}");
}
