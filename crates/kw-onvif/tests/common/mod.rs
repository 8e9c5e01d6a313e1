//! A scripted HTTP/1.1 server on loopback for the client tests: one request per connection.
#![allow(dead_code)]

use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub struct Reply {
    pub status: u16,
    /// Extra header lines, each ending in `\r\n`.
    pub headers: String,
    pub body: String,
    /// Wait this long before answering (a long poll).
    pub delay_ms: u64,
}

pub type Handler = Arc<dyn Fn(&str, &str, &str) -> Reply + Send + Sync>;

/// Serves `handler(head, path, body)`; returns `http://127.0.0.1:PORT/onvif/device_service`.
pub async fn serve(handler: Handler) -> String {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/onvif/device_service", l.local_addr().unwrap());
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = l.accept().await else { return };
            let handler = handler.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    let n = s.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf).into_owned();
                    let Some(end) = text.find("\r\n\r\n") else { continue };
                    let len: usize = text[..end]
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap())
                        })
                        .unwrap_or(0);
                    if buf.len() < end + 4 + len {
                        continue;
                    }
                    let path = text.split_whitespace().nth(1).unwrap_or("/").to_owned();
                    let r = handler(&text[..end], &path, &text[end + 4..end + 4 + len]);
                    if r.delay_ms > 0 {
                        tokio::time::sleep(std::time::Duration::from_millis(r.delay_ms)).await;
                    }
                    let resp = format!(
                        "HTTP/1.1 {} X\r\nContent-Type: application/soap+xml\r\nContent-Length: {}\r\n{}Connection: close\r\n\r\n{}",
                        r.status,
                        r.body.len(),
                        r.headers,
                        r.body
                    );
                    let _ = s.write_all(resp.as_bytes()).await;
                    return;
                }
            });
        }
    });
    url
}
