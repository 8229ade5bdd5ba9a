//! The standard indicators of the 数字城管 evaluation (结案率, 按期结案率, 返工率 …) over a set
//! of case summaries, for `GET /v1/stats` per unit and category (issue 3, "Indicators").
//!
//! The caller selects the cases (received in the period, of a unit or category) and the
//! evaluation instant `as_of` (normally the end of the period); everything here is counted
//! from [`CaseSummary`]s derived from the cases' event logs.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::workflow::case::{CaseState, State};
use crate::domain::workflow::categories::CategoryCode;
use crate::domain::workflow::target::Target;

/// What the indicators need to know about one case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseSummary {
    pub category: CategoryCode,
    /// The unit or department the case was (last) dispatched to.
    pub unit: Option<Target>,
    pub received_at: DateTime<Utc>,
    /// 立案: verified, or dispatched without verification, and not later merged into
    /// another case or cancelled. Praise, consultations and invalid reports are not filed.
    pub filed: bool,
    pub dispatched: bool,
    pub deadline: Option<DateTime<Utc>>,
    /// Resolved by the handler at least once (处置).
    pub handled: bool,
    /// Sent back to the handler at least once after re-inspection or review (返工).
    pub reworked: bool,
    /// Number of returns (退回) by target units.
    pub returns: u32,
    /// Parked (挂账) now.
    pub parked: bool,
    /// When it was closed, if it is closed now.
    pub closed_at: Option<DateTime<Utc>>,
    /// The resident's latest score, 1–5.
    pub score: Option<u8>,
}

impl CaseSummary {
    /// Summarises a case folded from its events.
    pub fn of(case: &CaseState, category: CategoryCode) -> Self {
        Self {
            category,
            unit: case.target.clone(),
            received_at: case.submitted_at,
            filed: case.filed && !matches!(case.state, State::Merged | State::Cancelled),
            dispatched: case.dispatches > 0,
            deadline: case.deadline.map(|d| d.at),
            handled: case.resolutions > 0,
            reworked: case.reworks > 0,
            returns: case.returns,
            parked: case.state == State::Parked,
            closed_at: case.closed_at,
            score: case.rating.as_ref().map(|r| r.score.get()),
        }
    }
}

/// The standard indicators. Counts are of cases unless said otherwise; rates are `None`
/// when their denominator is zero.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Indicators {
    /// 受理数: every case in the set, whatever its kind or fate.
    pub received: u32,
    /// 立案数: filed cases (see [`CaseSummary::filed`]).
    pub filed: u32,
    /// 派遣数: filed cases dispatched at least once.
    pub dispatched: u32,
    /// 结案数: filed cases closed at `as_of`.
    pub closed: u32,
    /// 按期结案数: closed cases closed no later than their deadline (or without one).
    pub closed_on_time: u32,
    /// 应结案数: filed cases whose deadline has passed at `as_of`, plus filed cases
    /// already closed before their deadline came (or without one), so that 结案率 ≤ 1.
    pub due: u32,
    /// 结案率 = closed / due.
    pub closure_rate: Option<f64>,
    /// 按期结案率 = closed on time / due.
    pub on_time_rate: Option<f64>,
    /// 处置数: filed cases resolved by a handler at least once.
    pub handled: u32,
    /// 返工数: handled cases sent back at least once (failed re-inspection or review).
    pub reworked: u32,
    /// 返工率 = reworked / handled.
    pub rework_rate: Option<f64>,
    /// 退回次数: returns by target units, counted per return (a case returned twice counts
    /// twice: each is a dispatch that went to the wrong place).
    pub returns: u32,
    /// 挂账数: filed cases parked at `as_of`.
    pub parked: u32,
    /// Median time from report to close of the closed cases, in seconds (the mean of the
    /// two middle values for an even count).
    pub median_time_to_close_s: Option<i64>,
    /// 90th percentile of the same, nearest-rank: the ⌈0.9·n⌉-th smallest.
    pub p90_time_to_close_s: Option<i64>,
    /// Mean of the residents' scores (1–5) over the rated cases.
    pub mean_satisfaction: Option<f64>,
}

fn ratio(numerator: u32, denominator: u32) -> Option<f64> {
    (denominator > 0).then(|| f64::from(numerator) / f64::from(denominator))
}

/// Computes the indicators of a set of cases at the instant `as_of`.
pub fn indicators<'a>(
    cases: impl IntoIterator<Item = &'a CaseSummary>,
    as_of: DateTime<Utc>,
) -> Indicators {
    let mut received = 0;
    let (mut filed, mut dispatched, mut closed, mut on_time, mut due) = (0, 0, 0, 0, 0);
    let (mut handled, mut reworked, mut returns, mut parked) = (0, 0, 0, 0);
    let mut times = Vec::new();
    let mut scores = Vec::new();
    for c in cases {
        received += 1;
        if let Some(s) = c.score {
            scores.push(f64::from(s));
        }
        if !c.filed {
            continue;
        }
        filed += 1;
        dispatched += u32::from(c.dispatched);
        handled += u32::from(c.handled);
        reworked += u32::from(c.handled && c.reworked);
        returns += c.returns;
        parked += u32::from(c.parked);
        let closed_at = c.closed_at.filter(|t| *t <= as_of);
        let overdue = c.deadline.is_some_and(|d| d <= as_of);
        if let Some(t) = closed_at {
            closed += 1;
            on_time += u32::from(c.deadline.is_none_or(|d| t <= d));
            times.push((t - c.received_at).num_seconds());
        }
        due += u32::from(overdue || closed_at.is_some());
    }
    times.sort_unstable();
    let n = times.len();
    let median = (n > 0).then(|| {
        if n % 2 == 1 {
            times[n / 2]
        } else {
            (times[n / 2 - 1] + times[n / 2]) / 2
        }
    });
    // Nearest rank ⌈0.9·n⌉ (1-based), in integers: ⌈9n / 10⌉.
    let p90 = (n > 0).then(|| times[(9 * n).div_ceil(10) - 1]);
    Indicators {
        received,
        filed,
        dispatched,
        closed,
        closed_on_time: on_time,
        due,
        closure_rate: ratio(closed, due),
        on_time_rate: ratio(on_time, due),
        handled,
        reworked,
        rework_rate: ratio(reworked, handled),
        returns,
        parked,
        median_time_to_close_s: median,
        p90_time_to_close_s: p90,
        mean_satisfaction: (!scores.is_empty())
            .then(|| scores.iter().sum::<f64>() / scores.len() as f64),
    }
}

/// The indicators per group (unit, category…), groups in key order.
pub fn indicators_by<'a, K: Ord>(
    cases: impl IntoIterator<Item = &'a CaseSummary>,
    as_of: DateTime<Utc>,
    key: impl Fn(&CaseSummary) -> K,
) -> BTreeMap<K, Indicators> {
    let mut groups: BTreeMap<K, Vec<&CaseSummary>> = BTreeMap::new();
    for c in cases {
        groups.entry(key(c)).or_default().push(c);
    }
    groups
        .into_iter()
        .map(|(k, v)| (k, indicators(v, as_of)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn received() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 6, 1, 0, 0, 0).unwrap()
    }

    fn hours(h: i64) -> DateTime<Utc> {
        received() + chrono::Duration::hours(h)
    }

    fn far_deadline() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 7, 10, 0, 0, 0).unwrap()
    }

    fn as_of() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 6, 30, 0, 0, 0).unwrap()
    }

    /// A filed, dispatched case of category 0101 due two hours after it was received.
    fn filed() -> CaseSummary {
        CaseSummary {
            category: CategoryCode::parse("0101").unwrap(),
            unit: None,
            received_at: received(),
            filed: true,
            dispatched: true,
            deadline: Some(hours(2)),
            handled: false,
            reworked: false,
            returns: 0,
            parked: false,
            closed_at: None,
            score: None,
        }
    }

    /// Seven cases, with the indicators worked out by hand in the test below.
    fn seven_cases() -> Vec<CaseSummary> {
        let a = CaseSummary {
            handled: true,
            closed_at: Some(hours(1)),
            score: Some(5),
            ..filed()
        };
        let b = CaseSummary {
            handled: true,
            reworked: true,
            closed_at: Some(hours(5)),
            score: Some(2),
            ..filed()
        };
        let c = CaseSummary {
            returns: 2,
            ..filed()
        };
        let d = CaseSummary {
            deadline: Some(far_deadline()),
            parked: true,
            ..filed()
        };
        let e = CaseSummary {
            deadline: Some(far_deadline()),
            handled: true,
            closed_at: Some(hours(3)),
            score: Some(4),
            ..filed()
        };
        let praise = CaseSummary {
            category: CategoryCode::parse("90").unwrap(),
            filed: false,
            dispatched: false,
            deadline: None,
            closed_at: Some(hours(0)),
            ..filed()
        };
        let invalid = CaseSummary {
            filed: false,
            dispatched: false,
            deadline: None,
            ..filed()
        };
        vec![a, b, c, d, e, praise, invalid]
    }

    #[test]
    fn the_standard_indicators_match_a_hand_count() {
        // Filed: a b c d e. Closed: a (1 h, on time), b (5 h, late), e (3 h, early).
        // Due: a b e (closed) + c (deadline passed, open) = 4; d is neither due nor closed.
        // 结案率 3/4, 按期结案率 2/4 (a, e), 返工率 1/3 (b of a b e), 退回 2 (c), 挂账 1 (d).
        // Time to close sorted 1 h, 3 h, 5 h: median 3 h, p90 rank ⌈2.7⌉ = 3 → 5 h.
        // Satisfaction (5 + 2 + 4) / 3.
        let i = indicators(&seven_cases(), as_of());
        assert_eq!(
            (
                i.received,
                i.filed,
                i.dispatched,
                i.closed,
                i.closed_on_time,
                i.due
            ),
            (7, 5, 5, 3, 2, 4)
        );
        assert_eq!(i.closure_rate, Some(0.75));
        assert_eq!(i.on_time_rate, Some(0.5));
        assert_eq!((i.handled, i.reworked), (3, 1));
        assert_eq!(i.rework_rate, Some(1.0 / 3.0));
        assert_eq!((i.returns, i.parked), (2, 1));
        assert_eq!(i.median_time_to_close_s, Some(3 * 3600));
        assert_eq!(i.p90_time_to_close_s, Some(5 * 3600));
        assert_eq!(i.mean_satisfaction, Some(11.0 / 3.0));
    }

    #[test]
    fn a_case_closed_after_the_evaluation_instant_is_still_open_then() {
        // At received + 4 h, a (1 h) and e (3 h) are closed; b (closed at 5 h) is still
        // open and overdue. Due: a, e + b, c (deadline 2 h passed) = 4.
        let i = indicators(&seven_cases(), hours(4));
        assert_eq!((i.closed, i.closed_on_time, i.due), (2, 2, 4));
        assert_eq!(i.closure_rate, Some(0.5));
        // Median of 1 h and 3 h is their mean, 2 h; p90 rank ⌈1.8⌉ = 2 → 3 h.
        assert_eq!(i.median_time_to_close_s, Some(2 * 3600));
        assert_eq!(i.p90_time_to_close_s, Some(3 * 3600));
    }

    #[test]
    fn a_summary_is_read_off_the_folded_case() {
        use crate::domain::workflow::case::{Action, Event, Role, Submission, fold};
        use crate::domain::workflow::categories::CategoryKind;
        let event = |h: i64, role: Role, json: &str| {
            let mut v: serde_json::Value = serde_json::from_str(json).unwrap();
            v["actor"] = "u".into();
            v["role"] = serde_json::to_value(role).unwrap();
            v["at"] = serde_json::to_value(hours(h)).unwrap();
            serde_json::from_value::<Event>(v).unwrap()
        };
        let submit = Event {
            actor: "resident-1".into(),
            role: Role::Resident,
            at: received(),
            action: Action::Submit(Submission {
                kind: CategoryKind::Problem,
                verify_first: false,
            }),
            reason: None,
        };
        let case = fold(&[
            submit,
            event(
                1,
                Role::System,
                r#"{"action":"dispatch","payload":{"target":{"unit":"211103001002"},
                    "deadline":{"at":"2025-06-01T02:00:00Z","limit":{"duration":"PT1H","calendar":"natural"}}}}"#,
            ),
            event(1, Role::GridWorker, r#"{"action":"accept"}"#),
            event(
                2,
                Role::GridWorker,
                r#"{"action":"resolve","payload":{"note":"已清运","after_photos":["a.jpg"]}}"#,
            ),
            event(3, Role::Dispatcher, r#"{"action":"close"}"#),
            event(
                4,
                Role::Resident,
                r#"{"action":"rate","payload":{"score":4,"comment":"好"}}"#,
            ),
        ])
        .unwrap();
        let s = CaseSummary::of(&case, CategoryCode::parse("0101").unwrap());
        assert!(s.filed && s.dispatched && s.handled && !s.reworked && !s.parked);
        assert_eq!(s.deadline, Some(hours(2)));
        assert_eq!(s.closed_at, Some(hours(3)));
        assert_eq!(s.score, Some(4));
        let i = indicators([&s], as_of());
        assert_eq!(
            (i.closed, i.closed_on_time, i.due),
            (1, 0, 1),
            "closed 1 h late"
        );
    }

    #[test]
    fn an_empty_set_has_counts_of_zero_and_no_rates() {
        let i = indicators(&[], as_of());
        assert_eq!((i.received, i.due), (0, 0));
        assert_eq!(
            (
                i.closure_rate,
                i.rework_rate,
                i.median_time_to_close_s,
                i.mean_satisfaction
            ),
            (None, None, None, None)
        );
    }

    #[test]
    fn indicators_group_by_category() {
        let by = indicators_by(&seven_cases(), as_of(), |c| c.category.clone());
        let keys: Vec<&str> = by.keys().map(CategoryCode::as_str).collect();
        assert_eq!(keys, ["0101", "90"]);
        assert_eq!(by[&CategoryCode::parse("90").unwrap()].received, 1);
        assert_eq!(by[&CategoryCode::parse("90").unwrap()].filed, 0);
        assert_eq!(by[&CategoryCode::parse("0101").unwrap()].received, 6);
    }
}
