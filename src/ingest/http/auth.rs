//! HTTP Basic (RFC 7617) and Digest (RFC 7616: MD5 and SHA-256, their `-sess` forms, `qop=auth`) for
//! cameras that speak plain HTTP.
//!
//! Why by hand: the cameras this serves are old and odd (a realm with spaces, a challenge without `qop`,
//! `stale=TRUE` in capitals), and keepwatch needs to know *why* a request was refused (no credentials, wrong
//! ones, or merely an old nonce) to choose between re-authenticating at once and backing off. The state
//! lives as long as the camera's source: after the first challenge every request (each MJPEG reconnect,
//! each snapshot) carries credentials up front, with the Digest nonce count going up, so a camera is not
//! asked twice per picture.

use base64::Engine as _;
use md5::Md5;
use sha2::{Digest as _, Sha256};

/// What the source does after a 401.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Send the request again with the new challenge's credentials.
    Retry,
    /// Give up: the text says why (it never holds the password).
    Fail(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Algorithm {
    Md5,
    Md5Sess,
    Sha256,
    Sha256Sess,
}

impl Algorithm {
    fn parse(text: &str) -> Option<Algorithm> {
        match text.to_ascii_uppercase().as_str() {
            "MD5" => Some(Algorithm::Md5),
            "MD5-SESS" => Some(Algorithm::Md5Sess),
            "SHA-256" => Some(Algorithm::Sha256),
            "SHA-256-SESS" => Some(Algorithm::Sha256Sess),
            _ => None,
        }
    }
    fn name(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Md5Sess => "MD5-sess",
            Algorithm::Sha256 => "SHA-256",
            Algorithm::Sha256Sess => "SHA-256-sess",
        }
    }
    fn hash(self, data: &str) -> String {
        match self {
            Algorithm::Md5 | Algorithm::Md5Sess => hex(&Md5::digest(data.as_bytes())),
            Algorithm::Sha256 | Algorithm::Sha256Sess => hex(&Sha256::digest(data.as_bytes())),
        }
    }
    fn sess(self) -> bool {
        matches!(self, Algorithm::Md5Sess | Algorithm::Sha256Sess)
    }
    /// Preference when a camera offers several challenges.
    fn strength(self) -> u8 {
        match self {
            Algorithm::Sha256 | Algorithm::Sha256Sess => 2,
            Algorithm::Md5 | Algorithm::Md5Sess => 1,
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// One Digest challenge and the counters that go with its nonce.
#[derive(Clone, Debug)]
struct DigestState {
    realm: String,
    nonce: String,
    opaque: Option<String>,
    algorithm: Algorithm,
    /// `qop=auth` offered (otherwise the RFC 2069 form without nc/cnonce).
    qop_auth: bool,
    /// Nonce count: requests made with this nonce.
    nc: u32,
}

#[derive(Clone, Debug)]
enum Scheme {
    /// No challenge seen yet: the first request goes out without credentials.
    Unknown,
    Basic,
    Digest(DigestState),
}

/// Credentials plus what the camera asked for last. One per camera source, shared by its requests.
#[derive(Clone)]
pub struct Authenticator {
    creds: Option<(String, String)>,
    scheme: Scheme,
    /// 401s in a row (any scheme): credentials were sent and refused.
    refused_in_a_row: u32,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator").field("user", &self.creds.as_ref().map(|c| &c.0)).finish_non_exhaustive()
    }
}

impl Authenticator {
    pub fn new(username: Option<&str>, password: Option<&str>) -> Self {
        let creds = match (username, password) {
            (None, None) => None,
            (u, p) => Some((u.unwrap_or_default().to_owned(), p.unwrap_or_default().to_owned())),
        };
        Authenticator { creds, scheme: Scheme::Unknown, refused_in_a_row: 0 }
    }

    /// The `Authorization` value for a request of `method` to `uri` (path and query), when the camera has
    /// asked for credentials before. Each call counts as one request (Digest `nc`).
    pub fn authorization(&mut self, method: &str, uri: &str) -> Option<String> {
        let (user, pass) = self.creds.as_ref()?;
        match &mut self.scheme {
            Scheme::Unknown => None,
            Scheme::Basic => {
                let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
                Some(format!("Basic {token}"))
            }
            Scheme::Digest(d) => {
                d.nc = d.nc.wrapping_add(1);
                let cnonce = cnonce();
                Some(digest_header(d, user, pass, method, uri, &cnonce))
            }
        }
    }

    /// The camera accepted a request.
    pub fn accepted(&mut self) {
        self.refused_in_a_row = 0;
    }

    /// The camera answered 401 with these `WWW-Authenticate` values: retry or give up.
    pub fn refused(&mut self, challenges: &[String]) -> Refusal {
        let sent = !matches!(self.scheme, Scheme::Unknown) && self.creds.is_some();
        self.refused_in_a_row = self.refused_in_a_row.saturating_add(1);
        let Some(best) = pick(challenges) else {
            return Refusal::Fail(if challenges.is_empty() {
                "the camera answered 401 without saying how to log in".into()
            } else {
                format!("the camera asks for an unsupported login scheme ({})", scheme_names(challenges))
            });
        };
        if self.creds.is_none() {
            return Refusal::Fail("the camera asks for a username and password; set username and password".into());
        }
        let stale = matches!(&best, Scheme::Digest(_)) && is_stale(challenges);
        // New nonce (stale, or the camera rotates nonces) after a success: retry with it once.
        let retry = match (&self.scheme, &best) {
            (_, _) if !sent => true,
            (Scheme::Digest(old), Scheme::Digest(new)) => {
                (stale || old.nonce != new.nonce) && self.refused_in_a_row <= 2
            }
            _ => false,
        };
        self.scheme = best;
        if retry {
            Refusal::Retry
        } else {
            Refusal::Fail("the camera refused the username and password".into())
        }
    }
}

fn cnonce() -> String {
    let mut b = [0u8; 16];
    if getrandom::getrandom(&mut b).is_err() {
        // No randomness: a time-derived cnonce still works (it only has to differ between requests).
        let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        b[..16].copy_from_slice(&t.as_nanos().to_le_bytes());
    }
    hex(&b)
}

fn digest_header(d: &DigestState, user: &str, pass: &str, method: &str, uri: &str, cnonce: &str) -> String {
    let nc = format!("{:08x}", d.nc);
    let alg = d.algorithm;
    let mut ha1 = alg.hash(&format!("{user}:{}:{pass}", d.realm));
    if alg.sess() {
        ha1 = alg.hash(&format!("{ha1}:{}:{cnonce}", d.nonce));
    }
    let ha2 = alg.hash(&format!("{method}:{uri}"));
    let response = if d.qop_auth {
        alg.hash(&format!("{ha1}:{}:{nc}:{cnonce}:auth:{ha2}", d.nonce))
    } else {
        alg.hash(&format!("{ha1}:{}:{ha2}", d.nonce))
    };
    let mut h = format!(
        "Digest username=\"{}\", realm=\"{}\", uri=\"{}\", algorithm={}, nonce=\"{}\"",
        quote(user),
        quote(&d.realm),
        quote(uri),
        alg.name(),
        quote(&d.nonce)
    );
    if d.qop_auth {
        h += &format!(", nc={nc}, cnonce=\"{cnonce}\", qop=auth");
    }
    h += &format!(", response=\"{response}\"");
    if let Some(o) = &d.opaque {
        h += &format!(", opaque=\"{}\"", quote(o));
    }
    h
}

fn quote(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// A challenge: its scheme (lower case) and parameters (names lower case).
fn parse_challenge(text: &str) -> Option<(String, Vec<(String, String)>)> {
    let text = text.trim();
    let (scheme, rest) = match text.find(char::is_whitespace) {
        Some(i) => (&text[..i], &text[i..]),
        None => (text, ""),
    };
    if scheme.is_empty() {
        return None;
    }
    let mut params = Vec::new();
    let b = rest.as_bytes();
    let mut i = 0;
    loop {
        while i < b.len() && (b[i] == b',' || b[i].is_ascii_whitespace()) {
            i += 1;
        }
        if i >= b.len() {
            break;
        }
        let start = i;
        while i < b.len() && b[i] != b'=' && b[i] != b',' {
            i += 1;
        }
        let name = rest[start..i].trim().to_ascii_lowercase();
        if i >= b.len() || b[i] == b',' {
            continue; // a bare token (token68): ignored
        }
        i += 1; // '='
        while i < b.len() && b[i] == b' ' {
            i += 1;
        }
        let mut value = String::new();
        if i < b.len() && b[i] == b'"' {
            i += 1;
            let mut bytes = Vec::new();
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\\' && i + 1 < b.len() {
                    i += 1;
                }
                bytes.push(b[i]);
                i += 1;
            }
            i += 1; // closing quote (or the end)
            value = String::from_utf8_lossy(&bytes).into_owned();
        } else {
            let s = i;
            while i < b.len() && b[i] != b',' {
                i += 1;
            }
            value.push_str(rest[s..i].trim());
        }
        params.push((name, value));
    }
    Some((scheme.to_ascii_lowercase(), params))
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

/// The strongest challenge keepwatch can answer: Digest SHA-256, then Digest MD5, then Basic.
fn pick(challenges: &[String]) -> Option<Scheme> {
    let mut best: Option<Scheme> = None;
    let rank = |s: &Scheme| match s {
        Scheme::Digest(d) => 1 + d.algorithm.strength(),
        Scheme::Basic => 1,
        Scheme::Unknown => 0,
    };
    for c in challenges {
        let Some((scheme, params)) = parse_challenge(c) else { continue };
        let candidate = match scheme.as_str() {
            "basic" => Scheme::Basic,
            "digest" => {
                let Some(nonce) = param(&params, "nonce") else { continue };
                let Some(algorithm) = Algorithm::parse(param(&params, "algorithm").unwrap_or("MD5")) else {
                    continue;
                };
                let qop = param(&params, "qop");
                let qop_auth = qop.is_some_and(|q| q.split(',').any(|v| v.trim().eq_ignore_ascii_case("auth")));
                if qop.is_some() && !qop_auth {
                    continue; // auth-int only: keepwatch does not hash bodies
                }
                Scheme::Digest(DigestState {
                    realm: param(&params, "realm").unwrap_or_default().to_owned(),
                    nonce: nonce.to_owned(),
                    opaque: param(&params, "opaque").map(str::to_owned),
                    algorithm,
                    qop_auth,
                    nc: 0,
                })
            }
            _ => continue,
        };
        if best.as_ref().is_none_or(|b| rank(&candidate) > rank(b)) {
            best = Some(candidate);
        }
    }
    best
}

fn is_stale(challenges: &[String]) -> bool {
    challenges
        .iter()
        .filter_map(|c| parse_challenge(c))
        .any(|(s, p)| s == "digest" && param(&p, "stale").is_some_and(|v| v.eq_ignore_ascii_case("true")))
}

fn scheme_names(challenges: &[String]) -> String {
    let names: Vec<String> = challenges.iter().filter_map(|c| parse_challenge(c).map(|(s, _)| s)).collect();
    names.join(", ")
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

    fn rfc_state(challenge: &str) -> DigestState {
        match pick(&[challenge.to_owned()]) {
            Some(Scheme::Digest(mut d)) => {
                d.nc = 1;
                d
            }
            other => panic!("not a digest challenge: {other:?}"),
        }
    }

    #[test]
    fn rfc7616_sha256_example() {
        let d = rfc_state(RFC_CHALLENGES[0]);
        assert_eq!(d.algorithm, Algorithm::Sha256);
        let h = digest_header(&d, "Mufasa", "Circle of Life", "GET", "/dir/index.html", RFC_CNONCE);
        assert!(h.contains("response=\"753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1\""), "{h}");
        assert!(h.contains("nc=00000001") && h.contains("qop=auth,") && h.contains("algorithm=SHA-256"), "{h}");
        assert!(h.contains("opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\""), "{h}");
    }

    #[test]
    fn rfc7616_md5_example() {
        let d = rfc_state(RFC_CHALLENGES[1]);
        let h = digest_header(&d, "Mufasa", "Circle of Life", "GET", "/dir/index.html", RFC_CNONCE);
        assert!(h.contains("response=\"8ca523f5e9506fed4657c9700eebdbec\""), "{h}");
    }

    #[test]
    fn prefers_sha256_and_counts_requests() {
        let all: Vec<String> = RFC_CHALLENGES.iter().rev().map(|s| s.to_string()).collect();
        let mut a = Authenticator::new(Some("Mufasa"), Some("Circle of Life"));
        assert_eq!(a.authorization("GET", "/x"), None, "no credentials before a challenge");
        assert_eq!(a.refused(&all), Refusal::Retry);
        let first = a.authorization("GET", "/x").unwrap();
        assert!(first.contains("algorithm=SHA-256") && first.contains("nc=00000001"), "{first}");
        a.accepted();
        let second = a.authorization("GET", "/x").unwrap();
        assert!(second.contains("nc=00000002"), "{second}");
        assert!(!format!("{a:?}").contains("Circle"));
    }

    #[test]
    fn wrong_password_stale_nonce_and_basic() {
        let ch = |nonce: &str, stale: bool| {
            vec![format!(
                "Digest realm=\"cam\", nonce=\"{nonce}\", qop=\"auth\"{}",
                if stale { ", stale=TRUE" } else { "" }
            )]
        };
        let mut a = Authenticator::new(Some("admin"), Some("pw"));
        assert_eq!(a.refused(&ch("n1", false)), Refusal::Retry);
        let _ = a.authorization("GET", "/");
        // Refused again with the same nonce: the password is wrong.
        assert!(matches!(a.refused(&ch("n1", false)), Refusal::Fail(_)));
        let mut a = Authenticator::new(Some("admin"), Some("pw"));
        assert_eq!(a.refused(&ch("n1", false)), Refusal::Retry);
        let _ = a.authorization("GET", "/");
        a.accepted();
        let _ = a.authorization("GET", "/");
        // The nonce went stale after working: retry at once with the new one.
        assert_eq!(a.refused(&ch("n2", true)), Refusal::Retry);
        assert!(a.authorization("GET", "/").unwrap().contains("nonce=\"n2\", nc=00000001"));

        let mut b = Authenticator::new(Some("Aladdin"), Some("open sesame"));
        assert_eq!(b.refused(&["Basic realm=\"WallyWorld\"".to_string()]), Refusal::Retry);
        assert_eq!(b.authorization("GET", "/").as_deref(), Some("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="));
        assert!(matches!(b.refused(&["Basic realm=\"WallyWorld\"".to_string()]), Refusal::Fail(_)));

        let mut none = Authenticator::new(None, None);
        assert!(matches!(none.refused(&["Basic realm=\"x\"".to_string()]), Refusal::Fail(m) if m.contains("username")));
        assert!(matches!(none.refused(&["Negotiate".to_string()]), Refusal::Fail(m) if m.contains("unsupported")));
        assert!(matches!(none.refused(&[]), Refusal::Fail(_)));
    }

    #[test]
    fn odd_challenges_do_not_panic() {
        for c in [
            "",
            "Digest",
            "Digest ,,,",
            "Digest realm=\"unterminated",
            "Digest nonce=",
            "Digest =x, \"",
            "Digest algorithm=ROT13, nonce=\"a\"",
        ] {
            let _ = pick(&[c.to_string()]);
            let _ = parse_challenge(c);
        }
        let (s, p) = parse_challenge("Digest realm=\"a \\\"b\\\" c\", nonce=xyz").unwrap();
        assert_eq!(s, "digest");
        assert_eq!(param(&p, "realm"), Some("a \"b\" c"));
        assert_eq!(param(&p, "nonce"), Some("xyz"));
    }
}
