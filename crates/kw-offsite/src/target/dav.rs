//! WebDAV targets (Nextcloud, ownCloud, Apache mod_dav, any WebDAV server) through plain HTTP verbs:
//! PUT (the body streamed from the spool file through the bandwidth cap), MKCOL for the camera's
//! collection, PROPFIND (depth 1, two levels) to list, GET to fetch, DELETE for retention.
//!
//! WebDAV has no standard resumable upload: an interrupted PUT is sent again whole on the next try.
//! Answers are bounded (a listing at most 16 MiB) and parsed as XML with roxmltree.

use std::path::Path;

use futures::StreamExt;
use kw_config::OffsiteConfig;
use reqwest::{Method, StatusCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{ObjectInfo, CONNECT_TIMEOUT, MAX_LIST, READ_TIMEOUT};
use crate::throttle::Throttle;
use crate::OffsiteError;

/// What is escaped in a path segment: everything but RFC 3986's unreserved characters.
const SEGMENT: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');
/// The most a PROPFIND answer may hold.
const MAX_LISTING: usize = 16 << 20;
/// Chunks of the PUT body (the cap is applied per chunk).
const CHUNK: usize = 64 * 1024;

pub struct Dav {
    client: reqwest::Client,
    /// `http(s)://host:port/path/` (always ending in `/`).
    base: String,
    /// The base's path part (`/path/`), to turn listed hrefs into names.
    base_path: String,
    creds: Option<(String, String)>,
}

fn terr(e: impl std::fmt::Display) -> OffsiteError {
    OffsiteError::Target(format!("webdav: {e}"))
}

impl Dav {
    pub(super) fn open(cfg: &OffsiteConfig, creds: Option<(String, String)>) -> Result<Dav, OffsiteError> {
        let (scheme, rest) = cfg.target.split_once("://").unwrap_or_default();
        let http = if scheme.eq_ignore_ascii_case("webdavs") { "https" } else { "http" };
        let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
        let path = path.trim_matches('/');
        let base_path = if path.is_empty() { "/".to_owned() } else { format!("/{path}/") };
        let client = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .read_timeout(READ_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| OffsiteError::Config(format!("off-site target {:?}: {e}", cfg.name)))?;
        Ok(Dav { client, base: format!("{http}://{host}{base_path}"), base_path, creds })
    }

    fn request(&self, method: Method, url: &str) -> reqwest::RequestBuilder {
        let r = self.client.request(method, url);
        match &self.creds {
            Some((u, p)) => r.basic_auth(u, Some(p)),
            None => r,
        }
    }

    fn url(&self, name: &str) -> String {
        let enc: Vec<String> =
            name.split('/').map(|s| percent_encoding::utf8_percent_encode(s, SEGMENT).to_string()).collect();
        format!("{}{}", self.base, enc.join("/"))
    }

    async fn mkcol(&self, url: &str) -> Result<(), OffsiteError> {
        let r = self.request(Method::from_bytes(b"MKCOL").unwrap_or(Method::PUT), url).send().await.map_err(terr)?;
        match r.status() {
            s if s.is_success() => Ok(()),
            // 405: it exists already.
            StatusCode::METHOD_NOT_ALLOWED => Ok(()),
            s => Err(terr(format!("creating the collection {url}: {s}"))),
        }
    }

    pub(super) async fn upload(&self, name: &str, file: &Path, throttle: &mut Throttle) -> Result<(), OffsiteError> {
        self.mkcol(&self.base).await?;
        if let Some((dir, _)) = name.rsplit_once('/') {
            self.mkcol(&self.url(&format!("{dir}/"))).await?;
        }
        let f = tokio::fs::File::open(file).await.map_err(|e| OffsiteError::io(file.display(), e))?;
        let len = f.metadata().await.map_err(|e| OffsiteError::io(file.display(), e))?.len();
        // The throttle lives across tries; the body stream borrows it for this one.
        let state = (f, std::mem::replace(throttle, throttle.fresh()));
        let (tx, rx) = tokio::sync::oneshot::channel();
        let body = futures::stream::unfold((state, Some(tx)), |((mut f, mut t), tx)| async move {
            let mut buf = vec![0u8; CHUNK];
            match f.read(&mut buf).await {
                Ok(0) => {
                    if let Some(tx) = tx {
                        let _ = tx.send(t);
                    }
                    None
                }
                Ok(n) => {
                    buf.truncate(n);
                    t.sent(n as u64).await;
                    Some((Ok::<_, std::io::Error>(bytes::Bytes::from(buf)), ((f, t), tx)))
                }
                Err(e) => Some((Err(e), ((f, t), tx))),
            }
        });
        let r = self
            .request(Method::PUT, &self.url(name))
            .header(reqwest::header::CONTENT_LENGTH, len)
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .body(reqwest::Body::wrap_stream(body))
            .send()
            .await;
        if let Ok(t) = rx.await {
            *throttle = t;
        }
        let r = r.map_err(terr)?;
        if r.status().is_success() {
            Ok(())
        } else {
            Err(terr(format!("PUT {name}: {}", r.status())))
        }
    }

    /// One PUT of a small object into the base collection (the probe).
    pub(super) async fn put_small(&self, name: &str, data: Vec<u8>) -> Result<(), OffsiteError> {
        self.mkcol(&self.base).await?;
        let r = self.request(Method::PUT, &self.url(name)).body(data).send().await.map_err(terr)?;
        if r.status().is_success() {
            Ok(())
        } else {
            Err(terr(format!("PUT {name}: {}", r.status())))
        }
    }

    async fn propfind(&self, url: &str) -> Result<Vec<Entry>, OffsiteError> {
        const BODY: &str = "<?xml version=\"1.0\"?><d:propfind xmlns:d=\"DAV:\"><d:prop><d:resourcetype/>\
            <d:getcontentlength/><d:getlastmodified/></d:prop></d:propfind>";
        let r = self
            .request(Method::from_bytes(b"PROPFIND").unwrap_or(Method::GET), url)
            .header("Depth", "1")
            .header(reqwest::header::CONTENT_TYPE, "application/xml")
            .body(BODY)
            .send()
            .await
            .map_err(terr)?;
        if r.status() == StatusCode::NOT_FOUND {
            return Ok(Vec::new());
        }
        if !r.status().is_success() {
            return Err(terr(format!("PROPFIND {url}: {}", r.status())));
        }
        let mut body = Vec::new();
        let mut stream = r.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(terr)?;
            if body.len() + chunk.len() > MAX_LISTING {
                return Err(terr(format!("the listing of {url} is over {MAX_LISTING} bytes")));
            }
            body.extend_from_slice(&chunk);
        }
        parse_multistatus(&String::from_utf8_lossy(&body))
    }

    pub(super) async fn list(&self) -> Result<Vec<ObjectInfo>, OffsiteError> {
        let mut out = Vec::new();
        let mut dirs = Vec::new();
        for (href, dir, size, modified) in self.propfind(&self.base).await? {
            let Some(name) = self.relative(&href) else { continue };
            if dir {
                dirs.push(name);
            } else {
                out.push(ObjectInfo { name, size, modified });
            }
        }
        for d in dirs.into_iter().take(1000) {
            for (href, dir, size, modified) in self.propfind(&self.url(&format!("{d}/"))).await? {
                let Some(name) = self.relative(&href) else { continue };
                if !dir {
                    out.push(ObjectInfo { name, size, modified });
                }
            }
            if out.len() >= MAX_LIST {
                break;
            }
        }
        out.truncate(MAX_LIST);
        Ok(out)
    }

    /// An href (path or full URL, percent-encoded) as a name relative to the base; `None` for the base.
    fn relative(&self, href: &str) -> Option<String> {
        let path = match href.split_once("://") {
            Some((_, rest)) => rest.find('/').map_or("/", |i| &rest[i..]),
            None => href,
        };
        let path = percent_encoding::percent_decode_str(path).decode_utf8().ok()?;
        let base = percent_encoding::percent_decode_str(&self.base_path).decode_utf8().ok()?;
        let rel = path.strip_prefix(base.as_ref())?.trim_end_matches('/');
        (!rel.is_empty()).then(|| rel.to_owned())
    }

    pub(super) async fn fetch(&self, name: &str, out: &mut tokio::fs::File) -> Result<u64, OffsiteError> {
        let r = self.request(Method::GET, &self.url(name)).send().await.map_err(terr)?;
        if !r.status().is_success() {
            return Err(terr(format!("GET {name}: {}", r.status())));
        }
        let mut n = 0u64;
        let mut stream = r.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(terr)?;
            out.write_all(&chunk).await.map_err(|e| OffsiteError::io("writing the download", e))?;
            n += chunk.len() as u64;
        }
        Ok(n)
    }

    pub(super) async fn delete(&self, name: &str) -> Result<(), OffsiteError> {
        let r = self.request(Method::DELETE, &self.url(name)).send().await.map_err(terr)?;
        match r.status() {
            s if s.is_success() || s == StatusCode::NOT_FOUND => Ok(()),
            s => Err(terr(format!("DELETE {name}: {s}"))),
        }
    }
}

/// One `response` of a listing: (href, is a collection, length, last modified µs).
type Entry = (String, bool, u64, Option<i64>);

/// Each `response` in a 207 Multi-Status.
fn parse_multistatus(xml: &str) -> Result<Vec<Entry>, OffsiteError> {
    let opts = roxmltree::ParsingOptions { allow_dtd: false, nodes_limit: 4_000_000, ..Default::default() };
    let doc = roxmltree::Document::parse_with_options(xml, opts).map_err(|e| terr(format!("listing: {e}")))?;
    let mut out = Vec::new();
    for resp in doc.descendants().filter(|n| n.has_tag_name(("DAV:", "response"))) {
        let text = |tag: &str| {
            resp.descendants().find(|n| n.has_tag_name(("DAV:", tag))).and_then(|n| n.text()).map(str::trim)
        };
        let Some(href) = text("href") else { continue };
        let dir = resp.descendants().any(|n| n.has_tag_name(("DAV:", "collection")));
        let size = text("getcontentlength").and_then(|s| s.parse().ok()).unwrap_or(0);
        let modified = text("getlastmodified").and_then(http_date);
        out.push((href.to_owned(), dir, size, modified));
    }
    Ok(out)
}

/// An HTTP date (`Sun, 06 Nov 1994 08:49:37 GMT`) as µs since the epoch.
fn http_date(s: &str) -> Option<i64> {
    let f = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    let t = time::PrimitiveDateTime::parse(s, f).ok()?.assume_utc();
    i64::try_from(t.unix_timestamp_nanos() / 1000).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multistatus() {
        let xml = r#"<?xml version="1.0" encoding="utf-8"?><d:multistatus xmlns:d="DAV:">
          <d:response><d:href>/dav/kw/</d:href><d:propstat><d:prop><d:resourcetype><d:collection/></d:resourcetype></d:prop></d:propstat></d:response>
          <d:response><d:href>/dav/kw/door/x%2Dy.age</d:href><d:propstat><d:prop><d:resourcetype/>
            <d:getcontentlength>1234</d:getcontentlength><d:getlastmodified>Thu, 03 Dec 2026 12:00:00 GMT</d:getlastmodified>
          </d:prop></d:propstat></d:response></d:multistatus>"#;
        let got = parse_multistatus(xml).unwrap();
        assert_eq!(got.len(), 2);
        assert!(got[0].1);
        assert_eq!((got[1].2, got[1].3), (1234, Some(1_796_299_200_000_000)));
        let cfg = kw_config::parse(
            "[[offsite]]\nname = \"d\"\ntarget = \"webdav://127.0.0.1:9/dav/kw\"\n\
             recipients = [\"age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p\"]\n",
            Path::new("/tmp/k.toml"),
        )
        .unwrap();
        let d = Dav::open(&cfg.offsite[0], None).unwrap();
        assert_eq!(d.relative(&got[1].0).as_deref(), Some("door/x-y.age"));
        assert_eq!(d.relative("http://h:1/dav/kw/"), None);
        assert_eq!(d.url("door/a b.age"), "http://127.0.0.1:9/dav/kw/door/a%20b.age");
    }
}
