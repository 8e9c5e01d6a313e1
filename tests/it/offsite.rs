//! Off-site copies end to end, against real targets on loopback: SeaweedFS as S3 and WsgiDAV as WebDAV.
//! A real RTSP camera (GStreamer, a clip something crosses every 20 s) makes motion events; keepwatch
//! must upload each event's clip and picture encrypted, `keepwatch offsite fetch` must bring back exactly
//! the MP4 `keepwatch export` makes for the event's range with pre- and post-roll, and nothing that
//! reaches the target may be an MP4 or (with `hide_names`) name the camera. The WebDAV test also takes
//! the target away mid-event and restarts keepwatch before it returns: nothing may be lost. [`admin`]
//! edits targets through the API and the web UI against the same real SeaweedFS.

mod admin;

use crate::support::keepwatch::*;
use crate::support::offsite_targets::{SeaweedS3, WebDav};
use crate::support::{self, RtspServer};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;

const PRE_ROLL: i64 = 2_000_000;
const POST_ROLL: i64 = 2_000_000;

/// A fresh key pair from `keepwatch offsite keygen`: (identity file, recipient).
fn keygen(dir: &Path) -> (PathBuf, String) {
    let out = cli(&["offsite", "keygen"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let recipient = text.lines().find_map(|l| l.strip_prefix("# age1").map(|r| format!("age1{r}"))).unwrap();
    assert!(text.lines().any(|l| l.starts_with("AGE-SECRET-KEY-1")), "{text}");
    let path = dir.join("identity.txt");
    std::fs::write(&path, text).unwrap();
    (path, recipient)
}

fn yard(rtsp: &RtspServer) -> String {
    camera(
        "yard",
        &rtsp.url("motion"),
        "record = \"continuous\"\n\n[cameras.motion]\nenabled = true\nmin_duration = \"0.5s\"\n\
         pre_roll = \"2s\"\npost_roll = \"2s\"",
    )
}

fn credentials(dir: &Path, key: &str, secret: &str) -> PathBuf {
    let p = dir.join("offsite-credentials.toml");
    std::fs::write(&p, format!("key = \"{key}\"\nsecret = \"{secret}\"\n")).unwrap();
    p
}

/// Events of `yard` that have ended, oldest first.
fn ended_events(api: &support::api::Api) -> Vec<Value> {
    let mut list = api.get_json("/api/events?camera=yard&kind=motion").as_array().unwrap().clone();
    list.reverse();
    list.into_iter().filter(|e| !e["end"].is_null()).collect()
}

/// `keepwatch offsite list NAME`: the object names.
fn list(config: &Path, target: &str) -> Vec<String> {
    let out = cli(&["offsite", "list", target, "--config", config.to_str().unwrap()]);
    assert!(out.status.success(), "offsite list: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().lines().map(|l| l.split('\t').next().unwrap().to_owned()).collect()
}

fn fetch(config: &Path, target: &str, object: &str, identity: &Path, out: &Path) -> Vec<u8> {
    let o = cli(&[
        "offsite",
        "fetch",
        target,
        object,
        "--identity",
        identity.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "offsite fetch {object}: {}", String::from_utf8_lossy(&o.stderr));
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(out).unwrap().permissions().mode() & 0o777, 0o600);
    std::fs::read(out).unwrap()
}

/// The MP4 `keepwatch export` makes for the event's range with pre- and post-roll.
fn exported(config: &Path, event: &Value, out: &Path) -> Vec<u8> {
    let start = parse_rfc3339(event["start"].as_str().unwrap()) - PRE_ROLL;
    let end = parse_rfc3339(event["end"].as_str().unwrap()) + POST_ROLL;
    let o = export(config, "yard", start, end, out);
    assert!(o.status.success(), "export: {}", String::from_utf8_lossy(&o.stderr));
    std::fs::read(out).unwrap()
}

fn is_mp4(b: &[u8]) -> bool {
    b.len() > 8 && &b[4..8] == b"ftyp"
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn s3_copies_decrypt_to_the_export_and_hide_the_camera() {
    support::require_tools(&["ffmpeg", "ffprobe"]);
    let dir = tempfile::tempdir().unwrap();
    let s3 = SeaweedS3::start(&dir.path().join("s3"));
    let motion = support::motion_clip();
    let rtsp = RtspServer::start(&[("motion", &motion)], None);
    let (identity, recipient) = keygen(dir.path());
    let creds = credentials(dir.path(), &s3.access_key, &s3.secret_key);
    let offsite = format!(
        "[[offsite]]\nname = \"s3\"\ntarget = \"s3://kw-copies/house\"\nendpoint = \"{}\"\npath_style = true\n\
         credentials_file = \"{}\"\nrecipients = [\"{recipient}\"]\nhide_names = true\nwhat = \"both\"\n",
        s3.endpoint(),
        creds.display()
    );
    let config = write_config(dir.path(), "", &format!("{}\n{offsite}", yard(&rtsp)));
    let token = create_token(&config, "t", "admin", None);
    let kw = Keepwatch::start(&config);
    let api = kw.api().with_bearer(&token);
    kw.expect_streaming(&["yard"], Duration::from_secs(60));

    // The first event whose clip has been copied; the API then lists the target on the event.
    let event = support::wait::until_some("an event's clip copied to s3", Duration::from_secs(150), || {
        ended_events(&api).into_iter().find(|e| {
            let id = format!("event={}", e["id"]);
            kw.log_line(&["copied off-site", &id, "clip"]).is_some()
        })
    });
    let id = event["id"].as_i64().unwrap();
    support::wait::until("the event's picture copied", Duration::from_secs(60), || {
        kw.log_line(&["copied off-site", &format!("event={id}"), "picture"]).is_some()
    });
    let listed = api.get_json("/api/events?camera=yard&kind=motion&limit=1000");
    let copied = listed.as_array().unwrap().iter().find(|e| e["id"] == id).unwrap().clone();
    assert_eq!(copied["offsite"], serde_json::json!(["s3"]), "{copied}");
    let system = api.get_json("/api/system");
    let target = &system["offsite"][0];
    assert_eq!((target["name"].as_str(), target["status"].as_str()), (Some("s3"), Some("ok")), "{system}");
    let metrics = api.get("/metrics").text();
    assert!(metrics.contains("keepwatch_offsite_up{target=\"s3\"} 1"), "{metrics}");

    let names = list(&config, "s3");
    assert!(names.len() >= 2, "clip and picture on the target: {names:?}");
    for n in &names {
        assert!(!n.contains("yard") && n.ends_with(".age") && !n.contains('/'), "hide_names: {n}");
    }
    let export = exported(&config, &event, &dir.path().join("export.mp4"));
    let (mut clips, mut pictures) = (0, 0);
    for (i, n) in names.iter().enumerate() {
        let plain = fetch(&config, "s3", n, &identity, &dir.path().join(format!("copy-{i}")));
        if plain == export {
            clips += 1;
        } else if plain.starts_with(&[0xFF, 0xD8]) {
            pictures += 1;
        }
    }
    assert!(clips >= 1, "no copy equals the export of the event's range ({} bytes)", export.len());
    assert!(pictures >= 1, "no picture among {names:?}");
    // A wrong identity opens nothing.
    let other_dir = dir.path().join("other");
    std::fs::create_dir_all(&other_dir).unwrap();
    let (other, _) = keygen(&other_dir);
    let o = cli(&[
        "offsite",
        "fetch",
        "s3",
        &names[0],
        "--identity",
        other.to_str().unwrap(),
        "-o",
        dir.path().join("nope").to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
    ]);
    assert!(!o.status.success() && !dir.path().join("nope").exists());
    drop(kw);
    drop(s3);
}

#[test]
fn webdav_outage_and_restart_lose_nothing() {
    support::require_tools(&["ffmpeg", "ffprobe"]);
    let dir = tempfile::tempdir().unwrap();
    let mut dav = WebDav::start(&dir.path().join("dav"));
    let motion = support::motion_clip();
    let rtsp = RtspServer::start(&[("motion", &motion)], None);
    let (identity, recipient) = keygen(dir.path());
    let creds = credentials(dir.path(), &dav.user, &dav.password);
    let offsite = format!(
        "[[offsite]]\nname = \"dav\"\ntarget = \"webdav://127.0.0.1:{}/dav/keepwatch\"\n\
         credentials_file = \"{}\"\nrecipients = [\"{recipient}\"]\nwhat = \"clip\"\nbandwidth = \"20Mbit\"\n",
        dav.port,
        creds.display()
    );
    let config = write_config(dir.path(), "", &format!("{}\n{offsite}", yard(&rtsp)));
    let token = create_token(&config, "t", "admin", None);
    let mut kw = Keepwatch::start(&config);
    let api = kw.api().with_bearer(&token);
    kw.expect_streaming(&["yard"], Duration::from_secs(60));

    // An event starts: the target goes away before anything of it can be sent.
    let started = support::wait::until_some("a motion event starting", Duration::from_secs(60), || {
        let list = api.get_json("/api/events?camera=yard&kind=motion");
        list.as_array().unwrap().iter().find(|e| e["end"].is_null()).cloned()
    });
    dav.stop();
    let id = started["id"].as_i64().unwrap();
    // Its head and clip fail for now: the target is reported failing.
    support::wait::until("the target reported failing", Duration::from_secs(90), || {
        api.get_json("/api/system")["offsite"][0]["status"] == "failing"
    });
    // keepwatch restarts while the target is still down.
    kw.stop_ok();
    let mut kw = Keepwatch::start(&config);
    let api = kw.api().with_bearer(&token);
    kw.expect_streaming(&["yard"], Duration::from_secs(60));
    dav.restart();

    let event = support::wait::until_some("the event copied after the outage", Duration::from_secs(240), || {
        let list = api.get_json("/api/events?camera=yard&kind=motion");
        list.as_array().unwrap().iter().find(|e| e["id"] == id && e["offsite"][0] == "dav").cloned()
    });
    let files = dav.files();
    let clip_name = format!("-{id}-clip.mp4.age");
    let (name, raw) = files.iter().find(|(n, _)| n.ends_with(&clip_name)).unwrap_or_else(|| {
        panic!(
            "no clip of event {id} on the target: {:?}\n{}",
            files.iter().map(|f| &f.0).collect::<Vec<_>>(),
            kw.log_text()
        )
    });
    let object = name.strip_prefix("keepwatch/").unwrap();
    assert!(object.starts_with("yard/"), "names show the camera unless hidden: {object}");
    for (n, bytes) in &files {
        assert!(!is_mp4(bytes) && !contains(bytes, b"ftyp") && !contains(bytes, b"yard"), "{n} is not encrypted");
        assert!(bytes.starts_with(b"age-encryption.org/v1"), "{n}");
    }
    assert!(!raw.is_empty());
    let plain = fetch(&config, "dav", object, &identity, &dir.path().join("copy.mp4"));
    let export = exported(&config, &event, &dir.path().join("export.mp4"));
    assert!(is_mp4(&plain));
    assert!(plain == export, "the copy ({} bytes) differs from the export ({} bytes)", plain.len(), export.len());
    let listed = list(&config, "dav");
    assert!(listed.iter().any(|n| n == object), "{listed:?}");
    kw.stop_ok();
}
