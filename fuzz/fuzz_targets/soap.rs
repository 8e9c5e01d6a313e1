//! A camera's SOAP answer (ONVIF): the bounded XML parse every answer goes through, the HTTP answer
//! reader, and the answer parsers of the services keepwatch calls. Property: never panics, never slow (the
//! per-input time limit catches a quadratic path: a hostile answer must cost its camera alone).
#![no_main]
use kw_onvif::{device, pullpoint, soap, xml};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (status, body) = match data.split_first() {
        Some((s, b)) => (if s & 1 == 0 { 200 } else { 500 }, b),
        None => (200, data),
    };
    let _ = xml::parse_bytes(body);
    if let Ok(text) = soap::read_answer(status, body) {
        let _ = device::parse_system_time(&text);
        let _ = device::parse_services(&text);
        let _ = device::parse_device_info(&text);
        let _ = device::parse_profiles(&text, status == 200);
        let _ = device::parse_uri(&text);
        let _ = pullpoint::parse_notifications(&text);
        let _ = pullpoint::parse_pull(&text);
        let _ = pullpoint::parse_subscription(&text);
    }
});
