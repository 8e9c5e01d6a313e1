//! Test-only box reader: parses back what the writers produced and checks that sizes nest exactly.

/// One parsed box.
#[derive(Clone, Copy, Debug)]
pub struct Bx<'a> {
    pub typ: [u8; 4],
    /// Offset of the box header within the walked buffer.
    pub at: usize,
    /// Declared size (from the 32- or 64-bit field).
    pub size: u64,
    /// The body (after the header), possibly cut short at the end of the buffer.
    pub body: &'a [u8],
}

impl<'a> Bx<'a> {
    pub fn name(&self) -> String {
        String::from_utf8_lossy(&self.typ).into_owned()
    }

    /// Children of a container box; panics unless they fill the body exactly.
    pub fn kids(&self) -> Vec<Bx<'a>> {
        walk(self.body, 0, true)
    }

    pub fn kid(&self, typ: &str) -> Bx<'a> {
        self.kids_named(typ).into_iter().next().unwrap_or_else(|| panic!("no {typ} in {}", self.name()))
    }

    pub fn kids_named(&self, typ: &str) -> Vec<Bx<'a>> {
        self.kids().into_iter().filter(|b| b.name() == typ).collect()
    }

    /// Follows a path of container boxes.
    pub fn path(&self, path: &[&str]) -> Bx<'a> {
        path.iter().fold(*self, |b, p| b.kid(p))
    }

    pub fn version(&self) -> u8 {
        self.body[0]
    }

    /// Big-endian u32 at `off` within the body.
    pub fn u32(&self, off: usize) -> u32 {
        u32::from_be_bytes(self.body[off..off + 4].try_into().unwrap())
    }

    pub fn u64(&self, off: usize) -> u64 {
        u64::from_be_bytes(self.body[off..off + 8].try_into().unwrap())
    }

    /// A full box's table of `width` u32 columns after version/flags and an entry count.
    pub fn table(&self, width: usize) -> Vec<Vec<u32>> {
        let n = self.u32(4) as usize;
        assert_eq!(self.body.len(), 8 + n * width * 4, "{} table size", self.name());
        (0..n).map(|i| (0..width).map(|c| self.u32(8 + (i * width + c) * 4)).collect()).collect()
    }
}

/// Boxes at top level of `buf`. With `exact`, every box must end within `buf`; otherwise the last one
/// may run past its end (an `mdat` whose payload is not in the buffer).
pub fn walk(buf: &[u8], base: usize, exact: bool) -> Vec<Bx<'_>> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < buf.len() {
        assert!(pos + 8 <= buf.len(), "truncated box header at {}", base + pos);
        let mut size = u32::from_be_bytes(buf[pos..pos + 4].try_into().unwrap()) as u64;
        let typ: [u8; 4] = buf[pos + 4..pos + 8].try_into().unwrap();
        let mut header = 8;
        if size == 1 {
            size = u64::from_be_bytes(buf[pos + 8..pos + 16].try_into().unwrap());
            header = 16;
        }
        assert!(size >= header as u64, "box {typ:?} too small");
        let end = pos as u64 + size;
        if exact || end <= buf.len() as u64 {
            assert!(end <= buf.len() as u64, "box {typ:?} at {} overruns its parent", base + pos);
        }
        let body_end = end.min(buf.len() as u64) as usize;
        out.push(Bx { typ, at: base + pos, size, body: &buf[pos + header..body_end] });
        pos = body_end;
    }
    out
}

/// The top-level boxes of a file's head (the `mdat` payload may be missing).
pub fn top(buf: &[u8]) -> Vec<Bx<'_>> {
    walk(buf, 0, false)
}
