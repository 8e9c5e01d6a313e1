//! H.264/H.265 NAL helpers on camera bytes: splitting, converting both ways, parameter sets, key frames.
//! Property: never panics; a length-prefixed unit that converts to Annex B converts back to the same bytes.
#![no_main]
use kw_media::nal;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = nal::iter_avc(data).count();
    let units = nal::iter_annexb(data);
    let _ = nal::split_h264_annexb(data);
    let _ = nal::h264_is_idr(data);
    let _ = nal::h265_is_irap(data);
    let _ = nal::h264_rfc6381(data);
    let _ = nal::avcc_parameter_sets_annexb(data);
    if let Some(avcc) = units.first().zip(units.get(1)).and_then(|(s, p)| nal::avcc_from_sps_pps(s, p)) {
        assert!(nal::avcc_parameter_sets_annexb(&avcc).is_ok(), "an avcC we built must read back");
    }
    let mut annexb = Vec::new();
    if nal::avc_to_annexb(data, &mut annexb).is_ok() {
        // Units without trailing zero bytes survive the round trip exactly.
        if nal::iter_avc(data).all(|u| u.last() != Some(&0) && !u.windows(3).any(|w| w == [0, 0, 1])) {
            assert_eq!(nal::annexb_to_avc(&annexb), data);
        }
    }
});
