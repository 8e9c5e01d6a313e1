//! ntfy: a push to a (self-hostable) ntfy topic, with the JPEG attached and a click link to the event.
//!
//! With a picture: `PUT <topic URL>` with the JPEG as body and `Filename`, `Message`, `Title`, `Tags`,
//! `Priority`, `Click` headers (ntfy's attachment upload). Without: `POST` with the message as body.
//! Non-ASCII header texts (German umlauts) are RFC 2047 encoded, which ntfy decodes. Credentials in the
//! topic URL become Basic auth.

use kw_config::NotifyConfig;

use super::http::{self, header_text, HttpTarget};
use super::Failure;
use crate::db::Row;
use crate::event::{EventKind, Phase};
use crate::text::{alert_text, local_time, test_text};
use crate::Ctx;

pub(crate) struct Ntfy {
    name: String,
    target: HttpTarget,
}

impl Ntfy {
    pub(crate) fn new(cfg: &NotifyConfig) -> Result<Ntfy, String> {
        Ok(Ntfy { name: cfg.name.clone(), target: HttpTarget::parse(&cfg.target)? })
    }

    pub(crate) async fn send(&self, row: &Row, ctx: &Ctx) -> Result<String, Failure> {
        let text = if row.test {
            test_text(ctx.language, &self.name)
        } else {
            alert_text(
                ctx.language,
                row.kind,
                row.phase,
                &row.camera,
                &local_time(row.ev_start, &ctx.tz),
                &crate::event::payload_labels(&row.payload),
            )
        };
        let (tags, priority) = match (row.kind, row.phase) {
            (EventKind::Motion | EventKind::CameraMotion, Phase::Start) => ("rotating_light", "4"),
            (EventKind::CameraOffline | EventKind::Storage, Phase::Start) => ("warning", "4"),
            (_, Phase::End) => ("white_check_mark", "3"),
        };
        let mut req = match &row.jpeg {
            Some(jpeg) => self
                .target
                .request(reqwest::Method::PUT)
                .header("Filename", format!("{}-{}.jpg", sanitize(&row.camera), row.event_id))
                .header("Message", header_text(&text.message))
                .body(jpeg.clone()),
            None => self
                .target
                .request(reqwest::Method::POST)
                .header(reqwest::header::CONTENT_TYPE, "text/plain; charset=utf-8")
                .body(text.message.clone()),
        };
        req = req
            .header("Title", header_text(&text.title))
            .header("Tags", format!("{tags},{}", sanitize(&row.camera)))
            .header("Priority", priority);
        if ctx.base_url.is_some() && !row.test {
            req = req.header("Click", header_text(&ctx.snapshot_link(row.event_id)));
        }
        http::send(req).await
    }
}

/// A camera name fit for a file name or tag (camera names are `[a-z0-9-]+` already; this is a guard).
fn sanitize(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect()
}
