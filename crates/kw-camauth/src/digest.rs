//! HTTP Digest (RFC 7616, and the RFC 2069 form without `qop` that old cameras still send): which
//! challenges keepwatch answers, and the `Authorization` value that answers one.
//!
//! Answered: algorithms MD5, SHA-256 and their `-sess` forms (MD5 when none is named), `qop=auth` or no
//! `qop` at all. Not answered: `qop=auth-int` alone (it would need the request body hashed) and other
//! algorithms (SHA-512-256: no camera seen uses it). `userhash` is read but the user name is sent plain,
//! which RFC 7616 section 3.4.4 leaves to the client; `charset` is ignored (user names are sent as given).
//!
//! The nonce count and the cnonce are the caller's (see [`crate::login`]): given explicitly here, so the
//! RFC's examples are tests.

use md5::Md5;
use sha2::{Digest as _, Sha256};

use crate::challenge::Challenge;
use crate::Credentials;

/// A Digest hash algorithm keepwatch can answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algorithm {
    /// `MD5`, the default when a challenge names none.
    Md5,
    /// `MD5-sess`.
    Md5Sess,
    /// `SHA-256`.
    Sha256,
    /// `SHA-256-sess`.
    Sha256Sess,
}

impl Algorithm {
    /// The algorithm named `name` (any case); `None` for one keepwatch cannot answer.
    pub fn parse(name: &str) -> Option<Algorithm> {
        match name.to_ascii_uppercase().as_str() {
            "MD5" => Some(Algorithm::Md5),
            "MD5-SESS" => Some(Algorithm::Md5Sess),
            "SHA-256" => Some(Algorithm::Sha256),
            "SHA-256-SESS" => Some(Algorithm::Sha256Sess),
            _ => None,
        }
    }

    /// The name as RFC 7616 spells it.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Md5Sess => "MD5-sess",
            Algorithm::Sha256 => "SHA-256",
            Algorithm::Sha256Sess => "SHA-256-sess",
        }
    }

    /// The `-sess` forms hash the nonces into HA1.
    pub fn is_sess(self) -> bool {
        matches!(self, Algorithm::Md5Sess | Algorithm::Sha256Sess)
    }

    /// Preference when a camera offers several challenges: higher is stronger.
    pub fn strength(self) -> u8 {
        match self {
            Algorithm::Sha256 | Algorithm::Sha256Sess => 2,
            Algorithm::Md5 | Algorithm::Md5Sess => 1,
        }
    }

    /// The hash of `data` in lower-case hex.
    fn hash(self, data: &str) -> String {
        match self {
            Algorithm::Md5 | Algorithm::Md5Sess => hex(&Md5::digest(data.as_bytes())),
            Algorithm::Sha256 | Algorithm::Sha256Sess => hex(&Sha256::digest(data.as_bytes())),
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    s
}

/// A Digest challenge keepwatch can answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DigestChallenge {
    /// `realm` (empty when the camera sends none).
    pub realm: String,
    /// `nonce`, never empty.
    pub nonce: String,
    /// `opaque`, sent back unchanged.
    pub opaque: Option<String>,
    /// The hash algorithm.
    pub algorithm: Algorithm,
    /// `qop=auth` offered; otherwise the RFC 2069 form without `nc` and `cnonce` is answered.
    pub qop_auth: bool,
    /// `stale=true`: the last request's nonce expired, the password was right.
    pub stale: bool,
    /// `userhash=true`: the camera would also accept a hashed user name (keepwatch sends it plain).
    pub userhash: bool,
}

impl DigestChallenge {
    /// Reads one `WWW-Authenticate` value; `None` unless it is a Digest challenge keepwatch can answer.
    pub fn parse(value: impl AsRef<[u8]>) -> Option<DigestChallenge> {
        DigestChallenge::from_challenge(&Challenge::parse(value)?)
    }

    /// The Digest challenge in `c`, when keepwatch can answer it: a Digest scheme with a nonce, a known
    /// algorithm, and `qop` either absent or offering `auth`.
    pub fn from_challenge(c: &Challenge) -> Option<DigestChallenge> {
        if c.scheme() != "digest" {
            return None;
        }
        let nonce = c.param("nonce").filter(|n| !n.is_empty())?;
        let algorithm = Algorithm::parse(c.param("algorithm").unwrap_or("MD5"))?;
        let qop = c.param("qop");
        let qop_auth = qop.is_some_and(|q| q.split(',').any(|v| v.trim().eq_ignore_ascii_case("auth")));
        if qop.is_some() && !qop_auth {
            return None; // auth-int only: keepwatch does not hash bodies
        }
        let flag = |name: &str| c.param(name).is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
        Some(DigestChallenge {
            realm: c.param("realm").unwrap_or_default().to_owned(),
            nonce: nonce.to_owned(),
            opaque: c.param("opaque").map(str::to_owned),
            algorithm,
            qop_auth,
            stale: flag("stale"),
            userhash: flag("userhash"),
        })
    }

    /// The `Authorization` value answering this challenge for a request of `method` to `uri` (path and
    /// query, exactly as in the request line), as the `nc`-th request under this nonce, with client nonce
    /// `cnonce` (see [`cnonce`]).
    pub fn authorization(&self, creds: &Credentials, method: &str, uri: &str, nc: u32, cnonce: &str) -> String {
        let alg = self.algorithm;
        let nc = format!("{nc:08x}");
        let mut ha1 = alg.hash(&format!("{}:{}:{}", creds.username, self.realm, creds.password));
        if alg.is_sess() {
            ha1 = alg.hash(&format!("{ha1}:{}:{cnonce}", self.nonce));
        }
        let ha2 = alg.hash(&format!("{method}:{uri}"));
        let response = if self.qop_auth {
            alg.hash(&format!("{ha1}:{}:{nc}:{cnonce}:auth:{ha2}", self.nonce))
        } else {
            alg.hash(&format!("{ha1}:{}:{ha2}", self.nonce))
        };
        let mut h = format!(
            "Digest username=\"{}\", realm=\"{}\", uri=\"{}\", algorithm={}, nonce=\"{}\"",
            quote(&creds.username),
            quote(&self.realm),
            quote(uri),
            alg.name(),
            quote(&self.nonce)
        );
        if self.qop_auth {
            h += &format!(", nc={nc}, cnonce=\"{}\", qop=auth", quote(cnonce));
        }
        h += &format!(", response=\"{response}\"");
        if let Some(o) = &self.opaque {
            h += &format!(", opaque=\"{}\"", quote(o));
        }
        h
    }
}

/// A quoted-string's inside: `\` and `"` escaped.
fn quote(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// A fresh client nonce: 16 random bytes in hex. It only has to differ between requests, so when the
/// operating system has no randomness (never seen on a real system) a counter and the time stand in.
pub fn cnonce() -> String {
    let mut b = [0u8; 16];
    if getrandom::getrandom(&mut b).is_err() {
        use std::sync::atomic::{AtomicU64, Ordering};
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        b[..8].copy_from_slice(&n.to_le_bytes());
        b[8..].copy_from_slice(&(t.as_nanos() as u64).to_le_bytes());
    }
    hex(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7616 section 3.9.1: the same request answered with SHA-256 and with MD5.
    const RFC_CHALLENGES: [&str; 2] = [
        "Digest realm=\"http-auth@example.org\", qop=\"auth, auth-int\", algorithm=SHA-256, \
         nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", \
         opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"",
        "Digest realm=\"http-auth@example.org\", qop=\"auth, auth-int\", algorithm=MD5, \
         nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", \
         opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"",
    ];
    const RFC_CNONCE: &str = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";

    fn mufasa() -> Credentials {
        Credentials { username: "Mufasa".into(), password: "Circle of Life".into() }
    }

    #[test]
    fn rfc7616_sha256_example() {
        let d = DigestChallenge::parse(RFC_CHALLENGES[0]).unwrap();
        assert_eq!(d.algorithm, Algorithm::Sha256);
        let h = d.authorization(&mufasa(), "GET", "/dir/index.html", 1, RFC_CNONCE);
        assert!(h.contains("response=\"753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1\""), "{h}");
        assert!(h.contains("nc=00000001") && h.contains("qop=auth,") && h.contains("algorithm=SHA-256"), "{h}");
        assert!(h.contains("opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\""), "{h}");
        assert!(h.contains("uri=\"/dir/index.html\"") && h.contains("username=\"Mufasa\""), "{h}");
        assert!(h.contains("realm=\"http-auth@example.org\""), "{h}");
    }

    #[test]
    fn rfc7616_md5_example() {
        let d = DigestChallenge::parse(RFC_CHALLENGES[1]).unwrap();
        assert_eq!(d.algorithm, Algorithm::Md5);
        let h = d.authorization(&mufasa(), "GET", "/dir/index.html", 1, RFC_CNONCE);
        assert!(h.contains("response=\"8ca523f5e9506fed4657c9700eebdbec\""), "{h}");
    }

    #[test]
    fn rfc2069_form_and_an_onvif_answer() {
        // No qop: response = H(HA1:nonce:HA2), no nc or cnonce (RFC 2617 section 3.2.2.1, computed with
        // Python's hashlib).
        let d = DigestChallenge::parse("Digest realm=\"cam\", nonce=\"abc123\"").unwrap();
        assert!(!d.qop_auth);
        let h =
            d.authorization(&Credentials { username: "admin".into(), password: "s3cret".into() }, "GET", "/", 1, "x");
        assert!(!h.contains("nc=") && !h.contains("cnonce") && h.contains("algorithm=MD5"), "{h}");
        assert!(h.contains("response=\"d7c0292fa8f9edb6b85bb8501f5ed78a\""), "{h}");

        // What kw-onvif answers (its former test, same figures): MD5, qop=auth, opaque with a quote in it.
        let ch = DigestChallenge::parse(r#"Digest realm="cam", qop="auth,auth-int", nonce="abc123", opaque="x\"y""#)
            .unwrap();
        let creds = Credentials { username: "admin".into(), password: "s3cret".into() };
        let a = ch.authorization(&creds, "POST", "/onvif/device_service", 1, "0a4f113b");
        // Computed independently with Python's hashlib (RFC 2617 MD5, qop=auth).
        assert!(a.contains(r#"response="cd89c09f25a7450742adf90b5db4c67f""#), "{a}");
        assert!(a.contains("nc=00000001") && a.contains(r#"opaque="x\"y""#), "{a}");
    }

    #[test]
    fn sess_forms_hash_the_nonces_into_ha1() {
        let plain = DigestChallenge::parse("Digest realm=\"r\", nonce=\"n\", qop=auth, algorithm=SHA-256").unwrap();
        let sess = DigestChallenge { algorithm: Algorithm::Sha256Sess, ..plain.clone() };
        let c = mufasa();
        let (a, b) = (plain.authorization(&c, "GET", "/", 1, "c"), sess.authorization(&c, "GET", "/", 1, "c"));
        assert!(b.contains("algorithm=SHA-256-sess"), "{b}");
        assert_ne!(a, b.replace("SHA-256-sess", "SHA-256"));
        // MD5-sess, computed with Python's hashlib: HA1 = MD5(MD5(user:realm:pass):nonce:cnonce).
        let d = DigestChallenge::parse("Digest realm=\"r\", nonce=\"n\", qop=auth, algorithm=MD5-sess").unwrap();
        let h = d.authorization(&c, "GET", "/", 1, "c");
        assert!(h.contains("response=\"8277a2c8b15cdd087d06bc9356aa502a\""), "{h}");
    }

    #[test]
    fn what_is_not_answered() {
        assert!(DigestChallenge::parse("Basic realm=\"x\"").is_none());
        assert!(DigestChallenge::parse("Digest realm=\"x\", algorithm=SHA-512-256, nonce=\"n\"").is_none());
        assert!(DigestChallenge::parse("Digest realm=\"x\"").is_none(), "no nonce");
        assert!(DigestChallenge::parse("Digest realm=\"x\", nonce=\"\"").is_none(), "empty nonce");
        assert!(DigestChallenge::parse("Digest nonce=\"n\", qop=\"auth-int\"").is_none(), "auth-int only");
        assert!(DigestChallenge::parse("Digest ,,,=\"").is_none());
        let d = DigestChallenge::parse("digest NONCE=n, Stale=TRUE, userhash=true, algorithm=md5").unwrap();
        assert!(d.stale && d.userhash && d.algorithm == Algorithm::Md5 && d.realm.is_empty());
    }

    #[test]
    fn quotes_in_names_are_escaped_and_cnonces_differ() {
        let d = DigestChallenge::parse("Digest realm=\"a\\\"b\", nonce=\"n\"").unwrap();
        let c = Credentials { username: "x\"y\\z".into(), password: "p".into() };
        let h = d.authorization(&c, "GET", "/", 1, "c");
        assert!(h.starts_with(r#"Digest username="x\"y\\z", realm="a\"b""#), "{h}");
        let (a, b) = (cnonce(), cnonce());
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
    }
}
