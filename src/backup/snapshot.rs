//! A consistent copy of the store's index without the video: SQLite's online backup (one step, so one read
//! transaction: everything as of one instant, while `run` keeps writing through WAL), then the rows that
//! describe video or only make sense on this box are deleted from the copy and the copy is vacuumed.
//!
//! What goes: `segments`, `runs` and `garbage` (they point at segment files the backup does not carry),
//! login sessions (a move logs everyone out, so a copied cookie is worth nothing), and alerts still in the
//! outbox (a new box must not resend yesterday's alerts). Everything else stays: users, tokens, events
//! with their pictures, the alert mode and switches, and any table a later version adds.

use rusqlite::{Connection, OpenFlags};
use std::path::Path;
use std::time::Duration;

/// Tables emptied in the copy (only those that exist), with what they held, for the manifest.
const LEFT_OUT: &[(&str, &str)] = &[
    ("segments", "segment rows (the video itself is not in a backup)"),
    ("runs", "camera sessions of the recordings"),
    ("garbage", "segment files waiting to be deleted"),
    ("auth_sessions", "login sessions (everyone logs in again)"),
    ("notify_outbox", "alerts not yet delivered"),
    ("notify_open", "alerts waiting for their event's end"),
];

/// Tables a restored index must have: without them it is no keepwatch index.
const REQUIRED: &[&str] = &["cameras", "segments", "auth_users", "auth_tokens", "events"];

/// Copies the index at `index` into a new file `to` (which must not exist) without video rows; returns what
/// was left out, in words.
pub fn take(index: &Path, to: &Path) -> Result<Vec<String>, String> {
    let sql = |e: rusqlite::Error| e.to_string();
    let src = Connection::open_with_flags(index, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .map_err(|e| format!("cannot open {}: {e}", index.display()))?;
    src.busy_timeout(Duration::from_secs(30)).map_err(sql)?;
    {
        // The file does not exist yet: SQLite creates it 0644; make it private before any page lands.
        crate::store_open::private_file()
            .write(true)
            .create_new(true)
            .open(to)
            .map_err(|e| format!("cannot create {}: {e}", to.display()))?;
        let mut dst = Connection::open(to).map_err(sql)?;
        let backup = rusqlite::backup::Backup::new(&src, &mut dst).map_err(sql)?;
        // -1: every page in one step, under one read transaction of the source. A writer holding the file
        // (a checkpoint) makes the step busy: try again, a bounded number of times.
        let mut busy = 0;
        loop {
            use rusqlite::backup::StepResult;
            match backup.step(-1).map_err(|e| format!("the online backup of {} failed: {e}", index.display()))? {
                StepResult::Done => break,
                StepResult::More => {}
                _ if busy < 600 => {
                    busy += 1;
                    std::thread::sleep(Duration::from_millis(50));
                }
                _ => return Err(format!("the index {} stayed busy for 30 s; try again", index.display())),
            }
        }
    }
    drop(src);
    let conn = Connection::open(to).map_err(sql)?;
    let mut left_out = Vec::new();
    for (table, what) in LEFT_OUT {
        if has_table(&conn, table).map_err(sql)? {
            conn.execute(&format!("DELETE FROM {table}"), []).map_err(sql)?;
            left_out.push((*what).to_owned());
        }
    }
    // One self-contained file (no -wal beside it), as small as it gets.
    conn.pragma_update(None, "journal_mode", "DELETE").map_err(sql)?;
    conn.execute_batch("VACUUM").map_err(sql)?;
    Ok(left_out)
}

fn has_table(conn: &Connection, name: &str) -> rusqlite::Result<bool> {
    conn.query_row("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1", [name], |r| {
        r.get::<_, i64>(0)
    })
    .map(|n| n > 0)
}

/// Checks that `file` is a whole SQLite database holding a keepwatch index (before it becomes one).
pub fn check(file: &Path) -> Result<(), String> {
    let conn = Connection::open_with_flags(file, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| format!("the index in the backup cannot be opened: {e}"))?;
    let verdict: String = conn
        .query_row("PRAGMA integrity_check(1)", [], |r| r.get(0))
        .map_err(|e| format!("the index in the backup is not a database: {e}"))?;
    if verdict != "ok" {
        return Err(format!("the index in the backup is damaged: {}", kw_logsafe::OneLine(&verdict)));
    }
    for t in REQUIRED {
        if !has_table(&conn, t).map_err(|e| e.to_string())? {
            return Err(format!("the index in the backup has no {t} table: not a keepwatch index"));
        }
    }
    Ok(())
}
