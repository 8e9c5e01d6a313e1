//! How keepwatch logs in **to cameras**: the client side of HTTP Basic (RFC 7617) and Digest (RFC 7616).
//!
//! Not to be confused with `kw-auth`, which is the other direction: who may log in to keepwatch.
//!
//! Why a crate of its own: two kinds of camera client need the same login. MJPEG/JPEG cameras
//! (`ingest::http` in the binary) speak plain HTTP with Basic or Digest, and ONVIF cameras (`kw-onvif`) fall
//! back to HTTP Digest when they ignore WS-Security. Both face the same old and odd cameras (a realm with
//! spaces, a challenge without `qop`, `stale=TRUE` in capitals, a missing comma), so one tolerant
//! implementation serves both, and a fix for one camera helps the other path too.
//!
//! The pieces, each with one job:
//!
//! - [`challenge`]: reads one `WWW-Authenticate` value into a scheme and its parameters. Linear in its
//!   input, bounded ([`challenge::MAX_LEN`], [`challenge::MAX_PARAMS`]), and it never panics on any bytes:
//!   the header comes from the network.
//! - [`digest`]: a Digest challenge keepwatch can answer (MD5, SHA-256 and their `-sess` forms, `qop=auth`
//!   or none, `opaque`, `stale`) and the `Authorization` value answering it for a nonce count and cnonce.
//! - [`basic`]: the Basic `Authorization` value.
//! - [`login`]: the state one camera client keeps between requests: which scheme the camera asked for,
//!   the nonce count, and whether a 401 means "try again with the new nonce" or "the password is wrong".
//!
//! Credentials never appear in `Debug` output or in failure texts.
//!
//! Entry points for fuzzing (bytes in, never a panic, linear time): [`Challenge::parse`] (one
//! `WWW-Authenticate` value), [`DigestChallenge::parse`], and [`Login::refused`] (a 401's challenges).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod basic;
pub mod challenge;
pub mod digest;
pub mod login;

pub use challenge::Challenge;
pub use digest::{Algorithm, DigestChallenge};
pub use login::{Failure, Login, Refusal};

/// A camera login. `Debug` never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The user name, as the camera knows it.
    pub username: String,
    /// The password, in the clear (cameras need it to compute digests).
    pub password: String,
}

impl Credentials {
    /// Credentials from a URL's optional parts: none when neither is given; a missing part is empty (some
    /// cameras have a user without a password, a few a password without a user).
    pub fn from_parts(username: Option<&str>, password: Option<&str>) -> Option<Credentials> {
        match (username, password) {
            (None, None) => None,
            (u, p) => Some(Credentials {
                username: u.unwrap_or_default().to_owned(),
                password: p.unwrap_or_default().to_owned(),
            }),
        }
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({:?}, ***)", self.username)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_from_parts_and_debug() {
        assert_eq!(Credentials::from_parts(None, None), None);
        let c = Credentials::from_parts(Some("admin"), None).unwrap();
        assert_eq!((c.username.as_str(), c.password.as_str()), ("admin", ""));
        let c = Credentials::from_parts(None, Some("s3cret")).unwrap();
        assert_eq!((c.username.as_str(), c.password.as_str()), ("", "s3cret"));
        assert!(!format!("{c:?}").contains("s3cret"));
    }
}
