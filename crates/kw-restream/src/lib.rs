//! keepwatch's RTSP server side, without I/O: what a player's requests mean and what goes back.
//!
//! Why a crate of its own: everything here reads bytes from outside (requests, Transport headers, paths)
//! or builds what players parse (SDP, RTP), so it is tested and fuzzed without the daemon. The daemon's
//! `restream` module owns sockets, logins and the cameras' hubs; it calls into this crate.
//!
//! - [`framing`]: a connection's bytes cut into requests and interleaved packets, bounded.
//! - [`sdp`]: DESCRIBE's session description from the camera's own parameter sets.
//! - [`rtp`]: RTP packets (H.264, H.265, AAC, G.711) and RTCP sender reports.
//! - [`target`] and [`interleaved_channels`]: which camera, stream and track a URL names, and the
//!   transport a SETUP asks for.

pub mod framing;
pub mod rtp;
pub mod sdp;

/// What a request URL names: `rtsp://host[:port]/<camera>[/sub][/trackID=N]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub camera: String,
    /// The camera's sub-stream (`/sub`).
    pub sub: bool,
    /// The track of a SETUP (`trackID=0` video, `1` audio).
    pub track: Option<u8>,
}

/// The target of a request URL, or `None` for a URL that names no camera (`*`, `/`, odd characters,
/// too long). Camera names are keepwatch names: lowercase letters, digits and '-'.
pub fn target(url: &str) -> Option<Target> {
    if url.len() > 512 {
        return None;
    }
    let path = match url.find("://") {
        Some(i) => {
            let rest = &url[i + 3..];
            rest.find('/').map_or("", |p| &rest[p..])
        }
        None => url,
    };
    let path = path.split(['?', '#']).next().unwrap_or("");
    let mut parts = path.split('/').filter(|p| !p.is_empty());
    let camera = parts.next()?;
    let name_ok =
        camera.len() <= 64 && camera.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !name_ok {
        return None;
    }
    let mut t = Target { camera: camera.to_owned(), sub: false, track: None };
    for part in parts {
        if part == "sub" && !t.sub && t.track.is_none() {
            t.sub = true;
        } else if let Some(n) = part.strip_prefix("trackID=").filter(|_| t.track.is_none()) {
            t.track = Some(n.parse::<u8>().ok().filter(|n| *n <= 1)?);
        } else {
            return None;
        }
    }
    Some(t)
}

/// Why a SETUP's transport cannot be served.
#[derive(Debug, PartialEq, Eq)]
pub enum TransportError {
    /// Only RTP over the RTSP connection (TCP interleaved) is offered; players fall back to it.
    Unsupported,
}

/// The interleaved channel pair a SETUP's `Transport` header asks for (`RTP/AVP/TCP;interleaved=a-b`),
/// or `default` when it asks for TCP without naming channels.
pub fn interleaved_channels(transport: &str, default: (u8, u8)) -> Result<(u8, u8), TransportError> {
    for spec in transport.split(',').take(8) {
        let mut fields = spec.split(';').map(str::trim);
        let proto = fields.next().unwrap_or("");
        if !proto.eq_ignore_ascii_case("RTP/AVP/TCP") {
            continue;
        }
        for f in fields.take(16) {
            if let Some(v) = f.strip_prefix("interleaved=") {
                let mut nums = v.split('-').map(|n| n.trim().parse::<u8>());
                return match (nums.next(), nums.next()) {
                    (Some(Ok(a)), Some(Ok(b))) if b == a.wrapping_add(1) => Ok((a, b)),
                    (Some(Ok(a)), None) if a < 255 => Ok((a, a + 1)),
                    _ => Err(TransportError::Unsupported),
                };
            }
        }
        return Ok(default);
    }
    Err(TransportError::Unsupported)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        let t = |camera: &str, sub, track| Some(Target { camera: camera.into(), sub, track });
        assert_eq!(target("rtsp://127.0.0.1:8554/front-door"), t("front-door", false, None));
        assert_eq!(target("rtsp://h/front-door/"), t("front-door", false, None));
        assert_eq!(target("rtsp://h/cam/sub"), t("cam", true, None));
        assert_eq!(target("rtsp://h/cam/sub/trackID=1"), t("cam", true, Some(1)));
        assert_eq!(target("rtsp://h/cam/trackID=0?x=1"), t("cam", false, Some(0)));
        assert_eq!(target("/cam"), t("cam", false, None));
        for bad in ["*", "rtsp://h/", "rtsp://h/Cam", "rtsp://h/cam/trackID=2", "rtsp://h/cam/x", "rtsp://h/a/sub/sub"]
        {
            assert_eq!(target(bad), None, "{bad}");
        }
    }

    #[test]
    fn transports() {
        assert_eq!(interleaved_channels("RTP/AVP/TCP;unicast;interleaved=2-3", (0, 1)), Ok((2, 3)));
        assert_eq!(interleaved_channels("RTP/AVP;unicast;client_port=5000-5001,RTP/AVP/TCP", (4, 5)), Ok((4, 5)));
        assert_eq!(
            interleaved_channels("RTP/AVP;unicast;client_port=5000-5001", (0, 1)),
            Err(TransportError::Unsupported)
        );
        assert_eq!(interleaved_channels("RTP/AVP/TCP;interleaved=9-3", (0, 1)), Err(TransportError::Unsupported));
    }
}
