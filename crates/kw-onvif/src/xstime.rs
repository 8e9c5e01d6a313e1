//! XML Schema times as ONVIF writes them: xs:dateTime (`2026-11-27T10:00:00Z`) and xs:duration (`PT10S`),
//! in and out of ms since the Unix epoch.
//!
//! Why apart: WS-Security `Created`, PullPoint `CurrentTime`/`TerminationTime` and timeouts all use these
//! forms, and cameras write them in every allowed variant. "Now" is not read here: the client's injected
//! clock ([`crate::soap::Client::with_clock`]) gives it.

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// `2026-11-27T10:00:00Z` (whole seconds: some cameras refuse fractions in `Created`).
pub fn format_utc(ms: i64) -> String {
    let t = OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000)).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let d = t.date();
    let (h, m, s) = (t.hour(), t.minute(), t.second());
    format!("{:04}-{:02}-{:02}T{h:02}:{m:02}:{s:02}Z", d.year(), u8::from(d.month()), d.day())
}

/// An xs:dateTime (RFC 3339 shaped) in ms since the epoch.
pub fn parse_utc(s: &str) -> Option<i64> {
    let t = OffsetDateTime::parse(s.trim(), &Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

/// ms since the epoch of a calendar date and time in UTC.
pub fn from_parts(year: i32, month: u8, day: u8, hour: u8, minute: u8, second: u8) -> Option<i64> {
    let month = time::Month::try_from(month).ok()?;
    let date = time::Date::from_calendar_date(year, month, day).ok()?;
    let t = time::Time::from_hms(hour, minute, second).ok()?;
    Some(date.with_time(t).assume_utc().unix_timestamp() * 1000)
}

/// An xs:duration of days, hours, minutes and seconds (`PT1M30S`, `P1DT2H`), in ms; years and months are
/// refused (no camera uses them for timeouts).
pub fn parse_duration(s: &str) -> Option<i64> {
    let s = s.trim();
    let rest = s.strip_prefix('P')?;
    let (date, time) = match rest.split_once('T') {
        Some((d, t)) => (d, t),
        None => (rest, ""),
    };
    let mut ms = 0f64;
    let mut num = String::new();
    for (part, units) in
        [(date, &[('D', 86_400_000.0)][..]), (time, &[('H', 3_600_000.0), ('M', 60_000.0), ('S', 1000.0)][..])]
    {
        for c in part.chars() {
            if c.is_ascii_digit() || c == '.' {
                num.push(c);
                continue;
            }
            let unit = units.iter().find(|(u, _)| *u == c)?.1;
            let n: f64 = num.parse().ok()?;
            ms += n * unit;
            num.clear();
        }
        if !num.is_empty() {
            return None;
        }
    }
    (ms.is_finite() && ms < 1e15).then_some(ms as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_durations() {
        assert_eq!(format_utc(1_795_000_000_123), "2026-11-18T11:06:40Z");
        assert_eq!(parse_utc("2026-11-18T11:06:40.5Z"), Some(1_795_000_000_500));
        assert_eq!(from_parts(2026, 11, 18, 11, 6, 40), Some(1_795_000_000_000));
        assert_eq!(from_parts(2026, 13, 1, 0, 0, 0), None);
        assert_eq!(parse_duration("PT10S"), Some(10_000));
        assert_eq!(parse_duration("PT1M30.5S"), Some(90_500));
        assert_eq!(parse_duration("P1DT1H"), Some(90_000_000));
        assert_eq!(parse_duration("P1Y"), None);
        assert_eq!(parse_duration("PT10"), None);
        assert_eq!(parse_duration("10S"), None);
    }
}
