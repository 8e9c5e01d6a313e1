//! Everything the store creates is private to the user keepwatch runs as: directories 0700, files 0600.
//!
//! Why: the segment files are video of people's homes, and the index holds password hashes and session
//! tokens (kw-auth keeps its tables in it). Other local users must not read them, whatever the umask.
//! SQLite creates the index's `-wal` and `-shm` files with the mode of the database file, so creating the
//! database file 0600 before SQLite opens it makes those private too. Modes are set at creation (an umask
//! can only take more away); an existing store is not changed, only warned about (see [`warn_if_shared`]).

use std::fs::{DirBuilder, File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Mode of the directories the store creates.
pub const DIR_MODE: u32 = 0o700;
/// Mode of the files the store creates.
pub const FILE_MODE: u32 = 0o600;

/// Creates `dir` and any missing parents, each 0700.
pub fn create_dir_all(dir: &Path) -> io::Result<()> {
    DirBuilder::new().recursive(true).mode(DIR_MODE).create(dir)
}

/// Options that create a file 0600 (with `create` or `create_new` set by the caller).
pub fn file_options() -> OpenOptions {
    let mut o = OpenOptions::new();
    o.mode(FILE_MODE);
    o
}

/// Creates (or truncates) `path` for writing; a new file is 0600.
pub fn create_file(path: &Path) -> io::Result<File> {
    file_options().write(true).create(true).truncate(true).open(path)
}

/// Creates `path` as an empty 0600 file unless it exists.
pub fn touch(path: &Path) -> io::Result<()> {
    match file_options().write(true).create_new(true).open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// Takes group and other access away from `dir` (a directory that becomes a new store); best effort.
pub fn restrict_dir(dir: &Path) {
    let Ok(meta) = std::fs::metadata(dir) else { return };
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        if let Err(e) = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode & !0o077)) {
            tracing::warn!(store = %dir.display(), "cannot make the new store's directory private: {e}");
        }
    }
}

/// Logs a warning when an existing store's directory lets other users in (a store made by an older
/// keepwatch, or changed by hand), with the command that fixes it.
pub fn warn_if_shared(dir: &Path) {
    let Ok(meta) = std::fs::metadata(dir) else { return };
    if meta.permissions().mode() & 0o077 != 0 {
        tracing::warn!(
            store = %dir.display(),
            "the store directory is open to other users (mode {:o}): recordings and password hashes can be \
             read by them; run `chmod -R go-rwx {}` to make it private",
            meta.permissions().mode() & 0o777,
            dir.display()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn created_private_and_existing_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let deep = dir.path().join("a/b/c");
        create_dir_all(&deep).unwrap();
        for d in ["a", "a/b", "a/b/c"] {
            assert_eq!(mode(&dir.path().join(d)), 0o700, "{d}");
        }
        let f = deep.join("f");
        create_file(&f).unwrap();
        assert_eq!(mode(&f), 0o600);
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o640)).unwrap();
        touch(&f).unwrap();
        assert_eq!(mode(&f), 0o640, "touch leaves an existing file alone");
        let g = deep.join("g");
        touch(&g).unwrap();
        assert_eq!((mode(&g), std::fs::metadata(&g).unwrap().len()), (0o600, 0));

        let shared = dir.path().join("shared");
        std::fs::create_dir(&shared).unwrap();
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o755)).unwrap();
        restrict_dir(&shared);
        assert_eq!(mode(&shared), 0o700);
    }
}
