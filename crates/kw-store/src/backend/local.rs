//! Segments as files in a local directory: `<root>/<camera_id>/<run_id>-<seq>.kws`.
//!
//! Why one directory per camera: listing, deleting and `ls` by a person stay cheap per camera, and a
//! directory never holds more than one camera's segments. Writes are positional (`pwrite`) so that a
//! write that failed half-way with ENOSPC can be repeated at the same offset once space is freed.
//! Directories are created 0700 and segment files 0600: they are video.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::{Listed, ReadAt, SegmentBackend, SegmentKey, SegmentSink};

/// A local directory of segment files.
#[derive(Debug)]
pub struct LocalDir {
    root: PathBuf,
}

impl LocalDir {
    /// Uses `root` (created 0700 if missing).
    pub fn new(root: PathBuf) -> io::Result<Self> {
        crate::private::create_dir_all(&root)?;
        Ok(LocalDir { root })
    }

    fn path(&self, key: &SegmentKey) -> PathBuf {
        self.root.join(key.name())
    }
}

fn fsync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

struct LocalSink {
    file: File,
    dir: PathBuf,
    root: PathBuf,
}

impl SegmentSink for LocalSink {
    fn write_at(&mut self, offset: u64, buf: &[u8]) -> io::Result<()> {
        self.file.write_all_at(buf, offset)
    }

    fn set_len(&mut self, len: u64) -> io::Result<()> {
        self.file.set_len(len)
    }

    fn sync_data(&mut self) -> io::Result<()> {
        self.file.sync_data()
    }

    fn sync_all(&mut self) -> io::Result<()> {
        self.file.sync_all()
    }

    fn sync_name(&mut self) -> io::Result<()> {
        // The camera directory may have been created for this segment: sync the root's entry too.
        fsync_dir(&self.dir)?;
        fsync_dir(&self.root)
    }
}

struct LocalReader(File);

impl ReadAt for LocalReader {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.0.read_exact_at(buf, offset)
    }
}

/// Most threads listing camera directories at once.
const LIST_THREADS: usize = 4;

/// Lists one camera directory (`name` is its file name) into `out`.
fn list_dir(cam_name: &str, path: &Path, out: &mut Vec<Listed>) -> io::Result<()> {
    let entries = match fs::read_dir(path) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()), // removed meanwhile
        Err(e) => return Err(e),
    };
    for f in entries {
        let f = f?;
        let name = format!("{cam_name}/{}", f.file_name().to_string_lossy());
        let meta = match f.metadata() {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        let key = if meta.is_file() { SegmentKey::parse(&name) } else { None };
        out.push(Listed { name, key, size: meta.len() });
    }
    Ok(())
}

impl SegmentBackend for LocalDir {
    fn location(&self, key: &SegmentKey) -> PathBuf {
        self.path(key)
    }

    fn root(&self) -> PathBuf {
        self.root.clone()
    }

    fn create(&self, key: &SegmentKey) -> io::Result<Box<dyn SegmentSink>> {
        let path = self.path(key);
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_else(|| self.root.clone());
        crate::private::create_dir_all(&dir)?;
        let file = crate::private::file_options().write(true).create_new(true).open(&path)?;
        Ok(Box::new(LocalSink { file, dir, root: self.root.clone() }))
    }

    fn open(&self, key: &SegmentKey) -> io::Result<Box<dyn ReadAt>> {
        Ok(Box::new(LocalReader(File::open(self.path(key))?)))
    }

    fn size(&self, key: &SegmentKey) -> io::Result<Option<u64>> {
        match fs::metadata(self.path(key)) {
            Ok(m) => Ok(Some(m.len())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn truncate(&self, key: &SegmentKey, len: u64) -> io::Result<()> {
        let f = OpenOptions::new().write(true).open(self.path(key))?;
        f.set_len(len)?;
        f.sync_all()
    }

    fn delete(&self, key: &SegmentKey) -> io::Result<bool> {
        match fs::remove_file(self.path(key)) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn list(&self) -> io::Result<Vec<Listed>> {
        let mut out = Vec::new();
        let mut dirs = Vec::new();
        for cam in fs::read_dir(&self.root)? {
            let cam = cam?;
            let cam_name = cam.file_name().to_string_lossy().into_owned();
            if !cam.file_type()?.is_dir() {
                out.push(Listed { name: cam_name, key: None, size: cam.metadata()?.len() });
                continue;
            }
            dirs.push((cam_name, cam.path()));
        }
        // A month of 16 cameras is ~700k files, each needing a stat for its size: camera directories are
        // listed on a few threads at once (start-up recovery waits for this).
        let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).clamp(1, LIST_THREADS);
        let next = std::sync::atomic::AtomicUsize::new(0);
        let (next, dirs) = (&next, &dirs);
        let lists: Vec<io::Result<Vec<Listed>>> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..threads.min(dirs.len()))
                .map(|_| {
                    scope.spawn(move || -> io::Result<Vec<Listed>> {
                        let mut mine = Vec::new();
                        loop {
                            let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            let Some((name, path)) = dirs.get(i) else { break };
                            list_dir(name, path, &mut mine)?;
                        }
                        Ok(mine)
                    })
                })
                .collect();
            workers
                .into_iter()
                .map(|w| w.join().unwrap_or_else(|_| Err(io::Error::other("listing panicked"))))
                .collect()
        });
        for l in lists {
            out.extend(l?);
        }
        out.sort_unstable_by(|a, b| a.key.cmp(&b.key).then_with(|| a.name.cmp(&b.name)));
        Ok(out)
    }

    fn list_camera(&self, camera_id: i64) -> io::Result<Vec<SegmentKey>> {
        let entries = match fs::read_dir(self.root.join(camera_id.to_string())) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut out = Vec::new();
        for f in entries {
            let name = format!("{camera_id}/{}", f?.file_name().to_string_lossy());
            out.extend(SegmentKey::parse(&name));
        }
        Ok(out)
    }

    fn free_space(&self) -> io::Result<Option<u64>> {
        let st = rustix::fs::statvfs(&self.root)?;
        Ok(Some(st.f_bavail.saturating_mul(st.f_frsize)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_write_read_list_delete() {
        let dir = tempfile::tempdir().unwrap();
        let b = LocalDir::new(dir.path().join("segments")).unwrap();
        let k = SegmentKey { camera_id: 1, run_id: 2, seq: 3 };
        let mut s = b.create(&k).unwrap();
        s.write_at(0, b"hello world").unwrap();
        s.write_at(6, b"there").unwrap();
        s.sync_data().unwrap();
        s.sync_name().unwrap();
        assert_eq!(b.create(&k).err().map(|e| e.kind()), Some(io::ErrorKind::AlreadyExists));
        let r = b.open(&k).unwrap();
        let mut buf = [0u8; 11];
        r.read_at(0, &mut buf).unwrap();
        assert_eq!(&buf, b"hello there");
        assert!(r.read_at(5, &mut buf).is_err());
        assert_eq!(b.size(&k).unwrap(), Some(11));
        fs::write(dir.path().join("segments/1/notes.txt"), "x").unwrap();
        let l = b.list().unwrap();
        assert_eq!(l.len(), 2);
        assert!(l.iter().any(|x| x.key == Some(k) && x.size == 11));
        assert!(l.iter().any(|x| x.key.is_none() && x.name == "1/notes.txt"));
        b.truncate(&k, 5).unwrap();
        assert_eq!(b.size(&k).unwrap(), Some(5));
        assert!(b.delete(&k).unwrap());
        assert!(!b.delete(&k).unwrap());
        assert_eq!(b.size(&k).unwrap(), None);
        assert!(b.free_space().unwrap().unwrap() > 0);
    }
}
