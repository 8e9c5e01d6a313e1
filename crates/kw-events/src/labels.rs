//! [`Label`]: what object detection saw during an event ("person", 0.82, its box), kept with the event.
//!
//! Why a list and not a kind: an event is still one stretch of activity on a camera (its start, end and
//! picture come from motion); the labels say what was in it. A person and a car in one event are two
//! labels; the same person seen many times is one (the best score and its box are kept).

use serde::{Deserialize, Serialize};

/// The most labels kept per event (one per label name; COCO has 80 classes, keepwatch groups them).
pub const MAX_LABELS: usize = 16;
/// The longest label name kept (a user's labels file may have long ones).
pub const MAX_LABEL_CHARS: usize = 64;

/// One object seen during an event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Label {
    /// `person`, `car`, `dog`, ... (keepwatch's label, see kw-objects).
    pub label: String,
    /// 0..1, the best seen.
    pub score: f64,
    /// `[x, y, w, h]` in 0..1 of the event's picture, of the best sighting.
    #[serde(rename = "box")]
    pub bbox: [f64; 4],
}

impl Label {
    /// A label with its values made safe to store: the name cut to [`MAX_LABEL_CHARS`], score and box
    /// clamped to 0..1 (NaN → 0).
    pub fn new(label: &str, score: f64, bbox: [f64; 4]) -> Label {
        let unit = |v: f64| if v.is_finite() { v.clamp(0.0, 1.0) } else { 0.0 };
        Label {
            label: label.chars().take(MAX_LABEL_CHARS).collect(),
            score: (unit(score) * 1000.0).round() / 1000.0,
            bbox: bbox.map(|v| (unit(v) * 10_000.0).round() / 10_000.0),
        }
    }
}

/// `into` with `more` merged in: one entry per label name, the better score (and its box) kept; at most
/// [`MAX_LABELS`]. Returns whether a label name was new.
pub fn merge(into: &mut Vec<Label>, more: &[Label]) -> bool {
    let mut added = false;
    for m in more {
        match into.iter().position(|l| l.label == m.label) {
            Some(i) if m.score > into[i].score => into[i] = m.clone(),
            Some(_) => {}
            None if into.len() < MAX_LABELS => {
                into.push(m.clone());
                added = true;
            }
            None => {}
        }
    }
    added
}

/// The stored text of a list (`NULL` for none).
pub(crate) fn to_json(labels: &[Label]) -> Option<String> {
    (!labels.is_empty()).then(|| serde_json::to_string(labels).unwrap_or_else(|_| "[]".into()))
}

/// A stored list; anything unreadable is no labels (the column is ours, but never panic on a file).
pub(crate) fn from_json(text: Option<&str>) -> Vec<Label> {
    text.and_then(|t| serde_json::from_str::<Vec<Label>>(t).ok()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_keeps_one_per_name_and_the_best() {
        let mut v = vec![Label::new("person", 0.5, [0.1, 0.1, 0.2, 0.4])];
        assert!(!merge(&mut v, &[Label::new("person", 0.4, [0.0; 4])]));
        assert_eq!(v[0].score, 0.5);
        assert!(!merge(&mut v, &[Label::new("person", 0.9, [0.2, 0.1, 0.2, 0.4])]));
        assert_eq!((v[0].score, v[0].bbox[0]), (0.9, 0.2));
        assert!(merge(&mut v, &[Label::new("car", 0.7, [0.5, 0.5, 0.3, 0.2])]));
        assert_eq!(v.len(), 2);
        for i in 0..40 {
            merge(&mut v, &[Label::new(&format!("l{i}"), 0.5, [0.0; 4])]);
        }
        assert_eq!(v.len(), MAX_LABELS);
    }

    #[test]
    fn values_are_bounded_and_json_is_the_contract() {
        let l = Label::new(&"x".repeat(500), f64::NAN, [-1.0, 2.0, 0.5, f64::INFINITY]);
        assert_eq!(l.label.len(), MAX_LABEL_CHARS);
        assert_eq!((l.score, l.bbox), (0.0, [0.0, 1.0, 0.5, 0.0]));
        let j = to_json(&[Label::new("person", 0.8123, [0.1, 0.2, 0.3, 0.4])]).unwrap();
        assert_eq!(j, r#"[{"label":"person","score":0.812,"box":[0.1,0.2,0.3,0.4]}]"#);
        assert_eq!(from_json(Some(&j))[0].label, "person");
        assert!(from_json(Some("garbage")).is_empty() && from_json(None).is_empty() && to_json(&[]).is_none());
    }
}
