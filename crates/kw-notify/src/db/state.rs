//! Runtime state that outlives a restart: the alert mode and the per-camera switches.
//!
//! The config file holds configuration; these are toggles a person flips from Home Assistant, the API or
//! the CLI, so they live in the database (`docs/conventions.md`: runtime state lives in the index).

use rusqlite::{params, Connection, OptionalExtension};

use crate::error::Result;
use crate::mode::Mode;
use crate::Switch;

/// The stored mode; the default when none was ever set or the stored text is unknown.
pub(crate) fn mode(conn: &Connection) -> Result<Mode> {
    let text: Option<String> =
        conn.query_row("SELECT value FROM notify_state WHERE key = 'mode'", [], |r| r.get(0)).optional()?;
    Ok(text.and_then(|t| t.parse().ok()).unwrap_or_default())
}

pub(crate) fn set_mode(conn: &Connection, mode: Mode) -> Result<()> {
    conn.execute(
        "INSERT INTO notify_state (key, value) VALUES ('mode', ?1)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        [mode.as_str()],
    )?;
    Ok(())
}

/// A switch's stored state; switches are on until turned off.
pub(crate) fn switch(conn: &Connection, camera: &str, what: Switch) -> Result<bool> {
    let on: Option<bool> = conn
        .query_row(
            "SELECT on_ FROM notify_switches WHERE camera = ?1 AND what = ?2",
            params![camera, what.as_str()],
            |r| r.get(0),
        )
        .optional()?;
    Ok(on.unwrap_or(true))
}

pub(crate) fn set_switch(conn: &Connection, camera: &str, what: Switch, on: bool) -> Result<()> {
    conn.execute(
        "INSERT INTO notify_switches (camera, what, on_) VALUES (?1, ?2, ?3)
         ON CONFLICT(camera, what) DO UPDATE SET on_ = excluded.on_",
        params![camera, what.as_str(), on],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mode_and_switches_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let conn = super::super::open(&dir.path().join("i.sqlite3")).unwrap();
        assert_eq!(mode(&conn).unwrap(), Mode::Away);
        set_mode(&conn, Mode::Off).unwrap();
        set_mode(&conn, Mode::Home).unwrap();
        assert_eq!(mode(&conn).unwrap(), Mode::Home);
        conn.execute("UPDATE notify_state SET value = 'bogus'", []).unwrap();
        assert_eq!(mode(&conn).unwrap(), Mode::Away);
        assert!(switch(&conn, "door", Switch::Recording).unwrap());
        set_switch(&conn, "door", Switch::Recording, false).unwrap();
        assert!(!switch(&conn, "door", Switch::Recording).unwrap());
        assert!(switch(&conn, "door", Switch::Motion).unwrap());
    }
}
