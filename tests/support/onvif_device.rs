//! A test ONVIF camera on loopback: SOAP over HTTP (axum) and a WS-Discovery responder (UDP multicast
//! joined on 127.0.0.1 only, answering loopback senders only). It answers like one of two makers:
//!
//! - [`Maker::H`]: Media2 and Media1, GetServices, WS-Security UsernameToken (PasswordDigest) checked
//!   against *its* clock, `env:`/`tds:`/`tr2:`/`tt:` prefixes;
//! - [`Maker::D`]: Media1 only, no GetServices (GetCapabilities instead), HTTP Digest on every call but
//!   GetSystemDateAndTime, and a UsernameToken (when sent) checked too; `s:`/`dev:`/`med:`/`ns1:` prefixes.
//!
//! Its clock runs `clock_offset_s` off ours, so a client that does not correct for the camera's clock
//! fails WS-Security. Stream URIs point at a real RTSP server. PullPoint events: every new subscription
//! first replays the current state as `PropertyOperation="Initialized"` (motion *on*, to catch clients
//! that take the replay for news); the test then pushes changes with [`OnvifDevice::push_motion`].
//!
//! PTZ (maker H only; D has none): ContinuousMove, Stop, GotoHomePosition and the presets, each call
//! recorded ([`OnvifDevice::ptz_calls`]: `"ContinuousMove x=0.500 y=0.000 zoom=0.000 profile=Profile_1"`,
//! `"Stop"`, `"GotoPreset 1"`, ...); presets start as `1` "Door" and live in memory.
//!
//! A hostile camera: [`OnvifDevice::answer_everything_with`] makes it answer every SOAP request with the
//! given text (200, SOAP content type), e.g. [`namespace_bomb`].

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use std::collections::VecDeque;
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Maker {
    H,
    D,
}

#[derive(Clone, Debug)]
pub struct Spec {
    pub maker: Maker,
    pub user: String,
    pub password: String,
    pub rtsp_main: String,
    pub rtsp_sub: String,
    pub clock_offset_s: i64,
}

impl Maker {
    pub fn manufacturer(self) -> &'static str {
        match self {
            Maker::H => "HIKVISION",
            Maker::D => "Dahua",
        }
    }
    pub fn model(self) -> &'static str {
        match self {
            Maker::H => "DS-2CD2386G2-I",
            Maker::D => "IPC-HDW2431T",
        }
    }
}

struct Shared {
    spec: Spec,
    port: u16,
    queue: Mutex<VecDeque<(&'static str, bool)>>,
    wake: tokio::sync::Notify,
    subscriptions: AtomicU64,
    pulls_delivered: AtomicU64,
    auth_ok: AtomicU64,
    auth_refused: AtomicU64,
    nonce_seq: AtomicU64,
    /// When set, the answer to every SOAP request.
    hostile: Mutex<Option<Arc<String>>>,
    hostile_answers: AtomicU64,
    ptz_calls: Mutex<Vec<String>>,
    presets: Mutex<Vec<(String, String)>>,
    next_preset: AtomicU64,
    /// When set: an H.265-only camera (one profile, no H.264 sub profile) whose snapshot page answers this.
    h265_still: Mutex<Option<Arc<Vec<u8>>>>,
    snapshot_requests: AtomicU64,
    /// When set, the manufacturer GetDeviceInformation names (XML text, already escaped).
    manufacturer: Mutex<Option<String>>,
}

pub struct OnvifDevice {
    pub port: u16,
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
}

fn fmt_utc(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(ms / 1000).unwrap();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

impl OnvifDevice {
    pub fn start(spec: Spec) -> OnvifDevice {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(Shared {
            spec,
            port,
            queue: Mutex::new(VecDeque::new()),
            wake: tokio::sync::Notify::new(),
            subscriptions: AtomicU64::new(0),
            pulls_delivered: AtomicU64::new(0),
            auth_ok: AtomicU64::new(0),
            auth_refused: AtomicU64::new(0),
            nonce_seq: AtomicU64::new(1),
            hostile: Mutex::new(None),
            hostile_answers: AtomicU64::new(0),
            ptz_calls: Mutex::new(Vec::new()),
            presets: Mutex::new(vec![("1".into(), "Door".into())]),
            next_preset: AtomicU64::new(2),
            h265_still: Mutex::new(None),
            snapshot_requests: AtomicU64::new(0),
            manufacturer: Mutex::new(None),
        });
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let s2 = shared.clone();
        let http = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let app = axum::Router::new().fallback(handle).with_state(s2);
                let _ = axum::serve(listener, app)
                    .with_graceful_shutdown(async move {
                        let _ = rx.await;
                    })
                    .await;
            });
        });
        let stop = Arc::new(AtomicBool::new(false));
        let disco = {
            let (shared, stop) = (shared.clone(), stop.clone());
            let sock = discovery_socket();
            std::thread::spawn(move || respond_to_probes(sock, &shared, &stop))
        };
        OnvifDevice { port, shared, stop, shutdown: Some(tx), threads: vec![http, disco] }
    }

    /// The PTZ calls received so far, in order (see the module docs for their spelling).
    pub fn ptz_calls(&self) -> Vec<String> {
        self.shared.ptz_calls.lock().unwrap().clone()
    }

    /// Queues a motion notification for the next PullMessages.
    pub fn push_motion(&self, operation: &'static str, on: bool) {
        self.shared.queue.lock().unwrap().push_back((operation, on));
        self.shared.wake.notify_waiters();
    }

    /// From now on the camera has one H.265 profile only (no H.264 sub profile), and its snapshot page
    /// (`GET /snapshot.jpg`, behind the same login) answers `jpeg`.
    pub fn h265_only_with_snapshot(&self, jpeg: Vec<u8>) {
        *self.shared.h265_still.lock().unwrap() = Some(Arc::new(jpeg));
    }

    /// `GET /snapshot.jpg` requests answered with the picture.
    pub fn snapshot_requests(&self) -> u64 {
        self.shared.snapshot_requests.load(Ordering::Relaxed)
    }

    /// From now on answers every SOAP request with `text` (`None`: answers normally again).
    pub fn answer_everything_with(&self, text: Option<String>) {
        *self.shared.hostile.lock().unwrap() = text.map(Arc::new);
    }

    /// From now on names `xml_text` (XML character data, escaped by the caller) as the manufacturer.
    pub fn say_manufacturer(&self, xml_text: &str) {
        *self.shared.manufacturer.lock().unwrap() = Some(xml_text.to_owned());
    }

    /// How many answers [`OnvifDevice::answer_everything_with`]'s text has been sent as.
    pub fn hostile_answers(&self) -> u64 {
        self.shared.hostile_answers.load(Ordering::Relaxed)
    }

    pub fn subscriptions(&self) -> u64 {
        self.shared.subscriptions.load(Ordering::Relaxed)
    }
    /// PullMessages answers that carried at least one notification.
    pub fn pulls_delivered(&self) -> u64 {
        self.shared.pulls_delivered.load(Ordering::Relaxed)
    }
    pub fn queued(&self) -> usize {
        self.shared.queue.lock().unwrap().len()
    }
    pub fn auth_ok(&self) -> u64 {
        self.shared.auth_ok.load(Ordering::Relaxed)
    }
    #[allow(dead_code, reason = "part of the test camera's counters; no test reads it yet")]
    pub fn auth_refused(&self) -> u64 {
        self.shared.auth_refused.load(Ordering::Relaxed)
    }
}

impl Drop for OnvifDevice {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.shared.wake.notify_waiters();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

// ---------------------------------------------------------------------------------------
// WS-Discovery

fn discovery_socket() -> UdpSocket {
    use rustix::net::{bind, socket, sockopt, AddressFamily, SocketType};
    let fd = socket(AddressFamily::INET, SocketType::DGRAM, None).unwrap();
    sockopt::set_socket_reuseaddr(&fd, true).unwrap();
    bind(&fd, &SocketAddrV4::new(Ipv4Addr::new(239, 255, 255, 250), 3702)).unwrap();
    let sock = UdpSocket::from(fd);
    sock.join_multicast_v4(&Ipv4Addr::new(239, 255, 255, 250), &Ipv4Addr::LOCALHOST).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
    sock
}

fn between<'a>(s: &'a str, open_end: &str, close: &str) -> Option<&'a str> {
    let start = s.find(open_end)? + open_end.len();
    let rest = &s[start..];
    let rest = &rest[rest.find('>')? + 1..];
    Some(&rest[..rest.find(close)?])
}

fn respond_to_probes(sock: UdpSocket, shared: &Shared, stop: &AtomicBool) {
    let mut buf = vec![0u8; 65536];
    while !stop.load(Ordering::Relaxed) {
        let Ok((n, from)) = sock.recv_from(&mut buf) else { continue };
        if !from.ip().is_loopback() {
            continue; // never answer anything but this machine
        }
        let probe = String::from_utf8_lossy(&buf[..n]).into_owned();
        if !probe.contains("Probe>") || !probe.contains("NetworkVideoTransmitter") {
            continue;
        }
        let Some(id) = between(&probe, "MessageID", "</") else { continue };
        let m = shared.spec.maker;
        let answer = format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:wsd="http://schemas.xmlsoap.org/ws/2005/04/discovery" xmlns:dn="http://www.onvif.org/ver10/network/wsdl"><env:Header><wsa:MessageID>urn:uuid:{}</wsa:MessageID><wsa:RelatesTo>{id}</wsa:RelatesTo><wsa:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/ProbeMatches</wsa:Action></env:Header><env:Body><wsd:ProbeMatches><wsd:ProbeMatch><wsa:EndpointReference><wsa:Address>urn:uuid:00000000-0000-4000-8000-{:012}</wsa:Address></wsa:EndpointReference><wsd:Types>dn:NetworkVideoTransmitter</wsd:Types><wsd:Scopes>onvif://www.onvif.org/type/video_encoder onvif://www.onvif.org/Profile/Streaming {} onvif://www.onvif.org/hardware/{}</wsd:Scopes><wsd:XAddrs>http://127.0.0.1:{}/onvif/device_service</wsd:XAddrs><wsd:MetadataVersion>1</wsd:MetadataVersion></wsd:ProbeMatch></wsd:ProbeMatches></env:Body></env:Envelope>"#,
            uuid::Uuid::new_v4(),
            shared.port,
            match m {
                Maker::H => "onvif://www.onvif.org/name/HIKVISION".to_owned(),
                Maker::D => "onvif://www.onvif.org/mfr/Dahua onvif://www.onvif.org/name/Front_Door".to_owned(),
            },
            m.model(),
            shared.port
        );
        let _ = sock.send_to(answer.as_bytes(), from);
    }
}

// ---------------------------------------------------------------------------------------
// SOAP

/// The local name of the first element in the SOAP Body.
fn operation(body: &str) -> String {
    let Some(i) = body.find(":Body>").or_else(|| body.find("<Body>")) else { return String::new() };
    let rest = &body[i..];
    let Some(j) = rest[1..].find('<') else { return String::new() };
    let tag: String = rest[1 + j + 1..].chars().take_while(|c| !c.is_whitespace() && *c != '>' && *c != '/').collect();
    tag.rsplit(':').next().unwrap_or_default().to_owned()
}

fn envelope(maker: Maker, body: &str) -> String {
    match maker {
        Maker::H => format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" xmlns:tds="http://www.onvif.org/ver10/device/wsdl" xmlns:trt="http://www.onvif.org/ver10/media/wsdl" xmlns:tr2="http://www.onvif.org/ver20/media/wsdl" xmlns:tt="http://www.onvif.org/ver10/schema" xmlns:tev="http://www.onvif.org/ver10/events/wsdl" xmlns:tptz="http://www.onvif.org/ver20/ptz/wsdl" xmlns:wsnt="http://docs.oasis-open.org/wsn/b-2" xmlns:wsa="http://www.w3.org/2005/08/addressing" xmlns:tns1="http://www.onvif.org/ver10/topics" xmlns:ter="http://www.onvif.org/ver10/error"><env:Body>{body}</env:Body></env:Envelope>"#
        ),
        Maker::D => format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:dev="http://www.onvif.org/ver10/device/wsdl" xmlns:med="http://www.onvif.org/ver10/media/wsdl" xmlns:ns1="http://www.onvif.org/ver10/schema" xmlns:ev="http://www.onvif.org/ver10/events/wsdl" xmlns:ns2="http://docs.oasis-open.org/wsn/b-2" xmlns:a="http://www.w3.org/2005/08/addressing" xmlns:ns3="http://www.onvif.org/ver10/topics" xmlns:err="http://www.onvif.org/ver10/error"><s:Header/><s:Body>{body}</s:Body></s:Envelope>"#
        ),
    }
}

/// Rewrites `H`-style prefixes into the maker's own.
fn prefixed(maker: Maker, body: &str) -> String {
    match maker {
        Maker::H => body.to_owned(),
        Maker::D => body
            .replace("tds:", "dev:")
            .replace("trt:", "med:")
            .replace("tt:", "ns1:")
            .replace("tev:", "ev:")
            .replace("wsnt:", "ns2:")
            .replace("wsa:", "a:")
            .replace("tns1:", "ns3:")
            .replace("env:", "s:")
            .replace("ter:", "err:"),
    }
}

fn reply(maker: Maker, status: StatusCode, body: &str) -> Response {
    let text = envelope(maker, &prefixed(maker, body));
    (status, [("content-type", "application/soap+xml; charset=utf-8")], text).into_response()
}

fn fault(maker: Maker, status: StatusCode, sub: &str, reason: &str) -> Response {
    reply(
        maker,
        status,
        &format!(
            "<env:Fault><env:Code><env:Value>env:Sender</env:Value><env:Subcode><env:Value>ter:{sub}</env:Value></env:Subcode></env:Code><env:Reason><env:Text xml:lang=\"en\">{reason}</env:Text></env:Reason></env:Fault>"
        ),
    )
}

fn text_of<'a>(body: &'a str, local: &str) -> Option<&'a str> {
    // `<prefix:Local ...>value</prefix:Local>`: find ":Local" followed by space or '>'.
    let mut from = 0;
    while let Some(i) = body[from..].find(&format!(":{local}")) {
        let at = from + i + local.len() + 1;
        let next = body[at..].chars().next()?;
        if next == '>' || next == ' ' {
            let rest = &body[at..];
            let rest = &rest[rest.find('>')? + 1..];
            return Some(&rest[..rest.find('<')?]);
        }
        from = at;
    }
    None
}

/// Checks a UsernameToken against the device's clock and password.
fn check_wsse(s: &Shared, body: &str) -> Result<(), &'static str> {
    let (Some(user), Some(digest), Some(nonce), Some(created)) =
        (text_of(body, "Username"), text_of(body, "Password"), text_of(body, "Nonce"), text_of(body, "Created"))
    else {
        return Err("no UsernameToken");
    };
    let nonce = base64::engine::general_purpose::STANDARD.decode(nonce).map_err(|_| "bad nonce")?;
    let expected = kw_onvif::soap::password_digest(&nonce, created, &s.spec.password);
    if user != s.spec.user || digest != expected {
        return Err("wrong digest");
    }
    let created = time::OffsetDateTime::parse(created, &time::format_description::well_known::Rfc3339)
        .map_err(|_| "bad Created")?;
    let device_now = now_ms() / 1000 + s.spec.clock_offset_s;
    if (created.unix_timestamp() - device_now).abs() > 5 {
        return Err("Created too far from the device's clock");
    }
    Ok(())
}

fn digest_param<'a>(h: &'a str, key: &str) -> Option<&'a str> {
    let i = h.find(&format!("{key}="))? + key.len() + 1;
    let rest = &h[i..];
    if let Some(r) = rest.strip_prefix('"') {
        Some(&r[..r.find('"')?])
    } else {
        Some(rest.split(',').next()?.trim())
    }
}

/// Checks an HTTP Digest Authorization (RFC 2617 MD5, qop=auth) for `uri`.
fn check_http_digest(s: &Shared, headers: &HeaderMap, method: &str, path: &str) -> bool {
    let Some(h) = headers.get("authorization").and_then(|v| v.to_str().ok()) else { return false };
    let (Some(user), Some(nonce), Some(uri), Some(nc), Some(cnonce), Some(resp)) = (
        digest_param(h, "username"),
        digest_param(h, "nonce"),
        digest_param(h, "uri"),
        digest_param(h, "nc"),
        digest_param(h, "cnonce"),
        digest_param(h, "response"),
    ) else {
        return false;
    };
    if user != s.spec.user || uri != path || !nonce.starts_with("dnonce") {
        return false;
    }
    let challenge =
        kw_camauth::DigestChallenge::parse(format!(r#"Digest realm="Login to D", qop="auth", nonce="{nonce}""#))
            .unwrap();
    let creds = kw_onvif::Credentials { username: s.spec.user.clone(), password: s.spec.password.clone() };
    let nc = u32::from_str_radix(nc, 16).unwrap_or(0);
    let want = challenge.authorization(&creds, method, uri, nc, cnonce);
    digest_param(&want, "response") == Some(resp)
}

fn challenge(s: &Shared) -> Response {
    let n = s.nonce_seq.fetch_add(1, Ordering::Relaxed);
    (
        StatusCode::UNAUTHORIZED,
        [(
            "www-authenticate",
            format!(r#"Digest realm="Login to D", qop="auth", nonce="dnonce{n:08x}", opaque="5ccc""#),
        )],
        "",
    )
        .into_response()
}

fn device_time(s: &Shared) -> i64 {
    now_ms() + s.spec.clock_offset_s * 1000
}

async fn handle(State(s): State<Arc<Shared>>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let hostile = s.hostile.lock().unwrap().clone();
    if let Some(text) = hostile {
        s.hostile_answers.fetch_add(1, Ordering::Relaxed);
        return (StatusCode::OK, [("content-type", "application/soap+xml; charset=utf-8")], text.as_str().to_owned())
            .into_response();
    }
    let m = s.spec.maker;
    let still = s.h265_still.lock().unwrap().clone();
    if let (Some(jpeg), "/snapshot.jpg") = (still.clone(), uri.path()) {
        if m == Maker::D && !check_http_digest(&s, &headers, "GET", uri.path()) {
            return challenge(&s);
        }
        s.snapshot_requests.fetch_add(1, Ordering::Relaxed);
        return (StatusCode::OK, [("content-type", "image/jpeg")], jpeg.as_ref().clone()).into_response();
    }
    let body = String::from_utf8_lossy(&body).into_owned();
    let op = operation(&body);
    if op == "GetSystemDateAndTime" {
        let t = time::OffsetDateTime::from_unix_timestamp(device_time(&s) / 1000).unwrap();
        return reply(
            m,
            StatusCode::OK,
            &format!(
                "<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime><tt:DateTimeType>Manual</tt:DateTimeType><tt:DaylightSavings>false</tt:DaylightSavings><tt:UTCDateTime><tt:Time><tt:Hour>{}</tt:Hour><tt:Minute>{}</tt:Minute><tt:Second>{}</tt:Second></tt:Time><tt:Date><tt:Year>{}</tt:Year><tt:Month>{}</tt:Month><tt:Day>{}</tt:Day></tt:Date></tt:UTCDateTime></tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>",
                t.hour(), t.minute(), t.second(), t.year(), u8::from(t.month()), t.day()
            ),
        );
    }
    if m == Maker::D && !check_http_digest(&s, &headers, "POST", uri.path()) {
        if headers.contains_key("authorization") {
            s.auth_refused.fetch_add(1, Ordering::Relaxed);
        }
        return challenge(&s);
    }
    let wsse_present = body.contains("UsernameToken");
    if m == Maker::H || wsse_present {
        if let Err(why) = check_wsse(&s, &body) {
            s.auth_refused.fetch_add(1, Ordering::Relaxed);
            return fault(m, StatusCode::BAD_REQUEST, "NotAuthorized", &format!("Sender not Authorized ({why})"));
        }
    }
    s.auth_ok.fetch_add(1, Ordering::Relaxed);
    let base = format!("http://127.0.0.1:{}", s.port);
    let b = match (op.as_str(), m) {
        ("GetServices", Maker::H) => format!(
            "<tds:GetServicesResponse>{}{}{}{}{}</tds:GetServicesResponse>",
            service("http://www.onvif.org/ver10/device/wsdl", &format!("{base}/onvif/device_service")),
            service("http://www.onvif.org/ver10/media/wsdl", &format!("{base}/onvif/Media")),
            service("http://www.onvif.org/ver20/media/wsdl", &format!("{base}/onvif/Media2")),
            service("http://www.onvif.org/ver10/events/wsdl", &format!("{base}/onvif/Events")),
            service("http://www.onvif.org/ver20/ptz/wsdl", &format!("{base}/onvif/PTZ")),
        ),
        ("GetServices", Maker::D) => {
            return fault(m, StatusCode::BAD_REQUEST, "ActionNotSupported", "Optional Action Not Implemented")
        }
        ("GetCapabilities", _) => format!(
            "<tds:GetCapabilitiesResponse><tds:Capabilities><tt:Device><tt:XAddr>{base}/onvif/device_service</tt:XAddr></tt:Device><tt:Events><tt:XAddr>{base}/onvif/event_service</tt:XAddr><tt:WSPullPointSupport>true</tt:WSPullPointSupport></tt:Events><tt:Media><tt:XAddr>{base}/onvif/media_service</tt:XAddr></tt:Media></tds:Capabilities></tds:GetCapabilitiesResponse>"
        ),
        ("GetDeviceInformation", _) => format!(
            "<tds:GetDeviceInformationResponse><tds:Manufacturer>{}</tds:Manufacturer><tds:Model>{}</tds:Model><tds:FirmwareVersion>V1.0 test</tds:FirmwareVersion><tds:SerialNumber>TEST0001</tds:SerialNumber><tds:HardwareId>88</tds:HardwareId></tds:GetDeviceInformationResponse>",
            s.manufacturer.lock().unwrap().clone().unwrap_or_else(|| m.manufacturer().to_owned()),
            m.model()
        ),
        ("GetProfiles", _) if still.is_some() && uri.path().ends_with("Media2") => format!(
            "<tr2:GetProfilesResponse>{}</tr2:GetProfilesResponse>",
            profile2("Profile_1", "mainStream", 1920, 1080).replace(">H264<", ">H265<")
        ),
        ("GetProfiles", _) if still.is_some() => format!(
            "<trt:GetProfilesResponse>{}</trt:GetProfilesResponse>",
            profile1("MediaProfile000", "MainStream", 1920, 1080).replace(">H264<", ">H265<")
        ),
        ("GetProfiles", _) if uri.path().ends_with("Media2") => format!(
            "<tr2:GetProfilesResponse>{}{}</tr2:GetProfilesResponse>",
            profile2("Profile_1", "mainStream", 1920, 1080),
            profile2("Profile_2", "subStream", 640, 360)
        ),
        ("GetProfiles", _) => format!(
            "<trt:GetProfilesResponse>{}{}</trt:GetProfilesResponse>",
            profile1("MediaProfile000", "MainStream", 1920, 1080),
            profile1("MediaProfile001", "SubStream", 640, 360)
        ),
        ("GetStreamUri", _) => {
            let sub = body.contains("Profile_2") || body.contains("MediaProfile001");
            let u = if sub { &s.spec.rtsp_sub } else { &s.spec.rtsp_main };
            let u = u.replace('&', "&amp;");
            if uri.path().ends_with("Media2") {
                format!("<tr2:GetStreamUriResponse><tr2:Uri>{u}</tr2:Uri></tr2:GetStreamUriResponse>")
            } else {
                format!("<trt:GetStreamUriResponse><trt:MediaUri><tt:Uri>{u}</tt:Uri><tt:InvalidAfterConnect>false</tt:InvalidAfterConnect><tt:InvalidAfterReboot>false</tt:InvalidAfterReboot><tt:Timeout>PT0S</tt:Timeout></trt:MediaUri></trt:GetStreamUriResponse>")
            }
        }
        ("GetSnapshotUri", _) if uri.path().ends_with("Media2") => {
            format!("<tr2:GetSnapshotUriResponse><tr2:Uri>{base}/snapshot.jpg</tr2:Uri></tr2:GetSnapshotUriResponse>")
        }
        ("GetSnapshotUri", _) => format!(
            "<trt:GetSnapshotUriResponse><trt:MediaUri><tt:Uri>{base}/snapshot.jpg</tt:Uri></trt:MediaUri></trt:GetSnapshotUriResponse>"
        ),
        ("CreatePullPointSubscription", _) => {
            let n = s.subscriptions.fetch_add(1, Ordering::Relaxed);
            // The state replay every camera sends first: motion is "on" right now.
            s.queue.lock().unwrap().push_front(("Initialized", true));
            let now = device_time(&s);
            format!(
                "<tev:CreatePullPointSubscriptionResponse><tev:SubscriptionReference><wsa:Address>{base}/onvif/pullpoint/{n}</wsa:Address></tev:SubscriptionReference><wsnt:CurrentTime>{}</wsnt:CurrentTime><wsnt:TerminationTime>{}</wsnt:TerminationTime></tev:CreatePullPointSubscriptionResponse>",
                fmt_utc(now),
                fmt_utc(now + 60_000)
            )
        }
        ("PullMessages", _) => {
            let wait = text_of(&body, "Timeout")
                .and_then(|t| t.trim_start_matches("PT").trim_end_matches('S').parse::<u64>().ok())
                .unwrap_or(1)
                .min(10);
            let deadline = tokio::time::Instant::now() + Duration::from_secs(wait);
            loop {
                let notified = s.wake.notified();
                if !s.queue.lock().unwrap().is_empty() {
                    break;
                }
                if tokio::time::timeout_at(deadline, notified).await.is_err() {
                    break;
                }
            }
            let msgs: Vec<(&str, bool)> = s.queue.lock().unwrap().drain(..).collect();
            if !msgs.is_empty() {
                s.pulls_delivered.fetch_add(1, Ordering::Relaxed);
            }
            let now = device_time(&s);
            let notes: String = msgs.iter().map(|(op, on)| notification(m, op, *on, now)).collect();
            format!(
                "<tev:PullMessagesResponse><tev:CurrentTime>{}</tev:CurrentTime><tev:TerminationTime>{}</tev:TerminationTime>{notes}</tev:PullMessagesResponse>",
                fmt_utc(now),
                fmt_utc(now + 60_000)
            )
        }
        ("Renew", _) => {
            let now = device_time(&s);
            format!(
                "<wsnt:RenewResponse><wsnt:TerminationTime>{}</wsnt:TerminationTime><wsnt:CurrentTime>{}</wsnt:CurrentTime></wsnt:RenewResponse>",
                fmt_utc(now + 60_000),
                fmt_utc(now)
            )
        }
        ("Unsubscribe", _) => "<wsnt:UnsubscribeResponse/>".to_owned(),
        (op, Maker::H) if uri.path().ends_with("/PTZ") => match ptz(&s, op, &body) {
            Ok(b) => b,
            Err(why) => return fault(m, StatusCode::BAD_REQUEST, "InvalidArgVal", why),
        },
        _ => return fault(m, StatusCode::BAD_REQUEST, "ActionNotSupported", "Optional Action Not Implemented"),
    };
    reply(m, StatusCode::OK, &b)
}

/// The value of attribute `name` of the first element `local` in `body`.
fn attr_of<'a>(body: &'a str, local: &str, name: &str) -> Option<&'a str> {
    let at = body.find(&format!(":{local} "))?;
    let tag = &body[at..at + body[at..].find('>')?];
    let v = &tag[tag.find(&format!(" {name}=\""))? + name.len() + 3..];
    Some(&v[..v.find('"')?])
}

/// One PTZ operation: recorded, then answered.
fn ptz(s: &Shared, op: &str, body: &str) -> Result<String, &'static str> {
    let profile = text_of(body, "ProfileToken").unwrap_or_default().to_owned();
    let token = text_of(body, "PresetToken").unwrap_or_default().to_owned();
    let call = match op {
        "ContinuousMove" => format!(
            "ContinuousMove x={} y={} zoom={} profile={profile}",
            attr_of(body, "PanTilt", "x").unwrap_or("-"),
            attr_of(body, "PanTilt", "y").unwrap_or("-"),
            attr_of(body, "Zoom", "x").unwrap_or("-"),
        ),
        "GotoPreset" | "RemovePreset" => format!("{op} {token}"),
        "SetPreset" => format!("SetPreset {}", text_of(body, "PresetName").unwrap_or_default()),
        other => other.to_owned(),
    };
    s.ptz_calls.lock().unwrap().push(call);
    let mut presets = s.presets.lock().unwrap();
    Ok(match op {
        "ContinuousMove" => "<tptz:ContinuousMoveResponse/>".to_owned(),
        "Stop" => "<tptz:StopResponse/>".to_owned(),
        "GotoHomePosition" => "<tptz:GotoHomePositionResponse/>".to_owned(),
        "GetPresets" => {
            let list: String = presets
                .iter()
                .map(|(t, n)| format!("<tptz:Preset token=\"{t}\"><tt:Name>{n}</tt:Name></tptz:Preset>"))
                .collect();
            format!("<tptz:GetPresetsResponse>{list}</tptz:GetPresetsResponse>")
        }
        "GotoPreset" if presets.iter().any(|(t, _)| *t == token) => "<tptz:GotoPresetResponse/>".to_owned(),
        "RemovePreset" if presets.iter().any(|(t, _)| *t == token) => {
            presets.retain(|(t, _)| *t != token);
            "<tptz:RemovePresetResponse/>".to_owned()
        }
        "GotoPreset" | "RemovePreset" => return Err("No such PTZ preset"),
        "SetPreset" => {
            let t = s.next_preset.fetch_add(1, Ordering::Relaxed).to_string();
            presets.push((t.clone(), text_of(body, "PresetName").unwrap_or_default().to_owned()));
            format!("<tptz:SetPresetResponse><tptz:PresetToken>{t}</tptz:PresetToken></tptz:SetPresetResponse>")
        }
        _ => return Err("Optional Action Not Implemented"),
    })
}

fn service(ns: &str, addr: &str) -> String {
    format!("<tds:Service><tds:Namespace>{ns}</tds:Namespace><tds:XAddr>{addr}</tds:XAddr><tds:Version><tt:Major>2</tt:Major><tt:Minor>60</tt:Minor></tds:Version></tds:Service>")
}

fn profile2(token: &str, name: &str, w: u32, h: u32) -> String {
    format!("<tr2:Profiles token=\"{token}\" fixed=\"true\"><tr2:Name>{name}</tr2:Name><tr2:Configurations><tr2:VideoEncoder token=\"enc_{token}\" GovLength=\"25\" Profile=\"High\"><tt:Name>enc</tt:Name><tt:UseCount>1</tt:UseCount><tt:Encoding>H264</tt:Encoding><tt:Resolution><tt:Width>{w}</tt:Width><tt:Height>{h}</tt:Height></tt:Resolution></tr2:VideoEncoder></tr2:Configurations></tr2:Profiles>")
}

fn profile1(token: &str, name: &str, w: u32, h: u32) -> String {
    format!("<trt:Profiles fixed=\"true\" token=\"{token}\"><tt:Name>{name}</tt:Name><tt:VideoEncoderConfiguration token=\"{token}\"><tt:Name>enc</tt:Name><tt:Encoding>H264</tt:Encoding><tt:Resolution><tt:Width>{w}</tt:Width><tt:Height>{h}</tt:Height></tt:Resolution></tt:VideoEncoderConfiguration></trt:Profiles>")
}

fn notification(m: Maker, op: &str, on: bool, now: i64) -> String {
    let (topic, source, item) = match m {
        Maker::H => (
            "tns1:RuleEngine/CellMotionDetector/Motion",
            "<tt:SimpleItem Name=\"VideoSourceConfigurationToken\" Value=\"VideoSourceToken\"/><tt:SimpleItem Name=\"Rule\" Value=\"MyMotionDetectorRule\"/>",
            "IsMotion",
        ),
        Maker::D => ("tns1:VideoSource/MotionAlarm", "<tt:SimpleItem Name=\"Source\" Value=\"000\"/>", "State"),
    };
    format!(
        "<wsnt:NotificationMessage><wsnt:Topic Dialect=\"http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet\">{topic}</wsnt:Topic><wsnt:Message><tt:Message UtcTime=\"{}\" PropertyOperation=\"{op}\"><tt:Source>{source}</tt:Source><tt:Data><tt:SimpleItem Name=\"{item}\" Value=\"{on}\"/></tt:Data></tt:Message></wsnt:Message></wsnt:NotificationMessage>",
        fmt_utc(now)
    )
}

/// A SOAP answer that declares a new namespace prefix on each of `levels` nested elements: well-formed,
/// under the 1 MiB cap at 4,500 levels (about 190 KB), and before issue 12 minutes of XML parsing.
pub fn namespace_bomb(levels: usize) -> String {
    let open: String = (0..levels).map(|i| format!(r#"<p{i}:e xmlns:p{i}="urn:bomb:{i}">"#)).collect();
    let close: String = (0..levels).rev().map(|i| format!("</p{i}:e>")).collect();
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope"><env:Body>{open}{close}</env:Body></env:Envelope>"#
    )
}
