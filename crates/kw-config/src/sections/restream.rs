//! `[restream]`: keepwatch's own RTSP server, which hands every player the camera's stream so that the
//! camera itself keeps only keepwatch's one session. Off unless `listen` is given; `tls_listen` serves it
//! over TLS (RTSPS) with the web server's certificate.

use std::net::SocketAddr;

use crate::model::RestreamConfig;
use crate::reader::{Ctx, Section};

/// Keys of `[restream]`.
const RESTREAM_KEYS: [&str; 3] = ["listen", "tls_listen", "max_clients"];

/// `server_tls`: whether `[server]` has a certificate (RTSPS needs it).
pub(super) fn parse_restream<'a>(ctx: &mut Ctx<'a>, section: &Section<'a>, server_tls: bool) -> RestreamConfig {
    section.check_keys(ctx, &RESTREAM_KEYS);
    let mut out = RestreamConfig::default();
    for (key, example) in [("listen", 8554), ("tls_listen", 8322)] {
        let Some(field) = section.get(key) else { continue };
        if let Some(text) = ctx.string(&field) {
            let parsed = text.parse::<SocketAddr>().map_err(|_| {
                format!(
                    "expected an address and port such as \"0.0.0.0:{example}\" or \"[::]:{example}\", found {text:?}"
                )
            });
            let addr = ctx.check(&field, parsed);
            if key == "listen" {
                out.listen = addr;
            } else if addr.is_some() && !server_tls {
                ctx.error(&field.span, &field.path, "RTSPS needs a certificate: set tls_cert and tls_key in [server]");
            } else {
                out.tls_listen = addr;
            }
        }
    }
    if let Some(field) = section.get("max_clients") {
        let n = field.value().and_then(toml_edit::Value::as_integer);
        let checked = n
            .and_then(|n| usize::try_from(n).ok())
            .filter(|n| (1..=4096).contains(n))
            .ok_or_else(|| format!("expected a whole number from 1 to 4096, found {n:?}"));
        if let Some(n) = ctx.check(&field, checked) {
            out.max_clients = n;
        }
    }
    out
}
