//! HTTP Basic (RFC 7617): the user and password, base64-encoded, in every request.
//!
//! Only ever sent after the camera asked for it (a `Basic` challenge), never offered up front.

use base64::Engine as _;

use crate::Credentials;

/// The `Authorization` value for `creds`.
pub fn authorization(creds: &Credentials) -> String {
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", creds.username, creds.password));
    format!("Basic {token}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7617_example() {
        // RFC 7617 section 2: Aladdin / open sesame.
        let c = Credentials { username: "Aladdin".into(), password: "open sesame".into() };
        assert_eq!(authorization(&c), "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
    }
}
