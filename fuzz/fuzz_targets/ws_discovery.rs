//! A WS-Discovery datagram from anyone on the LAN (`keepwatch discover`). Property: never panics and never
//! slow (the per-input time limit), with or without the probe's message id to match.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = kw_onvif::discovery::parse_probe_matches_bytes(data, None);
    if let Ok(found) = kw_onvif::discovery::parse_probe_matches_bytes(data, Some("uuid:fuzz")) {
        for d in found {
            let _ = d.onvif_url();
        }
    }
});
