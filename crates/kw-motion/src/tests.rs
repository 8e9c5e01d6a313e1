//! Whole-detector tests on rendered scenes: the behaviours the issue asks for, each on its own clip.

use crate::synth::{IrSwitch, Light, Mover, Scene, Specks};
use crate::{Detector, DetectorConfig, Event, FrameError, FrameStatus, Phase, Zone, ZoneKind};
use std::time::Duration;

// Most clips are small to keep debug-build test runs short; the first test runs at the usual 320×180.
const W: usize = 160;
const H: usize = 90;
const S: i64 = 1_000_000;

/// A person-sized object walking across at `y` from `t0` to `t1`, left to right.
fn walker(t0: f64, t1: f64, y: f64) -> Mover {
    Mover { t0, t1, from: (-0.05, y), to: (1.05, y), size: (0.06, 0.2), luma: 40.0, texture: 30.0 }
}

struct Run {
    events: Vec<Event>,
    statuses: Vec<FrameStatus>,
    best: Vec<i64>,
}

/// Feeds `secs` seconds of the scene at 10 fps.
fn run(scene: &mut Scene, cfg: DetectorConfig, secs: f64) -> Run {
    let mut det = Detector::new(cfg, scene.width as u32, scene.height as u32);
    let mut r = Run { events: Vec::new(), statuses: Vec::new(), best: Vec::new() };
    let mut frame = Vec::new();
    for n in 0..(secs * 10.0) as i64 {
        let t = n as f64 / 10.0;
        scene.render(t, &mut frame);
        let out = det.push(&frame, scene.width, scene.width, scene.height, n * S / 10).unwrap();
        r.events.extend(out.events);
        r.statuses.push(out.status);
        if out.best {
            r.best.push(n * S / 10);
        }
    }
    r.events.extend(det.finish());
    r
}

fn starts(events: &[Event]) -> Vec<i64> {
    events.iter().filter_map(|e| if let Event::Started { info, .. } = e { Some(info.start) } else { None }).collect()
}

fn ends(events: &[Event]) -> Vec<(i64, i64)> {
    events
        .iter()
        .filter_map(|e| if let Event::Ended { end, info, .. } = e { Some((info.start, *end)) } else { None })
        .collect()
}

#[test]
fn a_walker_is_one_event_with_start_end_and_best_frame() {
    let mut sc = Scene::new(320, 180, 1);
    sc.movers.push(Mover { luma: 210.0, ..walker(5.0, 13.0, 0.6) });
    let truth = sc.truth(30.0);
    let r = run(&mut sc, DetectorConfig::default(), 30.0);
    let s = starts(&r.events);
    assert_eq!(s.len(), 1, "{:?}", r.events);
    let t0 = (truth[0].0 * 1e6) as i64;
    assert!((s[0] - t0).abs() <= S, "start {} truth {}", s[0], t0);
    let e = ends(&r.events);
    assert_eq!(e.len(), 1);
    let t1 = (truth[0].1 * 1e6) as i64;
    assert!((e[0].1 - t1).abs() <= S, "end {} truth {}", e[0].1, t1);
    let Some(Event::Ended { info, .. }) = r.events.last() else { panic!() };
    assert!(info.best_t >= info.start && info.best_t < e[0].1);
    assert_eq!(r.best.last(), Some(&info.best_t));
    assert!(info.score > 0.1 && info.score <= 1.0);
    assert!(info.region.y < 0.55 && info.region.y + info.region.h > 0.65, "{:?}", info.region);
    assert!(info.region.w > 0.8, "{:?}", info.region);
    // Quiet frames mostly took the early exit.
    let quiet = r.statuses.iter().filter(|&&s| s == FrameStatus::Quiet).count();
    assert!(quiet > 150, "{quiet}");
    // Regions are reported for moving frames only, inside the frame.
    assert!(r.statuses.iter().filter(|&&s| s == FrameStatus::Recalibrated).count() == 0);
}

#[test]
fn lights_on_and_off_are_not_motion() {
    for (gain, spread, ramp) in [(1.8, 0.0, 0.0), (0.5, 0.0, 0.0), (2.2, 1.0, 0.3), (1.6, 0.5, 1.0)] {
        let mut sc = Scene::new(W, H, 2);
        sc.lights.push(Light { on: 5.0, off: 15.0, gain, centre: (0.3, 0.4), spread, ramp });
        let r = run(&mut sc, DetectorConfig::default(), 25.0);
        assert!(r.events.is_empty(), "gain {gain} spread {spread}: {:?}", r.events);
        assert!(r.statuses.contains(&FrameStatus::Recalibrated), "gain {gain} spread {spread}");
    }
}

#[test]
fn ir_switch_is_not_motion() {
    let mut sc = Scene::new(W, H, 3);
    sc.ir = Some(IrSwitch { night: 5.0, day: 15.0, contrast: 0.6, offset: -20.0 });
    let r = run(&mut sc, DetectorConfig::default(), 25.0);
    assert!(r.events.is_empty(), "{:?}", r.events);
}

#[test]
fn noise_and_rain_are_not_motion() {
    let mut sc = Scene::new(W, H, 4);
    sc.noise = 18.0;
    let r = run(&mut sc, DetectorConfig::default(), 20.0);
    assert!(r.events.is_empty(), "noise: {:?}", r.events);
    let mut sc = Scene::new(W, H, 5);
    sc.specks.push(Specks { density: 40.0, amplitude: 70.0, length: 4, area: None });
    sc.specks.push(Specks { density: 200.0, amplitude: -50.0, length: 1, area: Some((0.6, 0.0, 1.0, 0.5)) });
    let r = run(&mut sc, DetectorConfig::default(), 20.0);
    assert!(r.events.is_empty(), "specks: {:?}", r.events);
}

#[test]
fn excluded_zone_hides_motion_and_include_zone_limits_it() {
    // The walker stays in the bottom third.
    let scene = || {
        let mut sc = Scene::new(W, H, 6);
        sc.movers.push(walker(5.0, 13.0, 0.85));
        sc
    };
    let bottom = vec![(0.0, 0.6), (1.0, 0.6), (1.0, 1.0), (0.0, 1.0)];
    let top = vec![(0.0, 0.0), (1.0, 0.0), (1.0, 0.6), (0.0, 0.6)];
    let cfg = |zones: Vec<Zone>| DetectorConfig { zones, ..DetectorConfig::default() };
    let r = run(&mut scene(), cfg(vec![Zone { kind: ZoneKind::Exclude, points: bottom.clone() }]), 20.0);
    assert!(r.events.is_empty(), "{:?}", r.events);
    let r = run(&mut scene(), cfg(vec![Zone { kind: ZoneKind::Include, points: top }]), 20.0);
    assert!(r.events.is_empty(), "{:?}", r.events);
    let r = run(&mut scene(), cfg(vec![Zone { kind: ZoneKind::Include, points: bottom }]), 20.0);
    assert_eq!(starts(&r.events).len(), 1, "{:?}", r.events);
}

#[test]
fn min_duration_is_respected() {
    // Something standing in the middle for 0.6 s.
    let scene = || {
        let mut sc = Scene::new(W, H, 7);
        sc.movers.push(Mover {
            t0: 6.0,
            t1: 6.55,
            from: (0.5, 0.5),
            to: (0.52, 0.5),
            size: (0.1, 0.2),
            luma: 230.0,
            texture: 10.0,
        });
        sc
    };
    let r = run(&mut scene(), DetectorConfig::default(), 15.0);
    assert!(r.events.is_empty(), "{:?}", r.events);
    let short = DetectorConfig { min_duration: Duration::from_millis(300), ..DetectorConfig::default() };
    let r = run(&mut scene(), short, 15.0);
    assert_eq!(starts(&r.events).len(), 1, "{:?}", r.events);
}

#[test]
fn pauses_shorter_than_the_merge_gap_make_one_event() {
    let scene = |gap: f64| {
        let mut sc = Scene::new(W, H, 8);
        // Walks to the middle, is gone (behind something) for `gap` seconds, walks on.
        sc.movers.push(Mover { t1: 9.0, to: (0.45, 0.6), ..walker(5.0, 0.0, 0.6) });
        sc.movers.push(Mover { t0: 9.0 + gap, t1: 13.0 + gap, from: (0.55, 0.6), ..walker(0.0, 0.0, 0.6) });
        sc
    };
    let r = run(&mut scene(3.0), DetectorConfig::default(), 30.0);
    assert_eq!(starts(&r.events).len(), 1, "{:?}", r.events);
    assert_eq!(ends(&r.events).len(), 1, "{:?}", r.events);
    let r = run(&mut scene(8.0), DetectorConfig::default(), 35.0);
    assert_eq!(starts(&r.events).len(), 2, "{:?}", r.events);
}

#[test]
fn full_rate_is_asked_for_only_while_something_goes_on() {
    let mut sc = Scene::new(W, H, 9);
    sc.movers.push(walker(5.0, 13.0, 0.5));
    let mut det = Detector::new(DetectorConfig::default(), W as u32, H as u32);
    let mut frame = Vec::new();
    let mut full = Vec::new();
    for n in 0..250i64 {
        sc.render(n as f64 / 10.0, &mut frame);
        det.push(&frame, W, W, H, n * S / 10).unwrap();
        full.push(det.needs_full_rate());
    }
    assert!(full[..10].iter().all(|&f| f), "settling");
    assert!(full[20..50].iter().all(|&f| !f), "quiet before");
    assert!(full[52..130].iter().all(|&f| f), "moving");
    assert!(full[200..].iter().all(|&f| !f), "quiet after");
    assert_eq!(det.phase(), Phase::Idle);
}

#[test]
fn bad_frames_are_errors_and_leave_the_detector_alone() {
    let mut det = Detector::new(DetectorConfig::default(), 160, 90);
    let frame = vec![100u8; 640 * 360];
    assert!(matches!(det.push(&frame, 640, 640, 361, 0), Err(FrameError::Short { .. })));
    assert!(matches!(det.push(&frame, 100, 640, 360, 0), Err(FrameError::Stride { .. })));
    assert!(matches!(det.push(&frame, 640, 0, 360, 0), Err(FrameError::Empty { .. })));
    assert!(det.push(&frame, 640, 640, 360, 0).is_ok());
    assert!(matches!(det.push(&frame, 640, 640, 360, 0), Err(FrameError::RepeatedTime { t: 0 })));
    // Another size (camera changed resolution) and time going back (new run) are fine.
    assert!(det.push(&frame, 320, 320, 180, S).is_ok());
    let out = det.push(&frame, 7, 7, 3, -5 * S).unwrap();
    assert_eq!(out.status, FrameStatus::Settling);
    // Degenerate analysis sizes are clamped.
    assert_eq!(Detector::new(DetectorConfig::default(), 0, u32::MAX).size(), (8, 2048));
}

#[test]
fn garbage_never_panics() {
    let mut seed = 12345u64;
    let mut rnd = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let cfg = DetectorConfig {
        sensitivity: 1.0,
        min_duration: Duration::ZERO,
        settle_time: Duration::ZERO,
        zones: vec![Zone { kind: ZoneKind::Include, points: vec![(0.0, 0.0), (2.0, 0.5), (0.0, 1.0)] }],
        ..DetectorConfig::default()
    };
    let mut det = Detector::new(cfg, 40, 30);
    let mut t = 0;
    for _ in 0..300 {
        let (w, h) = (1 + (rnd() % 90) as usize, 1 + (rnd() % 70) as usize);
        let stride = w + (rnd() % 3) as usize;
        let frame: Vec<u8> = (0..stride * h).map(|_| rnd() as u8).collect();
        t += (rnd() % 300_000) as i64 - 20_000;
        let _ = det.push(&frame, stride, w, h, t);
    }
    let _ = det.reset();
}

#[test]
fn analysis_from_a_larger_frame() {
    // Frames larger than the analysis size: the walker is still found.
    let mut sc = Scene::new(320, 180, 10);
    sc.movers.push(walker(5.0, 13.0, 0.5));
    let mut det = Detector::new(DetectorConfig::default(), 80, 45);
    let mut frame = Vec::new();
    let mut events = Vec::new();
    for n in 0..200i64 {
        sc.render(n as f64 / 10.0, &mut frame);
        events.extend(det.push(&frame, 320, 320, 180, n * S / 10).unwrap().events);
    }
    assert_eq!(starts(&events).len(), 1, "{events:?}");
}

#[test]
fn a_car_that_parks_ends_its_event_and_leaves_no_ghost_event() {
    let mut sc = Scene::new(W, H, 11);
    let car =
        Mover { t0: 5.0, t1: 9.0, from: (-0.15, 0.7), to: (0.5, 0.7), size: (0.25, 0.15), luma: 220.0, texture: 20.0 };
    sc.movers.push(car);
    // Parked from 9 s to 40 s, then drives off.
    sc.movers.push(Mover { t0: 9.0, t1: 40.0, from: (0.5, 0.7), to: (0.5, 0.7), ..car });
    sc.movers.push(Mover { t0: 40.0, t1: 43.0, from: (0.5, 0.7), to: (1.15, 0.7), ..car });
    let r = run(&mut sc, DetectorConfig::default(), 60.0);
    let e = ends(&r.events);
    assert_eq!(e.len(), 2, "arrival and departure: {:?}", r.events);
    // The arrival ends soon after the car stopped, not when it leaves.
    assert!(e[0].1 < 20 * S, "{e:?}");
    // The departure starts when it drives off and ends once it is gone (its ghost is not motion).
    assert!((39 * S..42 * S).contains(&e[1].0), "{e:?}");
    assert!(e[1].1 < 47 * S, "{e:?}");
}

#[test]
fn set_config_applies_live() {
    let mut sc = Scene::new(W, H, 12);
    sc.movers.push(walker(5.0, 13.0, 0.5));
    sc.movers.push(walker(25.0, 33.0, 0.5));
    let mut det = Detector::new(DetectorConfig::default(), W as u32, H as u32);
    let mut frame = Vec::new();
    let mut events = Vec::new();
    for n in 0..400i64 {
        if n == 200 {
            // Everything excluded from 20 s on.
            let all = vec![(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)];
            det.set_config(DetectorConfig {
                zones: vec![Zone { kind: ZoneKind::Exclude, points: all }],
                ..DetectorConfig::default()
            });
        }
        sc.render(n as f64 / 10.0, &mut frame);
        events.extend(det.push(&frame, W, W, H, n * S / 10).unwrap().events);
    }
    assert_eq!(starts(&events), vec![starts(&events)[0]]);
    assert!(starts(&events)[0] < 7 * S);
}

#[test]
fn sensitivity_zero_ignores_what_one_half_finds() {
    let scene = || {
        let mut sc = Scene::new(W, H, 13);
        // A small, far-away person: about 0.3 % of the picture.
        sc.movers.push(Mover { size: (0.03, 0.1), luma: 220.0, ..walker(5.0, 13.0, 0.5) });
        sc
    };
    let r = run(&mut scene(), DetectorConfig { sensitivity: 0.0, ..DetectorConfig::default() }, 20.0);
    assert!(r.events.is_empty(), "{:?}", r.events);
    let r = run(&mut scene(), DetectorConfig::default(), 20.0);
    assert_eq!(starts(&r.events).len(), 1, "{:?}", r.events);
}
