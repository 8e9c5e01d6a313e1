//! Fills a new store with weeks of synthetic recordings for benchmarks (`bench/playback`).
//!
//! ```text
//! cargo run --release -p kw-store --example fill -- --store DIR --sample CLIP.h264 --width 1280 --height 720 \
//!     [--fps 25] [--cameras 16] [--days 30] [--segment-seconds 60] [--end UNIX_SECONDS] [--prefix cam-] \
//!     [--distinct 60] [--report FILE.json]
//! ```
//!
//! The sample is an H.264 Annex B elementary stream (e.g. `ffmpeg ... -bf 0 -g 50 -f h264`) holding at least one
//! segment's worth of frames, each segment's worth starting with an IDR frame. Every camera gets one run whose
//! segments tile the `--days` before `--end` (default: now, rounded down to the segment length):
//!
//! 1. `--distinct` segment files are written through the store's real writer ([`Store::create_segment`],
//!    `append`, `finish`) as the first camera's first segments, from the sample's segments' worth of frames in
//!    turn: real files with real headers, records and frame index blobs, fsynced, with their rows. Their bytes
//!    may repeat, but they are different files, so a long export reads that many different files (not one file
//!    kept in a CPU cache), as a real one would.
//! 2. Every other segment `s` of every camera is a hard link to distinct file `s mod --distinct`, and its row
//!    carries the real blob of that file with every pts shifted by the segment's place in the run (the same
//!    frame sizes and offsets, so the blob matches the linked bytes exactly). Those rows go in with the hidden
//!    [`SqliteIndex::bulk_upsert_segments`], 1440 rows per transaction. The store holds `--distinct` segments'
//!    worth of bytes; each file has at most cameras × segments / `--distinct` names (ext4 allows 65000).
//!
//! What is not true to life: the header and record pts inside a linked file name the distinct file's camera and
//! segment, not the row's. Playback, export and start-up recovery never look at them (they use the row, its
//! blob and the file size), but `keepwatch check` reads every record and will report those segments as having
//! a bad header and index. All of a camera's segments are one unbroken run.
#![forbid(unsafe_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use kw_media::{nal, Codec, Frame, RunInfo, StreamKind, StreamParams, VIDEO_TIMESCALE};
use kw_store::frame_index::{self, FrameEntry, IndexBuilder};
use kw_store::index::NewSegment;
use kw_store::{Create, IndexBackend, SegmentKey, SegmentRow, SqliteIndex, Store, INDEX_FILE, SEGMENTS_DIR};

type Res<T> = Result<T, String>;

/// ext4's limit of hard links per inode.
const MAX_LINKS: u64 = 65_000;

struct Args {
    store: PathBuf,
    sample: PathBuf,
    width: u16,
    height: u16,
    fps: u32,
    cameras: u32,
    days: f64,
    segment_seconds: u32,
    end: Option<i64>,
    prefix: String,
    report: Option<PathBuf>,
    distinct: u32,
}

fn usage() -> String {
    "usage: fill --store DIR --sample CLIP.h264 --width W --height H [--fps 25] [--cameras 16] [--days 30] \
     [--segment-seconds 60] [--end UNIX_SECONDS] [--prefix cam-] [--distinct 60] [--report FILE.json]"
        .into()
}

fn parse_args() -> Res<Args> {
    let mut a = Args {
        store: PathBuf::new(),
        sample: PathBuf::new(),
        width: 0,
        height: 0,
        fps: 25,
        cameras: 16,
        days: 30.0,
        segment_seconds: 60,
        end: None,
        prefix: "cam-".into(),
        report: None,
        distinct: 60,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        if k == "-h" || k == "--help" {
            return Err(usage());
        }
        let v = it.next().ok_or_else(|| format!("{k} needs a value\n{}", usage()))?;
        let num = |v: &str| v.parse::<f64>().map_err(|_| format!("{k}: {v:?} is not a number"));
        match k.as_str() {
            "--store" => a.store = v.into(),
            "--sample" => a.sample = v.into(),
            "--width" => a.width = num(&v)? as u16,
            "--height" => a.height = num(&v)? as u16,
            "--fps" => a.fps = num(&v)? as u32,
            "--cameras" => a.cameras = num(&v)? as u32,
            "--days" => a.days = num(&v)?,
            "--segment-seconds" => a.segment_seconds = num(&v)? as u32,
            "--end" => a.end = Some(num(&v)? as i64),
            "--prefix" => a.prefix = v,
            "--report" => a.report = Some(v.into()),
            "--distinct" => a.distinct = num(&v)? as u32,
            _ => return Err(format!("unknown option {k}\n{}", usage())),
        }
    }
    if a.store.as_os_str().is_empty() || a.sample.as_os_str().is_empty() || a.width == 0 || a.height == 0 {
        return Err(usage());
    }
    if a.fps == 0 || !VIDEO_TIMESCALE.is_multiple_of(a.fps) {
        return Err(format!("--fps {} must divide {VIDEO_TIMESCALE}", a.fps));
    }
    if a.cameras == 0 || a.segment_seconds == 0 || a.days <= 0.0 {
        return Err("--cameras, --segment-seconds and --days must be positive".into());
    }
    Ok(a)
}

/// One access unit of the sample: length-prefixed NAL units (SPS, PPS and AUD left out: they go to `avcC`).
struct Au {
    key: bool,
    data: Bytes,
}

/// Splits an Annex B stream into access units; returns (SPS, PPS, access units).
fn read_sample(path: &Path) -> Res<(Vec<u8>, Vec<u8>, Vec<Au>)> {
    let data = fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let (mut sps, mut pps) = (None, None);
    let mut aus = Vec::new();
    let (mut cur, mut key, mut has_vcl) = (Vec::new(), false, false);
    let mut push = |cur: &mut Vec<u8>, key: &mut bool, has_vcl: &mut bool| {
        if *has_vcl {
            aus.push(Au { key: *key, data: Bytes::from(std::mem::take(cur)) });
        }
        cur.clear();
        *key = false;
        *has_vcl = false;
    };
    for unit in nal::iter_annexb(&data) {
        let t = nal::h264_type(unit);
        match t {
            7..=9 => {
                // SPS, PPS, access unit delimiter: not part of the samples.
                if has_vcl {
                    push(&mut cur, &mut key, &mut has_vcl);
                }
                if t == 7 && sps.is_none() {
                    sps = Some(unit.to_vec());
                } else if t == 8 && pps.is_none() {
                    pps = Some(unit.to_vec());
                }
                continue;
            }
            1 | 5 => {
                // first_mb_in_slice == 0 (ue(v) "1") starts a new picture.
                let first_slice = unit.get(1).is_none_or(|b| b & 0x80 != 0);
                if first_slice && has_vcl {
                    push(&mut cur, &mut key, &mut has_vcl);
                }
                has_vcl = true;
                key |= t == 5;
            }
            _ => {
                if has_vcl {
                    push(&mut cur, &mut key, &mut has_vcl);
                }
            }
        }
        cur.extend_from_slice(&(unit.len() as u32).to_be_bytes());
        cur.extend_from_slice(unit);
    }
    push(&mut cur, &mut key, &mut has_vcl);
    let sps = sps.ok_or("the sample has no SPS")?;
    let pps = pps.ok_or("the sample has no PPS")?;
    Ok((sps, pps, aus))
}

fn now_secs() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

fn fsync_dir(dir: &Path) -> Res<()> {
    fs::File::open(dir).and_then(|f| f.sync_all()).map_err(|e| format!("{}: {e}", dir.display()))
}

/// Bytes of a directory tree, each inode once (hard links are not counted twice), and all names summed.
fn tree_bytes(dir: &Path) -> (u64, u64) {
    use std::collections::HashSet;
    use std::os::unix::fs::MetadataExt;
    let (mut unique, mut logical, mut seen) = (0u64, 0u64, HashSet::new());
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = fs::read_dir(&d) else { continue };
        for e in entries.flatten() {
            let Ok(m) = e.metadata() else { continue };
            if m.is_dir() {
                stack.push(e.path());
            } else {
                logical += m.len();
                if seen.insert((m.dev(), m.ino())) {
                    unique += m.blocks() * 512;
                }
            }
        }
    }
    (unique, logical)
}

fn main() {
    if let Err(e) = run() {
        eprintln!("fill: {e}");
        std::process::exit(1);
    }
}

fn run() -> Res<()> {
    let a = parse_args()?;
    let t_all = Instant::now();
    let (sps, pps, aus) = read_sample(&a.sample)?;
    let per_seg = (a.fps * a.segment_seconds) as usize;
    let k_samples = aus.len() / per_seg;
    if k_samples == 0 {
        return Err(format!("the sample has {} frames; one segment needs {per_seg}", aus.len()));
    }
    for k in 0..k_samples {
        if !aus[k * per_seg].key {
            return Err(format!(
                "frame {} of the sample (start of sample segment {k}) is not an IDR frame; make the GOP divide \
                 the segment length",
                k * per_seg
            ));
        }
    }
    let extra = nal::avcc_from_sps_pps(&sps, &pps).ok_or("the sample's SPS is malformed")?;
    let seg_us = i64::from(a.segment_seconds) * 1_000_000;
    let seg_ticks = i64::from(a.segment_seconds) * i64::from(VIDEO_TIMESCALE);
    let tpf = i64::from(VIDEO_TIMESCALE / a.fps);
    let n_segs = ((a.days * 86_400.0) / f64::from(a.segment_seconds)).round().max(1.0) as u32;
    let end_s = a.end.unwrap_or_else(now_secs);
    let end_us = end_s.div_euclid(i64::from(a.segment_seconds)) * seg_us;
    let anchor = end_us - i64::from(n_segs) * seg_us;
    let run = RunInfo {
        video: StreamParams {
            codec: Codec::H264,
            timescale: VIDEO_TIMESCALE,
            width: a.width,
            height: a.height,
            sample_rate: 0,
            channels: 0,
            extra,
            rfc6381: nal::h264_rfc6381(&sps),
        },
        audio: None,
        wall_anchor: anchor,
    };

    let n_distinct = a.distinct.clamp(1, n_segs);
    let links_per_file = (u64::from(n_segs) * u64::from(a.cameras)).div_ceil(u64::from(n_distinct));
    if links_per_file > MAX_LINKS {
        return Err(format!(
            "{links_per_file} names per distinct file is more than ext4's {MAX_LINKS} hard links per inode: raise \
             --distinct to at least {}",
            (u64::from(n_segs) * u64::from(a.cameras)).div_ceil(MAX_LINKS)
        ));
    }
    if fs::read_dir(&a.store).is_ok_and(|mut d| d.next().is_some()) {
        return Err(format!("{} is not empty; fill only makes new stores", a.store.display()));
    }
    let store = Store::open(&a.store, Create::IfMissing, None).map_err(|e| e.to_string())?;
    let ix = SqliteIndex::open(&a.store.join(INDEX_FILE)).map_err(|e| e.to_string())?;
    eprintln!(
        "fill: {} cameras × {n_segs} segments of {} s ({} frames; {n_distinct} distinct files from {k_samples} \
         sample segment(s)) into {}",
        a.cameras,
        a.segment_seconds,
        per_seg,
        a.store.display()
    );

    let (mut t_samples, mut t_links, mut t_rows) = (0f64, 0f64, 0f64);
    let mut cameras = Vec::new();
    let mut blob_bytes = 0u64;
    // The distinct files: written by the store's writer as the first camera's first segments, the sample's
    // segments' worth of frames in turn, pts running on.
    let t = Instant::now();
    let first = format!("{}0", a.prefix);
    let first_run = store.begin_run(&first, &run).map_err(|e| e.to_string())?;
    let mut distinct: Vec<(SegmentRow, u64, Vec<FrameEntry>)> = Vec::new();
    for d in 0..n_distinct {
        let k = d as usize % k_samples;
        let mut w = store.create_segment(&first, first_run, d, &run).map_err(|e| e.to_string())?;
        for (i, au) in aus[k * per_seg..(k + 1) * per_seg].iter().enumerate() {
            let pts = (i64::from(d) * per_seg as i64 + i as i64) * tpf;
            let f = Frame { stream: StreamKind::Video, pts, key: au.key, loss_before: false, data: au.data.clone() };
            w.append(&f).map_err(|e| e.to_string())?;
        }
        let row = w.finish(Some((i64::from(d) + 1) * seg_ticks)).map_err(|e| e.to_string())?;
        let blob = ix.frame_index(row.id).map_err(|e| e.to_string())?.ok_or("sample row without a blob")?;
        blob_bytes += blob.len() as u64;
        let (data_start, frames) = frame_index::decode(&blob)?;
        distinct.push((row, data_start, frames));
    }
    t_samples += t.elapsed().as_secs_f64();

    const BATCH: usize = 1440;
    for c in 0..a.cameras {
        let name = format!("{}{c}", a.prefix);
        let run_id = if c == 0 { first_run } else { store.begin_run(&name, &run).map_err(|e| e.to_string())? };
        let camera_id = store.camera_id(&name).map_err(|e| e.to_string())?;
        let own = if c == 0 { n_distinct } else { 0 }; // segments that are the distinct files themselves

        let t = Instant::now();
        let cam_dir = a.store.join(SEGMENTS_DIR).join(camera_id.to_string());
        fs::create_dir_all(&cam_dir).map_err(|e| format!("{}: {e}", cam_dir.display()))?;
        for s in own..n_segs {
            let src = &distinct[(s % n_distinct) as usize].0;
            let dst = store.segment_location(&SegmentKey { camera_id, run_id, seq: s });
            fs::hard_link(store.segment_location(&src.key()), &dst).map_err(|e| format!("{}: {e}", dst.display()))?;
        }
        fsync_dir(&cam_dir)?;
        t_links += t.elapsed().as_secs_f64();

        let t = Instant::now();
        let mut batch = Vec::with_capacity(BATCH);
        for s in own..n_segs {
            let d = s % n_distinct;
            let (row, data_start, frames) = &distinct[d as usize];
            let shift = i64::from(s - d);
            let mut b = IndexBuilder::new(*data_start);
            for f in frames {
                b.push(f.stream, f.pts + shift * seg_ticks, f.size, f.key, f.loss_before);
            }
            if b.end_offset() != row.bytes {
                return Err(format!(
                    "blob of segment {s} ends at {} but the file has {} bytes",
                    b.end_offset(),
                    row.bytes
                ));
            }
            blob_bytes += b.blob().len() as u64;
            batch.push(NewSegment {
                camera_id,
                run_id,
                seq: s,
                start: row.start + shift * seg_us,
                end: row.end + shift * seg_us,
                bytes: row.bytes,
                video_frames: row.video_frames,
                has_loss: false,
                frame_index: b.blob().to_vec(),
            });
            if batch.len() == BATCH {
                ix.bulk_upsert_segments(&batch).map_err(|e| e.to_string())?;
                batch.clear();
            }
        }
        ix.bulk_upsert_segments(&batch).map_err(|e| e.to_string())?;
        t_rows += t.elapsed().as_secs_f64();
        eprintln!("fill: {name} (camera {camera_id}, run {run_id}) done after {:.1} s", t_all.elapsed().as_secs_f64());
        cameras.push(serde_json::json!({"name": name, "camera_id": camera_id, "run_id": run_id}));
    }
    drop(ix);
    drop(store); // the last connection checkpoints the WAL into the database file
    let total = t_all.elapsed().as_secs_f64();
    let index_bytes = fs::metadata(a.store.join(INDEX_FILE)).map(|m| m.len()).unwrap_or(0);
    let (unique, logical) = tree_bytes(&a.store.join(SEGMENTS_DIR));
    let report = serde_json::json!({
        "store": a.store,
        "sample": a.sample,
        "width": a.width, "height": a.height, "fps": a.fps,
        "cameras": cameras,
        "segments_per_camera": n_segs,
        "segments": u64::from(n_segs) * u64::from(a.cameras),
        "segment_seconds": a.segment_seconds,
        "frames_per_segment": per_seg,
        "sample_segments": k_samples,
        "distinct_files": n_distinct,
        "distinct_file_bytes": distinct.iter().map(|d| d.0.bytes).collect::<Vec<_>>(),
        "start_us": anchor,
        "end_us": end_us,
        "seconds": {"samples": t_samples, "links": t_links, "rows": t_rows, "total": total},
        "index_bytes": index_bytes,
        "frame_index_blob_bytes": blob_bytes,
        "segment_bytes_on_disk": unique,
        "segment_bytes_logical": logical,
    });
    eprintln!(
        "fill: {} segments in {total:.1} s (samples {t_samples:.1} s, links {t_links:.1} s, rows {t_rows:.1} s); \
         index {:.1} MB (blobs {:.1} MB); segment files {:.1} MB on disk for {:.1} GB of recordings",
        u64::from(n_segs) * u64::from(a.cameras),
        index_bytes as f64 / 1e6,
        blob_bytes as f64 / 1e6,
        unique as f64 / 1e6,
        logical as f64 / 1e9
    );
    let text = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
    match &a.report {
        Some(p) => fs::write(p, text + "\n").map_err(|e| format!("{}: {e}", p.display()))?,
        None => println!("{text}"),
    }
    Ok(())
}
