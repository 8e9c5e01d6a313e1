//! Measures what one argon2id hash costs here, to choose parameters:
//! `cargo run --release -p kw-auth --example hash_cost [M_KIB T P]`.

use std::time::Instant;

use kw_auth::Hasher;

fn main() {
    let args: Vec<u32> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let (m, t, p) = match args[..] {
        [m, t, p] => (m, t, p),
        _ => (Hasher::RECOMMENDED_M_KIB, Hasher::RECOMMENDED_T, Hasher::RECOMMENDED_P),
    };
    let hasher = match Hasher::new(m, t, p) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let Ok(hash) = hasher.hash("a test password") else {
        eprintln!("hashing failed");
        std::process::exit(1);
    };
    let runs = 10;
    let start = Instant::now();
    for _ in 0..runs {
        let _ = hasher.verify(&hash, "a test password");
    }
    let per = start.elapsed() / runs;
    println!("argon2id m={m} KiB t={t} p={p}: {per:.1?} per hash");
}
