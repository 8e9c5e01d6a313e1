//! RTSP cameras through the `retina` crate: TCP-interleaved transport, Basic and Digest auth, H.264 and
//! H.265 video, AAC and G.711 audio. Frames come out in MP4 sample form (length-prefixed NAL units, raw
//! AAC), which is exactly what the store keeps: nothing is decoded here.

use super::{CameraAddr, ConnectFuture, IngestError, Source, SourceEvent, SourceFrame, SourceStream};
use bytes::Bytes;
use futures::StreamExt;
use kw_media::{nal, Codec, StreamKind, StreamParams, VIDEO_TIMESCALE};
use retina::client::{
    Credentials, InitialTimestampPolicy, PlayOptions, Session, SessionOptions, SetupOptions, TcpTransportOptions,
    Transport,
};
use retina::codec::{CodecItem, ParametersRef};
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

impl Source for RtspSource {
    fn connect(&self) -> ConnectFuture<'_> {
        Box::pin(async move {
            let creds = match (&self.addr.username, &self.addr.password) {
                (Some(u), p) => Some(Credentials { username: u.clone(), password: p.clone().unwrap_or_default() }),
                (None, Some(p)) => Some(Credentials { username: String::new(), password: p.clone() }),
                (None, None) => None,
            };
            let opts =
                SessionOptions::default().creds(creds).user_agent(format!("keepwatch/{}", env!("CARGO_PKG_VERSION")));
            let mut session = Session::describe(self.addr.url.clone(), opts).await.map_err(classify)?;
            let streams = session.streams();
            let Some(vi) =
                streams.iter().position(|s| s.media() == "video" && video_codec(s.encoding_name()).is_some())
            else {
                let offered: Vec<String> =
                    streams.iter().map(|s| format!("{}/{}", s.media(), s.encoding_name())).collect();
                return Err(if streams.iter().any(|s| s.media() == "video") {
                    IngestError::Unsupported(format!("video codec; the camera offers {}", offered.join(", ")))
                } else {
                    IngestError::NoVideo(if offered.is_empty() { "no streams".into() } else { offered.join(", ") })
                });
            };
            let vcodec = video_codec(streams[vi].encoding_name()).unwrap_or(Codec::H264);
            let ai = streams.iter().position(|s| s.media() == "audio" && audio_codec(s.encoding_name()).is_some());
            let acodec = ai.and_then(|i| audio_codec(streams[i].encoding_name()));
            let tcp = || SetupOptions::default().transport(Transport::Tcp(TcpTransportOptions::default()));
            session.setup(vi, tcp()).await.map_err(classify)?;
            let mut audio = None;
            if let (Some(ai), Some(acodec)) = (ai, acodec) {
                // A camera whose audio track fails to set up still records video.
                match session.setup(ai, tcp()).await {
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
            let stream = futures::stream::unfold(
                (demuxed, video.take(), audio_p, false),
                move |(mut demuxed, mut vparams, aparams, mut announced)| async move {
                    loop {
                        let item = match demuxed.next().await {
                            None => return Some((Err(IngestError::Ended), (demuxed, vparams, aparams, true))),
                            Some(Err(e)) => return Some((Err(classify(e)), (demuxed, vparams, aparams, true))),
                            Some(Ok(item)) => item,
                        };
                        let arrival = Instant::now();
                        match item {
                            CodecItem::VideoFrame(f) if f.stream_id() == vi => {
                                let mut events = Vec::new();
                                if f.has_new_parameters() || vparams.is_none() {
                                    if let Some(ParametersRef::Video(v)) = demuxed.streams()[vi].parameters() {
                                        let p = video_params(vcodec, v);
                                        if vparams.as_ref() != Some(&p) || !announced {
                                            vparams = Some(p);
                                            announced = false;
                                        }
                                    }
                                }
                                let Some(vp) = vparams.clone() else { continue };
                                if !announced {
                                    announced = true;
                                    events.push(SourceEvent::Params { video: vp, audio: aparams.clone() });
                                }
                                let ts = f.timestamp();
                                let key = match vcodec {
                                    // retina flags IDR only; CRA and BLA start a GOP too (see nal::h265_is_irap).
                                    Codec::H265 => f.is_random_access_point() || nal::h265_is_irap(f.data()),
                                    _ => f.is_random_access_point(),
                                };
                                let loss = f.loss() > 0;
                                let frame = SourceFrame {
                                    stream: StreamKind::Video,
                                    ts: ts.elapsed(),
                                    clock_rate: ts.clock_rate().get(),
                                    key,
                                    loss,
                                    data: Bytes::from(f.into_data()),
                                    arrival,
                                };
                                events.push(SourceEvent::Frame(frame));
                                // Params (if any) go out first, then the frame: emit them as a small batch.
                                return Some((Ok(events), (demuxed, vparams, aparams, announced)));
                            }
                            CodecItem::AudioFrame(f) if Some(f.stream_id()) == audio_i && announced => {
                                let ts = f.timestamp();
                                let frame = SourceFrame {
                                    stream: StreamKind::Audio,
                                    ts: ts.elapsed(),
                                    clock_rate: ts.clock_rate().get(),
                                    key: true,
                                    loss: f.loss() > 0,
                                    data: Bytes::copy_from_slice(f.data()),
                                    arrival,
                                };
                                return Some((
                                    Ok(vec![SourceEvent::Frame(frame)]),
                                    (demuxed, vparams, aparams, announced),
                                ));
                            }
                            _ => continue,
                        }
                    }
                },
            );
            let flat = stream
                .map(|r: Result<Vec<SourceEvent>, IngestError>| match r {
                    Ok(v) => futures::stream::iter(v.into_iter().map(Ok).collect::<Vec<_>>()),
                    Err(e) => futures::stream::iter(vec![Err(e)]),
                })
                .flatten()
                // After an error the session is over: stop, so the supervisor reconnects.
                .scan(false, |failed, r| {
                    if *failed {
                        return futures::future::ready(None);
                    }
                    *failed = r.is_err();
                    futures::future::ready(Some(r))
                });
            Ok(Box::pin(flat) as SourceStream)
        })
    }
}
