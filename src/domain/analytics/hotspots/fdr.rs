//! p-values from the normal distribution, the Benjamini–Hochberg false discovery rate
//! correction, and the hot/cold significance bins built on them.

use std::f64::consts::SQRT_2;

/// Two-sided p-value of a standard normal score: P(|Z| ≥ |z|) = erfc(|z| / √2).
///
/// Computed through erfc rather than 1 − Φ so that far tails (z = 8 gives 1.2e-15) keep
/// their digits instead of rounding to zero. A NaN score gives p = 1.
pub fn two_sided_p(z: f64) -> f64 {
    if z.is_nan() {
        return 1.0;
    }
    libm::erfc(z.abs() / SQRT_2)
}

/// Benjamini–Hochberg adjusted p-values ("BH", R's `p.adjust(p, "BH")`), in input order.
///
/// For the i-th smallest of m p-values, p̃₍ᵢ₎ = min over j ≥ i of min(1, m·p₍ⱼ₎ / j).
/// Rejecting every hypothesis with p̃ ≤ q is exactly the step-up procedure of
/// Benjamini & Hochberg (1995, §3) at false discovery rate q, so one adjusted p-value per
/// cell serves every confidence level at once.
pub fn benjamini_hochberg(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_unstable_by(|&a, &b| p[b].total_cmp(&p[a]));
    let mut adjusted = vec![0.0; m];
    let mut running = 1.0_f64;
    for (pos, &i) in order.iter().enumerate() {
        let rank = (m - pos) as f64;
        running = running.min(p[i] * m as f64 / rank);
        adjusted[i] = running;
    }
    adjusted
}

/// Hot or cold at a confidence level, from −3 (cold, 99 %) through 0 (not significant) to
/// 3 (hot, 99 %), as ArcGIS's `Gi_Bin` field.
///
/// The level is read from the FDR-adjusted p (≤ 0.01 → 3, ≤ 0.05 → 2, ≤ 0.10 → 1). A
/// study area holds tens of thousands of cells, so raw p-values at 90 % would flag about a
/// tenth of a patternless area as hot or cold; with BH-adjusted p the expected share of
/// false discoveries among flagged cells stays below the level. ArcGIS's Hot Spot Analysis
/// offers the same kind of correction as its "Apply False Discovery Rate (FDR) Correction"
/// option, and its Emerging Hot Spot Analysis always applies one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, serde::Serialize)]
#[serde(transparent)]
pub struct Significance(i8);

impl Significance {
    pub const NOT_SIGNIFICANT: Self = Self(0);

    /// The bin of a cell with score `z` and adjusted p-value `p_fdr`.
    pub fn from_z_and_p(z: f64, p_fdr: f64) -> Self {
        let level = if p_fdr <= 0.01 {
            3
        } else if p_fdr <= 0.05 {
            2
        } else if p_fdr <= 0.10 {
            1
        } else {
            0
        };
        if z > 0.0 {
            Self(level)
        } else if z < 0.0 {
            Self(-level)
        } else {
            Self(0)
        }
    }

    /// −3 … 3.
    pub fn get(self) -> i8 {
        self.0
    }

    /// A significant hot spot (90 % confidence or more).
    pub fn is_hot(self) -> bool {
        self.0 > 0
    }

    /// A significant cold spot (90 % confidence or more).
    pub fn is_cold(self) -> bool {
        self.0 < 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The 15 p-values of Benjamini & Hochberg (1995, §4), a trial of treatments after
    /// myocardial infarction.
    const BH_1995: [f64; 15] = [
        0.0001, 0.0004, 0.0019, 0.0095, 0.0201, 0.0278, 0.0298, 0.0344, 0.0459, 0.3240, 0.4262,
        0.5719, 0.6528, 0.7590, 1.0000,
    ];

    #[test]
    fn bh_at_five_percent_rejects_the_four_hypotheses_the_1995_paper_rejects() {
        let adjusted = benjamini_hochberg(&BH_1995);
        assert_eq!(adjusted.iter().filter(|&&p| p <= 0.05).count(), 4);
    }

    #[test]
    fn bh_adjusted_values_match_r_p_adjust() {
        // R 4.x `p.adjust(p, "BH")` on the 1995 values, reproduced independently with numpy
        // in scripts/hotspots_expected.py (`fdr` section): m·p / rank, then the running
        // minimum from the largest p down, capped at 1.
        let expected = [
            0.0015,
            0.003,
            0.0095,
            0.035625,
            0.0603,
            0.06385714285714286,
            0.06385714285714286,
            0.0645,
            0.0765,
            0.48600000000000004,
            0.5811818181818182,
            0.714875,
            0.7532307692307694,
            0.8132142857142857,
            1.0,
        ];
        let adjusted = benjamini_hochberg(&BH_1995);
        for (a, e) in adjusted.iter().zip(expected) {
            assert!((a - e).abs() < 1e-12, "{a} vs {e}");
        }
    }

    #[test]
    fn bh_keeps_input_order_and_ties() {
        let adjusted = benjamini_hochberg(&[0.04, 0.01, 0.04, 0.5]);
        // Sorted: 0.01 (rank 1) → 0.04; 0.04, 0.04 (ranks 2, 3) → min(0.08, 0.0533) = 0.0533;
        // 0.5 (rank 4) → 0.5.
        let expected = [0.04 * 4.0 / 3.0, 0.04, 0.04 * 4.0 / 3.0, 0.5];
        for (a, e) in adjusted.iter().zip(expected) {
            assert!((a - e).abs() < 1e-15);
        }
    }

    #[test]
    fn bh_of_nothing_is_nothing() {
        assert!(benjamini_hochberg(&[]).is_empty());
    }

    #[test]
    fn two_sided_p_matches_normal_table_values() {
        // Standard normal quantiles: P(|Z| ≥ 1.9599639845400545) = 0.05 and
        // P(|Z| ≥ 2.575829303548901) = 0.01 (scipy.stats.norm.isf(0.025) / isf(0.005), in
        // scripts/hotspots_expected.py, `normal` section).
        assert!((two_sided_p(1.9599639845400545) - 0.05).abs() < 1e-15);
        assert!((two_sided_p(-2.575829303548901) - 0.01).abs() < 1e-15);
        assert_eq!(two_sided_p(0.0), 1.0);
        assert_eq!(two_sided_p(f64::NAN), 1.0);
        // Far tail keeps relative precision: 2·Q(8) = 1.244192114854348e-15 (scipy).
        assert!((two_sided_p(8.0) / 1.244192114854348e-15 - 1.0).abs() < 1e-12);
    }

    #[test]
    fn significance_bins_follow_the_adjusted_p_and_the_sign_of_z() {
        assert_eq!(Significance::from_z_and_p(3.1, 0.009).get(), 3);
        assert_eq!(Significance::from_z_and_p(2.0, 0.01).get(), 3);
        assert_eq!(Significance::from_z_and_p(2.0, 0.04).get(), 2);
        assert_eq!(Significance::from_z_and_p(-2.0, 0.08).get(), -1);
        assert_eq!(Significance::from_z_and_p(-2.0, 0.2).get(), 0);
        assert_eq!(Significance::from_z_and_p(0.0, 0.001).get(), 0);
        assert!(Significance::from_z_and_p(-4.0, 0.0001).is_cold());
    }
}
