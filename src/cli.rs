//! The command line: the public names are fixed by the project's contract (docs/conventions in README):
//! `run`, `demo`, `export`, `check`, `user`, `token`, each store command with `--config PATH`.

use crate::Failure;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "keepwatch",
    version,
    about = "Self-hosted network video recorder: record, watch and export your cameras"
)]
pub struct Cli {
    /// More log detail (-v debug, -vv trace); KEEPWATCH_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Record every configured camera; applies changes to the config file without a restart.
    Run {
        #[arg(long, default_value = "keepwatch.toml")]
        config: PathBuf,
    },
    /// The whole pipeline on a built-in synthetic camera: writes DIR/keepwatch.toml and its store in DIR.
    Demo {
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
        #[arg(long, default_value = "keepwatch-demo")]
        dir: PathBuf,
    },
    /// Write a recorded range as one MP4 (no re-encoding).
    Export {
        #[arg(long, default_value = "keepwatch.toml")]
        config: PathBuf,
        #[arg(long)]
        camera: String,
        /// RFC 3339, e.g. 2026-11-25T10:00:00Z
        #[arg(long)]
        start: String,
        #[arg(long)]
        end: String,
        #[arg(short = 'o', long = "output")]
        output: PathBuf,
    },
    /// List a camera's recorded spans as JSON ([{"start","end"}], RFC 3339), like the API's recordings route.
    Recordings {
        #[arg(long, default_value = "keepwatch.toml")]
        config: PathBuf,
        #[arg(long)]
        camera: String,
        #[arg(long)]
        start: Option<String>,
        #[arg(long)]
        end: Option<String>,
    },
    /// Verify the index against the segment files; change nothing unless --repair.
    Check {
        #[arg(long, default_value = "keepwatch.toml")]
        config: PathBuf,
        #[arg(long)]
        repair: bool,
    },
    /// Manage the users who log in to the web UI and API (works while `run` is running).
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Manage API tokens for scripts, VLC and Home Assistant (works while `run` is running).
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Alert notifiers: `notify test NAME` sends a test message through one now.
    Notify {
        #[command(subcommand)]
        command: NotifyCommand,
    },
    /// Find ONVIF cameras on the network (WS-Discovery): one line per camera with a ready onvif:// URL.
    Discover {
        /// Send the probe only through the interface with this IPv4 address (e.g. 192.168.1.10).
        #[arg(long, value_name = "ADDR")]
        interface: Option<std::net::Ipv4Addr>,
        /// Seconds to wait for answers.
        #[arg(long, value_name = "SECS", default_value_t = 3)]
        timeout: u64,
    },
    /// Show or set the alert mode: home, away (every alert) or off (no motion alerts). `run` follows it.
    Mode {
        /// home | away | off; omitted: print the mode
        mode: Option<String>,
        #[arg(long, default_value = "keepwatch.toml")]
        config: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
pub enum NotifyCommand {
    /// Send a test message through notifier NAME (from [[notify]] in the config) and say what happened.
    Test {
        name: String,
        #[arg(long, default_value = "keepwatch.toml")]
        config: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Add a user; the password is read from standard input (prompted twice on a terminal).
    Add {
        #[arg(long, default_value = "keepwatch.toml")]
        config: PathBuf,
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
        #[arg(long, default_value = "keepwatch.toml")]
        config: PathBuf,
    },
    /// Remove a user and end their sessions (the last admin cannot be removed).
    Remove {
        #[arg(long, default_value = "keepwatch.toml")]
        config: PathBuf,
        name: String,
    },
    /// Set a user's password, read from standard input, and end their sessions.
    Passwd {
        #[arg(long, default_value = "keepwatch.toml")]
        config: PathBuf,
        name: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Create an API token and print it (on standard output, alone on its line); it is shown only once.
    Create {
        #[arg(long, default_value = "keepwatch.toml")]
        config: PathBuf,
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
        #[arg(long, default_value = "keepwatch.toml")]
        config: PathBuf,
    },
    /// Revoke a token: it stops working at once.
    Revoke {
        #[arg(long, default_value = "keepwatch.toml")]
        config: PathBuf,
        label: String,
    },
}

pub fn dispatch(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        Command::Run { config } => crate::daemon::run(&config),
        Command::Demo { listen, dir } => crate::demo::run(&listen, &dir),
        Command::Export { config, camera, start, end, output } => {
            let start = crate::timefmt::parse(&start).map_err(|e| Failure::usage(format!("--start: {e}")))?;
            let end = crate::timefmt::parse(&end).map_err(|e| Failure::usage(format!("--end: {e}")))?;
            crate::export::run(&config, &camera, start, end, &output)
        }
        Command::Check { config, repair } => check(&config, repair),
        Command::Recordings { config, camera, start, end } => recordings(&config, &camera, start, end),
        Command::Notify { command: NotifyCommand::Test { name, config } } => crate::alerting::cli_test(&config, &name),
        Command::Discover { interface, timeout } => crate::onvif::discover_cli(interface, timeout),
        Command::Mode { mode, config } => crate::alerting::cli_mode(&config, mode.as_deref()),
        Command::User { command } => match command {
            UserCommand::Add { config, name, role, cameras } => {
                crate::usercli::user_add(&config, &name, &role, cameras.as_deref())
            }
            UserCommand::List { config } => crate::usercli::user_list(&config),
            UserCommand::Remove { config, name } => crate::usercli::user_remove(&config, &name),
            UserCommand::Passwd { config, name } => crate::usercli::user_passwd(&config, &name),
        },
        Command::Token { command } => match command {
            TokenCommand::Create { config, label, role, cameras } => {
                crate::usercli::token_create(&config, &label, &role, cameras.as_deref())
            }
            TokenCommand::List { config } => crate::usercli::token_list(&config),
            TokenCommand::Revoke { config, label } => crate::usercli::token_revoke(&config, &label),
        },
    }
}

fn check(config: &std::path::Path, repair: bool) -> Result<(), Failure> {
    let cfg = kw_config::load(config)?;
    let store = crate::storeopen::open_existing(config, &cfg)?;
    let report = store.check(repair).map_err(|e| Failure::runtime(format!("check failed: {e}")))?;
    println!("{report}");
    if report.is_clean() || repair {
        Ok(())
    } else {
        Err(Failure::runtime("the store has problems; run `keepwatch check --repair` to fix them"))
    }
}

fn recordings(
    config: &std::path::Path,
    camera: &str,
    start: Option<String>,
    end: Option<String>,
) -> Result<(), Failure> {
    let parse = |v: Option<String>, default: i64, what: &str| -> Result<i64, Failure> {
        match v {
            Some(s) => crate::timefmt::parse(&s).map_err(|e| Failure::usage(format!("--{what}: {e}"))),
            None => Ok(default),
        }
    };
    let start = parse(start, i64::MIN / 2, "start")?;
    let end = parse(end, i64::MAX / 2, "end")?;
    let cfg = kw_config::load(config)?;
    let store = crate::storeopen::open_existing(config, &cfg)?;
    let spans = store.spans(camera, start, end).map_err(|e| Failure::runtime(e.to_string()))?;
    let out: Vec<serde_json::Value> = spans
        .iter()
        .map(|(s, e)| serde_json::json!({"start": crate::timefmt::format(*s), "end": crate::timefmt::format(*e)}))
        .collect();
    println!("{}", serde_json::Value::Array(out));
    Ok(())
}
