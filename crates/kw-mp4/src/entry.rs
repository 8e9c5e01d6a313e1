//! Sample descriptions (`stsd` entries): `avc1`+`avcC`, `hvc1`+`hvcC`, `mp4a`+`esds`, `ulaw` and `alaw`.
//!
//! Why one module: the progressive file and the fMP4 init segment must describe a stream identically
//! (a browser that plays one plays the other), so the decoder configuration is written in one place.
//! Nothing here parses a bitstream beyond the few header fields a sample entry repeats.

use crate::bx::W;
use crate::Mp4Error;
use kw_media::{Codec, StreamParams};

/// Whether a track shows pictures or plays sound: picks the handler, media header and sample entry form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Video,
    Audio,
}

impl Kind {
    pub fn of(codec: Codec) -> Kind {
        if codec.is_video() {
            Kind::Video
        } else {
            Kind::Audio
        }
    }
}

/// Writes an `stsd` box with one entry per description, in order (entry `i` is index `i + 1`).
pub(crate) fn stsd(w: &mut W, descs: &[StreamParams]) -> Result<(), Mp4Error> {
    let b = w.begin_full(b"stsd", 0, 0);
    w.u32(u32::try_from(descs.len()).map_err(|_| Mp4Error::TooLarge)?);
    for p in descs {
        sample_entry(w, p)?;
    }
    w.end(b);
    Ok(())
}

fn sample_entry(w: &mut W, p: &StreamParams) -> Result<(), Mp4Error> {
    match p.codec {
        Codec::H264 => {
            // lengthSizeMinusOne lives in the low two bits of byte 4; keepwatch samples always carry
            // 4-byte NAL lengths, so the record is made to say so.
            let cfg = video_config(p, 7, 4)?;
            visual(w, b"avc1", b"avcC", p, &cfg);
        }
        Codec::H265 => {
            let cfg = video_config(p, 23, 21)?;
            visual(w, b"hvc1", b"hvcC", p, &cfg);
        }
        Codec::Aac => {
            if p.extra.len() < 2 {
                return Err(Mp4Error::Config { codec: p.codec, reason: "AudioSpecificConfig is missing" });
            }
            let channels = if p.channels != 0 { p.channels } else { asc_channels(&p.extra).unwrap_or(2) };
            let b = audio_head(w, b"mp4a", p, channels);
            esds(w, &p.extra)?;
            w.end(b);
        }
        Codec::Pcmu | Codec::Pcma => {
            let fourcc = if p.codec == Codec::Pcmu { b"ulaw" } else { b"alaw" };
            let b = audio_head(w, fourcc, p, p.channels.max(1));
            w.end(b);
        }
    }
    Ok(())
}

/// Checks a decoder configuration record and forces its NAL length size to 4 bytes.
fn video_config(p: &StreamParams, min_len: usize, len_byte: usize) -> Result<Vec<u8>, Mp4Error> {
    let mut cfg = p.extra.clone();
    if cfg.len() < min_len || cfg[0] != 1 {
        return Err(Mp4Error::Config { codec: p.codec, reason: "decoder configuration record is malformed" });
    }
    cfg[len_byte] |= 0x03;
    Ok(cfg)
}

fn visual(w: &mut W, fourcc: &[u8; 4], cfg_type: &[u8; 4], p: &StreamParams, cfg: &[u8]) {
    let b = w.begin(fourcc);
    w.zeros(6);
    w.u16(1); // data_reference_index
    w.zeros(16); // pre_defined, reserved
    w.u16(p.width);
    w.u16(p.height);
    w.u32(0x0048_0000); // 72 dpi
    w.u32(0x0048_0000);
    w.u32(0);
    w.u16(1); // frame_count
    w.zeros(32); // compressorname
    w.u16(0x0018); // depth
    w.u16(0xffff); // pre_defined = -1
    let c = w.begin(cfg_type);
    w.bytes(cfg);
    w.end(c);
    w.end(b);
}

/// Opens an audio sample entry and writes its fixed fields; the caller adds children and closes it.
fn audio_head(w: &mut W, fourcc: &[u8; 4], p: &StreamParams, channels: u8) -> crate::bx::Open {
    let b = w.begin(fourcc);
    w.zeros(6);
    w.u16(1); // data_reference_index
    w.zeros(8); // reserved (QuickTime: version, revision, vendor)
    w.u16(channels.into());
    w.u16(16); // samplesize
    w.u32(0); // pre_defined, reserved
    let rate = if p.sample_rate != 0 { p.sample_rate } else { p.timescale };
    // 16.16 fixed point; rates that do not fit are left to the decoder configuration.
    w.u32(if rate <= 0xffff { rate << 16 } else { 0 });
    b
}

/// `esds`: an MPEG-4 ES descriptor wrapping the AudioSpecificConfig.
fn esds(w: &mut W, asc: &[u8]) -> Result<(), Mp4Error> {
    let mut dsi = Vec::new();
    descriptor(&mut dsi, 0x05, asc)?;
    let mut dcd_body = vec![0x40, 0x15]; // MPEG-4 audio; audio stream, upstream 0, reserved 1
    dcd_body.extend_from_slice(&[0; 3 + 4 + 4]); // bufferSizeDB, maxBitrate, avgBitrate
    dcd_body.extend_from_slice(&dsi);
    let mut es_body = vec![0, 0, 0]; // ES_ID 0 (as stored in a file), no flags
    descriptor(&mut es_body, 0x04, &dcd_body)?;
    descriptor(&mut es_body, 0x06, &[0x02])?; // SLConfig: predefined for MP4
    let mut es = Vec::new();
    descriptor(&mut es, 0x03, &es_body)?;
    let b = w.begin_full(b"esds", 0, 0);
    w.bytes(&es);
    w.end(b);
    Ok(())
}

/// Appends a descriptor: tag, length in 7-bit groups (minimal), body.
fn descriptor(out: &mut Vec<u8>, tag: u8, body: &[u8]) -> Result<(), Mp4Error> {
    let len = body.len();
    if len >= 1 << 28 {
        return Err(Mp4Error::TooLarge);
    }
    out.push(tag);
    let mut groups = 1;
    while groups < 4 && len >> (7 * groups) != 0 {
        groups += 1;
    }
    for g in (0..groups).rev() {
        let cont = if g > 0 { 0x80 } else { 0 };
        out.push(((len >> (7 * g)) & 0x7f) as u8 | cont);
    }
    out.extend_from_slice(body);
    Ok(())
}

/// The channel configuration of an AudioSpecificConfig (0 when it is given elsewhere or unreadable).
fn asc_channels(asc: &[u8]) -> Option<u8> {
    let mut pos = 0usize;
    let mut bits = |n: usize| -> Option<u32> {
        let mut v = 0u32;
        for _ in 0..n {
            let byte = asc.get(pos / 8)?;
            v = (v << 1) | u32::from((byte >> (7 - pos % 8)) & 1);
            pos += 1;
        }
        Some(v)
    };
    if bits(5)? == 31 {
        bits(6)?;
    }
    if bits(4)? == 15 {
        bits(24)?;
    }
    let ch = bits(4)? as u8;
    (ch != 0).then_some(if ch == 7 { 8 } else { ch })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptor_lengths() {
        let mut out = Vec::new();
        descriptor(&mut out, 5, &[1, 2]).unwrap();
        assert_eq!(out, [5, 2, 1, 2]);
        let mut out = Vec::new();
        descriptor(&mut out, 4, &[0; 200]).unwrap();
        assert_eq!(&out[..3], &[4, 0x81, 0x48]);
        assert_eq!(out.len(), 203);
    }

    #[test]
    fn asc_channel_config() {
        // AAC-LC, 48 kHz, stereo: 00010 0011 0010 000
        assert_eq!(asc_channels(&[0x11, 0x90]), Some(2));
        assert_eq!(asc_channels(&[0x11, 0x88]), Some(1));
        assert_eq!(asc_channels(&[0x11]), None);
    }

    #[test]
    fn malformed_configs_are_errors() {
        let mut p = StreamParams {
            codec: Codec::H264,
            timescale: 90_000,
            width: 2,
            height: 2,
            sample_rate: 0,
            channels: 0,
            extra: vec![1, 2],
            rfc6381: String::new(),
        };
        assert!(stsd(&mut W::new(), std::slice::from_ref(&p)).is_err());
        p.codec = Codec::Aac;
        p.extra.clear();
        assert!(stsd(&mut W::new(), std::slice::from_ref(&p)).is_err());
        p.codec = Codec::Pcma;
        assert!(stsd(&mut W::new(), std::slice::from_ref(&p)).is_ok());
    }
}
