//! Config files keepwatch writes for people: the demo's, and the fully commented example.
//!
//! Both are text templates rather than serialized structs so they can carry comments explaining each key;
//! tests parse them so they can never drift from what the parser accepts.

use std::path::Path;

/// The commented example of every key (also shipped in the docs as `keepwatch.example.toml`).
pub fn example_config() -> &'static str {
    include_str!("../keepwatch.example.toml")
}

/// The `keepwatch.toml` that `keepwatch demo` writes into `dir`: a synthetic camera named `demo`, recording
/// continuously with motion detection on, and `demo-person`, where a person walks by and object detection
/// labels the events; the store in `dir/store` (`path = "store"`), capped at 2 GB.
pub fn demo_config(listen: &str, dir: &Path) -> String {
    let dir_text = one_line(&dir.display().to_string());
    let config = dir.join("keepwatch.toml");
    let config_text = one_line(&config.display().to_string());
    format!(
        r#"# keepwatch demo configuration, written by `keepwatch demo` into {dir_text}
#
# It is an ordinary keepwatch config: other commands work on this demo with
#   keepwatch <command> --config {config_text}
# Relative paths below resolve against this file's directory.

[server]
# Address and port of the web UI and API.
listen = {listen}

[storage]
# "." is the directory of this file: recordings and the index live next to it.
path = "store"
# The oldest recordings are deleted to stay under this size.
max_size = "2GB"

[[cameras]]
# keepwatch's built-in synthetic camera: a test picture with an object that moves now and then.
name = "demo"
url = "demo://synthetic"
record = "continuous"

[cameras.motion]
# Motion events appear on the timeline and go to any [[notify]] targets.
enabled = true
sensitivity = 0.5
pre_roll = "5s"
post_roll = "10s"

[[cameras]]
# The same scene, but a person walks through it every 30 seconds: object detection labels those events.
name = "demo-person"
url = "demo://synthetic?object=person&period=30&appear=10&visible=8"
record = "continuous"

[cameras.objects]
# Look for people, vehicles and animals where motion is; alert only when one is seen.
enabled = true
track = ["person", "car", "dog", "cat", "bird"]
alert_on = "objects"
"#,
        listen = toml_string(listen),
    )
}

/// `text` as a TOML basic string, quoted and escaped.
fn toml_string(text: &str) -> String {
    toml_edit::Value::from(text).to_string().trim().to_string()
}

/// `text` safe to put in a `#` comment: line breaks and other control characters become `?`.
fn one_line(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { '?' } else { c }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_stay_comments() {
        assert_eq!(one_line("a\nb\r\tc"), "a?b??c");
        for text in ["127.0.0.1:8080", "a\"b\\c\n'd'''", ""] {
            let doc: toml_edit::DocumentMut = format!("x = {}", toml_string(text)).parse().unwrap();
            assert_eq!(doc["x"].as_str(), Some(text));
        }
    }
}
