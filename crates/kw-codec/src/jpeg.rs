//! JPEG in and out: a camera's JPEG to [`I420`] (MJPEG and snapshot cameras), and [`Rgb`] to JPEG (event
//! pictures, snapshots).
//!
//! Decoding is bounded before anything is allocated for the picture: a JPEG header is a few bytes that may
//! claim anything up to 65535×65535, so the claimed size is checked against [`MAX_SIDE`] and
//! [`MAX_PIXELS`] first. Pictures are decoded with `zune-jpeg` straight to YCbCr and brought to 4:2:0 at
//! the size the caller asks for (nearest neighbour; a straight de-interleave at the camera's own size).

use crate::{CodecError, Rgb, I420};
use zune_core::bytestream::ZCursor;
use zune_core::colorspace::ColorSpace;
use zune_core::options::DecoderOptions;
use zune_jpeg::JpegDecoder;

/// Largest picture side accepted.
pub const MAX_SIDE: usize = 8192;
/// Most pixels accepted: H.264 level 5.1/5.2's largest frame (36 864 macroblocks, e.g. 4096×2304); bounds
/// one picture to ≤ 28 MiB of interleaved YCbCr plus ≤ 14 MiB of I420.
pub const MAX_PIXELS: usize = 36_864 * 256;
/// JPEG quality of the pictures keepwatch makes (1..=100).
const QUALITY: u8 = 80;

/// Encodes a picture as JPEG.
pub fn encode(p: &Rgb) -> Result<Vec<u8>, CodecError> {
    let mut out = Vec::with_capacity(p.data.len() / 10);
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, QUALITY)
        .encode(&p.data, p.width, p.height, image::ExtendedColorType::Rgb8)
        .map_err(|e| CodecError::Encode(format!("cannot encode a {}x{} JPEG: {e}", p.width, p.height)))?;
    Ok(out)
}

/// Decodes `jpeg` into `out` at the size `size_for(width, height)` gives for the picture's own size (even,
/// at least 2×2); `scratch` holds the interleaved YCbCr between calls. A gray picture gets neutral chroma.
pub fn decode_to_i420(
    jpeg: &[u8],
    size_for: impl Fn(usize, usize) -> (usize, usize),
    scratch: &mut Vec<u8>,
    out: &mut I420,
) -> Result<(), CodecError> {
    let bad = |m: String| CodecError::BadInput(m);
    let opts = DecoderOptions::default()
        .jpeg_set_out_colorspace(ColorSpace::YCbCr)
        .set_strict_mode(false)
        .set_max_width(MAX_SIDE)
        .set_max_height(MAX_SIDE);
    let mut d = JpegDecoder::new_with_options(ZCursor::new(jpeg), opts);
    d.decode_headers().map_err(|e| bad(format!("{e:?}")))?;
    let (w, h) = d.dimensions().ok_or_else(|| bad("no picture size".into()))?;
    // Checked before anything is allocated for the picture (the header alone decides the sizes below).
    if w < 2 || h < 2 || w > MAX_SIDE || h > MAX_SIDE || w * h > MAX_PIXELS {
        return Err(bad(format!("picture size {w}x{h} out of range")));
    }
    let gray = matches!(d.input_colorspace(), Some(ColorSpace::Luma | ColorSpace::LumaA));
    if gray {
        d.set_options(opts.jpeg_set_out_colorspace(ColorSpace::Luma));
    }
    let size = d.output_buffer_size().ok_or_else(|| bad("no picture size".into()))?;
    scratch.resize(size, 0);
    d.decode_into(scratch).map_err(|e| bad(format!("{e:?}")))?;
    let comps = if gray { 1 } else { 3 };
    if scratch.len() < w * h * comps {
        // The slicing below relies on it; the decoder has never said otherwise, but a camera's bytes decide.
        return Err(bad(format!("the decoder gave {} bytes for {w}x{h}", scratch.len())));
    }
    let (tw, th) = size_for(w, h);
    let (tw, th) = (tw.clamp(2, MAX_SIDE) & !1, th.clamp(2, MAX_SIDE) & !1);
    if tw * th > MAX_PIXELS {
        return Err(bad(format!("output size {tw}x{th} out of range")));
    }
    out.resize(tw, th);
    let (cw, ch) = (tw / 2, th / 2);
    let i420 = &mut out.data;
    if gray {
        i420[tw * th..].fill(128);
    }
    if tw <= w && th <= h && tw + 1 >= w && th + 1 >= h {
        // The camera's own size (an odd last row or column dropped): a straight de-interleave.
        deinterleave(scratch, w, comps, tw, th, i420);
        return Ok(());
    }
    // Nearest-neighbour mapping from output to source.
    let xs: Vec<usize> = (0..tw).map(|x| (x * w / tw).min(w - 1) * comps).collect();
    let (y_plane, uv) = i420.split_at_mut(tw * th);
    for (ty, row) in y_plane.chunks_exact_mut(tw).enumerate() {
        let sy = (ty * h / th).min(h - 1);
        let src = &scratch[sy * w * comps..(sy + 1) * w * comps];
        for (dst, &sx) in row.iter_mut().zip(&xs) {
            *dst = src[sx];
        }
    }
    if !gray {
        let (u_plane, v_plane) = uv.split_at_mut(cw * ch);
        for cy in 0..ch {
            let sy = ((cy * 2) * h / th).min(h - 1);
            let src = &scratch[sy * w * 3..(sy + 1) * w * 3];
            let (urow, vrow) = (&mut u_plane[cy * cw..(cy + 1) * cw], &mut v_plane[cy * cw..(cy + 1) * cw]);
            for cx in 0..cw {
                // The sample at the 2×2 block's top left: the JPEG's own chroma was upsampled from one
                // sample per block in the usual 4:2:0 case, so this recovers it.
                let sx = xs[cx * 2];
                urow[cx] = src[sx + 1];
                vrow[cx] = src[sx + 2];
            }
        }
    }
    Ok(())
}

/// Interleaved YCbCr (or gray) rows of `src_w` pixels → I420 of `tw`×`th` taken from the top left: luma
/// as is, chroma from each 2×2 block's top-left sample (the JPEG's own 4:2:0 chroma, which the decoder
/// upsampled by repeating it).
fn deinterleave(src: &[u8], src_w: usize, comps: usize, tw: usize, th: usize, i420: &mut [u8]) {
    let (cw, ch) = (tw / 2, th / 2);
    let (y_plane, uv) = i420.split_at_mut(tw * th);
    let stride = src_w * comps;
    for (row, dst) in y_plane.chunks_exact_mut(tw).enumerate() {
        let line = &src[row * stride..row * stride + tw * comps];
        if comps == 3 {
            // A constant step lets the compiler unroll and vectorise: this loop is a tenth of the work.
            for (d, px) in dst.iter_mut().zip(line.chunks_exact(3)) {
                *d = px[0];
            }
        } else {
            dst.copy_from_slice(&line[..tw]);
        }
    }
    if comps < 3 {
        return;
    }
    let (u_plane, v_plane) = uv.split_at_mut(cw * ch);
    for cy in 0..ch {
        let line = &src[cy * 2 * stride..cy * 2 * stride + cw * 6];
        let (urow, vrow) = (&mut u_plane[cy * cw..(cy + 1) * cw], &mut v_plane[cy * cw..(cy + 1) * cw]);
        for ((u, v), px) in urow.iter_mut().zip(vrow.iter_mut()).zip(line.chunks_exact(6)) {
            *u = px[1];
            *v = px[2];
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A small gray-gradient JPEG of `w`×`h`.
    pub fn sample(w: u32, h: u32, shade: u8) -> Vec<u8> {
        let data: Vec<u8> = (0..w * h).flat_map(|i| [shade.wrapping_add((i % w * 7 + i / w * 3) as u8); 3]).collect();
        encode(&Rgb { width: w, height: h, data }).unwrap()
    }

    fn own(w: usize, h: usize) -> (usize, usize) {
        (w, h)
    }

    #[test]
    fn deinterleave_takes_luma_and_block_chroma() {
        // 4x2 pixels of (Y, Cb, Cr) = (10x+y, 100+x, 200+x).
        let src: Vec<u8> = (0..2u8).flat_map(|y| (0..4u8).flat_map(move |x| [10 * x + y, 100 + x, 200 + x])).collect();
        let mut out = vec![0; 4 * 2 + 2 * 2];
        deinterleave(&src, 4, 3, 4, 2, &mut out);
        assert_eq!(out, [0, 10, 20, 30, 1, 11, 21, 31, 100, 102, 200, 202]);
    }

    #[test]
    fn decodes_to_i420_and_rejects_garbage() {
        let j = sample(64, 48, 30);
        let mut scratch = Vec::new();
        let mut p = I420::default();
        decode_to_i420(&j, own, &mut scratch, &mut p).unwrap();
        assert_eq!((p.width, p.height, p.data.len()), (64, 48, 64 * 48 * 3 / 2));
        decode_to_i420(&j, |_, _| (32, 24), &mut scratch, &mut p).unwrap();
        assert_eq!((p.width, p.height, p.data.len()), (32, 24, 32 * 24 * 3 / 2));
        assert!(decode_to_i420(b"\xff\xd8\xff\xe0garbage", own, &mut scratch, &mut p).is_err());
        // A truncated picture: an error or a partial picture, never a panic.
        let _ = decode_to_i420(&j[..j.len() / 3], own, &mut scratch, &mut p);
    }

    /// A few hundred bytes whose header claims a huge picture are refused before any allocation for it.
    #[test]
    fn huge_claimed_sizes_are_refused_before_decoding() {
        let j = sample(16, 16, 9);
        let sof = j.windows(2).position(|w| w == [0xFF, 0xC0]).expect("a baseline JPEG");
        for (w, h) in [(65535u16, 65535u16), (8000, 8000), (8192, 1200), (1, 4000)] {
            let mut big = j.clone();
            big[sof + 5..sof + 7].copy_from_slice(&h.to_be_bytes());
            big[sof + 7..sof + 9].copy_from_slice(&w.to_be_bytes());
            let mut scratch = Vec::new();
            let mut p = I420::default();
            assert!(decode_to_i420(&big, own, &mut scratch, &mut p).is_err(), "{w}x{h} accepted");
            assert!(scratch.capacity() == 0 && p.data.capacity() == 0, "{w}x{h}: memory taken before refusing");
        }
    }
}
