//! [`H264Decoder`]: decodes keepwatch's stored form of H.264 (length-prefixed access units, SPS/PPS in
//! the run's `avcC`) with openh264, which wants an Annex B byte stream; the conversion is strict (see
//! `kw_media::nal::avc_to_annexb`), so a malformed frame is an error, never a panic.
//!
//! Why it drives openh264 through its raw interface: streams with B-frames (libx264's default, some
//! cameras) are sent in decode order and shown in presentation order, so the decoder holds pictures back
//! and hands them out later, in another order. Two things of the `openh264` crate's convenience layer break
//! that: by default it *flushes* after every access unit that produced no picture, which releases held
//! pictures early and leaves the decoder's reference counting in a state where most later frames fail
//! (measured on a libx264 640×360 clip with B-frames: 164 of 200 access units failed, mostly with
//! `dsOutOfMemory` = 16384, then `dsNoParamSets`; without the flush all 200 decode, in presentation
//! order, identical to ffmpeg's frames), and it cannot say which access unit a picture belongs to. Here every
//! access unit carries the caller's tag through openh264's own time stamp field, pictures come back with
//! it, and the held pictures are taken out only at the end of a run ([`H264Decoder::drain`]), never in
//! the middle (flushing mid-stream breaks the following frames the same way).

use crate::{CodecError, Rgb, I420};
use kw_media::{nal, Codec, StreamParams};
use openh264::decoder::{Decoder, DecoderConfig, Flush};
use openh264::OpenH264API;
use openh264_sys2::{videoFormatI420, SBufferInfo};

/// One stream's decoder. Feed it access units in decode order, starting at a key frame; it answers the
/// pictures in presentation order, each with the tag of the access unit it came from.
pub struct H264Decoder {
    /// `None` before the first access unit and after [`H264Decoder::drain`] or an error: the next access
    /// unit must be a key frame and starts a new decoder.
    dec: Option<Decoder>,
    /// The run's SPS and PPS as Annex B, sent before every key frame.
    params: Vec<u8>,
    annexb: Vec<u8>,
    /// Whether the end of stream was signalled to the current decoder (draining).
    ended: bool,
}

/// A decoded picture, borrowed from its decoder until the next call.
pub struct Picture<'a> {
    y: &'a [u8],
    u: &'a [u8],
    v: &'a [u8],
    width: usize,
    height: usize,
    stride_y: usize,
    stride_uv: usize,
    tag: i64,
}

impl Picture<'_> {
    /// Width and height in pixels.
    pub fn dimensions(&self) -> (usize, usize) {
        (self.width, self.height)
    }

    /// The luma plane and its row stride.
    pub fn luma(&self) -> (&[u8], usize) {
        (self.y, self.stride_y)
    }

    /// The tag given with the access unit this picture was decoded from.
    pub fn tag(&self) -> i64 {
        self.tag
    }

    pub fn to_rgb(&self) -> Result<Rgb, CodecError> {
        Rgb::from_planes(self.width, self.height, (self.y, self.u, self.v), (self.stride_y, self.stride_uv))
    }

    /// A copy that outlives the decoder (an odd last row or column is left out: [`I420`] has even sides).
    /// Cheaper than [`Picture::to_rgb`]: keep pictures this way and convert the one that is needed.
    pub fn to_i420(&self) -> I420 {
        let (w, h) = (self.width & !1, self.height & !1);
        let mut out = I420::new(w, h);
        let (cw, ch) = (w / 2, h / 2);
        let (luma, chroma) = out.data.split_at_mut(w * h);
        let (u, v) = chroma.split_at_mut(cw * ch);
        for row in 0..h {
            luma[row * w..(row + 1) * w].copy_from_slice(&self.y[row * self.stride_y..row * self.stride_y + w]);
        }
        for row in 0..ch {
            let at = row * self.stride_uv;
            u[row * cw..(row + 1) * cw].copy_from_slice(&self.u[at..at + cw]);
            v[row * cw..(row + 1) * cw].copy_from_slice(&self.v[at..at + cw]);
        }
        out
    }
}

/// openh264's `DECODING_STATE` bits, named for error messages.
fn state_name(state: i64) -> String {
    const NAMES: [(i64, &str); 11] = [
        (0x01, "frame pending"),
        (0x02, "reference lost"),
        (0x04, "bitstream error"),
        (0x08, "dependent layer lost"),
        (0x10, "no parameter sets"),
        (0x20, "data error concealed"),
        (0x40, "reference list null"),
        (0x1000, "invalid argument"),
        (0x2000, "not initialised"),
        (0x4000, "out of memory"),
        (0x8000, "output buffer too small"),
    ];
    let names: Vec<&str> = NAMES.iter().filter(|(bit, _)| state & bit != 0).map(|(_, n)| *n).collect();
    let what = if names.is_empty() { "unknown".to_owned() } else { names.join(", ") };
    format!("openh264 decoding state {state} ({what})")
}

impl H264Decoder {
    /// A decoder for a stream with these parameters; [`CodecError::NoDecoder`] unless it is H.264.
    pub fn new(params: &StreamParams) -> Result<H264Decoder, CodecError> {
        if params.codec != Codec::H264 {
            return Err(CodecError::NoDecoder(params.codec));
        }
        let sets = nal::avcc_parameter_sets_annexb(&params.extra).map_err(CodecError::BadInput)?;
        Ok(H264Decoder { dec: None, params: sets, annexb: Vec::new(), ended: false })
    }

    /// Whether the next access unit must be a key frame (nothing fed yet, drained, or after an error).
    pub fn wants_key_frame(&self) -> bool {
        self.dec.is_none()
    }

    /// Feeds one access unit in decode order (`key`: it starts a GOP, so the parameter sets go first).
    /// Answers the picture the decoder finished now, if any: with B-frames that is often the picture of an
    /// earlier access unit (see [`Picture::tag`]), and the last pictures of a run come out of
    /// [`H264Decoder::drain`]. After an error the decoder waits for the next key frame.
    pub fn push(&mut self, au: &[u8], key: bool, tag: i64) -> Result<Option<Picture<'_>>, CodecError> {
        if self.dec.is_none() || self.ended {
            if !key {
                return Err(CodecError::BadInput("the decoder waits for a key frame".into()));
            }
            let config = DecoderConfig::new().flush_after_decode(Flush::NoFlush);
            let dec = Decoder::with_api_config(OpenH264API::from_source(), config)
                .map_err(|e| CodecError::Decode(format!("cannot start the H.264 decoder: {e}")))?;
            self.dec = Some(dec);
            self.ended = false;
        }
        self.annexb.clear();
        if key {
            self.annexb.extend_from_slice(&self.params);
        }
        if let Err(e) = nal::avc_to_annexb(au, &mut self.annexb) {
            self.dec = None;
            return Err(CodecError::BadInput(e));
        }
        if self.annexb.is_empty() {
            return Ok(None);
        }
        let len = i32::try_from(self.annexb.len())
            .map_err(|_| CodecError::BadInput(format!("an access unit of {} bytes", self.annexb.len())))?;
        let mut dst = [std::ptr::null_mut::<u8>(); 3];
        let mut info = SBufferInfo { uiInBsTimeStamp: tag as u64, ..SBufferInfo::default() };
        let Some(dec) = self.dec.as_mut() else { return Ok(None) };
        // SAFETY: the decoder is initialised (it lives in `dec`); `annexb` outlives the call and `len` is
        // its length; `dst` and `info` are valid for writes. openh264 copies what it keeps of the input.
        let state =
            unsafe { dec.raw_api().decode_frame_no_delay(self.annexb.as_ptr(), len, dst.as_mut_ptr(), &mut info) };
        if state != 0 {
            self.dec = None;
            return Err(CodecError::Decode(state_name(i64::from(state))));
        }
        self.picture(&dst, &info)
    }

    /// The pictures the decoder still holds at the end of a run, one per call in presentation order;
    /// `Ok(None)` when none is left, and the decoder then starts afresh at the next key frame. Use it at the
    /// end of a run of access units only: openh264 cannot hand out held pictures in the middle of one.
    pub fn drain(&mut self) -> Result<Option<Picture<'_>>, CodecError> {
        let Some(dec) = self.dec.as_mut() else { return Ok(None) };
        let mut dst = [std::ptr::null_mut::<u8>(); 3];
        let mut info = SBufferInfo::default();
        if !self.ended {
            self.ended = true;
            // An empty input tells openh264 the stream ended; it may answer a picture at once.
            // SAFETY: as in `push`; a null input of length 0 is openh264's end of stream.
            let state =
                unsafe { dec.raw_api().decode_frame_no_delay(std::ptr::null(), 0, dst.as_mut_ptr(), &mut info) };
            if state != 0 {
                self.dec = None;
                return Err(CodecError::Decode(state_name(i64::from(state))));
            }
        }
        if info.iBufferStatus != 1 {
            let Some(dec) = self.dec.as_mut() else { return Ok(None) };
            // SAFETY: as above; FlushFrame writes one held picture (or none) to `dst` and `info`.
            unsafe { dec.raw_api().flush_frame(dst.as_mut_ptr(), &mut info) };
        }
        if info.iBufferStatus != 1 {
            self.dec = None;
            return Ok(None);
        }
        self.picture(&dst, &info)
    }

    /// The picture openh264 answered in `dst`/`info`, checked before any slice is made of it.
    fn picture(&self, dst: &[*mut u8; 3], info: &SBufferInfo) -> Result<Option<Picture<'_>>, CodecError> {
        if info.iBufferStatus != 1 || dst.iter().any(|p| p.is_null()) {
            return Ok(None);
        }
        // SAFETY: with iBufferStatus 1 openh264 fills the system-buffer variant of the union.
        let b = unsafe { info.UsrData.sSystemBuffer };
        let dims = (usize::try_from(b.iWidth), usize::try_from(b.iHeight));
        let strides = (usize::try_from(b.iStride[0]), usize::try_from(b.iStride[1]));
        let (Ok(width), Ok(height), Ok(stride_y), Ok(stride_uv)) = (dims.0, dims.1, strides.0, strides.1) else {
            return Err(CodecError::Decode(format!("the decoder answered a picture of {}x{}", b.iWidth, b.iHeight)));
        };
        let odd = |n: usize| n.div_ceil(2);
        if b.iFormat != videoFormatI420
            || width == 0
            || height == 0
            || stride_y < width
            || stride_uv < odd(width)
            || height.checked_mul(stride_y).is_none()
        {
            return Err(CodecError::Decode(format!(
                "the decoder answered a picture of {width}x{height} (strides {stride_y}/{stride_uv}, format {})",
                b.iFormat
            )));
        }
        // SAFETY: openh264 answered planes of `height` rows of `stride_y` bytes (luma) and half as many
        // rows of `stride_uv` bytes (chroma, rounded up: its buffers are padded); they stay valid and
        // unchanged until the next call on this decoder, which the borrow of `self` prevents.
        let (y, u, v) = unsafe {
            (
                std::slice::from_raw_parts(dst[0], height * stride_y),
                std::slice::from_raw_parts(dst[1], odd(height) * stride_uv),
                std::slice::from_raw_parts(dst[2], odd(height) * stride_uv),
            )
        };
        let tag = info.uiOutYuvTimeStamp as i64;
        Ok(Some(Picture { y, u, v, width, height, stride_y, stride_uv, tag }))
    }
}
