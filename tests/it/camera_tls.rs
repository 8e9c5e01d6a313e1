//! Cameras with a self-signed HTTPS certificate (issue 18): trust on first use. A real TLS camera on
//! loopback (certificates from the `openssl` CLI, fingerprints computed by openssl, not by keepwatch): the
//! probe refuses the unknown certificate and names its fingerprint, accepting that fingerprint makes the
//! probe and the recording work, and a camera whose certificate then changes is refused with a message
//! that says so (in its status and in a new probe).

use crate::support::https_camera::{HttpsCamera, SelfSigned};
use crate::support::keepwatch::*;
use crate::support::{require_tools, wait};
use serde_json::json;
use std::time::Duration;

#[test]
fn a_self_signed_camera_is_trusted_on_first_use_and_a_changed_certificate_is_refused() {
    require_tools(&["openssl"]);
    let dir = tempfile::tempdir().unwrap();
    let first = SelfSigned::make(dir.path(), "first");
    let second = SelfSigned::make(dir.path(), "second");
    assert_ne!(first.fingerprint, second.fingerprint);
    let cam = HttpsCamera::start(&first);
    let url = cam.url("/snapshot.jpg");

    let config = write_config(dir.path(), "", "");
    let admin = create_token(&config, "admin-tok", "admin", None);
    let mut kw = Keepwatch::start(&config);
    let api = kw.api().with_bearer(&admin);

    // First contact: refused, with the fingerprint to accept.
    let r = api.post("/api/cameras/probe", &json!({"url": url})).json();
    assert_eq!(r["ok"], false, "{r}");
    assert_eq!(r["kind"], "certificate", "{r}");
    assert_eq!(r["tls_fingerprint"], first.fingerprint.as_str(), "{r}");
    let error = r["error"].as_str().unwrap();
    assert!(error.contains("not trusted") && error.contains(&first.fingerprint), "{error}");

    // Accepted: the same camera probes fine.
    let r = api.post("/api/cameras/probe", &json!({"url": url, "tls_fingerprint": first.fingerprint})).json();
    assert_eq!(r["ok"], true, "{r}");
    assert_eq!((r["width"].as_u64(), r["height"].as_u64()), (Some(320), Some(240)), "{r}");
    assert_eq!(r["tls_fingerprint"], first.fingerprint.as_str());

    // A fingerprint that is not one: 400 naming the field, nothing written.
    let (st, body) =
        api.post("/api/cameras", &json!({"name": "porch", "url": url, "tls_fingerprint": "sha256:12ab"})).status_json();
    assert_eq!(st, 400, "{body}");
    assert!(body.to_string().contains("tls_fingerprint"), "{body}");
    assert!(!std::fs::read_to_string(&config).unwrap().contains("porch"));

    // Saved with the accepted fingerprint (the colon spelling is taken too): it records.
    let colons = first.fingerprint.as_bytes()[7..]
        .chunks(2)
        .map(|p| std::str::from_utf8(p).unwrap().to_ascii_uppercase())
        .collect::<Vec<_>>()
        .join(":");
    let form = json!({"name": "porch", "url": url, "tls_fingerprint": format!("SHA256:{colons}")});
    let (st, body) = api.post("/api/cameras", &form).status_json();
    assert_eq!(st, 201, "{body}");
    assert_eq!(body["tls_fingerprint"], first.fingerprint.as_str(), "stored in its one spelling: {body}");
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.contains(&format!("tls_fingerprint = \"{}\"", first.fingerprint)), "{text}");
    kw.expect_streaming(&["porch"], Duration::from_secs(60));

    // The camera's certificate changes: refused, and its status says why.
    cam.use_cert(&second);
    let status = wait::until_some("the camera to report the changed certificate", Duration::from_secs(90), || {
        let list = api.get_json("/api/cameras");
        let porch = list.as_array()?.iter().find(|c| c["name"] == "porch")?.clone();
        let e = porch["last_error"].as_str()?.to_owned();
        e.contains("certificate changed").then_some(e)
    });
    assert!(status.contains(&second.fingerprint) && status.contains(&first.fingerprint), "{status}");
    // A probe of the stored camera uses its accepted fingerprint, and offers the new one.
    let r = api.post("/api/cameras/probe", &json!({"url": url, "camera": "porch"})).json();
    assert_eq!(r["kind"], "certificate", "{r}");
    assert_eq!(r["tls_fingerprint"], second.fingerprint.as_str(), "{r}");
    assert!(r["error"].as_str().unwrap().contains("changed"), "{r}");
    // Back to the system's authorities: a self-signed certificate is not trusted then.
    let (st, body) =
        api.put("/api/cameras/porch", &json!({"name": "porch", "url": url, "tls_fingerprint": ""})).status_json();
    assert_eq!(st, 200, "{body}");
    assert!(body["tls_fingerprint"].is_null(), "{body}");
    assert!(!std::fs::read_to_string(&config).unwrap().contains("tls_fingerprint"));
    kw.stop_ok();
}
