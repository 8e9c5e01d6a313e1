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
    /// Converts a decoded picture.
    pub(crate) fn from_decoded(p: &openh264::decoder::DecodedYUV<'_>) -> Result<Rgb, CodecError> {
        use openh264::formats::YUVSource;
        let (w, h) = p.dimensions();
        let len = w.checked_mul(h).and_then(|n| n.checked_mul(3)).filter(|&n| n > 0);
        let (Some(len), Ok(width), Ok(height)) = (len, u32::try_from(w), u32::try_from(h)) else {
            return Err(CodecError::Decode(format!("the decoder produced a picture of {w}x{h}")));
        };
        let mut data = vec![0u8; len];
        p.write_rgb8(&mut data);
        Ok(Rgb { width, height, data })
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
