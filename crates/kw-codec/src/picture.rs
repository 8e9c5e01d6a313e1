//! Pictures in memory: planar 4:2:0 ([`I420`], what the encoder takes) and packed RGB ([`Rgb`], what the
//! JPEG encoder takes).

use crate::CodecError;

/// A planar 4:2:0 picture: Y, then U, then V, without padding (even width and height).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct I420 {
    pub width: usize,
    pub height: usize,
    pub data: Vec<u8>,
}

impl I420 {
    /// A picture of `width`×`height` (both even) filled with mid grey.
    pub fn new(width: usize, height: usize) -> I420 {
        let mut p = I420::default();
        p.resize(width, height);
        p
    }

    /// Reshapes to `width`×`height`, keeping the allocation where it is large enough.
    pub fn resize(&mut self, width: usize, height: usize) {
        self.width = width;
        self.height = height;
        self.data.resize(width * height + 2 * (width / 2) * (height / 2), 128);
    }

    pub fn y(&self) -> &[u8] {
        &self.data[..self.width * self.height]
    }

    pub(crate) fn chroma_len(&self) -> usize {
        (self.width / 2) * (self.height / 2)
    }
}

impl openh264::formats::YUVSource for I420 {
    fn dimensions(&self) -> (usize, usize) {
        (self.width, self.height)
    }
    fn strides(&self) -> (usize, usize, usize) {
        (self.width, self.width / 2, self.width / 2)
    }
    fn y(&self) -> &[u8] {
        I420::y(self)
    }
    fn u(&self) -> &[u8] {
        let (l, c) = (self.width * self.height, self.chroma_len());
        &self.data[l..l + c]
    }
    fn v(&self) -> &[u8] {
        let (l, c) = (self.width * self.height, self.chroma_len());
        &self.data[l + c..l + 2 * c]
    }
}

/// A packed 8-bit RGB picture.
#[derive(Clone, Debug, PartialEq)]
pub struct Rgb {
    pub width: u32,
    pub height: u32,
    pub data: Vec<u8>,
}

impl Rgb {
    /// Converts a 4:2:0 picture (BT.601, limited range).
    pub fn from_i420(p: &I420) -> Result<Rgb, CodecError> {
        let l = p.width * p.height;
        let c = p.chroma_len();
        let planes = p.data.get(..l).zip(p.data.get(l..l + c)).zip(p.data.get(l + c..l + 2 * c));
        let Some(((y, u), v)) = planes else {
            return Err(CodecError::Decode(format!("a picture of {}x{} without its planes", p.width, p.height)));
        };
        Rgb::from_planes(p.width, p.height, (y, u, v), (p.width, p.width / 2))
    }

    /// Converts planar 4:2:0 (BT.601, limited range, as H.264 cameras send) to RGB. `strides`: luma, chroma.
    pub(crate) fn from_planes(
        width: usize,
        height: usize,
        (y, u, v): (&[u8], &[u8], &[u8]),
        (sy, suv): (usize, usize),
    ) -> Result<Rgb, CodecError> {
        let len = width.checked_mul(height).and_then(|n| n.checked_mul(3)).filter(|&n| n > 0);
        let cw = width.div_ceil(2);
        let ch = height.div_ceil(2);
        let fits = width > 0
            && height > 0
            && sy >= width
            && suv >= cw
            && y.len() >= (height - 1) * sy + width
            && u.len() >= (ch - 1) * suv + cw
            && v.len() >= (ch - 1) * suv + cw;
        let (Some(len), Ok(w32), Ok(h32), true) = (len, u32::try_from(width), u32::try_from(height), fits) else {
            return Err(CodecError::Decode(format!("the decoder produced a picture of {width}x{height}")));
        };
        let mut data = vec![0u8; len];
        // Fixed point, 10 fractional bits: 255/219 for luma, 255/224 × (1.402, 0.714, 0.344, 1.772) for chroma.
        let clamp = |x: i32| (x >> 10).clamp(0, 255) as u8;
        for row in 0..height {
            let yr = &y[row * sy..row * sy + width];
            let ur = &u[(row / 2) * suv..(row / 2) * suv + cw];
            let vr = &v[(row / 2) * suv..(row / 2) * suv + cw];
            let out = &mut data[row * width * 3..(row + 1) * width * 3];
            for (col, px) in out.chunks_exact_mut(3).enumerate() {
                let l = (i32::from(yr[col]) - 16) * 1192;
                let cb = i32::from(ur[col / 2]) - 128;
                let cr = i32::from(vr[col / 2]) - 128;
                px[0] = clamp(l + 1634 * cr + 512);
                px[1] = clamp(l - 401 * cb - 832 * cr + 512);
                px[2] = clamp(l + 2066 * cb + 512);
            }
        }
        Ok(Rgb { width: w32, height: h32, data })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openh264::formats::YUVSource;

    #[test]
    fn planes_have_their_sizes() {
        let p = I420::new(4, 2);
        assert_eq!(p.data.len(), 12);
        assert_eq!((YUVSource::y(&p).len(), p.u().len(), p.v().len()), (8, 2, 2));
    }
}
