//! Business hours and SLA due times: a weekly schedule in the tenant's time
//! zone, less the tenant's holidays; "N business minutes after t" counts only
//! minutes inside it.

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;

/// Open windows per weekday (Monday first), minutes after local midnight,
/// `[start, end)`, sorted and not overlapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusinessHours {
    days: [Vec<(u16, u16)>; 7],
    /// Whole days closed whatever the weekly schedule says.
    holidays: std::collections::BTreeSet<Date>,
    tz: TimeZone,
    /// How the schedule was written, for messages.
    pub text: String,
}

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// The default schedule: Monday to Friday, 09:00–17:00.
pub const DEFAULT_HOURS: &str = "mon-fri 09:00-17:00";

impl BusinessHours {
    /// Parse lines like `"mon-fri 09:00-17:00"`, `"sat 10:00-14:00"` or
    /// `"24/7"`, in the IANA zone `tz`. Errors say what is wrong.
    pub fn parse(lines: &[String], tz: &str) -> Result<BusinessHours, String> {
        let zone = TimeZone::get(tz).map_err(|_| format!("unknown time zone {tz:?}"))?;
        let mut days: [Vec<(u16, u16)>; 7] = Default::default();
        for line in lines {
            let line = line.trim().to_ascii_lowercase();
            if line == "24/7" {
                for d in days.iter_mut() {
                    d.push((0, 24 * 60));
                }
                continue;
            }
            let (which, window) = line
                .split_once(' ')
                .ok_or_else(|| format!("business hours {line:?}: expected \"mon-fri 09:00-17:00\""))?;
            let day = |s: &str| {
                DAYS.iter().position(|d| *d == s).ok_or_else(|| format!("business hours {line:?}: unknown day {s:?}"))
            };
            let (first, last) = match which.split_once('-') {
                Some((a, b)) => (day(a)?, day(b)?),
                None => (day(which)?, day(which)?),
            };
            if first > last {
                return Err(format!("business hours {line:?}: days must run Monday to Sunday"));
            }
            let (start, end) = window
                .trim()
                .split_once('-')
                .ok_or_else(|| format!("business hours {line:?}: expected a window like 09:00-17:00"))?;
            let (start, end) = (minute_of_day(start, &line)?, minute_of_day(end, &line)?);
            if start >= end {
                return Err(format!("business hours {line:?}: the window is empty"));
            }
            for d in &mut days[first..=last] {
                d.push((start, end));
            }
        }
        for d in days.iter_mut() {
            d.sort();
            if d.windows(2).any(|w| w[0].1 > w[1].0) {
                return Err("business hours: windows of one day overlap".into());
            }
        }
        if days.iter().all(Vec::is_empty) {
            return Err("business hours: no open window in the week".into());
        }
        Ok(BusinessHours { days, holidays: Default::default(), tz: zone, text: lines.join(", ") })
    }

    /// Close these whole days (local dates): `"2026-12-25"`, optionally
    /// followed by a name (`"2026-12-25 Christmas Day"`). At most 366.
    pub fn with_holidays(mut self, lines: &[String]) -> Result<BusinessHours, String> {
        if lines.len() > 366 {
            return Err(format!("holidays: {} listed; at most 366", lines.len()));
        }
        for line in lines {
            let date = line.split_whitespace().next().unwrap_or_default();
            let date: Date =
                date.parse().map_err(|_| format!("holidays: {line:?} does not start with a date like 2026-12-25"))?;
            self.holidays.insert(date);
        }
        Ok(self)
    }

    /// When the team is back, for a customer: `"Monday at 09:00"` within
    /// the coming week, with the date when further (`"Monday 4 January at 09:00"`).
    pub fn describe(&self, now: Timestamp, back: Timestamp) -> String {
        let local = back.to_zoned_datetime(self.tz.clone());
        let far = back.duration_since(now) >= jiff::SignedDuration::from_hours(6 * 24);
        let format = if far { "%A %-d %B at %H:%M" } else { "%A at %H:%M" };
        local.strftime(format).to_string()
    }

    /// The open windows of `date`, as instants.
    fn windows(&self, date: Date) -> Vec<(Timestamp, Timestamp)> {
        if self.holidays.contains(&date) {
            return Vec::new();
        }
        let day = date.weekday().to_monday_zero_offset() as usize;
        self.days[day].iter().filter_map(|(s, e)| Some((self.instant(date, *s)?, self.instant(date, *e)?))).collect()
    }

    fn instant(&self, date: Date, minute: u16) -> Option<Timestamp> {
        if minute >= 24 * 60 {
            let next = date.tomorrow().ok()?;
            return next.at(0, 0, 0, 0).to_zoned_datetime(self.tz.clone()).ok().map(|z| z.timestamp());
        }
        date.at((minute / 60) as i8, (minute % 60) as i8, 0, 0)
            .to_zoned_datetime(self.tz.clone())
            .ok()
            .map(|z| z.timestamp())
    }

    /// Is the team at work at `t`?
    pub fn is_open(&self, t: Timestamp) -> bool {
        let date = t.to_zoned_datetime(self.tz.clone()).date();
        self.windows(date).iter().any(|(s, e)| t >= *s && t < *e)
    }

    /// The first open instant at or after `t` (`t` itself when open).
    pub fn next_open(&self, t: Timestamp) -> Timestamp {
        self.add_business(t, 0)
    }

    /// `t` plus `minutes` of business time: the clock only runs inside the
    /// open windows. With `minutes == 0`, the first open instant at or after `t`.
    pub fn add_business(&self, t: Timestamp, minutes: i64) -> Timestamp {
        let mut remaining = jiff::SignedDuration::from_mins(minutes.max(0));
        let mut date = t.to_zoned_datetime(self.tz.clone()).date();
        // A week always has an open window (checked at parse), so this ends;
        // the bound guards against a calendar that runs out.
        for _ in 0..(7 * 60 + minutes / 60 + 8 + self.holidays.len() as i64) {
            for (start, end) in self.windows(date) {
                if end <= t {
                    continue;
                }
                let from = start.max(t);
                let available = end.duration_since(from);
                if remaining <= available {
                    return from.checked_add(remaining).unwrap_or(from);
                }
                remaining -= available;
            }
            match date.tomorrow() {
                Ok(next) => date = next,
                Err(_) => break,
            }
        }
        t
    }

    /// The time zone.
    pub fn time_zone(&self) -> &TimeZone {
        &self.tz
    }
}

fn minute_of_day(s: &str, line: &str) -> Result<u16, String> {
    let bad = || format!("business hours {line:?}: {s:?} is not HH:MM");
    let (h, m) = s.trim().split_once(':').ok_or_else(bad)?;
    let (h, m): (u16, u16) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if h > 24 || m > 59 || (h == 24 && m > 0) {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        let dt: jiff::civil::DateTime = s.parse().unwrap();
        dt.to_zoned_datetime(TimeZone::get("America/New_York").unwrap()).unwrap().timestamp()
    }

    fn hours(lines: &[&str]) -> BusinessHours {
        BusinessHours::parse(&lines.iter().map(|s| s.to_string()).collect::<Vec<_>>(), "America/New_York").unwrap()
    }

    #[test]
    fn minutes_count_only_inside_open_windows() {
        let h = hours(&[DEFAULT_HOURS]);
        // Friday 16:30 + 60 business minutes = Monday 09:30 (2026-11-27 is a Friday).
        assert_eq!(h.add_business(at("2026-11-27T16:30:00"), 60), at("2026-11-30T09:30:00"));
        // Saturday night + 30 = Monday 09:30.
        assert_eq!(h.add_business(at("2026-11-28T23:00:00"), 30), at("2026-11-30T09:30:00"));
        // Inside a window.
        assert_eq!(h.add_business(at("2026-11-30T10:00:00"), 90), at("2026-11-30T11:30:00"));
        // Exactly filling the rest of a day ends at its close.
        assert_eq!(h.add_business(at("2026-11-30T16:00:00"), 60), at("2026-11-30T17:00:00"));
        // Two business days.
        assert_eq!(h.add_business(at("2026-11-30T09:00:00"), 16 * 60), at("2026-12-01T17:00:00"));
        assert!(!h.is_open(at("2026-11-28T12:00:00")));
        assert!(h.is_open(at("2026-11-30T09:00:00")));
        assert!(!h.is_open(at("2026-11-30T17:00:00")), "the end is exclusive");
        assert_eq!(h.next_open(at("2026-11-27T18:00:00")), at("2026-11-30T09:00:00"));
        assert_eq!(h.next_open(at("2026-11-30T12:00:00")), at("2026-11-30T12:00:00"));
    }

    #[test]
    fn split_days_weekends_and_daylight_saving() {
        let h = hours(&["mon-fri 09:00-12:00", "mon-fri 13:00-17:00", "sat 10:00-14:00"]);
        // Lunch is not counted.
        assert_eq!(h.add_business(at("2026-11-30T11:30:00"), 60), at("2026-11-30T13:30:00"));
        // Friday 16:00 + 120 = Saturday 11:00.
        assert_eq!(h.add_business(at("2026-11-27T16:00:00"), 120), at("2026-11-28T11:00:00"));
        // 2026-03-08 is the US spring-forward Sunday: Friday 16:00 + 120 with a
        // weekday schedule is Monday 10:00 local, whatever the offset did.
        let w = hours(&[DEFAULT_HOURS]);
        assert_eq!(w.add_business(at("2026-03-06T16:00:00"), 120), at("2026-03-09T10:00:00"));
        let all = hours(&["24/7"]);
        assert_eq!(all.add_business(at("2026-11-28T23:30:00"), 60), at("2026-11-29T00:30:00"));
    }

    #[test]
    fn holidays_are_closed_all_day() {
        // 2026-12-25 is a Friday; the office also closes 28 Dec – 1 Jan.
        let mut lines = vec!["2026-12-25 Christmas Day".to_string()];
        lines.extend(["2026-12-28", "2026-12-29", "2026-12-30", "2026-12-31", "2027-01-01"].map(String::from));
        let h = hours(&[DEFAULT_HOURS]).with_holidays(&lines).unwrap();
        assert!(!h.is_open(at("2026-12-25T10:00:00")));
        assert!(h.is_open(at("2026-12-24T10:00:00")));
        // Thursday 16:30 + 60 business minutes: 30 that day, the rest after the break.
        assert_eq!(h.add_business(at("2026-12-24T16:30:00"), 60), at("2027-01-04T09:30:00"));
        let back = h.next_open(at("2026-12-24T18:00:00"));
        assert_eq!(back, at("2027-01-04T09:00:00"));
        // Far away: the date is named; within the week, the day is enough.
        assert_eq!(h.describe(at("2026-12-24T18:00:00"), back), "Monday 4 January at 09:00");
        let friday = at("2026-11-27T18:00:00");
        assert_eq!(h.describe(friday, h.next_open(friday)), "Monday at 09:00");
        let bad = hours(&[DEFAULT_HOURS]).with_holidays(&["25/12/2026".to_string()]).unwrap_err();
        assert!(bad.contains("2026-12-25"), "{bad}");
    }

    #[test]
    fn bad_schedules_say_why() {
        let bad = |l: &str| BusinessHours::parse(&[l.to_string()], "America/New_York").unwrap_err();
        assert!(bad("mon-fri").contains("expected"));
        assert!(bad("mon-fry 09:00-17:00").contains("unknown day"));
        assert!(bad("mon-fri 17:00-09:00").contains("empty"));
        assert!(bad("fri-mon 09:00-17:00").contains("Monday to Sunday"));
        assert!(bad("mon 9h-17h").contains("HH:MM"));
        assert!(BusinessHours::parse(&[], "America/New_York").unwrap_err().contains("no open window"));
        assert!(BusinessHours::parse(&["24/7".into()], "Mars/Base").unwrap_err().contains("time zone"));
    }
}
