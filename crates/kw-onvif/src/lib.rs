//! keepwatch's ONVIF client: just enough of ONVIF to find cameras on the network, get their RTSP stream
//! addresses without the user typing vendor-specific paths, and hear the camera's own motion detector.
//!
//! Why a crate of its own: ONVIF is SOAP, XML and vendor quirks (clock skew breaking WS-Security, HTTP
//! Digest instead of WS-Security, Media1 vs Media2, namespace prefixes of every kind). None of that should
//! leak into ingest or the daemon, which only want "the main and sub stream URIs" and "motion on/off".
//!
//! - [`discovery`]: WS-Discovery Probe over UDP multicast through one chosen interface.
//! - [`soap`]: the SOAP client (WS-Security UsernameToken digest with camera clock offset correction, HTTP
//!   Digest fallback, size caps).
//! - [`device`]: device information, services, media profiles, stream and snapshot URIs.
//! - [`ptz`]: pan/tilt/zoom: continuous moves (with a timeout), stop, home, presets.
//! - [`pullpoint`]: PullPoint subscriptions and the motion state that comes out of them.
//! - [`xml`]: prefix-tolerant reading of answers, bounded in shape ([`xml::limits`]) so parsing is linear in
//!   the answer, and run off the async runtime ([`xml::off_runtime`]).
//! - [`xstime`]: xs:dateTime and xs:duration.
//!
//! Entry points for fuzzing (bytes in, never a panic, time linear in the input): [`xml::parse_bytes`] (the
//! envelope parse with its limits), [`soap::read_answer`] (an answer's status and body as the client reads
//! them), [`discovery::parse_probe_matches_bytes`] (a WS-Discovery datagram), and the `parse_*` functions of
//! [`device`] and [`pullpoint`] over text.
//!
//! Time: the client reads "now" from an injected clock (`kw_media::clock`, the system clock by default), so
//! WS-Security timestamps and the motion tracker's timing can be tested on a fake clock.
#![forbid(unsafe_code)]

pub mod device;
pub mod discovery;
pub mod ptz;
pub mod pullpoint;
pub mod soap;
pub mod xml;
pub mod xstime;

pub use device::{Camera, DeviceInfo, Profile, StreamChoice, Streams};
pub use discovery::{discover, Discovered};
pub use ptz::{Preset, Velocity};
pub use pullpoint::{MotionChange, MotionTracker, WatchOptions};
pub use soap::{Client, Credentials};

/// What went wrong talking to a camera. The text is for users: it never holds a password.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The camera refused the username or password.
    #[error("{0}")]
    Auth(String),
    /// No connection, or no answer in time.
    #[error("{0}")]
    Unreachable(String),
    /// An answer that is not what ONVIF says it should be.
    #[error("{0}")]
    Protocol(String),
    /// A SOAP fault other than an authentication one.
    #[error("the camera answered with a SOAP fault: {0}")]
    Fault(xml::Fault),
}
