//! What a person reads: titles and messages of push notifications and e-mails, in English and German.
//!
//! `[server] language` picks the language (default English). Times are shown in the configured time zone;
//! camera names appear as configured. Texts are short because phones cut them off.

use kw_config::Language;

use crate::event::{EventKind, Phase};

/// A title and a message for one alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Text {
    pub title: String,
    pub message: String,
}

/// The title and message for `kind`/`phase` at `camera`; `when` is the local time already formatted;
/// `labels`: what object detection saw, best first (a start then reads "Person at front-door").
pub(crate) fn alert_text(
    lang: Language,
    kind: EventKind,
    phase: Phase,
    camera: &str,
    when: &str,
    labels: &[String],
) -> Text {
    if kind.is_motion() && !labels.is_empty() {
        return object_text(lang, phase, camera, when, labels);
    }
    use EventKind::*;
    use Phase::*;
    let (title, message) = match (lang, kind, phase) {
        (Language::En, Motion | CameraMotion, Start) => {
            (format!("Motion: {camera}"), format!("Motion detected at {camera} at {when}."))
        }
        (Language::En, Motion | CameraMotion, End) => {
            (format!("Motion ended: {camera}"), format!("Motion at {camera} (since {when}) has ended."))
        }
        (Language::En, CameraOffline, Start) => {
            (format!("Camera offline: {camera}"), format!("{camera} has not delivered video since {when}."))
        }
        (Language::En, CameraOffline, End) => {
            (format!("Camera back: {camera}"), format!("{camera} is delivering video again (offline since {when})."))
        }
        (Language::En, Storage, Start) => {
            ("Storage problem".to_string(), format!("Storage problem ({camera}) since {when}: check the recorder."))
        }
        (Language::En, Storage, End) => {
            ("Storage OK".to_string(), format!("The storage problem ({camera}) since {when} is resolved."))
        }
        (Language::De, Motion | CameraMotion, Start) => {
            (format!("Bewegung: {camera}"), format!("Bewegung bei {camera} erkannt, {when}."))
        }
        (Language::De, Motion | CameraMotion, End) => {
            (format!("Bewegung vorbei: {camera}"), format!("Die Bewegung bei {camera} (seit {when}) ist vorbei."))
        }
        (Language::De, CameraOffline, Start) => {
            (format!("Kamera offline: {camera}"), format!("{camera} liefert seit {when} kein Bild."))
        }
        (Language::De, CameraOffline, End) => {
            (format!("Kamera wieder da: {camera}"), format!("{camera} liefert wieder ein Bild (offline seit {when})."))
        }
        (Language::De, Storage, Start) => (
            "Speicherproblem".to_string(),
            format!("Speicherproblem ({camera}) seit {when}: bitte den Rekorder prüfen."),
        ),
        (Language::De, Storage, End) => (
            "Speicher wieder in Ordnung".to_string(),
            format!("Das Speicherproblem ({camera}) seit {when} ist behoben."),
        ),
    };
    Text { title, message }
}

/// A motion event in which objects were seen: named by what was seen ("Person, car at front-door").
fn object_text(lang: Language, phase: Phase, camera: &str, when: &str, labels: &[String]) -> Text {
    let names: Vec<String> = labels.iter().take(4).map(|l| translate(lang, l)).collect();
    let mut what = names.join(", ");
    if let Some(first) = what.get(..1) {
        what = first.to_uppercase() + &what[1..];
    }
    let (title, message) = match (lang, phase) {
        (Language::En, Phase::Start) => (format!("{what} at {camera}"), format!("{what} seen at {camera} at {when}.")),
        (Language::En, Phase::End) => {
            (format!("{what} gone: {camera}"), format!("{what} at {camera} (since {when}): the event has ended."))
        }
        (Language::De, Phase::Start) => {
            (format!("{what} bei {camera}"), format!("{what} bei {camera} erkannt, {when}."))
        }
        (Language::De, Phase::End) => {
            (format!("{what} weg: {camera}"), format!("{what} bei {camera} (seit {when}): das Ereignis ist vorbei."))
        }
    };
    Text { title, message }
}

/// A label in the language (the common ones; others as the model names them).
fn translate(lang: Language, label: &str) -> String {
    let de = match label {
        "person" => "Person",
        "car" => "Fahrzeug",
        "dog" => "Hund",
        "cat" => "Katze",
        "bird" => "Vogel",
        _ => label,
    };
    match lang {
        Language::En => label.to_owned(),
        Language::De => de.to_owned(),
    }
}

/// The title and message of a "send test" delivery.
pub(crate) fn test_text(lang: Language, notifier: &str) -> Text {
    match lang {
        Language::En => Text {
            title: "keepwatch test".to_string(),
            message: format!("This is a test of the notifier {notifier}. It works."),
        },
        Language::De => Text {
            title: "keepwatch-Test".to_string(),
            message: format!("Dies ist ein Test der Benachrichtigung {notifier}. Sie funktioniert."),
        },
    }
}

/// "Open" in the language, for links in e-mails.
pub(crate) fn open_label(lang: Language) -> &'static str {
    match lang {
        Language::En => "Snapshot",
        Language::De => "Schnappschuss",
    }
}

/// `2026-11-25 11:00:00 CET` in `tz`.
pub(crate) fn local_time(us: i64, tz: &jiff::tz::TimeZone) -> String {
    match jiff::Timestamp::from_microsecond(us) {
        Ok(t) => t.to_zoned(tz.clone()).strftime("%Y-%m-%d %H:%M:%S %Z").to_string(),
        Err(_) => us.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_combination_has_text() {
        for lang in [Language::En, Language::De] {
            for kind in EventKind::ALL {
                for phase in [Phase::Start, Phase::End] {
                    let t = alert_text(lang, kind, phase, "door", "now", &[]);
                    assert!(!t.title.is_empty() && t.message.contains("door"), "{t:?}");
                    let t = alert_text(lang, kind, phase, "door", "now", &["person".into(), "car".into()]);
                    assert!(!t.title.is_empty() && t.message.contains("door"), "{t:?}");
                }
            }
        }
        let t = alert_text(Language::En, EventKind::Motion, Phase::Start, "front-door", "now", &["person".into()]);
        assert_eq!(t.title, "Person at front-door");
        let t = alert_text(Language::De, EventKind::Motion, Phase::Start, "hof", "jetzt", &["car".into()]);
        assert_eq!(t.title, "Fahrzeug bei hof");
        let utc = jiff::tz::TimeZone::UTC;
        assert_eq!(local_time(1_795_600_800_000_000, &utc), "2026-11-25 10:00:00 UTC");
        let berlin = jiff::tz::TimeZone::get("Europe/Berlin").unwrap();
        assert_eq!(local_time(1_795_600_800_000_000, &berlin), "2026-11-25 11:00:00 CET");
    }
}
