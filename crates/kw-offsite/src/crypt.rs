//! age encryption: the box holds only recipients (public keys), so nothing it uploaded can be read with
//! what is on the box; `keepwatch offsite fetch` decrypts with an identity file kept elsewhere.

use std::io::{Read, Write};
use std::str::FromStr;

use crate::OffsiteError;

/// A fresh X25519 key pair: (identity `AGE-SECRET-KEY-1...`, recipient `age1...`).
pub fn keygen() -> (String, String) {
    use age::secrecy::ExposeSecret;
    let id = age::x25519::Identity::generate();
    (id.to_string().expose_secret().to_string(), id.to_public().to_string())
}

/// Parsed recipients; at least one.
pub fn recipients(list: &[String]) -> Result<Vec<age::x25519::Recipient>, OffsiteError> {
    if list.is_empty() {
        return Err(OffsiteError::Config("no age recipients".into()));
    }
    list.iter()
        .map(|r| {
            age::x25519::Recipient::from_str(r.trim())
                .map_err(|e| OffsiteError::Config(format!("age recipient {:?}: {e}", r.trim())))
        })
        .collect()
}

/// Encrypts whatever `fill` writes to `out` for `recipients`; returns what `fill` returned.
pub fn encrypt<W: Write, T>(
    recipients: &[age::x25519::Recipient],
    out: W,
    fill: impl FnOnce(&mut dyn Write) -> Result<T, OffsiteError>,
) -> Result<(T, W), OffsiteError> {
    let enc = age::Encryptor::with_recipients(recipients.iter().map(|r| r as &dyn age::Recipient))
        .map_err(|e| OffsiteError::Crypt(format!("cannot encrypt: {e}")))?;
    let mut w = enc.wrap_output(out).map_err(|e| OffsiteError::io("writing the encrypted copy", e))?;
    let t = fill(&mut w)?;
    let out = w.finish().map_err(|e| OffsiteError::io("writing the encrypted copy", e))?;
    Ok((t, out))
}

/// Identities from an identity file's text (`AGE-SECRET-KEY-1...` lines; `#` comments and blank lines
/// skipped). At most 64 of them.
pub fn identities(text: &str) -> Result<Vec<age::x25519::Identity>, OffsiteError> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let id = age::x25519::Identity::from_str(line)
            .map_err(|_| OffsiteError::Crypt(format!("line {} is not an age identity (AGE-SECRET-KEY-1...)", n + 1)))?;
        out.push(id);
        if out.len() > 64 {
            return Err(OffsiteError::Crypt("more than 64 identities in the file".into()));
        }
    }
    if out.is_empty() {
        return Err(OffsiteError::Crypt("no age identity in the file".into()));
    }
    Ok(out)
}

/// Decrypts `input` with `ids` into `out`; returns the plaintext's length.
pub fn decrypt(ids: &[age::x25519::Identity], input: impl Read, out: &mut impl Write) -> Result<u64, OffsiteError> {
    let dec = age::Decryptor::new(input).map_err(|e| OffsiteError::Crypt(format!("not an age file: {e}")))?;
    let mut r = dec
        .decrypt(ids.iter().map(|i| i as &dyn age::Identity))
        .map_err(|e| OffsiteError::Crypt(format!("cannot decrypt (wrong identity?): {e}")))?;
    std::io::copy(&mut r, out).map_err(|e| OffsiteError::io("decrypting", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_only_with_the_right_identity() {
        let (secret, public) = keygen();
        assert!(secret.starts_with("AGE-SECRET-KEY-1") && public.starts_with("age1"), "{public}");
        let rs = recipients(&[public]).unwrap();
        let plain = b"\x00\x00\x00\x18ftypisom some video".repeat(1000);
        let (n, cipher) = encrypt(&rs, Vec::new(), |w| {
            w.write_all(&plain).map_err(|e| OffsiteError::io("x", e))?;
            Ok(plain.len())
        })
        .unwrap();
        assert_eq!(n, plain.len());
        assert!(!cipher.windows(4).any(|w| w == b"ftyp"));
        let ids = identities(&format!("# created by keygen\n{secret}\n")).unwrap();
        let mut back = Vec::new();
        decrypt(&ids, &cipher[..], &mut back).unwrap();
        assert_eq!(back, plain);
        let (other, _) = keygen();
        let e = decrypt(&identities(&other).unwrap(), &cipher[..], &mut Vec::new()).unwrap_err();
        assert!(e.to_string().contains("wrong identity"), "{e}");
        assert!(identities("age1notsecret").is_err());
        assert!(recipients(&["age1xyz".into()]).is_err());
    }
}
