//! The study area: the H3 cells a hotspot analysis runs over, and their k-ring neighbours
//! indexed once so every statistic over them is a pass over flat arrays.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use geo::{BoundingRect, Contains, MultiPolygon, Point, Rect, coord};
use h3o::geom::{ContainmentMode, TilerBuilder};
use h3o::{CellIndex, LatLng, Resolution};

use super::HotspotError;

/// Every H3 cell at `res` whose centre lies inside `area` (WGS-84 lon/lat degrees), sorted
/// and without duplicates.
///
/// This is H3's standard polygon-to-cells (`polygonToCells`, centroid containment, edges as
/// straight lines in lon/lat), so each cell belongs to exactly one of two adjacent areas and
/// the cell set matches what h3-py's `h3.polygon_to_cells` returns for the same outline
/// (centres exactly on an edge aside).
///
/// h3o's own centroid tiler took 18 s for the 79,744 resolution-10 cells of 兴隆台区 in a
/// test build; here the candidates are the cells covering the outline's bounding box (a
/// rectangle tiles fast) and each centre is tested against the outline in the plane: 16×
/// faster, with the same cells (checked at resolutions 8–10 for that district, and in the
/// tests below).
pub fn study_area_cells(
    area: &MultiPolygon<f64>,
    res: Resolution,
) -> Result<Vec<CellIndex>, HotspotError> {
    check_outline(area)?;
    let Some(rect) = area.bounding_rect() else {
        return Ok(Vec::new());
    };
    let mut tiler = TilerBuilder::new(res)
        .containment_mode(ContainmentMode::Covers)
        .build();
    tiler
        .add(candidate_rect(rect, res).to_polygon())
        .map_err(|e| HotspotError::InvalidArea(e.to_string()))?;
    let mut cells: Vec<CellIndex> = tiler
        .into_coverage()
        .filter(|c| {
            let centre = LatLng::from(*c);
            area.contains(&Point::new(centre.lng(), centre.lat()))
        })
        .collect();
    cells.sort_unstable();
    cells.dedup();
    Ok(cells)
}

/// `rect` grown so that the cells covering it hold every cell whose centre lies in `rect`.
///
/// H3 joins a rectangle's corners by great circles, and a great circle between two points
/// of latitude φ bows poleward, reaching tan φₘ = tan φ / cos(Δλ / 2) half-way: the
/// equatorward edge is moved out by that bow, and every edge by an edge length of `res`
/// on top. (h3o tiles one rectangle in about a second at resolution 10 over 兴隆台区, and
/// each further polygon costs as much again, so the box is not cut into strips.)
fn candidate_rect(rect: Rect<f64>, res: Resolution) -> Rect<f64> {
    const KM_PER_DEG_LAT: f64 = 111.32;
    let half_width = ((rect.max().x - rect.min().x) / 2.0).min(89.0).to_radians();
    let bow = |lat: f64| {
        let phi = lat.abs().min(89.0).to_radians();
        ((phi.tan() / half_width.cos()).atan() - phi).to_degrees()
    };
    let grow_lat = res.edge_length_km() / KM_PER_DEG_LAT;
    let bow_lat = bow(rect.min().y).max(bow(rect.max().y));
    let poleward = (rect.min().y.abs().max(rect.max().y.abs()) + grow_lat).min(89.0);
    let grow_lon = grow_lat / poleward.to_radians().cos();
    Rect::new(
        coord! {
            x: (rect.min().x - grow_lon).max(-180.0),
            y: (rect.min().y - grow_lat - bow_lat).max(-90.0),
        },
        coord! {
            x: (rect.max().x + grow_lon).min(180.0),
            y: (rect.max().y + grow_lat + bow_lat).min(90.0),
        },
    )
}

/// Refuses outlines H3 cannot tile: a coordinate that is not finite or out of range, or a
/// ring with fewer than four positions.
fn check_outline(area: &MultiPolygon<f64>) -> Result<(), HotspotError> {
    for polygon in &area.0 {
        for ring in std::iter::once(polygon.exterior()).chain(polygon.interiors()) {
            if ring.0.len() < 4 {
                return Err(HotspotError::InvalidArea(format!(
                    "a ring has {} positions, at least 4 are needed",
                    ring.0.len()
                )));
            }
            if let Some(c) = ring.0.iter().find(|c| {
                !(c.x.is_finite()
                    && c.y.is_finite()
                    && (-180.0..=180.0).contains(&c.x)
                    && (-90.0..=90.0).contains(&c.y))
            }) {
                return Err(HotspotError::InvalidArea(format!(
                    "coordinate ({}, {}) is not a longitude and latitude",
                    c.x, c.y
                )));
            }
        }
    }
    Ok(())
}

/// A hasher for H3 indices: one folded 64×64→128-bit multiply (as foldhash and ahash do).
/// The standard SipHash costs more than the rest of the neighbour search, and a plain
/// multiply would keep H3's constant low bits (unused digits are all 7) constant.
#[derive(Default)]
struct CellHasher(u64);

impl Hasher for CellHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(self.0 ^ u64::from(b));
        }
    }

    fn write_u64(&mut self, x: u64) {
        let product = u128::from(x ^ self.0) * 0x9e37_79b9_7f4a_7c15;
        self.0 = (product >> 64) as u64 ^ product as u64;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// The radius k of the k-ring neighbourhood (1 = a cell and its six neighbours).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KRing(u32);

impl KRing {
    /// Beyond this a "local" statistic is no longer local: at resolution 10 a 10-ring spans
    /// about 2.6 km, and each cell has 330 neighbours.
    pub const MAX: u32 = 10;

    pub fn new(k: u32) -> Result<Self, HotspotError> {
        if (1..=Self::MAX).contains(&k) {
            Ok(Self(k))
        } else {
            Err(HotspotError::KRingOutOfRange(k))
        }
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

/// Cells of one resolution with their k-ring neighbours inside the set, in compressed
/// sparse rows: the neighbours of cell `i` (itself excluded) are positions
/// `neighbours[offsets[i]..offsets[i + 1]]` into `cells`.
#[derive(Debug, Clone)]
pub struct StudyArea {
    cells: Vec<CellIndex>,
    k: KRing,
    offsets: Vec<u32>,
    neighbours: Vec<u32>,
}

impl StudyArea {
    /// Indexes `cells` (any order, duplicates dropped) with their k-ring neighbours.
    pub fn new(cells: impl IntoIterator<Item = CellIndex>, k: KRing) -> Result<Self, HotspotError> {
        let mut cells: Vec<CellIndex> = cells.into_iter().collect();
        cells.sort_unstable();
        cells.dedup();
        let Some(first) = cells.first() else {
            return Err(HotspotError::NoCells);
        };
        let res = first.resolution();
        if let Some(cell) = cells.iter().find(|c| c.resolution() != res) {
            return Err(HotspotError::MixedResolution {
                cell: *cell,
                expected: res,
                found: cell.resolution(),
            });
        }

        let position: HashMap<u64, u32, BuildHasherDefault<CellHasher>> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| (u64::from(*c), i as u32))
            .collect();
        let mut offsets = Vec::with_capacity(cells.len() + 1);
        let ring = 3 * k.0 as usize * (k.0 as usize + 1);
        let mut neighbours = Vec::with_capacity(cells.len() * ring);
        offsets.push(0);
        let mut disk: Vec<CellIndex> = Vec::with_capacity(ring + 1);
        for &cell in &cells {
            // The fast walk fails near pentagons; the safe one always works.
            disk.clear();
            disk.extend(cell.grid_disk_fast(k.0).map_while(|c| c));
            if disk.len() != ring + 1 {
                disk.clear();
                disk.extend(cell.grid_disk_safe(k.0));
            }
            let start = neighbours.len();
            neighbours.extend(
                disk.iter()
                    .filter(|&&n| n != cell)
                    .filter_map(|n| position.get(&u64::from(*n)).copied()),
            );
            // Sorted rows make sums over a row deterministic whatever order h3o walks the
            // ring in.
            neighbours[start..].sort_unstable();
            offsets.push(neighbours.len() as u32);
        }
        Ok(Self {
            cells,
            k,
            offsets,
            neighbours,
        })
    }

    /// The study area of `area` at `res`: [`study_area_cells`] indexed with `k`.
    pub fn from_area(
        area: &MultiPolygon<f64>,
        res: Resolution,
        k: KRing,
    ) -> Result<Self, HotspotError> {
        let cells = study_area_cells(area, res)?;
        if cells.is_empty() {
            return Err(HotspotError::EmptyArea(res));
        }
        Self::new(cells, k)
    }

    /// The cells, sorted by index; counts are given in this order.
    pub fn cells(&self) -> &[CellIndex] {
        &self.cells
    }

    /// Number of cells (never zero).
    pub fn len(&self) -> usize {
        self.cells.len()
    }

    /// Always false: a study area holds at least one cell.
    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    pub fn k(&self) -> KRing {
        self.k
    }

    pub fn resolution(&self) -> Resolution {
        self.cells[0].resolution()
    }

    /// Position of `cell` in [`Self::cells`].
    pub fn position(&self, cell: CellIndex) -> Option<usize> {
        self.cells.binary_search(&cell).ok()
    }

    /// Positions of the neighbours of the cell at position `i`, itself excluded.
    pub fn neighbours(&self, i: usize) -> &[u32] {
        &self.neighbours[self.offsets[i] as usize..self.offsets[i + 1] as usize]
    }

    /// Total number of (ordered) neighbour pairs: S0 of the binary weights without self.
    pub(super) fn pair_count(&self) -> usize {
        self.neighbours.len()
    }

    /// Largest neighbour count of any cell.
    pub(super) fn max_neighbours(&self) -> usize {
        self.offsets
            .windows(2)
            .map(|w| (w[1] - w[0]) as usize)
            .max()
            .unwrap_or(0)
    }

    /// Per-cell counts in the order of [`Self::cells`], zero where nothing was counted.
    /// Counts for the same cell add up; cells outside the study area are left out, since
    /// the analysis is defined over the area only.
    pub fn counts(&self, counted: impl IntoIterator<Item = (CellIndex, u64)>) -> Vec<f64> {
        let mut out = vec![0.0; self.cells.len()];
        for (cell, n) in counted {
            if let Some(i) = self.position(cell) {
                out[i] += n as f64;
            }
        }
        out
    }

    /// Checks that `values` holds one finite, non-negative count per cell.
    pub(super) fn check_counts(&self, values: &[f64]) -> Result<(), HotspotError> {
        if values.len() != self.cells.len() {
            return Err(HotspotError::CountsLength {
                cells: self.cells.len(),
                counts: values.len(),
            });
        }
        match values.iter().position(|v| !v.is_finite() || *v < 0.0) {
            Some(i) => Err(HotspotError::InvalidCount {
                cell: self.cells[i],
                value: values[i],
            }),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::polygon;

    fn cell(hex: &str) -> CellIndex {
        hex.parse().unwrap()
    }

    #[test]
    fn a_cell_and_its_ring_are_each_others_neighbours() {
        let centre = cell("8a1fb46622dffff");
        let ring: Vec<CellIndex> = centre.grid_disk(1);
        let area = StudyArea::new(ring.clone(), KRing::new(1).unwrap()).unwrap();
        assert_eq!(area.len(), 7);
        let c = area.position(centre).unwrap();
        assert_eq!(area.neighbours(c).len(), 6);
        for i in (0..7).filter(|&i| i != c) {
            // Each outer cell touches the centre and its two outer neighbours.
            assert_eq!(area.neighbours(i).len(), 3, "cell {}", area.cells()[i]);
            assert!(area.neighbours(i).contains(&(c as u32)));
        }
    }

    #[test]
    fn neighbours_outside_the_study_area_do_not_count() {
        let centre = cell("8a1fb46622dffff");
        let area = StudyArea::new([centre], KRing::new(2).unwrap()).unwrap();
        assert!(area.neighbours(0).is_empty());
    }

    #[test]
    fn cells_of_two_resolutions_are_refused() {
        let fine = cell("8a1fb46622dffff");
        let coarse = fine.parent(Resolution::Nine).unwrap();
        let err = StudyArea::new([fine, coarse], KRing::new(1).unwrap()).unwrap_err();
        assert!(matches!(err, HotspotError::MixedResolution { .. }));
    }

    #[test]
    fn a_study_area_needs_a_cell() {
        assert_eq!(
            StudyArea::new([], KRing::new(1).unwrap()).unwrap_err(),
            HotspotError::NoCells
        );
        let tiny = MultiPolygon(vec![polygon![
            (x: 122.0, y: 41.0), (x: 122.000_01, y: 41.0), (x: 122.0, y: 41.000_01), (x: 122.0, y: 41.0)
        ]]);
        assert_eq!(
            StudyArea::from_area(&tiny, Resolution::Five, KRing::new(1).unwrap()).unwrap_err(),
            HotspotError::EmptyArea(Resolution::Five)
        );
    }

    #[test]
    fn k_ring_radius_must_be_between_one_and_ten() {
        assert!(KRing::new(0).is_err());
        assert!(KRing::new(11).is_err());
        assert_eq!(KRing::new(10).unwrap().get(), 10);
    }

    #[test]
    fn counts_add_up_per_cell_and_drop_cells_outside() {
        let centre = cell("8a1fb46622dffff");
        let area = StudyArea::new(centre.grid_disk::<Vec<_>>(1), KRing::new(1).unwrap()).unwrap();
        let outside = centre.grid_ring_fast(3).next().flatten().unwrap();
        let counts = area.counts([(centre, 2), (centre, 3), (outside, 100)]);
        assert_eq!(counts.iter().sum::<f64>(), 5.0);
        assert_eq!(counts[area.position(centre).unwrap()], 5.0);
    }

    #[test]
    fn cells_whose_centre_is_inside_the_area_form_the_study_area() {
        // A 0.01° square near Panjin: at resolution 9 (cells of about 0.1 km²) the square
        // (about 0.93 km²) holds roughly nine cell centres.
        let square = MultiPolygon(vec![polygon![
            (x: 122.00, y: 41.10), (x: 122.01, y: 41.10), (x: 122.01, y: 41.11),
            (x: 122.00, y: 41.11), (x: 122.00, y: 41.10)
        ]]);
        let cells = study_area_cells(&square, Resolution::Nine).unwrap();
        assert!((5..=15).contains(&cells.len()), "{} cells", cells.len());
        assert!(cells.windows(2).all(|w| w[0] < w[1]));
        for c in &cells {
            let ll = h3o::LatLng::from(*c);
            assert!((122.00..122.01).contains(&ll.lng()) && (41.10..41.11).contains(&ll.lat()));
        }
    }

    #[test]
    fn the_cells_are_those_of_h3os_centroid_tiler() {
        // A concave outline with a hole, about 3 km across, at resolutions 8 to 11.
        let outline = MultiPolygon(vec![polygon!(
            exterior: [
                (x: 122.00, y: 41.10), (x: 122.04, y: 41.10), (x: 122.04, y: 41.13),
                (x: 122.02, y: 41.115), (x: 122.00, y: 41.13), (x: 122.00, y: 41.10)
            ],
            interiors: [[
                (x: 122.01, y: 41.105), (x: 122.015, y: 41.105), (x: 122.015, y: 41.11),
                (x: 122.01, y: 41.105)
            ]]
        )]);
        for res in [
            Resolution::Eight,
            Resolution::Nine,
            Resolution::Ten,
            Resolution::Eleven,
        ] {
            let mut tiler = TilerBuilder::new(res)
                .containment_mode(ContainmentMode::ContainsCentroid)
                .build();
            tiler.add_batch(outline.0.iter().cloned()).unwrap();
            let mut expected: Vec<CellIndex> = tiler.into_coverage().collect();
            expected.sort_unstable();
            expected.dedup();
            let cells = study_area_cells(&outline, res).unwrap();
            assert!(!cells.is_empty());
            assert_eq!(cells, expected, "resolution {res}");
        }
    }

    #[test]
    fn an_outline_with_a_non_finite_coordinate_is_refused() {
        let bad = MultiPolygon(vec![polygon![
            (x: 122.0, y: 41.0), (x: f64::NAN, y: 41.0), (x: 122.1, y: 41.1), (x: 122.0, y: 41.0)
        ]]);
        assert!(matches!(
            study_area_cells(&bad, Resolution::Nine),
            Err(HotspotError::InvalidArea(_))
        ));
    }
}
