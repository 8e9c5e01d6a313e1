//! `keepwatch user add|list|remove|passwd|grant`: the people who log in to the web UI and the API (see
//! [`super::accounts`] for the shared rules: passwords on standard input, exit codes).

use super::accounts::{auth_failure, cameras_text, parse_access, read_password, table, with_hint};
use super::ConfigArg;
use crate::Failure;
use clap::Subcommand;
use kw_auth::AuthError;
use std::path::Path;

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Add a user; the password is read from standard input (prompted twice on a terminal).
    Add {
        #[command(flatten)]
        config: ConfigArg,
        /// The login name: a-z, 0-9, '.', '_' and '-', starting with a letter or digit.
        name: String,
        /// admin (everything) or viewer (watching only).
        #[arg(long, value_name = "admin|viewer")]
        role: String,
        /// Limit a viewer to these cameras (comma-separated); all cameras when left out.
        #[arg(long, value_name = "a,b")]
        cameras: Option<String>,
    },
    /// List the users with their roles and cameras.
    List {
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Remove a user and end their sessions (the last admin cannot be removed).
    Remove {
        #[command(flatten)]
        config: ConfigArg,
        name: String,
    },
    /// Grant a viewer extra rights (or withdraw them with --no-...): --ptz lets them move PTZ cameras
    /// they may see (admins always may).
    Grant {
        #[command(flatten)]
        config: ConfigArg,
        name: String,
        /// May move PTZ cameras (pan, tilt, zoom, presets).
        #[arg(long, conflicts_with = "no_ptz")]
        ptz: bool,
        /// May no longer move PTZ cameras.
        #[arg(long)]
        no_ptz: bool,
    },
    /// Set a user's password, read from standard input, and end their sessions.
    Passwd {
        #[command(flatten)]
        config: ConfigArg,
        name: String,
    },
}

pub fn run(command: UserCommand) -> Result<(), Failure> {
    match command {
        UserCommand::Add { config, name, role, cameras } => user_add(config.path(), &name, &role, cameras.as_deref()),
        UserCommand::List { config } => user_list(config.path()),
        UserCommand::Remove { config, name } => user_remove(config.path(), &name),
        UserCommand::Passwd { config, name } => user_passwd(config.path(), &name),
        UserCommand::Grant { config, name, ptz, no_ptz } => user_grant(config.path(), &name, ptz, no_ptz),
    }
}

/// `user add NAME --role admin|viewer [--cameras a,b]`, password on stdin.
fn user_add(config: &Path, name: &str, role: &str, cameras: Option<&str>) -> Result<(), Failure> {
    let cfg = kw_config::load(config)?;
    kw_auth::validate_user_name(name).map_err(auth_failure)?;
    let (role, cameras) = parse_access(role, cameras, &cfg)?;
    let mut db = crate::store_open::auth_db(config, &cfg)?;
    if db.get_user(name).map_err(auth_failure)?.is_some() {
        return Err(auth_failure(AuthError::UserExists(name.to_owned())));
    }
    let password = read_password(name)?;
    let user = db.add_user(name, role, cameras, &password).map_err(auth_failure)?;
    tracing::info!(user = %user.name, role = %user.role, cameras = %cameras_text(user.cameras.as_deref()), "user added");
    Ok(())
}

/// `user grant NAME --ptz|--no-ptz`.
fn user_grant(config: &Path, name: &str, ptz: bool, no_ptz: bool) -> Result<(), Failure> {
    if !ptz && !no_ptz {
        return Err(Failure::usage("user grant: say what: --ptz or --no-ptz"));
    }
    let cfg = kw_config::load(config)?;
    let mut db = crate::store_open::auth_db(config, &cfg)?;
    db.set_ptz(name, ptz).map_err(auth_failure)?;
    tracing::info!(user = %name, ptz, "PTZ grant changed");
    eprintln!("keepwatch: {name} {} move PTZ cameras", if ptz { "may now" } else { "may no longer" });
    Ok(())
}

/// `user list`: a table of names, roles and cameras (never hashes).
fn user_list(config: &Path) -> Result<(), Failure> {
    let cfg = kw_config::load(config)?;
    let db = crate::store_open::auth_db(config, &cfg)?;
    let users = db.list_users().map_err(auth_failure)?;
    if users.is_empty() {
        eprintln!("no users yet; add one with `keepwatch user add NAME --role admin --config {}`", config.display());
        return Ok(());
    }
    let rows: Vec<Vec<String>> =
        users.iter().map(|u| vec![u.name.clone(), u.role.to_string(), cameras_text(u.cameras.as_deref())]).collect();
    print!("{}", table(&["NAME", "ROLE", "CAMERAS"], &rows));
    Ok(())
}

/// `user remove NAME`: removes the user and ends their sessions; the last admin is refused.
fn user_remove(config: &Path, name: &str) -> Result<(), Failure> {
    let cfg = kw_config::load(config)?;
    kw_auth::validate_user_name(name).map_err(auth_failure)?;
    let mut db = crate::store_open::auth_db(config, &cfg)?;
    db.remove_user(name).map_err(|e| with_hint(e, config))?;
    tracing::info!(user = %name, "user removed");
    Ok(())
}

/// `user passwd NAME`, password on stdin: sets it and ends the user's sessions.
fn user_passwd(config: &Path, name: &str) -> Result<(), Failure> {
    let cfg = kw_config::load(config)?;
    kw_auth::validate_user_name(name).map_err(auth_failure)?;
    let mut db = crate::store_open::auth_db(config, &cfg)?;
    if db.get_user(name).map_err(auth_failure)?.is_none() {
        return Err(with_hint(AuthError::NoSuchUser(name.to_owned()), config));
    }
    let password = read_password(name)?;
    db.set_password(name, &password).map_err(|e| with_hint(e, config))?;
    tracing::info!(user = %name, "password changed; the user's sessions were ended");
    Ok(())
}
