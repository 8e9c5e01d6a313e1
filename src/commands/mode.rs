//! `keepwatch mode [home|away|off]`: prints or sets the alert mode. The mode is runtime state kept in the
//! index (not in the config file), so a running `run` follows the change.

use crate::Failure;
use std::path::Path;

pub fn run(config: &Path, mode: Option<&str>) -> Result<(), Failure> {
    let (_, alerts) = super::notify::open_alerts(config)?;
    match mode {
        None => println!("{}", alerts.mode().as_str()),
        Some(m) => {
            let mode: kw_notify::Mode =
                m.parse().map_err(|_| Failure::usage(format!("unknown mode {m:?}: use home, away or off")))?;
            alerts.set_mode(mode).map_err(|e| Failure::runtime(format!("cannot set the mode: {e}")))?;
            println!("{}", mode.as_str());
        }
    }
    Ok(())
}
