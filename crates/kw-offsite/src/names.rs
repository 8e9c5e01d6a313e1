//! Object names on the target. They are visible to the storage provider, so they say only what the
//! owner allows: the camera and the event's start time (enough to find a clip without decrypting), or,
//! with `hide_names = true`, nothing at all (a random name; the time on the target is the upload's).

use crate::queue::Part;

/// The name of one event's part, relative to the target's root.
pub fn object_name(hide: bool, camera: &str, event_start_us: i64, event_id: i64, part: Part) -> String {
    if hide {
        return format!("{}.age", uuid::Uuid::new_v4().simple());
    }
    let when = time::OffsetDateTime::from_unix_timestamp(event_start_us.div_euclid(1_000_000))
        .ok()
        .and_then(|t| t.format(time::macros::format_description!("[year][month][day]T[hour][minute][second]Z")).ok())
        .unwrap_or_else(|| "unknown".into());
    let camera = if camera.is_empty() { "none" } else { camera };
    format!("{camera}/{when}-{event_id}-{}.{}.age", part.as_str(), part.ext())
}

/// Whether `name` (relative to the root) could be one of ours: only those are ever deleted by retention.
pub fn is_ours(name: &str) -> bool {
    name.ends_with(".age") && !name.contains("..") && name.split('/').count() <= 2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_hidden() {
        let n = object_name(false, "front-door", 1_764_763_200_000_000, 42, Part::Clip);
        assert_eq!(n, "front-door/20251203T120000Z-42-clip.mp4.age");
        let h = object_name(true, "front-door", 1_764_763_200_000_000, 42, Part::Picture);
        assert!(!h.contains("front") && !h.contains("2025") && h.ends_with(".age") && h.len() == 36, "{h}");
        assert!(is_ours(&n) && is_ours(&h) && !is_ours("notes.txt") && !is_ours("a/b/c.age"));
    }
}
