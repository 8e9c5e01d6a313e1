//! The web UI's files: `index.html` at `/` and every other file under `src/http/ui/` at `/ui/...`.
//!
//! Why it is shaped this way:
//! - **No bundler, no Node to build**: the UI is plain ES modules, one CSS file and one HTML page, embedded
//!   in the binary with `include_bytes!` through the [`FILES`] table, so a release binary is the whole
//!   product. A unit test walks `src/http/ui/` and fails when a file is missing from the table (or the
//!   table names a file that is gone), so the embedded bundle always matches the sources.
//! - **Development without rebuilding**: when `KEEPWATCH_UI_DIR` is set, files are read from that
//!   directory on every request instead (edit, reload).
//! - **Open, like the login page it contains**: the auth middleware guards only `/api/` and `/metrics`;
//!   these files carry no data. Every answer has `Cache-Control: no-cache` and a content-hash ETag, so a
//!   browser revalidates (cheap `304`) and never runs a stale module after an upgrade.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

/// Every UI file (path relative to `src/http/ui/`) with its embedded bytes.
macro_rules! ui_files {
    ($($path:literal),* $(,)?) => {
        &[$(($path, include_bytes!(concat!("ui/", $path)) as &[u8])),*]
    };
}

/// The embedded files. Add a file here when you add it under `src/http/ui/` (the unit test insists).
pub const FILES: &[(&str, &[u8])] = ui_files![
    "index.html",
    "app.css",
    "admin.css",
    "js/dom.js",
    "js/core.js",
    "js/i18n.js",
    "js/app.js",
    "js/pages.js",
    "js/player.js",
    "js/webrtc.js",
    "js/live.js",
    "js/camera.js",
    "js/ptz.js",
    "js/timeline.js",
    "js/events.js",
    "js/system.js",
    "js/admin/forms.js",
    "js/admin/zones.js",
    "js/admin/cameras.js",
    "js/admin/alerts.js",
    "js/admin/notifiers.js",
    "js/admin/offsite.js",
    "js/admin/users.js",
];

/// The page's Content-Security-Policy: scripts, style sheets, media and connections from this server only
/// (the WebSocket included), pictures also from `data:`/`blob:` (probe snapshots, exports), and never inside
/// another site's frame (the mode switch must not be clickjacked). No `'unsafe-inline'` anywhere: the
/// scripts set styles through the CSSOM (`el.style`), which the policy does not govern, never through
/// `style="..."` attributes or `<style>` elements. Trusted Types with no policy (`trusted-types 'none'`) make
/// every HTML-from-a-string sink (`innerHTML`, `insertAdjacentHTML`, `document.write`) throw in browsers that
/// enforce them: the UI builds all of its DOM node by node (dom.js `h()`), so a camera name or a server
/// message can never become markup.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
                       img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self' ws: wss:; \
                       object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; \
                       require-trusted-types-for 'script'; trusted-types 'none'";

/// The environment variable naming a directory to serve the UI from instead of the embedded copy.
pub const DIR_ENV: &str = "KEEPWATCH_UI_DIR";

/// `Content-Type` by file extension.
fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        _ => "application/octet-stream",
    }
}

/// A relative path that cannot leave the UI directory: segments of `[A-Za-z0-9._-]`, none starting with a dot.
fn safe_path(path: &str) -> bool {
    !path.is_empty()
        && path.len() <= 200
        && path.split('/').all(|seg| {
            !seg.is_empty()
                && !seg.starts_with('.')
                && seg.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
        })
}

fn etag_of(bytes: &[u8]) -> String {
    let d = Sha256::digest(bytes);
    let hex: String = d[..10].iter().map(|b| format!("{b:02x}")).collect();
    format!("\"{hex}\"")
}

/// The embedded files' ETags, computed once.
fn embedded_etags() -> &'static [String] {
    static TAGS: OnceLock<Vec<String>> = OnceLock::new();
    TAGS.get_or_init(|| FILES.iter().map(|(_, b)| etag_of(b)).collect())
}

/// The bytes and ETag of a UI file: from `KEEPWATCH_UI_DIR` when set, else embedded.
async fn load(path: &str) -> Option<(Vec<u8>, String)> {
    if let Some(dir) = std::env::var_os(DIR_ENV) {
        let full = std::path::Path::new(&dir).join(path);
        let bytes = tokio::fs::read(full).await.ok()?;
        let tag = etag_of(&bytes);
        return Some((bytes, tag));
    }
    let i = FILES.iter().position(|(p, _)| *p == path)?;
    Some((FILES[i].1.to_vec(), embedded_etags()[i].clone()))
}

async fn serve(path: &str, headers: &HeaderMap) -> Response {
    if !safe_path(path) {
        return super::ApiError::not_found("no such file").into_response();
    }
    let Some((bytes, tag)) = load(path).await else {
        return super::ApiError::not_found(format!("no UI file {path:?}")).into_response();
    };
    respond(path, bytes, &tag, headers)
}

/// The answer for a file's bytes: 304 when the client's copy is current, else the bytes, with the headers.
fn respond(path: &str, bytes: Vec<u8>, tag: &str, headers: &HeaderMap) -> Response {
    let tag_value = HeaderValue::from_str(tag).unwrap_or_else(|_| HeaderValue::from_static("\"x\""));
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|inm| inm.split(',').any(|t| t.trim() == tag || t.trim() == "*"));
    let mut r = if fresh { StatusCode::NOT_MODIFIED.into_response() } else { bytes.into_response() };
    let h = r.headers_mut();
    h.insert(header::ETAG, tag_value);
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if !fresh {
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type(path)));
    }
    if path == "index.html" {
        h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    }
    r
}

/// `GET /`: the single page, with the config's `[server] language` (the UI's default when the browser
/// prefers neither English nor German) as `<html data-server-lang>`.
pub async fn index(State(st): State<super::Shared>, headers: HeaderMap) -> Response {
    let lang = st.config.borrow().server.language;
    page(lang.map(|l| l.as_str()), &headers).await
}

async fn page(server_lang: Option<&str>, headers: &HeaderMap) -> Response {
    let Some((bytes, tag)) = load("index.html").await else {
        return super::ApiError::not_found("no UI file index.html").into_response();
    };
    match server_lang {
        Some(lang) => {
            let text =
                String::from_utf8_lossy(&bytes).replacen("<html ", &format!("<html data-server-lang=\"{lang}\" "), 1);
            let tag = etag_of(text.as_bytes());
            respond("index.html", text.into_bytes(), &tag, headers)
        }
        None => respond("index.html", bytes, &tag, headers),
    }
}

/// `GET /ui/{*path}`: scripts, styles.
pub async fn file(Path(path): Path<String>, headers: HeaderMap) -> Response {
    serve(&path, &headers).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn walk(dir: &std::path::Path, base: &std::path::Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, base, out);
            } else {
                out.push(p.strip_prefix(base).unwrap().to_string_lossy().replace('\\', "/"));
            }
        }
    }

    /// The zone editor stops at the server's caps: its constants must be the config's.
    #[test]
    fn the_zone_editor_knows_the_servers_caps() {
        let js =
            FILES.iter().find(|(p, _)| *p == "js/admin/zones.js").map(|(_, b)| String::from_utf8_lossy(b)).unwrap();
        let zones = format!("export const MAX_ZONES = {};", kw_config::Zone::MAX_PER_CAMERA);
        let points = format!("export const MAX_POINTS = {};", kw_config::Zone::MAX_POINTS);
        assert!(js.contains(&zones) && js.contains(&points), "zones.js must say `{zones}` and `{points}`");
    }

    #[test]
    fn every_source_file_is_embedded() {
        let base = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/http/ui");
        let mut on_disk = Vec::new();
        walk(&base, &base, &mut on_disk);
        on_disk.sort();
        let mut table: Vec<String> = FILES.iter().map(|(p, _)| (*p).to_owned()).collect();
        table.sort();
        assert_eq!(on_disk, table, "src/http/ui/ and ui::FILES differ: add or remove the file in the table");
        for (p, _) in FILES {
            assert!(safe_path(p), "{p}");
            assert_ne!(content_type(p), "application/octet-stream", "{p}");
        }
    }

    #[tokio::test]
    async fn serves_with_type_etag_and_revalidation() {
        if std::env::var_os(DIR_ENV).is_some() {
            return; // serving from a development directory, not the embedded files
        }
        let r = serve("js/core.js", &HeaderMap::new()).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()[header::CONTENT_TYPE], "text/javascript; charset=utf-8");
        assert_eq!(r.headers()[header::CACHE_CONTROL], "no-cache");
        let tag = r.headers()[header::ETAG].clone();
        let mut h = HeaderMap::new();
        h.insert(header::IF_NONE_MATCH, tag.clone());
        let again = serve("js/core.js", &h).await;
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(again.headers()[header::ETAG], tag);
        let plain = page(None, &HeaderMap::new()).await;
        assert_eq!(plain.headers()[header::CONTENT_TYPE], "text/html; charset=utf-8");
        assert!(plain.headers()[header::CONTENT_SECURITY_POLICY].to_str().unwrap().contains("frame-ancestors 'none'"));
        let german = page(Some("de"), &HeaderMap::new()).await;
        assert_ne!(german.headers()[header::ETAG], plain.headers()[header::ETAG]);
        let body = axum::body::to_bytes(german.into_body(), 1 << 20).await.unwrap();
        assert!(String::from_utf8_lossy(&body).contains("<html data-server-lang=\"de\" lang=\"en\">"));
        for bad in ["../Cargo.toml", "js/../../Cargo.toml", "nope.js", ".hidden"] {
            assert_eq!(serve(bad, &HeaderMap::new()).await.status(), StatusCode::NOT_FOUND, "{bad}");
        }
    }

    #[test]
    fn paths() {
        assert!(safe_path("js/core.js"));
        for bad in ["", "../x", "js/../x", ".env", "js//a.js", "a\\b", "/etc/passwd", "js/.hidden"] {
            assert!(!safe_path(bad), "{bad}");
        }
    }
}
