//! The Debian package, built the way a release is (`scripts/package-deb.sh`, cargo-deb) but from the binary
//! this test run already built (a release build would double CI's compile time): unpacked with `dpkg -x`
//! into a scratch root, its maintainer scripts run there in dry-run mode (`DPKG_ROOT` + `KEEPWATCH_DRY_RUN`:
//! files are made under the root, user/owner/service commands are printed), and its systemd unit checked
//! with `systemd-analyze verify`. The man page and completions it carries are the binary's own.

use crate::support::keepwatch::bin;
use crate::support::tools::{require_tools, run_with_timeout};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[track_caller]
fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "failed ({:?}): {}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())).permissions().mode() & 0o7777
}

/// Runs a maintainer script from the package's control area in dry-run mode against `root`.
fn script(control: &Path, root: &Path, name: &str, args: &[&str]) -> String {
    ok(run_with_timeout(
        Command::new("sh").arg(control.join(name)).args(args).env("DPKG_ROOT", root).env("KEEPWATCH_DRY_RUN", "1"),
        Duration::from_secs(60),
    ))
}

/// Builds the .deb from the binary under test; returns its path.
fn build_deb(out: &Path) -> PathBuf {
    // target/debug/keepwatch → target
    let target = Path::new(bin()).parent().and_then(Path::parent).expect("the target directory");
    let said = ok(run_with_timeout(
        Command::new(repo().join("scripts/package-deb.sh"))
            .args(["--profile", "dev", "--no-build", "--fast", "-o"])
            .arg(out)
            .env("CARGO_TARGET_DIR", target)
            .current_dir(repo()),
        Duration::from_secs(900),
    ));
    let deb = std::fs::read_dir(out)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "deb"))
        .unwrap_or_else(|| panic!("no .deb in {}: {said}", out.display()));
    deb
}

/// `systemd-analyze verify --root=ROOT keepwatch.service`. The scratch root gets what systemd needs to
/// resolve the unit besides the package: this system's own units (the targets it is ordered after), `kill`
/// (ExecReload) and the `/bin` link of a merged-/usr system. `--man=no`: the man page is checked apart.
fn verify_unit(root: &Path) -> Output {
    let units = root.join("usr/lib/systemd/system");
    for e in std::fs::read_dir("/usr/lib/systemd/system").unwrap().flatten() {
        let to = units.join(e.file_name());
        if e.file_name() == "keepwatch.service" || to.symlink_metadata().is_ok() {
            continue;
        }
        let from = e.path();
        match std::fs::read_link(&from) {
            Ok(target) => std::os::unix::fs::symlink(target, &to).unwrap(),
            Err(_) if from.is_file() => {
                std::fs::copy(&from, &to).unwrap();
            }
            Err(_) => {} // directories of drop-ins and wants: not needed to verify one unit
        }
    }
    std::fs::copy("/usr/bin/kill", root.join("usr/bin/kill")).expect("kill (procps) on this system");
    let _ = std::os::unix::fs::symlink("usr/bin", root.join("bin"));
    run_with_timeout(
        Command::new("systemd-analyze")
            .args(["verify", "--man=no"])
            .arg(format!("--root={}", root.display()))
            .arg("keepwatch.service"),
        Duration::from_secs(60),
    )
}

#[test]
fn the_debian_package_installs_into_a_scratch_root_and_its_unit_verifies() {
    require_tools(&["cargo-deb", "dpkg", "dpkg-deb", "systemd-analyze"]);
    let dir = tempfile::tempdir().unwrap();
    let deb = build_deb(dir.path());

    let fields =
        ok(Command::new("dpkg-deb").args(["-f"]).arg(&deb).args(["Package", "Depends", "Section"]).output().unwrap());
    assert!(fields.contains("Package: keepwatch"), "{fields}");
    assert!(fields.contains("adduser"), "postinst creates the user with adduser: {fields}");

    let root = dir.path().join("root");
    let control = dir.path().join("control");
    ok(Command::new("dpkg").arg("-x").arg(&deb).arg(&root).output().unwrap());
    ok(Command::new("dpkg-deb").arg("-e").arg(&deb).arg(&control).output().unwrap());
    for s in ["postinst", "prerm", "postrm"] {
        assert_eq!(mode(&control.join(s)) & 0o111, 0o111, "{s} is executable");
    }

    // What the package carries.
    let keepwatch = root.join("usr/bin/keepwatch");
    let version = ok(Command::new(&keepwatch).arg("--version").output().unwrap());
    assert!(version.starts_with("keepwatch 0.") && version.contains('('), "version with the commit: {version}");
    let unit = root.join("usr/lib/systemd/system/keepwatch.service");
    let unit_text = std::fs::read_to_string(&unit).unwrap();
    for line in [
        "User=keepwatch",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "StateDirectory=keepwatch",
        "LimitNOFILE=",
        "Restart=on-failure",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "ExecStart=/usr/bin/keepwatch run --config /etc/keepwatch/keepwatch.toml",
    ] {
        assert!(unit_text.lines().any(|l| l.starts_with(line)), "the unit has {line}");
    }
    let man = ok(Command::new("gzip").arg("-dc").arg(root.join("usr/share/man/man1/keepwatch.1.gz")).output().unwrap());
    assert!(man.contains(".TH keepwatch") && man.contains("backup"), "a man page of this CLI");
    let bash = std::fs::read_to_string(root.join("usr/share/bash-completion/completions/keepwatch")).unwrap();
    assert!(bash.contains("restore") && bash.contains("--config"), "bash completions of this CLI");
    assert!(root.join("usr/share/zsh/vendor-completions/_keepwatch").exists());
    assert!(root.join("usr/share/fish/vendor_completions.d/keepwatch.fish").exists());
    assert!(!root.join("etc/keepwatch").exists(), "the config is made by postinst, not shipped in /etc");

    // The unit, checked by systemd itself inside the root (ExecStart must be the packaged binary there).
    let verify = verify_unit(&root);
    let verify_text = format!("{}{}", String::from_utf8_lossy(&verify.stdout), String::from_utf8_lossy(&verify.stderr));
    assert!(verify.status.success(), "systemd-analyze verify: {verify_text}");
    assert!(!verify_text.contains("keepwatch.service:"), "no complaint about the unit: {verify_text}");

    // First install.
    let said = script(&control, &root, "postinst", &["configure", ""]);
    assert!(said.contains("dry-run: adduser --system --group"), "{said}");
    assert!(said.contains("dry-run: chown keepwatch:keepwatch"), "{said}");
    assert!(said.contains("dry-run: deb-systemd-helper enable keepwatch.service"), "{said}");
    assert!(said.contains("runuser -u keepwatch -- keepwatch user add admin"), "the next step: {said}");
    let config = root.join("etc/keepwatch/keepwatch.toml");
    assert_eq!(mode(&root.join("etc/keepwatch")), 0o700);
    assert_eq!(mode(&config), 0o600, "the config holds camera passwords");
    assert_eq!(mode(&root.join("var/lib/keepwatch")), 0o700);
    let cfg = kw_config::load(&config).expect("the default config is valid");
    assert_eq!(cfg.storage.path, Path::new("/var/lib/keepwatch"));
    assert_eq!(cfg.server.listen.to_string(), "127.0.0.1:8080");

    // An upgrade keeps the admin's config and restarts the service.
    std::fs::write(&config, std::fs::read_to_string(&config).unwrap() + "\n# mine\n").unwrap();
    let said = script(&control, &root, "postinst", &["configure", "0.0.9"]);
    assert!(said.contains("try-restart keepwatch.service") && !said.contains("enable"), "{said}");
    assert!(std::fs::read_to_string(&config).unwrap().ends_with("# mine\n"), "the config is kept");

    // Removal stops the service; purge takes the config, never the store.
    let said = script(&control, &root, "prerm", &["remove"]);
    assert!(said.contains("deb-systemd-invoke stop keepwatch.service"), "{said}");
    std::fs::write(root.join("var/lib/keepwatch/keepwatch-store.json"), "{}").unwrap();
    let said = script(&control, &root, "postrm", &["purge"]);
    assert!(said.contains("deb-systemd-helper purge keepwatch.service"), "{said}");
    assert!(!config.exists(), "purge removes the config");
    assert!(root.join("var/lib/keepwatch/keepwatch-store.json").exists(), "purge keeps the recordings");
}

#[test]
fn completions_and_man_page_come_from_the_cli() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = ok(Command::new(bin()).args(["completions", shell]).output().unwrap());
        assert!(out.contains("backup") && out.contains("restore"), "{shell}");
    }
    let bad = Command::new(bin()).args(["completions", "tcsh"]).output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
    let man = ok(Command::new(bin()).arg("manpage").output().unwrap());
    assert!(man.starts_with(".ie") || man.contains(".TH keepwatch"), "{}", &man[..man.len().min(200)]);
}
