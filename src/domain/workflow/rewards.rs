//! Rewards: points (and cash amounts) for verified reports, kept in an append-only ledger
//! per resident (Dongguan's 智网人人拍 paid verified reporters; issue 3, "Rewards").
//!
//! Only a verified problem report earns, once, the category's points and cash amount;
//! duplicates, invalid reports, praise and consultations earn nothing; a daily cap per
//! resident bounds what one person can collect in a day. Cash is recorded and exported for
//! payment elsewhere, never paid by the service.

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::workflow::categories::{Category, CategoryCode, CategoryKind};

/// What became of a report, as far as rewards are concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportOutcome {
    /// Verified on site (核实) or otherwise confirmed as a real problem.
    Verified,
    /// Merged into an earlier report of the same problem.
    Duplicate,
    /// Verified as not a real problem.
    Invalid,
}

/// Points and cash, in fen (1 yuan = 100 fen).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Amount {
    pub points: u32,
    pub cash_fen: u32,
}

/// The most one resident can earn per local calendar day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DailyCap(pub Amount);

impl Default for DailyCap {
    /// 100 points and 50 yuan a day: about twenty verified reports, far above what an
    /// honest resident files, low enough to make farming reports pointless.
    fn default() -> Self {
        Self(Amount {
            points: 100,
            cash_fen: 5000,
        })
    }
}

/// Why a report earned nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "why", rename_all = "snake_case")]
pub enum NoAward {
    Duplicate,
    Invalid,
    /// Praise and consultations are not work and earn nothing.
    NotAProblem {
        kind: CategoryKind,
    },
    /// The category carries neither points nor cash.
    NothingOffered,
    /// The resident has reached the daily cap.
    DailyCapReached,
}

/// The result of [`award`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Award {
    /// Record a ledger entry of this amount; `capped` when the cap cut it down.
    Earned {
        amount: Amount,
        capped: bool,
    },
    Nothing {
        reason: NoAward,
    },
}

/// What a report earns, given what its reporter has already been awarded today (local day,
/// see [`awarded_on`]). The caller records at most one award per case.
pub fn award(category: &Category, outcome: ReportOutcome, today: Amount, cap: DailyCap) -> Award {
    let nothing = |reason| Award::Nothing { reason };
    if category.kind != CategoryKind::Problem {
        return nothing(NoAward::NotAProblem {
            kind: category.kind,
        });
    }
    match outcome {
        ReportOutcome::Duplicate => return nothing(NoAward::Duplicate),
        ReportOutcome::Invalid => return nothing(NoAward::Invalid),
        ReportOutcome::Verified => {}
    }
    let offered = Amount {
        points: category.points,
        cash_fen: category.cash_reward_fen,
    };
    if offered == Amount::default() {
        return nothing(NoAward::NothingOffered);
    }
    let amount = Amount {
        points: offered
            .points
            .min(cap.0.points.saturating_sub(today.points)),
        cash_fen: offered
            .cash_fen
            .min(cap.0.cash_fen.saturating_sub(today.cash_fen)),
    };
    if amount == Amount::default() {
        return nothing(NoAward::DailyCapReached);
    }
    Award::Earned {
        amount,
        capped: amount != offered,
    }
}

/// One append-only ledger line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    pub resident: String,
    pub case_id: String,
    pub category: CategoryCode,
    pub at: DateTime<Utc>,
    pub amount: Amount,
}

/// The total awarded on one local calendar day (in the deployment's time zone `offset`):
/// the `today` argument of [`award`].
pub fn awarded_on<'a>(
    entries: impl IntoIterator<Item = &'a LedgerEntry>,
    day: NaiveDate,
    offset: FixedOffset,
) -> Amount {
    entries
        .into_iter()
        .filter(|e| e.at.with_timezone(&offset).date_naive() == day)
        .fold(Amount::default(), |sum, e| Amount {
            points: sum.points.saturating_add(e.amount.points),
            cash_fen: sum.cash_fen.saturating_add(e.amount.cash_fen),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::workflow::categories::shipped;
    use chrono::TimeZone;

    fn amount(points: u32, cash_fen: u32) -> Amount {
        Amount { points, cash_fen }
    }

    #[test]
    fn a_verified_report_earns_the_categorys_points_and_cash() {
        // 0302 井盖 offers 8 points and 10 yuan.
        assert_eq!(
            award(
                &shipped("0302"),
                ReportOutcome::Verified,
                Amount::default(),
                DailyCap::default()
            ),
            Award::Earned {
                amount: amount(8, 1000),
                capped: false
            }
        );
    }

    #[test]
    fn duplicates_invalid_reports_praise_and_consultations_earn_nothing() {
        let cap = DailyCap::default();
        let none = Amount::default();
        let manhole = shipped("0302");
        assert_eq!(
            award(&manhole, ReportOutcome::Duplicate, none, cap),
            Award::Nothing {
                reason: NoAward::Duplicate
            }
        );
        assert_eq!(
            award(&manhole, ReportOutcome::Invalid, none, cap),
            Award::Nothing {
                reason: NoAward::Invalid
            }
        );
        let mut praise = shipped("90");
        praise.points = 5;
        assert_eq!(
            award(&praise, ReportOutcome::Verified, none, cap),
            Award::Nothing {
                reason: NoAward::NotAProblem {
                    kind: CategoryKind::Praise
                }
            }
        );
        assert_eq!(
            award(&shipped("91"), ReportOutcome::Verified, none, cap),
            Award::Nothing {
                reason: NoAward::NotAProblem {
                    kind: CategoryKind::Consultation
                }
            }
        );
        let mut unpaid = shipped("0101");
        unpaid.points = 0;
        assert_eq!(
            award(&unpaid, ReportOutcome::Verified, none, cap),
            Award::Nothing {
                reason: NoAward::NothingOffered
            }
        );
    }

    #[test]
    fn the_daily_cap_cuts_the_award_down_and_then_to_nothing() {
        let cap = DailyCap(amount(100, 2000));
        let manhole = shipped("0302");
        // 97 points and 15 yuan already today: 3 more points and 5 more yuan fit.
        assert_eq!(
            award(&manhole, ReportOutcome::Verified, amount(97, 1500), cap),
            Award::Earned {
                amount: amount(3, 500),
                capped: true
            }
        );
        // Points exhausted, cash not: the cash still counts.
        assert_eq!(
            award(&manhole, ReportOutcome::Verified, amount(100, 0), cap),
            Award::Earned {
                amount: amount(0, 1000),
                capped: true
            }
        );
        assert_eq!(
            award(&manhole, ReportOutcome::Verified, amount(120, 2000), cap),
            Award::Nothing {
                reason: NoAward::DailyCapReached
            }
        );
    }

    #[test]
    fn todays_total_counts_the_local_day_not_the_utc_day() {
        let beijing = FixedOffset::east_opt(8 * 3600).unwrap();
        let entry = |at: DateTime<Utc>, points| LedgerEntry {
            resident: "r1".into(),
            case_id: format!("c{points}"),
            category: CategoryCode::parse("0302").unwrap(),
            at,
            amount: amount(points, 100),
        };
        let ledger = [
            // 2025-06-03 08:00 Beijing.
            entry(Utc.with_ymd_and_hms(2025, 6, 3, 0, 0, 0).unwrap(), 1),
            // 2025-06-03 23:59 Beijing.
            entry(Utc.with_ymd_and_hms(2025, 6, 3, 15, 59, 0).unwrap(), 2),
            // 2025-06-04 00:00 Beijing, still 3 June in UTC.
            entry(Utc.with_ymd_and_hms(2025, 6, 3, 16, 0, 0).unwrap(), 4),
        ];
        let day = |d| NaiveDate::from_ymd_opt(2025, 6, d).unwrap();
        assert_eq!(awarded_on(&ledger, day(3), beijing), amount(3, 200));
        assert_eq!(awarded_on(&ledger, day(4), beijing), amount(4, 100));
    }
}

/// What a verified report in `category` credits its reporter, given the points and cash fen
/// already credited to them that day as the ledger sums them (possibly negative or past
/// `u32` on a corrupted ledger, hence the clamping): `(points, cash_fen)` for a ledger row,
/// `None` when it earns nothing. The store calls it inside the transaction that holds the
/// resident's day, so the default [`DailyCap`] holds under concurrent awards.
pub fn verified_credit(
    category: &Category,
    points_today: i64,
    cash_today: i64,
) -> Option<(i32, i32)> {
    let clamp = |v: i64| u32::try_from(v.max(0)).unwrap_or(u32::MAX);
    let today = Amount {
        points: clamp(points_today),
        cash_fen: clamp(cash_today),
    };
    match award(
        category,
        ReportOutcome::Verified,
        today,
        DailyCap::default(),
    ) {
        Award::Earned { amount, .. } => Some((
            i32::try_from(amount.points).unwrap_or(i32::MAX),
            i32::try_from(amount.cash_fen).unwrap_or(i32::MAX),
        )),
        Award::Nothing { .. } => None,
    }
}
