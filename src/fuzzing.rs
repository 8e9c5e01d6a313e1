//! The HTTP layer's parsers of what clients send, reachable from the fuzz targets (`fuzz/`) and from
//! nowhere else: only built with the `fuzzing` feature. Each function takes plain text, calls the real
//! parser and checks the properties the parser promises, so a fuzzer finding a broken promise finds a
//! panic here.

use crate::http::{auth, hls, links, media};
use axum::http::{header, HeaderMap, HeaderValue};

/// `Range: …` for a file of `len` bytes: a part is inside the file and not empty.
pub fn range(value: &str, len: u64) {
    if let media::RangeAnswer::Part(r) = media::parse_range(value, len) {
        assert!(r.start < r.end && r.end <= len, "{value:?} of {len} gave {r:?}");
    }
}

/// The `Cookie`, `Authorization` and query helpers of the auth middleware.
pub fn credentials(cookie: &str, authorization: &str, query: &str) {
    let mut h = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(cookie) {
        h.insert(header::COOKIE, v);
    }
    if let Ok(v) = HeaderValue::from_str(authorization) {
        h.insert(header::AUTHORIZATION, v);
    }
    for name in [auth::COOKIE, auth::COOKIE_HTTPS] {
        if let Some(v) = auth::cookie_value(&h, name) {
            assert!(!v.contains(';'), "a cookie value runs into the next cookie: {v:?}");
        }
    }
    if let Some(t) = auth::bearer(&h) {
        assert_eq!(t, t.trim());
    }
    if let Some(t) = auth::query_token(Some(query)) {
        assert!(!t.contains('&'));
    }
}

/// The routes that accept `?token=`: only the exact media routes, whatever the camera is called.
pub fn route(path: &str) {
    if auth::accepts_query_token(path) {
        let leaf = path.rsplit('/').next().unwrap_or("");
        assert!(path.starts_with("/api/cameras/") || path.starts_with("/api/events/"), "{path:?}");
        assert!(!path.contains("//"), "{path:?}");
        assert!(
            matches!(leaf, "video.mp4" | "snapshot.jpg" | "live.m3u8" | "live") || path.contains("/live/"),
            "{path:?}"
        );
    }
}

/// `Origin` against the request's scheme and host.
pub fn origin(origin: &str, host: &str) {
    for scheme in ["http", "https"] {
        if auth::same_origin(origin, scheme, Some(host)) {
            assert!(origin.to_ascii_lowercase().starts_with(&format!("{scheme}://")), "{origin:?} for {scheme}");
        }
    }
}

/// HLS file names and camera names, as they come in a URL.
pub fn names(text: &str) {
    let _ = hls::parse_file(text);
    if crate::http::cameras::valid_name(text) {
        assert!(text.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'), "{text:?}");
        assert!(!text.is_empty() && text.len() <= 64, "{text:?}");
    }
}

/// RFC 3339 times in query strings: what parses formats and parses back to the same instant.
pub fn time(text: &str) {
    if let Ok(t) = crate::timefmt::parse(text) {
        let shown = crate::timefmt::format(t);
        assert_eq!(crate::timefmt::parse(&shown), Ok(t), "{text:?} → {shown:?}");
    }
}

/// Signed links: a link signed for a path opens that path and no other, and any change to its query
/// breaks it.
pub fn signed_link(path: &str, query: &str, extra: &str) {
    let key = links::LinkKey::from_bytes(b"fuzzing key, not a secret");
    let target = if query.is_empty() { path.to_owned() } else { format!("{path}?{query}") };
    let signed = key.sign(&target, 2_000_000_000);
    let (p, q) = signed.split_once('?').unwrap_or((&signed, ""));
    assert!(key.verify(p, Some(q), 1_900_000_000), "a fresh link must open: {signed:?}");
    assert!(!key.verify(p, Some(q), 2_000_000_001), "an expired link must not open");
    if !extra.is_empty() && !extra.contains('&') && !extra.starts_with("sig") && !q.split('&').any(|x| x == extra) {
        assert!(!key.verify(p, Some(&format!("{q}&{extra}")), 1_900_000_000), "{extra:?} added to {q:?}");
    }
    if p != format!("{p}x") {
        assert!(!key.verify(&format!("{p}x"), Some(q), 1_900_000_000), "another path must not open");
    }
}

/// A backup archive as `keepwatch restore` reads it (a foreign, damaged or hostile file): never panics, and
/// what it accepts holds exactly the members its manifest lists, each of the listed size and hash, written
/// inside the target directory and nowhere else.
pub fn backup_archive(data: &[u8]) {
    use crate::backup::archive;
    let Ok(scratch) = tempfile::tempdir() else { return };
    let dir = scratch.path().join("into");
    if std::fs::create_dir(&dir).is_err() {
        return;
    }
    let result = archive::extract_from(data, &dir);
    let outside: Vec<_> =
        std::fs::read_dir(scratch.path()).map(|d| d.flatten().map(|e| e.file_name()).collect()).unwrap_or_default();
    assert_eq!(outside, vec![std::ffi::OsString::from("into")], "the archive wrote outside its directory");
    if let Ok(manifest) = result {
        for (name, entry) in &manifest.files {
            let got = archive::entry_of(&dir.join(name)).expect("an accepted member was written");
            assert_eq!(&got, entry, "{name} differs from its manifest entry");
        }
        let written = std::fs::read_dir(&dir).map(|d| d.count()).unwrap_or(0);
        assert_eq!(written, manifest.files.len(), "members written that the manifest does not list");
    }
}
