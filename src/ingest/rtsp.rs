//! RTSP cameras through the `retina` crate: TCP-interleaved transport (UDP for cameras that refuse it),
//! Basic and Digest auth, H.264 and H.265 video, AAC and G.711 audio. Frames come out in MP4 sample form
//! (length-prefixed NAL units, raw AAC), which is exactly what the store keeps: nothing is decoded here.
//!
//! Camera behaviours handled here, besides retina's own: pictures sent as several slices with the RTP
//! marker on each (live555's discrete framer; joined in [`super::access_unit`]), the end of a stream
//! announced by RTCP BYE (live555 at the end of a clip, cameras restarting their encoder: the session
//! ends at once instead of after [`crate::supervisor::FRAME_TIMEOUT`] of silence), and servers that refuse
//! RTP over TCP (461: UDP instead).

use super::access_unit::AccessUnits;
use super::{CameraAddr, ConnectFuture, IngestError, Source, SourceEvent, SourceFrame, SourceStream};
use bytes::Bytes;
use futures::StreamExt;
use kw_media::{nal, Codec, StreamKind, StreamParams, VIDEO_TIMESCALE};
use retina::client::{
    Credentials, InitialTimestampPolicy, PlayOptions, Session, SessionOptions, SetupOptions, TcpTransportOptions,
    Transport, UdpTransportOptions,
};
use retina::codec::{CodecItem, ParametersRef};
use std::collections::VecDeque;
use std::time::Instant;

pub struct RtspSource {
    addr: CameraAddr,
}

impl RtspSource {
    pub fn new(addr: CameraAddr) -> Self {
        RtspSource { addr }
    }
}

/// Sorts retina's errors into what the supervisor needs to know. The text keeps retina's first line only:
/// its later lines carry connection contexts that mean nothing to a user.
fn classify(e: retina::Error) -> IngestError {
    let text = e.to_string();
    let first = text.lines().next().unwrap_or_default().to_owned();
    match e.status_code() {
        Some(401) | Some(403) => IngestError::Auth(first),
        Some(_) => IngestError::Protocol(first),
        None if text.starts_with("Unable to connect") => IngestError::Unreachable(first),
        None if text.contains("no credentials supplied") => IngestError::Auth(first),
        None if text.starts_with("Error reading") || text.starts_with("Error writing") => {
            IngestError::Unreachable(first)
        }
        None => IngestError::Protocol(first),
    }
}

fn video_params(codec: Codec, v: &retina::codec::VideoParameters) -> StreamParams {
    let (w, h) = v.pixel_dimensions();
    StreamParams {
        codec,
        timescale: VIDEO_TIMESCALE,
        width: u16::try_from(w).unwrap_or(u16::MAX),
        height: u16::try_from(h).unwrap_or(u16::MAX),
        sample_rate: 0,
        channels: 0,
        extra: v.extra_data().to_vec(),
        rfc6381: v.rfc6381_codec().to_owned(),
    }
}

fn audio_params(codec: Codec, a: &retina::codec::AudioParameters) -> StreamParams {
    StreamParams {
        codec,
        timescale: a.clock_rate(),
        width: 0,
        height: 0,
        sample_rate: a.clock_rate(),
        channels: u8::try_from(a.channels().get()).unwrap_or(1),
        extra: a.extra_data().to_vec(),
        rfc6381: a.rfc6381_codec().unwrap_or_default().to_owned(),
    }
}

fn video_codec(encoding: &str) -> Option<Codec> {
    match encoding {
        "h264" => Some(Codec::H264),
        "h265" => Some(Codec::H265),
        _ => None,
    }
}

fn audio_codec(encoding: &str) -> Option<Codec> {
    match encoding {
        "mpeg4-generic" => Some(Codec::Aac),
        "pcmu" => Some(Codec::Pcmu),
        "pcma" => Some(Codec::Pcma),
        _ => None,
    }
}

/// RTSP status "Unsupported Transport" (RFC 2326 §11.3.13).
const UNSUPPORTED_TRANSPORT: u16 = 461;

impl Source for RtspSource {
    fn connect(&self) -> ConnectFuture<'_> {
        Box::pin(async move {
            match self.start(false).await {
                // Camera quirk, **live555 servers with RTP over TCP disabled** (`disableStreamingRTPOverTCP`,
                // seen in camera firmware that streams to many clients): SETUP over TCP answers 461. Such a
                // camera is recorded over UDP, in a fresh session.
                Err(StartError::TcpRefused) => {
                    tracing::info!("the camera refuses RTP over TCP (461 Unsupported Transport): using UDP");
                    self.start(true).await.map_err(StartError::into_ingest)
                }
                r => r.map_err(StartError::into_ingest),
            }
        })
    }
}

enum StartError {
    TcpRefused,
    Other(IngestError),
}

impl StartError {
    fn into_ingest(self) -> IngestError {
        match self {
            StartError::TcpRefused => IngestError::Protocol("the camera refuses every RTP transport".into()),
            StartError::Other(e) => e,
        }
    }
}

impl From<IngestError> for StartError {
    fn from(e: IngestError) -> Self {
        StartError::Other(e)
    }
}

impl RtspSource {
    /// One session: DESCRIBE, SETUP of the video (and audio) track over TCP, or UDP when `udp`, PLAY.
    async fn start(&self, udp: bool) -> Result<SourceStream, StartError> {
        let creds = match (&self.addr.username, &self.addr.password) {
            (Some(u), p) => Some(Credentials { username: u.clone(), password: p.clone().unwrap_or_default() }),
            (None, Some(p)) => Some(Credentials { username: String::new(), password: p.clone() }),
            (None, None) => None,
        };
        let opts =
            SessionOptions::default().creds(creds).user_agent(format!("keepwatch/{}", env!("CARGO_PKG_VERSION")));
        let mut session = Session::describe(self.addr.url.clone(), opts).await.map_err(classify)?;
        let streams = session.streams();
        let Some(vi) = streams.iter().position(|s| s.media() == "video" && video_codec(s.encoding_name()).is_some())
        else {
            let offered: Vec<String> = streams.iter().map(|s| format!("{}/{}", s.media(), s.encoding_name())).collect();
            return Err(StartError::Other(if streams.iter().any(|s| s.media() == "video") {
                IngestError::Unsupported(format!("video codec; the camera offers {}", offered.join(", ")))
            } else {
                IngestError::NoVideo(if offered.is_empty() { "no streams".into() } else { offered.join(", ") })
            }));
        };
        let vcodec = video_codec(streams[vi].encoding_name()).unwrap_or(Codec::H264);
        let ai = streams.iter().position(|s| s.media() == "audio" && audio_codec(s.encoding_name()).is_some());
        let acodec = ai.and_then(|i| audio_codec(streams[i].encoding_name()));
        let transport = || {
            SetupOptions::default().transport(if udp {
                Transport::Udp(UdpTransportOptions::default())
            } else {
                Transport::Tcp(TcpTransportOptions::default())
            })
        };
        match session.setup(vi, transport()).await {
            Ok(()) => {}
            Err(e) if !udp && e.status_code() == Some(UNSUPPORTED_TRANSPORT) => return Err(StartError::TcpRefused),
            Err(e) => return Err(classify(e).into()),
        }
        let mut audio = None;
        if let (Some(ai), Some(acodec)) = (ai, acodec) {
            // A camera whose audio track fails to set up still records video.
            match session.setup(ai, transport()).await {
                Ok(()) => audio = Some((ai, acodec)),
                Err(e) => tracing::warn!("audio track not recorded: {}", classify(e)),
            }
        }
        let mut video = session.streams()[vi].parameters().and_then(|p| match p {
            ParametersRef::Video(v) => Some(video_params(vcodec, v)),
            _ => None,
        });
        let audio_p = audio.and_then(|(i, c)| match session.streams()[i].parameters() {
            Some(ParametersRef::Audio(a)) => Some(audio_params(c, a)),
            _ => None,
        });
        let audio_i = audio.filter(|_| audio_p.is_some()).map(|(i, _)| i);
        let playing = session
            .play(PlayOptions::default().initial_timestamp(InitialTimestampPolicy::Permissive))
            .await
            .map_err(classify)?;
        let demuxed = playing.demuxed().map_err(classify)?;
        let pump = Pump {
            demuxed,
            vi,
            vcodec,
            audio_i,
            vparams: video.take(),
            aparams: audio_p,
            announced: false,
            pictures: AccessUnits::new(vcodec),
            queue: VecDeque::new(),
            over: false,
        };
        let stream = futures::stream::unfold(pump, |mut pump| async move {
            let next = pump.next().await?;
            Some((next, pump))
        });
        // The pump ends after its error: the session is over, so the supervisor reconnects.
        Ok(Box::pin(stream) as SourceStream)
    }
}

/// RTCP packet type of a goodbye (RFC 3550 §6.6).
const RTCP_BYE: u8 = 203;

/// One playing session turned into [`SourceEvent`]s: parameters before the frames they describe, slices
/// joined into pictures ([`AccessUnits`]), and the end of the stream noticed the moment the camera says
/// so (RTCP BYE: retina passes RTCP through but acts on none of it).
struct Pump {
    demuxed: retina::client::Demuxed,
    vi: usize,
    vcodec: Codec,
    audio_i: Option<usize>,
    vparams: Option<StreamParams>,
    aparams: Option<StreamParams>,
    announced: bool,
    pictures: AccessUnits,
    queue: VecDeque<Result<SourceEvent, IngestError>>,
    over: bool,
}

impl Pump {
    async fn next(&mut self) -> Option<Result<SourceEvent, IngestError>> {
        loop {
            if let Some(ev) = self.queue.pop_front() {
                return Some(ev);
            }
            if self.over {
                return None;
            }
            let item = match self.demuxed.next().await {
                None => {
                    self.end(IngestError::Ended);
                    continue;
                }
                Some(Err(e)) => {
                    self.end(classify(e));
                    continue;
                }
                Some(Ok(item)) => item,
            };
            let arrival = Instant::now();
            match item {
                CodecItem::VideoFrame(f) if f.stream_id() == self.vi => self.video(f, arrival),
                CodecItem::AudioFrame(f) if Some(f.stream_id()) == self.audio_i && self.announced => {
                    let ts = f.timestamp();
                    self.queue.push_back(Ok(SourceEvent::Frame(SourceFrame {
                        stream: StreamKind::Audio,
                        ts: ts.elapsed(),
                        clock_rate: ts.clock_rate().get(),
                        key: true,
                        loss: f.loss() > 0,
                        data: Bytes::copy_from_slice(f.data()),
                        arrival,
                    })));
                }
                CodecItem::Rtcp(r) if r.stream_id() == self.vi && is_bye(&r) => {
                    tracing::debug!("the camera said goodbye (RTCP BYE)");
                    self.end(IngestError::Ended);
                }
                _ => {}
            }
        }
    }

    fn video(&mut self, f: retina::codec::VideoFrame, arrival: Instant) {
        let vi = self.vi;
        let mut params = None;
        if f.has_new_parameters() || self.vparams.is_none() {
            if let Some(ParametersRef::Video(v)) = self.demuxed.streams()[vi].parameters() {
                let p = video_params(self.vcodec, v);
                if self.vparams.as_ref() != Some(&p) || !self.announced {
                    self.vparams = Some(p);
                    self.announced = false;
                }
            }
        }
        let Some(vp) = self.vparams.clone() else { return };
        if !self.announced {
            self.announced = true;
            params = Some(SourceEvent::Params { video: vp, audio: self.aparams.clone() });
        }
        let ts = f.timestamp();
        let key = match self.vcodec {
            // retina flags IDR only; CRA and BLA start a GOP too (see nal::h265_is_irap).
            Codec::H265 => f.is_random_access_point() || nal::h265_is_irap(f.data()),
            _ => f.is_random_access_point(),
        };
        let frame = SourceFrame {
            stream: StreamKind::Video,
            ts: ts.elapsed(),
            clock_rate: ts.clock_rate().get(),
            key,
            loss: f.loss() > 0,
            data: Bytes::from(f.into_data()),
            arrival,
        };
        // The previous picture is complete once this piece begins the next one; new parameters go out after
        // it and before the picture they describe.
        if let Some(done) = self.pictures.push(frame) {
            self.queue.push_back(Ok(SourceEvent::Frame(done)));
        }
        if let Some(p) = params {
            self.queue.push_back(Ok(p));
        }
    }

    /// The session is over: the picture held back goes out, then why.
    fn end(&mut self, why: IngestError) {
        if let Some(last) = self.pictures.flush() {
            self.queue.push_back(Ok(SourceEvent::Frame(last)));
        }
        if self.pictures.joined > 0 {
            tracing::debug!(
                "{} slices joined into their pictures (live555 marker on every slice)",
                self.pictures.joined
            );
        }
        self.queue.push_back(Err(why));
        self.over = true;
    }
}

/// Whether a compound RTCP packet holds a BYE.
fn is_bye(r: &retina::rtcp::ReceivedCompoundPacket) -> bool {
    r.pkts().any(|p| p.payload_type() == RTCP_BYE)
}
