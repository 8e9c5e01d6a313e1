//! kw-offsite against a real S3 server (SeaweedFS's `weed mini` on loopback, from the venv that
//! `scripts/install-test-deps.sh` makes): a copy larger than one part goes up as a multipart upload,
//! survives its worker being stopped after the first part (as a restart would) and resumes from the
//! queue with the same spool file, and what lands on the target decrypts to exactly the source's bytes.

use std::io::Write;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kw_offsite::queue::NewJob;
use kw_offsite::worker::{Source, Worker};
use kw_offsite::{crypt, Health, Part, Queue, Target};

fn free_port() -> u16 {
    loop {
        let p = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        if p < 55000 && std::net::TcpListener::bind(("127.0.0.1", p + 10000)).is_ok() {
            return p;
        }
    }
}

struct Weed(Child);

impl Drop for Weed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn weed(dir: &Path) -> (Weed, u16) {
    let venv = std::env::var_os("KEEPWATCH_TEST_VENV").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into())).join(".cache/keepwatch-test-venv")
    });
    let bin = venv.join("bin/weed");
    assert!(bin.exists(), "{} missing: run scripts/install-test-deps.sh", bin.display());
    std::fs::create_dir_all(dir.join("data")).unwrap();
    std::fs::write(
        dir.join("id.json"),
        r#"{"identities":[{"name":"kw","credentials":[{"accessKey":"ak-test","secretKey":"sk-test-secret"}],"actions":["Admin","Read","Write","List"]}]}"#,
    )
    .unwrap();
    let port = free_port();
    let log = std::fs::File::create(dir.join("weed.log")).unwrap();
    let child = Command::new(bin)
        .args([
            "mini".to_string(),
            format!("-dir={}", dir.join("data").display()),
            "-ip=127.0.0.1".into(),
            "-ip.bind=127.0.0.1".into(),
            "-master.telemetry=false".into(),
            "-s3.autoCreateBucket=true".into(),
            format!("-s3.config={}", dir.join("id.json").display()),
            format!("-s3.port={port}"),
            format!("-master.port={}", free_port()),
            format!("-volume.port={}", free_port()),
            format!("-filer.port={}", free_port()),
            format!("-admin.port={}", free_port()),
            format!("-metricsPort={}", free_port()),
            "-webdav=false".into(),
            "-admin.ui=false".into(),
        ])
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let w = Weed(child);
    let until = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < until,
            "weed did not start: {}",
            std::fs::read_to_string(dir.join("weed.log")).unwrap()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(3));
    (w, port)
}

/// 20 MiB of reproducible bytes, counting how often it was asked.
struct Bytes20(AtomicUsize);

fn payload() -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..20 << 20)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

impl Source for Bytes20 {
    fn clip(&self, _: &str, _: i64, _: i64, out: &mut dyn Write) -> Result<bool, String> {
        self.0.fetch_add(1, Ordering::SeqCst);
        out.write_all(&payload()).map(|()| true).map_err(|e| e.to_string())
    }
    fn picture(&self, _: i64, _: &mut dyn Write) -> Result<bool, String> {
        Ok(false)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multipart_upload_resumes_after_a_stop_and_decrypts_to_the_source() {
    let dir = tempfile::tempdir().unwrap();
    let (_weed, port) = weed(&dir.path().join("weed"));
    let (secret, public) = crypt::keygen();
    std::fs::write(dir.path().join("cred.toml"), "key = \"ak-test\"\nsecret = \"sk-test-secret\"\n").unwrap();
    let text = format!(
        "[[offsite]]\nname = \"s3\"\ntarget = \"s3://kw-test/copies\"\nendpoint = \"http://127.0.0.1:{port}\"\n\
         path_style = true\ncredentials_file = \"cred.toml\"\nrecipients = [\"{public}\"]\nbandwidth = \"40Mbit\"\n"
    );
    let cfg = kw_config::parse(&text, &dir.path().join("keepwatch.toml")).unwrap().offsite.remove(0);
    let index = dir.path().join("index.sqlite3");
    let spool = dir.path().join("spool");
    kw_offsite::worker::spool_dir(&spool).unwrap();
    let queue = Queue::open(&index).unwrap();
    let job = NewJob {
        target: "s3",
        event_id: 1,
        camera: "yard",
        part: Part::Clip,
        range: (0, 1),
        object: "yard/20261203T120000Z-1-clip.mp4.age".into(),
        due: 0,
    };
    assert!(queue.enqueue(&job, 0).unwrap());
    let source = Arc::new(Bytes20(AtomicUsize::new(0)));
    let worker = |q: Queue| Worker {
        cfg: cfg.clone(),
        queue: q,
        spool_dir: spool.clone(),
        source: source.clone(),
        health: Health::default(),
        wake: Arc::new(tokio::sync::Notify::new()),
    };
    let state = |q: &Queue| q.all().unwrap().remove(0);

    // First run: stopped once the first 8 MiB part is on the target (the cap paces the next one).
    let first = tokio::spawn(worker(queue.clone()).run());
    let until = Instant::now() + Duration::from_secs(120);
    let upload_id = loop {
        let (j, s) = state(&queue);
        assert_eq!(s, "pending");
        if !j.parts.is_empty() {
            break j.upload_id.unwrap();
        }
        assert!(Instant::now() < until, "no part uploaded: {j:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    first.abort();
    let _ = first.await;

    // Second run, on a fresh connection as after a restart: it goes on with the same upload.
    let queue2 = Queue::open(&index).unwrap();
    let second = tokio::spawn(worker(queue2.clone()).run());
    let until = Instant::now() + Duration::from_secs(120);
    loop {
        let (j, s) = state(&queue2);
        if s == "done" {
            break;
        }
        if let Some(id) = &j.upload_id {
            assert_eq!(id, &upload_id, "the resumed run started a new upload");
        }
        assert!(Instant::now() < until, "not uploaded: {j:?} {s}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    second.abort();
    assert_eq!(source.0.load(Ordering::SeqCst), 1, "the spool file was reused, not built again");
    assert_eq!(std::fs::read_dir(&spool).unwrap().count(), 0, "the spool file is gone once uploaded");

    let target = Target::open(&cfg).unwrap();
    let listed = target.list().await.unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0].name, job.object);
    let fetched = dir.path().join("fetched.age");
    let mut f = tokio::fs::File::create(&fetched).await.unwrap();
    target.fetch(&job.object, &mut f).await.unwrap();
    drop(f);
    let cipher = std::fs::read(&fetched).unwrap();
    assert!(cipher.starts_with(b"age-encryption.org/v1"));
    let mut plain = Vec::new();
    crypt::decrypt(&crypt::identities(&secret).unwrap(), &cipher[..], &mut plain).unwrap();
    assert!(plain == payload(), "the decrypted copy differs from the source");
    target.delete(&job.object).await.unwrap();
    assert!(target.list().await.unwrap().is_empty());
}
