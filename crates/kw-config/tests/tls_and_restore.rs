//! `tls_fingerprint` (a camera's pinned certificate) read in its spellings, refused when malformed, written
//! back; and `ConfigDoc::set_storage_path` (what `keepwatch restore` does to the restored config).

use std::path::Path;

use kw_config::{camera_table, parse, ConfigDoc};

const CAMERA: &str = "[[cameras]]\nname = \"door\"\nurl = \"https://192.168.1.64/snapshot.jpg\"\n";
const HEX: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

#[test]
fn fingerprints_are_read_in_any_common_spelling_and_stored_in_one() {
    let path = Path::new("/etc/keepwatch/keepwatch.toml");
    let colons: String =
        HEX.as_bytes().chunks(2).map(|p| std::str::from_utf8(p).unwrap()).collect::<Vec<_>>().join(":");
    for spelling in [format!("sha256:{HEX}"), format!("SHA256:{}", colons.to_uppercase())] {
        let config = parse(&format!("{CAMERA}tls_fingerprint = \"{spelling}\"\n"), path).unwrap();
        assert_eq!(config.cameras[0].tls_fingerprint.as_deref(), Some(format!("sha256:{HEX}").as_str()));
    }
    assert_eq!(parse(CAMERA, path).unwrap().cameras[0].tls_fingerprint, None);
    for bad in ["md5:00", "sha256:abc", &format!("sha256:{HEX}0"), &format!("sha256:{}", HEX.replace('a', "z"))] {
        let err = parse(&format!("{CAMERA}tls_fingerprint = \"{bad}\"\n"), path).unwrap_err().to_string();
        assert!(err.contains("tls_fingerprint") && err.contains("sha256"), "{bad}: {err}");
    }
}

#[test]
fn a_fingerprint_is_written_back_and_removed_with_the_camera_form() {
    let path = Path::new("/etc/keepwatch/keepwatch.toml");
    let mut camera = parse(&format!("{CAMERA}tls_fingerprint = \"sha256:{HEX}\"\n"), path).unwrap().cameras[0].clone();
    assert_eq!(camera_table(&camera)["tls_fingerprint"].as_str(), Some(format!("sha256:{HEX}").as_str()));
    camera.tls_fingerprint = None;
    assert!(!camera_table(&camera).contains_key("tls_fingerprint"));
}

#[test]
fn restore_points_the_storage_path_at_the_new_store_keeping_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keepwatch.toml");
    let text = format!("# my cameras\n[server]\nlisten = \"127.0.0.1:8080\"\n\n[storage]\npath = \"/old\" # the USB disk\nmax_age = \"7d\"\n\n{CAMERA}");
    let mut doc = ConfigDoc::parse(&text, &path).unwrap();
    doc.set_storage_path("/srv/new-store").unwrap();
    doc.save(&path).unwrap();
    let written = std::fs::read_to_string(&path).unwrap();
    assert!(written.starts_with("# my cameras\n") && written.contains("max_age = \"7d\""), "{written}");
    let config = kw_config::load(&path).unwrap();
    assert_eq!(config.storage.path, Path::new("/srv/new-store"));
    assert_eq!(config.cameras.len(), 1);
    // A config without [storage] gets one.
    let mut doc = ConfigDoc::parse("[server]\nlisten = \"127.0.0.1:8080\"\n", &path).unwrap();
    doc.set_storage_path("/srv/s").unwrap();
    assert!(doc.to_string().contains("[storage]\npath = \"/srv/s\""), "{doc}");
}

#[test]
fn rtsps_listens_only_with_the_servers_certificate() {
    let path = Path::new("/etc/keepwatch/keepwatch.toml");
    let tls = "[server]\ntls_cert = \"cert.pem\"\ntls_key = \"key.pem\"\n\n";
    let config =
        parse(&format!("{tls}[restream]\nlisten = \"0.0.0.0:8554\"\ntls_listen = \"0.0.0.0:8322\"\n"), path).unwrap();
    assert_eq!(config.restream.tls_listen, Some("0.0.0.0:8322".parse().unwrap()));
    assert_eq!(config.restream.listen, Some("0.0.0.0:8554".parse().unwrap()));
    let err = parse("[restream]\ntls_listen = \"0.0.0.0:8322\"\n", path).unwrap_err().to_string();
    assert!(err.contains("tls_listen") && err.contains("tls_cert"), "{err}");
    let err = parse(&format!("{tls}[restream]\ntls_listen = \"8322\"\n"), path).unwrap_err().to_string();
    assert!(err.contains("0.0.0.0:8322"), "{err}");
}
