//! Test support: a small HTTP camera of the kind issue 8 is about, on loopback.
//!
//! `/goform/video` answers an MJPEG stream (`multipart/x-mixed-replace`) at a set frame rate and, like
//! goform firmware, hangs up after a while (`drop_after`); every `bad_every`-th part is malformed (a cut-off
//! picture with a lying Content-Length). `/goform/snapshot` answers one JPEG per request. Either needs HTTP
//! Basic or Digest (RFC 7616 MD5, `qop=auth`; the nonce goes stale every `stale_every` requests) when
//! credentials are set. Every `Authorization` value it receives is kept ([`Stats::authorizations`]), so a
//! test can tell whether a password reached it; with `redirect_to` it answers every request with a 302
//! there instead. Pictures are 640×480 JPEGs made with the `image` crate: a gradient with a square
//! moving across, so the H.264 encoder sees real motion.

use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthKind {
    #[allow(dead_code, reason = "a camera without a password; no test uses one yet")]
    None,
    Basic,
    Digest,
}

#[derive(Clone, Debug)]
pub struct CameraOptions {
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    pub auth: AuthKind,
    pub user: String,
    pub password: String,
    /// The MJPEG stream ends after this long (goform firmware behaviour).
    pub drop_after: Duration,
    /// Every this many parts one is malformed (0: never).
    pub bad_every: u64,
    /// Digest: the nonce goes stale after this many requests with it.
    pub stale_every: u64,
    /// Distinct pictures in the loop.
    pub pictures: u32,
    /// Answer every request with `302 Found` to this URL.
    pub redirect_to: Option<String>,
}

impl Default for CameraOptions {
    fn default() -> Self {
        CameraOptions {
            width: 640,
            height: 480,
            fps: 10,
            auth: AuthKind::Basic,
            user: "admin".into(),
            password: "se cret!".into(),
            drop_after: Duration::from_secs(20),
            bad_every: 40,
            stale_every: 25,
            pictures: 20,
            redirect_to: None,
        }
    }
}

/// Counters the tests read.
#[derive(Default, Debug)]
pub struct Stats {
    pub stream_connections: AtomicU64,
    pub snapshots: AtomicU64,
    pub unauthorized: AtomicU64,
    pub stale: AtomicU64,
    pub parts: AtomicU64,
    pub bad_parts: AtomicU64,
    /// Every request, counted before anything else.
    pub requests: AtomicU64,
    /// Every `Authorization` header value received, in order.
    pub authorizations: Mutex<Vec<String>>,
}

pub struct MjpegCamera {
    pub port: u16,
    pub stats: Arc<Stats>,
    stop: Arc<AtomicBool>,
}

struct Shared {
    opts: CameraOptions,
    pictures: Vec<Vec<u8>>,
    stats: Arc<Stats>,
    stop: Arc<AtomicBool>,
    /// Current Digest nonce and the requests made with it.
    nonce: Mutex<(String, u64)>,
}

/// `n` JPEG pictures of a square moving across a gradient.
pub fn make_pictures(w: u32, h: u32, n: u32) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            let size = h / 5;
            let x0 = (w - size) * i / n.max(1);
            let img = image::RgbImage::from_fn(w, h, |x, y| {
                if x >= x0 && x < x0 + size && y >= h / 2 && y < h / 2 + size {
                    image::Rgb([230, 40, 40])
                } else {
                    image::Rgb([(x * 255 / w) as u8, (y * 255 / h) as u8, 120])
                }
            });
            let mut out = Vec::new();
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 80).encode_image(&img).unwrap();
            out
        })
        .collect()
}

impl MjpegCamera {
    pub fn start(opts: CameraOptions) -> MjpegCamera {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let stats = Arc::new(Stats::default());
        let stop = Arc::new(AtomicBool::new(false));
        let shared = Arc::new(Shared {
            pictures: make_pictures(opts.width, opts.height, opts.pictures),
            opts,
            stats: stats.clone(),
            stop: stop.clone(),
            nonce: Mutex::new((new_nonce(), 0)),
        });
        listener.set_nonblocking(true).unwrap();
        std::thread::spawn(move || {
            while !shared.stop.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((s, _)) => {
                        let sh = shared.clone();
                        std::thread::spawn(move || {
                            let _ = s.set_nonblocking(false);
                            serve(&sh, s)
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        MjpegCamera { port, stats, stop }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

impl Drop for MjpegCamera {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn new_nonce() -> String {
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    md5_hex(&t.to_string())
}

fn md5_hex(data: &str) -> String {
    use md5::{Digest, Md5};
    Md5::digest(data.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// Request headers, names in lower case.
type Headers = Vec<(String, String)>;

/// `(method, path, headers)`.
fn read_request(r: &mut BufReader<TcpStream>) -> Option<(String, String, Headers)> {
    let mut line = String::new();
    if r.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_owned();
    let path = parts.next()?.to_owned();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if r.read_line(&mut h).ok()? == 0 {
            return None;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
    }
    Some((method, path, headers))
}

fn digest_params(v: &str) -> Vec<(String, String)> {
    let rest = v.strip_prefix("Digest ").unwrap_or("");
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for ch in rest.chars().chain(std::iter::once(',')) {
        match ch {
            '"' => quoted = !quoted,
            ',' if !quoted => {
                if let Some((k, v)) = cur.split_once('=') {
                    out.push((k.trim().to_owned(), v.trim().to_owned()));
                }
                cur.clear();
            }
            c => cur.push(c),
        }
    }
    out
}

/// `Ok(())` when the request may proceed, else the `WWW-Authenticate` value to send with a 401.
fn check_auth(sh: &Shared, method: &str, headers: &[(String, String)]) -> Result<(), String> {
    let o = &sh.opts;
    let given = headers.iter().find(|(k, _)| k == "authorization").map(|(_, v)| v.as_str());
    match o.auth {
        AuthKind::None => Ok(()),
        AuthKind::Basic => {
            use base64::Engine as _;
            let want = base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", o.user, o.password));
            if given == Some(&format!("Basic {want}")) {
                Ok(())
            } else {
                Err("Basic realm=\"goform\"".into())
            }
        }
        AuthKind::Digest => {
            let mut nonce = sh.nonce.lock().unwrap();
            let challenge = |n: &str, stale: bool| {
                format!(
                    "Digest realm=\"goform camera\", qop=\"auth\", algorithm=MD5, nonce=\"{n}\", opaque=\"op\"{}",
                    if stale { ", stale=true" } else { "" }
                )
            };
            let Some(v) = given else { return Err(challenge(&nonce.0, false)) };
            let p = digest_params(v);
            let get = |k: &str| p.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str()).unwrap_or("");
            let ha1 = md5_hex(&format!("{}:goform camera:{}", o.user, o.password));
            let ha2 = md5_hex(&format!("{method}:{}", get("uri")));
            let want = md5_hex(&format!("{ha1}:{}:{}:{}:auth:{ha2}", get("nonce"), get("nc"), get("cnonce")));
            if get("username") != o.user || get("response") != want {
                return Err(challenge(&nonce.0, false));
            }
            if get("nonce") != nonce.0 {
                sh.stats.stale.fetch_add(1, Ordering::Relaxed);
                return Err(challenge(&nonce.0, true));
            }
            nonce.1 += 1;
            if o.stale_every > 0 && nonce.1 >= o.stale_every {
                *nonce = (new_nonce(), 0); // the next request with the old nonce is told it is stale
            }
            Ok(())
        }
    }
}

fn serve(sh: &Shared, s: TcpStream) {
    let _ = s.set_read_timeout(Some(Duration::from_secs(30)));
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut w = s;
    // Keep-alive: several requests per connection (snapshot polling reuses the connection).
    while let Some((method, path, headers)) = read_request(&mut r) {
        sh.stats.requests.fetch_add(1, Ordering::Relaxed);
        if let Some((_, v)) = headers.iter().find(|(k, _)| k == "authorization") {
            sh.stats.authorizations.lock().unwrap().push(v.clone());
        }
        if let Some(to) = &sh.opts.redirect_to {
            let resp = format!("HTTP/1.1 302 Found\r\nLocation: {to}\r\nContent-Length: 0\r\n\r\n");
            if w.write_all(resp.as_bytes()).is_err() {
                return;
            }
            continue;
        }
        if let Err(challenge) = check_auth(sh, &method, &headers) {
            sh.stats.unauthorized.fetch_add(1, Ordering::Relaxed);
            let body = "401 Unauthorized";
            let resp = format!(
                "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: {challenge}\r\nContent-Type: text/plain\r\n\
                 Content-Length: {}\r\n\r\n{body}",
                body.len()
            );
            if w.write_all(resp.as_bytes()).is_err() {
                return;
            }
            continue;
        }
        match path.as_str() {
            "/goform/video" => {
                sh.stats.stream_connections.fetch_add(1, Ordering::Relaxed);
                stream(sh, &mut w);
                let _ = w.shutdown(Shutdown::Both);
                return;
            }
            "/goform/snapshot" => {
                let n = sh.stats.snapshots.fetch_add(1, Ordering::Relaxed);
                let pic = &sh.pictures[(n % sh.pictures.len() as u64) as usize];
                let head =
                    format!("HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nContent-Length: {}\r\n\r\n", pic.len());
                if w.write_all(head.as_bytes()).and_then(|_| w.write_all(pic)).is_err() {
                    return;
                }
            }
            _ => {
                let _ = w.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
            }
        }
    }
}

fn stream(sh: &Shared, w: &mut TcpStream) {
    let o = &sh.opts;
    // A boundary declared with "--" in front, as some firmware does.
    let head = "HTTP/1.1 200 OK\r\nContent-Type: multipart/x-mixed-replace; boundary=--goform\r\n\
                Cache-Control: no-cache\r\nConnection: close\r\n\r\n";
    if w.write_all(head.as_bytes()).is_err() {
        return;
    }
    let t0 = Instant::now();
    let interval = Duration::from_secs_f64(1.0 / f64::from(o.fps));
    let mut i: u32 = 0;
    while t0.elapsed() < o.drop_after && !sh.stop.load(Ordering::Relaxed) {
        let due = t0 + interval * i;
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        let n = sh.stats.parts.fetch_add(1, Ordering::Relaxed) + 1;
        let pic = &sh.pictures[(i % o.pictures) as usize];
        let mut part = Vec::with_capacity(pic.len() + 128);
        if o.bad_every > 0 && n.is_multiple_of(o.bad_every) {
            sh.stats.bad_parts.fetch_add(1, Ordering::Relaxed);
            // A cut-off picture whose Content-Length claims the whole one.
            part.extend_from_slice(
                format!("--goform\r\nContent-Type: image/jpeg\r\nContent-Length: {}\r\n\r\n", pic.len()).as_bytes(),
            );
            part.extend_from_slice(&pic[..pic.len() / 3]);
            part.extend_from_slice(b"\r\n");
        } else {
            part.extend_from_slice(
                format!("--goform\r\nContent-Type: image/jpeg\r\nContent-Length: {}\r\n\r\n", pic.len()).as_bytes(),
            );
            part.extend_from_slice(pic);
            part.extend_from_slice(b"\r\n");
        }
        if w.write_all(&part).is_err() {
            return;
        }
        i += 1;
    }
}
