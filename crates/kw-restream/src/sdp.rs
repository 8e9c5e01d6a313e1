//! The session description a player gets from DESCRIBE, made from the camera's own stream parameters.
//!
//! The parameter sets go into the SDP exactly as the camera sent them (from the `avcC` / `hvcC` record
//! the recorder also stores), so a player configures its decoder before the first packet and nothing is
//! transcoded. Track 0 is video, track 1 audio when the camera has it.

use base64::Engine as _;
use kw_media::{Codec, RunInfo, StreamParams};

/// RTP payload type of the video track (dynamic).
pub const VIDEO_PT: u8 = 96;
/// RTP payload type of an audio track that has no static one.
pub const AUDIO_PT: u8 = 97;

/// The payload type an audio stream is sent with: the static G.711 types where the format matches them.
pub fn audio_payload_type(p: &StreamParams) -> u8 {
    match (p.codec, p.sample_rate, p.channels) {
        (Codec::Pcmu, 8000, 1) => 0,
        (Codec::Pcma, 8000, 1) => 8,
        _ => AUDIO_PT,
    }
}

/// The parameter sets of a stream, each a NAL unit without start code: SPS + PPS for H.264 (from
/// `avcC`), VPS + SPS + PPS for H.265 (from `hvcC`). A malformed record gives what could be read.
pub fn parameter_sets(p: &StreamParams) -> Vec<Vec<u8>> {
    match p.codec {
        Codec::H264 => avcc_sets(&p.extra),
        Codec::H265 => hvcc_sets(&p.extra),
        _ => Vec::new(),
    }
}

fn avcc_sets(avcc: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut pos = 5;
    for mask in [0x1f, 0xff] {
        let Some(&count) = avcc.get(pos) else { return out };
        pos += 1;
        for _ in 0..(count & mask) {
            let Some(unit) = length_prefixed(avcc, &mut pos) else { return out };
            out.push(unit.to_vec());
        }
    }
    out
}

fn hvcc_sets(hvcc: &[u8]) -> Vec<Vec<u8>> {
    // 22 bytes of fixed fields, then numOfArrays and per array: type byte, numNalus, (length, unit)*.
    let mut out = Vec::new();
    let Some(&arrays) = hvcc.get(22) else { return out };
    let mut pos = 23;
    for _ in 0..arrays {
        let Some(n) = hvcc.get(pos + 1..pos + 3) else { return out };
        let n = u16::from_be_bytes([n[0], n[1]]);
        pos += 3;
        for _ in 0..n {
            let Some(unit) = length_prefixed(hvcc, &mut pos) else { return out };
            out.push(unit.to_vec());
        }
    }
    out
}

fn length_prefixed<'a>(buf: &'a [u8], pos: &mut usize) -> Option<&'a [u8]> {
    let len = buf.get(*pos..*pos + 2)?;
    let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
    let unit = buf.get(*pos + 2..*pos + 2 + len).filter(|u| !u.is_empty())?;
    *pos += 2 + len;
    Some(unit)
}

/// The SDP for one stream. `title` names the session (the camera's name).
pub fn describe(run: &RunInfo, title: &str) -> String {
    let b64 = |u: &[u8]| base64::engine::general_purpose::STANDARD.encode(u);
    let title: String = title.chars().filter(|c| !c.is_control()).take(64).collect();
    let mut s = format!(
        "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns={title}\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\na=control:*\r\n\
         a=range:npt=now-\r\n"
    );
    let v = &run.video;
    let sets = parameter_sets(v);
    s.push_str(&format!("m=video 0 RTP/AVP {VIDEO_PT}\r\n"));
    match v.codec {
        Codec::H265 => {
            s.push_str(&format!("a=rtpmap:{VIDEO_PT} H265/90000\r\n"));
            let pick = |t: u8| sets.iter().filter(|u| (u[0] >> 1) & 0x3f == t).map(|u| b64(u)).collect::<Vec<_>>();
            let (vps, sps, pps) = (pick(32), pick(33), pick(34));
            if !vps.is_empty() && !sps.is_empty() && !pps.is_empty() {
                s.push_str(&format!(
                    "a=fmtp:{VIDEO_PT} sprop-vps={};sprop-sps={};sprop-pps={}\r\n",
                    vps.join(","),
                    sps.join(","),
                    pps.join(",")
                ));
            }
        }
        _ => {
            s.push_str(&format!("a=rtpmap:{VIDEO_PT} H264/90000\r\n"));
            let mut fmtp = format!("a=fmtp:{VIDEO_PT} packetization-mode=1");
            if let Some(sps) = sets.iter().find(|u| u[0] & 0x1f == 7 && u.len() >= 4) {
                fmtp.push_str(&format!(";profile-level-id={:02X}{:02X}{:02X}", sps[1], sps[2], sps[3]));
            }
            if !sets.is_empty() {
                let all: Vec<String> = sets.iter().map(|u| b64(u)).collect();
                fmtp.push_str(&format!(";sprop-parameter-sets={}", all.join(",")));
            }
            s.push_str(&fmtp);
            s.push_str("\r\n");
        }
    }
    if v.width > 0 && v.height > 0 {
        s.push_str(&format!("a=x-dimensions:{},{}\r\n", v.width, v.height));
    }
    s.push_str("a=control:trackID=0\r\n");
    if let Some(a) = &run.audio {
        let pt = audio_payload_type(a);
        s.push_str(&format!("m=audio 0 RTP/AVP {pt}\r\n"));
        let ch = a.channels.max(1);
        match a.codec {
            Codec::Aac => {
                s.push_str(&format!("a=rtpmap:{pt} mpeg4-generic/{}/{ch}\r\n", a.sample_rate));
                let config: String = a.extra.iter().map(|b| format!("{b:02x}")).collect();
                s.push_str(&format!(
                    "a=fmtp:{pt} streamtype=5;profile-level-id=1;mode=AAC-hbr;sizelength=13;indexlength=3;\
                     indexdeltalength=3;config={config}\r\n"
                ));
            }
            Codec::Pcma => s.push_str(&format!("a=rtpmap:{pt} PCMA/{}/{ch}\r\n", a.sample_rate)),
            _ => s.push_str(&format!("a=rtpmap:{pt} PCMU/{}/{ch}\r\n", a.sample_rate)),
        }
        s.push_str("a=control:trackID=1\r\n");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(codec: Codec, extra: Vec<u8>) -> StreamParams {
        StreamParams {
            codec,
            timescale: 90_000,
            width: 640,
            height: 360,
            sample_rate: 0,
            channels: 0,
            extra,
            rfc6381: String::new(),
        }
    }

    #[test]
    fn h264_with_aac() {
        let sps = [0x67, 0x64, 0x00, 0x1f, 0xac];
        let pps = [0x68, 0xee, 0x3c, 0x80];
        let avcc = kw_media::nal::avcc_from_sps_pps(&sps, &pps).unwrap();
        let audio = StreamParams {
            codec: Codec::Aac,
            timescale: 48_000,
            width: 0,
            height: 0,
            sample_rate: 48_000,
            channels: 2,
            extra: vec![0x11, 0x90],
            rfc6381: String::new(),
        };
        let run = RunInfo { video: params(Codec::H264, avcc), audio: Some(audio), wall_anchor: 0 };
        let sdp = describe(&run, "front\ndoor");
        assert!(sdp.contains("s=frontdoor\r\n"));
        assert!(sdp.contains("profile-level-id=64001F"));
        assert!(sdp.contains("sprop-parameter-sets=Z2QAH6w=,aO48gA=="), "{sdp}");
        assert!(sdp.contains("a=rtpmap:97 mpeg4-generic/48000/2"));
        assert!(sdp.contains("config=1190"));
        assert!(sdp.contains("a=control:trackID=1"));
    }

    #[test]
    fn g711_static_types_and_malformed_records() {
        let mut a = params(Codec::Pcmu, vec![]);
        a.sample_rate = 8000;
        a.channels = 1;
        assert_eq!(audio_payload_type(&a), 0);
        a.codec = Codec::Pcma;
        assert_eq!(audio_payload_type(&a), 8);
        a.sample_rate = 16_000;
        assert_eq!(audio_payload_type(&a), AUDIO_PT);
        assert!(parameter_sets(&params(Codec::H264, vec![1, 2, 3, 4, 5, 0xe1, 0, 9])).is_empty());
        // truncated records give what could be read, never a panic
        let _ = parameter_sets(&params(Codec::H265, vec![1; 30]));
    }

    #[test]
    fn hvcc_sets_in_order() {
        let mut hvcc = vec![0u8; 22];
        hvcc.push(3);
        for (t, unit) in [(32u8, vec![0x40, 0x01, 9]), (33, vec![0x42, 0x01, 8]), (34, vec![0x44, 0x01, 7])] {
            hvcc.extend_from_slice(&[t, 0, 1, 0, unit.len() as u8]);
            hvcc.extend_from_slice(&unit);
        }
        let sets = parameter_sets(&params(Codec::H265, hvcc.clone()));
        assert_eq!(sets.len(), 3);
        let run = RunInfo { video: params(Codec::H265, hvcc), audio: None, wall_anchor: 0 };
        let sdp = describe(&run, "c");
        assert!(sdp.contains("sprop-vps=QAEJ;sprop-sps=QgEI;sprop-pps=RAEH"), "{sdp}");
    }
}
