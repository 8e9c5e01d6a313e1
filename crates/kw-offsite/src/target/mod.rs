//! The storage behind one `[[offsite]]` entry: S3-compatible ([`s3`]) or WebDAV ([`dav`]), with the same
//! four operations (upload a spool file, list, fetch, delete) so the worker and the CLI do not care which.
//!
//! Credentials come from the entry's `credentials_file` (`key = "..."`, `secret = "..."`) or from the
//! environment (`KEEPWATCH_OFFSITE_<NAME>_KEY` / `_SECRET`); they never appear in errors or logs.

mod dav;
mod s3;

use std::path::Path;
use std::time::Duration;

use kw_config::OffsiteConfig;

use crate::queue::{Job, Queue};
use crate::throttle::Throttle;
use crate::OffsiteError;

/// Longest wait for a connection to the target.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest silence from the target within a request.
pub(crate) const READ_TIMEOUT: Duration = Duration::from_secs(60);
/// The most objects a listing reads (retention and `offsite list`).
pub const MAX_LIST: usize = 200_000;

/// One object on the target.
#[derive(Clone, Debug, PartialEq)]
pub struct ObjectInfo {
    /// Relative to the target's root (what `offsite fetch` takes).
    pub name: String,
    pub size: u64,
    /// µs since the epoch, when the target says.
    pub modified: Option<i64>,
}

/// A connected target.
pub enum Target {
    S3(s3::S3),
    Dav(dav::Dav),
}

impl Target {
    /// Builds the client for `cfg` (reads its credentials; contacts nothing yet).
    pub fn open(cfg: &OffsiteConfig) -> Result<Target, OffsiteError> {
        Target::open_with(cfg, credentials(cfg)?)
    }

    /// Like [`Target::open`] with the credentials given (a setting tested before it is saved).
    pub fn open_with(cfg: &OffsiteConfig, creds: Option<(String, String)>) -> Result<Target, OffsiteError> {
        let scheme = cfg.target.split("://").next().unwrap_or_default().to_ascii_lowercase();
        match scheme.as_str() {
            "s3" => Ok(Target::S3(s3::S3::open(cfg, creds)?)),
            "webdav" | "webdavs" => Ok(Target::Dav(dav::Dav::open(cfg, creds)?)),
            _ => Err(OffsiteError::Config(format!("off-site target {:?}: unsupported scheme {scheme:?}", cfg.name))),
        }
    }

    /// Sends the spool file `file` as `job.object`, resuming an S3 multipart upload the queue remembers.
    pub(crate) async fn upload(
        &self,
        job: &Job,
        file: &Path,
        queue: &Queue,
        throttle: &mut Throttle,
    ) -> Result<(), OffsiteError> {
        match self {
            Target::S3(t) => t.upload(job, file, queue, throttle).await,
            Target::Dav(t) => t.upload(&job.object, file, throttle).await,
        }
    }

    /// Our objects on the target (`.age`), at most [`MAX_LIST`].
    pub async fn list(&self) -> Result<Vec<ObjectInfo>, OffsiteError> {
        let mut all = match self {
            Target::S3(t) => t.list().await?,
            Target::Dav(t) => t.list().await?,
        };
        all.retain(|o| crate::names::is_ours(&o.name));
        Ok(all)
    }

    /// Downloads `name` into `out` (created by the caller); returns its length.
    pub async fn fetch(&self, name: &str, out: &mut tokio::fs::File) -> Result<u64, OffsiteError> {
        check_name(name)?;
        match self {
            Target::S3(t) => t.fetch(name, out).await,
            Target::Dav(t) => t.fetch(name, out).await,
        }
    }

    /// A round trip that proves the target works as configured: a small object encrypted to `recipients`
    /// is written under a name of its own and removed again. Returns the object's name.
    pub async fn probe(&self, recipients: &[String]) -> Result<String, OffsiteError> {
        let rs = crate::crypt::recipients(recipients)?;
        let (_, data) = crate::crypt::encrypt(&rs, Vec::new(), |w| {
            std::io::Write::write_all(w, b"keepwatch off-site test\n")
                .map_err(|e| OffsiteError::io("encrypting the probe", e))
        })?;
        let name = format!("keepwatch-test-{}.age", uuid::Uuid::new_v4().simple());
        match self {
            Target::S3(t) => t.put_small(&name, data).await?,
            Target::Dav(t) => t.put_small(&name, data).await?,
        }
        self.delete(&name).await?;
        Ok(name)
    }

    /// Removes `name` (gone already is fine).
    pub async fn delete(&self, name: &str) -> Result<(), OffsiteError> {
        check_name(name)?;
        match self {
            Target::S3(t) => t.delete(name).await,
            Target::Dav(t) => t.delete(name).await,
        }
    }
}

/// An object name from outside (the command line): relative, no `..`, no empty segments, bounded.
fn check_name(name: &str) -> Result<(), OffsiteError> {
    let ok = !name.is_empty()
        && name.len() <= 512
        && !name.starts_with('/')
        && name.split('/').all(|s| !s.is_empty() && s != "." && s != "..")
        && !name.chars().any(|c| c.is_control() || c == '\\' || c == '?' || c == '#');
    if ok {
        Ok(())
    } else {
        Err(OffsiteError::Config(format!("{} is not an object name from `offsite list`", kw_logsafe::Untrusted(name))))
    }
}

/// (key, secret) from the credentials file or the environment; `None` when neither has any.
pub fn credentials(cfg: &OffsiteConfig) -> Result<Option<(String, String)>, OffsiteError> {
    if let Some(path) = &cfg.credentials_file {
        let meta = std::fs::metadata(path).map_err(|e| OffsiteError::io(path.display(), e))?;
        if meta.len() > 64 * 1024 {
            return Err(OffsiteError::Config(format!("{}: too large for a credentials file", path.display())));
        }
        let text = std::fs::read_to_string(path).map_err(|e| OffsiteError::io(path.display(), e))?;
        // toml_edit can panic on some malformed input (see kw-config's guarded parse): caught, an error.
        let parsed = std::panic::catch_unwind(|| text.parse::<toml_edit::DocumentMut>());
        let doc = parsed.ok().and_then(Result::ok).ok_or_else(|| {
            OffsiteError::Config(format!("{}: expected key = \"...\" and secret = \"...\" (TOML)", path.display()))
        })?;
        let get = |k: &str| doc.get(k).and_then(|v| v.as_str()).map(str::to_owned);
        return match (get("key"), get("secret")) {
            (Some(k), Some(s)) => Ok(Some((k, s))),
            _ => Err(OffsiteError::Config(format!("{}: needs both key and secret", path.display()))),
        };
    }
    let (k, s) = cfg.credentials_env();
    match (std::env::var(&k), std::env::var(&s)) {
        (Ok(key), Ok(secret)) => Ok(Some((key, secret))),
        (Err(_), Err(_)) => Ok(None),
        _ => Err(OffsiteError::Config(format!("set both {k} and {s}, or neither"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_outside() {
        for ok in ["front-door/20261203T120000Z-42-clip.mp4.age", "0123abcd.age"] {
            assert!(check_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "/etc/passwd", "a/../b", "a//b", "a?x", "a\nb"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
    }
}
