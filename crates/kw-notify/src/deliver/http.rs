//! What webhook and ntfy share: the target URL with its credentials taken out, and the HTTP client.
//!
//! Credentials in the target (`https://user:pass@host/...`) become a Basic `Authorization` header instead
//! of staying in a URL that a redirect or an error message could leak. Redirects are followed at most
//! three times; a send gives up after 30 s.

use std::time::Duration;

use base64::Engine;
use reqwest::StatusCode;

use super::Failure;

/// An HTTP(S) target.
pub(crate) struct HttpTarget {
    /// Without credentials.
    pub url: reqwest::Url,
    /// `Basic …` when the target carried credentials.
    pub authorization: Option<String>,
    pub client: reqwest::Client,
}

impl HttpTarget {
    pub(crate) fn parse(target: &str) -> Result<HttpTarget, String> {
        let shown = kw_config::redacted_url(target);
        let mut url = reqwest::Url::parse(target).map_err(|e| format!("target {shown}: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(format!("target {shown}: expected an http:// or https:// URL"));
        }
        let authorization = if url.username().is_empty() && url.password().is_none() {
            None
        } else {
            let user = decode(url.username());
            let pass = url.password().map(decode).unwrap_or_default();
            let _ = url.set_username("");
            let _ = url.set_password(None);
            Some(format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))))
        };
        let client = reqwest::Client::builder()
            .user_agent(concat!("keepwatch/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(30))
            .redirect(reqwest::redirect::Policy::limited(3))
            .build()
            .map_err(|e| format!("HTTP client: {e}"))?;
        Ok(HttpTarget { url, authorization, client })
    }

    /// A request to the target with its credentials.
    pub(crate) fn request(&self, method: reqwest::Method) -> reqwest::RequestBuilder {
        let req = self.client.request(method, self.url.clone());
        match &self.authorization {
            Some(auth) => req.header(reqwest::header::AUTHORIZATION, auth),
            None => req,
        }
    }
}

fn decode(text: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", text.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// Sends and classifies the answer: 2xx is done; 408, 429 and 5xx (and no answer) are worth a retry;
/// any other status means the target will not take it.
pub(crate) async fn send(req: reqwest::RequestBuilder) -> Result<String, Failure> {
    let resp = req.send().await.map_err(|e| Failure::temporary(describe(&e)))?;
    let status = resp.status();
    if status.is_success() {
        return Ok(format!("HTTP {}", status.as_u16()));
    }
    let retry = matches!(status, StatusCode::REQUEST_TIMEOUT | StatusCode::TOO_MANY_REQUESTS)
        || status.is_server_error()
        || status.is_redirection();
    let message = format!("HTTP {status}");
    Err(if retry { Failure::temporary(message) } else { Failure::permanent(message) })
}

/// A reqwest error without the URL (which reqwest includes and which may carry a query secret).
fn describe(e: &reqwest::Error) -> String {
    let what = if e.is_connect() {
        "cannot connect"
    } else if e.is_timeout() {
        "timed out"
    } else if e.is_redirect() {
        "too many redirects"
    } else {
        "request failed"
    };
    let mut source = std::error::Error::source(e);
    let mut detail = String::new();
    while let Some(s) = source {
        detail = s.to_string();
        source = s.source();
    }
    if detail.is_empty() {
        what.to_string()
    } else {
        format!("{what}: {detail}")
    }
}

/// A header value: as is when it is printable ASCII, else RFC 2047 encoded (ntfy decodes that).
pub(crate) fn header_text(text: &str) -> String {
    if text.chars().all(|c| c == ' ' || c.is_ascii_graphic()) {
        text.to_string()
    } else {
        format!("=?UTF-8?B?{}?=", base64::engine::general_purpose::STANDARD.encode(text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_move_to_a_header() {
        let t = HttpTarget::parse("https://me:p%40ss@ntfy.example.org/topic?x=1").unwrap();
        assert_eq!(t.url.as_str(), "https://ntfy.example.org/topic?x=1");
        let expected = base64::engine::general_purpose::STANDARD.encode("me:p@ss");
        assert_eq!(t.authorization.as_deref(), Some(format!("Basic {expected}").as_str()));
        assert!(HttpTarget::parse("https://host/x").unwrap().authorization.is_none());
        assert!(HttpTarget::parse("ftp://host/x").is_err());
        let e = HttpTarget::parse("http://user:secret@[bad").err().unwrap();
        assert!(!e.contains("secret"), "{e}");
    }

    #[test]
    fn headers_stay_ascii() {
        assert_eq!(header_text("Motion: door"), "Motion: door");
        assert_eq!(header_text("prüfen"), "=?UTF-8?B?cHLDvGZlbg==?=");
        assert!(header_text("a\nb").starts_with("=?UTF-8?B?"));
    }
}
