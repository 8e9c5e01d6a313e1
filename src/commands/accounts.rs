//! What `keepwatch user …` and `keepwatch token …` share: reading a password, the role and camera list
//! from the command line, exit codes for kw-auth's errors, and the plain-text tables they print.
//!
//! The rules (names, roles, camera lists, password length, the last admin) are kw-auth's, so the CLI and
//! the HTTP API enforce the same ones; these commands only read the command line and the password, and
//! print. The tables live in the store's index file (WAL), so every command works while `run` is
//! serving: a changed password or a revoked token takes effect there at once.
//!
//! Passwords come from standard input: prompted twice without echo on a terminal, otherwise the first
//! line (without its `\n` or `\r\n`), so `echo "$PW" | keepwatch user passwd admin` works in scripts.
//! No password, hash or token is ever logged; a new token is printed once, alone on its line on
//! standard output.
//!
//! Exit codes: 2 for what the command line or the password got wrong (bad name, role, camera list,
//! short password); 1 for what the store's state refuses (a user that exists or does not, the last
//! admin) and for failures of the store itself.

use crate::Failure;
use kw_auth::{AuthError, Role};
use std::io::{BufRead, IsTerminal};
use std::path::Path;

/// Exit code 2 for what the caller typed wrong, 1 for what the store's state or the store refuses.
pub(super) fn auth_failure(e: AuthError) -> Failure {
    match e {
        AuthError::InvalidName { .. }
        | AuthError::InvalidCamera(_)
        | AuthError::AdminWithCameras
        | AuthError::InvalidRole(_)
        | AuthError::PasswordTooShort { .. }
        | AuthError::PasswordTooLong { .. } => Failure::usage(e.to_string()),
        _ => Failure::runtime(e.to_string()),
    }
}

/// [`auth_failure`], pointing at the list command when a user or token is not there.
pub(super) fn with_hint(e: AuthError, config: &Path) -> Failure {
    let hint = match &e {
        AuthError::NoSuchUser(_) => "keepwatch user list",
        AuthError::NoSuchToken(_) => "keepwatch token list",
        _ => return auth_failure(e),
    };
    let mut f = auth_failure(e);
    f.message = format!("{} (see `{hint} --config {}`)", f.message, config.display());
    f
}

/// The role and the optional camera list from the command line. Camera names are checked with the
/// config's (and kw-auth's) rule here, before anything is created or a password asked for; a name
/// the config does not have is only warned about (the camera may be added later).
pub(super) fn parse_access(
    role: &str,
    cameras: Option<&str>,
    cfg: &kw_config::Config,
) -> Result<(Role, Option<Vec<String>>), Failure> {
    let role = Role::parse(role).map_err(auth_failure)?;
    let Some(list) = cameras else {
        return Ok((role, None));
    };
    if role == Role::Admin {
        return Err(auth_failure(AuthError::AdminWithCameras));
    }
    let mut names: Vec<String> = list.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect();
    names.sort();
    names.dedup();
    if names.is_empty() {
        return Err(Failure::usage("--cameras names no camera; leave it out to allow every camera"));
    }
    for name in &names {
        let ok = name.len() <= kw_auth::MAX_NAME_LEN
            && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !ok {
            return Err(auth_failure(AuthError::InvalidCamera(name.clone())));
        }
        if cfg.camera(name).is_none() {
            tracing::warn!("camera {name:?} is not in the config (yet); granting access to it anyway");
        }
    }
    Ok((role, Some(names)))
}

/// A camera list as shown: `all`, `none`, or the names joined by commas.
pub(super) fn cameras_text(cameras: Option<&[String]>) -> String {
    match cameras {
        None => "all".into(),
        Some([]) => "none".into(),
        Some(list) => list.join(","),
    }
}

/// The new password for `name`: prompted twice without echo on a terminal, otherwise the first line of
/// standard input without its line ending. Checked against kw-auth's length rules before it is used.
pub(super) fn read_password(name: &str) -> Result<String, Failure> {
    let password = if std::io::stdin().is_terminal() {
        let prompt = |p: String| {
            rpassword::prompt_password(p).map_err(|e| Failure::runtime(format!("cannot read the password: {e}")))
        };
        let first = prompt(format!("New password for {name}: "))?;
        kw_auth::validate_password(&first).map_err(auth_failure)?;
        let again = prompt("Repeat the password: ".into())?;
        if first != again {
            return Err(Failure::usage("the two passwords differ; nothing was changed"));
        }
        first
    } else {
        let mut line = String::new();
        let n = std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| Failure::usage(format!("cannot read the password from standard input: {e}")))?;
        if n == 0 {
            return Err(Failure::usage("no password on standard input (give it as the first line)"));
        }
        strip_line_ending(&mut line);
        line
    };
    kw_auth::validate_password(&password).map_err(auth_failure)?;
    Ok(password)
}

/// Removes one trailing `\n` or `\r\n`; nothing else (spaces may be part of a password).
fn strip_line_ending(line: &mut String) {
    if line.ends_with('\n') {
        line.pop();
        if line.ends_with('\r') {
            line.pop();
        }
    }
}

/// Left-aligned columns two spaces apart, with a header line; no trailing spaces.
pub(super) fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let header: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (cell, w) in row.iter().zip(&widths) {
            line.push_str(&format!("{cell:<w$}  "));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_endings_are_stripped_once() {
        for (input, want) in [
            ("secret-pw\n", "secret-pw"),
            ("secret-pw\r\n", "secret-pw"),
            ("secret-pw", "secret-pw"),
            (" spaced pw \n", " spaced pw "),
            ("two\n\n", "two\n"),
        ] {
            let mut s = input.to_string();
            strip_line_ending(&mut s);
            assert_eq!(s, want, "{input:?}");
        }
    }

    #[test]
    fn table_aligns_columns() {
        let t =
            table(&["NAME", "ROLE"], &[vec!["alexander".into(), "admin".into()], vec!["bo".into(), "viewer".into()]]);
        assert_eq!(t, "NAME       ROLE\nalexander  admin\nbo         viewer\n");
    }

    #[test]
    fn camera_lists_as_shown() {
        assert_eq!(cameras_text(None), "all");
        assert_eq!(cameras_text(Some(&[])), "none");
        assert_eq!(cameras_text(Some(&["a".into(), "b".into()])), "a,b");
    }

    #[test]
    fn usage_errors_exit_2_state_errors_exit_1() {
        assert_eq!(auth_failure(AuthError::InvalidRole("root".into())).code, 2);
        assert_eq!(auth_failure(AuthError::PasswordTooShort { min: 8 }).code, 2);
        assert_eq!(auth_failure(AuthError::UserExists("a".into())).code, 1);
        assert_eq!(auth_failure(AuthError::LastAdmin("a".into())).code, 1);
        let f = with_hint(AuthError::NoSuchUser("x".into()), Path::new("k.toml"));
        assert!(f.message.contains("keepwatch user list --config k.toml"), "{}", f.message);
    }
}
