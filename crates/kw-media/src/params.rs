//! Stream parameters: what a decoder or muxer needs to know about a stream, and a stable byte encoding
//! for them (segment file headers and the index store it; a change of parameters starts a new run).

use crate::varint;

/// The codecs keepwatch records. Recording never transcodes: what the camera sends is what is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Codec {
    H264,
    H265,
    Aac,
    /// G.711 µ-law.
    Pcmu,
    /// G.711 A-law.
    Pcma,
}

impl Codec {
    pub fn as_str(self) -> &'static str {
        match self {
            Codec::H264 => "h264",
            Codec::H265 => "h265",
            Codec::Aac => "aac",
            Codec::Pcmu => "pcmu",
            Codec::Pcma => "pcma",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "h264" => Codec::H264,
            "h265" => Codec::H265,
            "aac" => Codec::Aac,
            "pcmu" => Codec::Pcmu,
            "pcma" => Codec::Pcma,
            _ => return None,
        })
    }

    pub fn is_video(self) -> bool {
        matches!(self, Codec::H264 | Codec::H265)
    }
}

/// Everything a muxer needs to describe one stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamParams {
    pub codec: Codec,
    /// Ticks per second of this stream's timestamps (90 000 for video, the sample rate for audio).
    pub timescale: u32,
    /// Video only (0 for audio).
    pub width: u16,
    pub height: u16,
    /// Audio only (0 for video).
    pub sample_rate: u32,
    pub channels: u8,
    /// Codec configuration: the body of an `avcC` / `hvcC` box for video, the AudioSpecificConfig for
    /// AAC, empty for G.711.
    pub extra: Vec<u8>,
    /// RFC 6381 codec string, e.g. `avc1.64001f` (for MSE and HLS).
    pub rfc6381: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ParamsError {
    #[error("stream parameters are truncated or malformed")]
    Malformed,
    #[error("unknown codec {0:?} in stream parameters")]
    UnknownCodec(String),
}

const VERSION: u8 = 1;

impl StreamParams {
    /// A stable encoding (versioned) for segment headers and the index.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![VERSION];
        put_bytes(&mut out, self.codec.as_str().as_bytes());
        varint::put_u64(&mut out, self.timescale.into());
        varint::put_u64(&mut out, self.width.into());
        varint::put_u64(&mut out, self.height.into());
        varint::put_u64(&mut out, self.sample_rate.into());
        varint::put_u64(&mut out, self.channels.into());
        put_bytes(&mut out, &self.extra);
        put_bytes(&mut out, self.rfc6381.as_bytes());
        out
    }

    pub fn decode(buf: &[u8]) -> Result<Self, ParamsError> {
        let m = || ParamsError::Malformed;
        if buf.first() != Some(&VERSION) {
            return Err(m());
        }
        let mut pos = 1;
        let codec = String::from_utf8(get_bytes(buf, &mut pos).ok_or_else(m)?.to_vec()).map_err(|_| m())?;
        let codec = Codec::parse(&codec).ok_or(ParamsError::UnknownCodec(codec))?;
        let mut num = |max: u64| -> Result<u64, ParamsError> {
            let v = varint::get_u64(buf, &mut pos).ok_or_else(m)?;
            if v > max {
                return Err(m());
            }
            Ok(v)
        };
        let timescale = num(u32::MAX.into())? as u32;
        let width = num(u16::MAX.into())? as u16;
        let height = num(u16::MAX.into())? as u16;
        let sample_rate = num(u32::MAX.into())? as u32;
        let channels = num(u8::MAX.into())? as u8;
        let extra = get_bytes(buf, &mut pos).ok_or_else(m)?.to_vec();
        let rfc6381 = String::from_utf8(get_bytes(buf, &mut pos).ok_or_else(m)?.to_vec()).map_err(|_| m())?;
        if pos != buf.len() || timescale == 0 {
            return Err(m());
        }
        Ok(StreamParams { codec, timescale, width, height, sample_rate, channels, extra, rfc6381 })
    }
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    varint::put_u64(out, b.len() as u64);
    out.extend_from_slice(b);
}

fn get_bytes<'a>(buf: &'a [u8], pos: &mut usize) -> Option<&'a [u8]> {
    let len = usize::try_from(varint::get_u64(buf, pos)?).ok()?;
    let end = pos.checked_add(len)?;
    let b = buf.get(*pos..end)?;
    *pos = end;
    Some(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_decode() {
        let p = StreamParams {
            codec: Codec::H264,
            timescale: 90_000,
            width: 1920,
            height: 1080,
            sample_rate: 0,
            channels: 0,
            extra: vec![1, 0x64, 0, 0x1f, 0xff],
            rfc6381: "avc1.64001f".into(),
        };
        let enc = p.encode();
        assert_eq!(StreamParams::decode(&enc).unwrap(), p);
        for n in 0..enc.len() {
            assert!(StreamParams::decode(&enc[..n]).is_err());
        }
    }
}
