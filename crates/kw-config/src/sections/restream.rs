//! `[restream]`: keepwatch's own RTSP server, which hands every player the camera's stream so that the
//! camera itself keeps only keepwatch's one session. Off unless `listen` is given.

use std::net::SocketAddr;

use crate::model::RestreamConfig;
use crate::reader::{Ctx, Section};

/// Keys of `[restream]`.
const RESTREAM_KEYS: [&str; 2] = ["listen", "max_clients"];

pub(super) fn parse_restream<'a>(ctx: &mut Ctx<'a>, section: &Section<'a>) -> RestreamConfig {
    section.check_keys(ctx, &RESTREAM_KEYS);
    let mut out = RestreamConfig::default();
    if let Some(field) = section.get("listen") {
        if let Some(text) = ctx.string(&field) {
            let parsed = text.parse::<SocketAddr>().map_err(|_| {
                format!("expected an address and port such as \"0.0.0.0:8554\" or \"[::]:8554\", found {text:?}")
            });
            out.listen = ctx.check(&field, parsed);
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
