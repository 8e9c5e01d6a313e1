//! The effective config in memory: the config file, validated, published on a watch channel.
//!
//! Why: the file is the one source of truth (the user edits it, the API edits it through `ConfigDoc`),
//! but readers must not parse it themselves: a half-written or invalid file would be seen, and a reader
//! could show a `[storage] path` that is not the one in use. So one watcher reads the file (every
//! [`POLL`], or at once when nudged after an API edit), publishes each new valid version, and keeps the
//! running one when a change does not parse; SIGHUP ([`Hangups`], what `systemctl reload` sends) makes it
//! look at once. Everything else (HTTP, alerts, retention, the cameras)
//! reads the published [`Effective`] config.
//!
//! `[server]` and `[storage] path` and `index` apply at start only: the published config keeps the running ones
//! (with a warning when the file says otherwise), so what readers see is what runs.

use kw_config::Config;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// How often the config file is looked at.
pub const POLL: Duration = Duration::from_secs(2);

/// The config as it runs.
pub type Effective = Arc<Config>;

/// Reads the file and publishes its changes; owned by the daemon's main loop.
pub struct ConfigWatcher {
    path: PathBuf,
    last_text: String,
    tx: watch::Sender<Effective>,
}

impl ConfigWatcher {
    /// Starts from `initial`, the config `run` was started with (already read from `path`).
    pub fn new(path: &Path, initial: Config) -> (ConfigWatcher, watch::Receiver<Effective>) {
        let last_text = std::fs::read_to_string(path).unwrap_or_default();
        let (tx, rx) = watch::channel(Arc::new(initial));
        (ConfigWatcher { path: path.to_path_buf(), last_text, tx }, rx)
    }

    /// The config as it runs now.
    pub fn current(&self) -> Effective {
        self.tx.borrow().clone()
    }

    /// Looks at the file: when it changed and is valid, publishes and returns the new effective config.
    /// A file that cannot be read is ignored (a moment during an atomic save); one that does not parse is
    /// reported once per change and the running config stays.
    pub fn poll(&mut self) -> Option<Effective> {
        let text = std::fs::read_to_string(&self.path).ok()?;
        if text == self.last_text {
            return None;
        }
        self.last_text = text.clone();
        match kw_config::parse(&text, &self.path) {
            Err(e) => {
                tracing::error!("config change not applied, keeping the running setup: {e}");
                None
            }
            Ok(new) => {
                tracing::info!("config changed: applying");
                let new = Arc::new(pin_start_only(new, &self.current()));
                self.tx.send_replace(new.clone());
                Some(new)
            }
        }
    }
}

/// SIGHUP, the conventional "read your config again" (the systemd unit's `ExecReload`): the daemon looks at
/// the file at once instead of at the next poll. Made at start, so a SIGHUP never ends the process (its
/// default action) once keepwatch is up.
pub struct Hangups(Option<tokio::signal::unix::Signal>);

impl Hangups {
    /// Starts listening; where that fails (it cannot on a working Unix) a warning is logged and polling goes on.
    pub fn listen() -> Hangups {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
            Ok(s) => Hangups(Some(s)),
            Err(e) => {
                tracing::warn!("cannot listen for SIGHUP ({e}); config changes are still picked up every {POLL:?}");
                Hangups(None)
            }
        }
    }

    /// The next SIGHUP (never, without a handler).
    pub async fn recv(&mut self) {
        match &mut self.0 {
            Some(s) => {
                if s.recv().await.is_none() {
                    self.0 = None;
                    std::future::pending::<()>().await
                }
            }
            None => std::future::pending::<()>().await,
        }
    }
}

/// Whether the effective config `running` has taken in the config file's `file` (everything but what
/// applies only at start).
pub fn takes_in(running: &Config, file: &Config) -> bool {
    let mut f = file.clone();
    f.server = running.server.clone();
    f.storage.path = running.storage.path.clone();
    f.storage.index = running.storage.index.clone();
    f.storage.index_password_file = running.storage.index_password_file.clone();
    *running == f
}

/// `new` with the settings that apply only at start taken from `running`.
fn pin_start_only(mut new: Config, running: &Config) -> Config {
    if new.storage.path != running.storage.path
        || new.storage.index != running.storage.index
        || new.storage.index_password_file != running.storage.index_password_file
        || new.server != running.server
        || new.restream != running.restream
    {
        tracing::warn!("[server], [restream] and [storage] path and index changes take effect after a restart");
    }
    new.server = running.server.clone();
    new.restream = running.restream.clone();
    new.storage.path = running.storage.path.clone();
    new.storage.index = running.storage.index.clone();
    new.storage.index_password_file = running.storage.index_password_file.clone();
    new
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "[server]\nlisten = \"127.0.0.1:8080\"\n[storage]\npath = \"/srv/a\"\n";

    #[test]
    fn publishes_valid_changes_and_keeps_start_only_settings() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keepwatch.toml");
        std::fs::write(&path, BASE).unwrap();
        let initial = kw_config::load(&path).unwrap();
        let (mut w, rx) = ConfigWatcher::new(&path, initial);
        assert!(w.poll().is_none(), "unchanged");
        let changed = BASE.replace("/srv/a", "/srv/b").replace("8080", "9090")
            + "max_size = \"1GB\"\nindex = \"postgres://kw@db/kw\"\n";
        std::fs::write(&path, changed).unwrap();
        let new = w.poll().expect("a valid change is published");
        assert_eq!(new.storage.path, Path::new("/srv/a"), "the store in use stays");
        assert_eq!(new.storage.index, kw_config::StorageIndex::Embedded, "so does its index");
        assert_eq!(new.server.listen.port(), 8080);
        assert_eq!(new.storage.max_size, Some(1_000_000_000));
        assert!(Arc::ptr_eq(&rx.borrow(), &new));
        assert!(takes_in(&new, &kw_config::load(&path).unwrap()));
        std::fs::write(&path, "[storage\n").unwrap();
        assert!(w.poll().is_none(), "an invalid file is not published");
        assert_eq!(rx.borrow().storage.max_size, Some(1_000_000_000));
    }
}
