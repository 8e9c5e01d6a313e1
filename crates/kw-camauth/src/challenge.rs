//! One `WWW-Authenticate` value read into its scheme and parameters (RFC 7235 section 2.1, as cameras
//! really write it).
//!
//! Why tolerant and why bounded: the value comes from a camera on the network. Real cameras write quoted
//! and unquoted values, spaces around `=`, capitals anywhere, and sometimes no comma between parameters,
//! so the reader accepts all of that. It also may be hostile or broken, so the reader looks at each byte a
//! bounded number of times (one pass, no backtracking), refuses values over [`MAX_LEN`] bytes or with
//! more than [`MAX_PARAMS`] parameters, and never panics, whatever the bytes.
//!
//! One value is one challenge (what every camera sends: several challenges come as several header lines).
//! A bare token (`token68`, e.g. `Negotiate abc==`) is skipped; it carries nothing keepwatch answers.

/// The longest `WWW-Authenticate` value read (real ones are a few hundred bytes).
pub const MAX_LEN: usize = 4096;
/// The most parameters one challenge may have (real ones have fewer than ten).
pub const MAX_PARAMS: usize = 32;

/// A challenge: the scheme and its parameters, names in lower case, values unquoted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Challenge {
    scheme: String,
    params: Vec<(String, String)>,
}

impl Challenge {
    /// Reads one `WWW-Authenticate` value; `None` when it is empty, too long or has too many parameters.
    /// Bytes that are not UTF-8 are replaced (such a challenge cannot be answered right anyway).
    pub fn parse(value: impl AsRef<[u8]>) -> Option<Challenge> {
        let b = value.as_ref();
        if b.len() > MAX_LEN {
            return None;
        }
        let b = trim(b);
        let scheme_end = b.iter().position(u8::is_ascii_whitespace).unwrap_or(b.len());
        if scheme_end == 0 {
            return None;
        }
        let scheme = text(&b[..scheme_end]).to_ascii_lowercase();
        let params = parse_params(&b[scheme_end..])?;
        Some(Challenge { scheme, params })
    }

    /// The scheme in lower case (`digest`, `basic`, ...).
    pub fn scheme(&self) -> &str {
        &self.scheme
    }

    /// The value of the parameter `name` (lower case); the first one when a camera repeats it.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// All parameters in the order given.
    pub fn params(&self) -> &[(String, String)] {
        &self.params
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn trim(mut b: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = b {
        if !first.is_ascii_whitespace() {
            break;
        }
        b = rest;
    }
    while let [rest @ .., last] = b {
        if !last.is_ascii_whitespace() {
            break;
        }
        b = rest;
    }
    b
}

/// `a=b, c="d, \"e\""` into pairs, one pass over `b`; `None` beyond [`MAX_PARAMS`].
fn parse_params(b: &[u8]) -> Option<Vec<(String, String)>> {
    let mut params = Vec::new();
    let mut i = 0;
    loop {
        while i < b.len() && (b[i] == b',' || b[i].is_ascii_whitespace()) {
            i += 1;
        }
        if i >= b.len() {
            return Some(params);
        }
        let start = i;
        while i < b.len() && b[i] != b'=' && b[i] != b',' {
            i += 1;
        }
        let name = text(trim(&b[start..i])).to_ascii_lowercase();
        if i >= b.len() || b[i] == b',' {
            continue; // a bare token: nothing to answer
        }
        i += 1; // '='
        while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
            i += 1;
        }
        let value = if i < b.len() && b[i] == b'"' {
            // A quoted string: kept exactly (spaces inside count), `\x` is `x`; an unterminated one runs to
            // the end. No comma is needed after it: the next name may follow after a space.
            i += 1;
            let mut v = Vec::new();
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\\' && i + 1 < b.len() {
                    i += 1;
                }
                v.push(b[i]);
                i += 1;
            }
            i += 1; // the closing quote, or past the end
            text(&v)
        } else {
            let s = i;
            while i < b.len() && b[i] != b',' {
                i += 1;
            }
            text(trim(&b[s..i]))
        };
        if name.is_empty() {
            continue;
        }
        if params.len() == MAX_PARAMS {
            return None;
        }
        params.push((name, value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_unquoted_and_odd_spellings() {
        let c = Challenge::parse("  DIGEST Realm = \"a \\\"b\\\" c\",nonce=xyz ,  qop=\"auth, auth-int\" ").unwrap();
        assert_eq!(c.scheme(), "digest");
        assert_eq!(c.param("realm"), Some("a \"b\" c"));
        assert_eq!(c.param("nonce"), Some("xyz"));
        assert_eq!(c.param("qop"), Some("auth, auth-int"));
        // Spaces inside quotes are kept; no comma after a quoted value still separates.
        let c = Challenge::parse("Digest realm=\" cam \" nonce=\"n\"").unwrap();
        assert_eq!(c.param("realm"), Some(" cam "));
        assert_eq!(c.param("nonce"), Some("n"));
        // The first of a repeated parameter counts; bare tokens are skipped.
        let c = Challenge::parse("Digest abc, nonce=1, nonce=2").unwrap();
        assert_eq!(c.param("nonce"), Some("1"));
        assert_eq!(c.params().len(), 2);
        let c = Challenge::parse("Negotiate").unwrap();
        assert_eq!((c.scheme(), c.params().len()), ("negotiate", 0));
    }

    #[test]
    fn bounds() {
        assert_eq!(Challenge::parse(""), None);
        assert_eq!(Challenge::parse("   "), None);
        let long = format!("Digest realm=\"{}\"", "x".repeat(MAX_LEN));
        assert_eq!(Challenge::parse(&long), None);
        let many = |n: usize| format!("Digest {}", (0..n).map(|i| format!("p{i}=v")).collect::<Vec<_>>().join(", "));
        assert_eq!(Challenge::parse(many(MAX_PARAMS)).map(|c| c.params().len()), Some(MAX_PARAMS));
        assert_eq!(Challenge::parse(many(MAX_PARAMS + 1)), None);
    }

    #[test]
    fn odd_bytes_do_not_panic() {
        for c in [
            &b"Digest"[..],
            b"Digest ,,,",
            b"Digest realm=\"unterminated",
            b"Digest realm=\"ends in a backslash\\",
            b"Digest nonce=",
            b"Digest =x, \"",
            b"Digest ,,,=\"",
            b"\xff\xfe realm=\"\xc3\x28\"",
            b"Digest \"\"\"===,,,\\\\\\",
        ] {
            let _ = Challenge::parse(c);
        }
        // Every short string over a small alphabet of the characters that matter, and pseudo-random bytes.
        let alphabet = b"D =\",\\ a\xff";
        for n in 0..alphabet.len().pow(5) {
            let mut v = b"Digest ".to_vec();
            let mut k = n;
            for _ in 0..5 {
                v.push(alphabet[k % alphabet.len()]);
                k /= alphabet.len();
            }
            let _ = Challenge::parse(&v);
        }
        let mut x: u32 = 0x9e37_79b9;
        for len in 0..2000 {
            let v: Vec<u8> = (0..len % 300)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    x as u8
                })
                .collect();
            let _ = Challenge::parse(&v);
        }
    }
}
