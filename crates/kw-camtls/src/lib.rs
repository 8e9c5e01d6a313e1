//! How keepwatch trusts a camera's HTTPS certificate: the system's certificate authorities, or, for the many
//! cameras that come with a self-signed certificate, one pinned fingerprint (trust on first use).
//!
//! Why a pin rather than "accept any certificate": a camera's password and pictures cross the network, and
//! a self-signed certificate says nothing about who answers. The admin sees the certificate's SHA-256
//! fingerprint once (the camera form's probe shows it), accepts it, and keepwatch then trusts exactly that
//! certificate for that camera (`tls_fingerprint = "sha256:..."` in the config) and refuses any other, with
//! a message that says it changed. A pinned certificate is trusted as it is: self-signed cameras rarely have
//! the right name or a current date in theirs, and the pin is the whole of the trust.
//!
//! [`client_config`] gives a rustls client config (ring, like the rest of keepwatch) for reqwest's
//! `use_preconfigured_tls`; each handshake's certificate and verdict land in a [`Seen`] the caller keeps, so
//! a failed request can be explained (and its fingerprint offered) without digging through error chains.

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use sha2::{Digest, Sha256};
use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Mutex, OnceLock};

/// The SHA-256 of a certificate (its DER bytes): what `tls_fingerprint` holds.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint([u8; 32]);

impl Fingerprint {
    /// The fingerprint of a certificate in DER.
    pub fn of(der: &[u8]) -> Fingerprint {
        Fingerprint(Sha256::digest(der).into())
    }
}

/// `sha256:` and 64 lowercase hex digits.
impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("sha256:")?;
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("a certificate fingerprint is \"sha256:\" and 64 hex digits (colons between pairs allowed)")]
pub struct BadFingerprint;

/// Reads `sha256:` + 64 hex digits, either case, with or without colons between the pairs (as browsers and
/// `openssl x509 -fingerprint` show them).
impl FromStr for Fingerprint {
    type Err = BadFingerprint;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let hex = s.strip_prefix("sha256:").or_else(|| s.strip_prefix("SHA256:")).ok_or(BadFingerprint)?;
        if hex.len() > 128 {
            return Err(BadFingerprint);
        }
        let digits: Vec<u8> = hex.bytes().filter(|&b| b != b':').collect();
        if digits.len() != 64 {
            return Err(BadFingerprint);
        }
        let mut out = [0u8; 32];
        for (i, pair) in digits.chunks(2).enumerate() {
            let v = |c: u8| (c as char).to_digit(16).ok_or(BadFingerprint);
            out[i] = (v(pair[0])? * 16 + v(pair[1])?) as u8;
        }
        Ok(Fingerprint(out))
    }
}

/// Why a camera's certificate was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// No pin, and the system's authorities do not vouch for it (typically: self-signed).
    #[error(
        "the camera's certificate is not trusted ({why}); its fingerprint is {seen}: if that is your camera's, \
         accept it in the camera form (tls_fingerprint)"
    )]
    Untrusted { seen: Fingerprint, why: String },
    /// A pin, and another certificate.
    #[error(
        "the camera's certificate changed: it is now {seen}, but keepwatch trusts {pinned} (tls_fingerprint), so \
         the connection was refused; if the camera got a new certificate on purpose, accept the new one in the \
         camera form"
    )]
    Changed { seen: Fingerprint, pinned: Fingerprint },
}

impl Refused {
    /// The fingerprint of the certificate that was refused.
    pub fn seen(&self) -> Fingerprint {
        match self {
            Refused::Untrusted { seen, .. } | Refused::Changed { seen, .. } => *seen,
        }
    }
}

/// The last handshake's certificate and verdict, shared between a client's verifier and its owner.
#[derive(Clone, Default, Debug)]
pub struct Seen(Arc<Mutex<Option<Verdict>>>);

/// A certificate seen and, when it was refused, why.
type Verdict = (Fingerprint, Option<Refused>);

impl Seen {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Verdict>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The fingerprint of the certificate of the last handshake, accepted or not.
    pub fn fingerprint(&self) -> Option<Fingerprint> {
        self.lock().as_ref().map(|(f, _)| *f)
    }

    /// Why the last handshake's certificate was refused, if it was.
    pub fn refused(&self) -> Option<Refused> {
        self.lock().as_ref().and_then(|(_, r)| r.clone())
    }

    fn record(&self, f: Fingerprint, refused: Option<Refused>) {
        *self.lock() = Some((f, refused));
    }
}

/// The verifier: the pin when there is one, else the system's authorities.
#[derive(Debug)]
struct Verifier {
    pin: Option<Fingerprint>,
    seen: Seen,
    /// `None` when the system has no authorities at all: every certificate is then untrusted.
    webpki: Option<Arc<WebPkiServerVerifier>>,
    algorithms: WebPkiSupportedAlgorithms,
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The system's certificate authorities, read once per process.
fn system_roots() -> Arc<rustls::RootCertStore> {
    static ROOTS: OnceLock<Arc<rustls::RootCertStore>> = OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let mut store = rustls::RootCertStore::empty();
            let found = rustls_native_certs::load_native_certs();
            for e in &found.errors {
                tracing::debug!("reading the system's certificate authorities: {e}");
            }
            let (added, ignored) = store.add_parsable_certificates(found.certs);
            tracing::debug!("{added} system certificate authorities ({ignored} unusable)");
            Arc::new(store)
        })
        .clone()
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let seen = Fingerprint::of(end_entity);
        let refusal = match self.pin {
            Some(pinned) if pinned == seen => None,
            Some(pinned) => Some(Refused::Changed { seen, pinned }),
            None => {
                let verdict = match &self.webpki {
                    Some(v) => v.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now),
                    None => Err(rustls::Error::General("the system has no certificate authorities".into())),
                };
                match verdict {
                    Ok(_) => None,
                    Err(e) => Some(Refused::Untrusted { seen, why: plain(&e) }),
                }
            }
        };
        self.seen.record(seen, refusal.clone());
        match refusal {
            None => Ok(ServerCertVerified::assertion()),
            Some(r) => {
                Err(rustls::Error::InvalidCertificate(rustls::CertificateError::Other(rustls::OtherError(Arc::new(r)))))
            }
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// rustls's reason in words a person reads ("invalid peer certificate: UnknownIssuer" → "unknown issuer").
fn plain(e: &rustls::Error) -> String {
    use rustls::CertificateError as C;
    match e {
        rustls::Error::InvalidCertificate(c) => match c {
            C::UnknownIssuer => "issued by no authority this system trusts, e.g. self-signed".into(),
            C::Expired | C::ExpiredContext { .. } => "expired".into(),
            C::NotValidYet | C::NotValidYetContext { .. } => "not valid yet".into(),
            C::NotValidForName | C::NotValidForNameContext { .. } => "made out for another name".into(),
            C::Revoked => "revoked".into(),
            other => format!("{other:?}"),
        },
        other => other.to_string(),
    }
}

/// A rustls client config for a camera: trusts exactly `pin` when given, else the system's authorities;
/// each handshake is recorded in `seen`.
pub fn client_config(pin: Option<Fingerprint>, seen: Seen) -> rustls::ClientConfig {
    let provider = provider();
    let webpki = if pin.is_none() {
        let roots = system_roots();
        if roots.is_empty() {
            None
        } else {
            WebPkiServerVerifier::builder_with_provider(roots, provider.clone()).build().ok()
        }
    } else {
        None
    };
    let verifier = Arc::new(Verifier { pin, seen, webpki, algorithms: provider.signature_verification_algorithms });
    rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions")
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_read_and_print() {
        let f = Fingerprint::of(b"a certificate");
        let text = f.to_string();
        assert!(text.starts_with("sha256:") && text.len() == 7 + 64, "{text}");
        assert_eq!(text.parse::<Fingerprint>(), Ok(f));
        let colons: String = text.as_bytes()[7..]
            .chunks(2)
            .map(|p| std::str::from_utf8(p).unwrap().to_ascii_uppercase())
            .collect::<Vec<_>>()
            .join(":");
        assert_eq!(format!("SHA256:{colons}").parse::<Fingerprint>(), Ok(f));
        for bad in ["", "sha256:", "md5:00", &text[..text.len() - 1], &format!("{text}0"), &text.replace('0', "g")] {
            if bad != text {
                assert_eq!(bad.parse::<Fingerprint>(), Err(BadFingerprint), "{bad:?}");
            }
        }
    }

    #[test]
    fn messages_name_both_fingerprints() {
        let (a, b) = (Fingerprint::of(b"a"), Fingerprint::of(b"b"));
        let m = Refused::Changed { seen: a, pinned: b }.to_string();
        assert!(m.contains(&a.to_string()) && m.contains(&b.to_string()) && m.contains("changed"), "{m}");
        let m = Refused::Untrusted { seen: a, why: "self-signed".into() }.to_string();
        assert!(m.contains(&a.to_string()) && m.contains("accept it"), "{m}");
    }

    #[test]
    fn the_pin_decides_and_the_verdict_is_recorded() {
        let cert = CertificateDer::from(b"not even DER, the pin does not care".to_vec());
        let name = ServerName::try_from("camera.local").unwrap();
        let seen = Seen::default();
        let good = Verifier {
            pin: Some(Fingerprint::of(cert.as_ref())),
            seen: seen.clone(),
            webpki: None,
            algorithms: provider().signature_verification_algorithms,
        };
        assert!(good.verify_server_cert(&cert, &[], &name, &[], UnixTime::now()).is_ok());
        assert_eq!(seen.fingerprint(), Some(Fingerprint::of(cert.as_ref())));
        assert_eq!(seen.refused(), None);
        let other = Verifier { pin: Some(Fingerprint::of(b"x")), ..good };
        // What users read comes from the recorded verdict (`Seen::refused`), not from rustls' wording of the
        // error, which differs between rustls versions.
        let e = other.verify_server_cert(&cert, &[], &name, &[], UnixTime::now()).unwrap_err();
        assert!(matches!(e, rustls::Error::InvalidCertificate(_)), "{e}");
        assert!(matches!(seen.refused(), Some(Refused::Changed { .. })));
        assert!(seen.refused().unwrap().to_string().contains("changed"));
        let none = Verifier { pin: None, ..other };
        let e = none.verify_server_cert(&cert, &[], &name, &[], UnixTime::now()).unwrap_err();
        assert!(matches!(e, rustls::Error::InvalidCertificate(_)), "{e}");
        assert!(seen.refused().unwrap().to_string().contains("accept it"));
        assert_eq!(seen.refused().map(|r| r.seen()), Some(Fingerprint::of(cert.as_ref())));
    }
}
