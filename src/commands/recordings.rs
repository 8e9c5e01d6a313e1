//! `keepwatch recordings --camera NAME [--start T] [--end T]`: a camera's recorded spans as JSON
//! (`[{"start","end"}]`, RFC 3339), the same answer as the API's recordings route, so scripts and tests
//! can read spans without HTTP.

use crate::Failure;
use std::path::Path;

pub fn run(config: &Path, camera: &str, start: Option<&str>, end: Option<&str>) -> Result<(), Failure> {
    let start = start.map(|s| super::time_arg("start", s)).transpose()?.unwrap_or(i64::MIN / 2);
    let end = end.map(|s| super::time_arg("end", s)).transpose()?.unwrap_or(i64::MAX / 2);
    let cfg = kw_config::load(config)?;
    let store = crate::store_open::open_existing(config, &cfg)?;
    let spans = store.spans(camera, start, end).map_err(|e| Failure::runtime(e.to_string()))?;
    let out: Vec<serde_json::Value> = spans
        .iter()
        .map(|(s, e)| serde_json::json!({"start": crate::timefmt::format(*s), "end": crate::timefmt::format(*e)}))
        .collect();
    println!("{}", serde_json::Value::Array(out));
    Ok(())
}
