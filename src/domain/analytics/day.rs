//! Days as clients name them in queries (`from=2026-03-01`): exactly `YYYY-MM-DD`, inside a
//! range a city's case data can lie in. chrono alone takes `-99999-01-01` and refuses
//! `99999-01-01`; both are typing errors here, refused alike.

use std::fmt;

use chrono::NaiveDate;

/// A calendar day in [`Day::EARLIEST`]..=[`Day::LATEST`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Day(NaiveDate);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DayError {
    /// Not `YYYY-MM-DD` (four-digit year, two-digit month and day), or no such day.
    #[error("must be a date YYYY-MM-DD")]
    Format,
    /// A real day, but outside the range the service keeps.
    #[error("must be a day from {} to {}", Day::EARLIEST, Day::LATEST)]
    OutOfRange(NaiveDate),
}

impl Day {
    /// No city ran a snap-and-report platform before this.
    pub const EARLIEST: NaiveDate = NaiveDate::from_ymd_opt(2000, 1, 1).expect("a day");
    /// Far enough for any plan; past it a date is a typing error.
    pub const LATEST: NaiveDate = NaiveDate::from_ymd_opt(2099, 12, 31).expect("a day");

    pub fn parse(s: &str) -> Result<Self, DayError> {
        let shaped = s.len() == 10
            && s.bytes().enumerate().all(|(i, b)| match i {
                4 | 7 => b == b'-',
                _ => b.is_ascii_digit(),
            });
        if !shaped {
            return Err(DayError::Format);
        }
        let day = NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| DayError::Format)?;
        if (Self::EARLIEST..=Self::LATEST).contains(&day) {
            Ok(Self(day))
        } else {
            Err(DayError::OutOfRange(day))
        }
    }

    pub fn date(self) -> NaiveDate {
        self.0
    }
}

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_four_digit_years_in_the_services_range() {
        assert_eq!(
            Day::parse("2026-03-01").map(Day::date),
            Ok(NaiveDate::from_ymd_opt(2026, 3, 1).unwrap())
        );
        for bad in [
            "-99999-01-01",
            "99999-01-01",
            "+2026-03-01",
            "2026-3-1",
            "2026-02-30",
            "20260301",
            " 2026-03-01",
            "",
        ] {
            assert_eq!(Day::parse(bad), Err(DayError::Format), "{bad:?}");
        }
        assert!(matches!(
            Day::parse("1999-12-31"),
            Err(DayError::OutOfRange(_))
        ));
        assert!(matches!(
            Day::parse("2100-01-01"),
            Err(DayError::OutOfRange(_))
        ));
    }
}
