//! WS-Discovery: finding ONVIF cameras on the local network.
//!
//! A Probe for `dn:NetworkVideoTransmitter` goes to 239.255.255.250:3702; cameras answer with a unicast
//! ProbeMatches to the sender. Why an interface address: a machine with several networks (LAN, VPN,
//! Docker bridges) would otherwise probe only the one of the default route, and tests must keep their
//! probes on loopback; with `interface` set the probe leaves only through the interface with that address
//! (IP_MULTICAST_IF) and the socket is bound to that address. TTL is 1: probes never cross a router.
//!
//! Answers are read until the timeout, capped in size and count, and deduplicated by endpoint reference.

use crate::xml::{self, descendant, descendants, text};
use crate::Error;
use kw_logsafe::OneLine;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::Duration;

/// The WS-Discovery multicast group and port.
pub const GROUP: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(239, 255, 255, 250), 3702);
/// The most devices one probe collects.
const MAX_DEVICES: usize = 1024;

/// One camera that answered.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Discovered {
    /// `urn:uuid:...`, stable per device.
    pub endpoint: String,
    /// Device service addresses.
    pub xaddrs: Vec<String>,
    pub scopes: Vec<String>,
    /// From an `onvif://www.onvif.org/mfr/` (or `manufacturer/`) scope, else the `name/` scope.
    pub maker: Option<String>,
    /// From the `hardware/` scope.
    pub model: Option<String>,
    /// From the `name/` scope.
    pub name: Option<String>,
}

impl Discovered {
    /// `host[:port]` of the first http XAddr (port 80 left out).
    pub fn host_port(&self) -> Option<(String, u16)> {
        self.xaddrs.iter().find_map(|x| {
            let u = url::Url::parse(x).ok()?;
            if u.scheme() != "http" && u.scheme() != "https" {
                return None;
            }
            Some((u.host_str()?.to_owned(), u.port_or_known_default()?))
        })
    }

    /// The `onvif://HOST:PORT` URL for keepwatch's config.
    pub fn onvif_url(&self) -> Option<String> {
        self.host_port().map(|(h, p)| format!("onvif://{h}:{p}"))
    }
}

/// The Probe message with `message_id` (`urn:uuid:...`).
pub fn probe_message(message_id: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery" xmlns:dn="http://www.onvif.org/ver10/network/wsdl"><s:Header><a:Action s:mustUnderstand="1">http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe</a:Action><a:MessageID>{message_id}</a:MessageID><a:ReplyTo><a:Address>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:Address></a:ReplyTo><a:To s:mustUnderstand="1">urn:schemas-xmlsoap-org:ws:2005:04:discovery</a:To></s:Header><s:Body><d:Probe><d:Types>dn:NetworkVideoTransmitter</d:Types></d:Probe></s:Body></s:Envelope>"#
    )
}

/// Decodes `%XX` escapes (a `%` without two hex digits stays as it is; invalid UTF-8 becomes U+FFFD).
fn percent_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text).decode_utf8_lossy().into_owned()
}

/// The value of an `onvif://www.onvif.org/KIND/VALUE` scope.
fn scope_value(scopes: &[String], kind: &str) -> Option<String> {
    let prefix = format!("onvif://www.onvif.org/{kind}/");
    scopes.iter().find_map(|s| {
        let v = s.strip_prefix(&prefix)?;
        let v = percent_decode(v.trim_end_matches('/')).replace('_', " ").trim().to_owned();
        (!v.is_empty()).then_some(v)
    })
}

/// Parses a ProbeMatches message; `relates_to`, when given, must match its RelatesTo (when it has one).
pub fn parse_probe_matches(text_: &str, relates_to: Option<&str>) -> Result<Vec<Discovered>, Error> {
    let doc = xml::parse(text_)?;
    let root = doc.root_element();
    if let (Some(want), Some(got)) = (relates_to, descendant(root, "RelatesTo").map(text)) {
        if got != want {
            return Ok(Vec::new());
        }
    }
    let mut out = Vec::new();
    for m in descendants(root, "ProbeMatch") {
        let endpoint =
            descendant(m, "EndpointReference").and_then(|e| descendant(e, "Address")).map(text).unwrap_or_default();
        let list = |l: &'static str| -> Vec<String> {
            descendant(m, l)
                .map(|n| text(n).split_whitespace().take(64).map(str::to_owned).collect())
                .unwrap_or_default()
        };
        let xaddrs = list("XAddrs");
        let scopes = list("Scopes");
        let name = scope_value(&scopes, "name");
        let maker =
            scope_value(&scopes, "mfr").or_else(|| scope_value(&scopes, "manufacturer")).or_else(|| name.clone());
        let model = scope_value(&scopes, "hardware");
        if endpoint.is_empty() && xaddrs.is_empty() {
            continue;
        }
        out.push(Discovered { endpoint, xaddrs, scopes, maker, model, name });
    }
    Ok(out)
}

/// [`parse_probe_matches`] of a datagram's bytes (invalid UTF-8 replaced): the entry point for fuzzing
/// WS-Discovery answers.
pub fn parse_probe_matches_bytes(datagram: &[u8], relates_to: Option<&str>) -> Result<Vec<Discovered>, Error> {
    parse_probe_matches(&String::from_utf8_lossy(datagram), relates_to)
}

fn socket(interface: Option<Ipv4Addr>) -> std::io::Result<tokio::net::UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    s.set_nonblocking(true)?;
    let local = interface.unwrap_or(Ipv4Addr::UNSPECIFIED);
    s.bind(&SocketAddr::V4(SocketAddrV4::new(local, 0)).into())?;
    if let Some(ifaddr) = interface {
        s.set_multicast_if_v4(&ifaddr)?;
    }
    s.set_multicast_ttl_v4(1)?;
    s.set_multicast_loop_v4(true)?;
    tokio::net::UdpSocket::from_std(s.into())
}

/// Probes and collects answers for `timeout`. With `interface`, probes leave only through the interface
/// that has that IPv4 address.
pub async fn discover(interface: Option<Ipv4Addr>, timeout: Duration) -> Result<Vec<Discovered>, Error> {
    let sock = socket(interface).map_err(|e| match interface {
        Some(a) => Error::Unreachable(format!("cannot send probes through the interface with address {a}: {e}")),
        None => Error::Unreachable(format!("cannot open a UDP socket for discovery: {e}")),
    })?;
    let id = format!("urn:uuid:{}", uuid::Uuid::new_v4());
    let probe = probe_message(&id);
    let deadline = tokio::time::Instant::now() + timeout;
    // UDP may drop a probe: send it again a little later (WS-Discovery repeats multicast messages).
    let mut resend_at = Some(tokio::time::Instant::now() + Duration::from_millis(250).min(timeout / 4));
    sock.send_to(probe.as_bytes(), SocketAddr::V4(GROUP))
        .await
        .map_err(|e| Error::Unreachable(format!("cannot send the discovery probe: {e}")))?;
    let mut found: Vec<Discovered> = Vec::new();
    let mut buf = vec![0u8; 65_536];
    loop {
        let wake = resend_at.map(|r| r.min(deadline)).unwrap_or(deadline);
        let r = tokio::time::timeout_at(wake, sock.recv_from(&mut buf)).await;
        match r {
            Err(_) if tokio::time::Instant::now() >= deadline => break,
            Err(_) => {
                resend_at = None;
                let _ = sock.send_to(probe.as_bytes(), SocketAddr::V4(GROUP)).await;
            }
            Ok(Err(e)) => {
                tracing::debug!("discovery: receive failed: {e}");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Ok(Ok((n, from))) => {
                // Read off the runtime: a LAN neighbour's datagram is as untrusted as a camera's answer.
                let (datagram, want) = (buf[..n].to_vec(), id.clone());
                match xml::off_runtime(move || parse_probe_matches_bytes(&datagram, Some(&want))).await {
                    Ok(devices) => {
                        for d in devices {
                            let dup = found.iter().any(|f| {
                                (!d.endpoint.is_empty() && f.endpoint == d.endpoint)
                                    || (d.endpoint.is_empty() && f.xaddrs == d.xaddrs)
                            });
                            if !dup && found.len() < MAX_DEVICES {
                                found.push(d);
                            }
                        }
                    }
                    Err(e) => tracing::debug!("discovery: unreadable answer from {from}: {}", OneLine(&e.to_string())),
                }
            }
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Shaped like an "H" camera's answer (SOAP-ENV, wsa 2004/08, scopes with `%20`).
    const H_MATCH: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:wsd="http://schemas.xmlsoap.org/ws/2005/04/discovery" xmlns:dn="http://www.onvif.org/ver10/network/wsdl">
<env:Header><wsa:MessageID>urn:uuid:11111111-2222-3333-4444-555555555555</wsa:MessageID><wsa:RelatesTo>urn:uuid:probe-1</wsa:RelatesTo>
<wsa:To env:mustUnderstand="true">http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</wsa:To><wsa:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/ProbeMatches</wsa:Action></env:Header>
<env:Body><wsd:ProbeMatches><wsd:ProbeMatch><wsa:EndpointReference><wsa:Address>urn:uuid:4c4c4c4c-0000-1111-2222-bcbaa4c0ffee</wsa:Address></wsa:EndpointReference>
<wsd:Types>dn:NetworkVideoTransmitter tds:Device</wsd:Types>
<wsd:Scopes>onvif://www.onvif.org/type/video_encoder onvif://www.onvif.org/Profile/Streaming onvif://www.onvif.org/hardware/DS-2CD2386G2-I onvif://www.onvif.org/name/HIKVISION%20DS-2CD2386G2-I onvif://www.onvif.org/location/city/hangzhou</wsd:Scopes>
<wsd:XAddrs>http://192.168.1.64/onvif/device_service http://[fe80::1]/onvif/device_service</wsd:XAddrs><wsd:MetadataVersion>10</wsd:MetadataVersion></wsd:ProbeMatch></wsd:ProbeMatches></env:Body></env:Envelope>"#;

    /// Shaped like a "D" camera's answer (SOAP-ENV 1.2 as `SOAP-ENV`, `d:` discovery prefix, mfr scope).
    const D_MATCH: &str = r#"<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery"><SOAP-ENV:Header><a:RelatesTo>urn:uuid:probe-1</a:RelatesTo></SOAP-ENV:Header><SOAP-ENV:Body><d:ProbeMatches><d:ProbeMatch><a:EndpointReference><a:Address>uuid:d0d0d0d0-aaaa</a:Address></a:EndpointReference><d:Types>dn:NetworkVideoTransmitter</d:Types><d:Scopes>onvif://www.onvif.org/Profile/Streaming onvif://www.onvif.org/Profile/T onvif://www.onvif.org/mfr/Dahua onvif://www.onvif.org/hardware/IPC-HDW2431T onvif://www.onvif.org/name/Front_Door</d:Scopes><d:XAddrs>http://10.0.0.108:8080/onvif/device_service</d:XAddrs></d:ProbeMatch></d:ProbeMatches></SOAP-ENV:Body></SOAP-ENV:Envelope>"#;

    #[test]
    fn probe_matches_of_two_makers() {
        let h = parse_probe_matches(H_MATCH, Some("urn:uuid:probe-1")).unwrap();
        assert_eq!(h.len(), 1);
        assert_eq!(h[0].endpoint, "urn:uuid:4c4c4c4c-0000-1111-2222-bcbaa4c0ffee");
        assert_eq!(h[0].model.as_deref(), Some("DS-2CD2386G2-I"));
        assert_eq!(h[0].maker.as_deref(), Some("HIKVISION DS-2CD2386G2-I"));
        assert_eq!(h[0].onvif_url().as_deref(), Some("onvif://192.168.1.64:80"));
        let d = parse_probe_matches(D_MATCH, Some("urn:uuid:probe-1")).unwrap();
        assert_eq!(d[0].maker.as_deref(), Some("Dahua"));
        assert_eq!(d[0].name.as_deref(), Some("Front Door"));
        assert_eq!(d[0].model.as_deref(), Some("IPC-HDW2431T"));
        assert_eq!(d[0].onvif_url().as_deref(), Some("onvif://10.0.0.108:8080"));
        assert!(parse_probe_matches(D_MATCH, Some("urn:uuid:other")).unwrap().is_empty(), "someone else's probe");
        assert!(parse_probe_matches("<x", None).is_err());
        assert!(xml::parse(&probe_message("urn:uuid:1")).is_ok());
        assert_eq!(percent_decode("a%2"), "a%2");
        assert_eq!(percent_decode("%41%zz"), "A%zz");
        assert_eq!(percent_decode("%aé%é"), "%aé%é", "no panic inside a multi-byte character");
    }

    #[tokio::test]
    async fn probes_stay_on_loopback_and_answers_are_collected() {
        // A responder on loopback only: joins the group on 127.0.0.1 and answers to the sender.
        use socket2::{Domain, Protocol, Socket, Type};
        let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)).unwrap();
        s.set_reuse_address(true).unwrap();
        s.bind(&SocketAddr::V4(GROUP).into()).unwrap();
        s.join_multicast_v4(GROUP.ip(), &Ipv4Addr::LOCALHOST).unwrap();
        s.set_nonblocking(true).unwrap();
        let responder = tokio::net::UdpSocket::from_std(s.into()).unwrap();
        let task = tokio::spawn(async move {
            let mut buf = vec![0u8; 65536];
            loop {
                let (n, from) = responder.recv_from(&mut buf).await.unwrap();
                let probe = String::from_utf8_lossy(&buf[..n]).into_owned();
                if !probe.contains("NetworkVideoTransmitter") || !from.ip().is_loopback() {
                    continue;
                }
                let id = probe.split("MessageID>").nth(1).and_then(|s| s.split('<').next()).unwrap().to_owned();
                let answer = D_MATCH.replace("urn:uuid:probe-1", &id).replace("10.0.0.108:8080", "127.0.0.1:18080");
                responder.send_to(answer.as_bytes(), from).await.unwrap();
            }
        });
        let found = discover(Some(Ipv4Addr::LOCALHOST), Duration::from_millis(800)).await.unwrap();
        task.abort();
        let ours: Vec<_> = found.iter().filter(|d| d.endpoint == "uuid:d0d0d0d0-aaaa").collect();
        assert_eq!(ours.len(), 1, "two probes, one device: {found:?}");
        assert_eq!(ours[0].onvif_url().as_deref(), Some("onvif://127.0.0.1:18080"));
    }
}
