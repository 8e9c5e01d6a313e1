//! The login state of one camera client: what the camera asked for last, the Digest nonce count, and
//! what a 401 means.
//!
//! Why state: after the first challenge every request (each MJPEG reconnect, each snapshot, each SOAP
//! call) carries credentials up front, with the nonce count going up, so a camera is not asked twice per
//! request. And a 401 is not always a wrong password: a nonce that went stale (or that the camera
//! rotated) after it worked is answered at once with the new one, while the same refusal again means the
//! password is wrong, which the caller reports instead of hammering the camera.
//!
//! Why a login remembers that Digest worked: a man in the middle who answers the next request with a
//! Basic challenge would otherwise be sent the password in the clear (Basic is base64, not a secret). Once
//! the camera has accepted a Digest answer, this login never answers Basic again (see
//! [`Failure::Downgrade`]); it stays so for as long as the login lives (a camera's source keeps one for its
//! whole life, so a reconnect does not reset it). Before the first success there is nothing to pin: a
//! login's first challenge is taken as the camera's, which is why `kw-onvif` never answers Basic at all.

use crate::challenge::Challenge;
use crate::digest::{cnonce, DigestChallenge};
use crate::{basic, Credentials};

/// The most challenges of one answer looked at (a camera sends one to three).
const MAX_CHALLENGES: usize = 16;

/// What the client does after a 401.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Send the request again: [`Login::authorization`] now answers the new challenge.
    Retry,
    /// Give up, for this reason.
    Fail(Failure),
}

/// Why a 401 cannot be answered. The text is for users and never holds the password.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The 401 came without a challenge keepwatch could read.
    NoChallenge,
    /// Only schemes keepwatch does not answer; their names, lower case, comma-separated.
    Unsupported(String),
    /// The camera wants a login and the client has no credentials.
    NoCredentials,
    /// Credentials were sent and refused.
    Refused,
    /// Only Basic was offered after this login's Digest answers had been accepted: a downgrade, refused so
    /// the password never goes out in the clear.
    Downgrade,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::NoChallenge => f.write_str("the camera answered 401 without saying how to log in"),
            Failure::Unsupported(names) => write!(f, "the camera asks for an unsupported login scheme ({names})"),
            Failure::NoCredentials => {
                f.write_str("the camera asks for a username and password; set username and password")
            }
            Failure::Refused => f.write_str("the camera refused the username and password"),
            Failure::Downgrade => f.write_str(
                "the camera asked for a Basic login after Digest had worked; refusing to send the password in \
                 the clear (someone between keepwatch and the camera?)",
            ),
        }
    }
}

impl std::error::Error for Failure {}

#[derive(Clone, Debug)]
enum Scheme {
    /// No challenge seen yet: the first request goes out without credentials.
    Unknown,
    Basic,
    /// The challenge and the requests made under its nonce so far.
    Digest(DigestChallenge, u32),
}

impl Scheme {
    fn rank(&self) -> u8 {
        match self {
            Scheme::Unknown => 0,
            Scheme::Basic => 1,
            Scheme::Digest(d, _) => 1 + d.algorithm.strength(),
        }
    }
}

/// Credentials plus what the camera asked for last. One per camera client, shared by its requests.
#[derive(Clone)]
pub struct Login {
    creds: Option<Credentials>,
    basic: bool,
    scheme: Scheme,
    /// 401s in a row (any scheme) since the last accepted request.
    refused_in_a_row: u32,
    /// The camera has accepted a Digest answer: Basic is never answered again.
    digest_worked: bool,
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Login").field("user", &self.creds.as_ref().map(|c| &c.username)).finish_non_exhaustive()
    }
}

impl Login {
    /// Answers Basic and Digest challenges, the strongest offered (Digest SHA-256, Digest MD5, Basic).
    pub fn new(creds: Option<Credentials>) -> Login {
        Login { creds, basic: true, scheme: Scheme::Unknown, refused_in_a_row: 0, digest_worked: false }
    }

    /// Answers Digest challenges only: for clients that must not send the password in the clear.
    pub fn digest_only(creds: Option<Credentials>) -> Login {
        Login { basic: false, ..Login::new(creds) }
    }

    /// The `Authorization` value for a request of `method` to `uri` (path and query), when the camera has
    /// asked for credentials before. Each call counts as one request (Digest `nc`).
    pub fn authorization(&mut self, method: &str, uri: &str) -> Option<String> {
        let creds = self.creds.as_ref()?;
        match &mut self.scheme {
            Scheme::Unknown => None,
            Scheme::Basic => Some(basic::authorization(creds)),
            Scheme::Digest(d, nc) => {
                *nc = nc.wrapping_add(1);
                Some(d.authorization(creds, method, uri, *nc, &cnonce()))
            }
        }
    }

    /// The camera accepted a request (the one [`Login::authorization`] made last, if any).
    pub fn accepted(&mut self) {
        self.refused_in_a_row = 0;
        if matches!(self.scheme, Scheme::Digest(..)) && self.creds.is_some() {
            self.digest_worked = true;
        }
    }

    /// Whether the camera has accepted a Digest answer from this login (so Basic is never answered).
    pub fn digest_worked(&self) -> bool {
        self.digest_worked
    }

    /// The camera answered 401 with these `WWW-Authenticate` values: retry or give up.
    ///
    /// Retry when no credentials went out yet, or when a Digest nonce changed (stale, or rotated by the
    /// camera) and this is not the third refusal in a row; otherwise the password is wrong.
    pub fn refused<S: AsRef<str>>(&mut self, challenges: &[S]) -> Refusal {
        let sent = !matches!(self.scheme, Scheme::Unknown) && self.creds.is_some();
        self.refused_in_a_row = self.refused_in_a_row.saturating_add(1);
        let parsed: Vec<Challenge> =
            challenges.iter().take(MAX_CHALLENGES).filter_map(|c| Challenge::parse(c.as_ref())).collect();
        let Some(best) = self.pick(&parsed) else {
            return Refusal::Fail(if parsed.is_empty() {
                Failure::NoChallenge
            } else if self.digest_worked && parsed.iter().any(|c| c.scheme() == "basic") {
                Failure::Downgrade
            } else {
                let names: Vec<&str> = parsed.iter().map(Challenge::scheme).collect();
                Failure::Unsupported(names.join(", "))
            });
        };
        if self.creds.is_none() {
            return Refusal::Fail(Failure::NoCredentials);
        }
        let stale = matches!(best, Scheme::Digest(..))
            && parsed.iter().filter_map(DigestChallenge::from_challenge).any(|d| d.stale);
        let retry = match (&self.scheme, &best) {
            _ if !sent => true,
            (Scheme::Digest(old, _), Scheme::Digest(new, _)) => {
                (stale || old.nonce != new.nonce) && self.refused_in_a_row <= 2
            }
            _ => false,
        };
        self.scheme = best;
        if retry {
            Refusal::Retry
        } else {
            Refusal::Fail(Failure::Refused)
        }
    }

    /// The strongest challenge this login may answer.
    fn pick(&self, challenges: &[Challenge]) -> Option<Scheme> {
        let mut best: Option<Scheme> = None;
        for c in challenges {
            let candidate = match c.scheme() {
                "basic" if self.basic && !self.digest_worked => Scheme::Basic,
                "digest" => match DigestChallenge::from_challenge(c) {
                    Some(d) => Scheme::Digest(d, 0),
                    None => continue,
                },
                _ => continue,
            };
            if best.as_ref().is_none_or(|b| candidate.rank() > b.rank()) {
                best = Some(candidate);
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn login(user: &str, pass: &str) -> Login {
        Login::new(Credentials::from_parts(Some(user), Some(pass)))
    }

    #[test]
    fn prefers_sha256_and_counts_requests() {
        let ch = |alg: &str| format!("Digest realm=\"r\", qop=\"auth, auth-int\", algorithm={alg}, nonce=\"n\"");
        let all = vec![ch("MD5"), ch("SHA-256")];
        let mut a = login("Mufasa", "Circle of Life");
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
        let mut a = login("admin", "pw");
        assert_eq!(a.refused(&ch("n1", false)), Refusal::Retry);
        let _ = a.authorization("GET", "/");
        // Refused again with the same nonce: the password is wrong.
        assert_eq!(a.refused(&ch("n1", false)), Refusal::Fail(Failure::Refused));
        let mut a = login("admin", "pw");
        assert_eq!(a.refused(&ch("n1", false)), Refusal::Retry);
        let _ = a.authorization("GET", "/");
        a.accepted();
        let _ = a.authorization("GET", "/");
        // The nonce went stale after working: retry at once with the new one.
        assert_eq!(a.refused(&ch("n2", true)), Refusal::Retry);
        assert!(a.authorization("GET", "/").unwrap().contains("nonce=\"n2\", nc=00000001"));
        // A camera that rotates nonces forever is not followed past the third refusal in a row.
        assert_eq!(a.refused(&ch("n3", false)), Refusal::Retry);
        assert_eq!(a.refused(&ch("n4", false)), Refusal::Fail(Failure::Refused));

        let mut b = login("Aladdin", "open sesame");
        assert_eq!(b.refused(&["Basic realm=\"WallyWorld\""]), Refusal::Retry);
        assert_eq!(b.authorization("GET", "/").as_deref(), Some("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="));
        assert!(matches!(b.refused(&["Basic realm=\"WallyWorld\""]), Refusal::Fail(_)));

        let mut none = Login::new(None);
        assert_eq!(none.refused(&["Basic realm=\"x\""]), Refusal::Fail(Failure::NoCredentials));
        assert!(Failure::NoCredentials.to_string().contains("username"));
        let f = none.refused(&["Negotiate"]);
        assert!(matches!(&f, Refusal::Fail(Failure::Unsupported(m)) if m == "negotiate"), "{f:?}");
        assert!(Failure::Unsupported("negotiate".into()).to_string().contains("unsupported"));
        assert_eq!(none.refused::<&str>(&[]), Refusal::Fail(Failure::NoChallenge));
    }

    #[test]
    fn digest_only_ignores_basic() {
        let both = ["Basic realm=\"cam\"", "Digest realm=\"cam\", qop=\"auth\", nonce=\"n0nce\""];
        let mut a = Login::digest_only(Credentials::from_parts(Some("admin"), Some("pw")));
        assert_eq!(a.refused(&both), Refusal::Retry);
        assert!(a.authorization("POST", "/onvif").unwrap().starts_with("Digest "));
        let mut a = Login::digest_only(Credentials::from_parts(Some("admin"), Some("pw")));
        assert_eq!(a.refused(&both[..1]), Refusal::Fail(Failure::Unsupported("basic".into())));
        assert_eq!(a.authorization("POST", "/onvif"), None);
    }

    #[test]
    fn basic_is_never_answered_after_digest_worked() {
        let digest = |n: &str| format!("Digest realm=\"cam\", qop=\"auth\", nonce=\"{n}\"");
        let mut a = login("admin", "pw");
        assert_eq!(a.refused(&[digest("n1")]), Refusal::Retry);
        assert!(a.authorization("GET", "/video").unwrap().starts_with("Digest "));
        a.accepted();
        assert!(a.digest_worked());
        // Someone in between answers the next request with Basic only: refused, and no Basic goes out.
        assert_eq!(a.refused(&["Basic realm=\"cam\""]), Refusal::Fail(Failure::Downgrade));
        assert!(Failure::Downgrade.to_string().contains("Basic"));
        let next = a.authorization("GET", "/video").unwrap();
        assert!(next.starts_with("Digest ") && !next.contains(&basic::authorization(&a.creds.clone().unwrap())));
        // Offered both, the login keeps answering Digest (the stronger one anyway).
        assert_eq!(a.refused(&["Basic realm=\"cam\"".to_owned(), digest("n2")]), Refusal::Retry);
        assert!(a.authorization("GET", "/video").unwrap().contains("nonce=\"n2\""));
        // A Digest challenge that was refused before any success pins nothing: Basic still works there.
        let mut b = login("admin", "pw");
        assert_eq!(b.refused(&[digest("n1")]), Refusal::Retry);
        let _ = b.authorization("GET", "/");
        assert_eq!(b.refused(&["Basic realm=\"cam\""]), Refusal::Fail(Failure::Refused));
        assert!(!b.digest_worked());
        // Accepted without credentials (no challenge yet): nothing is pinned either.
        let mut c = login("admin", "pw");
        c.accepted();
        assert_eq!(c.refused(&["Basic realm=\"cam\""]), Refusal::Retry);
    }

    #[test]
    fn odd_challenges_do_not_panic() {
        let mut a = login("u", "p");
        for c in ["", "Digest", "Digest ,,,", "Digest realm=\"unterminated", "Digest nonce=", "Digest =x, \""] {
            let _ = a.refused(&[c]);
            let _ = a.authorization("GET", "/");
        }
        let many: Vec<String> = (0..1000).map(|i| format!("Digest nonce=\"{i}\"")).collect();
        let _ = a.refused(&many);
    }
}
