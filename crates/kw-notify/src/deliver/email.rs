//! E-mail through SMTP (lettre, rustls): subject and text in the configured language, the JPEG attached.
//!
//! Targets: `smtps://user:pass@host[:465]` is TLS from the first byte; `smtp://user:pass@host[:587]` uses
//! STARTTLS and refuses to go on without it, except to a loopback host (a local relay), where it is used
//! when offered. `?tls=required|opportunistic|none` on an `smtp://` target overrides that (`none` only
//! for relays that cannot do TLS: the password would cross the network in the clear). The sender is the
//! `from` key, else the user name when it is an address, else `keepwatch@<host>`.

use std::time::Duration;

use kw_config::NotifyConfig;
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::Failure;
use crate::db::Row;
use crate::text::{alert_text, local_time, open_label, test_text};
use crate::Ctx;

pub(crate) struct Email {
    name: String,
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    to: Vec<Mailbox>,
}

/// How to use TLS on an `smtp://` connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TlsMode {
    Wrapper,
    Required,
    Opportunistic,
    None,
}

fn decode(text: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", text.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

impl Email {
    pub(crate) fn new(cfg: &NotifyConfig) -> Result<Email, String> {
        let shown = kw_config::redacted_url(&cfg.target);
        let url = url::Url::parse(&cfg.target).map_err(|e| format!("target {shown}: {e}"))?;
        let host = url.host_str().filter(|h| !h.is_empty()).ok_or_else(|| format!("target {shown}: no host"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']').to_string();
        let query = url.query_pairs().find(|(k, _)| k == "tls").map(|(_, v)| v.to_ascii_lowercase());
        let loopback = host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
        let (mode, default_port) = match (url.scheme(), query.as_deref()) {
            ("smtps", _) => (TlsMode::Wrapper, 465),
            ("smtp", Some("required")) => (TlsMode::Required, 587),
            ("smtp", Some("opportunistic")) => (TlsMode::Opportunistic, 587),
            ("smtp", Some("none")) => (TlsMode::None, 587),
            ("smtp", Some(other)) => {
                return Err(format!("target {shown}: tls={other:?}: expected required, opportunistic or none"))
            }
            ("smtp", None) if loopback => (TlsMode::Opportunistic, 587),
            ("smtp", None) => (TlsMode::Required, 587),
            (other, _) => return Err(format!("target {shown}: unsupported scheme {other:?} (smtp or smtps)")),
        };
        let port = url.port().unwrap_or(default_port);
        let user = decode(url.username());
        let params = || -> Result<TlsParameters, String> {
            let mut b = TlsParameters::builder(host.clone());
            for der in crate::tls::native_roots() {
                if let Ok(cert) = Certificate::from_der(der.to_vec()) {
                    b = b.add_root_certificate(cert);
                }
            }
            b.build_rustls().map_err(|e| format!("TLS setup: {e}"))
        };
        let tls = match mode {
            TlsMode::Wrapper => Tls::Wrapper(params()?),
            TlsMode::Required => Tls::Required(params()?),
            TlsMode::Opportunistic => Tls::Opportunistic(params()?),
            TlsMode::None => Tls::None,
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host.clone())
            .port(port)
            .tls(tls)
            .timeout(Some(Duration::from_secs(30)));
        if !user.is_empty() {
            let pass = url.password().map(decode).unwrap_or_default();
            builder = builder.credentials(Credentials::new(user.clone(), pass));
        }
        let from_text = match &cfg.from {
            Some(f) => f.clone(),
            None if user.contains('@') => user.clone(),
            None => format!("keepwatch@{host}"),
        };
        let from: Mailbox = from_text.parse().map_err(|e| format!("from {from_text:?}: {e}"))?;
        let to = cfg
            .to
            .iter()
            .map(|t| t.parse::<Mailbox>().map_err(|e| format!("to {t:?}: {e}")))
            .collect::<Result<Vec<_>, _>>()?;
        if to.is_empty() {
            return Err("no recipients (`to`)".into());
        }
        Ok(Email { name: cfg.name.clone(), transport: builder.build(), from, to })
    }

    pub(crate) async fn send(&self, row: &Row, ctx: &Ctx) -> Result<String, Failure> {
        let message = self.message(row, ctx).map_err(Failure::permanent)?;
        match self.transport.send(message).await {
            Ok(resp) => Ok(format!("accepted ({})", resp.code())),
            Err(e) if e.is_permanent() => Err(Failure::permanent(format!("refused: {e}"))),
            Err(e) => Err(Failure::temporary(e.to_string())),
        }
    }

    fn message(&self, row: &Row, ctx: &Ctx) -> Result<Message, String> {
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
        let mut body = text.message.clone();
        if ctx.base_url.is_some() && !row.test {
            body.push_str(&format!("\n\n{}: {}\n", open_label(ctx.language), ctx.snapshot_link(row.event_id)));
        }
        body.push_str(&format!("\n-- \nkeepwatch ({})\n", row.dedup_key));
        let mut builder = Message::builder().from(self.from.clone()).subject(format!("[keepwatch] {}", text.title));
        for to in &self.to {
            builder = builder.to(to.clone());
        }
        let text_part = SinglePart::plain(body);
        let built = match &row.jpeg {
            Some(jpeg) => {
                let jpeg_type = ContentType::parse("image/jpeg").map_err(|e| e.to_string())?;
                let name = format!("{}-{}.jpg", row.camera, row.event_id);
                let attachment = Attachment::new(name).body(jpeg.clone(), jpeg_type);
                builder.multipart(MultiPart::mixed().singlepart(text_part).singlepart(attachment))
            }
            None => builder.singlepart(text_part),
        };
        built.map_err(|e| format!("cannot build the message: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(target: &str) -> NotifyConfig {
        NotifyConfig {
            name: "mail".into(),
            kind: kw_config::NotifyKind::Email,
            target: target.into(),
            cameras: None,
            events: None,
            cooldown: kw_config::DEFAULT_COOLDOWN,
            discovery_prefix: None,
            commands: false,
            secret: None,
            from: None,
            to: vec!["me@example.org".into()],
            labels: None,
        }
    }

    #[test]
    fn targets() {
        let e = Email::new(&cfg("smtp://alarm%40example.org:pw@mail.example.org")).unwrap();
        assert_eq!(e.from.to_string(), "alarm@example.org");
        let e = Email::new(&cfg("smtps://u:pw@mail.example.org")).unwrap();
        assert_eq!(e.from.to_string(), "keepwatch@mail.example.org");
        assert!(Email::new(&cfg("smtp://h?tls=maybe")).is_err());
        let err = Email::new(&cfg("smtp://u:hunter2@h?tls=maybe")).err().unwrap();
        assert!(!err.contains("hunter2"), "{err}");
        let mut c = cfg("smtp://127.0.0.1:2525");
        c.to.clear();
        assert!(Email::new(&c).is_err());
    }
}
