//! `[server]` and `[storage]`: where keepwatch listens and where it keeps recordings.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use crate::model::{ServerConfig, StorageConfig, StorageIndex, TlsConfig, DEFAULT_STORAGE_PATH};
use crate::net::IpNet;
use crate::reader::{Ctx, Field, Section};

use super::resolve;

const SERVER_KEYS: [&str; 11] = [
    "listen",
    "tls_cert",
    "tls_key",
    "trusted_proxies",
    "language",
    "timezone",
    "max_connections",
    "max_live_viewers",
    "max_live_viewers_per_user",
    "header_timeout",
    "idle_timeout",
];
/// Largest count the limits accept (far above what any descriptor limit allows).
const MAX_COUNT: i64 = 1_000_000;
const STORAGE_KEYS: [&str; 5] = ["path", "max_size", "max_age", "index", "index_password_file"];
/// Longest `storage.index` URL accepted.
const MAX_INDEX_URL: usize = 4096;

pub(super) fn parse_server<'a>(ctx: &mut Ctx<'a>, section: &Section<'a>, base: &Path) -> ServerConfig {
    section.check_keys(ctx, &SERVER_KEYS);
    let mut server = ServerConfig::default();
    if let Some(field) = section.get("listen") {
        if let Some(text) = ctx.string(&field) {
            let parsed = text.parse::<SocketAddr>().map_err(|_| {
                format!("expected an address and port such as \"127.0.0.1:8080\" or \"[::]:8080\", found {text:?}")
            });
            if let Some(addr) = ctx.check(&field, parsed) {
                server.listen = addr;
            }
        }
    }

    let cert = section.get("tls_cert");
    let key = section.get("tls_key");
    let cert_path = cert.as_ref().and_then(|f| ctx.non_empty_string(f));
    let key_path = key.as_ref().and_then(|f| ctx.non_empty_string(f));
    match (&cert, &key) {
        (Some(f), None) => ctx.error(&f.span, &f.path, "tls_cert without tls_key (give both or neither)"),
        (None, Some(f)) => ctx.error(&f.span, &f.path, "tls_key without tls_cert (give both or neither)"),
        _ => {}
    }
    if let (Some(cert), Some(key)) = (cert_path, key_path) {
        server.tls = Some(TlsConfig { cert: resolve(base, cert), key: resolve(base, key) });
    }

    if let Some(field) = section.get("trusted_proxies") {
        for (element, text) in ctx.string_list(&field) {
            if let Some(net) = ctx.check(&element, text.parse::<IpNet>()) {
                server.trusted_proxies.push(net);
            }
        }
    }
    if let Some(field) = section.get("language") {
        server.language = ctx.keyword(&field);
    }
    if let Some(field) = section.get("timezone") {
        if let Some(text) = ctx.string(&field) {
            server.timezone = ctx.check(&field, check_timezone(text)).map(str::to_string);
        }
    }
    if let Some(field) = section.get("max_connections") {
        server.max_connections = count(ctx, &field);
    }
    if let Some(field) = section.get("max_live_viewers") {
        server.max_live_viewers = count(ctx, &field).unwrap_or(server.max_live_viewers);
    }
    if let Some(field) = section.get("max_live_viewers_per_user") {
        server.max_live_viewers_per_user = count(ctx, &field).unwrap_or(server.max_live_viewers_per_user);
    }
    for (key, slot) in [("header_timeout", &mut server.header_timeout), ("idle_timeout", &mut server.idle_timeout)] {
        if let Some(field) = section.get(key) {
            if let Some(d) = ctx.duration(&field) {
                if d < Duration::from_secs(1) {
                    ctx.error(&field.span, &field.path, "must be at least 1s");
                } else {
                    *slot = d;
                }
            }
        }
    }
    server
}

/// A whole number from 1 to [`MAX_COUNT`].
fn count<'a>(ctx: &mut Ctx<'a>, field: &Field<'a>) -> Option<usize> {
    let Some(n) = field.value().and_then(toml_edit::Value::as_integer) else {
        ctx.error(&field.span, &field.path, format!("expected a whole number from 1 to {MAX_COUNT}"));
        return None;
    };
    let checked = usize::try_from(n)
        .ok()
        .filter(|n| (1..=MAX_COUNT as usize).contains(n))
        .ok_or_else(|| format!("expected a whole number from 1 to {MAX_COUNT}, found {n}"));
    ctx.check(field, checked)
}

/// A plausible IANA zone name (`Europe/Berlin`, `UTC`, `America/Argentina/Buenos_Aires`, `Etc/GMT+2`).
/// Whether the zone exists is for the time code to say; this catches typos such as spaces or paths.
fn check_timezone(text: &str) -> Result<&str, String> {
    let ok = !text.is_empty()
        && !text.starts_with('/')
        && !text.ends_with('/')
        && !text.contains("//")
        && !text.split('/').any(|part| part == "." || part == "..")
        && text.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '-' | '+'));
    if ok {
        Ok(text)
    } else {
        Err(format!("expected a time zone name such as \"Europe/Berlin\" or \"UTC\", found {text:?}"))
    }
}

pub(super) fn parse_storage<'a>(ctx: &mut Ctx<'a>, section: Option<&Section<'a>>, base: &Path) -> StorageConfig {
    let mut storage = StorageConfig {
        path: resolve(base, DEFAULT_STORAGE_PATH),
        max_size: None,
        max_age: None,
        index: StorageIndex::Embedded,
        index_password_file: None,
    };
    let Some(section) = section else {
        return storage;
    };
    section.check_keys(ctx, &STORAGE_KEYS);
    if let Some(field) = section.get("path") {
        if let Some(text) = ctx.non_empty_string(&field) {
            storage.path = resolve(base, text);
        }
    }
    if let Some(field) = section.get("max_size") {
        storage.max_size = ctx.size(&field);
        if storage.max_size == Some(0) {
            ctx.error(&field.span, &field.path, "must be greater than 0 (leave it out for no cap)");
        }
    }
    if let Some(field) = section.get("max_age") {
        storage.max_age = ctx.duration(&field);
        if storage.max_age.is_some_and(|d| d.is_zero()) {
            ctx.error(&field.span, &field.path, "must be greater than 0 (leave it out for no limit)");
        }
    }
    if let Some(field) = section.get("index") {
        if let Some(text) = ctx.non_empty_string(&field) {
            if let Some(index) = ctx.check(&field, check_index(text)) {
                storage.index = index;
            }
        }
    }
    if let Some(field) = section.get("index_password_file") {
        if let Some(text) = ctx.non_empty_string(&field) {
            if matches!(storage.index, StorageIndex::Postgres(_)) {
                storage.index_password_file = Some(resolve(base, text));
            } else {
                ctx.error(&field.span, &field.path, "only with a postgres:// index");
            }
        }
    }
    storage
}

/// `storage.index`: `"sqlite"` or a `postgres://user@host/database` URL. Messages never quote a password.
fn check_index(text: &str) -> Result<StorageIndex, String> {
    const EXPECTED: &str = "expected \"sqlite\" or a URL such as \"postgres://keepwatch@db.example/keepwatch\"";
    if text == "sqlite" {
        return Ok(StorageIndex::Embedded);
    }
    let lower = text.get(..13).unwrap_or(text).to_ascii_lowercase();
    let Some(rest) =
        ["postgres://", "postgresql://"].iter().find_map(|p| lower.starts_with(p).then(|| &text[p.len()..]))
    else {
        return Err(format!("{EXPECTED}, found {:?}", crate::redacted_url(text)));
    };
    if text.len() > MAX_INDEX_URL {
        return Err(format!("the URL is longer than {MAX_INDEX_URL} bytes"));
    }
    if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("{EXPECTED}; the URL holds a space or control character"));
    }
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    let (userinfo, host) = authority.rsplit_once('@').unwrap_or(("", authority));
    if host.is_empty() || host.starts_with(':') {
        return Err(format!("{EXPECTED}; the URL names no host"));
    }
    if userinfo.split(':').next().unwrap_or("").is_empty() {
        return Err(format!("{EXPECTED}; the URL names no user (postgres://USER@host/database)"));
    }
    Ok(StorageIndex::Postgres(text.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_urls() {
        assert_eq!(check_index("sqlite"), Ok(StorageIndex::Embedded));
        let ok = "postgres://kw:pw@db.lan:5433/nvr?application_name=x";
        assert_eq!(check_index(ok), Ok(StorageIndex::Postgres(ok.into())));
        assert!(check_index("PostgreSQL://kw@127.0.0.1/nvr").is_ok());
        assert!(check_index("postgres://kw@[::1]/nvr").is_ok());
        for bad in
            ["mysql://kw:pw@h/d", "postgres://h/d", "postgres://kw:pw@/d", "postgres://kw:pw@h/d e", "/var/lib/x"]
        {
            let e = check_index(bad).unwrap_err();
            assert!(!e.contains(":pw@"), "{bad}: {e}");
        }
        assert!(check_index(&format!("postgres://kw@h/{}", "d".repeat(5000))).is_err());
        let debug = format!("{:?}", StorageIndex::Postgres("postgres://kw:hunter2@h/d".into()));
        assert!(!debug.contains("hunter2"), "{debug}");
    }

    #[test]
    fn timezones() {
        for ok in ["UTC", "Europe/Berlin", "America/Argentina/Buenos_Aires", "Etc/GMT+2", "America/Port-au-Prince"] {
            assert!(check_timezone(ok).is_ok(), "{ok}");
        }
        for bad in ["", "Europe Berlin", "/etc/localtime", "Europe/", "../x", "Europe//Berlin"] {
            assert!(check_timezone(bad).is_err(), "{bad:?}");
        }
    }
}
