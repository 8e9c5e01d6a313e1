//! Webhook: a POST of the delivery JSON, signed with HMAC-SHA256 when the notifier has a `secret`.
//!
//! Headers: `Content-Type: application/json`, `X-Keepwatch-Signature: sha256=<hex HMAC of the body>`
//! (with a secret), `X-Keepwatch-Dedup-Key` (also in the body). The body is the stored JSON, byte for
//! byte the same on every retry.

use hmac::{Hmac, Mac};
use kw_config::NotifyConfig;
use sha2::Sha256;

use super::http::{self, HttpTarget};
use super::Failure;
use crate::db::Row;

pub(crate) struct Webhook {
    target: HttpTarget,
    secret: Option<String>,
}

/// `sha256=<hex>` of `body` under `secret`.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(m) => m,
        Err(_) => return String::new(), // HMAC takes keys of any length; not reached
    };
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

impl Webhook {
    pub(crate) fn new(cfg: &NotifyConfig) -> Result<Webhook, String> {
        Ok(Webhook { target: HttpTarget::parse(&cfg.target)?, secret: cfg.secret.clone() })
    }

    pub(crate) async fn send(&self, row: &Row) -> Result<String, Failure> {
        let body = row.payload.clone().into_bytes();
        let mut req = self
            .target
            .request(reqwest::Method::POST)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("X-Keepwatch-Dedup-Key", http::header_text(&row.dedup_key));
        if let Some(secret) = &self.secret {
            req = req.header("X-Keepwatch-Signature", signature(secret, &body));
        }
        http::send(req.body(body)).await
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn signature_matches_a_known_vector() {
        // RFC 4231 test case 2.
        assert_eq!(
            super::signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
