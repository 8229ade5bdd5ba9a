//! Time limits and the working calendar: when a case is due, and how late it is.
//!
//! The 数字城管 standards give per-category handling limits in hours, working hours or
//! working days. A limit is an ISO-8601 duration ([`IsoDuration`], `PT2H`, `P1D`, `PT5S`)
//! read in a [`CalendarMode`]; the [`WorkingCalendar`] (working weekdays, daily working
//! hours, public holidays and the swapped working days of 调休) turns it into a deadline in
//! the deployment's time zone, a fixed UTC offset (+08:00 by default: China has one time
//! zone and no daylight saving time, so no tz database is needed).

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use chrono::{
    DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, Utc, Weekday,
};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum CalendarError {
    /// Not an ISO-8601 duration of the supported form.
    #[error("{0:?} is not an ISO-8601 duration such as PT2H, PT30M, PT5S, P1D or P1DT4H")]
    NotADuration(String),
    /// Years and months have no fixed length.
    #[error("{0:?} uses years or months, which have no fixed length; give days instead")]
    YearsOrMonths(String),
    /// Fractions such as `PT1.5H` are not accepted; use a smaller unit.
    #[error("{0:?} has a fraction; use a smaller unit instead (PT90M, not PT1.5H)")]
    Fraction(String),
    /// A time limit of zero.
    #[error("{0:?} is zero; a time limit must be positive")]
    Zero(String),
    /// Longer than [`IsoDuration::MAX_DAYS`].
    #[error("{0:?} is longer than {max} days", max = IsoDuration::MAX_DAYS)]
    TooLong(String),
    /// A bad `utc_offset`, weekday, time range or date in a calendar configuration.
    #[error("calendar setting {0:?} is not valid: {1}")]
    BadSetting(String, &'static str),
    /// A calendar with no working time would never reach a working-time deadline.
    #[error("a working calendar needs at least one working weekday and one working period")]
    NoWorkingTime,
    /// Working periods must not overlap.
    #[error("working periods {0} and {1} overlap")]
    Overlap(String, String),
    /// A date listed both as a holiday and as an extra working day.
    #[error("{0} is listed both as a holiday and as an extra working day")]
    HolidayAndWorkingDay(NaiveDate),
    /// A holiday or extra working day outside the period the calendar says it covers.
    #[error("{0} lies outside the period the calendar covers ({1})")]
    OutsideCoverage(NaiveDate, String),
}

/// A positive ISO-8601 duration of days (weeks count as 7 days) and a time part, e.g.
/// `PT2H`, `PT5S`, `P1D`, `P1DT4H`. The day part and the time part are kept apart because
/// in [`CalendarMode::WorkingDays`] a day is a working day, not 24 hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct IsoDuration {
    days: u32,
    seconds: u64,
}

impl IsoDuration {
    /// Ten years: far longer than any handling limit, small enough that nothing overflows.
    pub const MAX_DAYS: u64 = 3660;

    /// Parses the ISO 8601-1:2019 §5.5.2.4 duration format `PnW`, `PnD`, `PTnHnMnS` and
    /// combinations `PnDTnHnMnS`, with integer values. Years and months are refused
    /// (their length varies), as are fractions, signs and zero.
    pub fn parse(s: &str) -> Result<Self, CalendarError> {
        let bad = || CalendarError::NotADuration(s.to_owned());
        let rest = s.strip_prefix('P').ok_or_else(bad)?;
        let (date_part, time_part) = match rest.split_once('T') {
            Some((d, t)) if !t.is_empty() => (d, Some(t)),
            Some(_) => return Err(bad()),
            None => (rest, None),
        };
        if date_part.is_empty() && time_part.is_none() {
            return Err(bad());
        }
        let mut days: u64 = 0;
        for (n, unit) in components(s, date_part, &['Y', 'M', 'W', 'D'])? {
            match unit {
                'Y' | 'M' => return Err(CalendarError::YearsOrMonths(s.to_owned())),
                'W' => days = days.saturating_add(n.saturating_mul(7)),
                _ => days = days.saturating_add(n),
            }
        }
        let mut seconds: u64 = 0;
        for (n, unit) in components(s, time_part.unwrap_or(""), &['H', 'M', 'S'])? {
            let per = match unit {
                'H' => 3600,
                'M' => 60,
                _ => 1,
            };
            seconds = seconds.saturating_add(n.saturating_mul(per));
        }
        if days == 0 && seconds == 0 {
            return Err(CalendarError::Zero(s.to_owned()));
        }
        if days.saturating_add(seconds / 86_400) > Self::MAX_DAYS {
            return Err(CalendarError::TooLong(s.to_owned()));
        }
        Ok(Self {
            days: u32::try_from(days).map_err(|_| CalendarError::TooLong(s.to_owned()))?,
            seconds,
        })
    }

    /// The day part (weeks included), counted as calendar days or working days by mode.
    pub fn days(self) -> u32 {
        self.days
    }

    /// The time part in seconds.
    pub fn time_seconds(self) -> u64 {
        self.seconds
    }

    /// The length in elapsed time, a day being 24 hours.
    pub fn natural(self) -> TimeDelta {
        TimeDelta::days(i64::from(self.days)) + TimeDelta::seconds(self.seconds as i64)
    }
}

/// Splits `part` into `(value, unit)` pairs; units must appear at most once and in the
/// order of `units`.
fn components(whole: &str, part: &str, units: &[char]) -> Result<Vec<(u64, char)>, CalendarError> {
    let bad = || CalendarError::NotADuration(whole.to_owned());
    let mut out = Vec::new();
    let mut next_unit = 0;
    let mut digits = String::new();
    for c in part.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
        } else if c == '.' || c == ',' {
            return Err(CalendarError::Fraction(whole.to_owned()));
        } else {
            let pos = units[next_unit..]
                .iter()
                .position(|u| *u == c)
                .ok_or_else(bad)?;
            if digits.is_empty() {
                return Err(bad());
            }
            let n = digits
                .parse::<u64>()
                .map_err(|_| CalendarError::TooLong(whole.to_owned()))?;
            out.push((n, c));
            digits.clear();
            next_unit += pos + 1;
        }
    }
    if digits.is_empty() {
        Ok(out)
    } else {
        Err(bad())
    }
}

impl fmt::Display for IsoDuration {
    /// The canonical form: weeks as days, zero components left out (`P7D`, `PT1H30M`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("P")?;
        if self.days > 0 {
            write!(f, "{}D", self.days)?;
        }
        if self.seconds > 0 {
            f.write_str("T")?;
            let (h, m, s) = (
                self.seconds / 3600,
                self.seconds / 60 % 60,
                self.seconds % 60,
            );
            for (n, unit) in [(h, 'H'), (m, 'M'), (s, 'S')] {
                if n > 0 {
                    write!(f, "{n}{unit}")?;
                }
            }
        }
        Ok(())
    }
}

impl FromStr for IsoDuration {
    type Err = CalendarError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for IsoDuration {
    type Error = CalendarError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<IsoDuration> for String {
    fn from(d: IsoDuration) -> String {
        d.to_string()
    }
}

/// How a time limit is counted.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum CalendarMode {
    /// Elapsed time, nights, weekends and holidays included; a day is 24 hours.
    #[default]
    Natural,
    /// Only working time counts; a day is 24 working hours (ISO 8601: a day is 24 hours).
    /// Meant for limits given in hours, e.g. `PT4H`.
    WorkingHours,
    /// Only working time counts; a day is one working day (the calendar's daily working
    /// time, 7.5 h by default) and the time part is working hours. `"working"` in a
    /// category (issue 3: `P1D` "working days when `calendar: working`") means this.
    #[serde(alias = "working")]
    WorkingDays,
}

/// A time limit: how long, counted how.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TimeLimit {
    pub duration: IsoDuration,
    #[serde(default)]
    pub calendar: CalendarMode,
}

/// A case's deadline with the limit it was computed from: enough to tell the warning
/// level at any instant, and stored in the dispatch event so the case log is self-contained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Deadline {
    pub at: DateTime<Utc>,
    pub limit: TimeLimit,
    /// Counted in working time over days the calendar does not cover (its holidays were not
    /// published yet): the deadline ignores holidays it cannot know and may move when the
    /// next notice is loaded (issue 8). Natural-time deadlines are never provisional.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub provisional: bool,
}

impl Deadline {
    /// When a case with this deadline turns red ([`WorkingCalendar::red_at`]).
    pub fn red_at(
        &self,
        calendar: &WorkingCalendar,
        red_margin: Option<IsoDuration>,
    ) -> DateTime<Utc> {
        calendar.red_at(
            self.at,
            self.limit.duration,
            self.limit.calendar,
            red_margin,
        )
    }

    /// The warning level at `now` ([`WorkingCalendar::warning_level`]).
    pub fn level(
        &self,
        now: DateTime<Utc>,
        calendar: &WorkingCalendar,
        red_margin: Option<IsoDuration>,
    ) -> WarningLevel {
        WarningLevel::at(now, self.at, self.red_at(calendar, red_margin))
    }
}

/// The warning level of an open case (issue 3, "Deadlines, warnings, supervision").
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum WarningLevel {
    /// Not past the deadline.
    Green,
    /// Past the deadline, not yet by more than the red margin.
    Yellow,
    /// Past the deadline by more than the red margin: leaders supervise it (督办).
    Red,
}

impl WarningLevel {
    /// Green until the deadline (inclusive), yellow after it, red once `now` is past
    /// `red_at` (the deadline plus the red margin).
    pub fn at(now: DateTime<Utc>, deadline: DateTime<Utc>, red_at: DateTime<Utc>) -> Self {
        if now <= deadline {
            Self::Green
        } else if now <= red_at {
            Self::Yellow
        } else {
            Self::Red
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Green => "green",
            Self::Yellow => "yellow",
            Self::Red => "red",
        }
    }
}

impl FromStr for WarningLevel {
    type Err = CalendarError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "green" => Ok(Self::Green),
            "yellow" => Ok(Self::Yellow),
            "red" => Ok(Self::Red),
            _ => Err(CalendarError::BadSetting(
                s.to_owned(),
                "expected green, yellow or red",
            )),
        }
    }
}

/// A working calendar in the deployment's time zone. Built from a [`CalendarConfig`]
/// (serde) and checked, so every method can assume working time exists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "CalendarConfig", into = "CalendarConfig")]
pub struct WorkingCalendar {
    offset: FixedOffset,
    /// Indexed by `Weekday::num_days_from_monday`.
    weekdays: [bool; 7],
    /// Sorted, disjoint, each start before its end.
    periods: Vec<(NaiveTime, NaiveTime)>,
    holidays: BTreeSet<NaiveDate>,
    extra_working_days: BTreeSet<NaiveDate>,
    /// The days whose holidays and swapped working days the calendar knows, inclusive.
    covers: (NaiveDate, NaiveDate),
}

/// The configuration form of a [`WorkingCalendar`]:
///
/// ```json
/// {"utc_offset": "+08:00", "weekdays": ["mon", "tue", "wed", "thu", "fri"],
///  "hours": ["08:30-12:00", "13:30-17:30"],
///  "covers": "2025-01-01/2025-12-31",
///  "holidays": ["2025-01-01", "2025-10-01/2025-10-08"],
///  "extra_working_days": ["2025-09-28", "2025-10-11"]}
/// ```
///
/// Dates are single days or inclusive ISO 8601 intervals `start/end`. `covers` is the
/// period whose holidays the file lists (the years of the notices it was made from): a
/// calendar says how far it can be trusted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalendarConfig {
    #[serde(default = "default_offset")]
    pub utc_offset: String,
    pub weekdays: Vec<String>,
    pub hours: Vec<String>,
    pub covers: String,
    #[serde(default)]
    pub holidays: Vec<String>,
    #[serde(default)]
    pub extra_working_days: Vec<String>,
}

fn default_offset() -> String {
    "+08:00".to_owned()
}

/// Public holidays of 2025 and 2026 from the State Council's notices 国办发明电〔2024〕12号
/// and 国办发明电〔2025〕7号. Later years must be added to the deployment's configuration
/// when each notice is published (each November).
const CHINA_HOLIDAYS: &[&str] = &[
    "2025-01-01",
    "2025-01-28/2025-02-04",
    "2025-04-04/2025-04-06",
    "2025-05-01/2025-05-05",
    "2025-05-31/2025-06-02",
    "2025-10-01/2025-10-08",
    "2026-01-01/2026-01-03",
    "2026-02-15/2026-02-23",
    "2026-04-04/2026-04-06",
    "2026-05-01/2026-05-05",
    "2026-06-19/2026-06-21",
    "2026-09-25/2026-09-27",
    "2026-10-01/2026-10-07",
];

/// The years those notices cover. The 2027 notice is not published yet: do not extend this
/// without it.
const CHINA_COVERS: &str = "2025-01-01/2026-12-31";

/// The weekend days worked in exchange (调休) by the same notices.
const CHINA_EXTRA_WORKING_DAYS: &[&str] = &[
    "2025-01-26",
    "2025-02-08",
    "2025-04-27",
    "2025-09-28",
    "2025-10-11",
    "2026-01-04",
    "2026-02-14",
    "2026-02-28",
    "2026-05-09",
    "2026-09-20",
    "2026-10-10",
];

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

impl CalendarConfig {
    /// Government office hours in China: Monday to Friday, 08:30–12:00 and 13:30–17:30,
    /// UTC+08:00, with the 2025–2026 holidays and swapped working days.
    pub fn china() -> Self {
        Self {
            utc_offset: default_offset(),
            weekdays: strings(&["mon", "tue", "wed", "thu", "fri"]),
            hours: strings(&["08:30-12:00", "13:30-17:30"]),
            covers: CHINA_COVERS.to_owned(),
            holidays: strings(CHINA_HOLIDAYS),
            extra_working_days: strings(CHINA_EXTRA_WORKING_DAYS),
        }
    }
}

/// Parses a local time range `HH:MM-HH:MM` (working hours, a dispatch rule's window).
pub fn parse_time_range(s: &str) -> Option<(NaiveTime, NaiveTime)> {
    let (a, b) = s.split_once('-')?;
    let a = NaiveTime::parse_from_str(a.trim(), "%H:%M").ok()?;
    let b = NaiveTime::parse_from_str(b.trim(), "%H:%M").ok()?;
    Some((a, b))
}

/// A day `YYYY-MM-DD` or an inclusive interval `YYYY-MM-DD/YYYY-MM-DD`.
fn parse_interval(item: &str) -> Result<(NaiveDate, NaiveDate), CalendarError> {
    let date = |s: &str| {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| {
            CalendarError::BadSetting(
                item.to_owned(),
                "expected YYYY-MM-DD or YYYY-MM-DD/YYYY-MM-DD",
            )
        })
    };
    let (first, last) = match item.split_once('/') {
        Some((a, b)) => (date(a)?, date(b)?),
        None => (date(item)?, date(item)?),
    };
    if last < first {
        return Err(CalendarError::BadSetting(
            item.to_owned(),
            "an interval must run forwards",
        ));
    }
    Ok((first, last))
}

fn parse_dates(items: &[String]) -> Result<BTreeSet<NaiveDate>, CalendarError> {
    let mut out = BTreeSet::new();
    for item in items {
        let (first, last) = parse_interval(item)?;
        if (last - first).num_days() > 366 {
            return Err(CalendarError::BadSetting(
                item.clone(),
                "an interval must span at most a year",
            ));
        }
        out.extend(first.iter_days().take_while(|d| *d <= last));
    }
    Ok(out)
}

impl TryFrom<CalendarConfig> for WorkingCalendar {
    type Error = CalendarError;
    fn try_from(c: CalendarConfig) -> Result<Self, Self::Error> {
        let offset = c.utc_offset.parse::<FixedOffset>().map_err(|_| {
            CalendarError::BadSetting(c.utc_offset.clone(), "expected an offset like +08:00")
        })?;
        let mut weekdays = [false; 7];
        for w in &c.weekdays {
            let day = w
                .parse::<Weekday>()
                .map_err(|_| CalendarError::BadSetting(w.clone(), "expected mon, tue, … sun"))?;
            weekdays[day.num_days_from_monday() as usize] = true;
        }
        let mut periods = Vec::new();
        for h in &c.hours {
            match parse_time_range(h) {
                Some((a, b)) if a < b => periods.push((a, b)),
                _ => {
                    return Err(CalendarError::BadSetting(
                        h.clone(),
                        "expected HH:MM-HH:MM with start before end",
                    ));
                }
            }
        }
        if !weekdays.contains(&true) || periods.is_empty() {
            return Err(CalendarError::NoWorkingTime);
        }
        periods.sort();
        for w in periods.windows(2) {
            if w[1].0 < w[0].1 {
                let show = |p: (NaiveTime, NaiveTime)| {
                    format!("{}-{}", p.0.format("%H:%M"), p.1.format("%H:%M"))
                };
                return Err(CalendarError::Overlap(show(w[0]), show(w[1])));
            }
        }
        let holidays = parse_dates(&c.holidays)?;
        let extra_working_days = parse_dates(&c.extra_working_days)?;
        if let Some(d) = holidays.intersection(&extra_working_days).next() {
            return Err(CalendarError::HolidayAndWorkingDay(*d));
        }
        let covers = parse_interval(&c.covers)?;
        if let Some(d) = holidays
            .iter()
            .chain(&extra_working_days)
            .find(|d| !(covers.0..=covers.1).contains(*d))
        {
            return Err(CalendarError::OutsideCoverage(*d, c.covers.clone()));
        }
        Ok(Self {
            offset,
            weekdays,
            periods,
            holidays,
            extra_working_days,
            covers,
        })
    }
}

impl From<WorkingCalendar> for CalendarConfig {
    fn from(c: WorkingCalendar) -> Self {
        let weekdays = (0..7u8)
            .filter(|i| c.weekdays[*i as usize])
            .filter_map(|i| Weekday::try_from(i).ok())
            .map(|w| w.to_string().to_lowercase())
            .collect();
        let hours = c
            .periods
            .iter()
            .map(|(a, b)| format!("{}-{}", a.format("%H:%M"), b.format("%H:%M")))
            .collect();
        let dates = |s: &BTreeSet<NaiveDate>| s.iter().map(|d| d.to_string()).collect();
        Self {
            utc_offset: c.offset.to_string(),
            weekdays,
            hours,
            covers: format!("{}/{}", c.covers.0, c.covers.1),
            holidays: dates(&c.holidays),
            extra_working_days: dates(&c.extra_working_days),
        }
    }
}

impl Default for WorkingCalendar {
    fn default() -> Self {
        Self::china()
    }
}

impl WorkingCalendar {
    /// The default for China ([`CalendarConfig::china`]).
    pub fn china() -> Self {
        Self::try_from(CalendarConfig::china()).expect("the built-in calendar is valid")
    }

    pub fn offset(&self) -> FixedOffset {
        self.offset
    }

    /// The first and last day whose holidays the calendar knows.
    pub fn covers(&self) -> (NaiveDate, NaiveDate) {
        self.covers
    }

    /// Days from `today` to the last covered day (negative once it has passed).
    pub fn days_covered_after(&self, today: NaiveDate) -> i64 {
        (self.covers.1 - today).num_days()
    }

    /// The warning to log when coverage ends within `within_days` of `today`, else `None`.
    pub fn coverage_warning(&self, today: NaiveDate, within_days: i64) -> Option<String> {
        let left = self.days_covered_after(today);
        (left <= within_days).then(|| {
            let when = if left < 0 {
                format!("ended {} days ago", -left)
            } else {
                format!("ends in {left} days")
            };
            format!(
                "the working calendar covers holidays up to {} and {when}: working-time \
                 deadlines past it ignore holidays and are marked provisional; load the next \
                 State Council holiday notice with `serve --calendar FILE`",
                self.covers.1
            )
        })
    }

    /// Local wall-clock time of an instant in the deployment's time zone.
    pub fn local(&self, t: DateTime<Utc>) -> NaiveDateTime {
        t.with_timezone(&self.offset).naive_local()
    }

    fn to_utc(&self, local: NaiveDateTime) -> DateTime<Utc> {
        (local - TimeDelta::seconds(i64::from(self.offset.local_minus_utc()))).and_utc()
    }

    /// A working day: an extra working day (调休), or a working weekday that is not a
    /// holiday.
    pub fn is_working_day(&self, d: NaiveDate) -> bool {
        self.extra_working_days.contains(&d)
            || (self.weekdays[d.weekday().num_days_from_monday() as usize]
                && !self.holidays.contains(&d))
    }

    /// The working time of one working day, e.g. 7.5 h for 08:30–12:00 and 13:30–17:30.
    pub fn working_day_length(&self) -> TimeDelta {
        self.periods.iter().map(|(a, b)| *b - *a).sum()
    }

    /// The instant at which `amount` of working time has passed since `start`. A deadline
    /// may fall exactly at the end of a period (17:30), not at the next opening.
    fn add_working(&self, start: DateTime<Utc>, amount: TimeDelta) -> DateTime<Utc> {
        let local = self.local(start);
        let mut remaining = amount;
        let mut day = local.date();
        let mut from_time = local.time();
        // Terminates: the calendar has a working weekday, and holidays are finite.
        loop {
            if self.is_working_day(day) {
                for (a, b) in &self.periods {
                    if *b <= from_time {
                        continue;
                    }
                    let begin = (*a).max(from_time);
                    let available = *b - begin;
                    if remaining <= available {
                        return self.to_utc(day.and_time(begin) + remaining);
                    }
                    remaining -= available;
                }
            }
            day = day.succ_opt().unwrap_or(NaiveDate::MAX);
            from_time = NaiveTime::MIN;
        }
    }

    /// The deadline `limit` after `start`, counted in `mode`.
    pub fn deadline(
        &self,
        start: DateTime<Utc>,
        limit: IsoDuration,
        mode: CalendarMode,
    ) -> DateTime<Utc> {
        let day = TimeDelta::days(1);
        let time = TimeDelta::seconds(limit.seconds as i64);
        match mode {
            CalendarMode::Natural => start + limit.natural(),
            CalendarMode::WorkingHours => self.add_working(start, day * limit.days as i32 + time),
            CalendarMode::WorkingDays => {
                self.add_working(start, self.working_day_length() * limit.days as i32 + time)
            }
        }
    }

    /// The deadline of a case started at `start` under `limit`.
    /// The deadline of a case started at `start` under `limit`; provisional when it is
    /// counted in working time over days the calendar does not cover.
    pub fn deadline_for(&self, start: DateTime<Utc>, limit: TimeLimit) -> Deadline {
        let at = self.deadline(start, limit.duration, limit.calendar);
        let covered =
            |t: DateTime<Utc>| (self.covers.0..=self.covers.1).contains(&self.local(t).date());
        Deadline {
            at,
            limit,
            provisional: limit.calendar != CalendarMode::Natural
                && !(covered(start) && covered(at)),
        }
    }

    /// When a case due at `deadline` turns red: after the red margin, counted like the
    /// limit; the default margin is one more time limit (issue 3).
    pub fn red_at(
        &self,
        deadline: DateTime<Utc>,
        limit: IsoDuration,
        mode: CalendarMode,
        red_margin: Option<IsoDuration>,
    ) -> DateTime<Utc> {
        self.deadline(deadline, red_margin.unwrap_or(limit), mode)
    }

    /// Green before the deadline, yellow after it, red once the overdue time exceeds the
    /// margin (by default one more time limit, on the same calendar).
    pub fn warning_level(
        &self,
        now: DateTime<Utc>,
        deadline: DateTime<Utc>,
        limit: IsoDuration,
        mode: CalendarMode,
        red_margin: Option<IsoDuration>,
    ) -> WarningLevel {
        WarningLevel::at(
            now,
            deadline,
            self.red_at(deadline, limit, mode, red_margin),
        )
    }
}

#[cfg(test)]
mod tests;
