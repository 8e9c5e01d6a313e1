//! [`H264Encoder`]: I420 pictures to H.264 access units in keepwatch's stored form (length-prefixed),
//! with the SPS/PPS split out for the run's `avcC`, using openh264.
//!
//! Two ways to run it, for its two users: the demo camera encodes a synthetic scene at constant quality
//! with a key frame every N frames; MJPEG cameras encode at a bit rate, with key frames forced by the
//! clock (their frame rate varies) and openh264's costly pre-analysis off.

use crate::{CodecError, I420};
use kw_media::{nal, Codec, StreamParams, VIDEO_TIMESCALE};
use openh264::encoder::{
    BitRate, Complexity, Encoder, EncoderConfig, FrameRate, FrameType, IntraFramePeriod, RateControlMode,
};
use openh264::{OpenH264API, Timestamp};

/// How the encoder spends bits.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RateControl {
    /// Constant quality, no rate control (the demo camera).
    Quality,
    /// Steer the quantizer towards the bit rate, never skipping a picture (a recorder keeps every one),
    /// with cheap settings for a fixed camera (no scene-cut, background or adaptive-quantization passes).
    Bitrate,
}

/// What an encoder is set up with.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EncoderSettings {
    pub fps: f32,
    pub bitrate: u32,
    pub rate: RateControl,
    /// A key frame every this many frames; 0: only when [`H264Encoder::force_key`] asks.
    pub key_every: u32,
}

/// One encoded access unit.
#[derive(Clone, Debug, PartialEq)]
pub struct EncodedFrame {
    pub key: bool,
    /// The access unit in MP4 form (4-byte length prefixes), without SPS/PPS.
    pub avc: Vec<u8>,
    pub sps: Option<Vec<u8>>,
    pub pps: Option<Vec<u8>>,
}

pub struct H264Encoder {
    enc: Encoder,
}

impl H264Encoder {
    pub fn new(s: &EncoderSettings) -> Result<H264Encoder, CodecError> {
        let mut config = EncoderConfig::new()
            .max_frame_rate(FrameRate::from_hz(s.fps))
            .bitrate(BitRate::from_bps(s.bitrate))
            .intra_frame_period(IntraFramePeriod::from_num_frames(s.key_every))
            .skip_frames(false);
        config = match s.rate {
            RateControl::Quality => config.rate_control_mode(RateControlMode::Off),
            RateControl::Bitrate => config
                .rate_control_mode(RateControlMode::Bitrate)
                .complexity(Complexity::Low)
                .scene_change_detect(false)
                .background_detection(false)
                .adaptive_quantization(false),
        };
        let enc = Encoder::with_api_config(OpenH264API::from_source(), config)
            .map_err(|e| CodecError::Encode(format!("openh264 encoder: {e}")))?;
        Ok(H264Encoder { enc })
    }

    /// The next picture becomes a key frame.
    pub fn force_key(&mut self) {
        self.enc.force_intra_frame();
    }

    /// Encodes one picture; `at_ms`: its time in milliseconds from the start, when the caller knows it.
    pub fn encode(&mut self, picture: &I420, at_ms: Option<u64>) -> Result<EncodedFrame, CodecError> {
        let bs = match at_ms {
            Some(ms) => self.enc.encode_at(picture, Timestamp::from_millis(ms)),
            None => self.enc.encode(picture),
        }
        .map_err(|e| CodecError::Encode(format!("openh264: {e}")))?;
        let key = matches!(bs.frame_type(), FrameType::IDR);
        let nal::H264Split { avc, sps, pps } =
            nal::split_h264_annexb(&bs.to_vec()).map_err(|e| CodecError::Encode(format!("openh264: {e}")))?;
        Ok(EncodedFrame { key, avc, sps, pps })
    }
}

impl EncodedFrame {
    /// The stream parameters of a `width`×`height` stream whose first frame this is (it carries the
    /// SPS/PPS).
    pub fn stream_params(&self, width: usize, height: usize) -> Result<StreamParams, CodecError> {
        let (Some(sps), Some(pps)) = (&self.sps, &self.pps) else {
            return Err(CodecError::Encode("openh264 produced no SPS/PPS on its first frame".into()));
        };
        let extra = nal::avcc_from_sps_pps(sps, pps)
            .ok_or_else(|| CodecError::Encode("openh264 produced a malformed SPS".into()))?;
        Ok(StreamParams {
            codec: Codec::H264,
            timescale: VIDEO_TIMESCALE,
            width: u16::try_from(width).unwrap_or(u16::MAX),
            height: u16::try_from(height).unwrap_or(u16::MAX),
            sample_rate: 0,
            channels: 0,
            extra,
            rfc6381: nal::h264_rfc6381(sps),
        })
    }
}
