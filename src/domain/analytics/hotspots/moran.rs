//! Global Moran's I (Moran 1950; moments from Cliff & Ord 1981, §2.3) with binary k-ring
//! weights, the cell itself excluded, as PySAL esda's `Moran(y, w, transformation='B')`.
//!
//! The z-score uses the variance under the **normality** assumption (esda `z_norm`, the
//! counts taken as draws from a normal population), not the randomisation variance
//! (`z_rand`): it depends on the weights only, so the same study area gives the same
//! variance whatever the counts, and for the sums of many reports per cell the two differ
//! little. Counts with a heavy tail (a few cells with hundreds of reports) make the
//! randomisation variance larger; planners reading the figure should treat it as a
//! yardstick of overall clustering, and the per-cell Gi* as the test.

use super::HotspotError;
use super::fdr::two_sided_p;
use super::study_area::StudyArea;

/// Moran's I and its moments under normality.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct MoranI {
    /// The statistic, I = (n / S₀) · Σᵢⱼ wᵢⱼ zᵢ zⱼ / Σᵢ zᵢ² with zᵢ = xᵢ − x̄.
    pub i: f64,
    /// E[I] = −1 / (n − 1).
    pub expected: f64,
    /// Var[I] under normality.
    pub variance: f64,
    /// (I − E[I]) / √Var[I].
    pub z: f64,
    /// Two-sided p-value of `z` (esda `p_norm` with `two_tailed=True`).
    pub p: f64,
}

/// Moran's I of `values` (in the order of [`StudyArea::cells`]) over the study area's
/// k-ring; `None` where it is undefined: every value equal, or no cell with a neighbour.
pub fn moran_i(area: &StudyArea, values: &[f64]) -> Result<Option<MoranI>, HotspotError> {
    area.check_counts(values)?;
    let n = area.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let dev: Vec<f64> = values.iter().map(|x| x - mean).collect();
    let sum_sq: f64 = dev.iter().map(|d| d * d).sum();
    let s0 = area.pair_count() as f64;
    if sum_sq == 0.0 || s0 == 0.0 || area.len() < 2 {
        return Ok(None);
    }

    let mut cross = 0.0;
    let mut degree_sq = 0.0;
    for (i, d) in dev.iter().enumerate() {
        let neighbours = area.neighbours(i);
        cross += d * neighbours.iter().map(|&j| dev[j as usize]).sum::<f64>();
        degree_sq += (neighbours.len() * neighbours.len()) as f64;
    }
    let i = n / s0 * cross / sum_sq;

    // The k-ring relation is symmetric (H3 grid distance is), so with binary weights
    // S₁ = ½ Σᵢⱼ (wᵢⱼ + wⱼᵢ)² = 2 S₀ and S₂ = Σᵢ (wᵢ. + w.ᵢ)² = 4 Σᵢ dᵢ².
    let s1 = 2.0 * s0;
    let s2 = 4.0 * degree_sq;
    let expected = -1.0 / (n - 1.0);
    let variance =
        (n * n * s1 - n * s2 + 3.0 * s0 * s0) / ((n * n - 1.0) * s0 * s0) - expected * expected;
    if variance <= 0.0 {
        return Ok(None);
    }
    let z = (i - expected) / variance.sqrt();
    Ok(Some(MoranI {
        i,
        expected,
        variance,
        z,
        p: two_sided_p(z),
    }))
}
