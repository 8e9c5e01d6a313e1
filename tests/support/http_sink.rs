//! A minimal HTTP server on loopback that answers `200 OK` to every request and hands each one (headers and
//! body) to the test: a webhook receiver.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// One request the sink received.
pub struct Received {
    pub at: Instant,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// Listens on a free loopback port until the test process ends; one thread per connection.
pub struct HttpSink {
    pub port: u16,
    rx: mpsc::Receiver<Received>,
}

impl HttpSink {
    pub fn start() -> HttpSink {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for s in l.incoming() {
                let Ok(s) = s else { continue };
                let tx = tx.clone();
                std::thread::spawn(move || {
                    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                    let Some(req) = read_request(&s) else { return };
                    let _ = (&s).write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
                    let _ = tx.send(req);
                });
            }
        });
        HttpSink { port, rx }
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The next request, if one comes within `timeout`.
    pub fn recv_timeout(&self, timeout: Duration) -> Option<Received> {
        self.rx.recv_timeout(timeout).ok()
    }

    /// Forgets every request received so far.
    pub fn drain(&self) {
        while self.rx.try_recv().is_ok() {}
    }
}

/// The request line, the headers, and a body of Content-Length bytes.
fn read_request(s: &std::net::TcpStream) -> Option<Received> {
    let mut r = BufReader::new(s);
    let mut request_line = String::new();
    if r.read_line(&mut request_line).ok()? == 0 {
        return None;
    }
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
    }
    let len = headers.iter().find(|(k, _)| k == "content-length").and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
    let mut body = vec![0; len];
    let _ = r.read_exact(&mut body);
    Some(Received { at: Instant::now(), headers, body })
}
