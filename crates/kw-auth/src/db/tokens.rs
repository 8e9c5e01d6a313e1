//! API tokens for scripts and clients that cannot log in (VLC, Home Assistant, alert links).
//!
//! A token is `kw_` followed by 32 random bytes in unpadded base64url (46 characters). The prefix
//! makes a leaked token easy to recognise (secret scanners, logs). It is shown once, at creation; the
//! database keeps its SHA-256, a label to name it by, and the role and cameras it grants. Lookup is by
//! hash, so no secret is ever compared byte by byte. Use is recorded at most once a minute.

use rusqlite::{params, OptionalExtension};

use super::{access_from_sql, check_access, is_constraint, AuthDb};
use crate::error::{AuthError, Result};
use crate::names::validate_token_label;
use crate::principal::{Principal, PrincipalKind, Role};
use crate::secret::{random_token, sha256_hex};

/// Every token starts with this.
pub const TOKEN_PREFIX: &str = "kw_";
/// `kw_` + 43 base64url characters.
const TOKEN_LEN: usize = 46;
/// Last use is written back at most this often (seconds).
const TOUCH_INTERVAL: i64 = 60;

/// A token as listed: everything but the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    /// The name given at creation.
    pub label: String,
    /// What the token may do.
    pub role: Role,
    /// The cameras a viewer token may see; `None` means all.
    pub cameras: Option<Vec<String>>,
    /// When it was created, unix seconds.
    pub created: i64,
    /// When it was last used (to within a minute), unix seconds; `None` if never.
    pub last_used: Option<i64>,
}

impl AuthDb {
    /// Creates a token and returns it. This is the only time the token can be seen.
    pub fn create_token(&mut self, label: &str, role: Role, cameras: Option<Vec<String>>) -> Result<String> {
        validate_token_label(label)?;
        let cameras = check_access(role, cameras)?;
        let token = format!("{TOKEN_PREFIX}{}", random_token(32)?);
        let now = self.now();
        self.conn
            .execute(
                "INSERT INTO auth_tokens (label, token_hash, role, cameras, created) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![label, sha256_hex(&token), role.as_str(), super::cameras_to_sql(cameras.as_ref()), now],
            )
            .map_err(|e| if is_constraint(&e) { AuthError::TokenExists(label.to_owned()) } else { e.into() })?;
        Ok(token)
    }

    /// The principal a token stands for, or `None` for anything that is not a live token.
    pub fn token(&mut self, token: &str) -> Result<Option<Principal>> {
        if token.len() != TOKEN_LEN || !token.starts_with(TOKEN_PREFIX) {
            return Ok(None);
        }
        let hash = sha256_hex(token);
        let row: Option<(String, String, Option<String>, Option<i64>)> = self
            .conn
            .query_row("SELECT label, role, cameras, last_used FROM auth_tokens WHERE token_hash = ?1", [&hash], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .optional()?;
        let Some((label, role, cameras, last_used)) = row else {
            return Ok(None);
        };
        let now = self.now();
        if last_used.is_none_or(|t| now.saturating_sub(t) >= TOUCH_INTERVAL) {
            self.conn.execute("UPDATE auth_tokens SET last_used = ?2 WHERE token_hash = ?1", params![hash, now])?;
        }
        let (role, cameras) = access_from_sql(&role, cameras.as_deref())?;
        Ok(Some(Principal { name: label, role, cameras, kind: PrincipalKind::Token }))
    }

    /// All tokens, by label, without their secrets.
    pub fn list_tokens(&self) -> Result<Vec<TokenInfo>> {
        let mut stmt =
            self.conn.prepare("SELECT label, role, cameras, created, last_used FROM auth_tokens ORDER BY label")?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, Option<i64>>(4)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (label, role, cameras, created, last_used) = row?;
            let (role, cameras) = access_from_sql(&role, cameras.as_deref())?;
            out.push(TokenInfo { label, role, cameras, created, last_used });
        }
        Ok(out)
    }

    /// Revokes a token: it stops working at once.
    pub fn revoke_token(&mut self, label: &str) -> Result<()> {
        if self.conn.execute("DELETE FROM auth_tokens WHERE label = ?1", [label])? == 0 {
            return Err(AuthError::NoSuchToken(label.to_owned()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::TestDb;
    use super::*;

    #[test]
    fn create_look_up_list_revoke() {
        let mut t = TestDb::new();
        let db = &mut t.db;
        let ha = db.create_token("home-assistant", Role::Viewer, Some(vec!["garden".into()])).unwrap();
        assert!(ha.starts_with("kw_") && ha.len() == 46, "{ha}");
        let admin = db.create_token("backup.script", Role::Admin, None).unwrap();
        assert_ne!(ha, admin);
        assert!(matches!(db.create_token("home-assistant", Role::Admin, None), Err(AuthError::TokenExists(_))));
        assert!(matches!(db.create_token("Bad Label", Role::Admin, None), Err(AuthError::InvalidName { .. })));
        assert!(matches!(db.create_token("x", Role::Admin, Some(vec![])), Err(AuthError::AdminWithCameras)));

        let p = db.token(&ha).unwrap().unwrap();
        assert_eq!(p.name, "home-assistant");
        assert_eq!(p.kind, PrincipalKind::Token);
        assert!(p.may_see("garden") && !p.may_see("garage") && !p.is_admin());
        assert!(db.token(&admin).unwrap().unwrap().is_admin());

        // Near misses are not tokens.
        let mut wrong = ha.clone();
        wrong.pop();
        wrong.push(if ha.ends_with('A') { 'B' } else { 'A' });
        assert!(db.token(&wrong).unwrap().is_none());
        assert!(db.token("").unwrap().is_none());
        assert!(db.token(&ha[3..]).unwrap().is_none());
        assert!(db.token(&format!("{ha}x")).unwrap().is_none());

        let list = db.list_tokens().unwrap();
        assert_eq!(list.iter().map(|t| t.label.as_str()).collect::<Vec<_>>(), ["backup.script", "home-assistant"]);
        assert_eq!(list[1].cameras, Some(vec!["garden".to_string()]));
        assert_eq!(list[1].last_used, Some(list[1].created));
        assert!(!format!("{list:?}").contains(&ha[3..]));

        db.revoke_token("home-assistant").unwrap();
        assert!(db.token(&ha).unwrap().is_none());
        assert!(matches!(db.revoke_token("home-assistant"), Err(AuthError::NoSuchToken(_))));
        assert!(db.token(&admin).unwrap().is_some());
    }

    #[test]
    fn stored_only_hashed() {
        let mut t = TestDb::new();
        let token = t.db.create_token("ha", Role::Viewer, None).unwrap();
        let secret = &token[3..];
        let mut stmt = t.db.conn.prepare("SELECT * FROM auth_tokens").unwrap();
        let ncols = stmt.column_count();
        let rows: Vec<Vec<String>> = stmt
            .query_map([], |r| {
                (0..ncols)
                    .map(|i| r.get::<_, rusqlite::types::Value>(i).map(|v| format!("{v:?}")))
                    .collect::<rusqlite::Result<Vec<_>>>()
            })
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(rows.len(), 1);
        for cell in &rows[0] {
            assert!(!cell.contains(secret), "plaintext token found in the table: {cell}");
        }
        assert!(rows[0].iter().any(|c| c.contains(&sha256_hex(&token))));
    }

    #[test]
    fn last_used_is_throttled() {
        let mut t = TestDb::new();
        let token = t.db.create_token("ha", Role::Viewer, None).unwrap();
        let created = t.db.list_tokens().unwrap()[0].created;
        assert_eq!(t.db.list_tokens().unwrap()[0].last_used, None);
        t.db.token(&token).unwrap();
        t.advance(30);
        t.db.token(&token).unwrap();
        assert_eq!(t.db.list_tokens().unwrap()[0].last_used, Some(created));
        t.advance(30);
        t.db.token(&token).unwrap();
        assert_eq!(t.db.list_tokens().unwrap()[0].last_used, Some(created + 60));
    }
}
