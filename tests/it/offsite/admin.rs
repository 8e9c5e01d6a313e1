//! Off-site targets added, tested, changed and removed through the admin API (`/api/offsite`) and the
//! web UI's Alerts page, against a real SeaweedFS: a test is a real round trip (a wrong secret is named as
//! such), a bad value is a 400 naming its field with nothing written, viewers are refused, and the storage
//! secret reaches neither an answer, the config file nor the log; only the private credentials file.

use super::keygen;
use crate::support::api::{Api, Resp};
use crate::support::keepwatch::*;
use crate::support::offsite_targets::{SeaweedS3, WebDav};
use crate::support::{self, browser};
use serde_json::{json, Value};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

/// The demo camera the targets may list.
fn porch() -> String {
    camera("porch", "demo://synthetic?width=160&height=96&fps=5", "")
}

/// Every answer seen, so the test can insist the secret is in none of them.
struct Seen<'a> {
    api: &'a Api,
    bodies: Vec<String>,
}

impl Seen<'_> {
    #[track_caller]
    fn call(&mut self, method: &str, path: &str, body: Option<&Value>) -> Resp {
        let r = self.api.call(method, path, body);
        self.bodies.push(r.text());
        r
    }

    /// `POST /api/offsite/{name}/test`, without a body (the target as stored) or with a form.
    #[track_caller]
    fn test(&mut self, name: &str, form: Option<&Value>) -> Value {
        let r = self.call("POST", &format!("/api/offsite/{name}/test"), form);
        assert_eq!(r.status, 200, "{}", r.text());
        r.json()
    }
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn targets_edited_and_tested_through_the_api() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = SeaweedS3::start(&dir.path().join("s3"));
    let (_identity, recipient) = keygen(dir.path());
    let config = write_config(dir.path(), "", &format!("# the house (this comment must survive)\n{}", porch()));
    let admin = create_token(&config, "a", "admin", None);
    let viewer = create_token(&config, "v", "viewer", None);
    let kw = Keepwatch::start(&config);
    let admin_api = kw.api().with_bearer(&admin);
    let viewer_api = kw.api().with_bearer(&viewer);
    let mut api = Seen { api: &admin_api, bodies: Vec::new() };
    let creds_file = dir.path().join("offsite-s3.toml");
    let form = json!({
        "name": "s3", "target": "s3://kw-copies/house", "endpoint": s3.endpoint(), "path_style": true,
        "key": s3.access_key, "secret": s3.secret_key, "recipients": [recipient], "cameras": ["porch"],
        "what": "clip", "bandwidth": "4Mbit", "keep_count": 50, "keep_age": "30d",
    });
    let with = |changes: Value| {
        let mut f = form.clone();
        f.as_object_mut().unwrap().extend(changes.as_object().unwrap().clone());
        f
    };

    // Viewers may do nothing here.
    for (method, path) in [
        ("GET", "/api/offsite"),
        ("POST", "/api/offsite"),
        ("PUT", "/api/offsite/s3"),
        ("DELETE", "/api/offsite/s3"),
        ("POST", "/api/offsite/s3/test"),
    ] {
        let body = (method != "GET" && method != "DELETE").then_some(&form);
        assert_eq!(viewer_api.call(method, path, body).status, 403, "{method} {path} as a viewer");
    }
    assert_eq!(api.call("GET", "/api/offsite", None).json(), json!([]));

    // Bad values: a 400 naming the field, and nothing written.
    let before = std::fs::read_to_string(&config).unwrap();
    for (bad, field) in [
        (with(json!({"target": "ftp://kw-copies/house"})), "target"),
        (with(json!({"target": "s3://B"})), "target"),
        (with(json!({"recipients": ["AGE-SECRET-KEY-1XYZ"]})), "recipients"),
        (with(json!({"endpoint": "gopher://127.0.0.1"})), "endpoint"),
        (with(json!({"keep_count": "many"})), "keep_count"),
        (with(json!({"cameras": ["attic"]})), "cameras"),
        (with(json!({"name": "Bad Name"})), "name"),
    ] {
        let r = api.call("POST", "/api/offsite", Some(&bad));
        assert_eq!(r.status, 400, "{bad}: {}", r.text());
        assert_eq!(r.json()["field"], field, "{}", r.text());
        assert_eq!(std::fs::read_to_string(&config).unwrap(), before, "a refused edit changed the file");
        assert!(!creds_file.exists(), "a refused edit wrote credentials");
    }

    // Tested before it is saved, then added.
    let t = api.test("s3", Some(&form));
    assert_eq!(t["ok"], true, "{t}");
    let r = api.call("POST", "/api/offsite", Some(&form));
    assert_eq!(r.status, 201, "{}", r.text());
    let added = r.json();
    assert_eq!((added["credentials"].as_bool(), added["what"].as_str()), (Some(true), Some("clip")), "{added}");
    assert_eq!(api.call("POST", "/api/offsite", Some(&form)).status, 409);
    let listed = api.call("GET", "/api/offsite", None).json();
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed[0]["name"], "s3");
    assert_eq!(listed[0]["keep_count"], 50);
    assert_eq!(listed[0]["bandwidth"], "4Mbit");
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.contains("# the house (this comment must survive)"), "{text}");
    assert!(text.contains("credentials_file = \"offsite-s3.toml\""), "{text}");
    assert_eq!(mode(&creds_file), 0o600);
    let creds = std::fs::read_to_string(&creds_file).unwrap();
    assert!(creds.contains(&s3.secret_key) && creds.contains(&s3.access_key), "{creds}");

    // The stored target works; the worker started for it reports through /api/system.
    let t = api.test("s3", None);
    assert_eq!(t["ok"], true, "{t}");
    support::wait::until("the target in /api/system", Duration::from_secs(30), || {
        admin_api.get_json("/api/system")["offsite"].as_array().is_some_and(|a| a.iter().any(|o| o["name"] == "s3"))
    });

    // The form as typed with the stored credentials (none typed) works too.
    let t = api.test("s3", Some(&with(json!({"key": null, "secret": null, "what": "both"}))));
    assert_eq!(t["ok"], true, "{t}");

    // A wrong secret, typed into the form: named as an authentication failure.
    let t = api.test("s3", Some(&with(json!({"secret": "not-the-secret-1"}))));
    assert_eq!((t["ok"].as_bool(), t["kind"].as_str()), (Some(false), Some("auth")), "{t}");
    // Stored (the key kept from the file): the same.
    let r = api.call("PUT", "/api/offsite/s3", Some(&with(json!({"key": null, "secret": "not-the-secret-1"}))));
    assert_eq!(r.status, 200, "{}", r.text());
    let t = api.test("s3", None);
    assert_eq!((t["ok"].as_bool(), t["kind"].as_str()), (Some(false), Some("auth")), "{t}");
    assert!(t["error"].as_str().unwrap().to_lowercase().contains("signature"), "{t}");

    // Stored credentials are not sent elsewhere: a new endpoint needs the secret typed again.
    let moved = with(json!({"endpoint": "http://127.0.0.1:9", "key": null, "secret": null}));
    let r = api.call("PUT", "/api/offsite/s3", Some(&moved));
    assert_eq!((r.status, r.json()["field"].as_str()), (400, Some("secret")), "{}", r.text());

    // Updated: the right secret again, other settings; the key and secret left out next time are kept.
    let r = api.call("PUT", "/api/offsite/s3", Some(&with(json!({"what": "both", "hide_names": true}))));
    assert_eq!(r.status, 200, "{}", r.text());
    let r = api.call("PUT", "/api/offsite/s3", Some(&with(json!({"key": null, "secret": null, "keep_age": "7d"}))));
    assert_eq!(r.status, 200, "{}", r.text());
    let updated = r.json();
    assert_eq!((updated["hide_names"].as_bool(), updated["keep_age"].as_str()), (Some(false), Some("7d")), "{updated}");
    let t = api.test("s3", None);
    assert_eq!(t["ok"], true, "{t}");
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.contains("keep_age = \"7d\"") && text.contains("what = \"clip\""), "{text}");

    // A unreachable endpoint, as typed: named as such.
    let t = api.test("s3", Some(&with(json!({"endpoint": format!("http://127.0.0.1:{}", support::free_port())}))));
    assert_eq!((t["ok"].as_bool(), t["kind"].as_str()), (Some(false), Some("unreachable")), "{t}");

    // Renamed with new credentials: they move to the new name's file, the old one goes.
    let r = api.call("PUT", "/api/offsite/s3", Some(&with(json!({"name": "house"}))));
    assert_eq!(r.status, 200, "{}", r.text());
    let renamed = dir.path().join("offsite-house.toml");
    assert!(!creds_file.exists() && mode(&renamed) == 0o600, "the credentials did not move with the name");
    let t = api.test("house", None);
    assert_eq!(t["ok"], true, "{t}");

    // Deleted: gone from the file, the list, and its credentials file with it.
    assert_eq!(api.call("DELETE", "/api/offsite/house", None).status, 204);
    assert_eq!(api.call("DELETE", "/api/offsite/house", None).status, 404);
    assert_eq!(api.call("GET", "/api/offsite", None).json(), json!([]));
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(!text.contains("[[offsite]]") && text.contains("# the house"), "{text}");
    assert!(!renamed.exists(), "the credentials file outlived its target");

    // The secret never left the credentials file.
    for body in &api.bodies {
        assert!(!body.contains(&s3.secret_key) && !body.contains("not-the-secret-1"), "a secret in an answer: {body}");
    }
    let log = kw.log_text();
    assert!(!log.contains(&s3.secret_key) && !log.contains("not-the-secret-1"), "a secret in the log:\n{log}");
    drop(kw);
    drop(s3);
}

#[test]
fn webdav_target_tested_through_the_api() {
    let dir = tempfile::tempdir().unwrap();
    let dav = WebDav::start(&dir.path().join("dav"));
    let (_identity, recipient) = keygen(dir.path());
    let config = write_config(dir.path(), "", &porch());
    let admin = create_token(&config, "a", "admin", None);
    let kw = Keepwatch::start(&config);
    let api = kw.api().with_bearer(&admin);
    let form = |password: &str| {
        json!({"name": "nas", "target": format!("webdav://127.0.0.1:{}/dav/keepwatch", dav.port),
            "key": dav.user, "secret": password, "recipients": [recipient]})
    };
    let test = |f: &Value| {
        let r = api.post("/api/offsite/nas/test", f);
        assert_eq!(r.status, 200, "{}", r.text());
        let v = r.json();
        assert!(!r.text().contains(&dav.password), "the password in an answer: {v}");
        v
    };
    let t = test(&form(&dav.password));
    assert_eq!(t["ok"], true, "{t}");
    let t = test(&form("not-the-password"));
    assert_eq!((t["ok"].as_bool(), t["kind"].as_str()), (Some(false), Some("auth")), "{t}");
    // The probe left nothing behind.
    assert!(dav.files().iter().all(|(n, _)| !n.contains("keepwatch-test-")), "{:?}", dav.files());
    drop(kw);
}

#[test]
fn targets_set_up_in_a_browser() {
    browser::ensure_npm();
    let dir = tempfile::tempdir().unwrap();
    let s3 = SeaweedS3::start(&dir.path().join("s3"));
    let (_identity, recipient) = keygen(dir.path());
    let config = write_config(dir.path(), "", &porch());
    add_user(&config, "root", "admin", None, "root-password-1");
    let mut kw = Keepwatch::start(&config);
    let base = kw.base_url(Duration::from_secs(30));
    browser::run_node(
        "offsite.mjs",
        &[
            ("BASE_URL", base),
            ("ADMIN_USER", "root".into()),
            ("ADMIN_PASSWORD", "root-password-1".into()),
            ("CAMERA", "porch".into()),
            ("S3_ENDPOINT", s3.endpoint()),
            ("S3_KEY", s3.access_key.clone()),
            ("S3_SECRET", s3.secret_key.clone()),
            ("RECIPIENT", recipient.clone()),
        ],
        Duration::from_secs(240),
    );
    let text = std::fs::read_to_string(&config).unwrap();
    println!("--- the config file after the browser ---\n{text}");
    assert!(text.contains("name = \"house\"") && text.contains("credentials_file = \"offsite-house.toml\""), "{text}");
    assert!(text.contains(&recipient) && text.contains("cameras = [\"porch\"]"), "{text}");
    assert!(!text.contains(&s3.secret_key) && !text.contains("\"bad\""), "{text}");
    let creds = dir.path().join("offsite-house.toml");
    assert_eq!(mode(&creds), 0o600);
    assert!(kw.is_running(), "keepwatch exited; log:\n{}", kw.log_text());
    kw.stop_ok();
    assert!(!kw.log_text().contains(&s3.secret_key), "the secret reached the log");
}
