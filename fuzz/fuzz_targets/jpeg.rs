//! A camera's JPEG (MJPEG and snapshot cameras): decoded to I420 at the camera's size or a configured one.
//! Properties: never panics; nothing is allocated for a picture beyond the pixel cap; the output has the
//! size asked for.
#![no_main]
use kw_codec::{jpeg, I420};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (knob, jpeg_bytes) = data.split_first().map(|(k, r)| (*k, r)).unwrap_or((0, data));
    let mut scratch = Vec::new();
    let mut out = I420::default();
    let size = move |w: usize, h: usize| match knob % 3 {
        0 => (w, h),
        1 => (w / 2, h / 2),
        _ => (usize::from(knob) * 8, usize::from(knob) * 6),
    };
    if jpeg::decode_to_i420(jpeg_bytes, size, &mut scratch, &mut out).is_ok() {
        assert_eq!(out.data.len(), out.width * out.height + 2 * (out.width / 2) * (out.height / 2));
        assert!(out.width * out.height <= jpeg::MAX_PIXELS);
    }
    assert!(scratch.len() <= jpeg::MAX_PIXELS * 3, "decoded more than the cap allows");
});
