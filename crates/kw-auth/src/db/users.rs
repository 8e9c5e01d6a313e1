//! User accounts: add, remove, change, list, and password login.
//!
//! Rules kept here so every caller (CLI, HTTP) gets them: names follow [`crate::names`], passwords
//! [`crate::password::validate_password`]; an admin has no camera list; the last admin cannot be
//! removed or demoted (add another first); changing a password ends that user's sessions, so a
//! stolen session dies with the old password.

use rusqlite::{params, OptionalExtension, Transaction, TransactionBehavior};

use super::{check_access, is_constraint, user_from_sql, AuthDb};
use crate::error::{AuthError, Result};
use crate::names::validate_user_name;
use crate::password::validate_password;
use crate::principal::{Role, User};

impl AuthDb {
    /// Adds a user. `cameras` is `None` for all cameras (and must be `None` for an admin).
    pub fn add_user(&mut self, name: &str, role: Role, cameras: Option<Vec<String>>, password: &str) -> Result<User> {
        validate_user_name(name)?;
        let cameras = check_access(role, cameras)?;
        validate_password(password)?;
        let hash = self.hasher.hash(password)?;
        let cameras_sql = super::cameras_to_sql(cameras.as_ref());
        let now = self.now();
        self.conn
            .execute(
                "INSERT INTO auth_users (name, role, cameras, password_hash, created) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![name, role.as_str(), cameras_sql, hash, now],
            )
            .map_err(|e| if is_constraint(&e) { AuthError::UserExists(name.to_owned()) } else { e.into() })?;
        Ok(User { name: name.to_owned(), role, cameras })
    }

    /// Removes a user and ends their sessions. The last admin cannot be removed.
    pub fn remove_user(&mut self, name: &str) -> Result<()> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let user = get_user(&tx, name)?.ok_or_else(|| AuthError::NoSuchUser(name.to_owned()))?;
        if user.role == Role::Admin && admin_count(&tx)? <= 1 {
            return Err(AuthError::LastAdmin(name.to_owned()));
        }
        tx.execute("DELETE FROM auth_sessions WHERE user = ?1", [name])?;
        tx.execute("DELETE FROM auth_ptz WHERE user = ?1", [name])?;
        tx.execute("DELETE FROM auth_users WHERE name = ?1", [name])?;
        tx.commit()?;
        Ok(())
    }

    /// Changes a user's role and camera list. Takes effect on the user's next request (sessions are
    /// kept; they read the user's current role). The last admin cannot be demoted.
    pub fn update_user(&mut self, name: &str, role: Role, cameras: Option<Vec<String>>) -> Result<User> {
        let cameras = check_access(role, cameras)?;
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let user = get_user(&tx, name)?.ok_or_else(|| AuthError::NoSuchUser(name.to_owned()))?;
        if user.role == Role::Admin && role != Role::Admin && admin_count(&tx)? <= 1 {
            return Err(AuthError::LastAdmin(name.to_owned()));
        }
        tx.execute(
            "UPDATE auth_users SET role = ?2, cameras = ?3 WHERE name = ?1",
            params![name, role.as_str(), super::cameras_to_sql(cameras.as_ref())],
        )?;
        tx.commit()?;
        Ok(User { name: name.to_owned(), role, cameras })
    }

    /// All users, by name.
    pub fn list_users(&self) -> Result<Vec<User>> {
        let mut stmt = self.conn.prepare("SELECT name, role, cameras FROM auth_users ORDER BY name")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get(2)?)))?;
        let mut users = Vec::new();
        for row in rows {
            let (name, role, cameras): (String, String, Option<String>) = row?;
            users.push(user_from_sql(name, &role, cameras.as_deref())?);
        }
        Ok(users)
    }

    /// One user, or `None`.
    pub fn get_user(&self, name: &str) -> Result<Option<User>> {
        get_user(&self.conn, name)
    }

    /// Sets a user's password and ends all of that user's sessions.
    pub fn set_password(&mut self, name: &str, password: &str) -> Result<()> {
        validate_password(password)?;
        let hash = self.hasher.hash(password)?;
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let n = tx.execute("UPDATE auth_users SET password_hash = ?2 WHERE name = ?1", params![name, hash])?;
        if n == 0 {
            return Err(AuthError::NoSuchUser(name.to_owned()));
        }
        tx.execute("DELETE FROM auth_sessions WHERE user = ?1", [name])?;
        tx.commit()?;
        Ok(())
    }

    /// Checks a login. `Ok(None)` for an unknown user or a wrong password alike, and both take about
    /// as long (an unknown user costs one dummy verification). A hash made with other parameters than
    /// the current hasher's is replaced after a successful login.
    ///
    /// Call [`crate::LoginLimiter::check`] before this, and report the outcome to the limiter after.
    pub fn authenticate(&mut self, name: &str, password: &str) -> Result<Option<User>> {
        let row: Option<(String, Option<String>, String)> = if validate_user_name(name).is_ok() {
            self.conn
                .query_row("SELECT role, cameras, password_hash FROM auth_users WHERE name = ?1", [name], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })
                .optional()?
        } else {
            None
        };
        let Some((role, cameras, hash)) = row else {
            self.hasher.dummy_verify(password);
            return Ok(None);
        };
        if !self.hasher.verify(&hash, password) {
            return Ok(None);
        }
        if self.hasher.needs_rehash(&hash) {
            if let Ok(new_hash) = self.hasher.hash(password) {
                // Best effort: if this fails the old hash still works and the next login tries again.
                let _ = self.conn.execute(
                    "UPDATE auth_users SET password_hash = ?3 WHERE name = ?1 AND password_hash = ?2",
                    params![name, hash, new_hash],
                );
            }
        }
        user_from_sql(name.to_owned(), &role, cameras.as_deref()).map(Some)
    }
}

fn get_user(conn: &rusqlite::Connection, name: &str) -> Result<Option<User>> {
    let row: Option<(String, Option<String>)> = conn
        .query_row("SELECT role, cameras FROM auth_users WHERE name = ?1", [name], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    row.map(|(role, cameras)| user_from_sql(name.to_owned(), &role, cameras.as_deref())).transpose()
}

fn admin_count(tx: &Transaction<'_>) -> Result<i64> {
    Ok(tx.query_row("SELECT count(*) FROM auth_users WHERE role = 'admin'", [], |r| r.get(0))?)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::testing::TestDb;
    use super::*;
    use crate::password::Hasher;

    fn cams(c: &[&str]) -> Option<Vec<String>> {
        Some(c.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn crud() {
        let mut t = TestDb::new();
        let db = &mut t.db;
        assert!(db.list_users().unwrap().is_empty());
        db.add_user("admin", Role::Admin, None, "admin-password").unwrap();
        db.add_user("kid", Role::Viewer, cams(&["garden", "front-door", "garden"]), "kid-password").unwrap();
        assert!(matches!(db.add_user("kid", Role::Viewer, None, "whatever1"), Err(AuthError::UserExists(_))));

        let users = db.list_users().unwrap();
        assert_eq!(users.len(), 2);
        assert_eq!(users[0], User { name: "admin".into(), role: Role::Admin, cameras: None });
        assert_eq!(users[1].cameras, cams(&["front-door", "garden"]), "sorted and deduplicated");

        let kid = db.get_user("kid").unwrap().unwrap();
        assert!(kid.may_see("garden") && !kid.may_see("garage"));
        assert_eq!(db.get_user("nobody").unwrap(), None);

        let kid = db.update_user("kid", Role::Viewer, None).unwrap();
        assert!(kid.may_see("garage"));
        assert_eq!(db.get_user("kid").unwrap().unwrap().cameras, None);

        db.remove_user("kid").unwrap();
        assert!(matches!(db.remove_user("kid"), Err(AuthError::NoSuchUser(_))));
        assert_eq!(db.list_users().unwrap().len(), 1);
    }

    #[test]
    fn input_rules() {
        let mut t = TestDb::new();
        let db = &mut t.db;
        assert!(matches!(db.add_user("Bob", Role::Viewer, None, "password1"), Err(AuthError::InvalidName { .. })));
        assert!(matches!(db.add_user("bob", Role::Viewer, None, "short"), Err(AuthError::PasswordTooShort { .. })));
        assert!(matches!(db.add_user("bob", Role::Admin, cams(&["a"]), "password1"), Err(AuthError::AdminWithCameras)));
        assert!(matches!(
            db.add_user("bob", Role::Viewer, cams(&["Front Door"]), "password1"),
            Err(AuthError::InvalidCamera(_))
        ));
        assert!(db.list_users().unwrap().is_empty());
        assert!(matches!(db.set_password("nobody", "password1"), Err(AuthError::NoSuchUser(_))));
        assert!(matches!(db.set_password("nobody", "short"), Err(AuthError::PasswordTooShort { .. })));
    }

    #[test]
    fn last_admin_is_kept() {
        let mut t = TestDb::new();
        let db = &mut t.db;
        db.add_user("root", Role::Admin, None, "password1").unwrap();
        assert!(matches!(db.remove_user("root"), Err(AuthError::LastAdmin(_))));
        assert!(matches!(db.update_user("root", Role::Viewer, None), Err(AuthError::LastAdmin(_))));
        db.add_user("second", Role::Admin, None, "password2").unwrap();
        db.update_user("root", Role::Viewer, None).unwrap();
        assert!(matches!(db.remove_user("second"), Err(AuthError::LastAdmin(_))));
        db.remove_user("root").unwrap();
    }

    #[test]
    fn authenticate_right_wrong_unknown() {
        let mut t = TestDb::new();
        let db = &mut t.db;
        db.add_user("alice", Role::Viewer, cams(&["a"]), "alice-password").unwrap();
        let u = db.authenticate("alice", "alice-password").unwrap().unwrap();
        assert_eq!(u.cameras, cams(&["a"]));
        assert_eq!(db.authenticate("alice", "wrong-password").unwrap(), None);
        assert_eq!(db.authenticate("bob", "alice-password").unwrap(), None);
        assert_eq!(db.authenticate("Alice", "alice-password").unwrap(), None);
        assert_eq!(db.authenticate("", "").unwrap(), None);
        assert_eq!(db.authenticate("alice", &"x".repeat(100_000)).unwrap(), None);
    }

    #[test]
    fn set_password_changes_login_and_ends_sessions() {
        let mut t = TestDb::new();
        let db = &mut t.db;
        db.add_user("alice", Role::Admin, None, "old-password").unwrap();
        db.add_user("bob", Role::Viewer, None, "bob-password").unwrap();
        let (a1, _) = db.create_session("alice", Duration::from_secs(3600)).unwrap();
        let (a2, _) = db.create_session("alice", Duration::from_secs(3600)).unwrap();
        let (b1, _) = db.create_session("bob", Duration::from_secs(3600)).unwrap();
        db.set_password("alice", "new-password").unwrap();
        assert!(db.session(&a1).unwrap().is_none());
        assert!(db.session(&a2).unwrap().is_none());
        assert!(db.session(&b1).unwrap().is_some(), "other users keep their sessions");
        assert!(db.authenticate("alice", "old-password").unwrap().is_none());
        assert!(db.authenticate("alice", "new-password").unwrap().is_some());
    }

    #[test]
    fn remove_user_ends_sessions() {
        let mut t = TestDb::new();
        let db = &mut t.db;
        db.add_user("root", Role::Admin, None, "password1").unwrap();
        db.add_user("bob", Role::Viewer, None, "password2").unwrap();
        let (s, _) = db.create_session("bob", Duration::from_secs(3600)).unwrap();
        db.remove_user("bob").unwrap();
        assert!(db.session(&s).unwrap().is_none());
        let left: i64 = db.conn.query_row("SELECT count(*) FROM auth_sessions", [], |r| r.get(0)).unwrap();
        assert_eq!(left, 0);
    }

    #[test]
    fn old_parameters_are_upgraded_on_login() {
        let mut t = TestDb::new();
        let old = Hasher::new(128, 1, 1).unwrap().hash("password1").unwrap();
        t.db.add_user("alice", Role::Viewer, None, "placeholder").unwrap();
        t.db.conn.execute("UPDATE auth_users SET password_hash = ?1", [&old]).unwrap();
        assert!(t.db.authenticate("alice", "password1").unwrap().is_some());
        let now: String = t.db.conn.query_row("SELECT password_hash FROM auth_users", [], |r| r.get(0)).unwrap();
        assert_ne!(now, old);
        assert!(now.contains("m=64,t=1,p=1"), "{now}");
        assert!(t.db.authenticate("alice", "password1").unwrap().is_some());
    }
}
