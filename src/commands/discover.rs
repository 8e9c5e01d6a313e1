//! `keepwatch discover [--interface ADDR] [--timeout SECS]`: ONVIF WS-Discovery (the protocol is in
//! `kw_onvif`), one line per camera with a ready `onvif://` URL for the config. Probes leave only through
//! the interface with address ADDR when given (tests use 127.0.0.1).

use crate::Failure;
use std::net::Ipv4Addr;
use std::time::Duration;

pub fn run(interface: Option<Ipv4Addr>, timeout_secs: u64) -> Result<(), Failure> {
    let rt = super::runtime_for_one_command()?;
    let timeout = Duration::from_secs(timeout_secs.clamp(1, 600));
    let found = rt.block_on(kw_onvif::discover(interface, timeout)).map_err(|e| Failure::runtime(e.to_string()))?;
    if found.is_empty() {
        eprintln!("no ONVIF devices answered within {} s", timeout.as_secs());
        return Ok(());
    }
    for d in &found {
        let host = d.host_port().map(|(h, _)| h).unwrap_or_else(|| "?".into());
        let url = d.onvif_url().unwrap_or_else(|| "-".into());
        let maker = d.maker.as_deref().map(printable).unwrap_or_else(|| "-".into());
        let model = d.model.as_deref().map(printable).unwrap_or_else(|| "-".into());
        println!("{host}\t{maker}\t{model}\t{url}");
    }
    eprintln!("{} ONVIF device(s) answered; add one with url = \"onvif://USER:PASS@HOST:PORT\"", found.len());
    Ok(())
}

/// A camera-chosen name fit for one field of a tab-separated line on a terminal: control characters (tabs,
/// newlines, escape sequences) become spaces.
fn printable(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discovered_names_cannot_break_lines_or_the_terminal() {
        assert_eq!(printable("Acme\tCam\n\x1b[2Jx"), "Acme Cam  [2Jx");
    }
}
