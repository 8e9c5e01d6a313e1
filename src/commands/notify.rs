//! `keepwatch notify test NAME`: sends a test message through one `[[notify]]` entry now and says what
//! happened (or exactly why it failed), without a running daemon. Also home of [`open_alerts`], which
//! `mode` shares: the alerts engine of the store the config names, without its workers.

use super::ConfigArg;
use crate::Failure;
use clap::Subcommand;
use std::path::Path;

#[derive(Subcommand, Debug)]
pub enum NotifyCommand {
    /// Send a test message through notifier NAME (from [[notify]] in the config) and say what happened.
    Test {
        name: String,
        #[command(flatten)]
        config: ConfigArg,
    },
}

pub fn run(command: NotifyCommand) -> Result<(), Failure> {
    match command {
        NotifyCommand::Test { name, config } => test(config.path(), &name),
    }
}

/// The config and the alerts engine of the store it names (opened like the other store commands: never
/// created).
pub(super) fn open_alerts(config: &Path) -> Result<(kw_config::Config, kw_notify::Alerts), Failure> {
    let cfg = kw_config::load(config)?;
    drop(crate::store_open::open_existing(config, &cfg)?);
    let index = cfg.storage.path.join(kw_store::INDEX_FILE);
    let options = kw_notify::Options {
        language: cfg.server.language.unwrap_or(kw_config::Language::En),
        timezone: cfg.server.timezone.clone(),
        ..Default::default()
    };
    let alerts = kw_notify::Alerts::open(&index, &cfg.notify, options)
        .map_err(|e| Failure::runtime(format!("cannot open the alerts outbox in {}: {e}", index.display())))?;
    Ok((cfg, alerts))
}

fn test(config: &Path, name: &str) -> Result<(), Failure> {
    let (cfg, alerts) = open_alerts(config)?;
    if !cfg.notify.iter().any(|n| n.name == name) {
        let names: Vec<&str> = cfg.notify.iter().map(|n| n.name.as_str()).collect();
        return Err(Failure::usage(format!(
            "no notifier {name:?} in {} (configured: {})",
            config.display(),
            if names.is_empty() { "none".to_owned() } else { names.join(", ") }
        )));
    }
    match super::runtime()?.block_on(alerts.test(name)) {
        Ok(what) => {
            println!("{what}");
            Ok(())
        }
        Err(e) => Err(Failure::runtime(format!("the test message through {name:?} failed: {e}"))),
    }
}
