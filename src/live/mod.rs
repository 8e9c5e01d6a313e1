//! Live view: a camera's hub events as fragmented MP4, for the WebSocket route and for HLS.
//!
//! Why this is its own module, apart from `http`: both live outputs need the same work — an init segment
//! per run, one `moof`+`mdat` per frame, and one continuous decode timeline across the things a live
//! subscriber sees (a run change, a skip to the next key frame after falling behind) — and none of it is
//! HTTP. [`fragmenter`] does that work once per subscriber; [`segmenter`] groups its fragments into HLS
//! segments for one camera, shared by every HLS viewer of that camera.
//!
//! Why per-frame fragments: a fragment can be sent the moment its frame arrives (no waiting for the rest
//! of a GOP), which is what keeps the WebSocket view sub-second; HLS segments are simply runs of such
//! fragments from one key frame to the next (a CMAF segment made of chunks), so one code path serves both.

pub mod fragmenter;
pub mod segmenter;

pub use fragmenter::{Fragmenter, Output};

/// The hub queue for a new live subscriber: at least `min` events, and always room for the buffered GOP it
/// starts with (video plus, with audio, about two audio frames per video frame) twice over, so a viewer of a
/// camera with long GOPs is not skipped ahead before it has seen its first frame. Capped, so memory per
/// subscriber stays bounded.
pub fn queue_for(hub: &crate::hub::Hub, min: usize) -> usize {
    let gop = hub.current_gop().map_or(0, |(_, frames)| frames.len());
    min.max(gop.saturating_mul(6)).min(4096)
}
