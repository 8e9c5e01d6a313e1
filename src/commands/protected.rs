//! `keepwatch protected list|remove`: the protections that keep video from retention ("keep this clip"),
//! made in the web UI or through `POST /api/protected`. Works while `run` is running (SQLite WAL).

use super::accounts::table;
use super::ConfigArg;
use crate::Failure;
use clap::Subcommand;
use std::path::Path;

#[derive(Subcommand, Debug)]
pub enum ProtectedCommand {
    /// List the protections: id, camera, range, size kept, note.
    List {
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Remove a protection by its id: retention may then delete its video.
    Remove {
        #[command(flatten)]
        config: ConfigArg,
        id: i64,
    },
}

pub fn run(command: ProtectedCommand) -> Result<(), Failure> {
    match command {
        ProtectedCommand::List { config } => list(config.path()),
        ProtectedCommand::Remove { config, id } => remove(config.path(), id),
    }
}

fn list(config: &Path) -> Result<(), Failure> {
    let cfg = kw_config::load(config)?;
    let store = crate::store_open::open_existing(config, &cfg)?;
    let all = store.protections().map_err(|e| Failure::runtime(e.to_string()))?;
    if all.is_empty() {
        eprintln!("keepwatch: nothing is protected");
        return Ok(());
    }
    let rows: Vec<Vec<String>> = all
        .iter()
        .map(|p| {
            vec![
                p.id.to_string(),
                p.camera.clone(),
                crate::timefmt::format(p.start),
                crate::timefmt::format(p.end),
                p.event_id.map(|e| e.to_string()).unwrap_or_else(|| "-".into()),
                p.note.replace(['\n', '\t'], " "),
            ]
        })
        .collect();
    print!("{}", table(&["ID", "CAMERA", "START", "END", "EVENT", "NOTE"], &rows));
    let bytes = store.protected_bytes().map_err(|e| Failure::runtime(e.to_string()))?;
    eprintln!("keepwatch: {} protection(s) keep {} MB", all.len(), bytes / 1_000_000);
    Ok(())
}

fn remove(config: &Path, id: i64) -> Result<(), Failure> {
    let cfg = kw_config::load(config)?;
    let store = crate::store_open::open_existing(config, &cfg)?;
    if store.unprotect(id).map_err(|e| Failure::runtime(e.to_string()))? {
        eprintln!("keepwatch: protection {id} removed; retention may now delete its video");
        Ok(())
    } else {
        Err(Failure::usage(format!("no protection {id} (see keepwatch protected list)")))
    }
}
