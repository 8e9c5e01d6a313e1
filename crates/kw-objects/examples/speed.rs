//! What one inference costs: the shipped model on the test pictures (whole, and a motion region in a larger
//! picture), on the calling thread (pin it to one core: `taskset -c 0`). Used by `bench/objects`.
//!
//!     cargo run --release -p kw-objects --example speed -- [--iters 30] [--json]
//!
//! Prints per case the median and mean of pre-processing, network and decoding (ms); `--json`: one JSON
//! object per line instead.

use std::path::Path;
use std::time::{Duration, Instant};

use kw_objects::{DetectOptions, Detector, RgbFrame};

fn picture(name: &str) -> (u32, u32, Vec<u8>) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name);
    let file = std::fs::File::open(&path).expect("fixture picture");
    let mut reader = png::Decoder::new(std::io::BufReader::new(file)).read_info().expect("PNG");
    let mut buf = vec![0; reader.output_buffer_size().expect("size")];
    let info = reader.next_frame(&mut buf).expect("PNG frame");
    buf.truncate(info.buffer_size());
    (info.width, info.height, buf)
}

/// `small` pasted into a grey `w × h` picture at (x, y).
fn pasted(small: &(u32, u32, Vec<u8>), w: u32, h: u32, x: u32, y: u32) -> Vec<u8> {
    let mut big = vec![90u8; (w * h * 3) as usize];
    let row = small.0 as usize * 3;
    for r in 0..small.1 as usize {
        let dst = ((y as usize + r) * w as usize + x as usize) * 3;
        big[dst..dst + row].copy_from_slice(&small.2[r * row..(r + 1) * row]);
    }
    big
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn stats(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(f64::total_cmp);
    (v[v.len() / 2], v.iter().sum::<f64>() / v.len() as f64)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let json = args.iter().any(|a| a == "--json");
    let iters: usize = args
        .iter()
        .position(|a| a == "--iters")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(30)
        .max(1);

    let t = Instant::now();
    let det = Detector::shipped().expect("the shipped model loads");
    let load = ms(t.elapsed());
    if json {
        println!("{{\"case\":\"load\",\"ms\":{load:.1},\"model\":\"{}\"}}", det.describe());
    } else {
        println!("{}: loaded in {load:.0} ms; {iters} runs per case", det.describe());
        println!("{:<28} {:>9} {:>9} {:>9} {:>9} {:>9}", "case", "prep", "network", "(mean)", "decode", "found");
    }

    let astronaut = picture("astronaut.png");
    let big720 = pasted(&astronaut, 1280, 720, 800, 300);
    let big1080 = pasted(&astronaut, 1920, 1080, 1200, 500);
    let chelsea = picture("chelsea.png");
    let coffee = picture("coffee.png");
    let region = [850.0 / 1280.0, 320.0 / 720.0, 150.0 / 1280.0, 250.0 / 720.0];
    type Case<'a> = (&'a str, u32, u32, &'a [u8], Option<[f32; 4]>);
    let cases: Vec<Case<'_>> = vec![
        ("astronaut 320x320", astronaut.0, astronaut.1, &astronaut.2, None),
        ("chelsea 360x240", chelsea.0, chelsea.1, &chelsea.2, None),
        ("coffee 360x240", coffee.0, coffee.1, &coffee.2, None),
        ("1280x720 region crop", 1280, 720, &big720, Some(region)),
        ("1280x720 whole", 1280, 720, &big720, None),
        ("1920x1080 whole", 1920, 1080, &big1080, None),
    ];
    let opts = DetectOptions::default();
    for (name, w, h, data, region) in cases {
        let frame = RgbFrame::new(w, h, data).expect("frame");
        for _ in 0..3 {
            det.detect(&frame, region, &opts).expect("detect");
        }
        let (mut prep, mut net, mut dec) = (Vec::new(), Vec::new(), Vec::new());
        let mut found = String::new();
        for _ in 0..iters {
            let e = det.detect(&frame, region, &opts).expect("detect");
            prep.push(ms(e.took.prepare));
            net.push(ms(e.took.network));
            dec.push(ms(e.took.decode));
            found = e.detections.iter().map(|d| format!("{} {:.2}", d.label, d.score)).collect::<Vec<_>>().join(", ");
        }
        let ((p, _), (n, nm), (d, _)) = (stats(prep), stats(net), stats(dec));
        if json {
            println!(
                "{{\"case\":\"{name}\",\"prepare_ms\":{p:.2},\"network_ms\":{n:.2},\"network_mean_ms\":{nm:.2},\"decode_ms\":{d:.3},\"found\":\"{found}\"}}"
            );
        } else {
            println!("{name:<28} {p:>9.2} {n:>9.2} {nm:>9.2} {d:>9.3}  {found}");
        }
    }
}
