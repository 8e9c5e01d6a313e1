//! Signed, expiring links (`?exp=&sig=`) for the GET media routes: what alerts carry, so a picture in a
//! push message or an e-mail opens without a login and without putting an API token into a message that
//! travels through other people's servers.
//!
//! `sig` is the first 16 bytes of HMAC-SHA256(key, "kw-link-2\nPATH\nQUERY"), base64url, where QUERY is the
//! link's canonical query: every `name=value` pair but `sig` (so `exp` too), exactly as sent, sorted. `exp`
//! is unix seconds. The signature covers the query as well as the path, so nobody can add `?at=` to a
//! snapshot link, or widen a `video.mp4` link's `start`/`end`, and keep the signature valid. A link opens
//! exactly its own path and query until it expires.
//!
//! Links made before the query was signed (HMAC of "PATH\nEXP") still open while they last, but only
//! with no query besides `exp` and `sig`, where there is nothing else to change.
//!
//! The key is 32 random bytes kept in the store directory (`link.key`, mode 0600: whoever reads it can
//! sign links), made on first use, so links survive restarts; deleting the file revokes every link. A key
//! file found readable by others is made private again when it is read.

use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::path::Path;

/// How long the links in alerts stay valid.
pub const LINK_TTL_SECS: i64 = 7 * 24 * 3600;
/// The key's file in the store directory (also carried by `keepwatch backup`).
pub(crate) const KEY_FILE: &str = "link.key";
/// What the signed text starts with (the older form, path and expiry alone, has no such line).
const DOMAIN: &str = "kw-link-2";

#[derive(Clone)]
pub struct LinkKey(Vec<u8>);

impl LinkKey {
    /// Reads the store's link key, creating it (0600) when missing.
    /// A key from bytes (the fuzz targets sign and check with a fixed one).
    #[cfg(feature = "fuzzing")]
    pub fn from_bytes(key: &[u8]) -> LinkKey {
        LinkKey(key.to_vec())
    }

    pub fn load_or_create(store_dir: &Path) -> std::io::Result<LinkKey> {
        let path = store_dir.join(KEY_FILE);
        match std::fs::read(&path) {
            Ok(k) if k.len() >= 32 => {
                make_private(&path)?;
                return Ok(LinkKey(k));
            }
            Ok(_) => tracing::warn!("{} is too short; making a new one (old links stop working)", path.display()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let mut key = vec![0u8; 32];
        getrandom::getrandom(&mut key).map_err(|e| std::io::Error::other(e.to_string()))?;
        let tmp = store_dir.join(format!("{KEY_FILE}.tmp"));
        // A leftover temporary file (a crash while writing) may have any mode: start afresh.
        match std::fs::remove_file(&tmp) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        {
            use std::io::Write;
            let mut opts = std::fs::OpenOptions::new();
            opts.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                opts.mode(0o600);
            }
            let mut f = opts.open(&tmp)?;
            f.write_all(&key)?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, &path)?;
        Ok(LinkKey(key))
    }

    fn mac(&self, parts: &[&[u8]]) -> String {
        let mut m = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        for (i, part) in parts.iter().enumerate() {
            if i > 0 {
                m.update(b"\n");
            }
            m.update(part);
        }
        let out = m.finalize().into_bytes();
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&out[..16])
    }

    /// `target` (a path, with or without a query) signed until `exp` (unix seconds):
    /// `path?query&exp=..&sig=..`.
    pub fn sign(&self, target: &str, exp: i64) -> String {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let mut pairs: Vec<&str> =
            query.split('&').filter(|p| !p.is_empty() && !is_param(p, "exp") && !is_param(p, "sig")).collect();
        let exp_pair = format!("exp={exp}");
        pairs.push(&exp_pair);
        let sig = self.mac(&[DOMAIN.as_bytes(), path.as_bytes(), canonical(&pairs).as_bytes()]);
        format!("{path}?{}&sig={sig}", pairs.join("&"))
    }

    /// Whether `query` (the raw query string) holds exactly one `exp` and one `sig`, `sig` signs `path`
    /// with this query, and `exp` is not past `now` (unix seconds).
    pub fn verify(&self, path: &str, query: Option<&str>, now: i64) -> bool {
        let pairs: Vec<&str> = query.unwrap_or("").split('&').filter(|p| !p.is_empty()).collect();
        let (exps, sigs) = (param_values(&pairs, "exp"), param_values(&pairs, "sig"));
        let ([exp_text], [sig]) = (exps.as_slice(), sigs.as_slice()) else { return false };
        let Ok(exp) = exp_text.parse::<i64>() else { return false };
        if exp < now {
            return false;
        }
        let signed: Vec<&str> = pairs.iter().copied().filter(|p| !is_param(p, "sig")).collect();
        let current = self.mac(&[DOMAIN.as_bytes(), path.as_bytes(), canonical(&signed).as_bytes()]);
        if kw_auth::csrf_matches(&current, sig) {
            return true;
        }
        // The older form: path and expiry only, so only a link that carries nothing else.
        signed.len() == 1 && kw_auth::csrf_matches(&self.mac(&[path.as_bytes(), exp_text.as_bytes()]), sig)
    }
}

/// Whether the query pair `pair` (`name=value` or `name`) is the parameter `name`.
fn is_param(pair: &str, name: &str) -> bool {
    pair.split_once('=').map_or(pair, |(n, _)| n) == name
}

/// The values of the parameter `name` among `pairs`.
fn param_values<'a>(pairs: &[&'a str], name: &str) -> Vec<&'a str> {
    pairs.iter().filter_map(|p| p.strip_prefix(name)?.strip_prefix('=')).collect()
}

/// The canonical form of a query's pairs: sorted, joined by `&`.
fn canonical(pairs: &[&str]) -> String {
    let mut sorted = pairs.to_vec();
    sorted.sort_unstable();
    sorted.join("&")
}

/// Takes read and write rights from everyone but the owner (a key file from before keepwatch made it
/// private, or one copied in with the wrong mode).
fn make_private(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)?.permissions().mode();
        if mode & 0o077 != 0 {
            tracing::warn!("{} was readable by others (mode {:o}); making it 0600", path.display(), mode & 0o777);
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(url: &str) -> (&str, &str) {
        url.split_once('?').unwrap()
    }

    #[test]
    fn sign_verify_expire_tamper() {
        let dir = tempfile::tempdir().unwrap();
        let k = LinkKey::load_or_create(dir.path()).unwrap();
        let again = LinkKey::load_or_create(dir.path()).unwrap();
        let url = k.sign("/api/events/7/snapshot.jpg", 1000);
        let (path, q) = split(&url);
        assert!(q.starts_with("exp=1000&sig="), "{q}");
        assert!(again.verify(path, Some(q), 999), "the key survives a restart");
        assert!(k.verify(path, Some(q), 1000));
        assert!(!k.verify(path, Some(q), 1001), "expired");
        assert!(!k.verify("/api/events/8/snapshot.jpg", Some(q), 999), "another path");
        assert!(!k.verify(path, Some(&q.replace("exp=1000", "exp=2000")), 999), "another expiry");
        assert!(!k.verify(path, Some("exp=1000&sig=AAAA"), 999));
        assert!(!k.verify(path, None, 0));
        assert!(!k.verify(path, Some("exp=x&sig=AAAA"), 0));
        // The order of the pairs does not matter; a second exp or sig does.
        let sig = q.split("sig=").nth(1).unwrap();
        assert!(k.verify(path, Some(&format!("sig={sig}&exp=1000")), 999));
        assert!(!k.verify(path, Some(&format!("{q}&exp=5000")), 999));
        assert!(!k.verify(path, Some(&format!("{q}&sig={sig}")), 999));
    }

    #[test]
    fn the_query_is_signed_too() {
        let dir = tempfile::tempdir().unwrap();
        let k = LinkKey::load_or_create(dir.path()).unwrap();
        let url = k.sign("/api/cameras/door/video.mp4?start=2026-01-01T10:00:00Z&end=2026-01-01T10:01:00Z", 1000);
        let (path, q) = split(&url);
        assert_eq!(path, "/api/cameras/door/video.mp4");
        assert!(q.starts_with("start=2026-01-01T10:00:00Z&end=2026-01-01T10:01:00Z&exp=1000&sig="), "{q}");
        assert!(k.verify(path, Some(q), 999));
        // Nothing can be added, changed or left out.
        assert!(!k.verify(path, Some(&format!("{q}&token=x")), 999));
        assert!(!k.verify(path, Some(&q.replace("10:01:00Z", "23:59:59Z")), 999), "a wider range");
        assert!(!k.verify(path, Some(&q.replace("start=2026-01-01T10:00:00Z&", "")), 999));
        // A snapshot link cannot be turned into any picture of the past.
        let url = k.sign("/api/events/7/snapshot.jpg", 1000);
        let (path, q) = split(&url);
        assert!(!k.verify(path, Some(&format!("at=2026-01-01T00:00:00Z&{q}")), 999));
        assert!(!k.verify(path, Some(&format!("{q}&at=2026-01-01T00:00:00Z")), 999));
    }

    #[test]
    fn links_from_before_the_query_was_signed_open_with_nothing_added() {
        let dir = tempfile::tempdir().unwrap();
        let k = LinkKey::load_or_create(dir.path()).unwrap();
        let path = "/api/cameras/door/snapshot.jpg";
        let old_sig = k.mac(&[path.as_bytes(), b"1000"]);
        assert!(k.verify(path, Some(&format!("exp=1000&sig={old_sig}")), 999));
        assert!(!k.verify(path, Some(&format!("exp=1000&sig={old_sig}")), 1001), "expired");
        assert!(!k.verify(path, Some(&format!("at=2026-01-01T00:00:00Z&exp=1000&sig={old_sig}")), 999));
        assert!(!k.verify(path, Some(&format!("exp=1000&sig={old_sig}&token=x")), 999));
    }

    #[cfg(unix)]
    #[test]
    fn the_key_file_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join(KEY_FILE);
        // A leftover temporary file readable by everyone does not lend its mode to a new key.
        let tmp = dir.path().join(format!("{KEY_FILE}.tmp"));
        std::fs::write(&tmp, b"half").unwrap();
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o644)).unwrap();
        let k = LinkKey::load_or_create(dir.path()).unwrap();
        assert_eq!(mode(&key), 0o600);
        assert!(!tmp.exists());
        // A key found readable by others is made private and kept (its links keep working).
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        let again = LinkKey::load_or_create(dir.path()).unwrap();
        assert_eq!(mode(&key), 0o600);
        assert_eq!(again.0, k.0);
    }
}
