//! A segment file (`.kws`) as a crash, a bad disk or a tampering hand may leave it: the scanner that
//! recovery and `check` share reads its header and frame records. Property: never panics, and the valid
//! prefix it reports is within the file and made of whole frames.
#![no_main]
use kw_store::ReadAt;
use libfuzzer_sys::fuzz_target;

struct Bytes<'a>(&'a [u8]);

impl ReadAt for Bytes<'_> {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        let start = usize::try_from(offset).map_err(|_| std::io::ErrorKind::UnexpectedEof)?;
        let end = start.checked_add(buf.len()).ok_or(std::io::ErrorKind::UnexpectedEof)?;
        let src = self.0.get(start..end).ok_or(std::io::ErrorKind::UnexpectedEof)?;
        buf.copy_from_slice(src);
        Ok(())
    }
}

fuzz_target!(|data: &[u8]| {
    let len = data.len() as u64;
    if let Ok(Ok(scan)) = kw_store::scan(&Bytes(data), len) {
        assert!(scan.valid_len <= len);
        for f in &scan.frames {
            assert!(f.data_offset + u64::from(f.size) <= scan.valid_len, "a frame past the valid prefix");
        }
    }
    let _ = kw_store::frame_index::decode(data);
});
