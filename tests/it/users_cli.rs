//! `keepwatch user …` and `keepwatch token …` through the real binary: passwords on standard input,
//! tables without secrets, the token printed once, exit codes (2 bad usage, 1 refused), and the same
//! commands while `run` is recording into the store.

use crate::support::keepwatch::*;
use kw_auth::{AuthDb, Role, TOKEN_PREFIX};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

/// Runs `keepwatch ARGS --config CONFIG` with `stdin` as its standard input.
fn kw(config: &Path, args: &[&str], stdin: &str) -> Output {
    let config = config.to_str().unwrap();
    run_cli(&[args, &["--config", config]].concat(), stdin, "info")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[track_caller]
fn ok(out: &Output) -> String {
    assert!(out.status.success(), "failed ({:?}): {}", out.status.code(), text(&out.stderr));
    text(&out.stdout)
}

#[track_caller]
fn fails(out: &Output, code: i32, needle: &str) {
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "stdout: {} stderr: {err}", text(&out.stdout));
    assert!(err.contains(needle), "expected {needle:?} in: {err}");
}

/// The row of a `list` table whose first column is `first`, split into columns.
fn row(table: &str, first: &str) -> Option<Vec<String>> {
    table
        .lines()
        .map(|l| l.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
        .find(|cols| cols.first().map(String::as_str) == Some(first))
}

fn config_with_front_door(dir: &Path) -> std::path::PathBuf {
    write_config(dir, "", &camera("front-door", "demo://synthetic", ""))
}

fn auth(dir: &Path) -> AuthDb {
    AuthDb::open(&dir.join("store").join("index.sqlite3")).unwrap()
}

#[test]
fn users_add_list_passwd_remove() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_with_front_door(dir.path());

    // Before any `run`: the store is created.
    ok(&kw(&config, &["user", "add", "admin", "--role", "admin"], "first-password\n"));
    let out =
        kw(&config, &["user", "add", "viewer1", "--role", "viewer", "--cameras", "garden,front-door"], "viewer pw\r\n");
    ok(&out);
    assert!(text(&out.stderr).contains("\"garden\" is not in the config"), "{}", text(&out.stderr));
    assert!(!text(&out.stderr).contains("viewer pw"), "the password is never logged");

    let list = ok(&kw(&config, &["user", "list"], ""));
    assert_eq!(row(&list, "NAME").unwrap(), ["NAME", "ROLE", "CAMERAS"]);
    assert_eq!(row(&list, "admin").unwrap(), ["admin", "admin", "all"]);
    assert_eq!(row(&list, "viewer1").unwrap(), ["viewer1", "viewer", "front-door,garden"]);
    assert!(!list.contains("argon2") && !list.contains('$'), "no hashes: {list}");

    // The password was the first line without "\r\n".
    let viewer = auth(dir.path()).authenticate("viewer1", "viewer pw").unwrap().expect("viewer logs in");
    assert!(viewer.may_see("garden") && viewer.may_see("front-door") && !viewer.may_see("back"));

    fails(&kw(&config, &["user", "add", "admin", "--role", "viewer"], "other-password\n"), 1, "already exists");

    // passwd: the old password stops working, the new one works.
    ok(&kw(&config, &["user", "passwd", "admin"], "second-password\n"));
    let mut db = auth(dir.path());
    assert!(db.authenticate("admin", "first-password").unwrap().is_none());
    assert_eq!(db.authenticate("admin", "second-password").unwrap().unwrap().role, Role::Admin);
    fails(&kw(&config, &["user", "passwd", "nobody"], "whatever-pw\n"), 1, "no user \"nobody\"");
    fails(&kw(&config, &["user", "passwd", "admin"], "short\n"), 2, "too short");
    fails(&kw(&config, &["user", "passwd", "admin"], ""), 2, "no password on standard input");
    assert!(db.authenticate("admin", "second-password").unwrap().is_some(), "failed passwd changed nothing");

    // The last admin stays; others go.
    fails(&kw(&config, &["user", "remove", "admin"], ""), 1, "last admin");
    ok(&kw(&config, &["user", "remove", "viewer1"], ""));
    fails(&kw(&config, &["user", "remove", "viewer1"], ""), 1, "no user \"viewer1\"");
    let list = ok(&kw(&config, &["user", "list"], ""));
    assert!(row(&list, "viewer1").is_none() && row(&list, "admin").is_some(), "{list}");
}

#[test]
fn bad_usage_exits_2_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_with_front_door(dir.path());
    fails(&kw(&config, &["user", "add", "bob", "--role", "root"], "password-1\n"), 2, "admin or viewer");
    fails(&kw(&config, &["token", "create", "ha", "--role", "Admin"], ""), 2, "admin or viewer");
    fails(&kw(&config, &["user", "add", "Bob", "--role", "viewer"], "password-1\n"), 2, "user name");
    fails(&kw(&config, &["token", "create", "bad/label", "--role", "viewer"], ""), 2, "token label");
    fails(
        &kw(&config, &["user", "add", "bob", "--role", "admin", "--cameras", "front-door"], "password-1\n"),
        2,
        "admin",
    );
    fails(&kw(&config, &["user", "add", "bob", "--role", "viewer", "--cameras", "Front"], "password-1\n"), 2, "camera");
    fails(&kw(&config, &["user", "add", "bob", "--role", "viewer", "--cameras", ","], "password-1\n"), 2, "--cameras");
    fails(&kw(&config, &["user", "add", "bob"], "password-1\n"), 2, "--role");
    assert!(!dir.path().join("store").exists(), "a refused command creates no store");
}

#[test]
fn tokens_create_list_revoke() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_with_front_door(dir.path());

    let out = kw(&config, &["token", "create", "ha", "--role", "viewer", "--cameras", "front-door"], "");
    let stdout = ok(&out);
    let token = stdout.trim_end_matches('\n');
    assert!(token.starts_with(TOKEN_PREFIX) && !token.contains(char::is_whitespace), "{stdout:?}");
    assert!(!text(&out.stderr).contains(token), "the token is not logged");
    let p = auth(dir.path()).token(token).unwrap().expect("the token works");
    assert_eq!((p.name.as_str(), p.role), ("ha", Role::Viewer));
    assert!(p.may_see("front-door") && !p.may_see("garden"));

    let admin_token = ok(&kw(&config, &["token", "create", "script", "--role", "admin"], ""));
    assert!(admin_token.starts_with(TOKEN_PREFIX));
    fails(&kw(&config, &["token", "create", "ha", "--role", "viewer"], ""), 1, "already exists");

    let list = ok(&kw(&config, &["token", "list"], ""));
    let ha = row(&list, "ha").unwrap();
    assert_eq!(ha[..3], ["ha", "viewer", "front-door"]);
    assert!(ha[3].ends_with('Z'), "created as RFC 3339: {list}");
    assert_eq!(row(&list, "script").unwrap()[..3], ["script", "admin", "all"]);
    assert!(!list.contains(token) && !list.contains(TOKEN_PREFIX), "no tokens in the list: {list}");

    ok(&kw(&config, &["token", "revoke", "ha"], ""));
    assert!(auth(dir.path()).token(token).unwrap().is_none(), "revoked");
    fails(&kw(&config, &["token", "revoke", "ha"], ""), 1, "no token \"ha\"");
    let list = ok(&kw(&config, &["token", "list"], ""));
    assert!(row(&list, "ha").is_none() && row(&list, "script").is_some(), "{list}");
}

#[test]
fn commands_work_while_run_is_recording() {
    let dir = tempfile::tempdir().unwrap();
    let cam = "demo://synthetic?width=160&height=96&fps=10&gop=1";
    let config = write_config(dir.path(), "", &camera("one", cam, ""));
    let mut run = Keepwatch::start(&config);
    run.expect_streaming(&["one"], Duration::from_secs(30));

    ok(&kw(&config, &["user", "add", "admin", "--role", "admin"], "first-password\n"));
    ok(&kw(&config, &["user", "passwd", "admin"], "second-password\n"));
    let token = ok(&kw(&config, &["token", "create", "ha", "--role", "viewer", "--cameras", "one"], ""));
    assert!(row(&ok(&kw(&config, &["token", "list"], "")), "ha").is_some());
    ok(&kw(&config, &["token", "revoke", "ha"], ""));
    assert!(run.is_running(), "{}", run.log_text());
    run.stop_ok();

    let mut db = auth(dir.path());
    assert!(db.authenticate("admin", "second-password").unwrap().is_some());
    assert!(db.token(token.trim()).unwrap().is_none());
    assert!(!spans(&config, "one").is_empty(), "it kept recording");
}

/// Starts `keepwatch demo --dir DIR`, reads its startup lines up to the login, stops it (only this
/// child), and returns (the `open:` URL, the password).
fn demo_login(dir: &Path) -> (String, String) {
    use std::io::BufRead;
    let mut child = Command::new(bin())
        .args(["demo", "--listen", "127.0.0.1:0", "--dir"])
        .arg(dir)
        .env("KEEPWATCH_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start keepwatch demo");
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut url = None;
    let mut password = None;
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(u) = line.strip_prefix("  open:") {
            url = Some(u.trim().to_owned());
        }
        if let Some(l) = line.strip_prefix("  login:") {
            password = l.trim().strip_prefix("admin / ").map(str::to_owned);
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    (url.expect("an open: line"), password.expect("a login: admin / PASSWORD line"))
}

#[test]
fn demo_prints_a_fresh_admin_login_each_start() {
    let dir = tempfile::tempdir().unwrap();
    let demo = dir.path().join("demo");
    let (url, first) = demo_login(&demo);
    assert_eq!(url, "http://127.0.0.1:0/");
    assert!(first.len() >= 16 && first.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    let mut db = auth(&demo);
    assert_eq!(db.authenticate("admin", &first).unwrap().unwrap().role, Role::Admin);

    let (_, second) = demo_login(&demo);
    assert_ne!(first, second);
    assert!(db.authenticate("admin", &first).unwrap().is_none(), "the old demo password stops working");
    assert!(db.authenticate("admin", &second).unwrap().is_some());
}
