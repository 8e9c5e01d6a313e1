//! One ONVIF camera: its services, identity, media profiles and stream addresses.
//!
//! Why the choices here:
//! - Media2 (`ver20/media`) is asked first where the camera offers it (it describes H.265 properly); a
//!   camera that faults on it, or offers Media1 only, is asked through Media1.
//! - The main stream is the profile with the most pixels; the sub stream is a smaller H.264 profile (the
//!   one closest to 640 pixels wide), because motion detection decodes H.264 and wants few pixels.
//! - Addresses the camera returns often name an address the camera has on another network (NAT, a
//!   second interface, `0.0.0.0`): service addresses get the host and port the user gave, and stream
//!   addresses get the host (their own RTSP port is kept).

use crate::soap::{Client, Credentials};
use crate::xml::{self, attr, child, descendant, descendants, path, text, text_at};
use crate::Error;

const DEVICE_NS: &str = "http://www.onvif.org/ver10/device/wsdl";
/// Media1 service namespace.
pub const MEDIA1_NS: &str = "http://www.onvif.org/ver10/media/wsdl";
/// Media2 service namespace.
pub const MEDIA2_NS: &str = "http://www.onvif.org/ver20/media/wsdl";
/// Events service namespace.
pub const EVENTS_NS: &str = "http://www.onvif.org/ver10/events/wsdl";

/// Who made the camera.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeviceInfo {
    pub manufacturer: String,
    pub model: String,
    pub firmware: String,
    pub serial: String,
}

/// Service addresses (absolute URLs).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Services {
    pub media2: Option<String>,
    pub media: Option<String>,
    pub events: Option<String>,
    pub ptz: Option<String>,
}

/// A media profile with a video encoder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Profile {
    pub token: String,
    pub name: String,
    /// As the camera writes it, upper-cased: `H264`, `H265`, `JPEG`, ...
    pub encoding: String,
    pub width: u32,
    pub height: u32,
    /// Found through Media2 (so its URIs are asked there).
    pub media2: bool,
}

impl Profile {
    fn pixels(&self) -> u64 {
        u64::from(self.width) * u64::from(self.height)
    }
    fn is_h264(&self) -> bool {
        self.encoding == "H264"
    }
    fn is_video(&self) -> bool {
        matches!(self.encoding.as_str(), "H264" | "H265" | "HEVC")
    }
}

/// A chosen profile and its addresses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamChoice {
    pub profile: Profile,
    pub uri: String,
    pub snapshot: Option<String>,
}

/// The camera's main stream, and its sub stream when it has a smaller H.264 one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Streams {
    pub main: StreamChoice,
    pub sub: Option<StreamChoice>,
}

/// Parses GetSystemDateAndTime's answer: the camera's UTC time in ms, when it says.
pub fn parse_system_time(answer: &str) -> Result<Option<i64>, Error> {
    let doc = xml::parse(answer)?;
    let Some(utc) = descendant(doc.root_element(), "UTCDateTime") else { return Ok(None) };
    let num = |p: &[&'static str]| text_at(utc, p).and_then(|t| t.parse::<i64>().ok());
    let (Some(y), Some(mo), Some(d), Some(h), Some(mi), Some(s)) = (
        num(&["Date", "Year"]),
        num(&["Date", "Month"]),
        num(&["Date", "Day"]),
        num(&["Time", "Hour"]),
        num(&["Time", "Minute"]),
        num(&["Time", "Second"]),
    ) else {
        return Ok(None);
    };
    let small = |v: i64| u8::try_from(v).ok();
    Ok((|| crate::xstime::from_parts(i32::try_from(y).ok()?, small(mo)?, small(d)?, small(h)?, small(mi)?, small(s)?))(
    ))
}

/// Parses GetServices (namespace + XAddr per service) or GetCapabilities (Media, Events) answers.
pub fn parse_services(answer: &str) -> Result<Services, Error> {
    let doc = xml::parse(answer)?;
    let root = doc.root_element();
    let mut s = Services::default();
    for svc in descendants(root, "Service") {
        let (Some(ns), Some(addr)) = (text_at(svc, &["Namespace"]), text_at(svc, &["XAddr"])) else { continue };
        match ns.as_str() {
            MEDIA2_NS => s.media2 = Some(addr),
            MEDIA1_NS => s.media = Some(addr),
            EVENTS_NS => s.events = Some(addr),
            crate::ptz::PTZ_NS => s.ptz = Some(addr),
            _ => {}
        }
    }
    if let Some(caps) = descendant(root, "Capabilities") {
        if s.media.is_none() {
            s.media = path(caps, &["Media", "XAddr"]).map(text).filter(|t| !t.is_empty());
        }
        if s.events.is_none() {
            s.events = path(caps, &["Events", "XAddr"]).map(text).filter(|t| !t.is_empty());
        }
        if s.ptz.is_none() {
            s.ptz = path(caps, &["PTZ", "XAddr"]).map(text).filter(|t| !t.is_empty());
        }
    }
    Ok(s)
}

/// Parses GetDeviceInformation.
pub fn parse_device_info(answer: &str) -> Result<DeviceInfo, Error> {
    let doc = xml::parse(answer)?;
    let b = xml::body_element(&doc).ok_or_else(|| Error::Protocol("empty GetDeviceInformation answer".into()))?;
    let t = |l: &'static str| text_at(b, &[l]).unwrap_or_default();
    Ok(DeviceInfo {
        manufacturer: t("Manufacturer"),
        model: t("Model"),
        firmware: t("FirmwareVersion"),
        serial: t("SerialNumber"),
    })
}

/// Parses GetProfiles of Media1 or Media2: the profiles that have a video encoder.
pub fn parse_profiles(answer: &str, media2: bool) -> Result<Vec<Profile>, Error> {
    let doc = xml::parse(answer)?;
    let mut out = Vec::new();
    for p in descendants(doc.root_element(), "Profiles") {
        let Some(token) = attr(p, "token").map(str::to_owned) else { continue };
        let enc = descendant(p, "VideoEncoderConfiguration").or_else(|| descendant(p, "VideoEncoder"));
        let Some(enc) = enc else { continue };
        let encoding = child(enc, "Encoding").map(text).or_else(|| attr(enc, "Encoding").map(str::to_owned));
        let dim = |l: &'static str| text_at(enc, &["Resolution", l]).and_then(|t| t.parse::<u32>().ok());
        let (Some(encoding), Some(width), Some(height)) = (encoding, dim("Width"), dim("Height")) else { continue };
        let name = text_at(p, &["Name"]).unwrap_or_else(|| token.clone());
        out.push(Profile { token, name, encoding: encoding.to_ascii_uppercase(), width, height, media2 });
        if out.len() >= 64 {
            break;
        }
    }
    Ok(out)
}

/// The `Uri` of a GetStreamUri / GetSnapshotUri answer (Media1 nests it in `MediaUri`).
pub fn parse_uri(answer: &str) -> Result<String, Error> {
    let doc = xml::parse(answer)?;
    descendant(doc.root_element(), "Uri")
        .map(text)
        .filter(|u| !u.is_empty())
        .ok_or_else(|| Error::Protocol("the camera's answer has no Uri".into()))
}

/// Main = most pixels (video codecs first); sub = a smaller H.264 profile, the one closest to 640 wide.
pub fn choose(profiles: &[Profile]) -> Option<(Profile, Option<Profile>)> {
    let main = profiles
        .iter()
        .filter(|p| p.is_video())
        .max_by_key(|p| p.pixels())
        .or_else(|| profiles.iter().max_by_key(|p| p.pixels()))?;
    let sub = profiles
        .iter()
        .filter(|p| p.is_h264() && p.pixels() < main.pixels() && p.pixels() > 0)
        .min_by_key(|p| p.width.abs_diff(640));
    Some((main.clone(), sub.cloned()))
}

/// `onvif://host[:port][/path]` → the device service URL (`http://host:port/onvif/device_service` unless a
/// path is given; `https://` on port 443).
pub fn device_url(onvif: &url::Url) -> Result<String, Error> {
    let host = onvif
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| Error::Protocol("the onvif:// URL has no host".into()))?;
    let port = onvif.port().unwrap_or(80);
    let path = match onvif.path() {
        "" | "/" => "/onvif/device_service",
        p => p,
    };
    let host = if host.contains(':') && !host.starts_with('[') { format!("[{host}]") } else { host.to_owned() };
    // Port 443 is HTTPS's: cameras that offer ONVIF only over TLS are reached there.
    let scheme = if port == 443 { "https" } else { "http" };
    Ok(format!("{scheme}://{host}:{port}{path}"))
}

/// Puts `base`'s scheme, host and port on a service address the camera gave.
fn rebase_service(addr: &str, base: &url::Url) -> String {
    match url::Url::parse(addr) {
        Ok(mut u) if u.scheme() == "http" || u.scheme() == "https" => {
            let _ = u.set_scheme(base.scheme());
            let _ = u.set_host(base.host_str());
            let _ = u.set_port(base.port());
            u.to_string()
        }
        _ => addr.to_owned(),
    }
}

/// Puts `base`'s host on a stream address the camera gave (its own port and path stay).
fn rebase_stream(uri: &str, base: &url::Url) -> String {
    match url::Url::parse(uri) {
        Ok(mut u) if u.host_str().is_some() => {
            let _ = u.set_host(base.host_str());
            u.to_string()
        }
        _ => uri.to_owned(),
    }
}

/// A connected camera: the SOAP client and the service addresses.
#[derive(Debug)]
pub struct Camera {
    client: Client,
    services: Services,
}

impl Camera {
    /// Asks the camera for its services (GetServices, or GetCapabilities on older cameras), with a client
    /// on the system clock.
    pub async fn connect(device_url: &str, creds: Option<Credentials>) -> Result<Camera, Error> {
        Camera::connect_with(Client::new(device_url, creds)?).await
    }

    /// Like [`Camera::connect`] through a client made by the caller (e.g. [`Client::with_clock`]).
    pub async fn connect_with(client: Client) -> Result<Camera, Error> {
        let device_url = client.device_url().to_owned();
        let device_url = device_url.as_str();
        let base = url::Url::parse(device_url).map_err(|e| Error::Protocol(format!("bad device address: {e}")))?;
        let services = match client
            .call_parsed(
                device_url,
                &format!("{DEVICE_NS}/GetServices"),
                "<tds:GetServices><tds:IncludeCapability>false</tds:IncludeCapability></tds:GetServices>",
                parse_services,
            )
            .await
        {
            Ok(s) if s.media.is_some() || s.media2.is_some() => s,
            Ok(_) | Err(Error::Fault(_)) | Err(Error::Protocol(_)) => {
                client
                    .call_parsed(
                        device_url,
                        &format!("{DEVICE_NS}/GetCapabilities"),
                        "<tds:GetCapabilities><tds:Category>All</tds:Category></tds:GetCapabilities>",
                        parse_services,
                    )
                    .await?
            }
            Err(e) => return Err(e),
        };
        let services = Services {
            media2: services.media2.map(|a| rebase_service(&a, &base)),
            media: services.media.map(|a| rebase_service(&a, &base)),
            events: services.events.map(|a| rebase_service(&a, &base)),
            ptz: services.ptz.map(|a| rebase_service(&a, &base)),
        };
        if services.media.is_none() && services.media2.is_none() {
            return Err(Error::Protocol("the camera offers no ONVIF media service".into()));
        }
        Ok(Camera { client, services })
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn services(&self) -> &Services {
        &self.services
    }

    fn base(&self) -> Option<url::Url> {
        url::Url::parse(self.client.device_url()).ok()
    }

    pub async fn device_info(&self) -> Result<DeviceInfo, Error> {
        let url = self.client.device_url().to_owned();
        let action = format!("{DEVICE_NS}/GetDeviceInformation");
        self.client.call_parsed(&url, &action, "<tds:GetDeviceInformation/>", parse_device_info).await
    }

    /// The video profiles, through Media2 where it answers, else Media1.
    pub async fn profiles(&self) -> Result<Vec<Profile>, Error> {
        if let Some(m2) = &self.services.media2 {
            let r = self
                .client
                .call_parsed(
                    m2,
                    &format!("{MEDIA2_NS}/GetProfiles"),
                    "<tr2:GetProfiles><tr2:Type>All</tr2:Type></tr2:GetProfiles>",
                    |t| parse_profiles(t, true),
                )
                .await;
            match r {
                Ok(p) if !p.is_empty() => return Ok(p),
                Ok(_) | Err(Error::Fault(_)) | Err(Error::Protocol(_)) if self.services.media.is_some() => {
                    tracing::debug!("Media2 gave no usable profiles; asking Media1");
                }
                Ok(_) => return Err(Error::Protocol("the camera has no video profile".into())),
                Err(e) => return Err(e),
            }
        }
        let Some(m1) = &self.services.media else {
            return Err(Error::Protocol("the camera offers no ONVIF media service".into()));
        };
        let action = format!("{MEDIA1_NS}/GetProfiles");
        let p = self.client.call_parsed(m1, &action, "<trt:GetProfiles/>", |t| parse_profiles(t, false)).await?;
        if p.is_empty() {
            return Err(Error::Protocol("the camera has no video profile".into()));
        }
        Ok(p)
    }

    fn media_url(&self, p: &Profile) -> Result<&str, Error> {
        let u = if p.media2 { self.services.media2.as_deref() } else { self.services.media.as_deref() };
        u.ok_or_else(|| Error::Protocol("no media service".into()))
    }

    /// The RTSP address of a profile (RTP unicast over RTSP).
    pub async fn stream_uri(&self, p: &Profile) -> Result<String, Error> {
        let url = self.media_url(p)?;
        let token = xml::escape(&p.token);
        let uri = if p.media2 {
            let body = format!("<tr2:GetStreamUri><tr2:Protocol>RTSP</tr2:Protocol><tr2:ProfileToken>{token}</tr2:ProfileToken></tr2:GetStreamUri>");
            self.client.call_parsed(url, &format!("{MEDIA2_NS}/GetStreamUri"), &body, parse_uri).await?
        } else {
            let body = format!(
                "<trt:GetStreamUri><trt:StreamSetup><tt:Stream>RTP-Unicast</tt:Stream><tt:Transport><tt:Protocol>RTSP</tt:Protocol></tt:Transport></trt:StreamSetup><trt:ProfileToken>{token}</trt:ProfileToken></trt:GetStreamUri>"
            );
            self.client.call_parsed(url, &format!("{MEDIA1_NS}/GetStreamUri"), &body, parse_uri).await?
        };
        Ok(match self.base() {
            Some(b) => rebase_stream(&uri, &b),
            None => uri,
        })
    }

    /// The JPEG snapshot address of a profile; `None` when the camera has none.
    pub async fn snapshot_uri(&self, p: &Profile) -> Result<Option<String>, Error> {
        let url = self.media_url(p)?;
        let token = xml::escape(&p.token);
        let (ns, body) = if p.media2 {
            (
                MEDIA2_NS,
                format!("<tr2:GetSnapshotUri><tr2:ProfileToken>{token}</tr2:ProfileToken></tr2:GetSnapshotUri>"),
            )
        } else {
            (
                MEDIA1_NS,
                format!("<trt:GetSnapshotUri><trt:ProfileToken>{token}</trt:ProfileToken></trt:GetSnapshotUri>"),
            )
        };
        match self.client.call_parsed(url, &format!("{ns}/GetSnapshotUri"), &body, |t| Ok(parse_uri(t).ok())).await {
            Ok(uri) => Ok(uri.map(|u| match self.base() {
                Some(b) => rebase_service(&u, &b),
                None => u,
            })),
            Err(Error::Fault(_)) | Err(Error::Protocol(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Main and sub stream with their addresses.
    pub async fn streams(&self) -> Result<Streams, Error> {
        let profiles = self.profiles().await?;
        let (main, sub) = choose(&profiles).ok_or_else(|| Error::Protocol("the camera has no video profile".into()))?;
        let main = StreamChoice {
            uri: self.stream_uri(&main).await?,
            snapshot: self.snapshot_uri(&main).await?,
            profile: main,
        };
        let sub = match sub {
            Some(p) => match self.stream_uri(&p).await {
                Ok(uri) => Some(StreamChoice { uri, snapshot: None, profile: p }),
                Err(e @ (Error::Auth(_) | Error::Unreachable(_))) => return Err(e),
                Err(e) => {
                    tracing::debug!("no sub stream: {}", kw_logsafe::OneLine(&e.to_string()));
                    None
                }
            },
            None => None,
        };
        Ok(Streams { main, sub })
    }
}

#[cfg(test)]
mod tests;
