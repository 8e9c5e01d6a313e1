//! The config file: parsing with file:line:key errors, the comment-keeping editor, and redaction.
//! Properties: never panics; writing every camera back unchanged through the editor re-parses to the same
//! config (an edit adds no keys and loses none); a redacted URL never shows its password.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::path::Path;

/// libFuzzer's panic hook aborts on every panic, even one the code catches. kw-config catches toml_edit's
/// own panics (an upstream bug on some malformed input) and answers an error: those are let through here;
/// any other panic still aborts.
fn hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            if info.location().is_some_and(|l| l.file().contains("toml_edit")) {
                return;
            }
            eprintln!("{info}");
            std::process::abort();
        }));
    });
}

fuzz_target!(|data: &[u8]| {
    hook();
    let Ok(text) = std::str::from_utf8(data) else { return };
    let path = Path::new("fuzz.toml");
    let Ok(cfg) = kw_config::parse(text, path) else { return };
    let mut doc = kw_config::ConfigDoc::parse(text, path).expect("a valid config is editable");
    for c in &cfg.cameras {
        doc.upsert_camera(c).expect("writing a camera back as it was is valid");
    }
    let again = doc.config().expect("the edited text parses");
    assert_eq!(again.cameras, cfg.cameras, "an unchanged camera written back must read back the same");
    assert_eq!(again.notify, cfg.notify);
    let reparsed = kw_config::parse(&doc.to_string(), path).expect("the edited text parses");
    assert_eq!(reparsed.cameras, cfg.cameras);
    for c in &cfg.cameras {
        for url in [Some(&c.url), c.sub_url.as_ref()].into_iter().flatten() {
            let full = kw_config::SourceUrl::new(url, c.username.as_deref(), c.password.as_deref());
            let shown = kw_config::redacted_url(&full.with_userinfo());
            if let Some(pw) = full.password.as_deref().filter(|p| p.len() >= 4) {
                let encoded = kw_config::percent_encode(pw);
                assert!(!shown.contains(&format!(":{encoded}@")), "password shown in {shown:?}");
            }
        }
    }
});
