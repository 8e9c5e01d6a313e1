//! Durations (`"1h30m"`) and sizes (`"500GB"`) as people write them in the config.
//!
//! The config keeps human units so the file stays readable; the rest of keepwatch wants
//! [`Duration`] and byte counts. Parsing is strict (a typo like `"5mins"` is an error, not a guess)
//! and never panics or overflows: out-of-range values are errors.

use std::time::Duration;

const NANOS_PER_MS: u128 = 1_000_000;
const NANOS_PER_S: u128 = 1_000_000_000;

/// Duration units, largest first (so `"1h30m"` must list them in this order).
const DURATION_UNITS: [(&str, u128); 5] = [
    ("d", 86_400 * NANOS_PER_S),
    ("h", 3_600 * NANOS_PER_S),
    ("m", 60 * NANOS_PER_S),
    ("s", NANOS_PER_S),
    ("ms", NANOS_PER_MS),
];

/// Size units, matched case-insensitively: decimal (powers of 1000) and binary (powers of 1024).
const SIZE_UNITS: [(&str, u64); 9] = [
    ("b", 1),
    ("kb", 1_000),
    ("mb", 1_000_000),
    ("gb", 1_000_000_000),
    ("tb", 1_000_000_000_000),
    ("kib", 1 << 10),
    ("mib", 1 << 20),
    ("gib", 1 << 30),
    ("tib", 1 << 40),
];

/// Parses `"500ms"`, `"10s"`, `"5m"`, `"2h"`, `"30d"`, combinations such as `"1h30m"` or `"1d 12h"` (units in
/// descending order, each at most once) and decimals such as `"1.5s"`. A bare number without a unit is an error.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("expected a duration such as \"10s\", \"5m\" or \"1h30m\", found {text:?}");
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    let mut total: u128 = 0;
    let mut last_unit = usize::MAX; // index into DURATION_UNITS of the previous component
    while !rest.is_empty() {
        let (number, after) = split_number(rest).ok_or_else(bad)?;
        let after = after.trim_start();
        let unit_len = after.find(|c: char| !c.is_ascii_alphabetic()).unwrap_or(after.len());
        let unit = &after[..unit_len];
        let index = DURATION_UNITS.iter().position(|(name, _)| *name == unit).ok_or_else(|| {
            if unit.is_empty() {
                format!("{text:?} needs a unit: ms, s, m, h or d (for example \"{number}s\")")
            } else {
                format!("unknown duration unit {unit:?} in {text:?} (use ms, s, m, h or d)")
            }
        })?;
        if last_unit != usize::MAX && index <= last_unit {
            return Err(format!("units in {text:?} must go from largest to smallest, each once (like \"1h30m\")"));
        }
        last_unit = index;
        let nanos = scale(number, DURATION_UNITS[index].1).ok_or_else(|| format!("duration {text:?} is too large"))?;
        total = total.checked_add(nanos).ok_or_else(|| format!("duration {text:?} is too large"))?;
        rest = after[unit_len..].trim_start();
    }
    let secs = u64::try_from(total / NANOS_PER_S).map_err(|_| format!("duration {text:?} is too large"))?;
    // The remainder is below 10^9 and so fits in u32.
    let nanos = u32::try_from(total % NANOS_PER_S).unwrap_or(0);
    Ok(Duration::new(secs, nanos))
}

/// Parses a size: a plain number of bytes (`"1048576"`) or a number with a unit: B, KB, MB, GB, TB (powers of
/// 1000) or KiB, MiB, GiB, TiB (powers of 1024), any case, with optional space (`"1.5 TB"`).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let bad = || format!("expected a size such as \"500GB\", \"50GiB\" or \"1048576\", found {text:?}");
    let trimmed = text.trim();
    let (number, unit) = split_number(trimmed).ok_or_else(bad)?;
    let unit = unit.trim().to_ascii_lowercase();
    let multiplier = if unit.is_empty() {
        1
    } else {
        SIZE_UNITS
            .iter()
            .find(|(name, _)| *name == unit)
            .map(|&(_, m)| m)
            .ok_or_else(|| format!("unknown size unit in {text:?} (use B, KB, MB, GB, TB, KiB, MiB, GiB or TiB)"))?
    };
    let bytes = scale(number, u128::from(multiplier)).ok_or_else(|| format!("size {text:?} is too large"))?;
    u64::try_from(bytes).map_err(|_| format!("size {text:?} is too large"))
}

/// Writes a duration the way [`parse_duration`] reads it, largest units first (`"1h30m"`, `"500ms"`, `"0s"`).
/// Precision below a millisecond is dropped.
pub fn format_duration(duration: Duration) -> String {
    let mut left = duration.as_nanos() / NANOS_PER_MS * NANOS_PER_MS;
    if left == 0 {
        return "0s".to_string();
    }
    let mut out = String::new();
    for (name, unit) in DURATION_UNITS {
        let count = left / unit;
        if count > 0 {
            out.push_str(&format!("{count}{name}"));
            left -= count * unit;
        }
    }
    out
}

/// Writes a byte count the way [`parse_size`] reads it, exactly, in the largest unit that divides it
/// (`"50GB"`, `"2GiB"`, `"1234B"`).
pub fn format_size(bytes: u64) -> String {
    let mut units: Vec<(&str, u64)> = vec![
        ("TiB", 1 << 40),
        ("TB", 1_000_000_000_000),
        ("GiB", 1 << 30),
        ("GB", 1_000_000_000),
        ("MiB", 1 << 20),
        ("MB", 1_000_000),
        ("KiB", 1 << 10),
        ("KB", 1_000),
    ];
    units.retain(|&(_, m)| bytes != 0 && bytes.is_multiple_of(m));
    match units.first() {
        Some(&(name, m)) => format!("{}{name}", bytes / m),
        None => format!("{bytes}B"),
    }
}

/// Bit-rate units, matched case-insensitively (`"1Mbit"`, `"500kbit"`, `"2mbps"`): powers of 1000.
const BITRATE_UNITS: [(&str, u64); 8] = [
    ("bit", 1),
    ("bps", 1),
    ("kbit", 1_000),
    ("kbps", 1_000),
    ("mbit", 1_000_000),
    ("mbps", 1_000_000),
    ("gbit", 1_000_000_000),
    ("gbps", 1_000_000_000),
];

/// Parses a bit rate: `"1Mbit"`, `"1.5 Mbit"`, `"500kbit"`, `"2Mbps"` or a plain number of bits per second.
pub fn parse_bitrate(text: &str) -> Result<u64, String> {
    let bad = || format!("expected a bit rate such as \"1Mbit\", \"500kbit\" or \"1000000\", found {text:?}");
    let (number, unit) = split_number(text.trim()).ok_or_else(bad)?;
    let unit = unit.trim().to_ascii_lowercase();
    let multiplier = if unit.is_empty() {
        1
    } else {
        BITRATE_UNITS
            .iter()
            .find(|(name, _)| *name == unit)
            .map(|&(_, m)| m)
            .ok_or_else(|| format!("unknown bit-rate unit in {text:?} (use bit, kbit, Mbit or Gbit)"))?
    };
    let bits = scale(number, u128::from(multiplier)).ok_or_else(|| format!("bit rate {text:?} is too large"))?;
    u64::try_from(bits).map_err(|_| format!("bit rate {text:?} is too large"))
}

/// Writes a bit rate the way [`parse_bitrate`] reads it (`"1Mbit"`, `"1500kbit"`, `"1234"`).
pub fn format_bitrate(bits: u64) -> String {
    for (name, m) in [("Gbit", 1_000_000_000), ("Mbit", 1_000_000), ("kbit", 1_000)] {
        if bits != 0 && bits.is_multiple_of(m) {
            return format!("{}{name}", bits / m);
        }
    }
    bits.to_string()
}

/// A non-negative decimal number as written: integer digits and fraction digits.
#[derive(Clone, Copy)]
struct Number<'a> {
    int: &'a str,
    frac: &'a str,
}

impl std::fmt::Display for Number<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.frac.is_empty() {
            f.write_str(self.int)
        } else {
            write!(f, "{}.{}", self.int, self.frac)
        }
    }
}

/// Splits a leading `123` or `1.5` off `text`; `None` when `text` does not start with a digit.
fn split_number(text: &str) -> Option<(Number<'_>, &str)> {
    let int_len = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    if int_len == 0 {
        return None;
    }
    let int = &text[..int_len];
    let after = &text[int_len..];
    if let Some(frac_text) = after.strip_prefix('.') {
        let frac_len = frac_text.find(|c: char| !c.is_ascii_digit()).unwrap_or(frac_text.len());
        if frac_len == 0 {
            return None;
        }
        return Some((Number { int, frac: &frac_text[..frac_len] }, &frac_text[frac_len..]));
    }
    Some((Number { int, frac: "" }, after))
}

/// `number * unit`, rounding any fraction of the unit down; `None` on overflow.
fn scale(number: Number<'_>, unit: u128) -> Option<u128> {
    let int: u128 = number.int.parse().ok()?;
    let mut total = int.checked_mul(unit)?;
    // Fraction digits past the 18th are ignored: they are worth far less than a nanosecond or a byte.
    let frac = &number.frac[..number.frac.len().min(18)];
    if !frac.is_empty() {
        let digits: u128 = frac.parse().ok()?;
        let denominator = 10u128.checked_pow(u32::try_from(frac.len()).ok()?)?;
        total = total.checked_add(digits.checked_mul(unit)? / denominator)?;
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Ok(ms(500)));
        assert_eq!(parse_duration("10s"), Ok(ms(10_000)));
        assert_eq!(parse_duration("5m"), Ok(ms(300_000)));
        assert_eq!(parse_duration("2h"), Ok(ms(7_200_000)));
        assert_eq!(parse_duration("30d"), Ok(Duration::from_secs(30 * 86_400)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5_400)));
        assert_eq!(parse_duration("1d 12h"), Ok(Duration::from_secs(129_600)));
        assert_eq!(parse_duration("1m30s500ms"), Ok(ms(90_500)));
        assert_eq!(parse_duration(" 1.5s "), Ok(ms(1_500)));
        assert_eq!(parse_duration("1 h 30 m"), Ok(Duration::from_secs(5_400)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("0.25m"), Ok(ms(15_000)));
    }

    #[test]
    fn bad_durations() {
        for text in [
            "",
            " ",
            "10",
            "s",
            "10x",
            "5mins",
            "1.s",
            ".5s",
            "-1s",
            "1m1h",
            "1m1m",
            "10 s s",
            "1e3s",
            "99999999999999999999999999999999999999999d",
            "213503982336000d",
        ] {
            assert!(parse_duration(text).is_err(), "{text:?} should fail");
        }
        assert!(parse_duration("10").unwrap_err().contains("needs a unit"));
        assert!(parse_duration("3w").unwrap_err().contains("unknown duration unit \"w\""));
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("500GB"), Ok(500_000_000_000));
        assert_eq!(parse_size("50 GiB"), Ok(50 << 30));
        assert_eq!(parse_size("1kb"), Ok(1_000));
        assert_eq!(parse_size("1KiB"), Ok(1_024));
        assert_eq!(parse_size("1.5TB"), Ok(1_500_000_000_000));
        assert_eq!(parse_size("1048576"), Ok(1_048_576));
        assert_eq!(parse_size("7B"), Ok(7));
        assert_eq!(parse_size("0"), Ok(0));
        assert_eq!(parse_size("16777215TiB"), Ok(16_777_215u64 << 40));
    }

    #[test]
    fn bad_sizes() {
        for text in ["", "GB", "5XB", "5 G", "-5GB", "1.GB", "16777216TiB", "18446744073709551616"] {
            assert!(parse_size(text).is_err(), "{text:?} should fail");
        }
    }

    #[test]
    fn bitrates() {
        assert_eq!(parse_bitrate("1Mbit"), Ok(1_000_000));
        assert_eq!(parse_bitrate("1.5 mbit"), Ok(1_500_000));
        assert_eq!(parse_bitrate("500kbps"), Ok(500_000));
        assert_eq!(parse_bitrate("2000000"), Ok(2_000_000));
        for text in ["", "Mbit", "1MB", "-1Mbit", "1e6"] {
            assert!(parse_bitrate(text).is_err(), "{text:?} should fail");
        }
        for n in [0, 1, 1_000, 1_500_000, 2_000_000_000, 1_234] {
            assert_eq!(parse_bitrate(&format_bitrate(n)), Ok(n), "{n}");
        }
        assert_eq!(format_bitrate(1_000_000), "1Mbit");
    }

    #[test]
    fn formatting_round_trips() {
        for d in [ms(0), ms(1), ms(500), ms(90_500), Duration::from_secs(5_400), Duration::from_secs(86_400 * 30)] {
            assert_eq!(parse_duration(&format_duration(d)), Ok(d), "{d:?}");
        }
        assert_eq!(format_duration(Duration::from_secs(5_400)), "1h30m");
        assert_eq!(format_duration(Duration::from_nanos(999)), "0s");
        for n in [0, 1, 1_000, 1_024, 2 << 30, 50_000_000_000, 1_234_567, u64::MAX] {
            assert_eq!(parse_size(&format_size(n)), Ok(n), "{n}");
        }
        assert_eq!(format_size(50_000_000_000), "50GB");
        assert_eq!(format_size(2 << 30), "2GiB");
        assert_eq!(format_size(0), "0B");
    }
}
