//! One error for every codec operation, typed by what the caller does about it: [`CodecError::NoDecoder`]
//! asks for another stream (an H.264 sub-stream), the others are bad input or a codec failure, with the
//! exact reason in their text.

use kw_media::Codec;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// The stream's codec cannot be decoded here (keepwatch decodes H.264 only).
    #[error("no {} decoder (keepwatch decodes only H.264)", codec_name(*.0))]
    NoDecoder(Codec),
    /// The input is malformed (lengths that do not add up, a bad `avcC`, a JPEG too large or broken).
    #[error("{0}")]
    BadInput(String),
    /// The decoder failed on the input, or produced no picture.
    #[error("{0}")]
    Decode(String),
    /// The encoder failed.
    #[error("{0}")]
    Encode(String),
}

/// The name people use for a codec (`H.265`).
pub fn codec_name(codec: Codec) -> &'static str {
    match codec {
        Codec::H264 => "H.264",
        Codec::H265 => "H.265",
        other => other.as_str(),
    }
}
