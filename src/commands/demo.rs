//! `keepwatch demo`: the whole pipeline on the built-in synthetic camera, so a newcomer sees keepwatch
//! work with no camera. It writes `DIR/keepwatch.toml` (only if absent: the user's edits are kept) and
//! its store under `DIR`, never a real store's path, and runs until Ctrl-C, deleting nothing.
//!
//! The directory (when it makes it) is 0700 and the config 0600, like the store inside: the config may
//! get camera passwords, and the store holds video and password hashes.
//!
//! Every start sets a fresh random password for the user `admin` (created if missing) and prints it
//! with the URL: a demo has no secret worth keeping, and a newcomer needs no `user add` to log in.

use crate::Failure;
use kw_auth::Role;
use std::path::Path;

pub fn run(listen: &str, dir: &Path) -> Result<(), Failure> {
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| Failure::runtime(format!("cannot create {}: {e}", dir.display())))?;
    }
    let config = dir.join("keepwatch.toml");
    if !config.exists() {
        let write = || -> std::io::Result<()> {
            use std::io::Write;
            let mut f = crate::store_open::private_file().write(true).create_new(true).open(&config)?;
            f.write_all(kw_config::demo_config(listen, dir).as_bytes())
        };
        write().map_err(|e| Failure::runtime(format!("cannot write {}: {e}", config.display())))?;
    }
    let cfg = kw_config::load(&config)?;
    let password = demo_login(&config, &cfg)?;
    let c = config.display();
    println!("keepwatch demo: recording the built-in synthetic cameras \"demo\" and \"demo-person\" (object detection) into {}", dir.display());
    println!("  open:    {}", url(&cfg.server));
    println!("  login:   admin / {password}");
    println!("  config:  {c} (edit it while the demo runs: changes apply live)");
    println!("  check:   keepwatch check --config {c}");
    println!("  export:  keepwatch export --config {c} --camera demo --start <RFC 3339> --end <RFC 3339> -o demo.mp4");
    println!("Press Ctrl-C to stop; nothing is deleted.");
    let started = std::time::SystemTime::now();
    let started_us = started.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_micros() as i64).unwrap_or(0);
    let mut hinted = false;
    super::runtime()?.block_on(super::run::serve(config.clone(), cfg, move |statuses| {
        for (name, st, written) in statuses {
            let err = st.last_error.as_deref().map(|e| format!(" ({e})")).unwrap_or_default();
            println!("  {name}: {:?}{err}, {written} frames recorded", st.state);
        }
        let elapsed = started.elapsed().unwrap_or_default();
        if !hinted && elapsed.as_secs() >= 20 {
            hinted = true;
            let from = crate::timefmt::format(started_us + 2_000_000);
            let to = crate::timefmt::format(started_us + 17_000_000);
            println!("  try:     keepwatch export --config {c} --camera demo --start {from} --end {to} -o demo.mp4");
        }
    }))
}

/// Ensures the user `admin` (role admin, every camera) and gives it a fresh random password, returned
/// for printing (never logged).
fn demo_login(config: &Path, cfg: &kw_config::Config) -> Result<String, Failure> {
    const ADMIN: &str = "admin";
    let fail = |e: kw_auth::AuthError| Failure::runtime(format!("cannot set up the demo login: {e}"));
    let mut db = crate::store_open::auth_db(config, cfg)?;
    let password = kw_auth::random_token(12).map_err(fail)?;
    match db.get_user(ADMIN).map_err(fail)? {
        None => {
            db.add_user(ADMIN, Role::Admin, None, &password).map_err(fail)?;
            tracing::info!(user = %ADMIN, role = %Role::Admin, cameras = %"all", "user added");
        }
        Some(user) => {
            if user.role != Role::Admin || user.cameras.is_some() {
                db.update_user(ADMIN, Role::Admin, None).map_err(fail)?;
            }
            db.set_password(ADMIN, &password).map_err(fail)?;
            tracing::info!(user = %ADMIN, "password changed; the user's sessions were ended");
        }
    }
    Ok(password)
}

/// The address to open in a browser: the configured `listen`, with a wildcard address (`0.0.0.0`,
/// `[::]`) shown as loopback, which is what a browser on this machine can open.
fn url(server: &kw_config::ServerConfig) -> String {
    let mut addr = server.listen;
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr {
            std::net::SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            std::net::SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    let scheme = if server.tls.is_some() { "https" } else { "http" };
    format!("{scheme}://{addr}/")
}
