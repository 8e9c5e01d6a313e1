//! Keeping passwords out of logs while still handing them to the code that dials a camera.
//!
//! Cameras take credentials either inside the URL (`rtsp://user:pass@host/...`) or in the `username` and
//! `password` keys. [`SourceUrl`] merges both into one place so clients never parse userinfo themselves, and
//! [`redacted_url`] is what every log line and API answer uses instead of a raw URL.

use std::fmt;

/// Replacement text for a hidden secret.
pub const REDACTED: &str = "***";

/// Query parameters whose values are treated as secrets by [`redacted_url`] (compared case-insensitively).
const SECRET_PARAMS: [&str; 11] =
    ["password", "passwd", "pass", "pwd", "token", "access_token", "secret", "key", "apikey", "api_key", "sig"];

/// A stream address with its credentials separated from it.
#[derive(Clone, PartialEq, Eq)]
pub struct SourceUrl {
    /// The URL without any `user:pass@` part.
    pub url: String,
    /// From the `username` key, else from the URL's userinfo (percent-decoded).
    pub username: Option<String>,
    /// From the `password` key, else from the URL's userinfo (percent-decoded).
    pub password: Option<String>,
}

impl SourceUrl {
    /// Splits `url`'s userinfo off; `username` and `password`, when given, win over what the URL holds.
    pub fn new(url: &str, username: Option<&str>, password: Option<&str>) -> Self {
        let parts = UrlParts::split(url);
        let (url_user, url_pass) = match parts.as_ref().and_then(|p| p.userinfo) {
            Some(info) => match info.split_once(':') {
                Some((u, p)) => (Some(percent_decode(u)), Some(percent_decode(p))),
                None => (Some(percent_decode(info)), None),
            },
            None => (None, None),
        };
        let bare = match &parts {
            Some(p) => format!("{}://{}{}", p.scheme, p.host, p.rest),
            None => url.to_string(),
        };
        SourceUrl {
            url: bare,
            username: username.map(str::to_string).or(url_user),
            password: password.map(str::to_string).or(url_pass),
        }
    }

    /// The URL with the credentials put back in as percent-encoded userinfo, for clients that only take a URL.
    pub fn with_userinfo(&self) -> String {
        let Some(parts) = UrlParts::split(&self.url) else {
            return self.url.clone();
        };
        let userinfo = match (&self.username, &self.password) {
            (Some(u), Some(p)) => format!("{}:{}@", percent_encode(u), percent_encode(p)),
            (Some(u), None) => format!("{}@", percent_encode(u)),
            (None, Some(p)) => format!(":{}@", percent_encode(p)),
            (None, None) => String::new(),
        };
        format!("{}://{userinfo}{}{}", parts.scheme, parts.host, parts.rest)
    }
}

impl fmt::Debug for SourceUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SourceUrl")
            .field("url", &redacted_url(&self.url))
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| REDACTED))
            .finish()
    }
}

/// `url` fit for a log line: a password in the userinfo and the values of secret-looking query parameters
/// (`password`, `token`, `key`, ...) become `***`; the user name stays. Text that is not a URL comes back as is.
pub fn redacted_url(url: &str) -> String {
    let Some(parts) = UrlParts::split(url) else {
        return url.to_string();
    };
    let (userinfo, password) = match parts.userinfo {
        Some(info) => match info.split_once(':') {
            Some((user, pw)) => (format!("{user}:{REDACTED}@"), Some(pw)),
            None => (format!("{info}@"), None),
        },
        None => (String::new(), None),
    };
    let mut rest = redact_query(parts.rest);
    // The same password written into the path or query as well (cheap cameras take `…?pwd=` under names no
    // list can know): every other copy goes too, as typed and percent-decoded. Short ones would blank
    // out unrelated text, and are weak anyway.
    if let Some(pw) = password.filter(|p| p.len() >= 4) {
        let decoded = percent_decode(pw);
        for form in [pw, decoded.as_str()] {
            if form.len() >= 4 {
                rest = rest.replace(form, REDACTED);
            }
        }
    }
    format!("{}://{userinfo}{}{rest}", parts.scheme, parts.host)
}

/// `path?query#fragment` with secret query values replaced.
fn redact_query(rest: &str) -> String {
    let Some((path, after)) = rest.split_once('?') else {
        return rest.to_string();
    };
    let (query, fragment) = match after.split_once('#') {
        Some((q, f)) => (q, Some(f)),
        None => (after, None),
    };
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if SECRET_PARAMS.iter().any(|s| s.eq_ignore_ascii_case(name)) => {
                format!("{name}={REDACTED}")
            }
            _ => pair.to_string(),
        })
        .collect();
    let mut out = format!("{path}?{}", pairs.join("&"));
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(f);
    }
    out
}

/// The pieces of `scheme://[userinfo@]host[rest]`.
pub(crate) struct UrlParts<'a> {
    pub scheme: &'a str,
    pub userinfo: Option<&'a str>,
    /// Host and port.
    pub host: &'a str,
    /// Path, query and fragment, starting with `/`, `?` or `#` (or empty).
    pub rest: &'a str,
}

impl<'a> UrlParts<'a> {
    /// `None` when `url` has no `scheme://`.
    pub fn split(url: &'a str) -> Option<Self> {
        let (scheme, after) = url.split_once("://")?;
        let scheme_ok = scheme.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && scheme.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
        if !scheme_ok {
            return None;
        }
        let authority_end = after.find(['/', '?', '#']).unwrap_or(after.len());
        let (authority, rest) = after.split_at(authority_end);
        let (userinfo, host) = match authority.rfind('@') {
            Some(at) => (Some(&authority[..at]), &authority[at + 1..]),
            None => (None, authority),
        };
        Some(UrlParts { scheme, userinfo, host, rest })
    }
}

/// Decodes `%XX` escapes (a `%` without two hex digits stays as it is; invalid UTF-8 becomes U+FFFD).
fn percent_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text).decode_utf8_lossy().into_owned()
}

/// RFC 3986's unreserved characters: what a URL component may carry as it is.
const UNRESERVED: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// Encodes everything but RFC 3986 unreserved characters (a user name or password in a URL's userinfo, a
/// token in a query string).
pub fn percent_encode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, UNRESERVED).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_userinfo_password() {
        assert_eq!(
            redacted_url("rtsp://admin:secret@192.168.1.20:554/stream1"),
            "rtsp://admin:***@192.168.1.20:554/stream1"
        );
        assert_eq!(redacted_url("rtsp://admin@cam/x"), "rtsp://admin@cam/x");
        assert_eq!(redacted_url("rtsp://cam/x"), "rtsp://cam/x");
        assert_eq!(redacted_url("mqtt://u:p@ss@host:1883"), "mqtt://u:***@host:1883");
        assert_eq!(redacted_url("not a url"), "not a url");
        assert_eq!(redacted_url(""), "");
    }

    #[test]
    fn the_password_repeated_in_the_path_or_an_unknown_query_name_is_redacted_too() {
        // Found by the config fuzz target: the userinfo's password was hidden, its copy in the path was not.
        let shown = redacted_url("rtsp://admin:s3cr%40t@10.0.0.2/live/admin:s3cr%40t@x?loginpas=s3cr@t&q=1");
        assert_eq!(shown, "rtsp://admin:***@10.0.0.2/live/admin:***@x?loginpas=***&q=1");
        // Short passwords are left where they are elsewhere (they would blank out unrelated text).
        assert_eq!(redacted_url("rtsp://a:ab@h/ab"), "rtsp://a:***@h/ab");
    }

    #[test]
    fn redacts_query_secrets() {
        assert_eq!(
            redacted_url("http://cam/cgi-bin/api.cgi?cmd=Snap&user=admin&password=hunter2#x"),
            "http://cam/cgi-bin/api.cgi?cmd=Snap&user=admin&password=***#x"
        );
        assert_eq!(redacted_url("https://ntfy.sh/topic?Token=abc"), "https://ntfy.sh/topic?Token=***");
    }

    #[test]
    fn merges_credentials() {
        let s = SourceUrl::new("rtsp://admin:p%40ss@cam:554/s1", None, None);
        assert_eq!(s.url, "rtsp://cam:554/s1");
        assert_eq!(s.username.as_deref(), Some("admin"));
        assert_eq!(s.password.as_deref(), Some("p@ss"));
        assert_eq!(s.with_userinfo(), "rtsp://admin:p%40ss@cam:554/s1");

        let s = SourceUrl::new("rtsp://admin:old@cam/s1", None, Some("new"));
        assert_eq!(s.username.as_deref(), Some("admin"));
        assert_eq!(s.password.as_deref(), Some("new"));

        let s = SourceUrl::new("rtsp://cam/s1", Some("u"), Some("p w"));
        assert_eq!(s.url, "rtsp://cam/s1");
        assert_eq!(s.with_userinfo(), "rtsp://u:p%20w@cam/s1");
        assert!(!format!("{s:?}").contains("p w"));
    }

    #[test]
    fn decoding_never_panics() {
        assert_eq!(percent_decode("%"), "%");
        assert_eq!(percent_decode("%4"), "%4");
        assert_eq!(percent_decode("%zz%41"), "%zzA");
        assert_eq!(percent_decode("%ff"), "\u{fffd}");
        assert_eq!(percent_decode("é%C3%A9"), "éé");
    }
}
