//! Media on disk: test clips made with ffmpeg (cached), and ffprobe/ffmpeg as judges of what keepwatch
//! wrote (codecs, durations, frames that decode, decode errors).

use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::tools::run_with_timeout;

/// Default limit for one ffprobe/ffmpeg run started by these helpers.
pub const TOOL_TIMEOUT: Duration = Duration::from_secs(120);

// ---------------------------------------------------------------------------------------
// ffprobe / ffmpeg

fn is_rtsp(target: &OsStr) -> bool {
    let t = target.to_string_lossy();
    t.starts_with("rtsp://") || t.starts_with("rtsps://")
}

/// `ffprobe -show_format -show_streams` as JSON. `target` is a file or a URL; for
/// `rtsp://` URLs RTP goes over the RTSP connection (`-rtsp_transport tcp`). Panics if
/// ffprobe fails.
pub fn ffprobe_json(target: impl AsRef<OsStr>) -> serde_json::Value {
    let target = target.as_ref();
    let mut cmd = Command::new("ffprobe");
    cmd.args(["-v", "error"]);
    if is_rtsp(target) {
        cmd.args(["-rtsp_transport", "tcp"]);
    }
    cmd.args(["-print_format", "json", "-show_format", "-show_streams"]).arg(target);
    let out = run_with_timeout(&mut cmd, TOOL_TIMEOUT);
    assert!(
        out.status.success(),
        "ffprobe {} failed ({}): {}",
        target.to_string_lossy(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("ffprobe printed invalid JSON")
}

/// Codec names (`h264`, `hevc`, `aac`, `pcm_mulaw`, ...) of the streams in an
/// `ffprobe_json` result, of one `codec_type` (`video`, `audio`).
pub fn codecs_of(probe: &serde_json::Value, codec_type: &str) -> Vec<String> {
    probe["streams"]
        .as_array()
        .map(|streams| {
            streams
                .iter()
                .filter(|s| s["codec_type"] == codec_type)
                .filter_map(|s| s["codec_name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Decodes every frame of `path` (`ffmpeg -v error -i path -f null -`) and returns what
/// ffmpeg reported on stderr: empty when the file decodes cleanly.
pub fn ffmpeg_decode_errors(path: impl AsRef<Path>) -> String {
    let out = run_with_timeout(
        Command::new("ffmpeg").args(["-nostdin", "-v", "error", "-i"]).arg(path.as_ref()).args(["-f", "null", "-"]),
        Duration::from_secs(600),
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Frames a decoder outputs for the first video stream (edit lists applied), via `ffprobe -count_frames`.
pub fn decoded_video_frames(path: &Path) -> u64 {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries", "stream=nb_read_frames"])
        .args(["-of", "default=nokey=1:noprint_wrappers=1"])
        .arg(path)
        .output()
        .expect("ffprobe");
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap_or(0)
}

// ---------------------------------------------------------------------------------------
// Test clips

/// A synthetic test clip: testsrc2 video (it moves), optionally a 440 Hz tone as AAC.
#[derive(Clone, Debug, PartialEq)]
pub struct ClipSpec {
    /// `"h264"` (libx264) or `"h265"` (libx265, default open GOP: key frames are CRA).
    pub codec: &'static str,
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    pub seconds: u32,
    /// B-frames (decode order differs from presentation order) or `-bf 0`.
    pub bframes: bool,
    /// A mono AAC audio track.
    pub audio: bool,
    /// Key frame interval in seconds (fixed; no scene-cut key frames).
    pub gop_seconds: f64,
}

impl Default for ClipSpec {
    fn default() -> Self {
        ClipSpec {
            codec: "h264",
            width: 640,
            height: 360,
            fps: 25,
            seconds: 10,
            bframes: false,
            audio: false,
            gop_seconds: 1.0,
        }
    }
}

impl ClipSpec {
    pub fn h264() -> Self {
        ClipSpec::default()
    }
    pub fn h265() -> Self {
        ClipSpec { codec: "h265", ..ClipSpec::default() }
    }
    /// Key frame interval in frames.
    pub fn gop_frames(&self) -> u32 {
        ((self.gop_seconds * self.fps as f64).round() as u32).max(1)
    }
    /// File name in the clip cache; every field, and the recipe version, is part of it.
    pub fn file_name(&self) -> String {
        format!(
            "r{CLIP_RECIPE}-{}-{}x{}-{}fps-{}s-gop{}-{}-{}.mp4",
            self.codec,
            self.width,
            self.height,
            self.fps,
            self.seconds,
            self.gop_frames(),
            if self.bframes { "bf" } else { "nobf" },
            if self.audio { "aac" } else { "noaudio" },
        )
    }
}

/// Bump when `clip`'s ffmpeg command changes, so cached clips made the old way are not reused.
const CLIP_RECIPE: u32 = 1;

/// `<cargo target dir>/kw-test-clips` (or `$KW_TEST_CLIPS_DIR`).
pub fn clips_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("KW_TEST_CLIPS_DIR") {
        return PathBuf::from(dir);
    }
    // CARGO_TARGET_TMPDIR is `<target dir>/tmp` for integration tests.
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent().unwrap_or(tmp).join("kw-test-clips")
}

/// Path to an MP4 clip matching `spec`, generated with ffmpeg the first time and cached
/// in [`clips_dir`]. Safe to call from parallel tests and test processes (each
/// generates into a temporary name and renames it into place).
pub fn clip(spec: &ClipSpec) -> PathBuf {
    assert!(spec.codec == "h264" || spec.codec == "h265", "ClipSpec.codec must be h264 or h265, not {:?}", spec.codec);
    assert!(spec.width.is_multiple_of(2) && spec.height.is_multiple_of(2), "clip dimensions must be even");
    assert!(spec.fps > 0 && spec.seconds > 0, "clip needs fps and seconds");
    cached_clip(&spec.file_name(), |tmp| {
        let gop = spec.gop_frames();
        let mut cmd = Command::new("ffmpeg");
        cmd.args(["-nostdin", "-hide_banner", "-v", "error", "-y"]);
        cmd.args(["-f", "lavfi", "-i"]).arg(format!("testsrc2=size={}x{}:rate={}", spec.width, spec.height, spec.fps));
        if spec.audio {
            cmd.args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"]);
        }
        cmd.args(["-map", "0:v"]);
        if spec.audio {
            cmd.args(["-map", "1:a"]);
        }
        cmd.args(["-t", &spec.seconds.to_string(), "-pix_fmt", "yuv420p"]);
        match spec.codec {
            "h264" => {
                cmd.args(["-c:v", "libx264", "-preset", "veryfast", "-profile:v", "high"]);
                cmd.args(["-g", &gop.to_string(), "-keyint_min", &gop.to_string(), "-sc_threshold", "0"]);
                cmd.args(["-bf", if spec.bframes { "3" } else { "0" }]);
            }
            _ => {
                // x265 keeps its default open GOP, so key frames are CRA as on many cameras.
                cmd.args(["-c:v", "libx265", "-preset", "ultrafast", "-tag:v", "hvc1"]);
                cmd.args(["-g", &gop.to_string()]);
                cmd.arg("-x265-params").arg(format!(
                    "keyint={gop}:min-keyint={gop}:scenecut=0:bframes={}:log-level=error",
                    if spec.bframes { 3 } else { 0 }
                ));
            }
        }
        if spec.audio {
            cmd.args(["-c:a", "aac", "-b:a", "64k", "-ac", "1"]);
        }
        cmd.args(["-movflags", "+faststart", "-f", "mp4"]).arg(tmp);
        cmd
    })
}

/// Length of [`motion_clip`] in seconds (it loops in the RTSP server: one crossing per loop).
pub const MOTION_CLIP_SECONDS: u32 = 20;
/// When, in seconds into each loop of [`motion_clip`], the box enters and has left the frame.
pub const MOTION_CLIP_CROSSING: (u32, u32) = (8, 12);

/// A camera's view of a still scene that something crosses, for motion detection: H.264 640×360 at
/// 10 fps, 1 s GOP, no B-frames, no audio, [`MOTION_CLIP_SECONDS`] long. The background is still and
/// textured (a grid over sky and ground, a few buildings, static grain); a bright 192×120 box (10 % of
/// the frame) crosses it from left to right during [`MOTION_CLIP_CROSSING`] and is gone the rest of
/// the time. Cached like [`clip`].
pub fn motion_clip() -> PathBuf {
    motion_clip_with(10, false)
}

/// [`motion_clip`] with libx264's B-frames (3, with pyramid: decode order differs from presentation order)
/// and a 2 s GOP (20 frames), as many cameras and ffmpeg's defaults send.
pub fn motion_clip_bframes() -> PathBuf {
    motion_clip_with(20, true)
}

fn motion_clip_with(gop: u32, bframes: bool) -> PathBuf {
    let (enter, leave) = MOTION_CLIP_CROSSING;
    let name = format!(
        "r{MOTION_RECIPE}-motion-h264-640x360-10fps-{MOTION_CLIP_SECONDS}s-gop{gop}-{}-noaudio.mp4",
        if bframes { "bf" } else { "nobf" }
    );
    cached_clip(&name, |tmp| {
        let background = [
            "color=c=0x3a4a5a:s=640x360:r=10",                  // sky
            "drawbox=x=0:y=250:w=640:h=110:c=0x4a5a3a:t=fill",  // ground
            "drawgrid=w=40:h=40:t=1:c=0xc0c0c0@0.3",            // texture
            "drawbox=x=60:y=120:w=140:h=130:c=0x806040:t=fill", // a house
            "drawbox=x=90:y=180:w=40:h=70:c=0x302010:t=fill",   // its door
            "drawbox=x=420:y=60:w=80:h=190:c=0x2a3a2a:t=fill",  // a tower
            "drawbox=x=520:y=150:w=70:h=50:c=0xa0a0a0:t=fill",  // a shed
            "noise=alls=8",                                     // grain, the same in every frame
        ]
        .join(",");
        // From x = -192 (just left of the frame) at `enter` to x = 640 (just right of it) at `leave`.
        let speed = (640 + 192) / (leave - enter);
        let crossing = format!(
            "[0:v][1:v]overlay=x='-192+(t-{enter})*{speed}':y=170:enable='between(t,{enter},{leave})':shortest=1,\
             format=yuv420p"
        );
        let mut cmd = Command::new("ffmpeg");
        cmd.args(["-nostdin", "-hide_banner", "-v", "error", "-y"]);
        cmd.args(["-f", "lavfi", "-i", &background]);
        cmd.args(["-f", "lavfi", "-i", "color=c=0xf8f0a0:s=192x120:r=10"]);
        cmd.args(["-filter_complex", &crossing, "-t", &MOTION_CLIP_SECONDS.to_string()]);
        cmd.args(["-c:v", "libx264", "-preset", "veryfast", "-profile:v", "high"]);
        let gop = gop.to_string();
        cmd.args(["-g", &gop, "-keyint_min", &gop, "-sc_threshold", "0", "-bf", if bframes { "3" } else { "0" }]);
        cmd.args(["-movflags", "+faststart", "-f", "mp4"]).arg(tmp);
        cmd
    })
}

/// Length of [`person_clip`] in seconds (it loops in the RTSP server: one walk per loop).
pub const PERSON_CLIP_SECONDS: u32 = 20;

/// The same still scene as [`motion_clip`], with a person walking through instead of a box: a 160×160
/// photograph of a person (kw-objects' `astronaut.png` fixture; NASA, public domain) crosses from left to
/// right between 4 s and 14 s. Object detection must call it a person. Cached like [`clip`].
pub fn person_clip() -> PathBuf {
    let name = format!("r{PERSON_RECIPE}-person-h264-640x360-10fps-{PERSON_CLIP_SECONDS}s-gop10-nobf-noaudio.mp4");
    let picture = Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/kw-objects/tests/fixtures/astronaut.png");
    cached_clip(&name, |tmp| {
        let background = "color=c=0x3a4a5a:s=640x360:r=10,drawbox=x=0:y=250:w=640:h=110:c=0x4a5a3a:t=fill,                          drawgrid=w=40:h=40:t=1:c=0xc0c0c0@0.3,drawbox=x=420:y=60:w=80:h=190:c=0x2a3a2a:t=fill";
        let walk = "[1:v]scale=160:160[p];[0:v][p]overlay=x='-160+(t-4)*80':y=150:enable='between(t,4,14)':shortest=1,                    format=yuv420p";
        let mut cmd = Command::new("ffmpeg");
        cmd.args(["-nostdin", "-hide_banner", "-v", "error", "-y"]);
        cmd.args(["-f", "lavfi", "-i", background]);
        cmd.args(["-loop", "1", "-framerate", "10", "-i"]).arg(&picture);
        cmd.args(["-filter_complex", walk, "-t", &PERSON_CLIP_SECONDS.to_string()]);
        cmd.args(["-c:v", "libx264", "-preset", "veryfast", "-profile:v", "high"]);
        cmd.args(["-g", "10", "-keyint_min", "10", "-sc_threshold", "0", "-bf", "0"]);
        cmd.args(["-movflags", "+faststart", "-f", "mp4"]).arg(tmp);
        cmd
    })
}

/// Bump when `person_clip`'s ffmpeg command changes.
const PERSON_RECIPE: u32 = 1;

/// Bump when `motion_clip`'s ffmpeg command changes.
const MOTION_RECIPE: u32 = 1;

/// `<clips_dir>/name`, made by running `ffmpeg(tmp)` the first time (it writes `tmp`, which is then
/// renamed into place, so a half-written clip is never used).
pub fn cached_clip(name: &str, ffmpeg: impl FnOnce(&Path) -> Command) -> PathBuf {
    let dir = clips_dir();
    let path = dir.join(name);
    if path.exists() {
        return path;
    }
    // One generation at a time in this process (there are few cores, and two tests
    // asking for the same clip then generate it once).
    static GENERATING: Mutex<()> = Mutex::new(());
    let _guard = GENERATING.lock().unwrap_or_else(|e| e.into_inner());
    if path.exists() {
        return path;
    }
    fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().subsec_nanos();
    let tmp = dir.join(format!(".{name}.{}-{nanos}.tmp.mp4", std::process::id()));
    let out = run_with_timeout(&mut ffmpeg(&tmp), Duration::from_secs(600));
    if !out.status.success() {
        let _ = fs::remove_file(&tmp);
        panic!("generating clip {name} failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    fs::rename(&tmp, &path).unwrap_or_else(|e| panic!("cannot rename {} into place: {e}", tmp.display()));
    path
}
