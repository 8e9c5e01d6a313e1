//! PTZ (pan, tilt, zoom) through the ONVIF PTZ service (`ver20/ptz`): continuous moves, stop, the home
//! position and presets.
//!
//! Why these choices:
//! - Continuous moves carry a `Timeout` ([`MOVE_TIMEOUT`]): a browser that is closed mid-drag never sends
//!   its stop, and a camera must not turn forever; a client that keeps moving repeats the move.
//! - Speeds are clamped to the ONVIF generic space's -1..1 (NaN is 0) before they reach the camera, and
//!   preset names are bounded ([`MAX_PRESET_NAME`]) and escaped; answers are bounded in count
//!   ([`MAX_PRESETS`]) like every other answer of this crate.
//! - PTZ acts on a media profile; keepwatch uses the main stream's (the profile with the most pixels), which
//!   is the one cameras attach their PTZ configuration to.

use crate::device::Camera;
use crate::xml::{self, attr, descendant, descendants, text, text_at};
use crate::Error;

/// PTZ service namespace.
pub const PTZ_NS: &str = "http://www.onvif.org/ver20/ptz/wsdl";
/// How long a continuous move lasts unless repeated or stopped.
pub const MOVE_TIMEOUT_S: u32 = 10;
/// Most presets read from one answer.
pub const MAX_PRESETS: usize = 256;
/// Longest preset name sent to a camera, in characters.
pub const MAX_PRESET_NAME: usize = 64;
/// Longest preset token accepted, in bytes.
pub const MAX_TOKEN: usize = 128;

/// One preset position of a camera.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Preset {
    pub token: String,
    pub name: String,
}

/// A continuous move's speeds, each in -1..1 (right, up and zoom in are positive).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Velocity {
    pub x: f32,
    pub y: f32,
    pub zoom: f32,
}

impl Velocity {
    /// Each speed clamped into -1..1; NaN becomes 0.
    pub fn clamped(self) -> Velocity {
        let c = |v: f32| if v.is_nan() { 0.0 } else { v.clamp(-1.0, 1.0) };
        Velocity { x: c(self.x), y: c(self.y), zoom: c(self.zoom) }
    }
}

/// Parses GetPresets: up to [`MAX_PRESETS`] presets with a token (a preset without a name is named by it).
pub fn parse_presets(answer: &str) -> Result<Vec<Preset>, Error> {
    let doc = xml::parse(answer)?;
    let mut out = Vec::new();
    for p in descendants(doc.root_element(), "Preset") {
        let Some(token) = attr(p, "token").filter(|t| !t.is_empty() && t.len() <= MAX_TOKEN) else { continue };
        let name = text_at(p, &["Name"]).filter(|n| !n.is_empty()).unwrap_or_else(|| token.to_owned());
        out.push(Preset { token: token.to_owned(), name: name.chars().take(MAX_PRESET_NAME).collect() });
        if out.len() >= MAX_PRESETS {
            break;
        }
    }
    Ok(out)
}

/// Parses SetPreset's answer: the new preset's token.
pub fn parse_preset_token(answer: &str) -> Result<String, Error> {
    let doc = xml::parse(answer)?;
    descendant(doc.root_element(), "PresetToken")
        .map(text)
        .filter(|t| !t.is_empty() && t.len() <= MAX_TOKEN)
        .ok_or_else(|| Error::Protocol("the camera's SetPreset answer has no preset token".into()))
}

/// A preset name fit to send: trimmed, without control characters, at most [`MAX_PRESET_NAME`] characters.
pub fn clean_preset_name(name: &str) -> Result<String, Error> {
    let name = name.trim();
    if name.is_empty() {
        return Err(Error::Protocol("a preset needs a name".into()));
    }
    if name.chars().count() > MAX_PRESET_NAME {
        return Err(Error::Protocol(format!("a preset name may be at most {MAX_PRESET_NAME} characters")));
    }
    if name.chars().any(char::is_control) {
        return Err(Error::Protocol("a preset name may not contain control characters".into()));
    }
    Ok(name.to_owned())
}

fn ok(_: &str) -> Result<(), Error> {
    Ok(())
}

fn token_xml(profile: &str) -> String {
    format!("<tptz:ProfileToken>{}</tptz:ProfileToken>", xml::escape(profile))
}

fn check_token(token: &str) -> Result<(), Error> {
    if token.is_empty() || token.len() > MAX_TOKEN || token.chars().any(char::is_control) {
        return Err(Error::Protocol(format!("a preset token is 1 to {MAX_TOKEN} bytes without control characters")));
    }
    Ok(())
}

impl Camera {
    /// Whether the camera offers the PTZ service.
    pub fn has_ptz(&self) -> bool {
        self.services().ptz.is_some()
    }

    fn ptz_url(&self) -> Result<String, Error> {
        self.services().ptz.clone().ok_or_else(|| Error::Protocol("the camera offers no ONVIF PTZ service".into()))
    }

    async fn ptz_call<T: Send + 'static>(
        &self,
        op: &str,
        body: String,
        parse: fn(&str) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let url = self.ptz_url()?;
        self.client().call_parsed(&url, &format!("{PTZ_NS}/{op}"), &body, parse).await
    }

    /// The profile PTZ commands act on: the main stream's.
    pub async fn ptz_profile(&self) -> Result<String, Error> {
        self.ptz_url()?;
        let profiles = self.profiles().await?;
        let (main, _) = crate::device::choose(&profiles)
            .ok_or_else(|| Error::Protocol("the camera has no video profile".into()))?;
        Ok(main.token)
    }

    /// Starts moving at `v` (clamped) until [`Camera::ptz_stop`] or [`MOVE_TIMEOUT_S`] seconds.
    pub async fn ptz_move(&self, profile: &str, v: Velocity) -> Result<(), Error> {
        let v = v.clamped();
        let body = format!(
            "<tptz:ContinuousMove>{}<tptz:Velocity><tt:PanTilt x=\"{:.3}\" y=\"{:.3}\"/><tt:Zoom x=\"{:.3}\"/></tptz:Velocity><tptz:Timeout>PT{MOVE_TIMEOUT_S}S</tptz:Timeout></tptz:ContinuousMove>",
            token_xml(profile),
            v.x,
            v.y,
            v.zoom
        );
        self.ptz_call("ContinuousMove", body, ok).await
    }

    /// Stops pan, tilt and zoom.
    pub async fn ptz_stop(&self, profile: &str) -> Result<(), Error> {
        let body = format!(
            "<tptz:Stop>{}<tptz:PanTilt>true</tptz:PanTilt><tptz:Zoom>true</tptz:Zoom></tptz:Stop>",
            token_xml(profile)
        );
        self.ptz_call("Stop", body, ok).await
    }

    /// Goes to the home position.
    pub async fn ptz_home(&self, profile: &str) -> Result<(), Error> {
        let body = format!("<tptz:GotoHomePosition>{}</tptz:GotoHomePosition>", token_xml(profile));
        self.ptz_call("GotoHomePosition", body, ok).await
    }

    /// The presets.
    pub async fn ptz_presets(&self, profile: &str) -> Result<Vec<Preset>, Error> {
        let body = format!("<tptz:GetPresets>{}</tptz:GetPresets>", token_xml(profile));
        self.ptz_call("GetPresets", body, parse_presets).await
    }

    /// Goes to preset `token`.
    pub async fn ptz_goto_preset(&self, profile: &str, token: &str) -> Result<(), Error> {
        check_token(token)?;
        let body = format!(
            "<tptz:GotoPreset>{}<tptz:PresetToken>{}</tptz:PresetToken></tptz:GotoPreset>",
            token_xml(profile),
            xml::escape(token)
        );
        self.ptz_call("GotoPreset", body, ok).await
    }

    /// Saves the current position as a new preset called `name`; returns its token.
    pub async fn ptz_set_preset(&self, profile: &str, name: &str) -> Result<String, Error> {
        let name = clean_preset_name(name)?;
        let body = format!(
            "<tptz:SetPreset>{}<tptz:PresetName>{}</tptz:PresetName></tptz:SetPreset>",
            token_xml(profile),
            xml::escape(&name)
        );
        self.ptz_call("SetPreset", body, parse_preset_token).await
    }

    /// Deletes preset `token`.
    pub async fn ptz_remove_preset(&self, profile: &str, token: &str) -> Result<(), Error> {
        check_token(token)?;
        let body = format!(
            "<tptz:RemovePreset>{}<tptz:PresetToken>{}</tptz:PresetToken></tptz:RemovePreset>",
            token_xml(profile),
            xml::escape(token)
        );
        self.ptz_call("RemovePreset", body, ok).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn velocities_are_clamped() {
        let v = Velocity { x: 7.0, y: -3.5, zoom: f32::NAN }.clamped();
        assert_eq!(v, Velocity { x: 1.0, y: -1.0, zoom: 0.0 });
    }

    #[test]
    fn presets_and_tokens_parse() {
        let a = r#"<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" xmlns:tptz="http://www.onvif.org/ver20/ptz/wsdl" xmlns:tt="http://www.onvif.org/ver10/schema"><env:Body><tptz:GetPresetsResponse>
<tptz:Preset token="1"><tt:Name>Door</tt:Name><tt:PTZPosition><tt:PanTilt x="0.1" y="0.2"/></tt:PTZPosition></tptz:Preset>
<tptz:Preset token="2"></tptz:Preset><tptz:Preset><tt:Name>no token</tt:Name></tptz:Preset>
</tptz:GetPresetsResponse></env:Body></env:Envelope>"#;
        let p = parse_presets(a).unwrap();
        assert_eq!(
            p,
            vec![Preset { token: "1".into(), name: "Door".into() }, Preset { token: "2".into(), name: "2".into() }]
        );
        let s = r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:p="http://www.onvif.org/ver20/ptz/wsdl"><s:Body><p:SetPresetResponse><p:PresetToken>7</p:PresetToken></p:SetPresetResponse></s:Body></s:Envelope>"#;
        assert_eq!(parse_preset_token(s).unwrap(), "7");
        assert!(clean_preset_name(&"x".repeat(65)).is_err());
        assert!(clean_preset_name(" \n ").is_err());
        assert_eq!(clean_preset_name(" Gate ").unwrap(), "Gate");
        assert!(check_token("").is_err() && check_token(&"t".repeat(200)).is_err());
    }
}
