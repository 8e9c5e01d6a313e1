//! Extra rights granted to a viewer beyond watching: today one, moving PTZ cameras (`ptz`).
//!
//! Why a table of its own rather than a column on users: a grant is rare and optional; keeping it apart
//! leaves the user shape (and every caller that builds one) alone. Admins need no grant; a removed user's
//! grants go with them.

use rusqlite::OptionalExtension;

use super::AuthDb;
use crate::error::{AuthError, Result};

impl AuthDb {
    /// Grants (`on`) or withdraws the right to move PTZ cameras (the ones the user may see).
    pub fn set_ptz(&mut self, user: &str, on: bool) -> Result<()> {
        if self.get_user(user)?.is_none() {
            return Err(AuthError::NoSuchUser(user.to_owned()));
        }
        if on {
            self.conn.execute("INSERT OR IGNORE INTO auth_ptz (user) VALUES (?1)", [user])?;
        } else {
            self.conn.execute("DELETE FROM auth_ptz WHERE user = ?1", [user])?;
        }
        Ok(())
    }

    /// Whether `user` was granted PTZ (admins may always move cameras; this says nothing about them).
    pub fn has_ptz(&self, user: &str) -> Result<bool> {
        Ok(self.conn.query_row("SELECT 1 FROM auth_ptz WHERE user = ?1", [user], |_| Ok(())).optional()?.is_some())
    }
}

#[cfg(test)]
mod tests {
    use crate::db::testing::TestDb;
    use crate::principal::Role;

    #[test]
    fn ptz_is_granted_withdrawn_and_goes_with_the_user() {
        let mut t = TestDb::new();
        t.db.add_user("vera", Role::Viewer, None, "vera-password-1").unwrap();
        assert!(!t.db.has_ptz("vera").unwrap());
        t.db.set_ptz("vera", true).unwrap();
        t.db.set_ptz("vera", true).unwrap();
        assert!(t.db.has_ptz("vera").unwrap());
        t.db.set_ptz("vera", false).unwrap();
        assert!(!t.db.has_ptz("vera").unwrap());
        t.db.set_ptz("vera", true).unwrap();
        t.db.remove_user("vera").unwrap();
        assert!(!t.db.has_ptz("vera").unwrap());
        assert!(t.db.set_ptz("nobody", true).is_err());
    }
}
