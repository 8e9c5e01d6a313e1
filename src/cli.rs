//! The command line: the public names are fixed by the project's contract (docs/conventions in README):
//! `run`, `demo`, `export`, `check`, each store command with `--config PATH`.

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
