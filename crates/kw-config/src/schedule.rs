//! Weekly time windows, as written in `[alerts] schedule`: `"mon-fri 22:00-06:30; sat,sun 00:00-24:00"`.
//!
//! The syntax lives here so the config can be refused with file, line and key when a window is wrong;
//! the alerts engine (kw-notify) evaluates the parsed windows.

/// Day names, Monday first.
const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const DAY_MINUTES: u16 = 24 * 60;

/// One window: on the given weekdays from `start` to `end` (minutes after midnight).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    /// Monday first.
    pub days: [bool; 7],
    /// 0..1440.
    pub start: u16,
    /// 1..=1440; before `start` means the window ends on the next day.
    pub end: u16,
}

/// Parses `;`-separated windows, each a day list (`mon`..`sun`, ranges `mon-fri`, `daily`) and
/// `HH:MM-HH:MM`. The error says what is wrong, for a message that names the key.
pub fn parse_schedule(spec: &str) -> Result<Vec<Window>, String> {
    let mut windows = Vec::new();
    for part in spec.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let (days, times) =
            part.split_once(char::is_whitespace).ok_or_else(|| format!("{part:?}: expected DAYS HH:MM-HH:MM"))?;
        let days = parse_days(days.trim())?;
        let (start, end) = times.trim().split_once('-').ok_or_else(|| format!("{times:?}: expected HH:MM-HH:MM"))?;
        let (start, end) = (parse_hm(start)?, parse_hm(end)?);
        if start == end || start >= DAY_MINUTES {
            return Err(format!("{times:?}: empty window"));
        }
        windows.push(Window { days, start, end });
    }
    Ok(windows)
}

fn parse_days(text: &str) -> Result<[bool; 7], String> {
    let mut days = [false; 7];
    for item in text.split(',').map(str::trim) {
        let day = |d: &str| {
            DAYS.iter().position(|n| n.eq_ignore_ascii_case(d)).ok_or_else(|| format!("unknown day {d:?} (mon..sun)"))
        };
        if item.eq_ignore_ascii_case("daily") {
            days = [true; 7];
        } else if let Some((a, b)) = item.split_once('-') {
            let (a, b) = (day(a.trim())?, day(b.trim())?);
            let mut i = a;
            loop {
                days[i] = true;
                if i == b {
                    break;
                }
                i = (i + 1) % 7;
            }
        } else {
            days[day(item)?] = true;
        }
    }
    Ok(days)
}

fn parse_hm(text: &str) -> Result<u16, String> {
    let t = text.trim();
    let bad = || format!("{t:?}: expected HH:MM");
    let (h, m) = t.split_once(':').ok_or_else(bad)?;
    let (h, m): (u16, u16) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if m >= 60 || h > 24 || (h == 24 && m != 0) {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows() {
        let w = parse_schedule("mon-fri 22:00-06:30; sat,sun 00:00-24:00").unwrap();
        assert_eq!(w.len(), 2);
        assert_eq!(w[0].days, [true, true, true, true, true, false, false]);
        assert_eq!((w[0].start, w[0].end), (22 * 60, 6 * 60 + 30));
        assert_eq!(
            parse_schedule("fri-mon 08:00-09:00").unwrap()[0].days,
            [true, false, false, false, true, true, true]
        );
        assert!(parse_schedule("").unwrap().is_empty());
        for bad in ["monday 08:00-09:00", "mon 8-9", "mon 08:00-08:00", "mon 25:00-26:00", "mon"] {
            assert!(parse_schedule(bad).is_err(), "{bad}");
        }
    }
}
