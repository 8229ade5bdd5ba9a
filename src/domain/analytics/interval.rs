//! Time intervals as OGC API – Features takes them in `datetime` (Part 1, §7.15.4): an
//! instant, or a closed or half-open interval `start/end` whose open side is `..` (or empty).
//! All instants are RFC 3339 date-times; the interval is inclusive at both ends.

use chrono::{DateTime, Utc};

/// A closed or half-open interval of instants; `None` is open on that side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interval {
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
}

/// Why a `datetime` was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadInterval {
    #[error("{0:?} is not an RFC 3339 date-time such as 2026-11-01T00:00:00Z")]
    Instant(String),
    #[error("an interval has one `/` between its start and end")]
    Shape,
    #[error("an interval needs at least one end that is not `..`")]
    Unbounded,
    #[error("the interval's start is after its end")]
    Inverted,
}

impl Interval {
    /// Parses `instant`, `start/end`, `../end`, `start/..` (an empty side counts as `..`).
    pub fn parse(s: &str) -> Result<Self, BadInterval> {
        let instant = |t: &str| -> Result<Option<DateTime<Utc>>, BadInterval> {
            match t.trim() {
                "" | ".." => Ok(None),
                t => DateTime::parse_from_rfc3339(t)
                    .map(|d| Some(d.with_timezone(&Utc)))
                    .map_err(|_| BadInterval::Instant(t.chars().take(64).collect())),
            }
        };
        let parts: Vec<&str> = s.split('/').collect();
        let interval = match parts[..] {
            [one] => {
                let at = instant(one)?.ok_or(BadInterval::Unbounded)?;
                Interval {
                    start: Some(at),
                    end: Some(at),
                }
            }
            [a, b] => Interval {
                start: instant(a)?,
                end: instant(b)?,
            },
            _ => return Err(BadInterval::Shape),
        };
        match (interval.start, interval.end) {
            (None, None) => Err(BadInterval::Unbounded),
            (Some(a), Some(b)) if a > b => Err(BadInterval::Inverted),
            _ => Ok(interval),
        }
    }

    /// Whether `t` lies in the interval (both ends included).
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.start.is_none_or(|s| s <= t) && self.end.is_none_or(|e| t <= e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn instants_and_closed_and_open_intervals() {
        let i = Interval::parse("2026-11-01T08:00:00+08:00").unwrap();
        assert_eq!(
            (i.start, i.end),
            (
                Some(at("2026-11-01T00:00:00Z")),
                Some(at("2026-11-01T00:00:00Z"))
            )
        );
        let i = Interval::parse("2026-11-01T00:00:00Z/2026-11-30T23:59:59Z").unwrap();
        assert!(i.contains(at("2026-11-15T00:00:00Z")));
        assert!(i.contains(at("2026-11-30T23:59:59Z")));
        assert!(!i.contains(at("2026-12-01T00:00:00Z")));
        let open_start = Interval::parse("../2026-11-30T00:00:00Z").unwrap();
        assert_eq!(open_start.start, None);
        assert!(open_start.contains(at("1999-01-01T00:00:00Z")));
        let open_end = Interval::parse("2026-11-30T00:00:00Z/").unwrap();
        assert_eq!(open_end.end, None);
        assert!(open_end.contains(at("2099-01-01T00:00:00Z")));
    }

    #[test]
    fn malformed_unbounded_and_inverted_intervals_are_refused() {
        assert!(matches!(
            Interval::parse("yesterday"),
            Err(BadInterval::Instant(_))
        ));
        assert!(matches!(
            Interval::parse("2026-11-01"),
            Err(BadInterval::Instant(_))
        ));
        assert_eq!(Interval::parse("../.."), Err(BadInterval::Unbounded));
        assert_eq!(Interval::parse(".."), Err(BadInterval::Unbounded));
        assert_eq!(Interval::parse("a/b/c"), Err(BadInterval::Shape));
        assert_eq!(
            Interval::parse("2026-12-01T00:00:00Z/2026-11-01T00:00:00Z"),
            Err(BadInterval::Inverted)
        );
    }
}
