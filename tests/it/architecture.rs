//! The dependency rules of ARCHITECTURE.md ("never" lines), checked: crate rules from `cargo metadata`
//! (normal dependencies, followed transitively), module rules from a scan of `src/`. A rule broken here is
//! a design change: change ARCHITECTURE.md with it, or undo the dependency.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Package name → names of the packages it depends on (normal dependencies only), for every package in
/// the resolved graph.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    // This machine's platform only: other platforms' crates may not be downloaded here.
    let rustc = Command::new("rustc").arg("-vV").output().expect("rustc -vV runs");
    let host = String::from_utf8_lossy(&rustc.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_owned))
        .expect("rustc names its host");
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--offline", "--locked", "--filter-platform", &host])
        .current_dir(root())
        .output()
        .expect("cargo metadata runs");
    assert!(out.status.success(), "cargo metadata: {}", String::from_utf8_lossy(&out.stderr));
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("cargo metadata's JSON");
    let names: BTreeMap<&str, &str> = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["id"].as_str().unwrap(), p["name"].as_str().unwrap()))
        .collect();
    let mut g = BTreeMap::new();
    for node in meta["resolve"]["nodes"].as_array().unwrap() {
        let name = names[node["id"].as_str().unwrap()].to_owned();
        let deps: BTreeSet<String> = node["deps"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["dep_kinds"].as_array().unwrap().iter().any(|k| k["kind"].is_null()))
            .map(|d| names[d["pkg"].as_str().unwrap()].to_owned())
            .collect();
        g.entry(name).or_insert_with(BTreeSet::new).extend(deps);
    }
    g
}

/// Everything `pkg` depends on, directly or not.
fn closure(g: &BTreeMap<String, BTreeSet<String>>, pkg: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut todo = vec![pkg.to_owned()];
    while let Some(p) = todo.pop() {
        for d in g.get(&p).into_iter().flatten() {
            if seen.insert(d.clone()) {
                todo.push(d.clone());
            }
        }
    }
    seen
}

#[test]
fn crates_keep_their_dependency_rules() {
    let g = graph();
    let ours: Vec<&str> = g.keys().map(String::as_str).filter(|n| n.starts_with("kw-")).collect();
    assert!(ours.len() >= 12, "the workspace's crates: {ours:?}");
    let mut broken = Vec::new();
    let mut never = |pkg: &str, forbidden: &str, why: &str| {
        if closure(&g, pkg).contains(forbidden) {
            broken.push(format!("{pkg} depends on {forbidden}: {why}"));
        }
    };
    for c in &ours {
        never(c, "keepwatch", "crates never depend on the binary");
    }
    for c in ["kw-store", "kw-media", "kw-mp4", "kw-motion", "kw-objects"] {
        never(c, "tokio", "the storage and pixel crates know no async runtime");
        never(c, "kw-config", "the storage and pixel crates know nothing of the config file");
    }
    for c in ["kw-store", "kw-mp4", "kw-events", "kw-media"] {
        never(c, "kw-codec", "storage never decodes");
    }
    for c in &ours {
        if *c != "kw-media" {
            never("kw-media", c, "kw-media is the vocabulary everything else builds on");
        }
        if *c != "kw-notify" {
            never(c, "kw-notify", "only the binary wires alerts");
        }
        if *c != "kw-store-pg" {
            never(c, "kw-store-pg", "only the binary chooses the PostgreSQL index");
        }
    }
    never("kw-store-pg", "kw-config", "the binary maps the config to the PostgreSQL index");
    assert!(broken.is_empty(), "dependency rules broken (see ARCHITECTURE.md):\n{}", broken.join("\n"));
}

/// One source file's product code: without comment lines (docs may name anything) and without its test
/// module (tests may build fixtures with any crate).
struct Source {
    path: String,
    code: String,
}

fn sources(dir: &Path) -> Vec<Source> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                let text = std::fs::read_to_string(&p).unwrap();
                let product = text.split("\n#[cfg(test)]\n").next().unwrap_or("");
                let code: String =
                    product.lines().filter(|l| !l.trim_start().starts_with("//")).map(|l| format!("{l}\n")).collect();
                let path = p.strip_prefix(root()).unwrap().to_string_lossy().replace('\\', "/");
                out.push(Source { path, code });
            }
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

#[test]
fn modules_keep_their_dependency_rules() {
    let src: Vec<Source> =
        sources(&root().join("src")).into_iter().filter(|s| !s.path.starts_with("src/pipeline_tests/")).collect();
    assert!(src.len() > 50, "the binary's sources");
    let mut broken = Vec::new();
    let mut never = |place: &dyn Fn(&str) -> bool, names: &[&str], why: &str| {
        for s in src.iter().filter(|s| place(&s.path)) {
            for n in names {
                if s.code.contains(n) {
                    broken.push(format!("{} names {n}: {why}", s.path));
                }
            }
        }
    };
    never(
        &|p| p.starts_with("src/recorder/"),
        &["kw_codec", "crate::motion::", "crate::snapshot", "crate::events"],
        "recording links no codec and reads only the MotionSignal",
    );
    never(&|p| p == "src/motion_signal.rs", &["crate::"], "the motion signal imports nothing of keepwatch's");
    never(
        &|p| p == "src/view.rs",
        &["crate::commands", "crate::cameras", "crate::http", "crate::alerting"],
        "the read model imports nothing above it",
    );
    never(
        &|p| !p.starts_with("src/commands/") && p != "src/main.rs" && p != "src/lib.rs",
        &["crate::commands"],
        "commands are the top: nothing imports them",
    );
    never(
        &|p| p.starts_with("src/http/"),
        &["crate::cameras", "crate::commands", "ConfigWatcher"],
        "HTTP reads the view and the published config",
    );
    never(
        &|p| p.starts_with("src/ingest/"),
        &["kw_store", "crate::recorder", "crate::hub"],
        "sources never see the store",
    );
    never(&|_| true, &["openh264", "zune_jpeg", "zune_core", "image::"], "only kw-codec drives the codecs");
    never(
        &|p| !p.starts_with("src/commands/") && p != "src/config_watch.rs" && p != "src/http/camera_admin.rs",
        &["kw_config::load", "kw_config::parse(", "ConfigDoc"],
        "parts read the effective config, never the file",
    );
    assert!(broken.is_empty(), "module rules broken (see ARCHITECTURE.md):\n{}", broken.join("\n"));
}
