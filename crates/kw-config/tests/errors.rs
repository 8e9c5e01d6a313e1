//! Every kind of config mistake is reported as `file:line: key: message` with the right line and key.

use std::path::Path;

fn errors(text: &str) -> String {
    match kw_config::parse(text, Path::new("keepwatch.toml")) {
        Ok(config) => panic!("expected an error, got {config:?}"),
        Err(e) => e.to_string(),
    }
}

/// Asserts that one line of the error starts with `keepwatch.toml:{line}: {key}: ` and contains `needle`.
#[track_caller]
fn assert_error(text: &str, line: usize, key: &str, needle: &str) {
    let all = errors(text);
    let prefix =
        if key.is_empty() { format!("keepwatch.toml:{line}: ") } else { format!("keepwatch.toml:{line}: {key}: ") };
    assert!(
        all.lines().any(|l| l.starts_with(&prefix) && l.contains(needle)),
        "no line starting with {prefix:?} containing {needle:?} in:\n{all}"
    );
}

const CAMERA: &str = "[[cameras]]\nname = \"door\"\nurl = \"rtsp://cam/1\"\n";

#[test]
fn bad_keyword() {
    let text = format!("{CAMERA}\n[[cameras]]\nname = \"yard\"\nurl = \"rtsp://cam/2\"\nrecord = \"always\"\n");
    assert_eq!(
        errors(&text),
        "keepwatch.toml:8: cameras[1].record: expected one of continuous, motion, off, objects, found \"always\""
    );
}

#[test]
fn syntax_error() {
    assert_error("[server]\nlisten = \"127.0.0.1:8080\"\nport = = 3\n", 3, "", "invalid TOML");
    assert_error("[server\n", 1, "", "invalid TOML");
    assert_error("[storage]\npath = \"a\"\npath = \"b\"\n", 3, "", "invalid TOML");
    // Error messages stay on one line.
    assert_eq!(errors("a = \"\n").lines().count(), 1);
}

#[test]
fn unknown_keys() {
    assert_error("[server]\nlisten = \"127.0.0.1:1\"\nlisen = \"x\"\n", 3, "server.lisen", "unknown key");
    assert_error("\n\n[servr]\n", 3, "servr", "unknown key");
    assert_error(&format!("{CAMERA}colour = true\n"), 4, "cameras[0].colour", "unknown key");
    assert_error(
        &format!("{CAMERA}[cameras.motion]\nsensitivty = 0.2\n"),
        5,
        "cameras[0].motion.sensitivty",
        "unknown key",
    );
    assert_error(
        &format!("{CAMERA}motion.zones = [{{ points = [[0,0],[1,0],[1,1]], colour = 1 }}]\n"),
        4,
        "cameras[0].motion.zones[0].colour",
        "unknown key",
    );
}

#[test]
fn wrong_types() {
    assert_error("[server]\nlisten = 8080\n", 2, "server.listen", "expected a string, found integer");
    assert_error("server = 3\n", 1, "server", "expected a table");
    assert_error("[storage]\nmax_size = true\n", 2, "storage.max_size", "expected a size");
    assert_error(
        &format!("{CAMERA}[cameras.motion]\nenabled = \"yes\"\n"),
        5,
        "cameras[0].motion.enabled",
        "expected true or false",
    );
    assert_error(
        "[[notify]]\nname = \"n\"\nkind = \"ntfy\"\ntarget = \"https://ntfy.sh/t\"\ncooldown = 30\n",
        5,
        "notify[0].cooldown",
        "expected a duration",
    );
}

#[test]
fn bad_durations_and_sizes() {
    assert_error("[storage]\nmax_age = \"30 days\"\n", 2, "storage.max_age", "unknown duration unit");
    assert_error("[storage]\nmax_size = \"500 GBs\"\n", 2, "storage.max_size", "unknown size unit");
    assert_error("[storage]\nmax_size = -1\n", 2, "storage.max_size", "negative");
    assert_error("[storage]\nmax_size = \"0GB\"\n", 2, "storage.max_size", "greater than 0");
    assert_error(&format!("{CAMERA}max_age = \"0s\"\n"), 4, "cameras[0].max_age", "greater than 0");
    assert_error(
        &format!("{CAMERA}[cameras.motion]\npre_roll = \"5\"\n"),
        5,
        "cameras[0].motion.pre_roll",
        "needs a unit",
    );
}

#[test]
fn missing_required_keys() {
    assert_error("[server]\n\n[[cameras]]\nurl = \"rtsp://cam/1\"\n", 3, "cameras[0].name", "missing");
    assert_error("[[cameras]]\nname = \"a\"\n", 1, "cameras[0].url", "missing");
    assert_error("[[notify]]\nname = \"a\"\nkind = \"mqtt\"\n", 1, "notify[0].target", "missing");
    assert_error(
        "[[notify]]\nname = \"m\"\nkind = \"email\"\ntarget = \"smtp://host\"\n",
        1,
        "notify[0].to",
        "missing",
    );
}

#[test]
fn duplicate_camera_names() {
    let text = format!("{CAMERA}\n{CAMERA}");
    assert_error(&text, 6, "cameras[1].name", "duplicate camera name \"door\" (first used on line 2)");
}

#[test]
fn bad_name_characters() {
    assert_error(
        "[[cameras]]\nname = \"Front Door\"\nurl = \"rtsp://cam/1\"\n",
        2,
        "cameras[0].name",
        "lowercase letters",
    );
    assert_error(
        "[[notify]]\nname = \"my_hook\"\nkind = \"ntfy\"\ntarget = \"https://ntfy.sh/t\"\n",
        2,
        "notify[0].name",
        "lowercase letters",
    );
}

#[test]
fn sensitivity_out_of_range() {
    assert_error(
        &format!("{CAMERA}[cameras.motion]\nsensitivity = 1.5\n"),
        5,
        "cameras[0].motion.sensitivity",
        "between 0 and 1",
    );
    assert_error(
        &format!("{CAMERA}[cameras.motion]\nsensitivity = -0.1\n"),
        5,
        "cameras[0].motion.sensitivity",
        "between 0 and 1",
    );
    assert_error(
        &format!("{CAMERA}[cameras.motion]\nsensitivity = nan\n"),
        5,
        "cameras[0].motion.sensitivity",
        "between 0 and 1",
    );
}

#[test]
fn tls_needs_both_files() {
    assert_error("[server]\ntls_cert = \"cert.pem\"\n", 2, "server.tls_cert", "without tls_key");
    assert_error("[server]\n\ntls_key = \"key.pem\"\n", 3, "server.tls_key", "without tls_cert");
}

#[test]
fn bad_urls() {
    assert_error(
        "[[cameras]]\nname = \"a\"\nurl = \"ftp://cam/1\"\n",
        3,
        "cameras[0].url",
        "unsupported URL scheme \"ftp\"",
    );
    assert_error("[[cameras]]\nname = \"a\"\nurl = \"192.168.1.20\"\n", 3, "cameras[0].url", "expected a URL");
    assert_error(&format!("{CAMERA}sub_url = \"rtmp://cam/2\"\n"), 4, "cameras[0].sub_url", "unsupported URL scheme");
    assert_error(
        "[[notify]]\nname = \"ha\"\nkind = \"mqtt\"\ntarget = \"http://broker\"\n",
        4,
        "notify[0].target",
        "kind = \"mqtt\": unsupported URL scheme \"http\" (expected mqtt://, mqtts://)",
    );
    // Passwords never show up in errors.
    let all = errors("[[cameras]]\nname = \"a\"\nurl = \"rtsp://admin:hunter2@/x\"\n");
    assert!(all.contains("admin:***@") && !all.contains("hunter2"), "{all}");
}

#[test]
fn notify_unknown_camera() {
    let text = format!(
        "{CAMERA}\n[[notify]]\nname = \"ha\"\nkind = \"mqtt\"\ntarget = \"mqtt://127.0.0.1\"\ncameras = [\n  \"door\",\n  \"gate\",\n]\n"
    );
    assert_error(&text, 11, "notify[0].cameras[1]", "unknown camera \"gate\" (cameras: door)");
    assert_error(
        "[[notify]]\nname = \"ha\"\nkind = \"mqtt\"\ntarget = \"mqtt://h\"\ncameras = []\n",
        5,
        "notify[0].cameras",
        "at least one camera",
    );
}

#[test]
fn notify_kind_keys_and_events() {
    let base = "[[notify]]\nname = \"ha\"\nkind = \"mqtt\"\ntarget = \"mqtt://h\"\n";
    assert_error(&format!("{base}secret = \"s\"\n"), 5, "notify[0].secret", "only used with kind = \"webhook\"");
    assert_error(
        &format!("{base}events = [\"motion\", \"fire\"]\n"),
        5,
        "notify[0].events[1]",
        "expected one of motion, camera-motion, camera-offline, storage, found \"fire\"",
    );
    assert_error(&format!("{base}kind2 = 1\n"), 5, "notify[0].kind2", "unknown key");
    assert_error(&format!("{base}commands = \"yes\"\n"), 5, "notify[0].commands", "true or false");
    assert_error(
        "[[notify]]\nname = \"h\"\nkind = \"webhook\"\ntarget = \"http://h\"\ncommands = true\n",
        5,
        "notify[0].commands",
        "only used with kind = \"mqtt\"",
    );
    let on = kw_config::parse(&format!("{base}commands = true\n"), std::path::Path::new("k.toml")).unwrap();
    assert!(on.notify[0].commands);
    assert_error(
        "[[notify]]\nname = \"m\"\nkind = \"email\"\ntarget = \"smtp://h\"\nto = \"nobody\"\n",
        5,
        "notify[0].to",
        "email address",
    );
    assert_error(
        "[[notify]]\nname = \"m\"\nkind = \"pager\"\ntarget = \"smtp://h\"\n",
        3,
        "notify[0].kind",
        "expected one of mqtt, webhook, email, ntfy",
    );
}

#[test]
fn zone_points() {
    let zone =
        |points: &str| format!("{CAMERA}[cameras.motion]\nzones = [\n  {{ name = \"z\", points = {points} }},\n]\n");
    assert_error(
        &zone("[[0.1, 0.5], [1.2, 0.5], [0.9, 1.0]]"),
        6,
        "cameras[0].motion.zones[0].points[1]",
        "between 0 and 1",
    );
    assert_error(&zone("[[0.1, 0.5], [0.9, 0.5]]"), 6, "cameras[0].motion.zones[0].points", "at least 3 points");
    assert_error(
        &zone("[[0.1, 0.5, 3], [0.9, 0.5], [0, 0]]"),
        6,
        "cameras[0].motion.zones[0].points[0]",
        "expected a point [x, y]",
    );
    assert_error(
        &zone("[[0.1, \"a\"], [0.9, 0.5], [0, 0]]"),
        6,
        "cameras[0].motion.zones[0].points[0][1]",
        "expected a number",
    );
    let text = format!("{CAMERA}[cameras.motion]\nzones = [{{ kind = \"inside\", points = [[0,0],[1,0],[1,1]] }}]\n");
    assert_error(&text, 5, "cameras[0].motion.zones[0].kind", "expected one of include, exclude");
}

#[test]
fn zones_and_their_corners_are_capped() {
    let square = "{ points = [[0,0],[1,0],[1,1],[0,1]] }";
    let zones = |n: usize| format!("{CAMERA}[cameras.motion]\nzones = [{}]\n", vec![square; n].join(", "));
    assert!(kw_config::parse(&zones(kw_config::Zone::MAX_PER_CAMERA), Path::new("k.toml")).is_ok());
    assert_error(&zones(kw_config::Zone::MAX_PER_CAMERA + 1), 5, "cameras[0].motion.zones", "at most 16 zones");

    let corners = |n: usize| {
        let points: Vec<String> = (0..n).map(|i| format!("[{}, {}]", i % 2, (i as f64 / n as f64))).collect();
        format!("{CAMERA}[cameras.motion]\nzones = [\n  {{ points = [{}] }},\n]\n", points.join(", "))
    };
    assert!(kw_config::parse(&corners(kw_config::Zone::MAX_POINTS), Path::new("k.toml")).is_ok());
    // Refused as a whole, without one error per corner.
    let text = corners(100_000);
    assert_error(&text, 6, "cameras[0].motion.zones[0].points", "at most 64 points, found 100000");
    assert_eq!(errors(&text).lines().count(), 1);
}

#[test]
fn server_values() {
    assert_error("[server]\nlisten = \"localhost\"\n", 2, "server.listen", "address and port");
    assert_error(
        "[server]\ntrusted_proxies = [\"10.0.0.0/8\", \"10.0.0.0/40\"]\n",
        2,
        "server.trusted_proxies[1]",
        "prefix length",
    );
    assert_error("[server]\nlanguage = \"fr\"\n", 2, "server.language", "expected one of en, de");
    assert_error("[server]\ntimezone = \"Berlin Time\"\n", 2, "server.timezone", "time zone");
    assert_error("[server]\nmax_connections = 0\n", 2, "server.max_connections", "whole number from 1");
    assert_error("[server]\nmax_live_viewers = \"many\"\n", 2, "server.max_live_viewers", "whole number");
    assert_error("[server]\nmax_live_viewers_per_user = -3\n", 2, "server.max_live_viewers_per_user", "from 1");
    assert_error("[server]\nheader_timeout = \"500ms\"\n", 2, "server.header_timeout", "at least 1s");
    assert_error("[server]\nidle_timeout = 60\n", 2, "server.idle_timeout", "duration");
    assert_error(&format!("{CAMERA}password = \"p\"\n"), 4, "cameras[0].password", "without a username");
}

#[test]
fn reports_every_problem_in_line_order() {
    let text = "[server]\nlisten = 1\n\n[storage]\nmax_age = \"x\"\n\n[[cameras]]\nname = \"A\"\nurl = \"rtsp://c\"\n";
    let all = errors(text);
    let lines: Vec<&str> = all.lines().collect();
    assert_eq!(lines.len(), 3, "{all}");
    assert!(lines[0].starts_with("keepwatch.toml:2: server.listen: "));
    assert!(lines[1].starts_with("keepwatch.toml:5: storage.max_age: "));
    assert!(lines[2].starts_with("keepwatch.toml:8: cameras[0].name: "));
}

#[test]
fn error_names_the_file_as_given() {
    let e = kw_config::parse("x = 1\n", Path::new("/etc/keepwatch/keepwatch.toml")).unwrap_err();
    assert_eq!(
        e.to_string(),
        "/etc/keepwatch/keepwatch.toml:1: x: unknown key (expected one of server, storage, cameras, notify, alerts, objects, restream, offsite)"
    );
    assert_eq!(e.diagnostics().len(), 1);
    assert_eq!(e.diagnostics()[0].line, 1);

    let missing = kw_config::load(Path::new("/nonexistent/keepwatch.toml")).unwrap_err();
    assert!(missing.to_string().starts_with("/nonexistent/keepwatch.toml: cannot read: "), "{missing}");
}

#[test]
fn never_panics_on_mangled_input() {
    let example = kw_config::example_config();
    let path = Path::new("k.toml");
    // Every truncation (in steps, at character boundaries) and every single line replaced by junk.
    for end in (0..example.len()).step_by(7).filter(|&i| example.is_char_boundary(i)) {
        let _ = kw_config::parse(&example[..end], path);
    }
    let lines: Vec<&str> = example.lines().collect();
    for junk in
        ["x = [[[", "= 1", "[[cameras]]", "zones = [{ points = [[]] }]", "sensitivity = inf", "url = \"\u{1F4F7}://\""]
    {
        for i in 0..lines.len() {
            let mut mangled = lines.clone();
            mangled[i] = junk;
            let _ = kw_config::parse(&mangled.join("\n"), path);
        }
    }
    let deep = format!("x = {}{}", "[".repeat(5000), "]".repeat(5000));
    assert!(kw_config::parse(&deep, path).is_err());
}

#[test]
fn alerts_section() {
    assert_error("[alerts]\nschedule = \"mon-fri 22:00-6\"\n", 2, "alerts.schedule", "expected HH:MM");
    assert_error("[alerts]\nschedule = \"weekdays 08:00-09:00\"\n", 2, "alerts.schedule", "unknown day");
    assert_error("\n[alerts]\npublic_url = \"nvr.example.org\"\n", 3, "alerts.public_url", "https://");
    assert_error("[alerts]\nmode = \"away\"\n", 2, "alerts.mode", "unknown key");
    let ok = "[alerts]\nschedule = \"mon-fri 22:00-06:30; sat,sun daily 00:00-24:00\"\n";
    assert!(kw_config::parse(ok, Path::new("k.toml")).is_err(), "a day list with a space is refused");
    let ok = "[alerts]\nschedule = \"mon-fri 22:00-06:30; sat,sun 00:00-24:00\"\npublic_url = \"https://nvr.example.org/\"\n";
    let cfg = kw_config::parse(ok, Path::new("k.toml")).unwrap();
    assert_eq!(cfg.alerts.public_url.as_deref(), Some("https://nvr.example.org"));
    assert_eq!(kw_config::parse_schedule(cfg.alerts.schedule.as_deref().unwrap()).unwrap().len(), 2);
}

#[test]
fn offsite_targets() {
    const R: &str = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p";
    let o = |body: &str| format!("{CAMERA}\n[[offsite]]\nname = \"b2\"\n{body}");
    // line 5 is the [[offsite]] header, 6 its name; the body starts on line 7.
    assert_error(
        &o(&format!("target = \"ftp://x/y\"\nrecipients = [\"{R}\"]\n")),
        7,
        "offsite[0].target",
        "unsupported URL scheme",
    );
    assert_error(
        &o(&format!("target = \"webdav://u:p@h/x\"\nrecipients = [\"{R}\"]\n")),
        7,
        "offsite[0].target",
        "no credentials",
    );
    assert_error(
        &o("target = \"s3://bucket\"\nrecipients = [\"AGE-SECRET-KEY-1ABC\"]\n"),
        8,
        "offsite[0].recipients[0]",
        "secret identity",
    );
    assert_error(&o("target = \"s3://bucket\"\nrecipients = []\n"), 8, "offsite[0].recipients", "at least one");
    assert_error(&o("target = \"s3://bucket\"\n"), 5, "offsite[0].recipients", "missing");
    assert_error(
        &o(&format!("target = \"webdav://h/x\"\nrecipients = [\"{R}\"]\npath_style = true\n")),
        9,
        "offsite[0].path_style",
        "only used with s3://",
    );
    assert_error(
        &o(&format!("target = \"s3://bucket\"\nrecipients = [\"{R}\"]\ncameras = [\"yard\"]\n")),
        9,
        "offsite[0].cameras[0]",
        "unknown camera",
    );
    assert_error(
        &o(&format!("target = \"s3://bucket\"\nrecipients = [\"{R}\"]\nevents = [\"storage\"]\n")),
        9,
        "offsite[0].events[0]",
        "no clip",
    );
    assert_error(
        &o(&format!("target = \"s3://bucket\"\nrecipients = [\"{R}\"]\nwhat = \"all\"\n")),
        9,
        "offsite[0].what",
        "clip, picture, both",
    );
    assert_error(
        &o(&format!("target = \"s3://bucket\"\nrecipients = [\"{R}\"]\nbandwidth = \"1kbit\"\n")),
        9,
        "offsite[0].bandwidth",
        "at least 64kbit",
    );
    assert_error(
        &o(&format!("target = \"s3://bucket\"\nrecipients = [\"{R}\"]\nkeep_count = 0\n")),
        9,
        "offsite[0].keep_count",
        "whole number",
    );
    let dup = format!(
        "{}\n[[offsite]]\nname = \"b2\"\ntarget = \"s3://bucket\"\nrecipients = [\"{R}\"]\n",
        o(&format!("target = \"s3://bucket\"\nrecipients = [\"{R}\"]\n"))
    );
    assert_error(&dup, 11, "offsite[1].name", "duplicate");
    let ok = kw_config::parse(
        &o(&format!("target = \"s3://bucket/p\"\nrecipients = [\"{R}\"]\ncredentials_file = \"c.toml\"\n")),
        Path::new("/etc/kw/keepwatch.toml"),
    )
    .unwrap();
    let t = &ok.offsite[0];
    assert_eq!(t.credentials_file.as_deref(), Some(Path::new("/etc/kw/c.toml")));
    assert_eq!(t.what, kw_config::OffsiteWhat::Both);
    assert!(t.wants_event(kw_config::NotifyEvent::Motion) && !t.wants_event(kw_config::NotifyEvent::Storage));
    assert_eq!(t.credentials_env().0, "KEEPWATCH_OFFSITE_B2_KEY");
}

#[test]
fn bad_storage_index() {
    assert_error("[storage]\nindex = \"mysql://kw:pw@db/x\"\n", 2, "storage.index", "expected \"sqlite\" or a URL");
    assert!(!errors("[storage]\nindex = \"mysql://kw:pw@db/x\"\n").contains(":pw@"), "no password in messages");
    assert_error("[storage]\nindex = \"postgres://db.lan/x\"\n", 2, "storage.index", "names no user");
    assert_error("[storage]\nindex = \"\"\n", 2, "storage.index", "");
    assert_error("[storage]\nindex = 5\n", 2, "storage.index", "");
    assert_error("[storage]\nindex_password_file = \"p\"\n", 2, "storage.index_password_file", "only with a postgres");
}

/// An input on which toml_edit's parser panics (found by fuzzing): an error naming the file, not a crash.
#[test]
fn a_file_the_toml_parser_panics_on_is_an_error() {
    let text = include_str!("data/toml-edit-span-panic.toml");
    let err = kw_config::parse(text, Path::new("/etc/keepwatch/keepwatch.toml")).unwrap_err().to_string();
    assert!(err.contains("/etc/keepwatch/keepwatch.toml") && err.contains("invalid TOML"), "{err}");
}
