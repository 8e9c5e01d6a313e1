//! Class names and the labels keepwatch reports.
//!
//! A model scores its own classes (the shipped one: the 80 of COCO). keepwatch reports a smaller set of
//! **labels** a user cares about. The decision: the road vehicles (`bicycle`, `car`, `motorcycle`, `bus`,
//! `truck`) are reported as one label, `car` ("a vehicle"), because a doorbell camera's owner wants "a
//! vehicle arrived", and small models confuse car, truck and bus often. A user who wants a finer label
//! names it in `track` (e.g. `["person", "car", "truck"]`): then a truck is reported as `truck`, and the
//! other vehicles still as `car`. Every other class is reported by its own name (`person`, `dog`, `cat`,
//! `bird`, and any COCO name, such as `horse` or `backpack`). [`Tracked`] holds that choice.

use std::sync::Arc;

use crate::Error;

/// The 80 COCO class names, in the order COCO-trained detectors (NanoDet, YOLO) score them.
pub const COCO: [&str; 80] = [
    "person",
    "bicycle",
    "car",
    "motorcycle",
    "airplane",
    "bus",
    "train",
    "truck",
    "boat",
    "traffic light",
    "fire hydrant",
    "stop sign",
    "parking meter",
    "bench",
    "bird",
    "cat",
    "dog",
    "horse",
    "sheep",
    "cow",
    "elephant",
    "bear",
    "zebra",
    "giraffe",
    "backpack",
    "umbrella",
    "handbag",
    "tie",
    "suitcase",
    "frisbee",
    "skis",
    "snowboard",
    "sports ball",
    "kite",
    "baseball bat",
    "baseball glove",
    "skateboard",
    "surfboard",
    "tennis racket",
    "bottle",
    "wine glass",
    "cup",
    "fork",
    "knife",
    "spoon",
    "bowl",
    "banana",
    "apple",
    "sandwich",
    "orange",
    "broccoli",
    "carrot",
    "hot dog",
    "pizza",
    "donut",
    "cake",
    "chair",
    "couch",
    "potted plant",
    "bed",
    "dining table",
    "toilet",
    "tv",
    "laptop",
    "mouse",
    "remote",
    "keyboard",
    "cell phone",
    "microwave",
    "oven",
    "toaster",
    "sink",
    "refrigerator",
    "book",
    "clock",
    "vase",
    "scissors",
    "teddy bear",
    "hair drier",
    "toothbrush",
];

/// The classes reported as `car` unless tracked by their own name.
pub const VEHICLES: [&str; 5] = ["bicycle", "car", "motorcycle", "bus", "truck"];

/// The labels tracked when the user says nothing.
pub const DEFAULT_TRACK: [&str; 5] = ["person", "car", "dog", "cat", "bird"];

/// The label a class is reported as when its own name is not tracked.
pub fn group(class: &str) -> &str {
    if VEHICLES.contains(&class) {
        "car"
    } else {
        class
    }
}

/// The labels a user tracks (config `track = [...]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tracked {
    names: Vec<Arc<str>>,
}

impl Default for Tracked {
    fn default() -> Self {
        Tracked::new(DEFAULT_TRACK)
    }
}

impl Tracked {
    /// Tracks these labels (a group name such as `car`, or a class name).
    pub fn new<S: AsRef<str>>(names: impl IntoIterator<Item = S>) -> Tracked {
        let mut v: Vec<Arc<str>> = Vec::new();
        for n in names {
            let n = n.as_ref().trim();
            if !n.is_empty() && !v.iter().any(|x| &**x == n) {
                v.push(Arc::from(n));
            }
        }
        Tracked { names: v }
    }

    /// The tracked labels.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.names.iter().map(|n| &**n)
    }

    /// The label `class` is reported as, or `None` when it is not tracked: its own name when tracked,
    /// else its group's ([`group`]).
    pub fn label_of(&self, class: &str) -> Option<Arc<str>> {
        if let Some(n) = self.names.iter().find(|n| &***n == class) {
            return Some(n.clone());
        }
        let g = group(class);
        self.names.iter().find(|n| &***n == g).cloned()
    }

    /// The tracked names that no class of `classes` can be reported as (a typo in the config, or a label
    /// the model does not know), so the caller can say so.
    pub fn unknown<'a>(&'a self, classes: &'a [Arc<str>]) -> Vec<&'a str> {
        self.names().filter(|n| !classes.iter().any(|c| &**c == *n || group(c) == *n)).collect()
    }
}

/// The most a labels file may hold.
pub const MAX_LABELS_BYTES: usize = 1 << 20;
/// The most classes a model may have.
pub const MAX_CLASSES: usize = 10_000;

/// A labels file: one class name per line, in the model's class order (as `coco.names`); surrounding
/// blanks are trimmed, trailing empty lines ignored; an empty line inside is an error (it would shift every
/// following class).
pub fn parse_labels(text: &str) -> Result<Vec<Arc<str>>, Error> {
    if text.len() > MAX_LABELS_BYTES {
        return Err(Error::Labels(format!("{} bytes, at most {MAX_LABELS_BYTES}", text.len())));
    }
    let lines: Vec<&str> = text.trim_end().lines().map(str::trim).collect();
    if lines.is_empty() || lines == [""] {
        return Err(Error::Labels("no class names".into()));
    }
    if lines.len() > MAX_CLASSES {
        return Err(Error::Labels(format!("{} classes, at most {MAX_CLASSES}", lines.len())));
    }
    if let Some(i) = lines.iter().position(|l| l.is_empty()) {
        return Err(Error::Labels(format!("line {} is empty (one class name per line, in the model's order)", i + 1)));
    }
    if let Some(l) = lines.iter().find(|l| l.len() > 100 || l.chars().any(char::is_control)) {
        return Err(Error::Labels(format!(
            "{:?}: a class name is at most 100 printable characters",
            l.chars().take(40).collect::<String>()
        )));
    }
    Ok(lines.into_iter().map(Arc::from).collect())
}

/// The COCO names as the crate's class list.
pub fn coco() -> Vec<Arc<str>> {
    COCO.iter().map(|&s| Arc::from(s)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vehicles_are_cars_unless_tracked_by_name() {
        let t = Tracked::default();
        assert_eq!(t.label_of("truck").as_deref(), Some("car"));
        assert_eq!(t.label_of("bicycle").as_deref(), Some("car"));
        assert_eq!(t.label_of("person").as_deref(), Some("person"));
        assert_eq!(t.label_of("bird").as_deref(), Some("bird"));
        assert_eq!(t.label_of("cup"), None);
        assert_eq!(t.label_of("horse"), None);

        let fine = Tracked::new(["car", "truck", "horse"]);
        assert_eq!(fine.label_of("truck").as_deref(), Some("truck"));
        assert_eq!(fine.label_of("bus").as_deref(), Some("car"));
        assert_eq!(fine.label_of("horse").as_deref(), Some("horse"));
        assert_eq!(fine.label_of("person"), None);

        let only_trucks = Tracked::new(["truck"]);
        assert_eq!(only_trucks.label_of("car"), None);
    }

    #[test]
    fn unknown_tracked_names_are_found() {
        let t = Tracked::new(["person", "car", "persn", " "]);
        assert_eq!(t.names().count(), 3, "blank names dropped");
        assert_eq!(t.unknown(&coco()), vec!["persn"]);
    }

    #[test]
    fn coco_names_are_in_scoring_order() {
        assert_eq!(
            (COCO[0], COCO[2], COCO[14], COCO[15], COCO[16], COCO[79]),
            ("person", "car", "bird", "cat", "dog", "toothbrush")
        );
    }

    #[test]
    fn labels_files_are_checked() {
        let l = parse_labels("person\r\n  car \nfox\n\n").unwrap();
        assert_eq!(l.iter().map(|s| &**s).collect::<Vec<_>>(), vec!["person", "car", "fox"]);
        assert!(matches!(parse_labels(""), Err(Error::Labels(_))));
        assert!(matches!(parse_labels("\n\n"), Err(Error::Labels(_))));
        let e = parse_labels("a\n\nb").unwrap_err();
        assert!(e.to_string().contains("line 2"), "{e}");
        assert!(parse_labels(&"x\n".repeat(MAX_CLASSES + 1)).is_err());
        assert!(parse_labels(&"x".repeat(101)).is_err());
        assert!(parse_labels("a\u{7}b").is_err());
    }
}
