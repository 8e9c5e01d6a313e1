//! A camera with a self-signed HTTPS certificate, as many MJPEG/JPEG cameras ship: JPEG snapshots over TLS
//! (rustls on a plain thread per connection), certificates made by the `openssl` CLI, and the certificate
//! swappable while it runs (a camera that got a new one, or someone in between).

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A self-signed certificate and its key, in PEM files.
pub struct SelfSigned {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// `sha256:` + 64 lowercase hex digits, as `openssl x509 -fingerprint -sha256` computes it.
    pub fingerprint: String,
}

impl SelfSigned {
    /// Makes `DIR/NAME.pem` and `DIR/NAME.key` (EC P-256, CN and SAN `camera.local`, one day).
    pub fn make(dir: &Path, name: &str) -> SelfSigned {
        let cert = dir.join(format!("{name}.pem"));
        let key = dir.join(format!("{name}.key"));
        let out = Command::new("openssl")
            .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1"])
            .args(["-subj", "/CN=camera.local", "-addext", "subjectAltName=DNS:camera.local", "-keyout"])
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .output()
            .expect("openssl");
        assert!(out.status.success(), "openssl req: {}", String::from_utf8_lossy(&out.stderr));
        let out = Command::new("openssl")
            .args(["x509", "-noout", "-fingerprint", "-sha256", "-in"])
            .arg(&cert)
            .output()
            .expect("openssl");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        // "sha256 Fingerprint=AB:CD:..." (spelling varies by version: take what follows '=')
        let hex = text.trim().rsplit('=').next().unwrap().replace(':', "").to_ascii_lowercase();
        assert_eq!(hex.len(), 64, "{text}");
        SelfSigned { cert, key, fingerprint: format!("sha256:{hex}") }
    }

    fn server_config(&self) -> Arc<rustls::ServerConfig> {
        let certs: Vec<CertificateDer<'static>> =
            CertificateDer::pem_file_iter(&self.cert).unwrap().collect::<Result<_, _>>().unwrap();
        let key = PrivateKeyDer::from_pem_file(&self.key).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap();
        Arc::new(config)
    }
}

/// The camera: `GET` anything → one JPEG (`image/jpeg`), over TLS with the current certificate.
pub struct HttpsCamera {
    pub port: u16,
    tls: Arc<Mutex<Arc<rustls::ServerConfig>>>,
    stop: Arc<AtomicBool>,
}

impl HttpsCamera {
    pub fn start(cert: &SelfSigned) -> HttpsCamera {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let tls = Arc::new(Mutex::new(cert.server_config()));
        let stop = Arc::new(AtomicBool::new(false));
        let picture = Arc::new(super::mjpeg_camera::make_pictures(320, 240, 1).remove(0));
        listener.set_nonblocking(true).unwrap();
        let (tls2, stop2) = (tls.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop2.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((s, _)) => {
                        let config = tls2.lock().unwrap().clone();
                        let picture = picture.clone();
                        std::thread::spawn(move || {
                            let _ = s.set_nonblocking(false);
                            let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
                            let _ = serve(config, s, &picture);
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        HttpsCamera { port, tls, stop }
    }

    /// From now on, new connections get `cert`.
    pub fn use_cert(&self, cert: &SelfSigned) {
        *self.tls.lock().unwrap() = cert.server_config();
    }

    pub fn url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.port)
    }
}

impl Drop for HttpsCamera {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn serve(config: Arc<rustls::ServerConfig>, tcp: std::net::TcpStream, picture: &[u8]) -> std::io::Result<()> {
    let conn = rustls::ServerConnection::new(config).map_err(std::io::Error::other)?;
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > 16 * 1024 || tls.read(&mut byte)? == 0 {
            return Ok(());
        }
        head.push(byte[0]);
    }
    let answer = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        picture.len()
    );
    tls.write_all(answer.as_bytes())?;
    tls.write_all(picture)?;
    tls.flush()?;
    tls.conn.send_close_notify();
    let _ = tls.flush();
    Ok(())
}
