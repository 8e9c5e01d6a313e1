//! The `objects` part of a camera's settings in the editing API (`GET /api/cameras/{name}/config`, `POST`,
//! `PUT`): object detection on, what to track, how sure, what alerts. Kept out of `camera_admin` so that
//! file stays about the camera itself. The model path is not editable here (a file on the server is the
//! administrator's business, in the config file).

use super::ApiError;
use kw_config::{AlertOn, ObjectsConfig};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `[cameras.objects]` as the UI shows and sends it; keys left out keep their value.
#[derive(Serialize, Deserialize, ToSchema, Default)]
pub struct ObjectsSettings {
    pub enabled: Option<bool>,
    /// Labels that count: `person`, `car`, `dog`, `cat`, `bird`, ...
    pub track: Option<Vec<String>>,
    /// 0.05..1
    pub min_score: Option<f64>,
    /// `objects` or `motion`
    pub alert_on: Option<String>,
    /// Inferences per second for this camera, 0.1..30
    pub max_per_second: Option<f64>,
    /// Read only: the user's own model, when the config names one (else the shipped one runs).
    #[serde(default, skip_deserializing)]
    pub model: Option<String>,
}

pub fn settings(o: &ObjectsConfig) -> ObjectsSettings {
    ObjectsSettings {
        enabled: Some(o.enabled),
        track: Some(o.track.clone()),
        min_score: Some(o.min_score),
        alert_on: Some(o.alert_on.as_str().to_owned()),
        max_per_second: Some(o.max_per_second),
        model: o.model.as_ref().map(|p| p.display().to_string()),
    }
}

/// Applies `form` to `cur`, checking each value; the config's own validation runs again when it is saved.
pub fn apply(cur: &mut ObjectsConfig, form: ObjectsSettings) -> Result<(), ApiError> {
    if let Some(e) = form.enabled {
        cur.enabled = e;
    }
    if let Some(track) = form.track {
        let ok = |l: &str| {
            !l.is_empty()
                && l.len() <= 64
                && l.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b" -_".contains(&b))
        };
        if track.is_empty() || track.len() > ObjectsConfig::MAX_TRACK || !track.iter().all(|l| ok(l)) {
            return Err(ApiError::bad_field(
                "objects.track",
                "objects.track: one to 32 labels such as person, car (lowercase letters, digits, space, - or _)",
            ));
        }
        let mut unique: Vec<String> = Vec::new();
        for l in track {
            if !unique.contains(&l) {
                unique.push(l);
            }
        }
        cur.track = unique;
    }
    if let Some(s) = form.min_score {
        if !(0.05..=1.0).contains(&s) {
            return Err(ApiError::bad_field("objects.min_score", "objects.min_score: must be between 0.05 and 1"));
        }
        cur.min_score = s;
    }
    if let Some(a) = form.alert_on.as_deref() {
        cur.alert_on = a.parse::<AlertOn>().map_err(|_| {
            ApiError::bad_field(
                "objects.alert_on",
                format!("objects.alert_on: expected objects or motion, found {a:?}"),
            )
        })?;
    }
    if let Some(r) = form.max_per_second {
        if !(0.1..=30.0).contains(&r) {
            return Err(ApiError::bad_field(
                "objects.max_per_second",
                "objects.max_per_second: must be between 0.1 and 30",
            ));
        }
        cur.max_per_second = r;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_round_trip_and_bad_values_name_their_field() {
        let mut o = ObjectsConfig::default();
        let form = ObjectsSettings {
            enabled: Some(true),
            track: Some(vec!["person".into(), "person".into(), "car".into()]),
            min_score: Some(0.6),
            alert_on: Some("motion".into()),
            max_per_second: Some(1.0),
            model: Some("ignored".into()),
        };
        apply(&mut o, form).unwrap();
        assert_eq!(
            (o.enabled, o.track.clone(), o.min_score, o.alert_on),
            (true, vec!["person".into(), "car".into()], 0.6, AlertOn::Motion)
        );
        assert_eq!(settings(&o).track.unwrap().len(), 2);
        for bad in [
            ObjectsSettings { min_score: Some(3.0), ..Default::default() },
            ObjectsSettings { track: Some(vec![]), ..Default::default() },
            ObjectsSettings { track: Some(vec!["Person!".into()]), ..Default::default() },
            ObjectsSettings { alert_on: Some("always".into()), ..Default::default() },
            ObjectsSettings { max_per_second: Some(0.0), ..Default::default() },
        ] {
            assert!(apply(&mut o, bad).is_err());
        }
        assert_eq!(o.min_score, 0.6, "a refused form changes nothing it refused");
    }
}
