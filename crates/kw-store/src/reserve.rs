//! A small file of reserved space in the store directory, given up when the disk is full.
//!
//! Why: freeing space means deleting index rows first (the crash-safe order), and SQLite needs a few
//! pages of free space to commit even a delete. On a completely full file system the store could then
//! never free anything and the recorder would stop for good. So the store keeps `space-reserve`
//! (1 MiB of incompressible bytes, so that compressing file systems really allocate it); when an
//! index write fails with ENOSPC, the reserve is deleted and the write retried, and the reserve is
//! re-created once deletions have made room again.

use std::fs;
use std::io::{self, Write};
use std::path::PathBuf;

use crate::error::{io_err, StoreError};
use crate::store::Store;

/// File name of the reserve inside the store directory.
pub const RESERVE_FILE: &str = "space-reserve";
const RESERVE_BYTES: usize = 1 << 20;

/// The reserve file of a local store.
#[derive(Debug)]
pub(crate) struct Reserve {
    pub path: PathBuf,
}

impl Reserve {
    /// Creates the reserve if it is missing or short. `NoSpace` when there is no room for it.
    pub fn ensure(&self) -> Result<(), StoreError> {
        match fs::metadata(&self.path) {
            Ok(m) if m.len() >= RESERVE_BYTES as u64 => return Ok(()),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err(&self.path, e)),
        }
        let mut bytes = vec![0u8; RESERVE_BYTES];
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        for b in bytes.iter_mut() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = x as u8;
        }
        let write = || -> io::Result<()> {
            let mut f = crate::private::create_file(&self.path)?;
            f.write_all(&bytes)?;
            f.sync_all()
        };
        write().map_err(|e| {
            let _ = fs::remove_file(&self.path); // a partial reserve is useless and takes room
            io_err(&self.path, e)
        })
    }

    /// Deletes the reserve; true when there was one to delete.
    pub fn release(&self) -> bool {
        let released = fs::remove_file(&self.path).is_ok();
        if released {
            tracing::warn!(reserve = %self.path.display(), "disk full: released the reserved space");
        }
        released
    }
}

impl Store {
    /// Runs an index write; on `NoSpace`, releases the reserve and tries once more.
    pub(crate) fn index_write<T>(&self, f: impl Fn() -> Result<T, StoreError>) -> Result<T, StoreError> {
        match f() {
            Err(e) if e.is_no_space() && self.inner.reserve.as_ref().is_some_and(|r| r.release()) => f(),
            r => r,
        }
    }

    /// Re-creates the reserve if it was released and there is room again (best effort).
    pub(crate) fn restore_reserve(&self) {
        if let Some(r) = &self.inner.reserve {
            match r.ensure() {
                Ok(()) => {}
                Err(e) if e.is_no_space() => tracing::debug!("no room to restore the space reserve yet"),
                Err(e) => tracing::warn!("cannot restore the space reserve: {e}"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ensure_and_release() {
        let dir = tempfile::tempdir().unwrap();
        let r = Reserve { path: dir.path().join(RESERVE_FILE) };
        r.ensure().unwrap();
        assert_eq!(fs::metadata(&r.path).unwrap().len(), RESERVE_BYTES as u64);
        r.ensure().unwrap();
        assert!(r.release());
        assert!(!r.release());
    }
}
