//! A still picture from a run of frames: decode from a key frame up to the wanted frame and encode the
//! last picture as JPEG. Snapshots of recordings and of the live hub, and the camera probe, come down to
//! this. At most [`MAX_DECODE_FRAMES`] frames are decoded, so one still costs a bounded amount of work
//! whatever a camera sends.

use crate::{jpeg, CodecError, H264Decoder, Rgb};
use kw_media::StreamParams;

/// The most frames decoded for one still (24 s at 25 fps).
pub const MAX_DECODE_FRAMES: usize = 600;

/// Decodes `frames` (length-prefixed access units in decode order, the first a key frame) with the
/// stream's parameters and encodes the picture of the last one (in decode order) as JPEG. With B-frames
/// that picture is not the last one the decoder shows: it is found by its tag, not by its place.
pub fn jpeg_from_frames(params: &StreamParams, frames: &[&[u8]]) -> Result<Vec<u8>, CodecError> {
    let mut decoder = H264Decoder::new(params)?;
    if frames.is_empty() {
        return Err(CodecError::BadInput("no frames to decode".into()));
    }
    if frames.len() > MAX_DECODE_FRAMES {
        return Err(CodecError::BadInput(format!(
            "{} frames is more than the {MAX_DECODE_FRAMES} a still decodes",
            frames.len()
        )));
    }
    let last = frames.len() - 1;
    let at = |i: usize| {
        move |e: CodecError| match e {
            CodecError::BadInput(m) => CodecError::BadInput(format!("frame {i} after the key frame: {m}")),
            CodecError::Decode(m) => CodecError::Decode(format!("frame {i} after the key frame: {m}")),
            other => other,
        }
    };
    // Tags are decode-order indices; the wanted picture is the last frame's, wherever the decoder's
    // reordering puts it (with B-frames it usually comes out of the drain at the end).
    let want = last as i64;
    let mut picture: Option<Rgb> = None;
    for (i, frame) in frames.iter().enumerate() {
        if let Some(p) = decoder.push(frame, i == 0, i as i64).map_err(at(i))? {
            if p.tag() == want {
                picture = Some(p.to_rgb()?);
            }
        }
    }
    while let Some(p) = decoder.drain().map_err(at(last))? {
        if p.tag() == want {
            picture = Some(p.to_rgb()?);
        }
    }
    let picture = picture.ok_or_else(|| CodecError::Decode("the decoder produced no picture".into()))?;
    jpeg::encode(&picture)
}
