//! Limits a client cannot talk its way past, and files nobody else can read (issue 12, items 7 and 8), against
//! the real binary: a `video.mp4` range over the cap answers 400 naming it; a flood of snapshot requests gets
//! quick 429/503 answers with `Retry-After` instead of piling up on the blocking pool; zones over the caps are
//! refused through the API; a config edit through the API leaves the file 0600; `keepwatch demo` creates its
//! directory, config, store and every file in it private, and `keepwatch export` writes a 0600 file.

use crate::support::api::Api;
use crate::support::keepwatch::*;
use crate::support::tools::{signal_pid, Signal};
use crate::support::wait;
use serde_json::json;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// Key frames every 4 s at 10 fps: a snapshot of "now" decodes up to 40 frames, long enough for requests to
/// meet each other.
const CAM: &str = "demo://synthetic?width=640&height=360&fps=10&gop=4";

fn mode(p: &Path) -> u32 {
    std::fs::symlink_metadata(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())).permissions().mode() & 0o777
}

/// Asserts that `root` and everything under it is closed to group and others; returns the paths seen.
fn assert_private_tree(root: &Path) -> Vec<PathBuf> {
    let mut seen = Vec::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(p) = todo.pop() {
        let Ok(meta) = std::fs::symlink_metadata(&p) else { continue }; // removed meanwhile (a temporary file)
        let m = meta.permissions().mode() & 0o777;
        assert_eq!(m & 0o077, 0, "{} is mode {m:o}", p.display());
        if meta.is_dir() {
            todo.extend(std::fs::read_dir(&p).unwrap().filter_map(|e| Some(e.ok()?.path())));
        }
        seen.push(p);
    }
    seen
}

/// `per_client` snapshot requests from each client at once; answers counted by status (200, 429, 503, and
/// nothing else), every refusal with `Retry-After: 1`.
fn flood(clients: &[Api], per_client: usize) -> std::collections::HashMap<u16, usize> {
    let barrier = std::sync::Barrier::new(clients.len() * per_client);
    let answers: Vec<(u16, Option<String>)> = std::thread::scope(|s| {
        let handles: Vec<_> = clients
            .iter()
            .flat_map(|c| std::iter::repeat_n(c, per_client))
            .map(|client| {
                let barrier = &barrier;
                s.spawn(move || {
                    barrier.wait();
                    let r = client.get("/api/cameras/cam/snapshot.jpg");
                    (r.status, r.header("retry-after").map(str::to_owned))
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut counts: std::collections::HashMap<u16, usize> = [(200, 0), (429, 0), (503, 0)].into();
    for (status, retry) in &answers {
        *counts.get_mut(status).unwrap_or_else(|| panic!("only 200, 429 or 503: {answers:?}")) += 1;
        if *status != 200 {
            assert_eq!(retry.as_deref(), Some("1"), "a {status} says when to come back");
        }
    }
    assert!(counts[&200] >= 1, "some snapshots were taken: {answers:?}");
    eprintln!("snapshot flood of {} from {} clients: {counts:?}", answers.len(), clients.len());
    counts
}

#[test]
fn media_requests_are_bounded_and_config_edits_stay_private() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "", &camera("cam", CAM, ""));
    // As a hand-written file usually is.
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).unwrap();
    let token = create_token(&config, "script", "admin", None);
    let kw = Keepwatch::start(&config);
    let api = kw.api().with_bearer(&token);
    kw.expect_streaming(&["cam"], Duration::from_secs(30));

    // --- A range over the cap is refused, naming the cap; a range of exactly the cap is served.
    let r = api.get("/api/cameras/cam/video.mp4?start=2000-01-01T00:00:00Z&end=2100-01-01T00:00:00Z");
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.json()["error"].as_str().unwrap().contains("24 h"), "{}", r.text());
    let day = wait::until_some("a day's video.mp4 with the recording in it", Duration::from_secs(30), || {
        let end = now_us();
        let path = format!("/api/cameras/cam/video.mp4?start={}&end={}", rfc3339(end - 86_400_000_000), rfc3339(end));
        let r = api.get(&path);
        (r.status == 200).then_some(r)
    });
    assert_eq!(day.header("content-type"), Some("video/mp4"));

    // --- Floods of snapshot decodes: quick refusals with Retry-After, no pile-up, no errors. From one token,
    // the requests past its share (2 running, 6 waiting) are told 429; from many tokens, the requests past the
    // server's total (at most 8 running, 16 waiting) are told 503.
    let one = flood(std::slice::from_ref(&api), 48);
    assert!(one[&429] >= 1, "requests over one token's share were refused: {one:?}");
    let many_tokens: Vec<_> =
        (0..16).map(|i| api.with_bearer(&create_token(&config, &format!("t{i}"), "admin", None))).collect();
    let many = flood(&many_tokens, 4);
    assert!(many[&503] >= 1, "requests over the server's total were refused: {many:?}");
    // Nothing was left behind: the next one is served.
    let next = api.get("/api/cameras/cam/snapshot.jpg");
    assert_eq!(next.status, 200, "{}", next.text());

    // --- Zones over the caps are refused through the API, naming the field; nothing is written.
    let before = std::fs::read_to_string(&config).unwrap();
    let square = json!({"kind": "exclude", "points": [[0, 0], [0.5, 0], [0.5, 0.5], [0, 0.5]]});
    let many_corners: Vec<_> = (0..65).map(|i| json!([f64::from(i % 2), f64::from(i) / 65.0])).collect();
    for (zones, needle) in [
        (vec![square.clone(); 17], "at most 16 zones"),
        (vec![json!({"kind": "include", "points": many_corners})], "at most 64 points"),
    ] {
        let body = json!({"name": "cam", "url": CAM, "motion": {"zones": zones}});
        let (st, answer) = api.put("/api/cameras/cam", &body).status_json();
        assert_eq!(st, 400, "{answer}");
        assert!(answer["field"].as_str().unwrap_or("").starts_with("motion.zones"), "{answer}");
        assert!(answer["error"].as_str().unwrap().contains(needle), "{answer}");
    }
    assert_eq!(std::fs::read_to_string(&config).unwrap(), before);
    assert_eq!(mode(&config), 0o644, "a refused edit writes nothing");

    // --- An edit through the API leaves the config (camera passwords) private.
    let body = json!({"name": "cam", "url": CAM, "motion": {"zones": vec![square; 16]}});
    let (st, answer) = api.put("/api/cameras/cam", &body).status_json();
    assert_eq!(st, 200, "{answer}");
    assert_eq!(mode(&config), 0o600, "the config after an edit through the API");
    assert!(std::fs::read_dir(dir.path()).unwrap().all(|e| !e.unwrap().file_name().to_string_lossy().contains(".tmp")));

    // The store `run` created, and the id file beside the config.
    assert_private_tree(&dir.path().join("store"));
    assert_eq!(mode(&dir.path().join("keepwatch.toml.store-id")), 0o600);
}

#[test]
fn demo_store_config_and_exports_are_private() {
    let tmp = tempfile::tempdir().unwrap();
    let demo = tmp.path().join("demo");
    let log = tmp.path().join("demo.log");
    let out = std::fs::File::create(&log).unwrap();
    let child = Command::new(bin())
        .args(["demo", "--listen", "127.0.0.1:0", "--dir"])
        .arg(&demo)
        .env("KEEPWATCH_LOG", "info")
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .expect("start keepwatch demo");
    let mut kw = Keepwatch { child: Some(child), log };
    let store = demo.join("store");
    let has_segment = || {
        std::fs::read_dir(store.join("segments"))
            .into_iter()
            .flatten()
            .filter_map(|cam| std::fs::read_dir(cam.ok()?.path()).ok())
            .flatten()
            .any(|f| f.is_ok_and(|f| f.path().extension().is_some_and(|x| x == "kws")))
    };
    wait::until("a segment file and the index's WAL", Duration::from_secs(60), || {
        has_segment() && store.join("index.sqlite3-wal").exists() && store.join("index.sqlite3-shm").exists()
    });
    let seen = assert_private_tree(&demo);
    for name in ["keepwatch.toml", "keepwatch.toml.store-id", "store/index.sqlite3", "store/run.lock"] {
        assert!(seen.contains(&demo.join(name)), "{name} was checked: {seen:?}");
    }
    let start = now_us();
    std::thread::sleep(Duration::from_secs(3));
    // A clean stop finishes the segment, so `export` (another process) sees it.
    signal_pid(kw.pid(), Signal::INT);
    assert!(wait::poll(Duration::from_secs(30), || !kw.is_running()), "demo stops on SIGINT:\n{}", kw.log_text());
    assert_private_tree(&demo);

    let mp4 = tmp.path().join("clip.mp4");
    let r = export(&demo.join("keepwatch.toml"), "demo", start - 5_000_000, now_us(), &mp4);
    assert!(r.status.success(), "export: {}", String::from_utf8_lossy(&r.stderr));
    assert_eq!(mode(&mp4), 0o600, "an export is video: private");
}
