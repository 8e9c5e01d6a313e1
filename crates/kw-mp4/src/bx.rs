//! A tiny ISO BMFF box writer: big-endian integers into a `Vec<u8>`, boxes opened and closed with their
//! size patched in afterwards.
//!
//! Why not a struct per box type: every box here is written exactly once, by one function, from data we
//! already hold; a typed box tree would only add a second representation to keep in sync. Both the
//! progressive and the fragmented writer use this one writer, so byte order and size handling live in
//! one place.

/// Writes boxes into a growing buffer.
#[derive(Default)]
pub(crate) struct W {
    buf: Vec<u8>,
    /// Set when a box grew past what its 32-bit size field can hold.
    overflow: bool,
}

/// Where an open box starts; hand it back to [`W::end`].
#[must_use]
pub(crate) struct Open(usize);

impl W {
    pub fn new() -> Self {
        W::default()
    }

    /// Opens a plain box.
    pub fn begin(&mut self, typ: &[u8; 4]) -> Open {
        let at = self.buf.len();
        self.u32(0);
        self.bytes(typ);
        Open(at)
    }

    /// Opens a full box (version and 24-bit flags follow the type).
    pub fn begin_full(&mut self, typ: &[u8; 4], version: u8, flags: u32) -> Open {
        let open = self.begin(typ);
        self.u32((u32::from(version) << 24) | (flags & 0x00ff_ffff));
        open
    }

    /// Closes a box, writing its size.
    pub fn end(&mut self, open: Open) {
        let size = self.buf.len() - open.0;
        let size = u32::try_from(size).unwrap_or_else(|_| {
            self.overflow = true;
            0
        });
        self.patch_u32(open.0, size);
    }

    /// Overwrites four bytes at `at` (a position returned by [`W::pos`]).
    pub fn patch_u32(&mut self, at: usize, v: u32) {
        if let Some(dst) = self.buf.get_mut(at..at + 4) {
            dst.copy_from_slice(&v.to_be_bytes());
        }
    }

    pub fn pos(&self) -> usize {
        self.buf.len()
    }

    pub fn u16(&mut self, v: u16) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    pub fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    pub fn i32(&mut self, v: i32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    pub fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    pub fn i64(&mut self, v: i64) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    pub fn bytes(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }

    pub fn zeros(&mut self, n: usize) {
        self.buf.resize(self.buf.len() + n, 0);
    }

    /// The unity transformation matrix of `mvhd` and `tkhd`.
    pub fn matrix(&mut self) {
        for v in [0x0001_0000, 0, 0, 0, 0x0001_0000, 0, 0, 0, 0x4000_0000u32] {
            self.u32(v);
        }
    }

    /// The finished buffer, or an error when some box outgrew its size field.
    pub fn finish(self) -> Result<Vec<u8>, crate::Mp4Error> {
        if self.overflow {
            return Err(crate::Mp4Error::TooLarge);
        }
        Ok(self.buf)
    }

    /// The buffer as it is, whether or not a size overflowed (for writers that cannot fail).
    pub fn into_vec(self) -> Vec<u8> {
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_sizes() {
        let mut w = W::new();
        let outer = w.begin(b"moov");
        let inner = w.begin_full(b"mvhd", 1, 0x20001);
        w.u16(7);
        w.end(inner);
        w.end(outer);
        let b = w.finish().unwrap();
        assert_eq!(&b[..8], &[0, 0, 0, 22, b'm', b'o', b'o', b'v']);
        assert_eq!(&b[8..20], &[0, 0, 0, 14, b'm', b'v', b'h', b'd', 1, 2, 0, 1]);
        assert_eq!(&b[20..], &[0, 7]);
    }
}
