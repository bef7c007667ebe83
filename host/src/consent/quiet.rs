//! Quiet hours for proactive traffic, in the recipient's time zone (FACTS.md
//! §5.5): a weekly schedule of allowed windows, the federal default
//! 8:00–21:00, stricter state presets, and the next allowed instant across
//! every candidate zone (the strictest when the zone is uncertain).

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::Deserialize;

/// Minutes after local midnight, `[start, end)`, per weekday (Monday first);
/// `None` means no proactive message that day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuietHours {
    days: [Option<(u16, u16)>; 7],
    /// The preset or window this came from, for reasons in the log.
    pub name: String,
}

/// The configuration form: a preset name or a daily window.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum QuietHoursConfig {
    /// `federal`, `florida`, `texas`, …
    Preset(String),
    /// The same window every day, `"HH:MM"`.
    Window {
        /// First allowed minute.
        start: String,
        /// First minute no longer allowed.
        end: String,
    },
}

const fn hm(h: u16, m: u16) -> u16 {
    h * 60 + m
}

impl Default for QuietHours {
    fn default() -> Self {
        QuietHours::every_day("federal", hm(8, 0), hm(21, 0))
    }
}

impl QuietHours {
    fn every_day(name: &str, start: u16, end: u16) -> QuietHours {
        QuietHours { days: [Some((start, end)); 7], name: name.into() }
    }

    /// The presets: the federal window and state rules (verify with counsel).
    pub const PRESETS: &[&str] = &[
        "federal",
        "florida",
        "oklahoma",
        "maryland",
        "new-jersey",
        "mississippi",
        "connecticut",
        "kentucky",
        "texas",
        "rhode-island",
    ];

    /// A preset by name.
    pub fn preset(name: &str) -> Option<QuietHours> {
        let eight_to_eight = || QuietHours::every_day(name, hm(8, 0), hm(20, 0));
        Some(match name {
            "federal" => QuietHours::every_day(name, hm(8, 0), hm(21, 0)),
            "florida" | "oklahoma" | "maryland" | "new-jersey" => eight_to_eight(),
            "mississippi" => {
                let mut q = eight_to_eight();
                q.days[6] = None;
                q
            }
            "connecticut" => QuietHours::every_day(name, hm(9, 0), hm(20, 0)),
            "kentucky" => QuietHours::every_day(name, hm(10, 0), hm(21, 0)),
            "texas" => {
                let mut q = QuietHours::every_day(name, hm(9, 0), hm(21, 0));
                q.days[6] = Some((hm(12, 0), hm(21, 0)));
                q
            }
            "rhode-island" => {
                let mut q = QuietHours::every_day(name, hm(9, 0), hm(18, 0));
                q.days[5] = Some((hm(10, 0), hm(17, 0)));
                q.days[6] = Some((hm(10, 0), hm(17, 0)));
                q
            }
            _ => return None,
        })
    }

    /// From configuration; errors say what is wrong.
    pub fn from_config(c: &QuietHoursConfig) -> Result<QuietHours, String> {
        match c {
            QuietHoursConfig::Preset(name) => QuietHours::preset(name).ok_or_else(|| {
                format!("unknown quiet-hours preset {name:?}; known: {}", QuietHours::PRESETS.join(", "))
            }),
            QuietHoursConfig::Window { start, end } => {
                let parse = |s: &str| -> Result<u16, String> {
                    let (h, m) = s.split_once(':').ok_or_else(|| format!("{s:?} is not HH:MM"))?;
                    let (h, m): (u16, u16) = (
                        h.parse().map_err(|_| format!("{s:?} is not HH:MM"))?,
                        m.parse().map_err(|_| format!("{s:?} is not HH:MM"))?,
                    );
                    if h > 24 || m > 59 || (h == 24 && m > 0) {
                        return Err(format!("{s:?} is not a time of day"));
                    }
                    Ok(hm(h, m))
                };
                let (s, e) = (parse(start)?, parse(end)?);
                if s >= e {
                    return Err(format!("quiet-hours window {start}–{end} is empty"));
                }
                Ok(QuietHours::every_day(&format!("{start}-{end}"), s, e))
            }
        }
    }

    /// Is `at` inside the allowed window in zone `tz`?
    pub fn allows(&self, at: Timestamp, tz: &TimeZone) -> bool {
        let local = at.to_zoned_datetime(tz.clone());
        let day = local.weekday().to_monday_zero_offset() as usize;
        let minute = local.hour() as u16 * 60 + local.minute() as u16;
        self.days[day].is_some_and(|(s, e)| minute >= s && minute < e)
    }

    /// The first instant at or after `now` allowed in every zone of `zones`
    /// (all of them must allow it: the strictest reading). `None` if no such
    /// instant exists within eight days (zones too far apart for the window).
    pub fn next_allowed(&self, now: Timestamp, zones: &[TimeZone]) -> Option<Timestamp> {
        let ok = |t: Timestamp| zones.iter().all(|tz| self.allows(t, tz));
        if ok(now) {
            return Some(now);
        }
        // Every window start in every zone for the next eight days.
        let mut candidates = Vec::new();
        for tz in zones {
            let mut date = now.to_zoned_datetime(tz.clone()).date();
            for _ in 0..9 {
                let day = date.weekday().to_monday_zero_offset() as usize;
                if let Some((start, _)) = self.days[day]
                    && let Ok(zoned) =
                        date.at((start / 60) as i8, (start % 60) as i8, 0, 0).to_zoned_datetime(tz.clone())
                {
                    let t = zoned.timestamp();
                    if t > now {
                        candidates.push(t);
                    }
                }
                match date.tomorrow() {
                    Ok(next) => date = next,
                    Err(_) => break,
                }
            }
        }
        candidates.sort();
        candidates.into_iter().find(|t| ok(*t))
    }
}

/// The zones a US recipient of unknown location may be in (continental,
/// Alaska, Hawaii), for the strictest reading.
pub fn us_candidate_zones() -> Vec<TimeZone> {
    [
        "America/New_York",
        "America/Chicago",
        "America/Denver",
        "America/Los_Angeles",
        "America/Anchorage",
        "Pacific/Honolulu",
    ]
    .iter()
    .filter_map(|z| TimeZone::get(z).ok())
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str, tz: &str) -> Timestamp {
        let dt: jiff::civil::DateTime = s.parse().unwrap();
        dt.to_zoned_datetime(TimeZone::get(tz).unwrap()).unwrap().timestamp()
    }

    #[test]
    fn late_evening_defers_to_eight_in_the_morning() {
        let ny = TimeZone::get("America/New_York").unwrap();
        let q = QuietHours::default();
        let late = at("2026-11-27T23:00:00", "America/New_York");
        assert!(!q.allows(late, &ny));
        assert_eq!(
            q.next_allowed(late, std::slice::from_ref(&ny)),
            Some(at("2026-11-28T08:00:00", "America/New_York"))
        );
        let noon = at("2026-11-27T12:00:00", "America/New_York");
        assert_eq!(q.next_allowed(noon, std::slice::from_ref(&ny)), Some(noon));
        assert!(!q.allows(at("2026-11-27T21:00:00", "America/New_York"), &ny), "the end is exclusive");
    }

    #[test]
    fn presets_and_windows() {
        let ny = TimeZone::get("America/New_York").unwrap();
        let fl = QuietHours::preset("florida").unwrap();
        assert!(!fl.allows(at("2026-11-27T20:30:00", "America/New_York"), &ny));
        // Texas: Sunday from noon. 2026-11-29 is a Sunday.
        let tx = QuietHours::preset("texas").unwrap();
        let sunday = at("2026-11-29T10:00:00", "America/New_York");
        assert_eq!(
            tx.next_allowed(sunday, std::slice::from_ref(&ny)),
            Some(at("2026-11-29T12:00:00", "America/New_York"))
        );
        // Mississippi: none on Sunday; Saturday 21:00 waits until Monday 8:00.
        let ms = QuietHours::preset("mississippi").unwrap();
        let saturday = at("2026-11-28T21:00:00", "America/New_York");
        assert_eq!(
            ms.next_allowed(saturday, std::slice::from_ref(&ny)),
            Some(at("2026-11-30T08:00:00", "America/New_York"))
        );
        let w =
            QuietHours::from_config(&QuietHoursConfig::Window { start: "09:30".into(), end: "17:00".into() }).unwrap();
        assert!(w.allows(at("2026-11-27T09:30:00", "America/New_York"), &ny));
        assert!(QuietHours::from_config(&QuietHoursConfig::Preset("mars".into())).unwrap_err().contains("known:"));
        assert!(
            QuietHours::from_config(&QuietHoursConfig::Window { start: "21:00".into(), end: "08:00".into() }).is_err()
        );
    }

    #[test]
    fn uncertain_zones_take_the_strictest_window() {
        // 8:00 in New York is 5:00 in Los Angeles: wait for 8:00 there.
        let zones = [TimeZone::get("America/New_York").unwrap(), TimeZone::get("America/Los_Angeles").unwrap()];
        let q = QuietHours::default();
        let early = at("2026-11-27T07:00:00", "America/New_York");
        assert_eq!(q.next_allowed(early, &zones), Some(at("2026-11-27T08:00:00", "America/Los_Angeles")));
        assert_eq!(us_candidate_zones().len(), 6);
    }
}
