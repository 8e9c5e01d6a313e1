//! Signed, expiring links (`?exp=&sig=`) for the GET media routes: what alerts carry, so a picture in a
//! push message or an e-mail opens without a login and without putting an API token into a message that
//! travels through other people's servers.
//!
//! `sig` is the first 16 bytes of HMAC-SHA256(key, "PATH\nEXP"), base64url; `exp` is unix seconds. The key is
//! 32 random bytes kept in the store directory (`link.key`, mode 0600), made on first use, so links survive
//! restarts; deleting the file revokes every link. A link opens exactly its own path until it expires.

use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::path::Path;

/// How long the links in alerts stay valid.
pub const LINK_TTL_SECS: i64 = 7 * 24 * 3600;
const KEY_FILE: &str = "link.key";

#[derive(Clone)]
pub struct LinkKey(Vec<u8>);

impl LinkKey {
    /// Reads the store's link key, creating it when missing.
    pub fn load_or_create(store_dir: &Path) -> std::io::Result<LinkKey> {
        let path = store_dir.join(KEY_FILE);
        match std::fs::read(&path) {
            Ok(k) if k.len() >= 32 => return Ok(LinkKey(k)),
            Ok(_) => tracing::warn!("{} is too short; making a new one (old links stop working)", path.display()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let mut key = vec![0u8; 32];
        getrandom::getrandom(&mut key).map_err(|e| std::io::Error::other(e.to_string()))?;
        let tmp = store_dir.join(format!("{KEY_FILE}.tmp"));
        {
            use std::io::Write;
            let mut opts = std::fs::OpenOptions::new();
            opts.write(true).create(true).truncate(true);
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

    fn mac(&self, path: &str, exp: i64) -> String {
        let mut m = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        m.update(path.as_bytes());
        m.update(b"\n");
        m.update(exp.to_string().as_bytes());
        let out = m.finalize().into_bytes();
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&out[..16])
    }

    /// `path?exp=..&sig=..`, valid until `exp` (unix seconds).
    pub fn sign(&self, path: &str, exp: i64) -> String {
        format!("{path}?exp={exp}&sig={}", self.mac(path, exp))
    }

    /// Whether `sig` signs `path` until `exp`, and `exp` is not past `now` (unix seconds).
    pub fn verify(&self, path: &str, exp: i64, sig: &str, now: i64) -> bool {
        exp >= now && kw_auth::csrf_matches(&self.mac(path, exp), sig)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_verify_expire_tamper() {
        let dir = tempfile::tempdir().unwrap();
        let k = LinkKey::load_or_create(dir.path()).unwrap();
        let again = LinkKey::load_or_create(dir.path()).unwrap();
        let url = k.sign("/api/events/7/snapshot.jpg", 1000);
        let (path, q) = url.split_once('?').unwrap();
        let sig = q.split("sig=").nth(1).unwrap();
        assert!(again.verify(path, 1000, sig, 999), "the key survives a restart");
        assert!(!k.verify(path, 1000, sig, 1001), "expired");
        assert!(!k.verify("/api/events/8/snapshot.jpg", 1000, sig, 999), "another path");
        assert!(!k.verify(path, 2000, sig, 999), "another expiry");
        assert!(!k.verify(path, 1000, "AAAA", 999));
    }
}
