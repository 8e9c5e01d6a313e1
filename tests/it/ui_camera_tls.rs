//! Trust on first use in the browser (issue 18): headless Chromium (`tests/ui/camera_tls.mjs`) adds a camera
//! with a self-signed HTTPS certificate through the form: the probe names the untrusted certificate with its
//! fingerprint, "Trust this certificate" makes it work, saving writes `tls_fingerprint` into the config file;
//! the German form makes the same offer in German. Screenshots: `target/ui-screenshots/camera-tls-*.png`.

use crate::support::browser;
use crate::support::https_camera::{HttpsCamera, SelfSigned};
use crate::support::keepwatch::*;
use crate::support::require_tools;
use std::time::Duration;

#[test]
fn the_camera_form_offers_an_untrusted_certificate_to_accept() {
    require_tools(&["openssl"]);
    browser::ensure_npm();
    let dir = tempfile::tempdir().unwrap();
    let cert = SelfSigned::make(dir.path(), "camera");
    let cam = HttpsCamera::start(&cert);
    let config = write_config(dir.path(), "", "");
    add_user(&config, "root", "admin", None, "root-password-1");
    let mut kw = Keepwatch::start(&config);
    let base = kw.base_url(Duration::from_secs(30));
    browser::run_node(
        "camera_tls.mjs",
        &[
            ("BASE_URL", base),
            ("SCREENSHOT_DIR", browser::screenshot_dir().display().to_string()),
            ("ADMIN_USER", "root".into()),
            ("ADMIN_PASSWORD", "root-password-1".into()),
            ("CAMERA_URL", cam.url("/snapshot.jpg")),
            ("FINGERPRINT", cert.fingerprint.clone()),
        ],
        Duration::from_secs(120),
    );
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(
        text.contains("name = \"porch\"") && text.contains(&format!("tls_fingerprint = \"{}\"", cert.fingerprint)),
        "{text}"
    );
    assert!(!text.contains("garten"), "the cancelled form wrote nothing: {text}");
    kw.expect_streaming(&["porch"], Duration::from_secs(60));
    kw.stop_ok();
}
