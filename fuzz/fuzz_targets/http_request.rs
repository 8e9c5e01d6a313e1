//! What an HTTP client sends keepwatch besides the body: cookies, `Authorization`, `?token=`, the route
//! that decides whether a query token is accepted, `Origin`, `Range`, RFC 3339 times, HLS file names,
//! camera names and signed links. The properties live in `keepwatch::fuzzing`.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let f: Vec<&str> = text.splitn(4, '\n').collect();
    let field = |i: usize| f.get(i).copied().unwrap_or("");
    let len = data.first().map_or(0, |b| u64::from(*b) * 1000 + 7);
    keepwatch::fuzzing::range(field(0), len);
    keepwatch::fuzzing::credentials(field(0), field(1), field(2));
    keepwatch::fuzzing::route(field(0));
    keepwatch::fuzzing::origin(field(1), field(2));
    keepwatch::fuzzing::names(field(0));
    keepwatch::fuzzing::time(field(3));
    keepwatch::fuzzing::signed_link(field(0), field(1), field(2));
});
