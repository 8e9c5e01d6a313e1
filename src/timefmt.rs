//! RFC 3339 times, the one time format of keepwatch's CLI and API (conventions: fractional seconds
//! allowed, offsets accepted).

use kw_media::WallMicros;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

pub fn parse(s: &str) -> Result<WallMicros, String> {
    let t = OffsetDateTime::parse(s.trim(), &Rfc3339)
        .map_err(|e| format!("{s:?} is not an RFC 3339 time like 2026-11-25T10:00:00Z ({e})"))?;
    Ok((t.unix_timestamp_nanos() / 1000) as WallMicros)
}

pub fn format(us: WallMicros) -> String {
    let nanos = i128::from(us) * 1000;
    match OffsetDateTime::from_unix_timestamp_nanos(nanos) {
        Ok(t) => t.format(&Rfc3339).unwrap_or_else(|_| us.to_string()),
        Err(_) => us.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_offsets() {
        let a = parse("2026-11-25T10:00:00Z").unwrap();
        assert_eq!(parse("2026-11-25T11:00:00+01:00").unwrap(), a);
        assert_eq!(parse("2026-11-25T10:00:00.5Z").unwrap(), a + 500_000);
        assert_eq!(format(a), "2026-11-25T10:00:00Z");
        assert!(parse("yesterday").is_err());
    }
}
