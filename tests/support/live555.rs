//! live555 as a second, independent RTSP server (the stack much camera firmware is built on), for the
//! compatibility matrix (`tests/it/compat_matrix.rs`, `scripts/compat-matrix.sh`).
//!
//! live555 is packaged in no Debian 12 component; `scripts/build-live555.sh` builds it from the PyPI sdist
//! `liblivemedia` 1.0.5 (live555 2024.06.26) together with our small server program
//! (`tests/support/live555/kw_live555_server.cpp`), once, cached under the cargo target directory. The
//! server streams elementary-stream files the way camera firmware streams its encoder (live555's discrete
//! framer: the RTP marker on every slice), each session from the file's first byte, and says RTCP BYE at
//! the end of the file.
//!
//! Clips are made with ffmpeg and cached like [`super::media::clip`]; [`frame_hashes`] gives the decoded
//! frames' MD5s that a recording is compared with.

use super::media::{cached_clip, clips_dir};
use super::tools::{free_port, run_with_timeout};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

/// The live555 test server, built on first use (a minute or two on 2 cores; then cached).
pub fn server_bin() -> PathBuf {
    static BIN: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BIN.get_or_init(|| {
        let out_dir = clips_dir().parent().map(Path::to_path_buf).unwrap_or_else(clips_dir).join("live555");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/build-live555.sh");
        let out = run_with_timeout(Command::new("bash").arg(script).arg(&out_dir), Duration::from_secs(1200));
        if !out.status.success() {
            return Err(format!("building live555 failed: {}", String::from_utf8_lossy(&out.stderr)));
        }
        Ok(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim().lines().last().unwrap_or_default()))
    })
    .clone()
    .unwrap_or_else(|e| panic!("{e}"))
}

/// An elementary-stream clip as cameras send it.
#[derive(Clone, Debug, PartialEq)]
pub struct EsSpec {
    /// `h264` or `h265`.
    pub codec: &'static str,
    /// H.264 profile: `baseline`, `main` or `high`.
    pub profile: &'static str,
    pub bframes: bool,
    /// Slices per picture (x264 `slices=N`).
    pub slices: u32,
    /// Parameter sets only once, at the start (default: before every key frame, as most cameras do).
    pub headers_once: bool,
    /// H.265 key frames as CRA (open GOP) instead of IDR.
    pub cra: bool,
    pub seconds: u32,
    pub fps: u32,
    pub width: u32,
    pub height: u32,
}

impl Default for EsSpec {
    fn default() -> Self {
        EsSpec {
            codec: "h264",
            profile: "high",
            bframes: false,
            slices: 1,
            headers_once: false,
            cra: false,
            seconds: 6,
            fps: 25,
            width: 640,
            height: 360,
        }
    }
}

impl EsSpec {
    fn file_name(&self) -> String {
        format!(
            "es{ES_RECIPE}-{}-{}-{}x{}-{}fps-{}s-bf{}-sl{}-{}-{}.{}",
            self.codec,
            self.profile,
            self.width,
            self.height,
            self.fps,
            self.seconds,
            u8::from(self.bframes),
            self.slices,
            if self.headers_once { "once" } else { "inband" },
            if self.cra { "cra" } else { "idr" },
            self.codec
        )
    }
}

const ES_RECIPE: u32 = 1;

/// An Annex B clip for `spec` (1 s GOP, no scene-cut key frames), cached.
pub fn es_clip(spec: &EsSpec) -> PathBuf {
    if spec.headers_once {
        // x264 writes no parameter sets at all without repeat-headers: make the usual clip and keep only its
        // first parameter sets.
        let inband = es_clip(&EsSpec { headers_once: false, ..spec.clone() });
        let path = clips_dir().join(spec.file_name());
        if !path.exists() {
            let data = std::fs::read(&inband).expect("read clip");
            let tmp = path.with_extension(format!("{}.tmp", std::process::id()));
            std::fs::write(&tmp, keep_first_parameter_sets(&data, spec.codec == "h265")).expect("write clip");
            std::fs::rename(&tmp, &path).expect("rename clip");
        }
        return path;
    }
    let clip = cached_clip(&spec.file_name(), |tmp| {
        let gop = spec.fps;
        let mut cmd = Command::new("ffmpeg");
        cmd.args(["-nostdin", "-hide_banner", "-v", "error", "-y", "-f", "lavfi", "-i"]);
        cmd.arg(format!("testsrc2=size={}x{}:rate={}", spec.width, spec.height, spec.fps));
        cmd.args(["-t", &spec.seconds.to_string(), "-pix_fmt", "yuv420p"]);
        if spec.codec == "h264" {
            cmd.args(["-c:v", "libx264", "-preset", "veryfast", "-profile:v", spec.profile]);
            cmd.args(["-g", &gop.to_string(), "-keyint_min", &gop.to_string(), "-sc_threshold", "0"]);
            cmd.args(["-bf", if spec.bframes { "2" } else { "0" }]);
            cmd.args(["-x264-params", &format!("slices={}", spec.slices), "-f", "h264"]);
        } else {
            cmd.args(["-c:v", "libx265", "-preset", "ultrafast"]);
            cmd.arg("-x265-params").arg(format!(
                "keyint={gop}:min-keyint={gop}:scenecut=0:bframes=0:open-gop={}:repeat-headers=1:log-level=error",
                u8::from(spec.cra)
            ));
            cmd.args(["-f", "hevc"]);
        }
        cmd.arg(tmp);
        cmd
    });
    if spec.bframes {
        write_presentation_order(&clip);
    }
    clip
}

/// `<clip>.pts`: the presentation index of each picture in decode order (what the test server sends as RTP
/// time), from ffprobe's `coded_picture_number` of the frames in presentation order.
fn write_presentation_order(clip: &Path) {
    let sidecar = PathBuf::from(format!("{}.pts", clip.display()));
    if sidecar.exists() {
        return;
    }
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-show_entries", "frame=coded_picture_number", "-of", "csv=p=0"])
        .arg(clip)
        .output()
        .expect("run ffprobe");
    let coded: Vec<usize> =
        String::from_utf8_lossy(&out.stdout).lines().filter_map(|l| l.split(',').next()?.trim().parse().ok()).collect();
    let mut presentation = vec![0usize; coded.len()];
    for (shown, &c) in coded.iter().enumerate() {
        if let Some(p) = presentation.get_mut(c) {
            *p = shown;
        }
    }
    let text: String = presentation.iter().map(|p| format!("{p}\n")).collect();
    let tmp = sidecar.with_extension(format!("pts.{}.tmp", std::process::id()));
    std::fs::write(&tmp, text).expect("write the presentation order");
    std::fs::rename(&tmp, &sidecar).expect("rename the presentation order");
}

/// An Annex B stream without the parameter sets that follow the first ones (a camera that sends them once).
fn keep_first_parameter_sets(data: &[u8], h265: bool) -> Vec<u8> {
    let mut starts = Vec::new();
    let mut i = 0;
    while i + 3 <= data.len() {
        if data[i..i + 3] == [0, 0, 1] {
            starts.push(i + 3);
            i += 3;
        } else {
            i += 1;
        }
    }
    let mut out = Vec::with_capacity(data.len());
    let mut seen_vcl = false;
    for (k, &s) in starts.iter().enumerate() {
        let end = starts.get(k + 1).map_or(data.len(), |n| n - 3);
        let nal = &data[s..end];
        let Some(&b) = nal.first() else { continue };
        let (param, vcl) = if h265 {
            let t = (b >> 1) & 0x3f;
            ((32..=34).contains(&t), t < 32)
        } else {
            let t = b & 0x1f;
            (t == 7 || t == 8, (1..=5).contains(&t))
        };
        seen_vcl |= vcl;
        if param && seen_vcl {
            continue;
        }
        out.extend_from_slice(&[0, 0, 1]);
        out.extend_from_slice(nal);
    }
    out
}

/// An audio file for the server: `aac` (ADTS, 16 kHz mono) or `pcmu` (8 kHz mono 16-bit WAV, which live555
/// sends as G.711 µ-law). `seconds` long.
pub fn audio_clip(kind: &str, seconds: u32) -> PathBuf {
    // live555 reads a WAV file only when its `data` chunk follows `fmt ` (no LIST chunk: `-bitexact`).
    // Noise, not a tone: every packet differs, so a run of packets can be found in the source unambiguously.
    let name = format!("es{ES_RECIPE}-noise-{kind}-{seconds}s.{}", if kind == "aac" { "aac" } else { "wav" });
    cached_clip(&name, |tmp| {
        let mut cmd = Command::new("ffmpeg");
        cmd.args(["-nostdin", "-hide_banner", "-v", "error", "-y", "-f", "lavfi", "-i"]);
        if kind == "aac" {
            cmd.args(["anoisesrc=sample_rate=16000:seed=7:amplitude=0.3", "-t", &seconds.to_string()]);
            cmd.args(["-c:a", "aac", "-b:a", "48k", "-ac", "1", "-f", "adts"]);
        } else {
            cmd.args(["anoisesrc=sample_rate=8000:seed=7:amplitude=0.3", "-t", &seconds.to_string()]);
            cmd.args(["-c:a", "pcm_s16le", "-ac", "1", "-map_metadata", "-1", "-bitexact", "-f", "wav"]);
        }
        cmd.arg(tmp);
        cmd
    })
}

/// An MPEG-2 TS file (H.264 inside): served as RTP/MP2T, a codec keepwatch does not record.
pub fn ts_clip() -> PathBuf {
    let src = es_clip(&EsSpec::default());
    cached_clip(&format!("es{ES_RECIPE}-mp2t.ts"), |tmp| {
        let mut cmd = Command::new("ffmpeg");
        cmd.args(["-nostdin", "-hide_banner", "-v", "error", "-y", "-r", "25", "-i"]).arg(&src);
        cmd.args(["-c", "copy", "-f", "mpegts"]).arg(tmp);
        cmd
    })
}

/// MD5s of the decoded video frames of a file (`ffmpeg -f framemd5`), in output order.
pub fn frame_hashes(path: &Path) -> Vec<String> {
    let out = run_with_timeout(
        Command::new("ffmpeg")
            .args(["-nostdin", "-v", "error", "-i"])
            .arg(path)
            .args(["-map", "0:v:0", "-f", "framemd5", "-"]),
        Duration::from_secs(300),
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.rsplit(',').next().map(|h| h.trim().to_owned()))
        .collect()
}

/// Decoded audio as signed 16-bit samples (`ffmpeg -f s16le`).
pub fn audio_samples(path: &Path) -> Vec<u8> {
    let out = run_with_timeout(
        Command::new("ffmpeg")
            .args(["-nostdin", "-v", "error", "-i"])
            .arg(path)
            .args(["-map", "0:a:0", "-ac", "1", "-f", "s16le", "-"]),
        Duration::from_secs(300),
    );
    out.stdout
}

/// AAC frames without ADTS headers, concatenated: of the server's ADTS file (`source`) or of an export.
pub fn aac_payload(path: &Path, source: bool) -> Vec<u8> {
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-nostdin", "-v", "error", "-i"]).arg(path).args(["-map", "0:a:0", "-c:a", "copy"]);
    if source {
        cmd.args(["-bsf:a", "aac_adtstoasc"]);
    }
    run_with_timeout(cmd.args(["-f", "data", "-"]), Duration::from_secs(300)).stdout
}

/// How many bytes from the start of `got` are, byte for byte, a contiguous run of `source` (located by
/// its first 256 bytes).
pub fn bytes_run_in(source: &[u8], got: &[u8]) -> usize {
    let probe = &got[..got.len().min(256)];
    if probe.is_empty() {
        return 0;
    }
    let Some(at) = source.windows(probe.len()).position(|w| w == probe) else { return 0 };
    source[at..].iter().zip(got).take_while(|(a, b)| a == b).count()
}

/// How many samples from the start of `got` (s16le) are a contiguous run of `source`'s within G.711's
/// quantisation (live555 converts the WAV to µ-law with its own table, so the bytes need not be ffmpeg's).
pub fn g711_run_in(source: &[u8], got: &[u8]) -> usize {
    let samples = |b: &[u8]| b.chunks_exact(2).map(|c| i32::from(i16::from_le_bytes([c[0], c[1]]))).collect::<Vec<_>>();
    let (src, got) = (samples(source), samples(got));
    let close = |a: i32, b: i32| (a - b).abs() <= a.abs() / 8 + 64;
    let probe = got.len().min(64);
    if probe == 0 || src.len() < probe {
        return 0;
    }
    let Some(at) = (0..=src.len() - probe).find(|&i| (0..probe).all(|k| close(src[i + k], got[k]))) else { return 0 };
    src[at..].iter().zip(&got).take_while(|(a, b)| close(**a, **b)).count()
}

/// Where `run` sits inside `source` as a contiguous run, if it does.
pub fn contiguous_in(source: &[String], run: &[String]) -> Option<usize> {
    if run.is_empty() || run.len() > source.len() {
        return None;
    }
    (0..=source.len() - run.len()).find(|&i| source[i..i + run.len()] == *run)
}

/// One stream the server offers: `name,kind,file,fps[,akind,afile][,silent=S]` (see the C++ program).
pub fn stream_arg(
    name: &str,
    kind: &str,
    file: &Path,
    fps: u32,
    audio: Option<(&str, &Path)>,
    silent: Option<u32>,
) -> String {
    let mut s = format!("{name},{kind},{},{fps}", file.display());
    if let Some((k, f)) = audio {
        s += &format!(",{k},{}", f.display());
    }
    if let Some(after) = silent {
        s += &format!(",silent={after}");
    }
    s
}

/// A running live555 test server on 127.0.0.1.
pub struct Live555 {
    child: Child,
    pub port: u16,
}

impl Live555 {
    /// Starts the server with `streams` ([`stream_arg`]); `udp_only` refuses RTP over TCP (461).
    pub fn start(streams: &[String], udp_only: bool) -> Live555 {
        let bin = server_bin();
        let port = free_port();
        let mut cmd = Command::new(bin);
        if udp_only {
            cmd.arg("--udp-only");
        }
        let mut child = cmd
            .arg(port.to_string())
            .args(streams)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the live555 test server");
        let mut line = String::new();
        let stdout = child.stdout.take().expect("stdout");
        let _ = BufReader::new(stdout).read_line(&mut line);
        assert!(line.starts_with("ready"), "the live555 test server did not start: {line:?}");
        Live555 { child, port }
    }

    pub fn url(&self, name: &str) -> String {
        format!("rtsp://127.0.0.1:{}/{name}", self.port)
    }
}

impl Drop for Live555 {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
