//! NAL-unit helpers for H.264 and H.265: enough to tell key frames apart and to convert between
//! Annex B (start codes, what encoders and decoders speak) and the length-prefixed form that MP4 samples
//! and keepwatch's segments use, in both directions, and to read and build `avcC` records. Nothing here
//! decodes pictures.

/// Splits length-prefixed (4-byte big-endian) NAL units. Stops at the first malformed length.
pub fn iter_avc(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = data;
    std::iter::from_fn(move || {
        if rest.len() < 4 {
            return None;
        }
        let len = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        let nal = rest.get(4..4 + len)?;
        rest = &rest[4 + len..];
        Some(nal)
    })
}

/// Splits an Annex B byte stream (00 00 01 / 00 00 00 01 start codes) into NAL units.
pub fn iter_annexb(data: &[u8]) -> Vec<&[u8]> {
    let mut starts = Vec::new();
    let mut i = 0;
    while i + 3 <= data.len() {
        if data[i] == 0 && data[i + 1] == 0 && data[i + 2] == 1 {
            starts.push(i + 3);
            i += 3;
        } else {
            i += 1;
        }
    }
    let mut out = Vec::with_capacity(starts.len());
    for (n, &s) in starts.iter().enumerate() {
        let mut end = starts.get(n + 1).map(|&next| next - 3).unwrap_or(data.len());
        while end > s && data[end - 1] == 0 {
            end -= 1; // trailing zero bytes belong to the next 4-byte start code
        }
        if end > s {
            out.push(&data[s..end]);
        }
    }
    out
}

/// Converts Annex B to length-prefixed form.
pub fn annexb_to_avc(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 16);
    for nal in iter_annexb(data) {
        out.extend_from_slice(&(nal.len() as u32).to_be_bytes());
        out.extend_from_slice(nal);
    }
    out
}

/// An H.264 encoder's Annex B output split the way keepwatch stores it: the access unit's NAL units in
/// length-prefixed (MP4) form, and the SPS and PPS, which go into the run's `avcC` instead.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct H264Split {
    pub avc: Vec<u8>,
    pub sps: Option<Vec<u8>>,
    pub pps: Option<Vec<u8>>,
}

/// Splits an encoder's Annex B access unit into [`H264Split`]. Fails only for a NAL unit over 4 GiB.
pub fn split_h264_annexb(annexb: &[u8]) -> Result<H264Split, String> {
    let mut out = H264Split { avc: Vec::with_capacity(annexb.len()), ..H264Split::default() };
    for unit in iter_annexb(annexb) {
        match h264_type(unit) {
            7 => out.sps = Some(unit.to_vec()),
            8 => out.pps = Some(unit.to_vec()),
            _ => {
                let len = u32::try_from(unit.len()).map_err(|_| "a NAL unit over 4 GiB".to_owned())?;
                out.avc.extend_from_slice(&len.to_be_bytes());
                out.avc.extend_from_slice(unit);
            }
        }
    }
    Ok(out)
}

/// H.264 NAL unit type (low 5 bits of the header byte).
pub fn h264_type(nal: &[u8]) -> u8 {
    nal.first().map(|b| b & 0x1f).unwrap_or(0)
}

/// H.265 NAL unit type (bits 1..7 of the first header byte).
pub fn h265_type(nal: &[u8]) -> u8 {
    nal.first().map(|b| (b >> 1) & 0x3f).unwrap_or(0)
}

/// True when an H.265 access unit is a random access point. Every IRAP type (16..=23: BLA, IDR and CRA)
/// counts: x265's default open GOP and many real cameras send CRA pictures where others send IDR, and a
/// recorder that waits for IDR only would never start on them.
pub fn h265_is_irap(avc_data: &[u8]) -> bool {
    iter_avc(avc_data).any(|nal| (16..=23).contains(&h265_type(nal)))
}

/// True when an H.264 access unit holds an IDR slice.
pub fn h264_is_idr(avc_data: &[u8]) -> bool {
    iter_avc(avc_data).any(|nal| h264_type(nal) == 5)
}

/// Builds the body of an `avcC` box (AVCDecoderConfigurationRecord) from one SPS and one PPS.
pub fn avcc_from_sps_pps(sps: &[u8], pps: &[u8]) -> Option<Vec<u8>> {
    if sps.len() < 4 || pps.is_empty() || sps.len() > 0xffff || pps.len() > 0xffff {
        return None;
    }
    let mut out = vec![1, sps[1], sps[2], sps[3], 0xff, 0xe1];
    out.extend_from_slice(&(sps.len() as u16).to_be_bytes());
    out.extend_from_slice(sps);
    out.push(1);
    out.extend_from_slice(&(pps.len() as u16).to_be_bytes());
    out.extend_from_slice(pps);
    Some(out)
}

const START_CODE: [u8; 4] = [0, 0, 0, 1];

/// Appends a length-prefixed (4-byte) access unit to `out` as Annex B, refusing lengths that do not add
/// up (a frame that is not length-prefixed H.264 is an error, never a panic or a shortened frame).
pub fn avc_to_annexb(data: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
    let mut rest = data;
    while !rest.is_empty() {
        let (Some(prefix), Some(body)) = (rest.get(..4), rest.get(4..)) else {
            return Err(format!("{} stray bytes at the end of the frame", rest.len()));
        };
        let len = u32::from_be_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]) as usize;
        let Some(unit) = body.get(..len).filter(|u| !u.is_empty()) else {
            return Err(format!(
                "a NAL unit length of {len} does not fit the {} bytes left (not length-prefixed H.264?)",
                body.len()
            ));
        };
        out.extend_from_slice(&START_CODE);
        out.extend_from_slice(unit);
        rest = &body[len..];
    }
    Ok(())
}

/// The SPS and PPS of an `avcC` record body as Annex B. An empty record gives nothing (the frames may
/// carry their parameter sets in-band).
pub fn avcc_parameter_sets_annexb(avcc: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    if avcc.is_empty() {
        return Ok(out);
    }
    let bad = || format!("the stream's avcC record ({} bytes) is malformed", avcc.len());
    if avcc.first() != Some(&1) {
        return Err(bad());
    }
    let mut pos = 5;
    for mask in [0x1f, 0xff] {
        // numOfSequenceParameterSets (low 5 bits), then numOfPictureParameterSets (a whole byte).
        let count = avcc.get(pos).ok_or_else(bad)? & mask;
        pos += 1;
        for _ in 0..count {
            let len = avcc.get(pos..pos + 2).ok_or_else(bad)?;
            let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
            let unit = avcc.get(pos + 2..pos + 2 + len).filter(|u| !u.is_empty()).ok_or_else(bad)?;
            out.extend_from_slice(&START_CODE);
            out.extend_from_slice(unit);
            pos += 2 + len;
        }
    }
    Ok(out)
}

/// The RFC 6381 codec string of an H.264 stream, from its SPS (`avc1.PPCCLL`).
pub fn h264_rfc6381(sps: &[u8]) -> String {
    match sps.get(1..4) {
        Some(b) => format!("avc1.{:02x}{:02x}{:02x}", b[0], b[1], b[2]),
        None => "avc1".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameter_sets_are_split_out_of_an_encoder_access_unit() {
        let annexb = [0, 0, 0, 1, 0x67, 1, 2, 0, 0, 1, 0x68, 3, 0, 0, 0, 1, 0x65, 9, 9, 9];
        let s = split_h264_annexb(&annexb).unwrap();
        assert_eq!(s.sps.as_deref(), Some(&[0x67, 1, 2][..]));
        assert_eq!(s.pps.as_deref(), Some(&[0x68, 3][..]));
        assert_eq!(s.avc, [0, 0, 0, 4, 0x65, 9, 9, 9]);
        assert!(h264_is_idr(&s.avc));
        assert_eq!(split_h264_annexb(&[]).unwrap(), H264Split::default());
    }

    #[test]
    fn annexb_round_trip() {
        let annexb = [0, 0, 0, 1, 0x67, 1, 2, 0, 0, 1, 0x68, 3, 0, 0, 0, 1, 0x65, 9, 9];
        let avc = annexb_to_avc(&annexb);
        let nals: Vec<&[u8]> = iter_avc(&avc).collect();
        assert_eq!(nals, vec![&[0x67, 1, 2][..], &[0x68, 3][..], &[0x65, 9, 9][..]]);
        assert!(h264_is_idr(&avc));
    }

    #[test]
    fn h265_cra_is_irap() {
        let cra = [0, 0, 0, 3, 21 << 1, 1, 0xaa];
        let trail = [0, 0, 0, 3, 1 << 1, 1, 0xaa];
        assert!(h265_is_irap(&cra));
        assert!(!h265_is_irap(&trail));
    }

    #[test]
    fn length_prefixed_to_annexb_is_strict() {
        let mut out = Vec::new();
        avc_to_annexb(&[0, 0, 0, 2, 0x65, 1, 0, 0, 0, 1, 0x41], &mut out).unwrap();
        assert_eq!(out, [0, 0, 0, 1, 0x65, 1, 0, 0, 0, 1, 0x41]);
        for bad in [&[0, 0, 0, 9, 0x65][..], &[0, 0, 0][..], &[0, 0, 0, 0][..], b"\x00\x00\x00\x01\x65xx"] {
            assert!(avc_to_annexb(bad, &mut Vec::new()).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn avcc_parameter_sets() {
        let avcc = avcc_from_sps_pps(&[0x67, 0x42, 0, 0x1e], &[0x68, 1]).unwrap();
        assert_eq!(avcc_parameter_sets_annexb(&avcc).unwrap(), [0, 0, 0, 1, 0x67, 0x42, 0, 0x1e, 0, 0, 0, 1, 0x68, 1]);
        assert!(avcc_parameter_sets_annexb(&[]).unwrap().is_empty());
        assert!(avcc_parameter_sets_annexb(&[1, 0x42, 0, 0x1e, 0xff, 0xe1, 0, 40, 0x67]).is_err());
        assert!(avcc_parameter_sets_annexb(&[2]).is_err());
    }

    #[test]
    fn malformed_lengths_stop() {
        let bad = [0, 0, 0, 9, 1, 2];
        assert_eq!(iter_avc(&bad).count(), 0);
    }
}
