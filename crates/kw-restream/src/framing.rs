//! Cutting a client's byte stream into RTSP requests and interleaved packets, bounded.
//!
//! Why not just hand the buffer to the message parser on every read: a client that sends one byte at a
//! time would make that quadratic. Here a request is parsed only once its header block is complete (the
//! blank line has arrived, found by scanning only the new bytes), and its size is capped before anything
//! is parsed. Interleaved packets from the client (`$`, channel, length: RTCP receiver reports) are
//! skipped without being looked at.

use rtsp_types::{Message, Request};

/// Largest header block of a request a client may send.
pub const MAX_HEADER: usize = 8 * 1024;
/// Largest request body (players send none; GET_PARAMETER may carry a few names).
pub const MAX_BODY: usize = 4 * 1024;

/// What the next bytes of the connection hold.
#[derive(Debug)]
pub enum Item {
    /// One whole request; `consumed` bytes of the buffer belong to it.
    Request { request: Box<Request<Vec<u8>>>, consumed: usize },
    /// An interleaved packet from the client (channel, whole frame length): skip `consumed` bytes.
    Interleaved { channel: u8, consumed: usize },
    /// More bytes are needed.
    Incomplete,
}

/// Why the connection must be answered with an error and closed.
#[derive(Debug, PartialEq, Eq)]
pub enum FramingError {
    /// The header block passed [`MAX_HEADER`] without ending.
    HeaderTooLarge,
    /// `Content-Length` over [`MAX_BODY`] or not a number.
    BadBody,
    /// Not an RTSP request (a response, garbage, HTTP).
    Malformed,
}

impl std::fmt::Display for FramingError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FramingError::HeaderTooLarge => "request header larger than 8 KiB",
            FramingError::BadBody => "request body missing a valid Content-Length or larger than 4 KiB",
            FramingError::Malformed => "not an RTSP request",
        })
    }
}

/// Remembers how far the buffer was scanned for the end of the header block, so each byte is looked at
/// a bounded number of times.
#[derive(Default, Debug)]
pub struct Framer {
    scanned: usize,
    /// The end of the current request's header block, once found (its body may still be arriving).
    head: Option<usize>,
}

impl Framer {
    /// Looks at the start of `buf`. After an `Item` with `consumed`, the caller drops those bytes and
    /// calls again; the framer's memory is reset then.
    pub fn next(&mut self, buf: &[u8]) -> Result<Item, FramingError> {
        let Some(&first) = buf.first() else {
            return Ok(Item::Incomplete);
        };
        if first == b'$' {
            let Some(h) = buf.get(..4) else {
                return Ok(Item::Incomplete);
            };
            let len = 4 + usize::from(u16::from_be_bytes([h[2], h[3]]));
            self.scanned = 0;
            self.head = None;
            return Ok(Item::Interleaved { channel: h[1], consumed: len });
        }
        // The blank line ending the header block: scan from a little before where the last call stopped.
        let from = self.scanned.saturating_sub(3).min(buf.len());
        let end = self.head.or_else(|| buf[from..].windows(4).position(|w| w == b"\r\n\r\n").map(|p| from + p + 4));
        let Some(head_len) = end else {
            self.scanned = buf.len();
            if buf.len() > MAX_HEADER {
                return Err(FramingError::HeaderTooLarge);
            }
            return Ok(Item::Incomplete);
        };
        if head_len > MAX_HEADER {
            return Err(FramingError::HeaderTooLarge);
        }
        let body_len = content_length(&buf[..head_len])?;
        let total = head_len + body_len;
        if buf.len() < total {
            self.head = Some(head_len);
            return Ok(Item::Incomplete);
        }
        self.scanned = 0;
        self.head = None;
        match Message::<Vec<u8>>::parse(&buf[..total]) {
            Ok((Message::Request(request), used)) if used == total => {
                Ok(Item::Request { request: Box::new(request), consumed: total })
            }
            _ => Err(FramingError::Malformed),
        }
    }
}

/// The Content-Length of a header block (0 when absent), bounded by [`MAX_BODY`].
fn content_length(head: &[u8]) -> Result<usize, FramingError> {
    for line in head.split(|&b| b == b'\n') {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        if !line[..colon].trim_ascii().eq_ignore_ascii_case(b"content-length") {
            continue;
        }
        let value = std::str::from_utf8(&line[colon + 1..]).map_err(|_| FramingError::BadBody)?;
        let n: usize = value.trim().parse().map_err(|_| FramingError::BadBody)?;
        return if n <= MAX_BODY { Ok(n) } else { Err(FramingError::BadBody) };
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPTIONS: &[u8] = b"OPTIONS rtsp://h/cam RTSP/1.0\r\nCSeq: 1\r\n\r\n";

    #[test]
    fn whole_request() {
        let mut f = Framer::default();
        match f.next(OPTIONS).unwrap() {
            Item::Request { request, consumed } => {
                assert_eq!(consumed, OPTIONS.len());
                assert_eq!(request.method(), &rtsp_types::Method::Options);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn byte_by_byte_then_body() {
        let req = b"GET_PARAMETER rtsp://h/cam RTSP/1.0\r\nCSeq: 2\r\nContent-Length: 5\r\n\r\nhello";
        let mut f = Framer::default();
        for n in 1..req.len() {
            assert!(matches!(f.next(&req[..n]).unwrap(), Item::Incomplete), "at {n}");
        }
        assert!(matches!(f.next(req).unwrap(), Item::Request { consumed, .. } if consumed == req.len()));
    }

    #[test]
    fn interleaved_is_skipped() {
        let mut f = Framer::default();
        assert!(matches!(f.next(b"$\x01\x00").unwrap(), Item::Incomplete));
        assert!(matches!(f.next(b"$\x01\x00\x08abc").unwrap(), Item::Interleaved { channel: 1, consumed: 12 }));
    }

    #[test]
    fn bounds() {
        let mut f = Framer::default();
        let long = vec![b'a'; MAX_HEADER + 1];
        assert_eq!(f.next(&long).unwrap_err(), FramingError::HeaderTooLarge);
        let mut f = Framer::default();
        let big = b"OPTIONS rtsp://h/ RTSP/1.0\r\nCSeq: 1\r\nContent-Length: 99999\r\n\r\n";
        assert_eq!(f.next(big).unwrap_err(), FramingError::BadBody);
        let mut f = Framer::default();
        assert_eq!(f.next(b"HTTP/1.1 200 OK\r\n\r\n").unwrap_err(), FramingError::Malformed);
    }
}
