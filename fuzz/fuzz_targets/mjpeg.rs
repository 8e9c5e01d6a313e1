//! An MJPEG camera's `multipart/x-mixed-replace` stream, whose headers cannot be trusted, fed in pieces of
//! any size. Properties: never panics; bounded memory; what comes out are whole JPEGs (SOI … EOI).
#![no_main]
use kw_mjpeg::MjpegParser;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (step, stream) = data.split_first().map(|(s, r)| (usize::from(*s).max(1), r)).unwrap_or((1, data));
    let mut p = MjpegParser::with_max(64 * 1024);
    for chunk in stream.chunks(step) {
        p.push(chunk);
        while p.next_item().is_some() {}
    }
    let _ = kw_mjpeg::is_multipart(&String::from_utf8_lossy(stream));
    let _ = kw_mjpeg::boundary_of(&String::from_utf8_lossy(stream));
});
