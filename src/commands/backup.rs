//! `keepwatch backup -o FILE` and `keepwatch restore FILE --store DIR`: the way to move to a new box (see
//! [`crate::backup`]). The backup works while `run` runs (an online copy of the index); the restore writes
//! a new store and a config file whose `[storage] path` names it, and refuses to overwrite either.

use crate::Failure;
use std::path::{Path, PathBuf};

/// `keepwatch backup`.
pub fn backup(config: &Path, output: &Path) -> Result<(), Failure> {
    let cfg = kw_config::load(config)?;
    let config_text = std::fs::read_to_string(config)
        .map_err(|e| Failure::runtime(format!("cannot read {}: {e}", config.display())))?;
    let store = crate::store_open::open_existing(config, &cfg)?;
    let src = crate::backup::Source { config_text: &config_text, store_dir: &cfg.storage.path, store_id: store.id() };
    drop(store);
    let manifest = crate::backup::take(&src, output).map_err(Failure::runtime)?;
    eprintln!(
        "backed up the store {} to {}: {}; left out: {} (and the video)",
        src.store_id,
        output.display(),
        crate::backup::describe(&manifest.files),
        manifest.left_out.join("; ")
    );
    Ok(())
}

/// `keepwatch restore`.
pub fn restore(file: &Path, store: &Path, config: &Path) -> Result<(), Failure> {
    let id_file = {
        let mut n = config.file_name().map(|n| n.to_os_string()).unwrap_or_default();
        n.push(".store-id");
        config.with_file_name(n)
    };
    for f in [config, id_file.as_path()] {
        if f.exists() {
            return Err(Failure::usage(format!(
                "{} exists; restore writes a new config: move it away or name another with --config",
                f.display()
            )));
        }
    }
    // The config names the store by an absolute path, wherever it is kept.
    let store_abs = absolute(store)?;
    let path_text = store_abs.to_str().ok_or_else(|| Failure::usage("the store path is not UTF-8"))?.to_owned();
    let prepare = |text: &str| -> Result<kw_config::ConfigDoc, String> {
        let mut doc = kw_config::ConfigDoc::parse(text, config)
            .map_err(|e| format!("the config in the backup is not valid here: {e}"))?;
        doc.set_storage_path(&path_text).map_err(|e| e.to_string())?;
        Ok(doc)
    };
    let restored = crate::backup::restore(file, &store_abs, prepare).map_err(Failure::runtime)?;
    if let Err(e) = restored.config.save(config) {
        return Err(Failure::runtime(format!(
            "the store at {} is restored, but the config could not be written: {e}",
            store_abs.display()
        )));
    }
    let remember = crate::store_open::private_file()
        .write(true)
        .create_new(true)
        .open(&id_file)
        .and_then(|mut f| std::io::Write::write_all(&mut f, format!("{}\n", restored.store_id).as_bytes()));
    if let Err(e) = remember {
        tracing::warn!("could not remember the store id in {}: {e}", id_file.display());
    }
    let (users, tokens, events) = restored.counts;
    eprintln!(
        "restored the backup of {} (store {}, taken by keepwatch {}) into the new store {} at {}: {users} user(s), \
         {tokens} API token(s), {events} event(s); config written to {}. The video is not in a backup. Start \
         it with: keepwatch run --config {}",
        restored.manifest.created,
        restored.manifest.source_store,
        restored.manifest.keepwatch,
        restored.store_id,
        store_abs.display(),
        config.display(),
        config.display()
    );
    Ok(())
}

fn absolute(p: &Path) -> Result<PathBuf, Failure> {
    std::path::absolute(p).map_err(|e| Failure::usage(format!("{}: {e}", p.display())))
}
