//! Compiled schedules: is a rule in force at an instant?

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;

use crate::rule::{DateRange, Schedule, Window};

const WEEK_MINUTES: u32 = 7 * 1440;

/// A schedule with its time zone loaded and its dates parsed.
#[derive(Debug, Clone)]
pub(crate) struct CompiledSchedule {
    tz: TimeZone,
    windows: Vec<Window>,
    dates: Vec<(Date, Date)>,
    except: Vec<(Date, Date)>,
}

/// Parses date ranges; errors name the index and the problem.
fn ranges(list: &[DateRange], field: &str) -> Result<Vec<(Date, Date)>, (String, String)> {
    list.iter()
        .enumerate()
        .map(|(i, r)| {
            let parse = |s: &str, which: &str| {
                s.trim().parse::<Date>().map_err(|e| {
                    (
                        format!("{field} {}.{which}", i + 1),
                        format!("invalid date {s:?}: {e}"),
                    )
                })
            };
            let (from, to) = (parse(&r.from, "from")?, parse(&r.to, "to")?);
            if to < from {
                return Err((
                    format!("{field} {}", i + 1),
                    format!("ends ({to}) before it starts ({from})"),
                ));
            }
            Ok((from, to))
        })
        .collect()
}

impl CompiledSchedule {
    /// Compiles `schedule`, using `default_tz` when it names none.
    ///
    /// # Errors
    /// `(field, message)` for an unknown time zone, a bad window or date.
    pub(crate) fn compile(schedule: &Schedule, default_tz: &str) -> Result<Self, (String, String)> {
        let name = schedule.timezone.as_deref().unwrap_or(default_tz);
        let tz = TimeZone::get(name).map_err(|e| {
            (
                "schedule.timezone".to_owned(),
                format!("unknown time zone {name:?}: {e}"),
            )
        })?;
        for (i, w) in schedule.windows.iter().enumerate() {
            if w.days == 0 || w.days > 0x7f {
                return Err((
                    format!("schedule.window {}.days", i + 1),
                    "no valid day".to_owned(),
                ));
            }
            if w.start >= 1440 || w.end > 1440 || w.end == 0 && w.start == 0 {
                return Err((
                    format!("schedule.window {}", i + 1),
                    "times must be 00:00 to 24:00".to_owned(),
                ));
            }
            if w.start == w.end {
                return Err((
                    format!("schedule.window {}", i + 1),
                    "opens and closes at the same time".to_owned(),
                ));
            }
        }
        Ok(Self {
            tz,
            windows: schedule.windows.clone(),
            dates: ranges(&schedule.dates, "schedule.dates")?,
            except: ranges(&schedule.except, "schedule.except")?,
        })
    }

    /// Whether the schedule is open at `at`.
    pub(crate) fn is_open(&self, at: Timestamp) -> bool {
        let local = at.to_zoned_datetime(self.tz.clone());
        let date = local.date();
        let within =
            |list: &[(Date, Date)]| list.iter().any(|(from, to)| *from <= date && date <= *to);
        if !self.dates.is_empty() && !within(&self.dates) {
            return false;
        }
        if within(&self.except) {
            return false;
        }
        if self.windows.is_empty() {
            return true;
        }
        let day = u32::try_from(local.weekday().to_monday_zero_offset()).unwrap_or(0);
        let minute =
            u16::try_from(i32::from(local.hour()) * 60 + i32::from(local.minute())).unwrap_or(0);
        let yesterday = (day + 6) % 7;
        self.windows.iter().any(|w| {
            let opens = |d: u32| w.days & (1 << d) != 0;
            if w.start < w.end {
                opens(day) && w.start <= minute && minute < w.end
            } else {
                // Overnight: from `start` today, or until `end` after yesterday's opening.
                (opens(day) && minute >= w.start) || (opens(yesterday) && minute < w.end)
            }
        })
    }

    /// The open intervals over a week, in minutes from Monday 00:00 (for overlap checks).
    pub(crate) fn week_intervals(&self) -> Vec<(u32, u32)> {
        if self.windows.is_empty() {
            return vec![(0, WEEK_MINUTES)];
        }
        let mut out = Vec::new();
        for w in &self.windows {
            for d in 0..7u32 {
                if w.days & (1 << d) == 0 {
                    continue;
                }
                let start = d * 1440 + u32::from(w.start);
                let end = if w.start < w.end {
                    d * 1440 + u32::from(w.end)
                } else {
                    (d + 1) * 1440 + u32::from(w.end)
                };
                if end <= WEEK_MINUTES {
                    out.push((start, end));
                } else {
                    out.push((start, WEEK_MINUTES));
                    out.push((0, end - WEEK_MINUTES));
                }
            }
        }
        out
    }
}

/// The most intervals (of different owners) open at one instant: `(owner, start, end)`.
pub(crate) fn max_overlap(intervals: &[(usize, u32, u32)]) -> usize {
    let mut edges: Vec<(u32, i32)> = Vec::with_capacity(intervals.len() * 2);
    for &(_, s, e) in intervals {
        edges.push((s, 1));
        edges.push((e, -1));
    }
    // Closings before openings at the same minute: [9:00, 12:00) and [12:00, …) do not overlap.
    edges.sort_unstable();
    let (mut open, mut most) = (0i32, 0i32);
    for (_, delta) in edges {
        open += delta;
        most = most.max(open);
    }
    usize::try_from(most).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rule::Schedule;

    fn at(s: &str) -> Timestamp {
        s.parse().expect("timestamp")
    }

    #[test]
    fn shanghai_working_hours() {
        let s = CompiledSchedule::compile(
            &Schedule::weekly(&[("mon-fri", "09:00", "18:00")]).expect("ok"),
            "Asia/Shanghai",
        )
        .expect("compiles");
        // 2024-11-15 is a Friday. 01:00Z = 09:00 Shanghai.
        assert!(s.is_open(at("2024-11-15T01:00:00Z")));
        assert!(!s.is_open(at("2024-11-15T00:59:59Z")));
        assert!(s.is_open(at("2024-11-15T09:59:59Z")));
        assert!(!s.is_open(at("2024-11-15T10:00:00Z")));
        assert!(!s.is_open(at("2024-11-16T02:00:00Z"))); // Saturday
    }

    #[test]
    fn overnight_and_dates() {
        let mut sched = Schedule::weekly(&[("fri", "22:00", "02:00")]).expect("ok");
        sched.except.push(DateRange {
            from: "2024-11-22".into(),
            to: "2024-11-22".into(),
        });
        let s = CompiledSchedule::compile(&sched, "UTC").expect("compiles");
        assert!(s.is_open(at("2024-11-15T23:00:00Z"))); // Friday night
        assert!(s.is_open(at("2024-11-16T01:59:00Z"))); // Saturday early
        assert!(!s.is_open(at("2024-11-16T02:00:00Z")));
        assert!(!s.is_open(at("2024-11-14T23:00:00Z"))); // Thursday
        assert!(!s.is_open(at("2024-11-22T23:00:00Z"))); // excepted Friday
        assert_eq!(s.week_intervals(), [(4 * 1440 + 1320, 5 * 1440 + 120)]);
    }

    #[test]
    fn a_zone_with_dst() {
        // New York, 09:00–17:00 local: 14:00Z in winter (EST), 13:00Z in summer (EDT).
        let s = CompiledSchedule::compile(
            &Schedule::weekly(&[("mon-fri", "09:00", "17:00")]).expect("ok"),
            "America/New_York",
        )
        .expect("compiles");
        assert!(s.is_open(at("2024-01-10T14:00:00Z")));
        assert!(!s.is_open(at("2024-01-10T13:30:00Z")));
        assert!(s.is_open(at("2024-07-10T13:30:00Z")));
        assert!(!s.is_open(at("2024-07-10T21:30:00Z")));
        // The Monday after the spring change (2024-03-10).
        assert!(s.is_open(at("2024-03-11T13:00:00Z")));
    }

    #[test]
    fn bad_definitions() {
        let bad_tz = Schedule::weekly(&[("mon", "09:00", "10:00")])
            .expect("ok")
            .in_timezone("Mars/Olympus");
        assert_eq!(
            CompiledSchedule::compile(&bad_tz, "UTC").err().map(|e| e.0),
            Some("schedule.timezone".into())
        );
        let same = Schedule::weekly(&[("mon", "09:00", "09:00")]).expect("ok");
        assert!(CompiledSchedule::compile(&same, "UTC").is_err());
        let mut backwards = Schedule::default();
        backwards.dates.push(DateRange {
            from: "2024-02-01".into(),
            to: "2024-01-01".into(),
        });
        assert_eq!(
            CompiledSchedule::compile(&backwards, "UTC")
                .err()
                .map(|e| e.0),
            Some("schedule.dates 1".into())
        );
    }

    #[test]
    fn overlap_counts() {
        assert_eq!(max_overlap(&[(0, 0, 10), (1, 5, 15), (2, 10, 20)]), 2);
        assert_eq!(max_overlap(&[(0, 0, 10), (1, 10, 20)]), 1);
        assert_eq!(max_overlap(&[]), 0);
    }
}
