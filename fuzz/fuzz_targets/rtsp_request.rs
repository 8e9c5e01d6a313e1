//! What a player sends the restream RTSP server, fed in pieces of any size: requests, interleaved packets,
//! garbage. Properties: never panics; the framer consumes what it reports and never more than it holds
//! beyond a skipped packet; every parsed request's URL and Transport header go through the path and
//! transport parsers without panicking.
#![no_main]
use kw_restream::framing::{Framer, Item};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (step, stream) = data.split_first().map(|(s, r)| (usize::from(*s).max(1), r)).unwrap_or((1, data));
    let mut framer = Framer::default();
    let mut buf: Vec<u8> = Vec::new();
    let mut skip = 0usize;
    for chunk in stream.chunks(step) {
        let s = skip.min(chunk.len());
        skip -= s;
        buf.extend_from_slice(&chunk[s..]);
        loop {
            match framer.next(&buf) {
                Ok(Item::Incomplete) => break,
                Ok(Item::Interleaved { consumed, .. }) => {
                    let now = consumed.min(buf.len());
                    buf.drain(..now);
                    skip = consumed - now;
                }
                Ok(Item::Request { request, consumed }) => {
                    assert!(consumed <= buf.len());
                    buf.drain(..consumed);
                    if let Some(url) = request.request_uri() {
                        let _ = kw_restream::target(url.as_str());
                    }
                    if let Some(t) = request.header(&rtsp_types::headers::TRANSPORT) {
                        let _ = kw_restream::interleaved_channels(t.as_str(), (0, 1));
                    }
                }
                Err(_) => return,
            }
        }
    }
    let text = String::from_utf8_lossy(stream);
    let _ = kw_restream::target(&text);
    let _ = kw_restream::interleaved_channels(&text, (0, 1));
});
