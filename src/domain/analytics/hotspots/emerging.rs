//! Emerging (space-time) hotspots: Gi* per period for every cell, a Mann–Kendall trend test
//! on each cell's series of z-scores, and the pattern categories of ArcGIS's Emerging Hot
//! Spot Analysis.
//!
//! Source of the categories: Esri, "How Emerging Hot Spot Analysis works" (ArcGIS Pro
//! tool reference, Space Time Pattern Mining toolbox, `learnmoreemerging.htm`). A period
//! counts as a *hot spot* when its Gi* bin is hot at 90 % confidence or more after FDR
//! correction within that period, which is how that page builds the per-bin hot spot
//! classification. With n periods, "90 percent of the time-step intervals" means at least
//! ⌈0.9 n⌉ of them. The rules, for hot spots (cold spots mirror them, and a *trend* is a
//! Mann–Kendall trend in the z-scores significant at `trend_alpha`):
//!
//! | pattern | rule |
//! | --- | --- |
//! | new | hot in the final period, never significant (hot or cold) before |
//! | consecutive | a single run of at least two hot periods at the end, never significant before it, fewer than 90 % hot |
//! | intensifying | hot in at least 90 % of periods including the final one, rising trend |
//! | persistent | hot in at least 90 % of periods including the final one, no trend |
//! | diminishing | hot in at least 90 % of periods including the final one, falling trend |
//! | sporadic | hot in the final period, hot on and off before, fewer than 90 % hot, never cold |
//! | oscillating | hot in the final period, cold in some earlier period, fewer than 90 % hot |
//! | historical | not hot in the final period, hot in at least 90 % of periods |
//!
//! One difference from Esri's tool: its Gi* neighbourhood can reach into earlier periods
//! ("neighborhood time step"); here each period's Gi* is purely spatial, over the study
//! area's k-ring, so a period's result does not depend on the periods before it.
//!
//! Where Esri's wording leaves cases overlapping, these readings keep the categories
//! disjoint (as R's sfdep does): a location cold in any earlier period is oscillating
//! rather than new or consecutive; persistent also requires the final period to be hot,
//! since otherwise no location could ever be historical; and a location hot in the final
//! period is classified on the hot side even if it was cold in 90 % of the periods before.

use h3o::CellIndex;

use super::HotspotError;
use super::fdr::{Significance, two_sided_p};
use super::gi_star::gi_star;
use super::study_area::StudyArea;

/// The trend significance level used unless the caller asks for another.
pub const DEFAULT_TREND_ALPHA: f64 = 0.05;

/// The Mann–Kendall test for a monotonic trend (Mann 1945; Kendall 1975), with the tie
/// correction of the variance and the continuity correction of the score.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct MannKendall {
    /// S = Σ_{i<j} sign(xⱼ − xᵢ).
    pub s: i64,
    /// Var[S] = (n(n−1)(2n+5) − Σₜ t(t−1)(2t+5)) / 18 over groups of t tied values.
    pub variance: f64,
    /// (S − sign S) / √Var[S], 0 when S = 0.
    pub z: f64,
    /// Two-sided p-value of `z`.
    pub p: f64,
    /// Kendall's τ_a = S / (n(n−1)/2), from −1 (always falling) to 1 (always rising).
    pub tau: f64,
}

/// The Mann–Kendall test of `series` (in time order).
pub fn mann_kendall(series: &[f64]) -> MannKendall {
    let n = series.len();
    let mut s: i64 = 0;
    for (i, a) in series.iter().enumerate() {
        for b in &series[i + 1..] {
            s += match b.partial_cmp(a) {
                Some(std::cmp::Ordering::Greater) => 1,
                Some(std::cmp::Ordering::Less) => -1,
                _ => 0,
            };
        }
    }
    let mut sorted = series.to_vec();
    sorted.sort_unstable_by(f64::total_cmp);
    let ties: f64 = sorted
        .chunk_by(|a, b| a == b)
        .map(|group| {
            let t = group.len() as f64;
            t * (t - 1.0) * (2.0 * t + 5.0)
        })
        .sum();
    let nf = n as f64;
    let variance = (nf * (nf - 1.0) * (2.0 * nf + 5.0) - ties) / 18.0;
    let z = if s == 0 || variance <= 0.0 {
        0.0
    } else {
        (s - s.signum()) as f64 / variance.sqrt()
    };
    let pairs = nf * (nf - 1.0) / 2.0;
    MannKendall {
        s,
        variance,
        z,
        p: two_sided_p(z),
        tau: if pairs > 0.0 { s as f64 / pairs } else { 0.0 },
    }
}

/// The space-time pattern of a location (see the module docs for the rules).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SpaceTimePattern {
    NoPattern,
    NewHotSpot,
    ConsecutiveHotSpot,
    IntensifyingHotSpot,
    PersistentHotSpot,
    DiminishingHotSpot,
    SporadicHotSpot,
    OscillatingHotSpot,
    HistoricalHotSpot,
    NewColdSpot,
    ConsecutiveColdSpot,
    IntensifyingColdSpot,
    PersistentColdSpot,
    DiminishingColdSpot,
    SporadicColdSpot,
    OscillatingColdSpot,
    HistoricalColdSpot,
}

impl SpaceTimePattern {
    /// The stable name used in the API, e.g. `new_hot_spot`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NoPattern => "no_pattern",
            Self::NewHotSpot => "new_hot_spot",
            Self::ConsecutiveHotSpot => "consecutive_hot_spot",
            Self::IntensifyingHotSpot => "intensifying_hot_spot",
            Self::PersistentHotSpot => "persistent_hot_spot",
            Self::DiminishingHotSpot => "diminishing_hot_spot",
            Self::SporadicHotSpot => "sporadic_hot_spot",
            Self::OscillatingHotSpot => "oscillating_hot_spot",
            Self::HistoricalHotSpot => "historical_hot_spot",
            Self::NewColdSpot => "new_cold_spot",
            Self::ConsecutiveColdSpot => "consecutive_cold_spot",
            Self::IntensifyingColdSpot => "intensifying_cold_spot",
            Self::PersistentColdSpot => "persistent_cold_spot",
            Self::DiminishingColdSpot => "diminishing_cold_spot",
            Self::SporadicColdSpot => "sporadic_cold_spot",
            Self::OscillatingColdSpot => "oscillating_cold_spot",
            Self::HistoricalColdSpot => "historical_cold_spot",
        }
    }
}

/// The emerging-hotspot result for one cell.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct EmergingCell {
    #[serde(serialize_with = "super::serialize_cell")]
    pub cell: CellIndex,
    pub pattern: SpaceTimePattern,
    /// Trend of the cell's Gi* z-scores over the periods.
    pub trend: MannKendall,
    /// The cell's Gi* bin in each period, oldest first.
    pub bins: Vec<Significance>,
}

/// Emerging hotspots over consecutive `periods` (oldest first), each holding one count per
/// cell in the order of [`StudyArea::cells`]. A trend counts when its Mann–Kendall p-value
/// is at most `trend_alpha` (see [`DEFAULT_TREND_ALPHA`]).
pub fn emerging_hotspots(
    area: &StudyArea,
    periods: &[Vec<f64>],
    trend_alpha: f64,
) -> Result<Vec<EmergingCell>, HotspotError> {
    if periods.len() < 2 {
        return Err(HotspotError::TooFewPeriods(periods.len()));
    }
    if !(trend_alpha > 0.0 && trend_alpha < 1.0) {
        return Err(HotspotError::TrendAlphaOutOfRange(trend_alpha));
    }
    let t = periods.len();
    let n = area.len();
    // Cell-major so each cell's series is contiguous.
    let mut z = vec![0.0; n * t];
    let mut bins = vec![Significance::NOT_SIGNIFICANT; n * t];
    for (k, counts) in periods.iter().enumerate() {
        for (i, hotspot) in gi_star(area, counts, None)?.into_iter().enumerate() {
            z[i * t + k] = hotspot.z;
            bins[i * t + k] = hotspot.significance;
        }
    }
    Ok((0..n)
        .map(|i| {
            let series = &bins[i * t..(i + 1) * t];
            let trend = mann_kendall(&z[i * t..(i + 1) * t]);
            EmergingCell {
                cell: area.cells()[i],
                pattern: classify(series, &trend, trend_alpha),
                trend,
                bins: series.to_vec(),
            }
        })
        .collect())
}

/// Hot or cold: which side of the pattern table a rule is read on.
#[derive(Clone, Copy, PartialEq)]
enum Side {
    Hot,
    Cold,
}

impl Side {
    fn holds(self, bin: Significance) -> bool {
        match self {
            Self::Hot => bin.is_hot(),
            Self::Cold => bin.is_cold(),
        }
    }

    fn opposite(self) -> Self {
        match self {
            Self::Hot => Self::Cold,
            Self::Cold => Self::Hot,
        }
    }
}

/// A pattern without its side.
enum Shape {
    New,
    Consecutive,
    Intensifying,
    Persistent,
    Diminishing,
    Sporadic,
    Oscillating,
    Historical,
}

fn classify(bins: &[Significance], trend: &MannKendall, alpha: f64) -> SpaceTimePattern {
    let Some(last) = bins.last() else {
        return SpaceTimePattern::NoPattern;
    };
    let side = if last.is_hot() {
        Some(Side::Hot)
    } else if last.is_cold() {
        Some(Side::Cold)
    } else {
        None
    };
    let shape = match side {
        Some(side) => Some((side, ending_in(side, bins, trend, alpha))),
        None => [Side::Hot, Side::Cold]
            .into_iter()
            .find(|&s| mostly(s, bins))
            .map(|s| (s, Shape::Historical)),
    };
    match shape {
        None => SpaceTimePattern::NoPattern,
        Some((Side::Hot, shape)) => match shape {
            Shape::New => SpaceTimePattern::NewHotSpot,
            Shape::Consecutive => SpaceTimePattern::ConsecutiveHotSpot,
            Shape::Intensifying => SpaceTimePattern::IntensifyingHotSpot,
            Shape::Persistent => SpaceTimePattern::PersistentHotSpot,
            Shape::Diminishing => SpaceTimePattern::DiminishingHotSpot,
            Shape::Sporadic => SpaceTimePattern::SporadicHotSpot,
            Shape::Oscillating => SpaceTimePattern::OscillatingHotSpot,
            Shape::Historical => SpaceTimePattern::HistoricalHotSpot,
        },
        Some((Side::Cold, shape)) => match shape {
            Shape::New => SpaceTimePattern::NewColdSpot,
            Shape::Consecutive => SpaceTimePattern::ConsecutiveColdSpot,
            Shape::Intensifying => SpaceTimePattern::IntensifyingColdSpot,
            Shape::Persistent => SpaceTimePattern::PersistentColdSpot,
            Shape::Diminishing => SpaceTimePattern::DiminishingColdSpot,
            Shape::Sporadic => SpaceTimePattern::SporadicColdSpot,
            Shape::Oscillating => SpaceTimePattern::OscillatingColdSpot,
            Shape::Historical => SpaceTimePattern::HistoricalColdSpot,
        },
    }
}

/// At least 90 % of the periods are on `side` (⌈0.9 n⌉ or more, in integers).
fn mostly(side: Side, bins: &[Significance]) -> bool {
    let on = bins.iter().filter(|&&b| side.holds(b)).count();
    10 * on >= 9 * bins.len()
}

/// The shape of a series whose final period is on `side`.
fn ending_in(side: Side, bins: &[Significance], trend: &MannKendall, alpha: f64) -> Shape {
    if mostly(side, bins) {
        // A hot side intensifies as z rises; a cold side as z falls.
        let towards = match side {
            Side::Hot => trend.s > 0,
            Side::Cold => trend.s < 0,
        };
        return if trend.p > alpha || trend.s == 0 {
            Shape::Persistent
        } else if towards {
            Shape::Intensifying
        } else {
            Shape::Diminishing
        };
    }
    if bins.iter().any(|&b| side.opposite().holds(b)) {
        return Shape::Oscillating;
    }
    let run = bins.iter().rev().take_while(|&&b| side.holds(b)).count();
    if bins[..bins.len() - run].iter().any(|&b| side.holds(b)) {
        Shape::Sporadic
    } else if run == 1 {
        Shape::New
    } else {
        Shape::Consecutive
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use SpaceTimePattern::*;

    /// Bins from a compact string: `H` hot (99 %), `C` cold (99 %), `.` not significant.
    fn bins(s: &str) -> Vec<Significance> {
        s.chars()
            .map(|c| match c {
                'H' => Significance::from_z_and_p(3.0, 0.001),
                'C' => Significance::from_z_and_p(-3.0, 0.001),
                _ => Significance::NOT_SIGNIFICANT,
            })
            .collect()
    }

    fn no_trend() -> MannKendall {
        mann_kendall(&[1.0, 1.0, 1.0])
    }

    fn rising() -> MannKendall {
        mann_kendall(&(0..10).map(f64::from).collect::<Vec<_>>())
    }

    fn falling() -> MannKendall {
        mann_kendall(&(0..10).rev().map(f64::from).collect::<Vec<_>>())
    }

    fn pattern(s: &str, trend: MannKendall) -> SpaceTimePattern {
        classify(&bins(s), &trend, DEFAULT_TREND_ALPHA)
    }

    /// Each series of bins, with its trend, classifies as the pattern beside it.
    fn check(cases: &[(&str, MannKendall, SpaceTimePattern)]) {
        for &(series, trend, expected) in cases {
            assert_eq!(pattern(series, trend), expected, "{series}");
        }
    }

    #[test]
    fn mann_kendall_of_a_strictly_rising_series_matches_the_hand_computation() {
        // n = 5, no ties: S = 10, Var = 5·4·15 / 18 = 50/3, Z = (10 − 1) / √(50/3)
        // = 2.2045407685048604, p = 2·(1 − Φ(Z)) = 0.0274863361115103; τ = 10 / 10 = 1
        // (pymannkendall.original_test agrees: scripts/hotspots_expected.py,
        // `mann_kendall` section).
        let mk = mann_kendall(&[1.0, 2.0, 3.0, 4.0, 5.0]);
        assert_eq!(mk.s, 10);
        assert!((mk.variance - 50.0 / 3.0).abs() < 1e-12);
        assert!((mk.z - 2.2045407685048604).abs() < 1e-12);
        assert!((mk.p - 0.0274863361115103).abs() < 1e-12);
        assert_eq!(mk.tau, 1.0);
    }

    #[test]
    fn mann_kendall_with_ties_matches_pymannkendall() {
        // pymannkendall.original_test on this series (scripts/hotspots_expected.py,
        // `mann_kendall` section): S, var_s, z and p.
        let series = [1.0, 2.0, 2.0, 3.0, 1.0, 4.0, 5.0, 5.0, 6.0, 7.0];
        let mk = mann_kendall(&series);
        // Ties: two 2s and two 5s and two 1s, so Var = (10·9·25 − 3·(2·1·9)) / 18 = 122.
        assert_eq!(mk.s, 36);
        assert!((mk.variance - 122.0).abs() < 1e-9, "{}", mk.variance);
        assert!((mk.z - 3.1687511114881484).abs() < 1e-9, "{}", mk.z);
        assert!((mk.p - 0.0015309543450490182).abs() < 1e-9, "{}", mk.p);
        assert!((mk.tau - 0.8).abs() < 1e-12);
    }

    #[test]
    fn a_flat_series_has_no_trend() {
        let mk = mann_kendall(&[2.0; 6]);
        assert_eq!((mk.s, mk.z, mk.p), (0, 0.0, 1.0));
    }

    #[test]
    fn hot_for_the_first_time_in_the_final_period_is_new() {
        check(&[
            (".........H", no_trend(), NewHotSpot),
            (".........C", no_trend(), NewColdSpot),
        ]);
    }

    #[test]
    fn a_final_run_of_two_or_more_after_nothing_is_consecutive() {
        check(&[
            ("......HHHH", no_trend(), ConsecutiveHotSpot),
            ("........CC", no_trend(), ConsecutiveColdSpot),
        ]);
    }

    #[test]
    fn ninety_percent_hot_splits_by_trend() {
        check(&[
            ("HHHHHHHHHH", rising(), IntensifyingHotSpot),
            (".HHHHHHHHH", no_trend(), PersistentHotSpot),
            ("HHHHHHHHHH", falling(), DiminishingHotSpot),
            // Cold spots intensify as z falls.
            ("CCCCCCCCCC", falling(), IntensifyingColdSpot),
            ("CCCCCCCCCC", rising(), DiminishingColdSpot),
            ("CCCCCCCCCC", no_trend(), PersistentColdSpot),
        ]);
    }

    #[test]
    fn a_trend_that_is_not_significant_leaves_a_persistent_hot_spot() {
        let weak = mann_kendall(&[1.0, 3.0, 2.0, 4.0, 3.0, 2.0, 4.0, 3.0, 2.0, 3.0]);
        assert!(weak.p > DEFAULT_TREND_ALPHA);
        assert_eq!(pattern("HHHHHHHHHH", weak), PersistentHotSpot);
    }

    #[test]
    fn on_and_off_without_cold_is_sporadic() {
        check(&[
            ("H..H.H...H", no_trend(), SporadicHotSpot),
            (".C..C....C", no_trend(), SporadicColdSpot),
        ]);
    }

    #[test]
    fn hot_now_after_a_cold_past_is_oscillating() {
        check(&[
            ("CC.......H", no_trend(), OscillatingHotSpot),
            ("HHH.....CC", no_trend(), OscillatingColdSpot),
            // Even when the location was cold for 90 % of the periods before.
            ("CCCCCCCCCH", no_trend(), OscillatingHotSpot),
        ]);
    }

    #[test]
    fn no_longer_hot_after_ninety_percent_hot_is_historical() {
        check(&[
            ("HHHHHHHHH.", no_trend(), HistoricalHotSpot),
            ("CCCCCCCCC.", no_trend(), HistoricalColdSpot),
        ]);
    }

    #[test]
    fn anything_else_is_no_pattern() {
        check(&[
            ("..........", no_trend(), NoPattern),
            ("HHHH.....H.", no_trend(), NoPattern),
            ("HHHHHHHH..", no_trend(), NoPattern),
        ]);
    }

    #[test]
    fn a_cluster_present_throughout_persists_and_one_appearing_last_is_new() {
        use crate::domain::analytics::hotspots::KRing;
        // 217 resolution-9 cells; background 0–2 varying by cell and period, a cluster
        // (a cell and its ring, +15) in every period east of the centre, and another that
        // appears only in the final period west of it.
        let centre: CellIndex = "891fb466257ffff".parse().unwrap();
        let area = StudyArea::new(centre.grid_disk::<Vec<_>>(8), KRing::new(1).unwrap()).unwrap();
        let mut ring = centre.grid_ring_fast(4).map(Option::unwrap);
        let steady = ring.next().unwrap();
        let fresh = ring.nth(11).unwrap();
        let near = |c: CellIndex, hub: CellIndex| c.grid_distance(hub).is_ok_and(|d| d <= 1);
        let periods: Vec<Vec<f64>> = (0..10u64)
            .map(|t| {
                area.cells()
                    .iter()
                    .map(|&c| {
                        let mut v = ((u64::from(c) >> 12) + 7 * t) % 3;
                        if near(c, steady) {
                            v += 15;
                        }
                        if t == 9 && near(c, fresh) {
                            v += 15;
                        }
                        v as f64
                    })
                    .collect()
            })
            .collect();
        let result = emerging_hotspots(&area, &periods, DEFAULT_TREND_ALPHA).unwrap();
        let at = |c: CellIndex| &result[area.position(c).unwrap()];
        assert_eq!(at(steady).pattern, PersistentHotSpot);
        assert_eq!(at(steady).bins.len(), 10);
        assert_eq!(at(fresh).pattern, NewHotSpot);
        // Far from both, nothing happens.
        let quiet = centre
            .grid_ring_fast(8)
            .map(Option::unwrap)
            .nth(40)
            .unwrap();
        assert!(!near(quiet, steady) && !near(quiet, fresh));
        assert_eq!(at(quiet).pattern, NoPattern);
    }

    #[test]
    fn emerging_hotspots_need_two_periods_and_a_sensible_alpha() {
        use crate::domain::analytics::hotspots::KRing;
        let centre: CellIndex = "891fb466257ffff".parse().unwrap();
        let area = StudyArea::new(centre.grid_disk::<Vec<_>>(1), KRing::new(1).unwrap()).unwrap();
        let one = vec![vec![1.0; 7]];
        assert_eq!(
            emerging_hotspots(&area, &one, DEFAULT_TREND_ALPHA).unwrap_err(),
            HotspotError::TooFewPeriods(1)
        );
        let two = vec![vec![1.0; 7], vec![2.0; 7]];
        assert!(emerging_hotspots(&area, &two, 0.0).is_err());
        assert!(emerging_hotspots(&area, &two, f64::NAN).is_err());
        assert!(emerging_hotspots(&area, &two, 0.1).is_ok());
    }

    #[test]
    fn ninety_percent_means_at_least_nine_of_ten_periods() {
        assert!(mostly(Side::Hot, &bins("HHHHHHHHH.")));
        assert!(!mostly(Side::Hot, &bins("HHHHHHHH..")));
        // With fewer than ten periods, 90 % means all of them.
        assert!(!mostly(Side::Hot, &bins("HHHH.")));
    }
}
