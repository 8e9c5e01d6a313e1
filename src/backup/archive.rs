//! The backup file's format: a gzip-compressed tar whose first member is `manifest.json`, followed by the
//! members it lists (each with its size and SHA-256).
//!
//! Why a manifest first: a restore must tell a keepwatch backup from any other file, a newer format from a
//! damaged one, and a truncated copy from a whole one, before it writes anything. Reading is bounded: the
//! manifest in size, the members in number, name (only [`MEMBERS`]) and size (the manifest's word, capped per
//! member), so a hostile or foreign archive can neither fill the disk nor write outside the target.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::Path;

/// `format` in the manifest: what says "this is a keepwatch backup".
pub const FORMAT: &str = "keepwatch-backup";
/// The manifest layout this build writes and reads.
pub const VERSION: u32 = 1;
pub const MANIFEST: &str = "manifest.json";
/// The members a backup may hold, with the most bytes each may have.
pub const MEMBERS: &[(&str, u64)] = &[(CONFIG, 4 << 20), (INDEX, 1 << 40), (LINK_KEY, 4096)];
pub const CONFIG: &str = "keepwatch.toml";
pub const INDEX: &str = "index.sqlite3";
pub const LINK_KEY: &str = "link.key";
const MAX_MANIFEST: u64 = 64 << 10;

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct FileEntry {
    pub bytes: u64,
    pub sha256: String,
}

/// What `manifest.json` says.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct Manifest {
    pub format: String,
    pub version: u32,
    /// The keepwatch that wrote it (`0.1.0 (commit)`).
    pub keepwatch: String,
    /// RFC 3339.
    pub created: String,
    /// The id of the store it was taken from.
    pub source_store: String,
    /// What was left out on purpose, in words (video, segment rows, sessions, pending alerts).
    pub left_out: Vec<String>,
    pub files: BTreeMap<String, FileEntry>,
}

/// Why an archive cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("not a keepwatch backup ({0})")]
    Foreign(String),
    #[error("the backup is damaged or incomplete ({0})")]
    Damaged(String),
    #[error("the backup was written by a newer keepwatch (format version {0}; this keepwatch reads up to {VERSION})")]
    TooNew(u32),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// The entry of a file about to be archived.
pub fn entry_of(path: &Path) -> std::io::Result<FileEntry> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut bytes = 0u64;
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        bytes += n as u64;
    }
    Ok(FileEntry { bytes, sha256: h.finalize().iter().map(|b| format!("{b:02x}")).collect() })
}

/// Writes the archive to `out`: the manifest, then each `(name, path)` in `files` (which the manifest lists).
pub fn write(out: impl Write, manifest: &Manifest, files: &[(&str, &Path)]) -> std::io::Result<()> {
    let gz = flate2::write::GzEncoder::new(out, flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    let json = serde_json::to_vec_pretty(manifest).map_err(std::io::Error::other)?;
    append(&mut tar, MANIFEST, json.len() as u64, &json[..])?;
    for (name, path) in files {
        let f = std::fs::File::open(path)?;
        let len = f.metadata()?.len();
        append(&mut tar, name, len, f)?;
    }
    let gz = tar.into_inner()?;
    gz.finish()?.flush()
}

fn append<W: Write>(tar: &mut tar::Builder<W>, name: &str, len: u64, data: impl Read) -> std::io::Result<()> {
    let mut h = tar::Header::new_gnu();
    h.set_size(len);
    h.set_mode(0o600);
    h.set_entry_type(tar::EntryType::Regular);
    h.set_mtime(0);
    tar.append_data(&mut h, name, data)
}

/// What may follow the last member in a backup's tar: its end blocks and record padding (tar pads to 10 KiB).
const MAX_TRAILING: u64 = 64 * 1024;

/// Reads the archive at `file`, checking the manifest and every member's size and hash, and writes the
/// members into `dir` (which the caller made, private) under their own names. Returns the manifest.
pub fn extract(file: &Path, dir: &Path) -> Result<Manifest, ArchiveError> {
    extract_from(std::io::BufReader::new(std::fs::File::open(file)?), dir)
}

/// [`extract`] of bytes from any reader (the fuzz target reads from memory).
pub fn extract_from(from: impl Read, dir: &Path) -> Result<Manifest, ArchiveError> {
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(from));
    let damaged = |e: std::io::Error| ArchiveError::Damaged(e.to_string());
    let mut entries = tar.entries().map_err(|e| ArchiveError::Foreign(e.to_string()))?;
    let first = match entries.next() {
        None => return Err(ArchiveError::Foreign("empty".into())),
        Some(Err(e)) => return Err(ArchiveError::Foreign(format!("not a gzip-compressed tar: {e}"))),
        Some(Ok(e)) => e,
    };
    let name = first.path().map(|p| p.to_string_lossy().into_owned()).unwrap_or_default();
    if name != MANIFEST {
        return Err(ArchiveError::Foreign(format!("it starts with {:?}, not {MANIFEST}", kw_logsafe::OneLine(&name))));
    }
    let mut text = Vec::new();
    first.take(MAX_MANIFEST + 1).read_to_end(&mut text).map_err(damaged)?;
    if text.len() as u64 > MAX_MANIFEST {
        return Err(ArchiveError::Foreign("its manifest is too large".into()));
    }
    let manifest = parse_manifest(&text)?;
    let mut seen = BTreeMap::new();
    for entry in entries {
        let entry = entry.map_err(damaged)?;
        let name = entry.path().map(|p| p.to_string_lossy().into_owned()).map_err(damaged)?;
        let Some(expected) = manifest.files.get(&name) else {
            return Err(ArchiveError::Damaged(format!("{:?} is not in the manifest", kw_logsafe::OneLine(&name))));
        };
        if seen.contains_key(&name) {
            return Err(ArchiveError::Damaged(format!("{name} appears twice")));
        }
        let got = copy_checked(entry, &dir.join(&name), expected.bytes)?;
        if &got != expected {
            return Err(ArchiveError::Damaged(format!("{name} does not match the manifest (size or SHA-256)")));
        }
        seen.insert(name, got);
    }
    for name in manifest.files.keys() {
        if !seen.contains_key(name) {
            return Err(ArchiveError::Damaged(format!("{name} is missing (a truncated copy?)")));
        }
    }
    // The gzip trailer (CRC and length) comes after the tar's end blocks: read to it, so a copy cut in its
    // last bytes is refused too. Only tar padding may be left, so the read is bounded.
    let mut rest = tar.into_inner().take(MAX_TRAILING + 1);
    let left = std::io::copy(&mut rest, &mut std::io::sink()).map_err(damaged)?;
    if left > MAX_TRAILING {
        return Err(ArchiveError::Damaged("data after the archive's end".into()));
    }
    Ok(manifest)
}

fn parse_manifest(text: &[u8]) -> Result<Manifest, ArchiveError> {
    #[derive(Deserialize)]
    struct Head {
        format: String,
        version: u32,
    }
    let head: Head = serde_json::from_slice(text).map_err(|e| ArchiveError::Foreign(format!("manifest: {e}")))?;
    if head.format != FORMAT {
        return Err(ArchiveError::Foreign(format!("its manifest says {:?}", kw_logsafe::OneLine(&head.format))));
    }
    if head.version > VERSION {
        return Err(ArchiveError::TooNew(head.version));
    }
    let m: Manifest = serde_json::from_slice(text).map_err(|e| ArchiveError::Damaged(format!("manifest: {e}")))?;
    for (name, entry) in &m.files {
        match MEMBERS.iter().find(|(n, _)| *n == name.as_str()) {
            None => {
                return Err(ArchiveError::Damaged(format!(
                    "the manifest lists {:?}, which no backup holds",
                    kw_logsafe::OneLine(name)
                )))
            }
            Some((_, max)) if entry.bytes > *max => {
                return Err(ArchiveError::Damaged(format!("{name} is larger than a backup's {name} can be")))
            }
            _ => {}
        }
    }
    for required in [CONFIG, INDEX] {
        if !m.files.contains_key(required) {
            return Err(ArchiveError::Damaged(format!("the manifest lists no {required}")));
        }
    }
    Ok(m)
}

/// Copies at most `max` bytes of `from` into a new private file `to`, hashing them; one byte more is an error.
fn copy_checked(from: impl Read, to: &Path, max: u64) -> Result<FileEntry, ArchiveError> {
    let mut out = crate::store_open::private_file().write(true).create_new(true).open(to)?;
    let mut from = from.take(max + 1);
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut bytes = 0u64;
    loop {
        let n = from.read(&mut buf).map_err(|e| ArchiveError::Damaged(e.to_string()))?;
        if n == 0 {
            break;
        }
        bytes += n as u64;
        if bytes > max {
            return Err(ArchiveError::Damaged("a member is larger than the manifest says".into()));
        }
        h.update(&buf[..n]);
        out.write_all(&buf[..n])?;
    }
    out.sync_all()?;
    Ok(FileEntry { bytes, sha256: h.finalize().iter().map(|b| format!("{b:02x}")).collect() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(files: BTreeMap<String, FileEntry>) -> Manifest {
        Manifest {
            format: FORMAT.into(),
            version: VERSION,
            keepwatch: "test".into(),
            created: "2026-12-03T12:00:00Z".into(),
            source_store: "x".into(),
            left_out: vec![],
            files,
        }
    }

    fn two_files(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
        let (c, i) = (dir.join("c"), dir.join("i"));
        std::fs::write(&c, "[storage]\npath = \"s\"\n").unwrap();
        std::fs::write(&i, vec![7u8; 10_000]).unwrap();
        (c, i)
    }

    #[test]
    fn round_trip_and_damage() {
        let dir = tempfile::tempdir().unwrap();
        let (c, i) = two_files(dir.path());
        let files =
            BTreeMap::from([(CONFIG.to_owned(), entry_of(&c).unwrap()), (INDEX.to_owned(), entry_of(&i).unwrap())]);
        let m = manifest(files);
        let mut bytes = Vec::new();
        write(&mut bytes, &m, &[(CONFIG, &c), (INDEX, &i)]).unwrap();
        let file = dir.path().join("b.tar.gz");
        std::fs::write(&file, &bytes).unwrap();
        let out = dir.path().join("out");
        std::fs::create_dir(&out).unwrap();
        let got = extract(&file, &out).unwrap();
        assert_eq!(got.files, m.files);
        assert_eq!(std::fs::read(out.join(INDEX)).unwrap(), vec![7u8; 10_000]);

        // Cut short: damaged, whatever the cut.
        for cut in [bytes.len() / 2, bytes.len() - 10] {
            std::fs::write(&file, &bytes[..cut]).unwrap();
            let out = tempfile::tempdir().unwrap();
            let e = extract(&file, out.path()).unwrap_err();
            assert!(matches!(e, ArchiveError::Damaged(_) | ArchiveError::Foreign(_)), "{cut}: {e}");
        }
        // Some other file.
        std::fs::write(&file, b"hello, I am not a backup").unwrap();
        let e = extract(&file, tempfile::tempdir().unwrap().path()).unwrap_err();
        assert!(e.to_string().starts_with("not a keepwatch backup"), "{e}");
    }

    #[test]
    fn foreign_and_newer_manifests_are_refused() {
        assert!(matches!(parse_manifest(br#"{"format":"zip","version":1}"#), Err(ArchiveError::Foreign(_))));
        assert!(matches!(
            parse_manifest(br#"{"format":"keepwatch-backup","version":99}"#),
            Err(ArchiveError::TooNew(99))
        ));
        let evil = format!(
            r#"{{"format":"{FORMAT}","version":1,"keepwatch":"","created":"","source_store":"","left_out":[],
            "files":{{"../../etc/passwd":{{"bytes":1,"sha256":""}}}}}}"#
        );
        assert!(matches!(parse_manifest(evil.as_bytes()), Err(ArchiveError::Damaged(_))));
    }

    #[test]
    fn a_member_larger_than_its_manifest_entry_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (c, i) = two_files(dir.path());
        let mut small = entry_of(&i).unwrap();
        small.bytes = 100;
        let m = manifest(BTreeMap::from([(CONFIG.to_owned(), entry_of(&c).unwrap()), (INDEX.to_owned(), small)]));
        let file = dir.path().join("b.tar.gz");
        write(std::fs::File::create(&file).unwrap(), &m, &[(CONFIG, &c), (INDEX, &i)]).unwrap();
        let e = extract(&file, tempfile::tempdir().unwrap().path()).unwrap_err();
        assert!(matches!(e, ArchiveError::Damaged(_)), "{e}");
    }
}
