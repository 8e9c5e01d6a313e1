//! The command line, one file per subcommand. The public names are fixed by the project's contract
//! (docs/conventions.md): `run`, `demo`, `export`, `recordings`, `check`, `user`, `token`, `notify`,
//! `discover`, `mode`, `offsite`, `protected`, `backup`, `restore`, `completions`, `manpage`; every store command takes
//! `--config PATH` ([`ConfigArg`], declared once here).
//!
//! Why commands are a room of their own: they are the only place that wires parts together. A command
//! reads its arguments, opens what it needs (store, index, alerts) and calls into the parts; no part
//! reaches back up into a command. `run` is the biggest: it is the composition root of the daemon.

mod accounts;
mod backup;
mod check;
mod demo;
mod discover;
mod docs;
mod export;
mod mode;
mod notify;
mod offsite;
mod protected;
mod recordings;
mod run;
mod tokens;
mod users;

use crate::Failure;
use clap::{Args, Parser, Subcommand};
use std::path::{Path, PathBuf};

#[derive(Parser, Debug)]
#[command(
    name = "keepwatch",
    version = crate::VERSION,
    about = "Self-hosted network video recorder: record, watch and export your cameras"
)]
pub struct Cli {
    /// More log detail (-v debug, -vv trace); KEEPWATCH_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

/// `--config PATH`: the config file, whose `[storage] path` names the store (contract).
#[derive(Args, Debug, Clone)]
pub struct ConfigArg {
    /// The config file (its [storage] path names the store).
    #[arg(long = "config", value_name = "PATH", default_value = "keepwatch.toml")]
    pub path: PathBuf,
}

impl ConfigArg {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Record every configured camera; applies changes to the config file without a restart.
    Run {
        #[command(flatten)]
        config: ConfigArg,
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
        #[command(flatten)]
        config: ConfigArg,
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
        #[command(flatten)]
        config: ConfigArg,
        #[arg(long)]
        camera: String,
        #[arg(long)]
        start: Option<String>,
        #[arg(long)]
        end: Option<String>,
    },
    /// Verify the index against the segment files; change nothing unless --repair.
    Check {
        #[command(flatten)]
        config: ConfigArg,
        #[arg(long)]
        repair: bool,
    },
    /// Manage the users who log in to the web UI and API (works while `run` is running).
    User {
        #[command(subcommand)]
        command: users::UserCommand,
    },
    /// Manage API tokens for scripts, VLC and Home Assistant (works while `run` is running).
    Token {
        #[command(subcommand)]
        command: tokens::TokenCommand,
    },
    /// Alert notifiers: `notify test NAME` sends a test message through one now.
    Notify {
        #[command(subcommand)]
        command: notify::NotifyCommand,
    },
    /// Off-site copies: `offsite keygen`, `offsite list NAME`, `offsite fetch NAME OBJECT --identity FILE -o OUT`.
    Offsite {
        #[command(subcommand)]
        command: offsite::OffsiteCommand,
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
    /// Protected video ("keep this clip"): list protections or remove one so retention may delete it.
    Protected {
        #[command(subcommand)]
        command: protected::ProtectedCommand,
    },
    /// Show or set the alert mode: home, away (every alert) or off (no motion alerts). `run` follows it.
    Mode {
        /// home | away | off; omitted: print the mode
        mode: Option<String>,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Back up everything but the video (config, users, tokens, events, settings, the link key) into one
    /// file (0600); works while `run` runs. Restore it on a new box with `keepwatch restore`.
    Backup {
        #[command(flatten)]
        config: ConfigArg,
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: PathBuf,
    },
    /// Restore a backup into a new, empty store directory and write its config (the way to move to a new box).
    Restore(RestoreArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) on standard output.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) on standard output.
    Manpage,
}

/// `keepwatch restore`'s arguments (a struct, so the variant stays small).
#[derive(Args, Debug)]
pub struct RestoreArgs {
    /// The backup file (made by `keepwatch backup`).
    file: PathBuf,
    /// The new store's directory: must be missing or empty.
    #[arg(long, value_name = "DIR")]
    store: PathBuf,
    /// Where to write the restored config (must not exist); its [storage] path will name DIR.
    #[arg(long = "config", value_name = "PATH", default_value = "keepwatch.toml")]
    config: PathBuf,
}

pub fn dispatch(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        Command::Run { config } => run::run(config.path()),
        Command::Demo { listen, dir } => demo::run(&listen, &dir),
        Command::Export { config, camera, start, end, output } => {
            export::run(config.path(), &camera, &start, &end, &output)
        }
        Command::Check { config, repair } => check::run(config.path(), repair),
        Command::Recordings { config, camera, start, end } => {
            recordings::run(config.path(), &camera, start.as_deref(), end.as_deref())
        }
        Command::Notify { command } => notify::run(command),
        Command::Offsite { command } => offsite::run(command),
        Command::Discover { interface, timeout } => discover::run(interface, timeout),
        Command::Mode { mode, config } => mode::run(config.path(), mode.as_deref()),
        Command::User { command } => users::run(command),
        Command::Token { command } => tokens::run(command),
        Command::Protected { command } => protected::run(command),
        Command::Backup { config, output } => backup::backup(config.path(), &output),
        Command::Restore(a) => backup::restore(&a.file, &a.store, &a.config),
        Command::Completions { shell } => docs::completions(shell),
        Command::Manpage => docs::manpage(),
    }
}

/// The multi-threaded runtime `run` and `demo` serve on.
fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("keepwatch")
        .build()
        .map_err(|e| Failure::runtime(format!("cannot start the runtime: {e}")))
}

/// A small runtime for the one-shot commands that speak to the network (`notify test`, `discover`).
fn runtime_for_one_command() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::runtime(format!("cannot start the runtime: {e}")))
}

/// An RFC 3339 argument, or exit code 2 naming the flag.
fn time_arg(flag: &str, text: &str) -> Result<kw_media::WallMicros, Failure> {
    crate::timefmt::parse(text).map_err(|e| Failure::usage(format!("--{flag}: {e}")))
}
