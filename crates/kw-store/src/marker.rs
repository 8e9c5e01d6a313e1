//! The `keepwatch-store.json` marker file that makes a directory a store.
//!
//! Why a marker: the store directory is usually a mount point. When the disk is not mounted, the
//! mount point is an empty directory on the root file system; a recorder that wrote there would fill
//! the system disk and "lose" the recordings once the disk comes back. With a marker holding a random
//! store id, the store refuses a directory that is not itself: a non-empty directory without a marker
//! (someone else's data) and a store with another id (another disk). Whether an *empty* directory may
//! become a new store is the caller's decision ([`crate::Create`]).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{io_err, StoreError};

/// File name of the marker inside the store directory.
pub const MARKER_FILE: &str = "keepwatch-store.json";

/// Layout version of the store directory (marker, segment file names). Segment file contents and the
/// index schema carry their own versions.
pub const FORMAT_VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
struct MarkerJson {
    about: String,
    store_id: String,
    format_version: u32,
    /// Microseconds since the Unix epoch.
    created: i64,
}

/// What the marker says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Marker {
    pub store_id: Uuid,
    pub format_version: u32,
    pub created: i64,
}

fn marker_path(dir: &Path) -> PathBuf {
    dir.join(MARKER_FILE)
}

/// Reads the marker of `dir`; `Ok(None)` when there is none.
pub fn read(dir: &Path) -> Result<Option<Marker>, StoreError> {
    let path = marker_path(dir);
    let text = match fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_err(path, e)),
    };
    let corrupt = |what: String| StoreError::Corrupt { path: path.clone(), what };
    let json: MarkerJson =
        serde_json::from_str(&text).map_err(|e| corrupt(format!("not a valid store marker: {e}")))?;
    let store_id = Uuid::parse_str(&json.store_id).map_err(|e| corrupt(format!("store_id is not a UUID: {e}")))?;
    if json.format_version > FORMAT_VERSION {
        return Err(StoreError::TooNew {
            path,
            what: format!("store format version {}, this keepwatch knows up to {FORMAT_VERSION}", json.format_version),
        });
    }
    Ok(Some(Marker { store_id, format_version: json.format_version, created: json.created }))
}

/// Writes a new marker atomically (temporary file, fsync, rename, fsync of the directory).
pub fn create(dir: &Path, store_id: Uuid, created: i64) -> Result<Marker, StoreError> {
    let json = MarkerJson {
        about: "This directory is a keepwatch recording store. Do not edit or move files in it by hand.".into(),
        store_id: store_id.to_string(),
        format_version: FORMAT_VERSION,
        created,
    };
    let text = serde_json::to_string_pretty(&json)
        .map_err(|e| StoreError::Invalid { what: format!("cannot encode the store marker: {e}") })?;
    let tmp = dir.join(format!("{MARKER_FILE}.tmp"));
    let mut f = crate::private::create_file(&tmp).map_err(|e| io_err(&tmp, e))?;
    f.write_all(text.as_bytes()).map_err(|e| io_err(&tmp, e))?;
    f.write_all(b"\n").map_err(|e| io_err(&tmp, e))?;
    f.sync_all().map_err(|e| io_err(&tmp, e))?;
    drop(f);
    let path = marker_path(dir);
    fs::rename(&tmp, &path).map_err(|e| io_err(&path, e))?;
    sync_dir(dir)?;
    Ok(Marker { store_id, format_version: FORMAT_VERSION, created })
}

/// Makes the directory entries of `dir` durable.
pub fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    fs::File::open(dir).and_then(|d| d.sync_all()).map_err(|e| io_err(dir, e))
}

/// True when `dir` holds nothing but possibly `lost+found` (a freshly formatted ext4 disk has one).
pub fn is_empty_dir(dir: &Path) -> Result<bool, StoreError> {
    let entries = fs::read_dir(dir).map_err(|e| io_err(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| io_err(dir, e))?;
        if entry.file_name() != "lost+found" {
            return Ok(false);
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read(dir.path()).unwrap(), None);
        let id = Uuid::new_v4();
        let m = create(dir.path(), id, 1234).unwrap();
        assert_eq!(read(dir.path()).unwrap(), Some(m));
        assert!(!dir.path().join(format!("{MARKER_FILE}.tmp")).exists());
    }

    #[test]
    fn garbage_marker_is_corrupt_and_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(MARKER_FILE), "{nope").unwrap();
        let e = read(dir.path()).unwrap_err();
        assert!(matches!(e, StoreError::Corrupt { .. }));
        assert!(e.to_string().contains(MARKER_FILE));
    }

    #[test]
    fn lost_and_found_counts_as_empty() {
        let dir = tempfile::tempdir().unwrap();
        assert!(is_empty_dir(dir.path()).unwrap());
        fs::create_dir(dir.path().join("lost+found")).unwrap();
        assert!(is_empty_dir(dir.path()).unwrap());
        fs::write(dir.path().join("x"), "").unwrap();
        assert!(!is_empty_dir(dir.path()).unwrap());
    }
}
