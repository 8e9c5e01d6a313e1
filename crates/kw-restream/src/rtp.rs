//! RTP packets from the camera's own access units, copied, never transcoded.
//!
//! H.264 (RFC 6184, packetization mode 1: single NAL units and FU-A), H.265 (RFC 7798: single NAL units
//! and FUs), AAC (RFC 3640 `AAC-hbr`, one access unit per packet) and G.711 (RFC 3551). Packets are
//! written straight into one buffer per frame, each behind its RTSP interleaved header (`$`, channel,
//! length), so a frame goes to the socket in one write.
//!
//! A key frame that does not carry its parameter sets in-band gets them in front (from the stream's
//! `avcC`/`hvcC`), so a player that ignores the SDP's `sprop-*` (or joins late) can still decode.

use kw_media::{nal, Codec, Frame, StreamParams};

/// Largest RTP payload: keeps packets under a 1500-byte MTU with IP/UDP headers.
pub const MAX_PAYLOAD: usize = 1400;
const RTP_HEADER: usize = 12;

/// One track's packetizer: sequence numbers and timestamps continue across frames.
#[derive(Debug)]
pub struct Packetizer {
    codec: Codec,
    pt: u8,
    ssrc: u32,
    seq: u16,
    ts_offset: u32,
    /// The stream's timestamps per second, and the RTP clock's (they differ only for odd audio).
    timescale: u32,
    clock: u32,
    sets: Vec<Vec<u8>>,
    channels: u32,
}

impl Packetizer {
    /// `seq` and `ts_offset` are the first sequence number and the RTP timestamp of pts 0 (random per
    /// session, as RFC 3550 asks); they go into the RTP-Info header of PLAY.
    pub fn new(params: &StreamParams, pt: u8, ssrc: u32, seq: u16, ts_offset: u32) -> Packetizer {
        let clock = match params.codec {
            Codec::H264 | Codec::H265 => 90_000,
            _ => params.sample_rate.max(1),
        };
        Packetizer {
            codec: params.codec,
            pt,
            ssrc,
            seq,
            ts_offset,
            timescale: params.timescale.max(1),
            clock,
            sets: crate::sdp::parameter_sets(params),
            channels: u32::from(params.channels.max(1)),
        }
    }

    /// The sequence number the next packet gets.
    pub fn next_seq(&self) -> u16 {
        self.seq
    }

    /// The RTP timestamp of a pts of this stream.
    pub fn rtp_time(&self, pts: i64) -> u32 {
        let ticks = if self.timescale == self.clock {
            pts
        } else {
            (i128::from(pts) * i128::from(self.clock) / i128::from(self.timescale)) as i64
        };
        self.ts_offset.wrapping_add(ticks as u32)
    }

    /// Appends the frame's packets to `out`, each framed for RTSP interleaving on `channel`. A video frame
    /// whose length prefixes do not add up is skipped (nothing appended) and reported as an error.
    pub fn packetize(&mut self, frame: &Frame, channel: u8, out: &mut Vec<u8>) -> Result<(), String> {
        let ts = self.rtp_time(frame.pts);
        match self.codec {
            Codec::H264 | Codec::H265 => self.video(frame, ts, channel, out),
            Codec::Aac => {
                let n = frame.data.len();
                if n > 0x1fff {
                    return Err(format!("an AAC frame of {n} bytes does not fit an AU-header"));
                }
                let au = (n as u16) << 3;
                let head = [0x00, 0x10, (au >> 8) as u8, au as u8];
                self.packet(channel, ts, true, &[&head, &frame.data], out);
                Ok(())
            }
            Codec::Pcmu | Codec::Pcma => {
                let per_sample = self.channels as usize;
                let chunk = MAX_PAYLOAD - MAX_PAYLOAD % per_sample;
                let mut t = ts;
                for (i, part) in frame.data.chunks(chunk).enumerate() {
                    self.packet(channel, t, i == 0, &[part], out);
                    t = t.wrapping_add((part.len() / per_sample) as u32);
                }
                Ok(())
            }
        }
    }

    fn video(&mut self, frame: &Frame, ts: u32, channel: u8, out: &mut Vec<u8>) -> Result<(), String> {
        // Check the whole frame first: a broken frame sends nothing rather than half a picture.
        check_lengths(&frame.data)?;
        let sets = std::mem::take(&mut self.sets);
        let h265 = self.codec == Codec::H265;
        let kind = |u: &[u8]| if h265 { (u[0] >> 1) & 0x3f } else { u[0] & 0x1f };
        let mut units: Vec<&[u8]> = Vec::new();
        if frame.key {
            let has_sets = nal::iter_avc(&frame.data).any(|u| !u.is_empty() && matches!(kind(u), 7 | 33));
            if !has_sets {
                units.extend(sets.iter().map(|s| s.as_slice()));
            }
        }
        units.extend(nal::iter_avc(&frame.data).filter(|u| u.len() > usize::from(h265)));
        let last = units.len().saturating_sub(1);
        for (i, unit) in units.iter().enumerate() {
            self.nal_unit(unit, ts, i == last, h265, channel, out);
        }
        drop(units);
        self.sets = sets;
        Ok(())
    }

    fn nal_unit(&mut self, unit: &[u8], ts: u32, last: bool, h265: bool, channel: u8, out: &mut Vec<u8>) {
        if unit.len() <= MAX_PAYLOAD {
            self.packet(channel, ts, last, &[unit], out);
            return;
        }
        if h265 {
            // Fragmentation unit (type 49): payload header, FU header with S/E and the unit's type.
            let ph = [(unit[0] & 0x81) | (49 << 1), unit[1]];
            let t = (unit[0] >> 1) & 0x3f;
            let body = &unit[2..];
            let n = body.len().div_ceil(MAX_PAYLOAD - 3);
            for (i, part) in body.chunks(MAX_PAYLOAD - 3).enumerate() {
                let fu = t | if i == 0 { 0x80 } else { 0 } | if i + 1 == n { 0x40 } else { 0 };
                self.packet(channel, ts, last && i + 1 == n, &[&ph, &[fu], part], out);
            }
        } else {
            // FU-A (type 28): indicator with the unit's NRI, header with S/E and the unit's type.
            let ind = (unit[0] & 0x60) | 28;
            let t = unit[0] & 0x1f;
            let body = &unit[1..];
            let n = body.len().div_ceil(MAX_PAYLOAD - 2);
            for (i, part) in body.chunks(MAX_PAYLOAD - 2).enumerate() {
                let fu = t | if i == 0 { 0x80 } else { 0 } | if i + 1 == n { 0x40 } else { 0 };
                self.packet(channel, ts, last && i + 1 == n, &[&[ind, fu], part], out);
            }
        }
    }

    fn packet(&mut self, channel: u8, ts: u32, marker: bool, parts: &[&[u8]], out: &mut Vec<u8>) {
        let len = RTP_HEADER + parts.iter().map(|p| p.len()).sum::<usize>();
        out.push(b'$');
        out.push(channel);
        out.extend_from_slice(&(len as u16).to_be_bytes());
        out.push(0x80);
        out.push(self.pt | if marker { 0x80 } else { 0 });
        out.extend_from_slice(&self.seq.to_be_bytes());
        out.extend_from_slice(&ts.to_be_bytes());
        out.extend_from_slice(&self.ssrc.to_be_bytes());
        for p in parts {
            out.extend_from_slice(p);
        }
        self.seq = self.seq.wrapping_add(1);
    }
}

/// Whether a length-prefixed access unit's prefixes add up (without copying it).
fn check_lengths(mut rest: &[u8]) -> Result<(), String> {
    while !rest.is_empty() {
        let Some(prefix) = rest.get(..4) else {
            return Err(format!("{} stray bytes at the end of the frame", rest.len()));
        };
        let len = u32::from_be_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]) as usize;
        if len == 0 || rest.len() - 4 < len {
            return Err(format!("a NAL unit length of {len} does not fit the {} bytes left", rest.len() - 4));
        }
        rest = &rest[4 + len..];
    }
    Ok(())
}

/// An RTCP sender report (RFC 3550 §6.4.1) for one track, framed for interleaving on `channel`: it ties
/// the RTP timestamp `rtp` to the wall-clock time `wall_us` (µs since the Unix epoch), which players use
/// to line up audio and video and to show the camera's time.
pub fn sender_report(ssrc: u32, wall_us: i64, rtp: u32, packets: u32, octets: u32, channel: u8, out: &mut Vec<u8>) {
    const NTP_UNIX_OFFSET: u64 = 2_208_988_800;
    let us = wall_us.max(0) as u64;
    let secs = us / 1_000_000 + NTP_UNIX_OFFSET;
    let frac = ((us % 1_000_000) << 32) / 1_000_000;
    out.push(b'$');
    out.push(channel);
    out.extend_from_slice(&28u16.to_be_bytes());
    out.extend_from_slice(&[0x80, 200, 0, 6]);
    out.extend_from_slice(&ssrc.to_be_bytes());
    out.extend_from_slice(&(secs as u32).to_be_bytes());
    out.extend_from_slice(&(frac as u32).to_be_bytes());
    out.extend_from_slice(&rtp.to_be_bytes());
    out.extend_from_slice(&packets.to_be_bytes());
    out.extend_from_slice(&octets.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use kw_media::StreamKind;

    fn video(codec: Codec) -> StreamParams {
        let avcc = nal::avcc_from_sps_pps(&[0x67, 0x64, 0, 0x1f], &[0x68, 0xee]).unwrap();
        StreamParams {
            codec,
            timescale: 90_000,
            width: 64,
            height: 64,
            sample_rate: 0,
            channels: 0,
            extra: avcc,
            rfc6381: String::new(),
        }
    }

    fn frame(units: &[&[u8]], key: bool, pts: i64) -> Frame {
        let mut data = Vec::new();
        for u in units {
            data.extend_from_slice(&(u.len() as u32).to_be_bytes());
            data.extend_from_slice(u);
        }
        Frame { stream: StreamKind::Video, pts, key, loss_before: false, data: Bytes::from(data) }
    }

    /// (channel, rtp packet) pairs out of an interleaved buffer.
    fn split(mut buf: &[u8]) -> Vec<(u8, Vec<u8>)> {
        let mut out = Vec::new();
        while !buf.is_empty() {
            assert_eq!(buf[0], b'$');
            let len = usize::from(u16::from_be_bytes([buf[2], buf[3]]));
            out.push((buf[1], buf[4..4 + len].to_vec()));
            buf = &buf[4 + len..];
        }
        out
    }

    #[test]
    fn h264_key_frame_gets_parameter_sets_and_fu_a() {
        let mut p = Packetizer::new(&video(Codec::H264), 96, 7, 100, 1000);
        let big = [vec![0x65], vec![0xab; 3000]].concat();
        let mut out = Vec::new();
        p.packetize(&frame(&[&big], true, 3000), 0, &mut out).unwrap();
        let pkts = split(&out);
        // SPS, PPS, then the IDR in three fragments
        assert_eq!(pkts.len(), 5);
        assert_eq!(pkts[0].1[12], 0x67);
        assert_eq!(pkts[1].1[12], 0x68);
        let (first, last) = (&pkts[2].1, &pkts[4].1);
        assert_eq!((first[12], first[13]), (0x60 | 28, 0x80 | 5));
        assert_eq!(last[13], 0x40 | 5);
        assert_eq!(last[1], 0x80 | 96, "marker on the last packet only");
        assert_eq!(first[1], 96);
        assert_eq!(u16::from_be_bytes([pkts[4].1[2], pkts[4].1[3]]), 104);
        assert_eq!(u32::from_be_bytes([first[4], first[5], first[6], first[7]]), 4000);
        let body: Vec<u8> = pkts[2..].iter().flat_map(|(_, p)| p[14..].to_vec()).collect();
        assert_eq!(body, big[1..]);
    }

    #[test]
    fn in_band_sets_not_repeated_and_broken_frames_send_nothing() {
        let mut p = Packetizer::new(&video(Codec::H264), 96, 7, 0, 0);
        let mut out = Vec::new();
        p.packetize(&frame(&[&[0x67, 1, 2, 3], &[0x68, 1], &[0x65, 9]], true, 0), 0, &mut out).unwrap();
        assert_eq!(split(&out).len(), 3);
        let mut out = Vec::new();
        let broken = Frame { data: Bytes::from_static(&[0, 0, 0, 9, 1]), ..frame(&[], false, 0) };
        assert!(p.packetize(&broken, 0, &mut out).is_err());
        assert!(out.is_empty());
    }

    #[test]
    fn h265_fragments() {
        let mut params = video(Codec::H265);
        params.extra = Vec::new();
        let mut p = Packetizer::new(&params, 96, 1, 0, 0);
        let unit = [vec![19 << 1, 1], vec![7; 2000]].concat();
        let mut out = Vec::new();
        p.packetize(&frame(&[&unit], true, 0), 2, &mut out).unwrap();
        let pkts = split(&out);
        assert_eq!(pkts.len(), 2);
        assert_eq!(pkts[0].0, 2);
        assert_eq!((pkts[0].1[12] >> 1) & 0x3f, 49);
        assert_eq!(pkts[0].1[14], 0x80 | 19);
        assert_eq!(pkts[1].1[14], 0x40 | 19);
    }

    #[test]
    fn aac_and_g711() {
        let aac = StreamParams {
            codec: Codec::Aac,
            timescale: 48_000,
            width: 0,
            height: 0,
            sample_rate: 48_000,
            channels: 1,
            extra: vec![0x11, 0x88],
            rfc6381: String::new(),
        };
        let mut p = Packetizer::new(&aac, 97, 1, 0, 0);
        let mut out = Vec::new();
        let f = Frame {
            stream: StreamKind::Audio,
            pts: 1024,
            key: true,
            loss_before: false,
            data: Bytes::from(vec![5; 300]),
        };
        p.packetize(&f, 2, &mut out).unwrap();
        let pkts = split(&out);
        assert_eq!(&pkts[0].1[12..16], &[0, 16, (300u16 << 3 >> 8) as u8, (300u16 << 3) as u8]);
        let g = StreamParams { codec: Codec::Pcmu, timescale: 8000, sample_rate: 8000, extra: vec![], ..aac };
        let mut p = Packetizer::new(&g, 0, 1, 0, 0);
        let mut out = Vec::new();
        let f = Frame { data: Bytes::from(vec![0x7f; 3000]), pts: 0, ..f };
        p.packetize(&f, 2, &mut out).unwrap();
        let pkts = split(&out);
        assert_eq!(pkts.len(), 3);
        assert_eq!(u32::from_be_bytes([pkts[1].1[4], pkts[1].1[5], pkts[1].1[6], pkts[1].1[7]]), 1400);
    }

    #[test]
    fn sender_report_layout() {
        let mut out = Vec::new();
        sender_report(9, 1_000_000, 90_000, 3, 4, 1, &mut out);
        assert_eq!(out.len(), 32);
        assert_eq!(&out[..4], &[b'$', 1, 0, 28]);
        assert_eq!(out[5], 200);
        assert_eq!(u32::from_be_bytes([out[12], out[13], out[14], out[15]]), 2_208_988_801);
    }
}
