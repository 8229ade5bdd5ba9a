//! Hotspot statistics over H3 cells: the study area and its k-ring neighbours, Getis-Ord
//! Gi* with Benjamini–Hochberg FDR correction, global Moran's I, and emerging (space-time)
//! hotspots. Pure functions over cells and counts; the API layer reads the counts from the
//! store and shapes GeoJSON.
//!
//! The conventions, chosen so results can be checked against PySAL esda:
//! - **Study area**: every cell at the resolution whose centre lies inside the deployment
//!   area (H3 polygon-to-cells with centroid containment), zero-count cells included, so a
//!   district with few reports is not mistaken for a hot one.
//! - **Weights**: binary over the k-ring. Gi* includes the cell itself (the "star" form,
//!   esda `G_Local(star=True, transform='B')`); Moran's I excludes it (esda `Moran`,
//!   `transformation='B'`). Neighbours outside the study area do not count.
//! - **p-values** are two-sided from the standard normal; significance bins use the
//!   BH-adjusted p (see [`Significance`]).

mod emerging;
mod fdr;
mod gi_star;
mod moran;
mod rng;
mod study_area;

pub use emerging::{
    DEFAULT_TREND_ALPHA, EmergingCell, MannKendall, SpaceTimePattern, emerging_hotspots,
    mann_kendall,
};
pub use fdr::{Significance, benjamini_hochberg, two_sided_p};
pub use gi_star::{CellHotspot, HotspotReport, HotspotSummary, Permutations, analyse, gi_star};
pub use moran::{MoranI, moran_i};
pub use study_area::{KRing, StudyArea, study_area_cells};

use h3o::{CellIndex, Resolution};

/// An H3 index as clients know it in serialised results: lowercase hexadecimal
/// (`8a1fb46622dffff`), the form h3-py and the H3 documentation print.
pub fn serialize_cell<S: serde::Serializer>(cell: &CellIndex, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&format_args!("{:x}", u64::from(*cell)))
}

/// Why a hotspot computation refused its input.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum HotspotError {
    /// The area polygon cannot be tiled by H3 (a non-finite or out-of-range coordinate, or a
    /// ring with fewer than four positions).
    #[error("the study area outline is not a valid polygon: {0}")]
    InvalidArea(String),
    /// No cell centre at the requested resolution lies inside the area.
    #[error("the study area holds no cell at resolution {0}")]
    EmptyArea(Resolution),
    /// A study area was built from an empty list of cells.
    #[error("a study area needs at least one cell")]
    NoCells,
    /// Cells of a study area must share one resolution, or neighbourhoods make no sense.
    #[error("cell {cell} is at resolution {found}, the study area is at {expected}")]
    MixedResolution {
        cell: CellIndex,
        expected: Resolution,
        found: Resolution,
    },
    /// The k of the k-ring is outside the supported range.
    #[error("k-ring radius {0} is outside 1..={max}", max = KRing::MAX)]
    KRingOutOfRange(u32),
    /// One count per study-area cell is needed, in the order of [`StudyArea::cells`].
    #[error("{counts} counts given for a study area of {cells} cells")]
    CountsLength { cells: usize, counts: usize },
    /// Gi* is defined for non-negative values only (Getis & Ord 1992, §2).
    #[error("count {value} of cell {cell} is negative or not finite")]
    InvalidCount { cell: CellIndex, value: f64 },
    /// The permutation count is outside the supported range.
    #[error("permutations {0} is outside 1..={max}", max = Permutations::MAX)]
    PermutationsOutOfRange(u32),
    /// A trend needs at least two periods (and ESRI recommends ten).
    #[error("emerging hotspots need at least 2 periods, got {0}")]
    TooFewPeriods(usize),
    /// The trend test's significance level must lie strictly between 0 and 1.
    #[error("trend significance level {0} is outside (0, 1)")]
    TrendAlphaOutOfRange(f64),
}
