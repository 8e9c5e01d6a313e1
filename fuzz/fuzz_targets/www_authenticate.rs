//! `WWW-Authenticate` challenges from a camera (MJPEG/JPEG cameras, ONVIF): the one challenge parser and
//! the login that answers them. Properties: never panics; bounded; never Basic after Digest worked.
#![no_main]
use kw_camauth::{Challenge, Credentials, DigestChallenge, Login};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = Challenge::parse(data);
    let _ = DigestChallenge::parse(data);
    let Ok(text) = std::str::from_utf8(data) else { return };
    let challenges: Vec<&str> = text.split('\n').collect();
    let creds = Credentials::from_parts(Some("admin"), Some("secret"));
    let mut login = Login::new(creds);
    let _ = login.refused(&challenges);
    if let Some(h) = login.authorization("GET", "/snapshot.jpg") {
        login.accepted();
        if login.digest_worked() {
            let _ = login.refused(&["Basic realm=\"x\""]);
            let again = login.authorization("GET", "/snapshot.jpg");
            assert!(again.as_deref().is_none_or(|a| !a.starts_with("Basic")), "Basic after Digest: {h:?}");
        }
    }
});
