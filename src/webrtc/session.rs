//! One WebRTC viewer: the offer accepted, then str0m driven until the viewer leaves.
//!
//! The loop follows str0m's rule: after every input (a UDP packet, a timeout, a frame written) drain its
//! output until it names the next timeout. Frames are written only after ICE and DTLS are up, starting
//! with the hub's buffered GOP, so the first picture is a key frame.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use kw_media::{Codec, RunInfo, StreamKind};
use str0m::change::SdpOffer;
use str0m::format::Codec as RtcCodec;
use str0m::media::{MediaKind, MediaTime, Mid, Pt};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, IceConnectionState, Input, Output, Rtc, RtcConfig};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};

use super::{StartError, CONNECT_TIMEOUT};
use crate::hub::{Hub, MediaEvent, Start};

/// Hub events queued for one viewer before the hub skips it ahead.
const QUEUE: usize = 256;
/// How long after connecting a session may go without an H.264 section it can send on.
const NO_VIDEO_AFTER: std::time::Duration = std::time::Duration::from_secs(3);

/// An accepted offer, ready to run.
pub struct Offer {
    rtc: Rtc,
    socket: UdpSocket,
    pub answer: String,
    audio: Option<Codec>,
    sets: Vec<u8>,
}

impl Offer {
    /// Accepts a browser's offer for a camera whose stream is `run`, with one host candidate on
    /// `local_ip`.
    pub async fn accept(offer: &str, run: &RunInfo, local_ip: IpAddr) -> Result<Offer, StartError> {
        if offer.len() > super::MAX_OFFER {
            return Err(StartError::BadOffer(format!("an SDP offer is at most {} KiB", super::MAX_OFFER / 1024)));
        }
        let offer = SdpOffer::from_sdp_string(offer).map_err(|e| StartError::BadOffer(format!("not SDP: {e}")))?;
        let audio = run.audio.as_ref().map(|a| a.codec).filter(|c| matches!(c, Codec::Pcmu | Codec::Pcma));
        let provider = Arc::new(str0m::crypto::from_feature_flags());
        // G.711 is always accepted, even for a camera without it (nothing is sent then): an audio section
        // with no codec at all is answered as `m=audio 0 …` with an empty format list, which Chromium
        // refuses as unparseable SDP, failing the whole session.
        let mut rtc = RtcConfig::new()
            .set_crypto_provider(provider)
            .clear_codecs()
            .enable_h264(true)
            .enable_pcmu(true, false)
            .enable_pcma(true, false)
            .build(Instant::now());
        let socket = UdpSocket::bind(SocketAddr::new(local_ip, 0))
            .await
            .map_err(|e| StartError::Internal(format!("cannot open a UDP port on {local_ip}: {e}")))?;
        let local = socket.local_addr().map_err(|e| StartError::Internal(e.to_string()))?;
        let candidate = Candidate::host(local, "udp").map_err(|e| StartError::Internal(e.to_string()))?;
        rtc.add_local_candidate(candidate);
        let answer = rtc.sdp_api().accept_offer(offer).map_err(|e| StartError::BadOffer(e.to_string()))?;
        let sets = kw_media::nal::avcc_parameter_sets_annexb(&run.video.extra).unwrap_or_default();
        Ok(Offer { rtc, socket, answer: answer.to_sdp_string(), audio, sets })
    }

    /// Drives the session until the viewer leaves, `stop` fires or the hub closes; says why it ended.
    pub async fn run(mut self, hub: Hub, mut stop: oneshot::Receiver<()>) -> String {
        let mut media: Option<mpsc::Receiver<MediaEvent>> = None;
        let mut video: Option<(Mid, Pt)> = None;
        let mut audio: Option<(Mid, Pt)> = None;
        let mut mids: Vec<(Mid, MediaKind)> = Vec::new();
        let mut connected: Option<Instant> = None;
        let started = Instant::now();
        let mut buf = vec![0u8; 2048];
        let mut frame = Vec::with_capacity(256 * 1024);
        let local = match self.socket.local_addr() {
            Ok(a) => a,
            Err(e) => return e.to_string(),
        };
        loop {
            // Drain until str0m names its next deadline.
            let deadline = loop {
                match self.rtc.poll_output() {
                    Ok(Output::Timeout(t)) => break t,
                    Ok(Output::Transmit(t)) => {
                        let _ = self.socket.send_to(&t.contents, t.destination).await;
                    }
                    Ok(Output::Event(e)) => {
                        match e {
                            Event::MediaAdded(m) => mids.push((m.mid, m.kind)),
                            Event::Connected => connected = Some(Instant::now()),
                            Event::IceConnectionStateChange(IceConnectionState::Disconnected) => {
                                return "the viewer disconnected".into();
                            }
                            _ => {}
                        }
                        // str0m may announce the media sections after `Connected`: start sending once both
                        // are known.
                        if connected.is_some() && media.is_none() {
                            video = pick(&mut self.rtc, &mids, Want::Video);
                            if video.is_some() {
                                audio = self.audio.and_then(|c| pick(&mut self.rtc, &mids, Want::Audio(c)));
                                media = Some(hub.subscribe(crate::live::queue_for(&hub, QUEUE), Start::LastKeyFrame));
                            }
                        }
                    }
                    Err(e) => return format!("WebRTC error: {e}"),
                }
            };
            if media.is_none() {
                if connected.is_some_and(|t| t.elapsed() > NO_VIDEO_AFTER) {
                    return "the browser accepted no H.264 video".into();
                }
                if started.elapsed() > CONNECT_TIMEOUT {
                    return "the viewer never connected".into();
                }
            }
            let wait = tokio::time::Instant::from_std(deadline.max(Instant::now()));
            let input = tokio::select! {
                _ = &mut stop => return "ended by the viewer (DELETE)".into(),
                _ = tokio::time::sleep_until(wait) => Input::Timeout(Instant::now()),
                r = self.socket.recv_from(&mut buf) => match r {
                    Ok((n, source)) => match buf[..n].try_into() {
                        Ok(contents) => {
                            let input = Input::Receive(Instant::now(), Receive {
                                proto: Protocol::Udp, source, destination: local, contents,
                            });
                            if let Err(e) = self.rtc.handle_input(input) {
                                tracing::debug!("webrtc: dropped a packet: {e}");
                            }
                            continue;
                        }
                        Err(_) => continue,
                    },
                    Err(e) => return format!("UDP socket failed: {e}"),
                },
                ev = recv(&mut media) => match ev {
                    None => return "the camera stopped".into(),
                    Some(MediaEvent::Frame(f)) => {
                        let target = if f.stream == StreamKind::Video { video } else { audio };
                        let Some((mid, pt)) = target else { continue };
                        let (rate, payload): (u32, &[u8]) = if f.stream == StreamKind::Video {
                            frame.clear();
                            if f.key && !has_sps(&f.data) {
                                frame.extend_from_slice(&self.sets);
                            }
                            if kw_media::nal::avc_to_annexb(&f.data, &mut frame).is_err() {
                                continue;
                            }
                            (90_000, &frame)
                        } else {
                            (8_000, &f.data)
                        };
                        let Some(freq) = str0m::media::Frequency::new(rate) else { continue };
                        let t = MediaTime::new(f.pts.max(0) as u64, freq);
                        if let Some(w) = self.rtc.writer(mid) {
                            if let Err(e) = w.write(pt, Instant::now(), t, payload.to_vec()) {
                                tracing::debug!("webrtc: could not write a frame: {e}");
                            }
                        }
                        continue;
                    }
                    Some(MediaEvent::Run(run)) => {
                        if run.video.codec != Codec::H264 {
                            return "the camera's stream changed to a codec WebRTC cannot carry".into();
                        }
                        self.sets = kw_media::nal::avcc_parameter_sets_annexb(&run.video.extra).unwrap_or_default();
                        continue;
                    }
                    Some(_) => continue,
                },
            };
            if let Err(e) = self.rtc.handle_input(input) {
                return format!("WebRTC error: {e}");
            }
        }
    }
}

/// What a session sends: the video, or the camera's G.711 audio.
#[derive(Clone, Copy)]
enum Want {
    Video,
    Audio(Codec),
}

/// The mid and payload type to send with: H.264 in packetization mode 1 for video, the camera's own G.711
/// for audio.
fn pick(rtc: &mut Rtc, mids: &[(Mid, MediaKind)], want: Want) -> Option<(Mid, Pt)> {
    let kind = match want {
        Want::Video => MediaKind::Video,
        Want::Audio(_) => MediaKind::Audio,
    };
    for (mid, k) in mids {
        if *k != kind {
            continue;
        }
        let Some(w) = rtc.writer(*mid) else { continue };
        let pt = w.payload_params().find(|p| {
            let spec = p.spec();
            match want {
                Want::Video => spec.codec == RtcCodec::H264 && spec.format.packetization_mode.unwrap_or(0) == 1,
                Want::Audio(Codec::Pcma) => spec.codec == RtcCodec::PCMA,
                Want::Audio(_) => spec.codec == RtcCodec::PCMU,
            }
        });
        if let Some(p) = pt {
            return Some((*mid, p.pt()));
        }
    }
    None
}

fn has_sps(avc: &[u8]) -> bool {
    kw_media::nal::iter_avc(avc).any(|u| u.first().is_some_and(|b| b & 0x1f == 7))
}

async fn recv(rx: &mut Option<mpsc::Receiver<MediaEvent>>) -> Option<MediaEvent> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}
