//! `keepwatch token create|list|revoke`: API tokens for scripts, VLC and Home Assistant (see
//! [`super::accounts`] for the shared rules). A new token is printed once; only its hash is kept.

use super::accounts::{auth_failure, cameras_text, parse_access, table, with_hint};
use super::ConfigArg;
use crate::Failure;
use clap::Subcommand;
use std::path::Path;

#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Create an API token and print it (on standard output, alone on its line); it is shown only once.
    Create {
        #[command(flatten)]
        config: ConfigArg,
        /// A name for the token: a-z, 0-9, '.', '_' and '-', starting with a letter or digit.
        label: String,
        /// admin (everything) or viewer (watching only).
        #[arg(long, value_name = "admin|viewer")]
        role: String,
        /// Limit a viewer token to these cameras (comma-separated); all cameras when left out.
        #[arg(long, value_name = "a,b")]
        cameras: Option<String>,
    },
    /// List the tokens (labels, roles, cameras, dates; never the tokens themselves).
    List {
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Revoke a token: it stops working at once.
    Revoke {
        #[command(flatten)]
        config: ConfigArg,
        label: String,
    },
}

pub fn run(command: TokenCommand) -> Result<(), Failure> {
    match command {
        TokenCommand::Create { config, label, role, cameras } => {
            token_create(config.path(), &label, &role, cameras.as_deref())
        }
        TokenCommand::List { config } => token_list(config.path()),
        TokenCommand::Revoke { config, label } => token_revoke(config.path(), &label),
    }
}

/// `token create LABEL --role admin|viewer [--cameras a,b]`: prints the token, alone on its line.
fn token_create(config: &Path, label: &str, role: &str, cameras: Option<&str>) -> Result<(), Failure> {
    let cfg = kw_config::load(config)?;
    kw_auth::validate_token_label(label).map_err(auth_failure)?;
    let (role, cameras) = parse_access(role, cameras, &cfg)?;
    let mut db = crate::store_open::auth_db(config, &cfg)?;
    let shown = cameras_text(cameras.as_deref());
    let token = db.create_token(label, role, cameras).map_err(auth_failure)?;
    tracing::info!(token = %label, role = %role, cameras = %shown, "API token created");
    println!("{token}");
    eprintln!("keepwatch: this is the only time the token is shown; keep it somewhere safe");
    Ok(())
}

/// `token list`: labels, roles, cameras and dates; never the tokens.
fn token_list(config: &Path) -> Result<(), Failure> {
    let cfg = kw_config::load(config)?;
    let db = crate::store_open::auth_db(config, &cfg)?;
    let tokens = db.list_tokens().map_err(auth_failure)?;
    if tokens.is_empty() {
        eprintln!(
            "no API tokens yet; create one with `keepwatch token create LABEL --role viewer --config {}`",
            config.display()
        );
        return Ok(());
    }
    let time = |secs: i64| crate::timefmt::format(secs.saturating_mul(1_000_000));
    let rows: Vec<Vec<String>> = tokens
        .iter()
        .map(|t| {
            vec![
                t.label.clone(),
                t.role.to_string(),
                cameras_text(t.cameras.as_deref()),
                time(t.created),
                t.last_used.map(time).unwrap_or_else(|| "never".into()),
            ]
        })
        .collect();
    print!("{}", table(&["LABEL", "ROLE", "CAMERAS", "CREATED", "LAST USED"], &rows));
    Ok(())
}

/// `token revoke LABEL`: the token stops working at once, also in a running server.
fn token_revoke(config: &Path, label: &str) -> Result<(), Failure> {
    let cfg = kw_config::load(config)?;
    kw_auth::validate_token_label(label).map_err(auth_failure)?;
    let mut db = crate::store_open::auth_db(config, &cfg)?;
    db.revoke_token(label).map_err(|e| with_hint(e, config))?;
    tracing::info!(token = %label, "API token revoked");
    Ok(())
}
