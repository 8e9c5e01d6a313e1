//! Replacing a file so that readers see either the old or the new contents, never a mix, even after a crash.
//!
//! The config holds camera passwords and is re-read live by `keepwatch run`; a torn write would either
//! break the running server or leak a world-readable copy. So: temporary file next to the target created
//! 0600, fsync, rename over the target, fsync the directory.
//!
//! Permissions: the result is never readable by group or others. A new file is 0600; a rewrite keeps the old
//! file's mode where it is stricter (0400 stays 0400) and otherwise narrows it to 0600 (a hand-made 0644 file
//! becomes 0600 on the first edit through the API): never wider than 0600, whatever the old file had.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Atomically replaces (or creates) `path` with `data`. A symlink at `path` is followed, so the link stays.
pub fn write_atomically(path: &Path, data: &[u8]) -> io::Result<()> {
    let target = fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let Some(name) = target.file_name() else {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "not a file path"));
    };
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let tmp = dir.join(format!(
        ".{}.tmp-{}-{}",
        name.to_string_lossy(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = write_then_rename(&tmp, &target, &dir, data);
    if result.is_err() {
        // Best effort: the temporary file may not exist if opening it failed.
        let _ = fs::remove_file(&tmp);
    }
    result
}

fn write_then_rename(tmp: &Path, target: &Path, dir: &Path, data: &[u8]) -> io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(tmp)?;
    file.write_all(data)?;
    if let Ok(old) = fs::metadata(target) {
        #[cfg(unix)]
        {
            use std::os::unix::fs::{MetadataExt, PermissionsExt};
            // Keeps the owner when run as root on someone else's file; fails harmlessly otherwise.
            let _ = std::os::unix::fs::fchown(&file, Some(old.uid()), Some(old.gid()));
            // After chown, which may clear set-id bits: the old mode's owner bits, never more than rw.
            file.set_permissions(fs::Permissions::from_mode(private_mode(old.permissions().mode())))?;
        }
        #[cfg(not(unix))]
        file.set_permissions(old.permissions())?;
    }
    file.sync_all()?;
    drop(file);
    fs::rename(tmp, target)?;
    sync_dir(dir)
}

/// The mode of a rewritten file whose predecessor had `old`: its owner's read and write bits, nothing else.
#[cfg(unix)]
fn private_mode(old: u32) -> u32 {
    old & 0o600
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_and_keeps_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keepwatch.toml");
        write_atomically(&path, b"one").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"one");
        write_atomically(&path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        let leftovers: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "temporary files left behind");
    }

    #[cfg(unix)]
    #[test]
    fn private_new_narrowed_or_stricter_never_wider() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keepwatch.toml");
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o7777;
        write_atomically(&path, b"new").unwrap();
        assert_eq!(mode(&path), 0o600, "a new file");
        for (before, after) in [(0o644, 0o600), (0o640, 0o600), (0o666, 0o600), (0o400, 0o400), (0o600, 0o600)] {
            fs::set_permissions(&path, fs::Permissions::from_mode(before)).unwrap();
            write_atomically(&path, b"edit").unwrap();
            assert_eq!(mode(&path), after, "rewriting a {before:o} file");
        }
    }

    #[cfg(unix)]
    #[test]
    fn follows_symlinks() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.toml");
        let link = dir.path().join("keepwatch.toml");
        fs::write(&real, "old").unwrap();
        std::os::unix::fs::symlink(&real, &link).unwrap();
        write_atomically(&link, b"new").unwrap();
        assert!(fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
        assert_eq!(fs::read(&real).unwrap(), b"new");
    }

    #[test]
    fn missing_directory_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(write_atomically(&dir.path().join("no/such/dir/k.toml"), b"x").is_err());
    }
}
