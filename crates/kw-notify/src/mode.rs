//! Arm and disarm: the [`Mode`] and weekly [`Schedule`]s, and the one rule that combines them.
//!
//! # The rule
//!
//! | mode   | motion and camera-motion alerts                         | camera-offline, storage |
//! |--------|---------------------------------------------------------|-------------------------|
//! | `away` | sent                                                    | sent                    |
//! | `home` | sent only while a schedule window is armed (none: never)| sent                    |
//! | `off`  | never sent                                              | sent                    |
//!
//! "Sent" still passes each notifier's `cameras`/`events` filters and cooldown. Health alerts are never
//! suppressed by the mode: a camera that goes dark matters most when nobody watches. The mode does not
//! stop recording or motion detection (those have their own switches), and it does not touch the MQTT
//! state mirror: Home Assistant always sees motion `ON`/`OFF` (its own automations, such as lights, want
//! motion whatever the alarm state) and sees the mode itself as a `select` entity to build on.
//!
//! A schedule arms `home` mode for time windows per weekday (for example the night); it has no effect in
//! `away` (already armed) or `off` (disarmed by hand wins). The config has no key for schedules yet, so the
//! host sets one with [`crate::Alerts::set_schedule`], typically parsed with [`Schedule::parse`]:
//! `"mon-fri 22:00-06:30; sat,sun 00:00-24:00"`. A window whose end is before its start runs past midnight
//! into the next day (`mon 22:00-06:30` covers Monday night to Tuesday morning). Windows are in the
//! configured time zone (`[server] timezone`, else the system's).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{NotifyError, Result};

/// The alert mode: `home`, `away` or `off`. Persisted in the database; survives restarts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// People are home: motion alerts only inside armed schedule windows.
    Home,
    /// Nobody home: every alert goes out. The default, so a fresh install alerts.
    #[default]
    Away,
    /// Disarmed: no motion alerts at all.
    Off,
}

impl Mode {
    /// All modes.
    pub const ALL: [Mode; 3] = [Mode::Home, Mode::Away, Mode::Off];

    /// `home`, `away` or `off`.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Home => "home",
            Mode::Away => "away",
            Mode::Off => "off",
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Mode, String> {
        let t = s.trim();
        Mode::ALL
            .into_iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(t))
            .ok_or_else(|| format!("expected one of home, away, off, found {s:?}"))
    }
}

/// Whether motion alerts go out now, given the mode and (for `home`) whether a schedule window is armed.
pub fn motion_armed(mode: Mode, schedule_armed: bool) -> bool {
    match mode {
        Mode::Away => true,
        Mode::Home => schedule_armed,
        Mode::Off => false,
    }
}

/// One armed window (the syntax and type live in kw-config, which validates `[alerts] schedule`).
pub use kw_config::ScheduleWindow as Window;

/// Weekly armed windows for `home` mode.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Schedule {
    /// The windows; armed when any contains the time.
    pub windows: Vec<Window>,
}

impl Schedule {
    /// Parses `"mon-fri 22:00-06:30; sat,sun 00:00-24:00"`: `;`-separated windows, each a day list
    /// (`mon`..`sun`, ranges `mon-fri`, `daily`) and `HH:MM-HH:MM`.
    pub fn parse(spec: &str) -> Result<Schedule> {
        kw_config::parse_schedule(spec)
            .map(|windows| Schedule { windows })
            .map_err(|message| NotifyError::Schedule { spec: spec.to_string(), message })
    }

    /// Whether `weekday` (0 = Monday) at `minute` after midnight is inside a window.
    pub fn contains(&self, weekday: usize, minute: u16) -> bool {
        let yesterday = (weekday + 6) % 7;
        self.windows.iter().any(|w| {
            if w.start < w.end {
                w.days.get(weekday).copied().unwrap_or(false) && minute >= w.start && minute < w.end
            } else {
                (w.days.get(weekday).copied().unwrap_or(false) && minute >= w.start)
                    || (w.days[yesterday] && minute < w.end)
            }
        })
    }

    /// Whether the instant `us` (µs since the epoch) is inside a window, in time zone `tz`.
    pub fn contains_instant(&self, us: i64, tz: &jiff::tz::TimeZone) -> bool {
        let Ok(ts) = jiff::Timestamp::from_microsecond(us) else { return false };
        let local = ts.to_zoned(tz.clone());
        let weekday = usize::from(local.weekday().to_monday_zero_offset().unsigned_abs());
        let minute = u16::try_from(i32::from(local.hour()) * 60 + i32::from(local.minute())).unwrap_or(0);
        self.contains(weekday, minute)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes() {
        assert_eq!("Away".parse::<Mode>(), Ok(Mode::Away));
        assert!("armed".parse::<Mode>().is_err());
        assert!(motion_armed(Mode::Away, false));
        assert!(!motion_armed(Mode::Home, false) && motion_armed(Mode::Home, true));
        assert!(!motion_armed(Mode::Off, true));
    }

    #[test]
    fn schedule_windows() {
        let s = Schedule::parse("mon-fri 22:00-06:30; sat,sun 00:00-24:00").unwrap();
        assert!(s.contains(0, 22 * 60)); // Monday 22:00
        assert!(s.contains(1, 6 * 60 + 29)); // Tuesday morning, from Monday's window
        assert!(!s.contains(1, 6 * 60 + 30));
        assert!(!s.contains(0, 6 * 60)); // Monday morning: Sunday's window is 00:00-24:00, ends at midnight
        assert!(s.contains(5, 12 * 60) && s.contains(6, 23 * 60 + 59));
        assert!(s.contains(5, 3 * 60)); // Saturday early: both Friday's night window and Saturday's
        assert!(!s.contains(2, 12 * 60));
        let wrap = Schedule::parse("fri-mon 08:00-09:00").unwrap();
        assert_eq!(wrap.windows[0].days, [true, false, false, false, true, true, true]);
        assert!(Schedule::parse("daily 10:00-10:00").is_err());
        assert!(Schedule::parse("someday 10:00-11:00").is_err());
        assert!(Schedule::parse("mon 25:00-26:00").is_err());
        assert!(Schedule::parse("mon").is_err());
        assert_eq!(Schedule::parse("").unwrap(), Schedule::default());
    }

    #[test]
    fn schedule_in_time_zone() {
        let s = Schedule::parse("wed 10:00-11:00").unwrap();
        let utc = jiff::tz::TimeZone::UTC;
        // 2026-11-25 is a Wednesday; 10:00 UTC.
        let t = 1_795_600_800_000_000;
        assert!(s.contains_instant(t, &utc));
        let berlin = jiff::tz::TimeZone::get("Europe/Berlin").unwrap();
        assert!(!s.contains_instant(t, &berlin)); // 11:00 in Berlin
        assert!(s.contains_instant(t - 3_600_000_000, &berlin));
    }
}
