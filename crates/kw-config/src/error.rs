//! Errors that point at the spot in the file.
//!
//! A config mistake is fixed by a person reading one line of output, so every problem carries the file, the
//! 1-based line and the key path (`cameras[1].record`), and prints as
//! `keepwatch.toml:12: cameras[1].record: expected one of continuous, motion, off, objects, found "always"`.
//! Parsing collects every problem it finds instead of stopping at the first, so one run shows them all.

use std::fmt;
use std::path::{Path, PathBuf};

/// One problem at one place in a config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file as the caller named it.
    pub file: PathBuf,
    /// 1-based line number.
    pub line: usize,
    /// Key path such as `cameras[0].motion.sensitivity`; empty for syntax errors.
    pub key: String,
    /// What is wrong, in one line.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: ", self.file.display(), self.line)?;
        if !self.key.is_empty() {
            write!(f, "{}: ", self.key)?;
        }
        f.write_str(&self.message)
    }
}

/// Why a config could not be loaded, parsed, validated or saved.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read or written.
    #[error("{}: {action}: {source}", path.display())]
    Io {
        /// The file involved.
        path: PathBuf,
        /// What was being done ("cannot read", "cannot write", ...).
        action: &'static str,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The text is not valid TOML or not a valid keepwatch config; one entry per problem found, in file order.
    #[error("{}", join(.0))]
    Invalid(Vec<Diagnostic>),
    /// An edit named a camera the config does not have.
    #[error("no camera named {0:?}")]
    NoSuchCamera(String),
    /// An edit could not be applied (for example a camera table without a name).
    #[error("{0}")]
    Edit(String),
}

impl ConfigError {
    /// The problems found in the file (empty for I/O and edit errors).
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            ConfigError::Invalid(d) => d,
            _ => &[],
        }
    }

    pub(crate) fn io(path: &Path, action: &'static str, source: std::io::Error) -> Self {
        ConfigError::Io { path: path.to_path_buf(), action, source }
    }
}

fn join(diagnostics: &[Diagnostic]) -> String {
    let lines: Vec<String> = diagnostics.iter().map(ToString::to_string).collect();
    lines.join("\n")
}

/// 1-based line of a byte offset into `text` (offsets past the end count as the last line).
pub(crate) fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end].iter().filter(|&&b| b == b'\n').count() + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_forms() {
        let d = Diagnostic {
            file: PathBuf::from("keepwatch.toml"),
            line: 12,
            key: "cameras[1].record".into(),
            message: "bad".into(),
        };
        assert_eq!(d.to_string(), "keepwatch.toml:12: cameras[1].record: bad");
        let e = ConfigError::Invalid(vec![d.clone(), Diagnostic { key: String::new(), ..d }]);
        assert_eq!(e.to_string(), "keepwatch.toml:12: cameras[1].record: bad\nkeepwatch.toml:12: bad");
    }

    #[test]
    fn lines() {
        assert_eq!(line_of("a\nb\nc", 0), 1);
        assert_eq!(line_of("a\nb\nc", 2), 2);
        assert_eq!(line_of("a\nb\nc", 4), 3);
        assert_eq!(line_of("a\nb\nc", 400), 3);
    }
}
