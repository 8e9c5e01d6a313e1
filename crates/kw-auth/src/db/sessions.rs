//! Browser sessions: a random id in a cookie, a CSRF token, sliding and absolute expiry.
//!
//! The session id is shown to the browser once (in `Set-Cookie`) and stored only as its SHA-256, so
//! the index file holds nothing that logs anyone in. A session expires after `ttl` without use
//! (sliding: each use moves the expiry forward) and, however busy, [`MAX_SESSION_AGE`] after login.
//! Use is recorded at most once a minute (or once per half `ttl`, if shorter) so that a page loading
//! HLS segments does not write to the database on every request. Each user keeps at most
//! [`MAX_SESSIONS_PER_USER`] sessions; logging in once more ends the least recently used.

use std::time::Duration;

use rusqlite::{params, OptionalExtension};

use super::{user_from_sql, AuthDb};
use crate::error::{AuthError, Result};
use crate::principal::User;
use crate::secret::{random_token, sha256_hex};

/// No session lives longer than this after its creation, however often it is used: 30 days.
pub const MAX_SESSION_AGE: Duration = Duration::from_secs(30 * 24 * 3600);
/// The most sessions one user holds at once.
pub const MAX_SESSIONS_PER_USER: i64 = 100;
/// Use of a session is written back at most this often (seconds).
const TOUCH_INTERVAL: i64 = 60;
/// Session ids are 43 characters; anything much longer is not one of ours.
const MAX_ID_LEN: usize = 128;

fn max_age_secs() -> i64 {
    i64::try_from(MAX_SESSION_AGE.as_secs()).unwrap_or(i64::MAX)
}

impl AuthDb {
    /// Starts a session for user `user` that ends after `ttl` without use (at least 1 s, at most
    /// [`MAX_SESSION_AGE`]). Returns `(session_id, csrf_token)`: the id goes into the cookie and is
    /// never stored; the CSRF token goes to the client in the login answer.
    pub fn create_session(&mut self, user: &str, ttl: Duration) -> Result<(String, String)> {
        let idle = i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX).clamp(1, max_age_secs());
        let id = random_token(32)?;
        let csrf = random_token(32)?;
        let now = self.now();
        let tx = self.conn.transaction()?;
        let exists: Option<i64> =
            tx.query_row("SELECT 1 FROM auth_users WHERE name = ?1", [user], |r| r.get(0)).optional()?;
        if exists.is_none() {
            return Err(AuthError::NoSuchUser(user.to_owned()));
        }
        tx.execute(
            "INSERT INTO auth_sessions (id_hash, user, csrf, created, expires, last_seen, idle_secs)
             VALUES (?1, ?2, ?3, ?4, ?5, ?4, ?6)",
            params![sha256_hex(&id), user, csrf, now, now.saturating_add(idle), idle],
        )?;
        tx.execute(
            "DELETE FROM auth_sessions WHERE user = ?1 AND id_hash NOT IN
               (SELECT id_hash FROM auth_sessions WHERE user = ?1 ORDER BY last_seen DESC, created DESC LIMIT ?2)",
            params![user, MAX_SESSIONS_PER_USER],
        )?;
        tx.commit()?;
        Ok((id, csrf))
    }

    /// The user and CSRF token of a live session, or `None` for an unknown, expired or ended one.
    /// Using a session moves its expiry forward (never past [`MAX_SESSION_AGE`] after login). The
    /// user's current role and cameras are returned, so changes apply at once.
    pub fn session(&mut self, id: &str) -> Result<Option<(User, String)>> {
        if id.is_empty() || id.len() > MAX_ID_LEN {
            return Ok(None);
        }
        let id_hash = sha256_hex(id);
        type Row = (i64, i64, i64, i64, String, String, String, Option<String>);
        let row: Option<Row> = self
            .conn
            .query_row(
                "SELECT s.created, s.expires, s.last_seen, s.idle_secs, s.csrf, u.name, u.role, u.cameras
                 FROM auth_sessions s JOIN auth_users u ON u.name = s.user WHERE s.id_hash = ?1",
                [&id_hash],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?)),
            )
            .optional()?;
        let Some((created, expires, last_seen, idle, csrf, name, role, cameras)) = row else {
            return Ok(None);
        };
        let now = self.now();
        let deadline = created.saturating_add(max_age_secs());
        if now >= expires || now >= deadline {
            self.conn.execute("DELETE FROM auth_sessions WHERE id_hash = ?1", [&id_hash])?;
            return Ok(None);
        }
        let since = now.saturating_sub(last_seen);
        if since > 0 && since >= TOUCH_INTERVAL.min(idle / 2) {
            let new_expires = now.saturating_add(idle).min(deadline);
            self.conn.execute(
                "UPDATE auth_sessions SET last_seen = ?2, expires = max(expires, ?3) WHERE id_hash = ?1",
                params![id_hash, now, new_expires],
            )?;
        }
        let user = user_from_sql(name, &role, cameras.as_deref())?;
        Ok(Some((user, csrf)))
    }

    /// Ends a session (logout). Returns whether there was one.
    pub fn end_session(&mut self, id: &str) -> Result<bool> {
        if id.is_empty() || id.len() > MAX_ID_LEN {
            return Ok(false);
        }
        Ok(self.conn.execute("DELETE FROM auth_sessions WHERE id_hash = ?1", [sha256_hex(id)])? > 0)
    }

    /// Ends every session of `user`. Returns how many there were.
    pub fn end_user_sessions(&mut self, user: &str) -> Result<usize> {
        Ok(self.conn.execute("DELETE FROM auth_sessions WHERE user = ?1", [user])?)
    }

    /// Deletes expired sessions (and any left by a removed user). Returns how many.
    pub fn purge_expired(&mut self) -> Result<usize> {
        let now = self.now();
        Ok(self.conn.execute(
            "DELETE FROM auth_sessions WHERE expires <= ?1 OR created <= ?1 - ?2
               OR user NOT IN (SELECT name FROM auth_users)",
            params![now, max_age_secs()],
        )?)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::TestDb;
    use super::*;
    use crate::principal::Role;
    use crate::secret::csrf_matches;

    const HOUR: i64 = 3600;
    const DAY: i64 = 24 * HOUR;

    fn setup() -> TestDb {
        let mut t = TestDb::new();
        t.db.add_user("alice", Role::Viewer, Some(vec!["garden".into()]), "alice-password").unwrap();
        t
    }

    #[test]
    fn create_look_up_end() {
        let mut t = setup();
        let (id, csrf) = t.db.create_session("alice", Duration::from_secs(3600)).unwrap();
        assert_eq!(id.len(), 43);
        assert_ne!(id, csrf);
        let (user, c) = t.db.session(&id).unwrap().unwrap();
        assert_eq!(user.name, "alice");
        assert!(user.may_see("garden") && !user.may_see("garage"));
        assert!(csrf_matches(&c, &csrf));
        assert!(t.db.session("nonsense").unwrap().is_none());
        assert!(t.db.session("").unwrap().is_none());
        assert!(t.db.session(&"x".repeat(10_000)).unwrap().is_none());
        assert!(t.db.end_session(&id).unwrap());
        assert!(!t.db.end_session(&id).unwrap());
        assert!(t.db.session(&id).unwrap().is_none());
        assert!(matches!(t.db.create_session("bob", Duration::from_secs(60)), Err(AuthError::NoSuchUser(_))));
    }

    #[test]
    fn id_is_stored_only_hashed() {
        let mut t = setup();
        let (id, _) = t.db.create_session("alice", Duration::from_secs(3600)).unwrap();
        let stored: String = t.db.conn.query_row("SELECT id_hash FROM auth_sessions", [], |r| r.get(0)).unwrap();
        assert_eq!(stored, sha256_hex(&id));
        assert!(!stored.contains(&id));
    }

    #[test]
    fn idle_expiry_slides() {
        let mut t = setup();
        let (id, _) = t.db.create_session("alice", Duration::from_secs(HOUR as u64)).unwrap();
        // Used every 50 minutes, it lives on past its first hour.
        for _ in 0..5 {
            t.advance(50 * 60);
            assert!(t.db.session(&id).unwrap().is_some());
        }
        // Left alone for an hour, it is gone.
        t.advance(HOUR);
        assert!(t.db.session(&id).unwrap().is_none());
        let left: i64 = t.db.conn.query_row("SELECT count(*) FROM auth_sessions", [], |r| r.get(0)).unwrap();
        assert_eq!(left, 0, "an expired session found on lookup is deleted");
    }

    #[test]
    fn absolute_age_limit() {
        let mut t = setup();
        let (id, _) = t.db.create_session("alice", Duration::from_secs(2 * DAY as u64)).unwrap();
        for _ in 0..29 {
            t.advance(DAY);
            assert!(t.db.session(&id).unwrap().is_some());
        }
        t.advance(DAY);
        assert!(t.db.session(&id).unwrap().is_none(), "30 days after login, even in daily use");
        // A ttl above the maximum is clamped.
        let (id, _) = t.db.create_session("alice", Duration::from_secs(u64::MAX)).unwrap();
        t.advance(30 * DAY - 1);
        assert!(t.db.session(&id).unwrap().is_some());
        t.advance(1);
        assert!(t.db.session(&id).unwrap().is_none());
    }

    #[test]
    fn purge() {
        let mut t = setup();
        let (short, _) = t.db.create_session("alice", Duration::from_secs(60)).unwrap();
        let (long, _) = t.db.create_session("alice", Duration::from_secs(DAY as u64)).unwrap();
        t.advance(120);
        assert_eq!(t.db.purge_expired().unwrap(), 1);
        assert!(t.db.session(&short).unwrap().is_none());
        assert!(t.db.session(&long).unwrap().is_some());
        assert_eq!(t.db.end_user_sessions("alice").unwrap(), 1);
    }

    #[test]
    fn sessions_per_user_are_capped() {
        let mut t = setup();
        let (first, _) = t.db.create_session("alice", Duration::from_secs(DAY as u64)).unwrap();
        for _ in 0..MAX_SESSIONS_PER_USER {
            t.advance(1);
            t.db.create_session("alice", Duration::from_secs(DAY as u64)).unwrap();
        }
        let n: i64 = t.db.conn.query_row("SELECT count(*) FROM auth_sessions", [], |r| r.get(0)).unwrap();
        assert_eq!(n, MAX_SESSIONS_PER_USER);
        assert!(t.db.session(&first).unwrap().is_none(), "the least recently used went");
    }

    #[test]
    fn role_changes_apply_to_live_sessions() {
        let mut t = setup();
        t.db.add_user("root", Role::Admin, None, "root-password").unwrap();
        let (id, _) = t.db.create_session("alice", Duration::from_secs(HOUR as u64)).unwrap();
        t.db.update_user("alice", Role::Viewer, Some(vec!["garage".into()])).unwrap();
        let (u, _) = t.db.session(&id).unwrap().unwrap();
        assert!(u.may_see("garage") && !u.may_see("garden"));
    }
}
