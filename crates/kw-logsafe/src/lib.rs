//! Text from outside (a user name typed at the login form, a camera's maker or error text, a header value,
//! an MQTT topic) made safe to put into a log line.
//!
//! # Why
//!
//! A log is read by people (on a terminal, in `journalctl`) and by programs (fail2ban, log shippers) that
//! split it into lines and fields. Outside text written raw can forge whole lines with a newline or a
//! carriage return, rewrite the terminal with escape sequences (`ESC [2J`), or pose as another field
//! (`admin client=10.0.0.1`). [`Untrusted`] writes such text as one token of bounded length, so it always
//! reads as exactly one value of its field:
//!
//! - plain text (ASCII letters, digits and `-_.@:/+`, as most user names and addresses are) is written as
//!   it is; anything else is quoted, and inside the quotes `"` and `\` are escaped, so the value has a
//!   visible end;
//! - control characters (`\n`, `\r`, `\t`, ESC, C1 controls, …) and other non-printable characters are
//!   written as escapes (`\n`, `\u{1b}`), the way Rust's `str::escape_debug` writes them;
//! - at most [`MAX_CHARS`] characters are written, then `…` and how many bytes were left out, so a
//!   megabyte-long "user name" costs the log a line, not a megabyte.
//!
//! # Use
//!
//! ```
//! use kw_logsafe::Untrusted;
//! let user = "admin\nfake line";
//! assert_eq!(format!("user={}", Untrusted(user)), r#"user="admin\nfake line""#);
//! assert_eq!(format!("user={}", Untrusted("admin")), "user=admin");
//! // with tracing: tracing::warn!(user = %Untrusted(&name), "login failed");
//! ```
//!
//! Use it for every value a stranger or a device chooses; names keepwatch has validated itself (camera
//! names from the config, user names read back from the user table) need no wrapper. [`UntrustedBytes`]
//! does the same for bytes that may not be UTF-8 (a raw header value).
//!
//! A message in keepwatch's own words that carries outside text inside it (a camera's error answer
//! inside "camera offline: …") goes through [`OneLine`] instead: it stays readable and unquoted, but every
//! control character (and the Unicode line separators and direction overrides) is written as an escape, so
//! it stays on one line and cannot steer the terminal, and it is cut at [`MAX_LINE_CHARS`].
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::fmt::{self, Display, Write};

/// The most characters of one untrusted value written to the log.
pub const MAX_CHARS: usize = 200;

/// The most characters of one [`OneLine`] message written to the log.
pub const MAX_LINE_CHARS: usize = 1000;

/// Outside text, displayed bare when it is plain, else quoted and escaped; cut to [`MAX_CHARS`] characters.
#[derive(Clone, Copy, Debug)]
pub struct Untrusted<'a>(pub &'a str);

/// Whether `text` can be written without quotes: short, not empty, and only characters that can neither
/// end a field nor start another.
fn plain(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= MAX_CHARS
        && text.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.@:/+".contains(&b))
}

impl Display for Untrusted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if plain(self.0) {
            return f.write_str(self.0);
        }
        f.write_char('"')?;
        for (written, (i, c)) in self.0.char_indices().enumerate() {
            if written == MAX_CHARS {
                return write!(f, "\"…({} more bytes)", self.0.len() - i);
            }
            for e in c.escape_debug() {
                f.write_char(e)?;
            }
        }
        f.write_char('"')
    }
}

/// Outside bytes (not necessarily UTF-8), displayed like [`Untrusted`]; bytes that are not printable ASCII
/// are written as `\xNN`.
#[derive(Clone, Copy, Debug)]
pub struct UntrustedBytes<'a>(pub &'a [u8]);

impl Display for UntrustedBytes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_char('"')?;
        for (i, &b) in self.0.iter().enumerate() {
            if i == MAX_CHARS {
                return write!(f, "\"…({} more bytes)", self.0.len() - i);
            }
            match b {
                b'"' => f.write_str("\\\"")?,
                _ => write!(f, "{}", std::ascii::escape_default(b))?,
            }
        }
        f.write_char('"')
    }
}

/// A message that may carry outside text: displayed unquoted, with control characters, Unicode line
/// separators and direction overrides escaped, cut to [`MAX_LINE_CHARS`] characters.
#[derive(Clone, Copy, Debug)]
pub struct OneLine<'a>(pub &'a str);

impl Display for OneLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (n, (i, c)) in self.0.char_indices().enumerate() {
            if n == MAX_LINE_CHARS {
                return write!(f, "…({} more bytes)", self.0.len() - i);
            }
            let hidden = matches!(c, '\u{2028}' | '\u{2029}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
            if c.is_control() || hidden {
                write!(f, "{}", c.escape_default())?;
            } else {
                f.write_char(c)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_cannot_forge_lines_or_reach_the_terminal() {
        let forged = "admin\n2026-01-01T00:00:00Z  INFO login user=admin\r\x1b[2J\x07\u{9b}31m\u{2028}";
        let shown = Untrusted(forged).to_string();
        assert!(shown.chars().all(|c| !c.is_control() && c != '\u{2028}'), "{shown}");
        assert_eq!(shown, r#""admin\n2026-01-01T00:00:00Z  INFO login user=admin\r\u{1b}[2J\u{7}\u{9b}31m\u{2028}""#);
    }

    #[test]
    fn quotes_and_backslashes_cannot_end_the_value_early() {
        assert_eq!(Untrusted(r#"a" client="1.2.3.4"#).to_string(), r#""a\" client=\"1.2.3.4""#);
        assert_eq!(Untrusted(r"a\nb").to_string(), r#""a\\nb""#, "a typed backslash-n is not a newline");
        assert_eq!(Untrusted("").to_string(), r#""""#);
        assert_eq!(Untrusted("admin").to_string(), "admin", "plain names stay bare");
        assert_eq!(Untrusted("cam-1.local:554/x+y@z").to_string(), "cam-1.local:554/x+y@z");
        assert_eq!(Untrusted("a b").to_string(), r#""a b""#, "a space could start another field");
        assert_eq!(Untrusted("a=b").to_string(), r#""a=b""#);
        assert_eq!(Untrusted("Grüße 📷").to_string(), "\"Grüße 📷\"", "printable text stays readable");
    }

    #[test]
    fn long_values_are_cut() {
        let long = "é".repeat(100_000);
        let shown = Untrusted(&long).to_string();
        assert!(shown.len() < 3 * MAX_CHARS, "{}", shown.len());
        assert!(shown.ends_with(&format!("\"…({} more bytes)", 2 * (100_000 - MAX_CHARS))), "{shown}");
        let exact = "x".repeat(MAX_CHARS);
        assert_eq!(Untrusted(&exact).to_string(), exact);
        let exact = "é".repeat(MAX_CHARS);
        assert_eq!(Untrusted(&exact).to_string(), format!("\"{exact}\""));
    }

    #[test]
    fn one_line_messages_stay_readable_and_on_one_line() {
        let m = "camera offline: 401 Unauthorized\r\n2026-01-01 INFO forged\x1b[2J \"quoted\" \u{202e}txt";
        assert_eq!(
            OneLine(m).to_string(),
            "camera offline: 401 Unauthorized\\r\\n2026-01-01 INFO forged\\u{1b}[2J \"quoted\" \\u{202e}txt"
        );
        assert_eq!(OneLine("Grüße, C:\\dir").to_string(), "Grüße, C:\\dir");
        let long = "x".repeat(5000);
        assert!(OneLine(&long).to_string().ends_with("…(4000 more bytes)"));
    }

    #[test]
    fn bytes() {
        assert_eq!(UntrustedBytes(b"ok\r\n\x1b[2J\"\xff").to_string(), r#""ok\r\n\x1b[2J\"\xff""#);
        let long = vec![b'a'; 1000];
        assert!(UntrustedBytes(&long).to_string().ends_with("\"…(800 more bytes)"));
    }
}
