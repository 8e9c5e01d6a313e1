//! Off-site copies of events: the clip (with its pre- and post-roll) and the picture of an event,
//! encrypted with age to recipients the owner holds the identities of, queued in the store's index and
//! uploaded to storage the owner rents (S3-compatible or WebDAV).
//!
//! Why: the vendor clouds keepwatch replaces keep a break-in's clip off the premises; a box on a shelf
//! does not, unless it sends one away. Encrypting on the box to *public* keys means neither the storage
//! provider nor a thief holding the box can read what was sent; only the owner's identity file can.
//!
//! The parts, each with one job:
//! - [`crypt`]: age key pairs, encryption to recipients, decryption with an identity;
//! - [`names`]: object names (camera and time, or nothing with `hide_names`);
//! - [`target`]: the storage behind one `[[offsite]]` entry: S3 (object_store; resumable multipart) or
//!   WebDAV (PUT/PROPFIND/DELETE through reqwest), credentials from a file or the environment;
//! - [`queue`]: the persistent queue in `index.sqlite3` (survives restarts and outages, keeps multipart
//!   progress so an interrupted upload resumes);
//! - [`worker`]: one loop per target: build the encrypted spool file through a [`worker::Source`] the
//!   daemon provides, upload it with back-off and a bandwidth cap, keep the target's retention;
//! - [`health`]: per-target state for the API, metrics and the storage alert.
//!
//! This crate knows nothing of cameras or the store's files: the daemon hands it the bytes to send.
#![forbid(unsafe_code)]

pub mod crypt;
mod error;
pub mod health;
pub mod names;
pub mod queue;
pub mod target;
mod throttle;
pub mod worker;

pub use error::OffsiteError;
pub use health::{Health, TargetStatus};
pub use queue::{Job, Part, Queue};
pub use target::{ObjectInfo, Target};
