//! keepwatch's codecs: the one crate that turns compressed pictures into pixels and back.
//!
//! Why a crate of its own: recording never decodes (ARCHITECTURE.md), so decoding and encoding are a
//! separate room that the recorder does not link. Four parts of keepwatch need pictures: snapshots
//! (decode a GOP, encode a JPEG), motion detection (decode key frames and, on suspicion, every frame),
//! MJPEG/JPEG cameras (decode JPEG, encode H.264) and the demo camera (encode H.264). They all go through
//! these types, so openh264 and the JPEG libraries are driven in one place, with one error type.
//!
//! - [`H264Decoder`]: length-prefixed access units (keepwatch's stored form) in, [`Picture`]s out.
//! - [`H264Encoder`]: [`I420`] pictures in, access units in stored form plus SPS/PPS out.
//! - [`jpeg`]: a camera's JPEG to [`I420`] (bounded before anything is allocated), and RGB to JPEG.
//! - [`jpeg_from_frames`]: a GOP's frames to a JPEG of the last one (snapshots, probes).
//!
//! The decoder and encoder are openh264, built from source (no system library), chosen because it
//! builds everywhere keepwatch does; libavcodec is ~3× faster at decoding but is a system library.

mod decode;
mod encode;
mod error;
pub mod jpeg;
mod picture;
mod still;

pub use decode::{H264Decoder, Picture};
pub use encode::{EncodedFrame, EncoderSettings, H264Encoder, RateControl};
pub use error::{codec_name, CodecError};
pub use picture::{Rgb, I420};
pub use still::{jpeg_from_frames, MAX_DECODE_FRAMES};
