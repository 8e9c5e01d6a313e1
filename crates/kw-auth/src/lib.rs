//! keepwatch's security core: users, passwords, sessions, API tokens and login rate limiting.
//!
//! # Why it is a crate of its own
//!
//! Everything that decides *who* may do *what* lives here, away from HTTP and video code, so it can
//! be read, reviewed and tested on its own. The HTTP layer maps requests onto it; the CLI
//! (`keepwatch user …`, `keepwatch token …`) calls the same functions, so both enforce the same rules.
//!
//! # Pieces
//!
//! - [`Role`], [`User`], [`Principal`]: who is asking and which cameras they may see.
//! - [`password`]: argon2id hashing ([`hash_password`], [`verify_password`], [`Hasher`]).
//! - [`AuthDb`]: users, sessions and tokens in the store's SQLite index file (own tables, own schema
//!   version). Only hashes of passwords, session ids and tokens are stored.
//! - [`LoginLimiter`]: failed-login limits per address and per (address, user), never per user alone.
//! - [`random_token`], [`csrf_matches`]: secrets and their constant-time comparison.
//!
//! # A login, as the HTTP layer is meant to do it
//!
//! 1. `limiter.begin(addr, user, now)` — checks and counts the attempt as a failure in one step; on
//!    `Err(wait)` answer 429 with `Retry-After`.
//! 2. `db.authenticate(user, password)` (in `spawn_blocking`: argon2 takes tens of milliseconds).
//! 3. On `None`: answer 401 (the failure is already counted). On `Some(user)`:
//!    `limiter.succeeded(attempt)`, `db.create_session(&user.name, ttl)`, set the cookie to the id, return
//!    the CSRF token.
//! 4. Later requests: `db.session(cookie)` or `db.token(bearer)` gives the [`Principal`]; for cookie
//!    requests other than GET/HEAD, `csrf_matches(&session_csrf, header)`.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod db;
mod error;
mod limiter;
mod names;
pub mod password;
mod principal;
mod secret;

pub use db::{AuthDb, TokenInfo, BUSY_TIMEOUT, MAX_SESSIONS_PER_USER, MAX_SESSION_AGE, SCHEMA_VERSION, TOKEN_PREFIX};
pub use error::{AuthError, Result};
pub use limiter::{Attempt, LimiterConfig, LoginLimiter};
pub use names::{validate_token_label, validate_user_name, MAX_NAME_LEN};
pub use password::{
    dummy_verify, hash_password, validate_password, verify_password, Hasher, MAX_PASSWORD_LEN, MIN_PASSWORD_LEN,
};
pub use principal::{Principal, PrincipalKind, Role, User};
pub use secret::{csrf_matches, random_token};
