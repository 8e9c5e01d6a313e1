//! One player's RTSP connection: requests in, responses and interleaved RTP out.
//!
//! One task per connection, two sources: the client's bytes (requests, its RTCP reports, which are
//! skipped) and, once playing, the camera's hub. Media goes out with one write per frame under a stall
//! timeout; responses go out on the same socket between frames. Only RTP over the RTSP connection (TCP
//! interleaved) is offered: SETUP with UDP only gets 461, and players (ffmpeg, GStreamer, VLC) then retry
//! over TCP.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use bytes::{Buf, BytesMut};
use kw_auth::{Principal, PrincipalKind, Role};
use kw_logsafe::Untrusted;
use kw_media::{RunInfo, StreamKind};
use kw_restream::framing::{Framer, FramingError, Item};
use kw_restream::rtp::{sender_report, Packetizer};
use kw_restream::{interleaved_channels, sdp, target, Target};
use rtsp_types::{headers, Method, Request, Response, StatusCode, Version};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

use crate::http::Shared;
use crate::hub::{MediaEvent, Start};

/// Hub events queued for one player before the hub skips it ahead (as for a live-view WebSocket).
const QUEUE: usize = 256;
/// How often each track gets an RTCP sender report (ties RTP time to the wall clock).
const SR_EVERY: Duration = Duration::from_secs(5);
const PUBLIC: &str = "OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN, GET_PARAMETER, SET_PARAMETER";
const SERVER: &str = "keepwatch";

type Answer = Response<Vec<u8>>;

/// What a set-up track sends with.
struct Track {
    channel: u8,
    ssrc: u32,
    pk: Packetizer,
    packets: u32,
    octets: u32,
    last_sr: Option<Instant>,
    /// The RTP time of the previous frame, so a new run (camera reconnect) continues the timeline.
    last_rtp: Option<u32>,
    rebase: bool,
}

struct Session {
    id: String,
    target: Target,
    run: Arc<RunInfo>,
    tracks: [Option<Track>; 2],
}

/// While playing: the hub subscription and what counts this player.
struct Playing {
    rx: mpsc::Receiver<MediaEvent>,
    _viewer: crate::http::viewers::ViewerPermit,
    _count: Counted,
}

struct Counted(Arc<crate::view::Clients>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.restream.fetch_sub(1, Ordering::Relaxed);
    }
}

struct Conn {
    st: Shared,
    peer: SocketAddr,
    /// The last Authorization header that was checked, and who it is.
    auth: Option<(String, Principal)>,
    session: Option<Session>,
    /// Bytes of a client's interleaved packet still to skip.
    skip: usize,
    requests: u64,
}

/// What a player's bytes travel over: TCP, or TLS over TCP (RTSPS).
pub(super) trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

pub(super) async fn run(stream: impl Stream, peer: SocketAddr, st: Shared) {
    let mut conn = Conn { st, peer, auth: None, session: None, skip: 0, requests: 0 };
    match conn.serve(stream).await {
        Ok(()) => tracing::debug!(client = %peer, "restream: connection closed"),
        Err(why) => tracing::debug!(client = %peer, "restream: connection ended: {why}"),
    }
}

async fn recv(playing: &mut Option<Playing>) -> Option<MediaEvent> {
    match playing {
        Some(p) => p.rx.recv().await,
        None => std::future::pending().await,
    }
}

impl Conn {
    async fn serve(&mut self, mut stream: impl Stream) -> Result<(), String> {
        let cfg = self.st.config.borrow().server.clone();
        let mut buf = BytesMut::with_capacity(4096);
        let mut framer = Framer::default();
        let mut playing: Option<Playing> = None;
        let mut out = Vec::with_capacity(64 * 1024);
        loop {
            // Before PLAY the client must keep talking; while playing, the open connection is the session.
            let limit = if playing.is_some() {
                Duration::from_secs(24 * 3600)
            } else if self.requests == 0 {
                cfg.header_timeout
            } else {
                cfg.idle_timeout
            };
            tokio::select! {
                read = tokio::time::timeout(limit, stream.read_buf(&mut buf)) => {
                    let n = read.map_err(|_| "timed out waiting for a request".to_owned())?
                        .map_err(|e| e.to_string())?;
                    if n == 0 {
                        return Ok(());
                    }
                    let skip = self.skip.min(buf.len());
                    buf.advance(skip);
                    self.skip -= skip;
                    loop {
                        let item = match framer.next(&buf) {
                            Ok(item) => item,
                            Err(e) => {
                                let status = match e {
                                    FramingError::HeaderTooLarge => StatusCode::RequestMessageBodyTooLarge,
                                    _ => StatusCode::BadRequest,
                                };
                                let answer = plain(status, "0", &e.to_string());
                                write(&mut stream, &answer_bytes(&answer)).await?;
                                return Err(e.to_string());
                            }
                        };
                        match item {
                            Item::Incomplete => break,
                            Item::Interleaved { consumed, .. } => {
                                let now = consumed.min(buf.len());
                                buf.advance(now);
                                self.skip = consumed - now;
                            }
                            Item::Request { request, consumed } => {
                                buf.advance(consumed);
                                self.requests += 1;
                                let (answer, close) = self.handle(&request, &mut playing).await;
                                write(&mut stream, &answer_bytes(&answer)).await?;
                                if close {
                                    return Ok(());
                                }
                            }
                        }
                    }
                }
                ev = recv(&mut playing) => {
                    let Some(ev) = ev else {
                        // The hub closed: the camera was removed or restarted with new settings.
                        return Ok(());
                    };
                    out.clear();
                    if !self.media(ev, &mut out)? {
                        return Ok(());
                    }
                    if !out.is_empty() {
                        write(&mut stream, &out).await?;
                    }
                }
            }
        }
    }

    /// Packets for one hub event into `out`; false ends the connection (the stream changed shape).
    fn media(&mut self, ev: MediaEvent, out: &mut Vec<u8>) -> Result<bool, String> {
        let Some(s) = self.session.as_mut() else { return Ok(false) };
        match ev {
            MediaEvent::Run(run) => {
                // Same codecs and parameter sets: carry on (RTP time continues). Anything else needs a new
                // DESCRIBE, so end the session and let the player reconnect.
                if run.video != s.run.video || run.audio != s.run.audio {
                    tracing::info!(camera = %s.target.camera, client = %self.peer,
                        "restream: the camera's stream changed; ending the session so the player describes it anew");
                    return Ok(false);
                }
                for t in s.tracks.iter_mut().flatten() {
                    t.rebase = t.last_rtp.is_some();
                }
                s.run = run;
            }
            MediaEvent::Frame(frame) => {
                let idx = usize::from(frame.stream == StreamKind::Audio);
                let Some(t) = s.tracks[idx].as_mut() else { return Ok(true) };
                if t.rebase {
                    // One nominal frame after the last one sent.
                    let step = if idx == 0 { 3600 } else { 1024 };
                    let want = t.last_rtp.unwrap_or(0).wrapping_add(step);
                    let at_zero = Packetizer::new(stream_params(&s.run, idx), 0, 0, 0, 0).rtp_time(frame.pts);
                    t.pk = Packetizer::new(
                        stream_params(&s.run, idx),
                        payload_type(&s.run, idx),
                        t.ssrc,
                        t.pk.next_seq(),
                        want.wrapping_sub(at_zero),
                    );
                    t.rebase = false;
                }
                let rtp = t.pk.rtp_time(frame.pts);
                let due = t.last_sr.is_none_or(|at| at.elapsed() >= SR_EVERY);
                if due {
                    let wall = wall_of(&s.run, idx, frame.pts);
                    sender_report(t.ssrc, wall, rtp, t.packets, t.octets, t.channel + 1, out);
                    t.last_sr = Some(Instant::now());
                }
                let before = out.len();
                let seq = t.pk.next_seq();
                if let Err(e) = t.pk.packetize(&frame, t.channel, out) {
                    tracing::debug!(camera = %s.target.camera, "restream: skipped a frame: {e}");
                    return Ok(true);
                }
                t.packets = t.packets.wrapping_add(u32::from(t.pk.next_seq().wrapping_sub(seq)));
                t.octets = t.octets.wrapping_add((out.len() - before) as u32);
                t.last_rtp = Some(rtp);
            }
            MediaEvent::Gap | MediaEvent::Stopped => {}
        }
        Ok(true)
    }

    /// The answer to one request, and whether to close the connection after it.
    async fn handle(&mut self, req: &Request<Vec<u8>>, playing: &mut Option<Playing>) -> (Answer, bool) {
        let Some(cseq) = req.header(&headers::CSEQ).map(|v| v.as_str().to_owned()) else {
            return (plain(StatusCode::BadRequest, "0", "CSeq header missing"), true);
        };
        if req.version() != Version::V1_0 {
            return (plain(StatusCode::RTSPVersionNotSupported, &cseq, "only RTSP/1.0"), true);
        }
        let url = req.request_uri().map(|u| u.as_str().to_owned()).unwrap_or_default();
        let result = match req.method() {
            Method::Options => Ok(builder(StatusCode::Ok, &cseq).header(headers::PUBLIC, PUBLIC).build(Vec::new())),
            Method::Describe => self.describe(req, &url, &cseq).await,
            Method::Setup => self.setup(req, &url, &cseq).await,
            Method::Play => self.play(req, &url, &cseq, playing).await,
            Method::Teardown => {
                *playing = None;
                self.session = None;
                return (builder(StatusCode::Ok, &cseq).build(Vec::new()), true);
            }
            Method::GetParameter | Method::SetParameter => {
                let mut b = builder(StatusCode::Ok, &cseq);
                if let Some(s) = &self.session {
                    b = b.header(headers::SESSION, s.id.as_str());
                }
                Ok(b.build(Vec::new()))
            }
            _ => Err(plain(StatusCode::MethodNotAllowed, &cseq, "not offered")),
        };
        let answer = result.unwrap_or_else(|e| e);
        let close = answer.status() == StatusCode::BadRequest;
        (answer, close)
    }

    async fn describe(&mut self, req: &Request<Vec<u8>>, url: &str, cseq: &str) -> Result<Answer, Answer> {
        let (t, view) = self.authorized(req, url, cseq).await?;
        let hub = pick(&view, &t, cseq)?;
        let run = hub.current_run().ok_or_else(|| {
            builder(StatusCode::ServiceUnavailable, cseq)
                .header(headers::RETRY_AFTER, "2")
                .build(b"the camera is not streaming yet".to_vec())
        })?;
        let body = sdp::describe(&run, &t.camera).into_bytes();
        let base = if url.ends_with('/') { url.to_owned() } else { format!("{url}/") };
        Ok(builder(StatusCode::Ok, cseq)
            .header(headers::CONTENT_TYPE, "application/sdp")
            .header(headers::CONTENT_BASE, base)
            .build(body))
    }

    async fn setup(&mut self, req: &Request<Vec<u8>>, url: &str, cseq: &str) -> Result<Answer, Answer> {
        let (t, view) = self.authorized(req, url, cseq).await?;
        let idx = usize::from(t.track.unwrap_or(0));
        let hub = pick(&view, &t, cseq)?;
        if let Some(s) = &self.session {
            let same = s.target.camera == t.camera && s.target.sub == t.sub;
            let given = req.header(&headers::SESSION).map(|v| session_id(v.as_str()).to_owned());
            if !same || given.as_deref() != Some(s.id.as_str()) {
                return Err(plain(StatusCode::AggregateOperationNotAllowed, cseq, "one camera stream per session"));
            }
        }
        let run = match &self.session {
            Some(s) => s.run.clone(),
            None => hub.current_run().ok_or_else(|| {
                builder(StatusCode::ServiceUnavailable, cseq)
                    .header(headers::RETRY_AFTER, "2")
                    .build(b"the camera is not streaming yet".to_vec())
            })?,
        };
        if idx == 1 && run.audio.is_none() {
            return Err(plain(StatusCode::NotFound, cseq, "this camera has no audio"));
        }
        let transport = req.header(&headers::TRANSPORT).map(|v| v.as_str().to_owned()).unwrap_or_default();
        let default = if idx == 0 { (0, 1) } else { (2, 3) };
        let Ok((rtp_ch, rtcp_ch)) = interleaved_channels(&transport, default) else {
            return Err(plain(StatusCode::UnsupportedTransport, cseq, "only RTP/AVP/TCP (interleaved) is offered"));
        };
        let ssrc = random() as u32;
        let params = stream_params(&run, idx);
        let pk = Packetizer::new(params, payload_type(&run, idx), ssrc, random() as u16, (random() >> 32) as u32);
        let track =
            Track { channel: rtp_ch, ssrc, pk, packets: 0, octets: 0, last_sr: None, last_rtp: None, rebase: false };
        let s = self.session.get_or_insert_with(|| Session {
            id: format!("{:016x}", random()),
            target: Target { track: None, ..t.clone() },
            run,
            tracks: [None, None],
        });
        s.tracks[idx] = Some(track);
        Ok(builder(StatusCode::Ok, cseq)
            .header(headers::TRANSPORT, format!("RTP/AVP/TCP;unicast;interleaved={rtp_ch}-{rtcp_ch};ssrc={ssrc:08X}"))
            .header(headers::SESSION, format!("{};timeout=60", s.id))
            .build(Vec::new()))
    }

    async fn play(
        &mut self,
        req: &Request<Vec<u8>>,
        url: &str,
        cseq: &str,
        playing: &mut Option<Playing>,
    ) -> Result<Answer, Answer> {
        let given = req.header(&headers::SESSION).map(|v| session_id(v.as_str()).to_owned());
        let Some(sid) = self.session.as_ref().map(|s| s.id.clone()) else {
            return Err(plain(StatusCode::MethodNotValidInThisState, cseq, "SETUP first"));
        };
        if given.as_deref() != Some(sid.as_str()) {
            return Err(plain(StatusCode::SessionNotFound, cseq, "no such session"));
        }
        let (t, view) = self.authorized(req, url, cseq).await?;
        let hub = pick(&view, &t, cseq)?;
        let principal = self.principal_for(&view);
        let Some(s) = self.session.as_ref() else {
            return Err(plain(StatusCode::MethodNotValidInThisState, cseq, "SETUP first"));
        };
        if playing.is_none() {
            let viewer = self.st.viewers.live(&principal).map_err(|e| {
                tracing::info!(camera = %t.camera, user = %principal.name, "restream: refused: {}", e.message);
                plain(StatusCode::NotEnoughBandwidth, cseq, &e.message)
            })?;
            view.clients.restream.fetch_add(1, Ordering::Relaxed);
            let count = Counted(view.clients.clone());
            let rx = hub.subscribe(crate::live::queue_for(&hub, QUEUE), Start::LastKeyFrame);
            tracing::info!(camera = %t.camera, stream = if t.sub { "sub" } else { "main" },
                user = %principal.name, client = %self.peer, "restream: playing");
            *playing = Some(Playing { rx, _viewer: viewer, _count: count });
        }
        let base = url.trim_end_matches('/');
        let info: Vec<String> = s
            .tracks
            .iter()
            .enumerate()
            .filter_map(|(i, t)| t.as_ref().map(|t| (i, t)))
            .map(|(i, t)| format!("url={base}/trackID={i};seq={}", t.pk.next_seq()))
            .collect();
        Ok(builder(StatusCode::Ok, cseq)
            .header(headers::SESSION, sid.as_str())
            .header(headers::RANGE, "npt=now-")
            .header(headers::RTP_INFO, info.join(","))
            .build(Vec::new()))
    }

    /// Who may play, for the viewer caps: the logged-in principal, or the camera's anonymous player.
    fn principal_for(&self, view: &crate::view::CameraView) -> Principal {
        match &self.auth {
            Some((_, p)) => p.clone(),
            None => anonymous(&view.cfg.name, self.peer.ip()),
        }
    }

    /// The request's camera, checked: it exists, and the caller may see it.
    async fn authorized(
        &mut self,
        req: &Request<Vec<u8>>,
        url: &str,
        cseq: &str,
    ) -> Result<(Target, crate::view::CameraView), Answer> {
        let Some(t) = target(url) else {
            return Err(plain(StatusCode::NotFound, cseq, "expected rtsp://HOST:PORT/<camera>[/sub]"));
        };
        let view = self.st.cameras.get(&t.camera);
        let anonymous_ok = view.as_ref().is_some_and(|v| v.cfg.restream_anonymous);
        if !anonymous_ok {
            let p = self.login(req, cseq).await?;
            if view.is_none() || !p.may_see(&t.camera) {
                // Same answer for a missing and an ungranted camera: names are not revealed.
                tracing::info!(camera = %Untrusted(&t.camera), user = %p.name, "restream: camera not granted or unknown");
                return Err(plain(StatusCode::NotFound, cseq, "no such camera"));
            }
        }
        let view = view.ok_or_else(|| plain(StatusCode::NotFound, cseq, "no such camera"))?;
        Ok((t, view))
    }

    /// The principal of the request's Basic credentials (a user's password, or an API token as the
    /// password), cached per connection.
    async fn login(&mut self, req: &Request<Vec<u8>>, cseq: &str) -> Result<Principal, Answer> {
        let challenge = || {
            builder(StatusCode::Unauthorized, cseq)
                .header(headers::WWW_AUTHENTICATE, "Basic realm=\"keepwatch\"")
                .build(Vec::new())
        };
        let Some(h) = req.header(&headers::AUTHORIZATION).map(|v| v.as_str().to_owned()) else {
            return Err(challenge());
        };
        if let Some((seen, p)) = &self.auth {
            if *seen == h {
                return Ok(p.clone());
            }
        }
        let (user, password) = basic(&h).ok_or_else(challenge)?;
        let token = password.clone();
        let st = self.st.clone();
        if let Ok(Some(p)) = st.with_auth(move |db| db.token(&token)).await {
            self.auth = Some((h, p.clone()));
            return Ok(p);
        }
        let addr: IpAddr = self.peer.ip();
        let attempt = self.st.limiter.begin(addr, &user, Instant::now()).map_err(|wait| {
            tracing::warn!(user = %Untrusted(&user), client = %addr, "restream: login refused: too many failures");
            builder(StatusCode::ServiceUnavailable, cseq)
                .header(headers::RETRY_AFTER, wait.as_secs().max(1).to_string())
                .build(b"too many failed logins from this address".to_vec())
        })?;
        let name = user.clone();
        let found = self.st.with_hashing(move |db| db.authenticate(&name, &password)).await.ok().flatten();
        let Some(u) = found else {
            drop(attempt);
            tracing::warn!(user = %Untrusted(&user), client = %addr, "restream: login failed: wrong user name or password");
            return Err(challenge());
        };
        self.st.limiter.succeeded(attempt);
        let p = Principal::from_session(u);
        self.auth = Some((h, p.clone()));
        Ok(p)
    }
}

/// The player of a camera with `restream_anonymous = true`, counted per address.
fn anonymous(camera: &str, addr: IpAddr) -> Principal {
    Principal {
        name: format!("anonymous@{addr}"),
        role: Role::Viewer,
        cameras: Some(vec![camera.to_owned()]),
        kind: PrincipalKind::Token,
    }
}

/// User name and password of a `Basic` Authorization header.
fn basic(h: &str) -> Option<(String, String)> {
    let (scheme, b64) = h.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") || b64.len() > 1024 {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD.decode(b64.trim()).ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (u, p) = text.split_once(':')?;
    Some((u.to_owned(), p.to_owned()))
}

/// Session ids, SSRCs and initial sequence numbers and timestamps (RFC 3550 wants them unpredictable).
fn random() -> u64 {
    let mut b = [0u8; 8];
    let _ = getrandom::getrandom(&mut b);
    u64::from_le_bytes(b)
}

fn session_id(header: &str) -> &str {
    header.split(';').next().unwrap_or("").trim()
}

fn pick(view: &crate::view::CameraView, t: &Target, cseq: &str) -> Result<crate::hub::Hub, Answer> {
    if t.sub {
        view.sub_hub.clone().ok_or_else(|| plain(StatusCode::NotFound, cseq, "this camera has no sub_url stream"))
    } else {
        Ok(view.hub.clone())
    }
}

fn stream_params(run: &RunInfo, idx: usize) -> &kw_media::StreamParams {
    match (idx, &run.audio) {
        (1, Some(a)) => a,
        _ => &run.video,
    }
}

fn payload_type(run: &RunInfo, idx: usize) -> u8 {
    match (idx, &run.audio) {
        (1, Some(a)) => sdp::audio_payload_type(a),
        _ => sdp::VIDEO_PT,
    }
}

/// Wall-clock µs of a pts of track `idx`.
fn wall_of(run: &RunInfo, idx: usize, pts: i64) -> i64 {
    let p = stream_params(run, idx);
    run.wall_anchor + kw_media::ticks_to_micros(pts, p.timescale.max(1))
}

fn builder(status: StatusCode, cseq: &str) -> rtsp_types::ResponseBuilder {
    Response::builder(Version::V1_0, status).header(headers::CSEQ, cseq).header(headers::SERVER, SERVER)
}

/// An error answer with a one-line reason in the body.
fn plain(status: StatusCode, cseq: &str, why: &str) -> Answer {
    builder(status, cseq).header(headers::CONTENT_TYPE, "text/plain").build(format!("{why}\r\n").into_bytes())
}

fn answer_bytes(a: &Answer) -> Vec<u8> {
    let mut v = Vec::with_capacity(256 + a.body().len());
    let _ = a.write(&mut v);
    v
}

async fn write(stream: &mut impl Stream, bytes: &[u8]) -> Result<(), String> {
    match tokio::time::timeout(super::WRITE_STALL, stream.write_all(bytes)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("the client stopped reading".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials() {
        let h = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("anna:s3cr:et"));
        assert_eq!(basic(&h), Some(("anna".into(), "s3cr:et".into())));
        assert_eq!(basic("Digest username=x"), None);
        assert_eq!(basic("Basic !!!"), None);
        assert_eq!(session_id("abc;timeout=60"), "abc");
    }
}
