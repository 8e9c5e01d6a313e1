//! From `postgres://user@host/db` to a bounded pool of connections.
//!
//! Why each bound: the index is asked from the recorder's threads and from HTTP requests; a database that
//! hangs (a lock, a dead host behind a silent network) must turn into an error the caller can report, never
//! into a thread stuck for ever. So: connecting has a timeout, every statement and every lock wait has one
//! (sent in the startup packet, so it holds for every statement of the session), an idle transaction is ended
//! by the server, TCP keepalive notices a dead peer, waiting for a free connection has a timeout, and the pool
//! has a fixed size.
//!
//! Why no TLS (`NoTls`): the index server is expected on the loopback interface or a trusted LAN segment of
//! the recorder (like the cameras), and a TLS stack with certificate handling is a larger surface than this
//! first step needs. A URL asking for TLS (`sslmode=require`) is refused at open with a message instead of
//! silently talking in the clear; TLS is a later addition.
//!
//! The password comes from the URL (`postgres://user:secret@host/db`); when the URL has none, from the file
//! [`PgOptions::password_file`] (its first line; a file others may read is warned about), else from the
//! environment variable [`PASSWORD_ENV`]. It is never logged: [`Target::location`] leaves it out, and
//! messages are built from that.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use tokio_postgres::config::{Host, SslMode};

/// Environment variable holding the password when the URL has none.
pub const PASSWORD_ENV: &str = "KEEPWATCH_PG_PASSWORD";

/// Longest URL or password accepted (they come from a config file or the environment).
const MAX_TEXT: usize = 4096;

/// Limits of the connection pool and its statements.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PgOptions {
    /// Connections at most (the recorder's finishing writers, HTTP requests, retention share them).
    pub pool_size: usize,
    /// Establishing one connection (TCP and authentication).
    pub connect_timeout: Duration,
    /// Any one statement, and any one lock wait, on the server.
    pub statement_timeout: Duration,
    /// Waiting for a free connection of the pool.
    pub wait_timeout: Duration,
    /// One call of the index as a whole (waiting, connecting, all its statements); past it the call fails.
    pub call_timeout: Duration,
    /// A file holding the password, used when the URL has none (before [`PASSWORD_ENV`]).
    pub password_file: Option<PathBuf>,
}

impl Default for PgOptions {
    fn default() -> Self {
        PgOptions {
            pool_size: 4,
            connect_timeout: Duration::from_secs(10),
            statement_timeout: Duration::from_secs(30),
            wait_timeout: Duration::from_secs(30),
            call_timeout: Duration::from_secs(90),
            password_file: None,
        }
    }
}

/// A parsed index URL: the driver's config (with the password) and a printable location (without).
pub(crate) struct Target {
    pub config: tokio_postgres::Config,
    pub location: String,
}

/// True when `url` names a PostgreSQL server (`postgres://` or `postgresql://`).
pub fn is_postgres_url(url: &str) -> bool {
    let lower = url.get(..13).unwrap_or(url).to_ascii_lowercase();
    lower.starts_with("postgres://") || lower.starts_with("postgresql://")
}

/// The first line of password file `path` (bounded; a file others may read is warned about).
pub(crate) fn read_password_file(path: &Path) -> Result<String, String> {
    use std::io::Read;
    use std::os::unix::fs::PermissionsExt;
    let f = std::fs::File::open(path).map_err(|e| format!("cannot read the password file {}: {e}", path.display()))?;
    if f.metadata().is_ok_and(|m| m.permissions().mode() & 0o077 != 0) {
        tracing::warn!("the password file {} can be read by other users; make it 0600", path.display());
    }
    let mut text = String::new();
    f.take(MAX_TEXT as u64 + 1)
        .read_to_string(&mut text)
        .map_err(|e| format!("cannot read the password file {}: {e}", path.display()))?;
    if text.len() > MAX_TEXT {
        return Err(format!("the password file {} is longer than {MAX_TEXT} bytes", path.display()));
    }
    let line = text.lines().next().unwrap_or("").to_string();
    if line.is_empty() {
        return Err(format!("the password file {} is empty", path.display()));
    }
    Ok(line)
}

/// Parses `url`, takes the password from the URL, else from `opts.password_file`, else from `env_password`
/// (the value of [`PASSWORD_ENV`]), and applies `opts`' timeouts. Errors never quote the URL (it may hold a
/// password).
pub(crate) fn target(url: &str, env_password: Option<String>, opts: &PgOptions) -> Result<Target, String> {
    if url.len() > MAX_TEXT {
        return Err(format!("the index URL is longer than {MAX_TEXT} bytes"));
    }
    if !is_postgres_url(url) {
        return Err("the index URL must start with postgres:// or postgresql://".into());
    }
    let mut config = tokio_postgres::Config::from_str(url)
        .map_err(|e| format!("the index URL is not a valid PostgreSQL URL ({})", scrub(&e.to_string(), url)))?;
    if config.get_hosts().is_empty() {
        return Err("the index URL names no host (postgres://user@host/database)".into());
    }
    let Some(user) = config.get_user().filter(|u| !u.is_empty()).map(str::to_string) else {
        return Err("the index URL names no user (postgres://user@host/database)".into());
    };
    if config.get_ssl_mode() == SslMode::Require {
        return Err("the index URL asks for TLS (sslmode=require), which keepwatch does not speak to PostgreSQL \
                    yet; use it on loopback or a trusted network without sslmode"
            .into());
    }
    if config.get_password().is_none() {
        if let Some(file) = &opts.password_file {
            config.password(read_password_file(file)?);
        } else if let Some(p) = env_password.filter(|p| !p.is_empty()) {
            if p.len() > MAX_TEXT {
                return Err(format!("{PASSWORD_ENV} is longer than {MAX_TEXT} bytes"));
            }
            config.password(p);
        }
    }
    let ms = |d: Duration| d.as_millis().max(1);
    let mut options = config.get_options().map(|o| format!("{o} ")).unwrap_or_default();
    options.push_str(&format!(
        "-c statement_timeout={} -c lock_timeout={} -c idle_in_transaction_session_timeout={}",
        ms(opts.statement_timeout),
        ms(opts.statement_timeout),
        ms(opts.statement_timeout * 2),
    ));
    config.options(options);
    config.connect_timeout(opts.connect_timeout);
    config.keepalives(true);
    config.keepalives_idle(Duration::from_secs(30));
    if config.get_application_name().is_none() {
        config.application_name("keepwatch");
    }
    let host = match &config.get_hosts()[0] {
        Host::Tcp(h) if h.contains(':') => format!("[{h}]"),
        Host::Tcp(h) => h.clone(),
        Host::Unix(p) => p.display().to_string(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let db = config.get_dbname().unwrap_or(&user).to_string();
    let location = format!("postgres://{user}@{host}:{port}/{db}");
    Ok(Target { config, location })
}

/// `text` with any piece of `url`'s userinfo password removed (driver messages may quote parts of the URL).
fn scrub(text: &str, url: &str) -> String {
    let password = url
        .split_once("://")
        .and_then(|(_, rest)| rest.split(['/', '?']).next())
        .and_then(|authority| authority.rsplit_once('@'))
        .and_then(|(userinfo, _)| userinfo.split_once(':'))
        .map(|(_, p)| p)
        .filter(|p| !p.is_empty());
    match password {
        Some(p) => text.replace(p, "***"),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(url: &str, env: Option<&str>) -> Result<Target, String> {
        target(url, env.map(str::to_string), &PgOptions::default())
    }

    #[test]
    fn location_has_no_password_and_defaults() {
        let x = t("postgres://kw:s3cret@db.lan/nvr", None).unwrap();
        assert_eq!(x.location, "postgres://kw@db.lan:5432/nvr");
        assert_eq!(x.config.get_password(), Some(&b"s3cret"[..]));
        let x = t("postgresql://kw@127.0.0.1:6543", None).unwrap();
        assert_eq!(x.location, "postgres://kw@127.0.0.1:6543/kw");
        let x = t("postgres://kw@[::1]:5/d", None).unwrap();
        assert_eq!(x.location, "postgres://kw@[::1]:5/d");
    }

    #[test]
    fn password_from_env_only_when_the_url_has_none() {
        let x = t("postgres://kw@h/d", Some("fromenv")).unwrap();
        assert_eq!(x.config.get_password(), Some(&b"fromenv"[..]));
        let x = t("postgres://kw:inurl@h/d", Some("fromenv")).unwrap();
        assert_eq!(x.config.get_password(), Some(&b"inurl"[..]));
        let x = t("postgres://kw@h/d", Some("")).unwrap();
        assert_eq!(x.config.get_password(), None);
    }

    #[test]
    fn password_from_a_file_before_the_environment() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pw");
        std::fs::write(&file, "from file\nsecond line\n").unwrap();
        let opts = PgOptions { password_file: Some(file.clone()), ..PgOptions::default() };
        let x = target("postgres://kw@h/d", Some("fromenv".into()), &opts).unwrap();
        assert_eq!(x.config.get_password(), Some(&b"from file"[..]));
        let x = target("postgres://kw:inurl@h/d", None, &opts).unwrap();
        assert_eq!(x.config.get_password(), Some(&b"inurl"[..]));
        std::fs::write(&file, "\n").unwrap();
        assert!(target("postgres://kw@h/d", None, &opts).err().unwrap().contains("is empty"));
        std::fs::write(&file, "x".repeat(MAX_TEXT + 10)).unwrap();
        assert!(target("postgres://kw@h/d", None, &opts).err().unwrap().contains("longer than"));
        let missing = PgOptions { password_file: Some(dir.path().join("none")), ..PgOptions::default() };
        assert!(target("postgres://kw@h/d", None, &missing).err().unwrap().contains("cannot read the password file"));
    }

    #[test]
    fn timeouts_are_sent_and_user_options_kept() {
        let x = t("postgres://kw@h/d?options=-c%20search_path%3Dkw", None).unwrap();
        let o = x.config.get_options().unwrap();
        assert!(o.starts_with("-c search_path=kw "), "{o}");
        assert!(o.contains("statement_timeout=30000") && o.contains("lock_timeout=30000"), "{o}");
        assert_eq!(x.config.get_connect_timeout(), Some(&Duration::from_secs(10)));
    }

    #[test]
    fn refusals_do_not_quote_the_password() {
        for bad in [
            "mysql://kw:pw1@h/d",
            "postgres://kw:pw1@h/d?sslmode=require",
            "postgres://kw:pw1@h/d?nonsense=pw1",
            "postgres://:pw1@h/d",
        ] {
            let e = t(bad, None).err().unwrap_or_else(|| panic!("{bad} accepted"));
            assert!(!e.contains("pw1"), "{e}");
        }
        assert!(t(&format!("postgres://kw@h/{}", "d".repeat(5000)), None).is_err());
        assert!(is_postgres_url("PostgreSQL://x") && !is_postgres_url("post"));
    }
}
