//! Naming rules for user names, token labels and camera lists.
//!
//! Names appear in URLs, logs, cookies and command lines, so they are kept to a small, unambiguous
//! alphabet: lowercase ASCII letters, digits, `.`, `_` and `-`, 1 to 64 characters, starting with a
//! letter or digit (so a name is never mistaken for a command-line option or a hidden file). Uppercase
//! is rejected rather than folded so that `Admin` and `admin` can never be two spellings of one login.
//! Camera names follow the config's rule, `[a-z0-9-]+` (here also at most 64 characters).

use crate::error::{AuthError, Result};

/// The longest user name or token label, in characters.
pub const MAX_NAME_LEN: usize = 64;

/// Checks a user name against the naming rule.
pub fn validate_user_name(name: &str) -> Result<()> {
    validate("user name", name)
}

/// Checks a token label against the naming rule (the same as for user names).
pub fn validate_token_label(label: &str) -> Result<()> {
    validate("token label", label)
}

fn validate(what: &'static str, name: &str) -> Result<()> {
    let bad = |why| Err(AuthError::InvalidName { what, name: name.to_owned(), why });
    if name.is_empty() {
        return bad("it is empty");
    }
    if name.len() > MAX_NAME_LEN {
        return bad("longer than 64 characters");
    }
    if name.bytes().any(|b| b.is_ascii_uppercase()) {
        return bad("use lowercase letters only");
    }
    if !name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')) {
        return bad("use only a-z, 0-9, '.', '_' and '-'");
    }
    if !name.as_bytes()[0].is_ascii_alphanumeric() {
        return bad("it must start with a letter or a digit");
    }
    Ok(())
}

/// Checks a camera list and returns it sorted and without duplicates.
pub fn normalize_cameras(cameras: &[String]) -> Result<Vec<String>> {
    for c in cameras {
        let ok = !c.is_empty()
            && c.len() <= MAX_NAME_LEN
            && c.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !ok {
            return Err(AuthError::InvalidCamera(c.clone()));
        }
    }
    let mut out = cameras.to_vec();
    out.sort();
    out.dedup();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_names() {
        for n in ["admin", "a", "bob.smith", "x_1-2", "0day", &"a".repeat(64)] {
            validate_user_name(n).unwrap();
        }
    }

    #[test]
    fn bad_names() {
        for n in ["", "Admin", "-x", ".x", "_x", "a b", "ä", "a/b", &"a".repeat(65), "a\0"] {
            let e = validate_user_name(n).unwrap_err();
            assert!(matches!(e, AuthError::InvalidName { .. }), "{n:?}");
            assert!(e.to_string().contains("user name"));
        }
        assert!(validate_token_label("Bad").unwrap_err().to_string().contains("token label"));
    }

    #[test]
    fn cameras_sorted_deduped_checked() {
        let v = normalize_cameras(&["b".into(), "a".into(), "b".into()]).unwrap();
        assert_eq!(v, ["a", "b"]);
        assert!(matches!(normalize_cameras(&["Front".into()]), Err(AuthError::InvalidCamera(_))));
        assert!(normalize_cameras(&["".into()]).is_err());
        assert!(normalize_cameras(&["a_b".into()]).is_err());
    }
}
