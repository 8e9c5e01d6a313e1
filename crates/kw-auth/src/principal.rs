//! Who is asking: roles, users and the principal the HTTP layer authorizes against.
//!
//! There are two roles. An admin may do everything and sees every camera. A viewer may only watch,
//! and may be limited to a list of cameras (`None` means all). The same shape serves users (who log in
//! with a password and hold a session) and API tokens (for scripts, VLC, Home Assistant); a
//! [`Principal`] is either, so authorization code needs to look at only one type.

use crate::error::{AuthError, Result};

/// What a user or token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Everything: configuration, users, tokens, every camera.
    Admin,
    /// Watching recordings and live video of the permitted cameras.
    Viewer,
}

impl Role {
    /// The name used in the CLI, the API and the database: `admin` or `viewer`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Viewer => "viewer",
        }
    }

    /// Parses `admin` or `viewer` (exactly; no other spelling).
    pub fn parse(s: &str) -> Result<Role> {
        match s {
            "admin" => Ok(Role::Admin),
            "viewer" => Ok(Role::Viewer),
            other => Err(AuthError::InvalidRole(other.to_owned())),
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Role {
    type Err = AuthError;
    fn from_str(s: &str) -> Result<Role> {
        Role::parse(s)
    }
}

/// Whether a role with an optional camera list may see `camera`.
fn may_see(role: Role, cameras: Option<&[String]>, camera: &str) -> bool {
    match (role, cameras) {
        (Role::Admin, _) | (_, None) => true,
        (Role::Viewer, Some(list)) => list.iter().any(|c| c == camera),
    }
}

/// A user account (never with its password hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// The login name (see [`crate::validate_user_name`]).
    pub name: String,
    /// What the user may do.
    pub role: Role,
    /// The cameras a viewer may see; `None` means all cameras. Always `None` for an admin.
    pub cameras: Option<Vec<String>>,
}

impl User {
    /// Whether this user may see `camera`. Admins see every camera.
    pub fn may_see(&self, camera: &str) -> bool {
        may_see(self.role, self.cameras.as_deref(), camera)
    }
}

/// How a [`Principal`] proved who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrincipalKind {
    /// A browser session cookie; state-changing requests need the CSRF token.
    Session,
    /// An API token (`Authorization: Bearer` or `?token=`); no CSRF token needed.
    Token,
}

/// The authenticated caller of one request: a logged-in user or an API token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The user name, or the token's label.
    pub name: String,
    /// What the caller may do.
    pub role: Role,
    /// The cameras a viewer may see; `None` means all cameras.
    pub cameras: Option<Vec<String>>,
    /// Session or token.
    pub kind: PrincipalKind,
}

impl Principal {
    /// The principal of a user who holds a session.
    pub fn from_session(user: User) -> Principal {
        Principal { name: user.name, role: user.role, cameras: user.cameras, kind: PrincipalKind::Session }
    }

    /// Whether the caller is an admin.
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// Whether the caller may see `camera`. Admins see every camera.
    pub fn may_see(&self, camera: &str) -> bool {
        may_see(self.role, self.cameras.as_deref(), camera)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_round_trip() {
        for r in [Role::Admin, Role::Viewer] {
            assert_eq!(Role::parse(r.as_str()).unwrap(), r);
            assert_eq!(r.to_string().parse::<Role>().unwrap(), r);
        }
        let e = Role::parse("Admin").unwrap_err();
        assert!(e.to_string().contains("admin or viewer"), "{e}");
    }

    #[test]
    fn viewer_camera_list() {
        let v = User { name: "v".into(), role: Role::Viewer, cameras: Some(vec!["front-door".into()]) };
        assert!(v.may_see("front-door"));
        assert!(!v.may_see("garden"));
        let all = User { cameras: None, ..v.clone() };
        assert!(all.may_see("garden"));
        let none = User { cameras: Some(vec![]), ..v.clone() };
        assert!(!none.may_see("front-door"));
        let admin = User { name: "a".into(), role: Role::Admin, cameras: Some(vec![]) };
        assert!(admin.may_see("garden"));
        let p = Principal::from_session(v);
        assert_eq!(p.kind, PrincipalKind::Session);
        assert!(!p.is_admin());
        assert!(p.may_see("front-door") && !p.may_see("garden"));
    }
}
