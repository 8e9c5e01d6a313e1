//! Secrets: random tokens, their hashes, and constant-time comparison.
//!
//! Session ids, CSRF tokens and API tokens are 32 random bytes from the operating system, written as
//! unpadded base64url so they fit cookies, headers and query strings unescaped. The database keeps only
//! the SHA-256 of a session id or API token: a leaked index file (a backup, a copied store) then gives
//! no way in. SHA-256 without salt is enough here because the inputs are 256-bit random values, not
//! guessable passwords. CSRF tokens are compared in constant time so response timing reveals nothing
//! about how much of a guess was right.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::{AuthError, Result};

/// Fills `buf` from the operating system's random number generator.
pub(crate) fn fill_random(buf: &mut [u8]) -> Result<()> {
    getrandom::getrandom(buf).map_err(AuthError::Random)
}

/// `bytes` random bytes from the operating system, as unpadded base64url.
///
/// Fails only if the operating system cannot supply randomness.
pub fn random_token(bytes: usize) -> Result<String> {
    let mut buf = vec![0u8; bytes];
    fill_random(&mut buf)?;
    Ok(URL_SAFE_NO_PAD.encode(&buf))
}

/// The lowercase hex SHA-256 of `secret`: how session ids and API tokens are stored.
pub(crate) fn sha256_hex(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    let mut out = String::with_capacity(64);
    for b in digest {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    out
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Whether the CSRF token a request carries (`given`) equals the session's (`expected`), compared in
/// constant time. An empty `expected` never matches.
pub fn csrf_matches(expected: &str, given: &str) -> bool {
    !expected.is_empty() && bool::from(expected.as_bytes().ct_eq(given.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_tokens_differ_and_have_the_right_length() {
        let a = random_token(32).unwrap();
        let b = random_token(32).unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
        assert_eq!(random_token(0).unwrap(), "");
    }

    #[test]
    fn sha256_known_value() {
        assert_eq!(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn csrf_compare() {
        assert!(csrf_matches("abc", "abc"));
        assert!(!csrf_matches("abc", "abd"));
        assert!(!csrf_matches("abc", "ab"));
        assert!(!csrf_matches("abc", ""));
        assert!(!csrf_matches("", ""));
    }
}
