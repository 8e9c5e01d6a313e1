//! [`RgbFrame`]: the picture the detector examines, borrowed from whoever decoded it (packed 8-bit RGB,
//! rows top to bottom, no padding: what `kw_codec`'s `Picture::to_rgb` gives).

use crate::Error;

/// The largest side accepted (pixels): far above any camera, small enough that sizes never overflow.
pub const MAX_SIDE: u32 = 16_384;

/// A packed RGB picture, borrowed.
#[derive(Debug, Clone, Copy)]
pub struct RgbFrame<'a> {
    width: u32,
    height: u32,
    data: &'a [u8],
}

impl<'a> RgbFrame<'a> {
    /// Checks that `data` holds exactly `width × height` RGB pixels and that both sides are in 1..=[`MAX_SIDE`].
    pub fn new(width: u32, height: u32, data: &'a [u8]) -> Result<RgbFrame<'a>, Error> {
        if width == 0 || height == 0 || width > MAX_SIDE || height > MAX_SIDE {
            return Err(Error::Picture(format!("{width}x{height}: each side must be 1..={MAX_SIDE}")));
        }
        let want = width as usize * height as usize * 3;
        if data.len() != want {
            return Err(Error::Picture(format!(
                "{width}x{height} RGB needs {want} bytes, the buffer holds {}",
                data.len()
            )));
        }
        Ok(RgbFrame { width, height, data })
    }

    pub fn width(&self) -> u32 {
        self.width
    }

    pub fn height(&self) -> u32 {
        self.height
    }

    /// The pixels: `3 × width` bytes per row.
    pub fn data(&self) -> &'a [u8] {
        self.data
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_and_buffer_must_agree() {
        assert!(RgbFrame::new(2, 2, &[0; 12]).is_ok());
        assert!(matches!(RgbFrame::new(2, 2, &[0; 11]), Err(Error::Picture(_))));
        assert!(matches!(RgbFrame::new(0, 2, &[]), Err(Error::Picture(_))));
        assert!(matches!(RgbFrame::new(MAX_SIDE + 1, 1, &[]), Err(Error::Picture(_))));
    }
}
