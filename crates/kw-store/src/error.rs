//! The store's error type.
//!
//! Why these variants: the recorder must react differently to each. `NoSpace` means "free space and
//! carry on" (the store deletes the oldest recordings), `NotAStore` / `WrongStore` mean "refuse to
//! start, the configuration points at the wrong disk" (writing into an unmounted mount point or another
//! store would silently lose recordings), and `Corrupt` / `TooNew` need a person. Every message names
//! the file or directory involved, because a user reads it in a log or a terminal.

use std::io;
use std::path::PathBuf;

use uuid::Uuid;

/// Everything that can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The file system is full (ENOSPC) or a quota is exhausted (EDQUOT). Free space (for example with
    /// [`crate::Store::free_space_for`]) and retry: buffered frames are kept.
    #[error("no space left on the file system (or quota exceeded) while writing {}", path.display())]
    NoSpace { path: PathBuf },

    /// The directory exists but is not a keepwatch store (or does not exist and may not be created).
    #[error("{} is not a keepwatch store: {reason}", path.display())]
    NotAStore { path: PathBuf, reason: String },

    /// The directory is a keepwatch store, but not the one the configuration expects.
    #[error(
        "{} holds keepwatch store {found}, but the configuration expects store {expected}; \
         is the right disk mounted?",
        path.display()
    )]
    WrongStore { path: PathBuf, found: Uuid, expected: Uuid },

    /// An operating-system I/O error on a named file or directory.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    /// An error of the SQLite index database.
    #[error("index database {}: {source}", path.display())]
    Sqlite {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },

    /// An error of an index database other than the embedded SQLite one (a server such as PostgreSQL):
    /// `location` names it without secrets (`postgres://user@host:port/db`), `what` says what failed.
    #[error("index database {location}: {what}")]
    Index { location: String, what: String },

    /// A file or index entry holds data that cannot be right.
    #[error("{} is damaged: {what}", path.display())]
    Corrupt { path: PathBuf, what: String },

    /// A file was written by a newer keepwatch than this one.
    #[error("{} was written by a newer keepwatch ({what}); upgrade keepwatch to use it", path.display())]
    TooNew { path: PathBuf, what: String },

    /// A camera, run or segment the caller named is not in the index (for example deleted by
    /// retention in the meantime).
    #[error("{what} not found in the store")]
    NotFound { what: String },

    /// The caller asked for something the store cannot do (for example a frame larger than the limit).
    #[error("{what}")]
    Invalid { what: String },
}

impl StoreError {
    /// True for [`StoreError::NoSpace`].
    pub fn is_no_space(&self) -> bool {
        matches!(self, StoreError::NoSpace { .. })
    }
}

/// True when an I/O error means the file system is full or a quota is exhausted.
pub fn is_no_space(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded)
        || matches!(
            rustix::io::Errno::from_io_error(e),
            Some(rustix::io::Errno::NOSPC) | Some(rustix::io::Errno::DQUOT)
        )
}

/// Wraps an I/O error on `path`, turning ENOSPC/EDQUOT into [`StoreError::NoSpace`].
pub(crate) fn io_err(path: impl Into<PathBuf>, e: io::Error) -> StoreError {
    let path = path.into();
    if is_no_space(&e) {
        StoreError::NoSpace { path }
    } else {
        StoreError::Io { path, source: e }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enospc_and_edquot_are_no_space() {
        let nospc = io::Error::from_raw_os_error(rustix::io::Errno::NOSPC.raw_os_error());
        let dquot = io::Error::from_raw_os_error(rustix::io::Errno::DQUOT.raw_os_error());
        let other = io::Error::from_raw_os_error(rustix::io::Errno::IO.raw_os_error());
        assert!(io_err("/x", nospc).is_no_space());
        assert!(io_err("/x", dquot).is_no_space());
        let e = io_err("/x/y.kws", other);
        assert!(!e.is_no_space());
        assert!(e.to_string().contains("/x/y.kws"));
    }
}
