//! Password hashing with argon2id, stored as PHC strings.
//!
//! Argon2id is memory-hard, so guessing passwords from a stolen index file is slow even on GPUs. The
//! PHC string (`$argon2id$v=19$m=...,t=...,p=...$salt$hash`) carries its own parameters, so hashes
//! made with other parameters (older releases, the cheap test set) still verify, and
//! [`Hasher::needs_rehash`] tells the caller when to upgrade one at the next successful login.
//!
//! [`Hasher::recommended`] uses m = 46 MiB, t = 1, p = 1 (one of OWASP's recommended argon2id
//! settings), which took 59–66 ms per hash in a release build on the 2-core AMD EPYC build machine
//! (m = 19 MiB, t = 2 took 29 ms; t = 3, 37–56 ms). Measure elsewhere with
//! `cargo run --release -p kw-auth --example hash_cost [M_KIB T P]`.
//!
//! Hashing runs on the calling thread: async callers should use `spawn_blocking`. Each hash in flight
//! holds 46 MiB, so the HTTP layer should also bound how many run at once (a small semaphore); the
//! login rate limiter bounds how often one address can make the server pay this cost.
//!
//! A login for a user that does not exist still pays for one verification ([`Hasher::dummy_verify`]),
//! so response time does not reveal which user names exist.

use std::sync::OnceLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::error::{AuthError, Result};
use crate::secret::fill_random;

/// The shortest accepted password, in characters.
pub const MIN_PASSWORD_LEN: usize = 8;
/// The longest accepted password, in bytes (a guard against huge request bodies, not a policy).
pub const MAX_PASSWORD_LEN: usize = 1024;

/// Checks a new password against the length rules.
pub fn validate_password(password: &str) -> Result<()> {
    if password.len() > MAX_PASSWORD_LEN {
        return Err(AuthError::PasswordTooLong { max: MAX_PASSWORD_LEN });
    }
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(AuthError::PasswordTooShort { min: MIN_PASSWORD_LEN });
    }
    Ok(())
}

/// Argon2id with one parameter set: hashes new passwords, verifies any argon2 PHC string.
#[derive(Debug)]
pub struct Hasher {
    argon: Argon2<'static>,
    params: Params,
    /// A hash of a random password, made on first use, for [`Hasher::dummy_verify`].
    dummy: OnceLock<String>,
}

impl Hasher {
    /// Memory cost of [`Hasher::recommended`], in KiB (46 MiB).
    pub const RECOMMENDED_M_KIB: u32 = 46 * 1024;
    /// Iterations of [`Hasher::recommended`].
    pub const RECOMMENDED_T: u32 = 1;
    /// Parallelism of [`Hasher::recommended`].
    pub const RECOMMENDED_P: u32 = 1;

    /// Argon2id with memory `m_kib` KiB, `t` iterations and `p` lanes.
    pub fn new(m_kib: u32, t: u32, p: u32) -> Result<Hasher> {
        let params = Params::new(m_kib, t, p, None).map_err(|e| AuthError::Params(e.to_string()))?;
        Ok(Hasher::from_params(params))
    }

    fn from_params(params: Params) -> Hasher {
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
        Hasher { argon, params, dummy: OnceLock::new() }
    }

    /// The production parameters: m = 46 MiB, t = 1, p = 1 (about 60 ms per hash).
    pub fn recommended() -> Hasher {
        Hasher::new(Self::RECOMMENDED_M_KIB, Self::RECOMMENDED_T, Self::RECOMMENDED_P)
            .unwrap_or_else(|_| Hasher::from_params(Params::DEFAULT))
    }

    /// Very cheap parameters (m = 64 KiB, t = 1) for tests only: fast, and useless against an attacker.
    pub fn insecure_for_tests() -> Hasher {
        Hasher::new(64, 1, 1).unwrap_or_else(|_| Hasher::from_params(Params::DEFAULT))
    }

    /// Hashes a new password (checked by [`validate_password`]) with a fresh random salt.
    pub fn hash(&self, password: &str) -> Result<String> {
        validate_password(password)?;
        self.hash_unchecked(password)
    }

    fn hash_unchecked(&self, password: &str) -> Result<String> {
        let mut salt = [0u8; 16];
        fill_random(&mut salt)?;
        let salt = SaltString::encode_b64(&salt).map_err(|e| AuthError::Hash(e.to_string()))?;
        let hash = self.argon.hash_password(password.as_bytes(), &salt).map_err(|e| AuthError::Hash(e.to_string()))?;
        Ok(hash.to_string())
    }

    /// Whether `password` matches the PHC string `hash`. A malformed hash or an over-long password
    /// is simply no match. The hash's own parameters are used, whatever this hasher's are.
    pub fn verify(&self, hash: &str, password: &str) -> bool {
        if password.len() > MAX_PASSWORD_LEN {
            return false;
        }
        let Ok(parsed) = PasswordHash::new(hash) else {
            return false;
        };
        self.argon.verify_password(password.as_bytes(), &parsed).is_ok()
    }

    /// Does the work of one verification against a hash no password matches, so that a login for an
    /// unknown user takes as long as one for a known user. Always "fails"; returns nothing.
    pub fn dummy_verify(&self, password: &str) {
        let dummy = self.dummy.get_or_init(|| {
            // A random password nobody knows; if randomness fails, a fixed one (still unguessable
            // through this function, which never reports a match).
            let secret = crate::secret::random_token(32).unwrap_or_else(|_| "keepwatch-dummy-password".into());
            self.hash_unchecked(&secret).unwrap_or_default()
        });
        let _ = self.verify(dummy, password);
    }

    /// Whether `hash` was made with other parameters (or another algorithm) than this hasher's, so
    /// that it should be replaced by a fresh hash after the next successful verification.
    pub fn needs_rehash(&self, hash: &str) -> bool {
        let Ok(parsed) = PasswordHash::new(hash) else {
            return true;
        };
        if parsed.algorithm != Algorithm::Argon2id.ident() || parsed.version != Some(Version::V0x13.into()) {
            return true;
        }
        match Params::try_from(&parsed) {
            Ok(p) => {
                p.m_cost() != self.params.m_cost()
                    || p.t_cost() != self.params.t_cost()
                    || p.p_cost() != self.params.p_cost()
            }
            Err(_) => true,
        }
    }
}

impl Default for Hasher {
    fn default() -> Hasher {
        Hasher::recommended()
    }
}

fn default_hasher() -> &'static Hasher {
    static DEFAULT: OnceLock<Hasher> = OnceLock::new();
    DEFAULT.get_or_init(Hasher::recommended)
}

/// Hashes a new password with the recommended parameters ([`Hasher::recommended`]).
pub fn hash_password(password: &str) -> Result<String> {
    default_hasher().hash(password)
}

/// Whether `password` matches the PHC string `hash` (made with any argon2 parameters).
pub fn verify_password(hash: &str, password: &str) -> bool {
    default_hasher().verify(hash, password)
}

/// One verification's worth of work with the recommended parameters, for unknown users.
pub fn dummy_verify(password: &str) {
    default_hasher().dummy_verify(password)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_wrong_password() {
        let h = Hasher::insecure_for_tests();
        let hash = h.hash("correct horse").unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{hash}");
        assert!(h.verify(&hash, "correct horse"));
        assert!(!h.verify(&hash, "correct horsE"));
        assert!(!h.verify(&hash, ""));
        assert!(!h.verify("not a hash", "correct horse"));
        assert!(!h.verify("", "correct horse"));
        // Salted: the same password twice gives two hashes.
        assert_ne!(hash, h.hash("correct horse").unwrap());
    }

    #[test]
    fn recommended_parameters_round_trip() {
        let hash = hash_password("a good password").unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=47104,t=1,p=1$"), "{hash}");
        assert!(verify_password(&hash, "a good password"));
        assert!(!verify_password(&hash, "a bad password"));
        dummy_verify("whatever");
    }

    #[test]
    fn other_parameters_still_verify_but_need_rehash() {
        let cheap = Hasher::insecure_for_tests();
        let other = Hasher::new(128, 1, 1).unwrap();
        let hash = other.hash("password1").unwrap();
        assert!(cheap.verify(&hash, "password1"));
        assert!(cheap.needs_rehash(&hash));
        assert!(!other.needs_rehash(&hash));
        assert!(cheap.needs_rehash("garbage"));
    }

    #[test]
    fn length_rules() {
        let h = Hasher::insecure_for_tests();
        let e = h.hash("short").unwrap_err();
        assert!(matches!(e, AuthError::PasswordTooShort { min: 8 }));
        assert!(e.to_string().contains("at least 8"), "{e}");
        // Characters, not bytes: 8 two-byte characters are enough, 7 are not.
        assert!(h.hash("äääääääää").is_ok());
        assert!(h.hash("äääääää").is_err());
        let long = "x".repeat(MAX_PASSWORD_LEN + 1);
        assert!(matches!(h.hash(&long), Err(AuthError::PasswordTooLong { .. })));
        assert!(!h.verify(&h.hash("password").unwrap(), &long));
    }

    #[test]
    fn bad_parameters_are_an_error() {
        assert!(matches!(Hasher::new(0, 0, 0), Err(AuthError::Params(_))));
    }

    #[test]
    fn dummy_verify_is_callable_repeatedly() {
        let h = Hasher::insecure_for_tests();
        h.dummy_verify("x");
        h.dummy_verify("y");
    }
}
