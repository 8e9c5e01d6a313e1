//! Helpers for the ffmpeg-backed tests: cached test clips, packet lists from ffprobe, decoder
//! configurations read from ffmpeg's own MP4 files, and checks with ffprobe/ffmpeg.
#![allow(dead_code)]

use kw_media::{Codec, StreamParams};
use kw_mp4::Mp4File;
use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

/// True when ffmpeg and ffprobe can run; prints why a test is skipped otherwise.
pub fn have_ffmpeg(test: &str) -> bool {
    let ok = |tool: &str| Command::new(tool).arg("-version").output().is_ok_and(|o| o.status.success());
    let have = ok("ffmpeg") && ok("ffprobe");
    if !have {
        println!("skipping {test}: ffmpeg/ffprobe not found");
    }
    have
}

fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"),
    }
}

/// A scratch directory for test outputs.
pub fn out_dir() -> PathBuf {
    let d = target_dir().join("kw-test-clips").join("out");
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// FNV-1a, so cache keys stay stable across Rust versions.
fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
}

/// Runs `ffmpeg -y -v error ARGS OUT` once and caches the result under `target/kw-test-clips/`, keyed by
/// the arguments.
pub fn clip(name: &str, ext: &str, args: &[&str]) -> PathBuf {
    let dir = target_dir().join("kw-test-clips");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}-{:016x}.{ext}", fnv(&args.join(" "))));
    if path.exists() {
        return path;
    }
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let tmp = dir.join(format!("tmp-{}-{n}-{name}.{ext}", std::process::id()));
    let out = Command::new("ffmpeg").args(["-y", "-v", "error"]).args(args).arg(&tmp).output().unwrap();
    assert!(out.status.success(), "ffmpeg failed: {}", String::from_utf8_lossy(&out.stderr));
    std::fs::rename(&tmp, &path).unwrap();
    path
}

/// A 320x240 25 fps testsrc clip with a 48 kHz AAC tone, 4 s, key frame every second, timescale 90 kHz.
pub fn av_clip(name: &str, video_args: &[&str]) -> PathBuf {
    let mut args = vec![
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=320x240:rate=25",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=48000",
        "-t",
        "4",
        "-pix_fmt",
        "yuv420p",
    ];
    args.extend_from_slice(video_args);
    args.extend_from_slice(&["-c:a", "aac", "-b:a", "64k", "-video_track_timescale", "90000"]);
    clip(name, "mp4", &args)
}

/// One packet as ffprobe lists it.
#[derive(Clone, Debug)]
pub struct Pkt {
    pub stream: usize,
    pub pts: i64,
    pub size: u32,
    pub pos: u64,
    pub key: bool,
}

fn compact(out: &[u8]) -> Vec<HashMap<String, String>> {
    String::from_utf8_lossy(out)
        .lines()
        .map(|l| {
            l.split('|')
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<HashMap<_, _>>()
        })
        .filter(|m| !m.is_empty())
        .collect()
}

fn ffprobe(args: &[&str], path: &Path) -> Vec<HashMap<String, String>> {
    let out = Command::new("ffprobe").args(["-v", "error"]).args(args).args(["-of", "compact=p=0"]).arg(path).output();
    let out = out.unwrap();
    assert!(out.status.success(), "ffprobe failed: {}", String::from_utf8_lossy(&out.stderr));
    compact(&out.stdout)
}

/// Packets in file (decode) order.
pub fn packets(path: &Path) -> Vec<Pkt> {
    ffprobe(&["-show_entries", "packet=stream_index,pts,size,pos,flags"], path)
        .into_iter()
        .filter(|m| m.contains_key("stream_index"))
        .map(|m| Pkt {
            stream: m["stream_index"].parse().unwrap(),
            pts: m["pts"].parse().unwrap(),
            size: m["size"].parse().unwrap(),
            pos: m["pos"].parse().unwrap(),
            key: m["flags"].starts_with('K'),
        })
        .collect()
}

/// Streams with codec, type, duration and the number of decoded frames.
pub fn streams(path: &Path) -> Vec<HashMap<String, String>> {
    ffprobe(
        &["-count_frames", "-show_entries", "stream=index,codec_name,codec_type,duration,nb_read_frames,width,height"],
        path,
    )
}

/// What `ffmpeg -v error` says while decoding the whole file (empty when clean).
pub fn decode_errors(path: &Path) -> String {
    let out = Command::new("ffmpeg").args(["-v", "error", "-i"]).arg(path).args(["-f", "null", "-"]).output().unwrap();
    let mut s = String::from_utf8_lossy(&out.stdout).into_owned();
    s.push_str(&String::from_utf8_lossy(&out.stderr));
    if !out.status.success() {
        s.push_str("(ffmpeg failed)");
    }
    s
}

/// Reads the sample descriptions of ffmpeg's own MP4 (one per track, in track order).
pub fn stream_params(path: &Path) -> Vec<StreamParams> {
    let buf = std::fs::read(path).unwrap();
    let moov = boxes(&buf).into_iter().find(|b| b.0 == *b"moov").expect("moov").1;
    let mut out = Vec::new();
    for (typ, trak) in boxes(moov) {
        if typ != *b"trak" {
            continue;
        }
        let mdia = child(trak, b"mdia");
        let mdhd = child(mdia, b"mdhd");
        let timescale = be32(&mdhd[12..]);
        let stbl = child(child(mdia, b"minf"), b"stbl");
        let stsd = child(stbl, b"stsd");
        let entry = boxes(&stsd[8..])[0];
        let body = entry.1;
        let p = match &entry.0 {
            b"avc1" | b"hvc1" | b"hev1" => {
                let cfg = boxes(&body[78..])[0].1.to_vec();
                let codec = if entry.0 == *b"avc1" { Codec::H264 } else { Codec::H265 };
                StreamParams {
                    codec,
                    timescale,
                    width: u16::from_be_bytes([body[24], body[25]]),
                    height: u16::from_be_bytes([body[26], body[27]]),
                    sample_rate: 0,
                    channels: 0,
                    extra: cfg,
                    rfc6381: String::new(),
                }
            }
            b"mp4a" => {
                let esds = child(&body[28..], b"esds");
                StreamParams {
                    codec: Codec::Aac,
                    timescale,
                    width: 0,
                    height: 0,
                    sample_rate: timescale,
                    channels: body[17],
                    extra: find_descriptor(&esds[4..], 5).expect("DecoderSpecificInfo").to_vec(),
                    rfc6381: String::new(),
                }
            }
            other => panic!("unexpected sample entry {other:?}"),
        };
        out.push(p);
    }
    out
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

fn boxes(mut b: &[u8]) -> Vec<([u8; 4], &[u8])> {
    let mut out = Vec::new();
    while b.len() >= 8 {
        let size = (be32(b) as usize).min(b.len());
        let typ = [b[4], b[5], b[6], b[7]];
        out.push((typ, &b[8..size.max(8)]));
        b = &b[size.max(8)..];
    }
    out
}

fn child<'a>(b: &'a [u8], typ: &[u8; 4]) -> &'a [u8] {
    boxes(b).into_iter().find(|c| c.0 == *typ).unwrap_or_else(|| panic!("no {typ:?}")).1
}

/// Finds the body of descriptor `tag` inside MPEG-4 descriptors, descending into ES and decoder config.
fn find_descriptor(mut b: &[u8], tag: u8) -> Option<&[u8]> {
    while b.len() >= 2 {
        let t = b[0];
        let mut len = 0usize;
        let mut i = 1;
        loop {
            let c = *b.get(i)?;
            len = (len << 7) | usize::from(c & 0x7f);
            i += 1;
            if c & 0x80 == 0 {
                break;
            }
        }
        let body = b.get(i..i + len)?;
        if t == tag {
            return Some(body);
        }
        let inner = match t {
            0x03 => body.get(3..),  // ES_ID, flags (no optional fields from ffmpeg)
            0x04 => body.get(13..), // decoder config fixed fields
            _ => None,
        };
        if let Some(found) = inner.and_then(|x| find_descriptor(x, tag)) {
            return Some(found);
        }
        b = &b[i + len..];
    }
    None
}

/// Opens source files by index and serves `Mp4File` reads from them.
pub struct Sources(pub Vec<File>);

impl Sources {
    pub fn open(paths: &[&Path]) -> Sources {
        Sources(paths.iter().map(|p| File::open(p).unwrap()).collect())
    }

    pub fn read(&self, source: u32, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        let f = self.0.get(source as usize).ok_or_else(|| io::Error::other("no such source"))?;
        f.read_exact_at(buf, offset)
    }

    /// Writes `file` to `path`.
    pub fn write(&self, file: &Mp4File, path: &Path) -> Vec<u8> {
        let mut out = Vec::new();
        file.write_to(&mut out, &mut |s, o, b| self.read(s, o, b)).unwrap();
        assert_eq!(out.len() as u64, file.len());
        std::fs::write(path, &out).unwrap();
        out
    }

    /// Materializes the parts of `range`.
    pub fn parts_bytes(&self, file: &Mp4File, range: std::ops::Range<u64>) -> Vec<u8> {
        let mut out = Vec::new();
        for p in file.parts_in(range) {
            match p {
                kw_mp4::Part::Bytes(b) => out.extend_from_slice(&b),
                kw_mp4::Part::Data { source, offset, len } => {
                    let mut buf = vec![0; len as usize];
                    self.read(source, offset, &mut buf).unwrap();
                    out.extend_from_slice(&buf);
                }
            }
        }
        out
    }
}

/// MD5 of every decoded video frame, in presentation order.
pub fn frame_hashes(path: &Path) -> Vec<String> {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(path)
        .args(["-map", "0:v", "-f", "framemd5", "-"])
        .output()
        .unwrap();
    assert!(out.status.success(), "ffmpeg framemd5 failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.rsplit(',').next().map(|h| h.trim().to_string()))
        .collect()
}
