//! Point → unit resolution, in memory: an R-tree (rstar) over unit envelopes and an exact,
//! robust point-in-polygon test on the candidates (geo's robust orientation predicates;
//! an interval tree for outlines with many vertices).
//!
//! Rules, documented here because dispatch depends on them:
//! - **Shared edges.** A point strictly inside a unit belongs to it. A point exactly on the
//!   boundary shared by two or more units (and inside none) belongs to the one with the
//!   smallest code, so the answer never depends on load order.
//! - **Holes and multipolygons.** A point in a hole is outside that unit; each part of a
//!   multipolygon counts.
//! - **Gaps in finer levels.** If no unit at the finest level holds the point but a coarser
//!   one does, the chain stops at that coarser unit.
//! - **Out of area.** A point outside every top-level unit is refused, unless it lies within
//!   the snap tolerance of the area (GPS error): then it is assigned to the nearest unit at
//!   the finest level, and the resolution says it was `snapped`.
//! - **Near a boundary.** A point within `near_boundary_m` of another unit at the finest level
//!   carries that unit as the other candidate, for a dispatcher to confirm.

use std::collections::HashMap;
use std::ops::ControlFlow;

use geo::coordinate_position::{CoordPos, CoordinatePosition};
use geo::indexed::IntervalTreeMultiPolygon;
use geo::kernels::{Kernel, Orientation, RobustKernel};
use geo::{BoundingRect, Contains, Coord, MultiPolygon, Rect};
use rstar::{AABB, PointDistance, RTree, RTreeObject};

use super::coords::haversine_m;
use super::units::{Unit, UnitCode, UnitLevel};

/// Metres per degree of latitude on the mean-radius sphere (2πR / 360, R = 6,371,008.8 m).
const M_PER_DEG: f64 = 111_195.08;

/// Outlines with at least this many vertices get an interval tree; below it the plain
/// winding-number test over all edges is faster than the tree's indirections.
const INTERVAL_TREE_MIN_VERTICES: usize = 64;

/// An envelope in the R-tree, pointing at a polygon by its position.
#[derive(Debug, Clone, Copy)]
struct Entry {
    envelope: AABB<[f64; 2]>,
    id: u32,
}

impl RTreeObject for Entry {
    type Envelope = AABB<[f64; 2]>;
    fn envelope(&self) -> Self::Envelope {
        self.envelope
    }
}

impl PointDistance for Entry {
    fn distance_2(&self, point: &[f64; 2]) -> f64 {
        rstar::Envelope::distance_2(&self.envelope, point)
    }
    fn contains_point(&self, point: &[f64; 2]) -> bool {
        rstar::Envelope::contains_point(&self.envelope, point)
    }
}

enum Prepared {
    /// A single axis-aligned rectangle without holes (most unit grids): comparisons with
    /// its corners decide exactly, with no orientation test.
    Rect(Rect<f64>),
    /// Few vertices: test against the polygon itself.
    Plain,
    /// Many vertices: an interval tree over the edges answers "strictly inside", an R-tree
    /// over the same edges "on the boundary", both without visiting every edge.
    Indexed(Box<IntervalTreeMultiPolygon<f64>>, RTree<Edge>),
}

/// An edge of a ring of polygon `part` of a multipolygon.
struct Edge {
    a: Coord<f64>,
    b: Coord<f64>,
    part: u32,
}

impl RTreeObject for Edge {
    type Envelope = AABB<[f64; 2]>;
    fn envelope(&self) -> Self::Envelope {
        AABB::from_corners([self.a.x, self.a.y], [self.b.x, self.b.y])
    }
}

fn edge_tree(mp: &MultiPolygon<f64>) -> RTree<Edge> {
    let edges =
        mp.0.iter()
            .enumerate()
            .flat_map(|(part, p)| {
                std::iter::once(p.exterior())
                    .chain(p.interiors())
                    .flat_map(move |ring| {
                        ring.0.windows(2).map(move |w| Edge {
                            a: w[0],
                            b: w[1],
                            part: part as u32,
                        })
                    })
            })
            .collect();
    RTree::bulk_load(edges)
}

/// Whether `c`, not strictly inside, is on the boundary of the multipolygon whose edges are
/// in `edges`: exactly as geo's `coordinate_position`, by the "mod 2" rule of OGC Simple
/// Features §6.1.15.1 (on the boundary of an odd number of parts). An edge whose envelope
/// holds `c` holds `c` itself exactly when the robust orientation test says collinear.
fn on_edges(edges: &RTree<Edge>, c: Coord<f64>) -> CoordPos {
    let mut parts: Vec<u32> = edges
        .locate_in_envelope_intersecting(&AABB::from_point([c.x, c.y]))
        .filter(|e| RobustKernel::orient2d(e.a, e.b, c) == Orientation::Collinear)
        .map(|e| e.part)
        .collect();
    parts.sort_unstable();
    parts.dedup();
    if parts.len() % 2 == 1 {
        CoordPos::OnBoundary
    } else {
        CoordPos::Outside
    }
}

/// An R-tree over a set of polygons that answers which polygon holds a point. Generic over
/// what the polygons are, so the offline batch tool uses it on any FeatureCollection.
pub struct PolygonIndex {
    tree: RTree<Entry>,
    polygons: Vec<MultiPolygon<f64>>,
    prepared: Vec<Prepared>,
    /// Tie-break rank for points on shared edges: lower wins.
    rank: Vec<u32>,
}

impl PolygonIndex {
    /// Builds the index. `rank[i]` orders polygons for the shared-edge rule (lower wins);
    /// polygons with no area (empty) are skipped.
    pub fn new(polygons: Vec<MultiPolygon<f64>>, rank: Vec<u32>) -> Self {
        assert_eq!(polygons.len(), rank.len(), "one rank per polygon");
        let entries = polygons
            .iter()
            .enumerate()
            .filter_map(|(id, mp)| {
                let r = mp.bounding_rect()?;
                Some(Entry {
                    envelope: AABB::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y]),
                    id: id as u32,
                })
            })
            .collect();
        let prepared = polygons
            .iter()
            .map(|mp| {
                let vertices: usize =
                    mp.0.iter()
                        .map(|p| {
                            p.exterior().0.len()
                                + p.interiors().iter().map(|r| r.0.len()).sum::<usize>()
                        })
                        .sum();
                if let Some(r) = axis_aligned_rect(mp) {
                    Prepared::Rect(r)
                } else if vertices >= INTERVAL_TREE_MIN_VERTICES {
                    Prepared::Indexed(Box::new(IntervalTreeMultiPolygon::new(mp)), edge_tree(mp))
                } else {
                    Prepared::Plain
                }
            })
            .collect();
        Self {
            tree: RTree::bulk_load(entries),
            polygons,
            prepared,
            rank,
        }
    }

    pub fn len(&self) -> usize {
        self.polygons.len()
    }

    pub fn is_empty(&self) -> bool {
        self.polygons.is_empty()
    }

    pub fn polygon(&self, id: u32) -> &MultiPolygon<f64> {
        &self.polygons[id as usize]
    }

    fn strictly_inside(&self, id: u32, c: Coord<f64>) -> bool {
        match &self.prepared[id as usize] {
            Prepared::Indexed(tree, _) => tree.contains(&c),
            Prepared::Rect(_) | Prepared::Plain => self.position(id, c) == CoordPos::Inside,
        }
    }

    /// Where `c` lies relative to polygon `id`, by the cheapest exact test it allows.
    fn position(&self, id: u32, c: Coord<f64>) -> CoordPos {
        match &self.prepared[id as usize] {
            Prepared::Rect(r) => {
                let (lo, hi) = (r.min(), r.max());
                if lo.x < c.x && c.x < hi.x && lo.y < c.y && c.y < hi.y {
                    CoordPos::Inside
                } else if lo.x <= c.x && c.x <= hi.x && lo.y <= c.y && c.y <= hi.y {
                    CoordPos::OnBoundary
                } else {
                    CoordPos::Outside
                }
            }
            Prepared::Indexed(tree, _) if tree.contains(&c) => CoordPos::Inside,
            Prepared::Indexed(_, edges) => on_edges(edges, c),
            Prepared::Plain => self.polygons[id as usize].coordinate_position(&c),
        }
    }

    /// The polygon that holds `c`, by the shared-edge rule in the module docs.
    pub fn locate(&self, c: Coord<f64>) -> Option<u32> {
        let mut on_boundary: Option<u32> = None;
        // Internal iteration: no iterator state to keep, and it stops at the first polygon
        // that holds the point strictly.
        let found = self.tree.locate_all_at_point_int(&[c.x, c.y], |e| {
            match self.position(e.id, c) {
                CoordPos::Inside => return ControlFlow::Break(e.id),
                CoordPos::OnBoundary
                    if on_boundary
                        .is_none_or(|b| self.rank[e.id as usize] < self.rank[b as usize]) =>
                {
                    on_boundary = Some(e.id);
                }
                _ => {}
            }
            ControlFlow::Continue(())
        });
        match found {
            ControlFlow::Break(id) => Some(id),
            ControlFlow::Continue(()) => on_boundary,
        }
    }

    /// Polygons whose envelope intersects `rect`, in no particular order.
    pub fn intersecting(&self, rect: Rect<f64>) -> impl Iterator<Item = u32> + '_ {
        let query = AABB::from_corners([rect.min().x, rect.min().y], [rect.max().x, rect.max().y]);
        self.tree
            .locate_in_envelope_intersecting(&query)
            .map(|e| e.id)
    }

    /// Polygons whose envelope lies within `radius_m` of `c`, with their exact distance in
    /// metres (0 inside), nearest first.
    pub fn within(&self, c: Coord<f64>, radius_m: f64) -> Vec<(u32, f64)> {
        let dlat = radius_m / M_PER_DEG;
        let dlon = dlat / c.y.to_radians().cos().max(1e-6);
        let query = AABB::from_corners([c.x - dlon, c.y - dlat], [c.x + dlon, c.y + dlat]);
        let mut hits: Vec<(u32, f64)> = self
            .tree
            .locate_in_envelope_intersecting(&query)
            .map(|e| (e.id, self.distance_m(e.id, c)))
            .filter(|&(_, d)| d <= radius_m)
            .collect();
        hits.sort_by(|a, b| {
            a.1.total_cmp(&b.1)
                .then(self.rank[a.0 as usize].cmp(&self.rank[b.0 as usize]))
        });
        hits
    }

    /// Distance in metres from `c` to polygon `id`: 0 inside, else to its nearest edge.
    pub fn distance_m(&self, id: u32, c: Coord<f64>) -> f64 {
        if self.strictly_inside(id, c) {
            return 0.0;
        }
        boundary_distance_m(&self.polygons[id as usize], c)
    }
}

/// The rectangle `mp` is, if it is exactly one axis-aligned rectangle without holes: a closed
/// ring of four edges through corners of its bounding box, alternately horizontal and
/// vertical (which rules out a ring that doubles back on itself).
fn axis_aligned_rect(mp: &MultiPolygon<f64>) -> Option<Rect<f64>> {
    let [polygon] = mp.0.as_slice() else {
        return None;
    };
    let ring = &polygon.exterior().0;
    if !polygon.interiors().is_empty() || ring.len() != 5 || ring[0] != ring[4] {
        return None;
    }
    let r = mp.bounding_rect()?;
    let corner = |c: &Coord<f64>| {
        (c.x == r.min().x || c.x == r.max().x) && (c.y == r.min().y || c.y == r.max().y)
    };
    // Some(true) for a horizontal edge, Some(false) for a vertical one.
    let axis = |w: &[Coord<f64>]| match (w[0].x == w[1].x, w[0].y == w[1].y) {
        (false, true) => Some(true),
        (true, false) => Some(false),
        _ => None,
    };
    let axes: Vec<Option<bool>> = ring.windows(2).map(axis).collect();
    (r.width() > 0.0
        && r.height() > 0.0
        && ring.iter().all(corner)
        && axes.iter().all(Option::is_some)
        && axes.windows(2).all(|a| a[0] != a[1]))
    .then_some(r)
}

/// Distance in metres from `c` to the nearest edge of `mp`.
///
/// Each edge is measured in a local equirectangular frame centred on `c` to find the
/// nearest point, and the distance to that point is then taken on the sphere (haversine),
/// so it stays right from a few metres (snapping) to hundreds of kilometres (out of area).
pub fn boundary_distance_m(mp: &MultiPolygon<f64>, c: Coord<f64>) -> f64 {
    let kx = c.y.to_radians().cos();
    let to_local = |p: Coord<f64>| Coord {
        x: (p.x - c.x) * kx,
        y: p.y - c.y,
    };
    let mut best: Option<(f64, Coord<f64>)> = None;
    let rings =
        mp.0.iter()
            .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()));
    for ring in rings {
        for seg in ring.0.windows(2) {
            let (a, b) = (to_local(seg[0]), to_local(seg[1]));
            let ab = b - a;
            let len2 = ab.x * ab.x + ab.y * ab.y;
            let t = if len2 > 0.0 {
                (-(a.x * ab.x + a.y * ab.y) / len2).clamp(0.0, 1.0)
            } else {
                0.0
            };
            let q = a + ab * t;
            let d2 = q.x * q.x + q.y * q.y;
            if best.is_none_or(|(bd, _)| d2 < bd) {
                let world = seg[0] + (seg[1] - seg[0]) * t;
                best = Some((d2, world));
            }
        }
    }
    best.map_or(f64::INFINITY, |(_, q)| haversine_m(c, q))
}

/// Identifies a unit inside a [`Jurisdiction`].
pub type UnitId = u32;

/// Where a point fell.
#[derive(Debug, Clone, PartialEq)]
pub enum Resolution {
    Inside(Placement),
    /// Outside the service area beyond the snap tolerance.
    OutOfArea {
        /// The nearest top-level unit.
        nearest: UnitId,
        distance_m: f64,
    },
}

/// A point placed in the hierarchy.
#[derive(Debug, Clone, PartialEq)]
pub struct Placement {
    /// The finest unit holding the point; its ancestors follow by [`Jurisdiction::chain`].
    pub unit: UnitId,
    /// Set when the point lay outside the area but within the snap tolerance: how far.
    pub snapped_m: Option<f64>,
    pub near_boundary: Option<NearBoundary>,
}

/// Another unit within a few metres of the point, at the finest level.
#[derive(Debug, Clone, PartialEq)]
pub struct NearBoundary {
    pub unit: UnitId,
    pub distance_m: f64,
    /// The coarsest level at which the two chains differ (a different street matters more
    /// to a dispatcher than a different grid).
    pub differs_at: UnitLevel,
}

/// Tolerances of the resolver.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ResolverSettings {
    /// A point this close outside the area is accepted and snapped (about GPS error).
    pub snap_tolerance_m: f64,
    /// A point this close to another unit carries it as `near_boundary`.
    pub near_boundary_m: f64,
}

impl Default for ResolverSettings {
    fn default() -> Self {
        Self {
            snap_tolerance_m: 30.0,
            near_boundary_m: 5.0,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum JurisdictionError {
    /// No units at all: nothing to resolve against.
    #[error("no boundaries are loaded")]
    Empty,
    /// A unit names a parent that is not loaded.
    #[error("unit {child} names parent {parent}, which is not loaded")]
    MissingParent { child: String, parent: String },
    /// Two units share a code.
    #[error("unit code {0} appears twice")]
    DuplicateCode(String),
}

/// The unit hierarchy of a deployment, indexed for resolution. Built at start-up from the
/// store and rebuilt when boundaries change; resolution never touches the database.
pub struct Jurisdiction {
    units: Vec<Unit>,
    parent: Vec<Option<UnitId>>,
    by_code: HashMap<UnitCode, UnitId>,
    /// Per level present, coarsest first: the level, its index, and index id → unit id.
    levels: Vec<(UnitLevel, PolygonIndex, Vec<UnitId>)>,
    service_area: String,
    settings: ResolverSettings,
}

impl Jurisdiction {
    /// Indexes `units`. The service area is the union of the top level present; its name is
    /// `service_area`, or the top-level names joined if `None`.
    pub fn new(
        mut units: Vec<Unit>,
        service_area: Option<String>,
        settings: ResolverSettings,
    ) -> Result<Self, JurisdictionError> {
        if units.is_empty() {
            return Err(JurisdictionError::Empty);
        }
        units.sort_by(|a, b| a.code.cmp(&b.code));
        let mut by_code = HashMap::with_capacity(units.len());
        for (i, u) in units.iter().enumerate() {
            if by_code.insert(u.code.clone(), i as UnitId).is_some() {
                return Err(JurisdictionError::DuplicateCode(u.code.to_string()));
            }
        }
        let parent = units
            .iter()
            .map(|u| match &u.parent {
                None => Ok(None),
                Some(p) => by_code.get(p).copied().map(Some).ok_or_else(|| {
                    JurisdictionError::MissingParent {
                        child: u.code.to_string(),
                        parent: p.to_string(),
                    }
                }),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let levels = UnitLevel::ALL
            .into_iter()
            .filter_map(|level| {
                // Units are sorted by code, so index order is code order: the rank for the
                // shared-edge rule is simply the position.
                let ids: Vec<UnitId> = (0..units.len() as UnitId)
                    .filter(|&i| units[i as usize].level == level)
                    .collect();
                if ids.is_empty() {
                    return None;
                }
                let polygons = ids
                    .iter()
                    .map(|&i| units[i as usize].geometry.clone())
                    .collect();
                let rank = (0..ids.len() as u32).collect();
                Some((level, PolygonIndex::new(polygons, rank), ids))
            })
            .collect::<Vec<_>>();
        let service_area = service_area.unwrap_or_else(|| {
            let (_, _, top) = &levels[0];
            top.iter()
                .map(|&i| units[i as usize].name.as_str())
                .collect::<Vec<_>>()
                .join("、")
        });
        Ok(Self {
            units,
            parent,
            by_code,
            levels,
            service_area,
            settings,
        })
    }

    pub fn unit(&self, id: UnitId) -> &Unit {
        &self.units[id as usize]
    }

    pub fn units(&self) -> &[Unit] {
        &self.units
    }

    pub fn by_code(&self, code: &UnitCode) -> Option<UnitId> {
        self.by_code.get(code).copied()
    }

    pub fn service_area(&self) -> &str {
        &self.service_area
    }

    pub fn settings(&self) -> ResolverSettings {
        self.settings
    }

    /// The levels loaded, coarsest first.
    pub fn levels(&self) -> impl Iterator<Item = UnitLevel> + '_ {
        self.levels.iter().map(|(l, _, _)| *l)
    }

    /// Units of `level` whose envelope intersects `rect` (WGS-84), in code order.
    pub fn units_in(&self, level: UnitLevel, rect: Rect<f64>) -> Vec<UnitId> {
        let Some((_, index, ids)) = self.levels.iter().find(|(l, _, _)| *l == level) else {
            return Vec::new();
        };
        let mut found: Vec<UnitId> = index.intersecting(rect).map(|i| ids[i as usize]).collect();
        found.sort_unstable();
        found
    }

    /// `id` and its ancestors, coarsest first.
    pub fn chain(&self, id: UnitId) -> Vec<UnitId> {
        let mut chain = vec![id];
        let mut cur = id;
        while let Some(p) = self.parent[cur as usize] {
            chain.push(p);
            cur = p;
        }
        chain.reverse();
        chain
    }

    /// The finest unit holding `c`, without snapping or boundary checks: the hot path the
    /// benchmarks measure.
    pub fn locate(&self, c: Coord<f64>) -> Option<UnitId> {
        self.levels
            .iter()
            .rev()
            .find_map(|(_, index, ids)| index.locate(c).map(|i| ids[i as usize]))
    }

    /// Resolves a WGS-84 coordinate by the rules in the module docs.
    pub fn resolve(&self, c: Coord<f64>) -> Resolution {
        let (_, finest, finest_ids) = self.levels.last().expect("at least one level");
        if let Some(unit) = self.locate(c) {
            let near_boundary = finest
                .within(c, self.settings.near_boundary_m)
                .into_iter()
                .map(|(i, d)| (finest_ids[i as usize], d))
                .find(|&(other, _)| other != unit)
                .map(|(other, distance_m)| NearBoundary {
                    unit: other,
                    distance_m,
                    differs_at: self.differs_at(unit, other),
                });
            return Resolution::Inside(Placement {
                unit,
                snapped_m: None,
                near_boundary,
            });
        }
        if let Some(&(i, d)) = finest.within(c, self.settings.snap_tolerance_m).first() {
            return Resolution::Inside(Placement {
                unit: finest_ids[i as usize],
                snapped_m: Some(d),
                near_boundary: None,
            });
        }
        let (_, top, top_ids) = &self.levels[0];
        let (nearest, distance_m) = (0..top.len() as u32)
            .map(|i| (top_ids[i as usize], boundary_distance_m(top.polygon(i), c)))
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .expect("the top level is not empty");
        Resolution::OutOfArea {
            nearest,
            distance_m,
        }
    }

    fn differs_at(&self, a: UnitId, b: UnitId) -> UnitLevel {
        let (ca, cb) = (self.chain(a), self.chain(b));
        ca.iter()
            .zip(&cb)
            .find(|(x, y)| x != y)
            .map_or(self.units[b as usize].level, |(x, _)| {
                self.units[*x as usize].level
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{LineString, Polygon, polygon};

    fn unit(code: &str, name: &str, geometry: Polygon<f64>) -> Unit {
        let code = UnitCode::parse(code).unwrap();
        Unit {
            level: code.level(),
            parent: code.parent(),
            code,
            name: name.to_owned(),
            geometry: MultiPolygon(vec![geometry]),
            synthetic: true,
        }
    }

    fn rect(x0: f64, y0: f64, x1: f64, y1: f64) -> Polygon<f64> {
        polygon![(x: x0, y: y0), (x: x1, y: y0), (x: x1, y: y1), (x: x0, y: y1), (x: x0, y: y0)]
    }

    /// Two streets side by side split at lon 122.01, the western one with a hole.
    fn two_streets() -> Jurisdiction {
        let hole = LineString::from(vec![
            (122.002, 41.002),
            (122.004, 41.002),
            (122.004, 41.004),
            (122.002, 41.004),
            (122.002, 41.002),
        ]);
        let west = Polygon::new(
            rect(122.0, 41.0, 122.01, 41.01).exterior().clone(),
            vec![hole],
        );
        Jurisdiction::new(
            vec![
                unit("999999", "示范区", rect(122.0, 41.0, 122.02, 41.01)),
                unit("999999002", "东街道", rect(122.01, 41.0, 122.02, 41.01)),
                unit("999999001", "西街道", west),
            ],
            None,
            ResolverSettings::default(),
        )
        .unwrap()
    }

    fn code(j: &Jurisdiction, r: &Resolution) -> String {
        match r {
            Resolution::Inside(p) => j.unit(p.unit).code.to_string(),
            Resolution::OutOfArea { .. } => "out".into(),
        }
    }

    #[test]
    fn a_point_on_a_shared_edge_goes_to_the_smaller_code() {
        let j = two_streets();
        let r = j.resolve(Coord {
            x: 122.01,
            y: 41.005,
        });
        assert_eq!(code(&j, &r), "999999001");
        let Resolution::Inside(p) = r else {
            unreachable!()
        };
        assert_eq!(
            p.near_boundary.map(|n| j.unit(n.unit).code.to_string()),
            Some("999999002".into())
        );
    }

    #[test]
    fn a_rectangular_grid_places_points_exactly_as_the_general_test() {
        let square = MultiPolygon(vec![rect(122.0, 41.0, 122.001, 41.001)]);
        let index = PolygonIndex::new(vec![square.clone()], vec![0]);
        assert!(
            matches!(index.prepared[0], Prepared::Rect(_)),
            "the fast path is taken"
        );
        let probes = [
            (122.0005, 41.0005),
            (122.0, 41.0005),
            (122.001, 41.001),
            (122.0005, 41.001),
            (122.0011, 41.0005),
            (122.0005, 40.9999),
        ];
        for (x, y) in probes {
            let c = Coord { x, y };
            assert_eq!(
                index.position(0, c),
                square.coordinate_position(&c),
                "at {c:?}"
            );
        }
    }

    /// A square from (x0, 0) to (x0 + 64, 64) with a vertex every unit along its edges, so
    /// that it is indexed (more than [`INTERVAL_TREE_MIN_VERTICES`] vertices).
    fn dense_square(x0: f64) -> MultiPolygon<f64> {
        let side = |i: u32| -> [(f64, f64); 4] {
            let t = f64::from(i);
            [
                (x0 + t, 0.0),
                (x0 + 64.0, t),
                (x0 + 64.0 - t, 64.0),
                (x0, 64.0 - t),
            ]
        };
        let mut ring: Vec<(f64, f64)> = (0..4)
            .flat_map(|k| (0..64).map(move |i| side(i)[k]))
            .collect();
        ring.push(ring[0]);
        MultiPolygon(vec![Polygon::new(LineString::from(ring), vec![])])
    }

    #[test]
    fn an_indexed_outline_places_edge_points_by_the_shared_edge_rule() {
        let index = PolygonIndex::new(vec![dense_square(64.0), dense_square(0.0)], vec![1, 0]);
        assert!(matches!(index.prepared[0], Prepared::Indexed(..)));
        // On the shared edge, between two vertices and on a vertex: the lower rank wins.
        assert_eq!(index.locate(Coord { x: 64.0, y: 10.5 }), Some(1));
        assert_eq!(index.locate(Coord { x: 64.0, y: 10.0 }), Some(1));
        // On the outer edge of one square only, strictly inside one, outside both.
        assert_eq!(index.locate(Coord { x: 100.0, y: 64.0 }), Some(0));
        assert_eq!(index.locate(Coord { x: 100.0, y: 32.0 }), Some(0));
        assert_eq!(index.locate(Coord { x: 130.0, y: 32.0 }), None);
        for (x, y) in [(64.0, 10.5), (100.0, 64.0), (100.0, 32.0), (130.0, 32.0)] {
            let c = Coord { x, y };
            assert_eq!(
                index.position(0, c),
                index.polygon(0).coordinate_position(&c)
            );
        }
    }

    #[test]
    fn a_ring_that_doubles_back_is_not_taken_for_a_rectangle() {
        let ring = LineString::from(vec![
            (122.0, 41.0),
            (122.001, 41.0),
            (122.001, 41.001),
            (122.001, 41.0),
            (122.0, 41.0),
        ]);
        assert_eq!(
            axis_aligned_rect(&MultiPolygon(vec![Polygon::new(ring, vec![])])),
            None
        );
    }

    #[test]
    fn a_point_in_a_hole_falls_to_the_coarser_level() {
        let j = two_streets();
        let r = j.resolve(Coord {
            x: 122.003,
            y: 41.003,
        });
        assert_eq!(code(&j, &r), "999999", "the district still holds the hole");
        assert_eq!(
            j.chain(j.by_code(&UnitCode::parse("999999001").unwrap()).unwrap())
                .len(),
            2
        );
    }

    #[test]
    fn just_outside_is_snapped_and_far_outside_is_refused_with_a_distance() {
        let j = two_streets();
        // 0.0002° of latitude ≈ 22 m south of the southern edge of the eastern street.
        let Resolution::Inside(p) = j.resolve(Coord {
            x: 122.015,
            y: 40.9998,
        }) else {
            panic!("22 m outside should snap")
        };
        assert_eq!(j.unit(p.unit).code.as_str(), "999999002");
        let d = p.snapped_m.unwrap();
        assert!((d - 22.24).abs() < 0.1, "snapped distance {d}");
        // 0.01° ≈ 1.11 km south: refused, nearest unit is the district.
        let Resolution::OutOfArea {
            nearest,
            distance_m,
        } = j.resolve(Coord {
            x: 122.015,
            y: 40.99,
        })
        else {
            panic!("1 km outside must be refused")
        };
        assert_eq!(j.unit(nearest).code.as_str(), "999999");
        assert!((distance_m - 1111.95).abs() < 1.0, "{distance_m}");
    }
}
