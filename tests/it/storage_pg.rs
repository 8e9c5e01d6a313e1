//! The segment index on PostgreSQL (`[storage] index = "postgres://..."`) through the real binary, against a
//! throwaway PostgreSQL 15: recording lands in the database, a `kill -9` loses at most ~2 s and the next start
//! recovers the rest into the database, `check` is clean, `export` decodes, and a second store is refused the
//! same database.

use crate::support;
use crate::support::keepwatch::*;
use kw_store_pg::testing::{TestCluster, PASSWORD};
use std::time::Duration;

const SYNTHETIC: &str = "demo://synthetic?width=320&height=180&fps=25&gop=1";

#[test]
fn records_into_postgres_recovers_after_kill_and_exports() {
    support::require_tools(&["ffmpeg", "ffprobe"]);
    let Some(pg) = TestCluster::start_or_skip() else { return };
    let db = pg.new_database().rsplit('/').next().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    // The password from a file (the URL has none); it never reaches the log.
    let pw = dir.path().join("pg-password");
    std::fs::write(&pw, format!("{PASSWORD}\n")).unwrap();
    let storage = format!("index = \"{}\"\nindex_password_file = \"pg-password\"", pg.url_without_password(&db));
    let config = write_config(dir.path(), &storage, &camera("cam", SYNTHETIC, ""));

    let mut kw = Keepwatch::start(&config);
    kw.expect_line(&["segment index on PostgreSQL", &db], Duration::from_secs(30));
    kw.expect_streaming(&["cam"], Duration::from_secs(30));
    std::thread::sleep(Duration::from_secs(4));
    assert!(kw.is_running(), "keepwatch died; log:\n{}", kw.log_text());
    let killed_at = kw.kill9();

    // The next start re-indexes the open segment into PostgreSQL.
    let mut kw = Keepwatch::start(&config);
    kw.expect_line(&["store ", "opened", "recovered"], Duration::from_secs(30));
    kw.expect_streaming(&["cam"], Duration::from_secs(30));
    kw.stop_ok();
    assert!(!kw.log_text().contains("panicked"), "{}", kw.log_text());
    assert!(!kw.log_text().contains(PASSWORD), "the password reached the log");
    let rows: u32 = pg.psql(&db, "SELECT count(*) FROM segments").unwrap().parse().unwrap();
    assert!(rows >= 2, "{rows} segment rows in PostgreSQL");

    let r = check(&config, false);
    let report = format!("{}{}", String::from_utf8_lossy(&r.stdout), String::from_utf8_lossy(&r.stderr));
    assert!(r.status.success(), "check is not clean:\n{report}");
    let spans = spans(&config, "cam");
    let (s, e) =
        *spans.iter().filter(|(s, _)| *s < killed_at).max_by_key(|(s, _)| *s).expect("recorded before the kill");
    assert!(killed_at - e <= 2_000_000, "lost {} ms before the kill ({spans:?})", (killed_at - e) / 1000);
    let out = dir.path().join("before-kill.mp4");
    let r = export(&config, "cam", s, e, &out);
    assert!(r.status.success(), "export: {}", String::from_utf8_lossy(&r.stderr));
    let errors = support::ffmpeg_decode_errors(&out);
    assert!(errors.trim().is_empty(), "{errors}");

    // Another store may not use the same database (each would take the other's rows for lost data).
    let other = tempfile::tempdir().unwrap();
    let other_config =
        write_config(other.path(), &format!("index = \"{}\"", pg.url(&db)), &camera("cam", SYNTHETIC, ""));
    let mut refused = Keepwatch::start(&other_config);
    refused.expect_line(&["own database"], Duration::from_secs(30));
    support::wait::until("the second store's keepwatch to give up", Duration::from_secs(30), || !refused.is_running());
}
