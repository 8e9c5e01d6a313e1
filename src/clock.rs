//! The clock seam now lives in `kw_media::clock`; this re-export keeps `crate::clock` paths working.
pub use kw_media::clock::*;
