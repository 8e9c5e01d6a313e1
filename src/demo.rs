//! `keepwatch demo`: the whole pipeline on the built-in synthetic camera, so a newcomer sees keepwatch
//! work with no camera. It writes `DIR/keepwatch.toml` (only if absent: the user's edits are kept) and
//! its store under `DIR`, never a real store's path, and runs until Ctrl-C, deleting nothing.

use crate::Failure;
use std::path::Path;

pub fn run(listen: &str, dir: &Path) -> Result<(), Failure> {
    std::fs::create_dir_all(dir).map_err(|e| Failure::runtime(format!("cannot create {}: {e}", dir.display())))?;
    let config = dir.join("keepwatch.toml");
    if !config.exists() {
        std::fs::write(&config, kw_config::demo_config(listen, dir))
            .map_err(|e| Failure::runtime(format!("cannot write {}: {e}", config.display())))?;
    }
    let cfg = kw_config::load(&config)?;
    let c = config.display();
    println!("keepwatch demo: recording the built-in synthetic camera \"demo\" into {}", dir.display());
    println!("  config:  {c} (edit it while the demo runs: changes apply live)");
    println!("  check:   keepwatch check --config {c}");
    println!("  export:  keepwatch export --config {c} --camera demo --start <RFC 3339> --end <RFC 3339> -o demo.mp4");
    println!("Press Ctrl-C to stop; nothing is deleted.");
    let started = std::time::SystemTime::now();
    let started_us = started.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_micros() as i64).unwrap_or(0);
    let mut hinted = false;
    crate::daemon::runtime()?.block_on(crate::daemon::serve(config.clone(), cfg, move |statuses| {
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
