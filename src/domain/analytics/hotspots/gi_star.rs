//! Getis-Ord Gi* (Getis & Ord 1992; Ord & Getis 1995) with binary k-ring weights, the cell
//! itself included, as PySAL esda's `G_Local(y, w, transform='B', star=True)`.
//!
//! For cell i with wᵢ cells in its neighbourhood (itself included, all inside the study
//! area), n cells, mean x̄ and population standard deviation s of the counts:
//!
//! ```text
//! Gᵢ* = Σⱼ wᵢⱼ xⱼ / Σⱼ xⱼ      E[Gᵢ*] = wᵢ / n
//! Var[Gᵢ*] = wᵢ (n − wᵢ) / (n − 1) · s² / (n x̄)²
//! zᵢ = (Gᵢ* − E) / √Var = (Σⱼ wᵢⱼ xⱼ − x̄ wᵢ) / (s √(wᵢ (n − wᵢ) / (n − 1)))
//! ```
//!
//! the last form being the one ArcGIS documents; it is computed that way here because it
//! avoids the division by Σx. Degenerate cases, where esda returns NaN: if every count is
//! equal (no reports at all, say) or a neighbourhood spans the whole study area, the
//! z-score is 0 and p is 1, since there is no evidence of clustering either way.

use h3o::CellIndex;

use super::HotspotError;
use super::fdr::{Significance, benjamini_hochberg, two_sided_p};
use super::moran::{MoranI, moran_i};
use super::rng::Xoshiro256PlusPlus;
use super::study_area::StudyArea;

/// Conditional permutation inference: how many permutations, and the seed that makes them
/// reproducible.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Permutations {
    count: u32,
    seed: u64,
}

impl Permutations {
    /// esda's default is 999; ten times that resolves p to 1e-4, beyond which the cost
    /// (linear in the count) buys nothing a 99 % bin needs.
    pub const MAX: u32 = 9999;

    pub fn new(count: u32, seed: u64) -> Result<Self, HotspotError> {
        if (1..=Self::MAX).contains(&count) {
            Ok(Self { count, seed })
        } else {
            Err(HotspotError::PermutationsOutOfRange(count))
        }
    }

    pub fn count(self) -> u32 {
        self.count
    }

    pub fn seed(self) -> u64 {
        self.seed
    }
}

/// The Gi* result for one cell.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CellHotspot {
    #[serde(serialize_with = "super::serialize_cell")]
    pub cell: CellIndex,
    pub count: f64,
    /// Gi* z-score (esda `Zs`).
    pub z: f64,
    /// Two-sided p-value of `z` under the normal approximation (twice esda's `p_norm`).
    pub p: f64,
    /// With permutations: the pseudo p-value, one-sided in the direction of the observed
    /// statistic, as esda's `p_sim` (see [`gi_star`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p_sim: Option<f64>,
    /// Benjamini–Hochberg adjusted p-value over all cells of the study area, of `p`, or of
    /// the two-sided pseudo p-value min(1, 2·p_sim) when permutations were run.
    pub p_fdr: f64,
    pub significance: Significance,
}

/// Gi* for every cell of `area`, with `counts` in the order of [`StudyArea::cells`].
///
/// With `permutations`, each cell also gets a conditional-randomisation pseudo p-value as
/// esda's `crand`: the cell's own count stays, its wᵢ − 1 neighbours' counts are replaced by
/// a random draw without replacement from the other n − 1 cells, and
/// p_sim = (min(#{sim ≥ obs}, #{sim ≤ obs}) + 1) / (permutations + 1). As in esda one set
/// of draws (of the largest neighbourhood's size) is shared by all cells, so the cost is
/// permutations × Σwᵢ additions. This equals esda's "directed" p_sim whenever no simulated
/// value ties the observed one; ties (common with counts: an all-zero neighbourhood among
/// zeros) count on both sides here, where esda's folding would call a cell whose every
/// draw ties it extreme.
pub fn gi_star(
    area: &StudyArea,
    counts: &[f64],
    permutations: Option<Permutations>,
) -> Result<Vec<CellHotspot>, HotspotError> {
    area.check_counts(counts)?;
    let (lags, z) = lags_and_z(area, counts);
    let p: Vec<f64> = z.iter().map(|&z| two_sided_p(z)).collect();
    let p_sim = permutations.map(|perms| pseudo_p(area, counts, &lags, perms));
    let p_fdr = match &p_sim {
        Some(p_sim) => {
            let two_sided: Vec<f64> = p_sim.iter().map(|p| (2.0 * p).min(1.0)).collect();
            benjamini_hochberg(&two_sided)
        }
        None => benjamini_hochberg(&p),
    };
    Ok((0..area.len())
        .map(|i| CellHotspot {
            cell: area.cells()[i],
            count: counts[i],
            z: z[i],
            p: p[i],
            p_sim: p_sim.as_ref().map(|s| s[i]),
            p_fdr: p_fdr[i],
            significance: Significance::from_z_and_p(z[i], p_fdr[i]),
        })
        .collect())
}

/// The neighbourhood sums Σⱼ wᵢⱼ xⱼ (self included) and the z-scores.
fn lags_and_z(area: &StudyArea, counts: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let n = area.len() as f64;
    let mean = counts.iter().sum::<f64>() / n;
    // Two-pass population variance: esda's E[x²] − E[x]² is the same number in exact
    // arithmetic and loses digits when the mean is large against the spread.
    let s = (counts.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n).sqrt();
    let mut lags = Vec::with_capacity(area.len());
    let mut z = Vec::with_capacity(area.len());
    for (i, &own) in counts.iter().enumerate() {
        let neighbours = area.neighbours(i);
        let lag = own + neighbours.iter().map(|&j| counts[j as usize]).sum::<f64>();
        let w = (neighbours.len() + 1) as f64;
        let denominator = s * (w * (n - w) / (n - 1.0)).sqrt();
        lags.push(lag);
        z.push(if denominator > 0.0 {
            (lag - mean * w) / denominator
        } else {
            0.0
        });
    }
    (lags, z)
}

/// Pseudo p-values by conditional randomisation (see [`gi_star`]).
fn pseudo_p(area: &StudyArea, counts: &[f64], lags: &[f64], perms: Permutations) -> Vec<f64> {
    let n = area.len();
    let draws = area.max_neighbours();
    let rows = perms.count as usize;
    // Row r holds `draws` distinct positions among the n − 1 cells other than the focal
    // one (position q stands for cell q, or q + 1 at or past the focal cell), drawn by a
    // partial Fisher–Yates shuffle that is undone after each row so the pool stays 0..n−1.
    let mut rng = Xoshiro256PlusPlus::seed(perms.seed);
    let mut pool: Vec<u32> = (0..n.saturating_sub(1) as u32).collect();
    let mut sample = Vec::with_capacity(rows * draws);
    let mut swaps = Vec::with_capacity(draws);
    for _ in 0..rows {
        swaps.clear();
        for t in 0..draws {
            let j = t + rng.below(pool.len() - t);
            pool.swap(t, j);
            swaps.push(j);
            sample.push(pool[t]);
        }
        for (t, &j) in swaps.iter().enumerate().rev() {
            pool.swap(t, j);
        }
    }

    let denominator = (rows + 1) as f64;
    (0..n)
        .map(|i| {
            let d = area.neighbours(i).len();
            let (mut greater, mut lesser) = (0usize, 0usize);
            for r in 0..rows {
                let sim = counts[i]
                    + sample[r * draws..r * draws + d]
                        .iter()
                        .map(|&q| {
                            let q = q as usize;
                            counts[if q < i { q } else { q + 1 }]
                        })
                        .sum::<f64>();
                greater += usize::from(sim >= lags[i]);
                lesser += usize::from(sim <= lags[i]);
            }
            ((greater.min(lesser) + 1) as f64 / denominator).min(1.0)
        })
        .collect()
}

/// Study-wide figures that go with the per-cell results.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct HotspotSummary {
    pub cells: usize,
    /// Cells with a hot bin (90 % confidence or more, FDR-adjusted).
    pub hot: usize,
    /// Cells with a cold bin.
    pub cold: usize,
    /// Global Moran's I over the same k-ring (self excluded); `None` when it is undefined
    /// (all counts equal, or no cell has a neighbour).
    pub moran: Option<MoranI>,
}

/// Per-cell Gi* results and the summary the hotspot endpoint returns.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct HotspotReport {
    pub cells: Vec<CellHotspot>,
    pub summary: HotspotSummary,
}

/// Gi* for every cell plus the summary: counts of hot and cold cells, and Moran's I.
pub fn analyse(
    area: &StudyArea,
    counts: &[f64],
    permutations: Option<Permutations>,
) -> Result<HotspotReport, HotspotError> {
    let cells = gi_star(area, counts, permutations)?;
    let moran = moran_i(area, counts)?;
    let summary = HotspotSummary {
        cells: cells.len(),
        hot: cells.iter().filter(|c| c.significance.is_hot()).count(),
        cold: cells.iter().filter(|c| c.significance.is_cold()).count(),
        moran,
    };
    Ok(HotspotReport { cells, summary })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::analytics::hotspots::KRing;

    fn cell(hex: &str) -> CellIndex {
        hex.parse().unwrap()
    }

    /// A resolution-10 cell in 兴隆台区 and its six neighbours, counts 1…6 on the ring in
    /// index order and 10 in the centre.
    fn ring7() -> (StudyArea, Vec<f64>) {
        let centre = cell("8a1fb46622dffff");
        let area = StudyArea::new(centre.grid_disk::<Vec<_>>(1), KRing::new(1).unwrap()).unwrap();
        let mut outer = 1.0;
        let counts = area
            .cells()
            .iter()
            .map(|&c| {
                if c == centre {
                    10.0
                } else {
                    outer += 1.0;
                    outer - 1.0
                }
            })
            .collect();
        (area, counts)
    }

    #[test]
    fn gi_star_on_a_seven_cell_ring_matches_the_textbook_formula_and_esda() {
        // scripts/hotspots_expected.py, `ring7` section: neighbours from h3-py, z from the
        // Getis-Ord formula in numpy, checked against esda G_Local(star=True,
        // transform='B'); p = 2·scipy.stats.norm.sf(|z|).
        let expected = [
            (
                "8a1fb464492ffff",
                1.0,
                0.5834599659915781,
                0.5595836997752428,
            ),
            (
                "8a1fb4644967fff",
                2.0,
                0.5834599659915781,
                0.5595836997752428,
            ),
            (
                "8a1fb4644977fff",
                3.0,
                -0.437594974493684,
                0.6616799148659998,
            ),
            (
                "8a1fb46622c7fff",
                4.0,
                1.8597786415981556,
                0.06291685037023663,
            ),
            (
                "8a1fb46622cffff",
                5.0,
                0.8387237011128936,
                0.4016243750480042,
            ),
            (
                "8a1fb46622d7fff",
                6.0,
                0.8387237011128936,
                0.4016243750480042,
            ),
        ];
        let (area, counts) = ring7();
        let result = gi_star(&area, &counts, None).unwrap();
        for (hex, count, z, p) in expected {
            let r = result.iter().find(|r| r.cell == cell(hex)).unwrap();
            assert_eq!(r.count, count);
            assert!((r.z - z).abs() < 1e-9, "{hex}: z {} vs {z}", r.z);
            assert!((r.p - p).abs() < 1e-9, "{hex}: p {} vs {p}", r.p);
        }
    }

    #[test]
    fn a_neighbourhood_spanning_the_whole_area_is_not_significant() {
        // The centre's 1-ring is all seven cells: Gi* = E[Gi*] and Var = 0, where esda
        // gives NaN.
        let (area, counts) = ring7();
        let result = gi_star(&area, &counts, None).unwrap();
        let centre = result.iter().find(|r| r.count == 10.0).unwrap();
        assert_eq!((centre.z, centre.p), (0.0, 1.0));
        assert_eq!(centre.significance, Significance::NOT_SIGNIFICANT);
    }

    #[test]
    fn an_area_without_reports_has_no_hotspots() {
        let (area, _) = ring7();
        let result = gi_star(&area, &[0.0; 7], None).unwrap();
        assert!(
            result
                .iter()
                .all(|r| r.z == 0.0 && r.p == 1.0 && r.p_fdr == 1.0)
        );
    }

    /// The planted-cluster fixture: 331 resolution-9 cells (the 10-disk of 891fb466257ffff)
    /// with background counts 0–2, a +12 cluster of 19 cells and a lone spike of +30.
    /// Written by scripts/hotspots_expected.py (`planted_cluster` section) from h3-py
    /// neighbours and the Getis-Ord formula in numpy, cross-checked against esda to 1e-10.
    struct Fixture {
        cells: Vec<CellIndex>,
        counts: Vec<f64>,
        /// Per k (1, 2): z, p, p_fdr per cell.
        expected: [Vec<(f64, f64, f64)>; 2],
    }

    /// The fixture with its study area at k = 1.
    fn planted_k1() -> (Fixture, StudyArea) {
        let f = planted_cluster();
        let area = StudyArea::new(f.cells.clone(), KRing::new(1).unwrap()).unwrap();
        (f, area)
    }

    fn planted_cluster() -> Fixture {
        let text = include_str!("testdata/planted_cluster.csv");
        let mut f = Fixture {
            cells: vec![],
            counts: vec![],
            expected: [vec![], vec![]],
        };
        for line in text.lines().skip(1) {
            let v: Vec<&str> = line.split(',').collect();
            let num = |i: usize| v[i].parse::<f64>().unwrap();
            f.cells.push(cell(v[0]));
            f.counts.push(num(1));
            f.expected[0].push((num(2), num(3), num(4)));
            f.expected[1].push((num(5), num(6), num(7)));
        }
        f
    }

    #[test]
    fn gi_star_on_a_planted_cluster_matches_esda_for_k_one_and_two() {
        let f = planted_cluster();
        assert_eq!(f.cells.len(), 331);
        for (k, expected) in [1, 2].into_iter().zip(&f.expected) {
            let area = StudyArea::new(f.cells.clone(), KRing::new(k).unwrap()).unwrap();
            // The fixture is sorted by index like the study area, so rows line up.
            assert_eq!(area.cells(), &f.cells[..]);
            let result = gi_star(&area, &f.counts, None).unwrap();
            for (r, &(z, p, p_fdr)) in result.iter().zip(expected) {
                assert!((r.z - z).abs() < 1e-9, "k={k} {}: z {} vs {z}", r.cell, r.z);
                assert!((r.p - p).abs() < 1e-9, "k={k} {}: p {} vs {p}", r.cell, r.p);
                assert!((r.p_fdr - p_fdr).abs() < 1e-9, "k={k} {}: p_fdr", r.cell);
            }
        }
    }

    #[test]
    fn the_planted_cluster_is_hot_and_the_summary_counts_it() {
        // The script counts 26 (k = 1) and 35 (k = 2) cells with p_fdr ≤ 0.10 and z > 0,
        // and none cold; Moran's I for k = 1 is 0.5152653018720308, z_norm
        // 15.94798827362262 (numpy, checked against esda.Moran(transformation='B')).
        let (f, area) = planted_k1();
        let report = analyse(&area, &f.counts, None).unwrap();
        assert_eq!(report.summary.cells, 331);
        assert_eq!((report.summary.hot, report.summary.cold), (26, 0));
        let hub = area.position(cell("891fb46666bffff")).unwrap();
        assert_eq!(report.cells[hub].significance.get(), 3);
        let moran = report.summary.moran.unwrap();
        assert!((moran.i - 0.5152653018720308).abs() < 1e-9);
        assert!((moran.z - 15.94798827362262).abs() < 1e-9);

        let area2 = StudyArea::new(f.cells.clone(), KRing::new(2).unwrap()).unwrap();
        let report2 = analyse(&area2, &f.counts, None).unwrap();
        assert_eq!((report2.summary.hot, report2.summary.cold), (35, 0));
        let moran2 = report2.summary.moran.unwrap();
        assert!((moran2.i - 0.40421166350502047).abs() < 1e-9);
        assert!((moran2.variance - 0.0003554436695302539).abs() < 1e-12);
        assert!((moran2.z - 21.600665619225136).abs() < 1e-9);
    }

    #[test]
    fn counts_must_match_the_cells_and_be_non_negative() {
        let (area, mut counts) = ring7();
        assert_eq!(
            gi_star(&area, &counts[..6], None).unwrap_err(),
            HotspotError::CountsLength {
                cells: 7,
                counts: 6
            }
        );
        counts[2] = -1.0;
        assert!(matches!(
            gi_star(&area, &counts, None),
            Err(HotspotError::InvalidCount { value: -1.0, .. })
        ));
        counts[2] = f64::NAN;
        assert!(matches!(
            gi_star(&area, &counts, None),
            Err(HotspotError::InvalidCount { .. })
        ));
    }

    #[test]
    fn permutations_are_reproducible_from_the_seed() {
        let (f, area) = planted_k1();
        let perms = Permutations::new(199, 7).unwrap();
        let a = gi_star(&area, &f.counts, Some(perms)).unwrap();
        let b = gi_star(&area, &f.counts, Some(perms)).unwrap();
        assert_eq!(a, b);
        let c = gi_star(&area, &f.counts, Some(Permutations::new(199, 8).unwrap())).unwrap();
        assert_ne!(a, c);
    }

    #[test]
    fn the_cluster_centre_beats_every_permutation() {
        // The hub's 1-ring holds 7 of the 19 cluster cells (≥ 12 reports each); a random
        // draw of 6 of the other 330 cells almost surely holds fewer, so its pseudo p is
        // the smallest possible, 1 / (999 + 1).
        let (f, area) = planted_k1();
        let perms = Permutations::new(999, 2024).unwrap();
        let result = gi_star(&area, &f.counts, Some(perms)).unwrap();
        let hub = area.position(cell("891fb46666bffff")).unwrap();
        assert_eq!(result[hub].p_sim, Some(1.0 / 1000.0));
        assert!(result[hub].significance.is_hot());
        // Every cell the permutations call hot is hot analytically too. There are fewer:
        // 999 permutations resolve a two-sided p no finer than 0.002, and after the FDR
        // correction over 331 cells only the cluster's core clears 90 %.
        let analytical = gi_star(&area, &f.counts, None).unwrap();
        let hot = |r: &[CellHotspot]| -> Vec<usize> {
            (0..r.len())
                .filter(|&i| r[i].significance.is_hot())
                .collect()
        };
        let (a, p) = (hot(&analytical), hot(&result));
        assert!(p.iter().all(|i| a.contains(i)), "{p:?} not within {a:?}");
        assert!(p.len() >= 7, "{p:?}");
    }

    #[test]
    fn a_cell_whose_every_draw_ties_is_not_significant() {
        // All-zero background: an all-zero neighbourhood ties almost every draw, which
        // esda's folded count would call extreme (p_sim = 1 / (n + 1)).
        let centre = cell("891fb466257ffff");
        let area = StudyArea::new(centre.grid_disk::<Vec<_>>(6), KRing::new(1).unwrap()).unwrap();
        let mut counts = vec![0.0; area.len()];
        counts[area.position(centre).unwrap()] = 5.0;
        let perms = Permutations::new(99, 1).unwrap();
        let result = gi_star(&area, &counts, Some(perms)).unwrap();
        let far = area
            .position(centre.grid_ring_fast(6).next().flatten().unwrap())
            .unwrap();
        assert!(result[far].p_sim.unwrap() > 0.5);
        assert_eq!(result[far].significance, Significance::NOT_SIGNIFICANT);
    }

    #[test]
    fn a_cell_without_neighbours_has_pseudo_p_one() {
        let area = StudyArea::new([cell("8a1fb46622dffff")], KRing::new(1).unwrap()).unwrap();
        let perms = Permutations::new(9, 1).unwrap();
        let result = gi_star(&area, &[3.0], Some(perms)).unwrap();
        assert_eq!(result[0].p_sim, Some(1.0));
    }

    #[test]
    fn permutation_count_must_be_between_one_and_9999() {
        assert!(Permutations::new(0, 1).is_err());
        assert!(Permutations::new(10_000, 1).is_err());
        assert_eq!(Permutations::new(999, 5).unwrap().count(), 999);
    }
}
