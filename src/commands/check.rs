//! `keepwatch check [--repair]`: verifies the index against the segment files; changes nothing unless
//! `--repair`. Works while `run` runs (it reads through SQLite's WAL and never takes the run lock).

use crate::Failure;
use std::path::Path;

pub fn run(config: &Path, repair: bool) -> Result<(), Failure> {
    let cfg = kw_config::load(config)?;
    let store = crate::store_open::open_existing(config, &cfg)?;
    let report = store.check(repair).map_err(|e| Failure::runtime(format!("check failed: {e}")))?;
    println!("{report}");
    if report.is_clean() || repair {
        Ok(())
    } else {
        Err(Failure::runtime("the store has problems; run `keepwatch check --repair` to fix them"))
    }
}
