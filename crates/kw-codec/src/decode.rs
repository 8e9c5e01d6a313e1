//! [`H264Decoder`]: decodes keepwatch's stored form of H.264 (length-prefixed access units, SPS/PPS in
//! the run's `avcC`) with openh264, which wants an Annex B byte stream; the conversion is strict (see
//! `kw_media::nal::avc_to_annexb`), so a malformed frame is an error, never a panic.

use crate::{CodecError, Rgb};
use kw_media::{nal, Codec, StreamParams};
use openh264::decoder::{DecodedYUV, Decoder, DecoderConfig};
use openh264::formats::YUVSource;
use openh264::OpenH264API;

/// One stream's decoder. Feed it the access units of a GOP in decode order, starting at a key frame.
pub struct H264Decoder {
    dec: Decoder,
    /// The run's SPS and PPS as Annex B, sent before every key frame.
    params: Vec<u8>,
    annexb: Vec<u8>,
}

/// A decoded picture, borrowed from its decoder until the next call.
pub struct Picture<'a>(DecodedYUV<'a>);

impl Picture<'_> {
    /// Width and height in pixels.
    pub fn dimensions(&self) -> (usize, usize) {
        self.0.dimensions()
    }

    /// The luma plane and its row stride.
    pub fn luma(&self) -> (&[u8], usize) {
        (self.0.y(), self.0.strides().0)
    }

    pub fn to_rgb(&self) -> Result<Rgb, CodecError> {
        Rgb::from_decoded(&self.0)
    }
}

impl H264Decoder {
    /// A decoder for a stream with these parameters; [`CodecError::NoDecoder`] unless it is H.264.
    pub fn new(params: &StreamParams) -> Result<H264Decoder, CodecError> {
        if params.codec != Codec::H264 {
            return Err(CodecError::NoDecoder(params.codec));
        }
        let sets = nal::avcc_parameter_sets_annexb(&params.extra).map_err(CodecError::BadInput)?;
        let dec = Decoder::with_api_config(OpenH264API::from_source(), DecoderConfig::new())
            .map_err(|e| CodecError::Decode(format!("cannot start the H.264 decoder: {e}")))?;
        Ok(H264Decoder { dec, params: sets, annexb: Vec::new() })
    }

    /// Decodes one access unit (`key`: it starts a GOP, so the parameter sets go first). `Ok(None)`: the
    /// decoder has no picture to show yet (an empty unit, or one held back for reordering).
    pub fn decode(&mut self, au: &[u8], key: bool) -> Result<Option<Picture<'_>>, CodecError> {
        self.annexb.clear();
        if key {
            self.annexb.extend_from_slice(&self.params);
        }
        nal::avc_to_annexb(au, &mut self.annexb).map_err(CodecError::BadInput)?;
        if self.annexb.is_empty() {
            return Ok(None);
        }
        let out = self.dec.decode(&self.annexb).map_err(|e| CodecError::Decode(format!("openh264: {e}")))?;
        Ok(out.map(Picture))
    }

    /// The last picture the decoder still holds (reordering), as RGB.
    pub fn flush_last(&mut self) -> Result<Option<Rgb>, CodecError> {
        let rest = self.dec.flush_remaining().map_err(|e| CodecError::Decode(format!("openh264: {e}")))?;
        rest.last().map(Rgb::from_decoded).transpose()
    }
}
