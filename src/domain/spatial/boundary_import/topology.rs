//! How the imported units lie against each other and against the units already loaded:
//! children inside their parents, siblings without overlaps, parents covered without
//! gaps, and no unit without a parent. Measured on an equal-area [`Plane`] so tolerances
//! are metres and areas are square metres.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::f64::consts::PI;

use geo::coordinate_position::{CoordPos, CoordinatePosition};
use geo::{
    Area, BooleanOps, BoundingRect, Coord, Euclidean, Length, MapCoords, MultiPolygon, unary_union,
};
use rstar::primitives::{GeomWithData, Line, Rectangle};
use rstar::{AABB, Envelope, RTree};

use super::{Candidate, FindingKind, ImportOptions, ImportReport, Severity};
use crate::domain::spatial::units::{Unit, UnitCode, UnitLevel};

/// Authalic radius of the WGS-84 ellipsoid: the sphere with the ellipsoid's surface area.
const AUTHALIC_RADIUS_M: f64 = 6_371_007.2;

/// A cylindrical equal-area projection of the sphere with its standard parallel through
/// the import (Snyder 1987, ch. 10): x = R·Δλ·cos φ₀, y = R·(sin φ − sin φ₀)/cos φ₀. Areas
/// are true everywhere; lengths are true along φ₀ and within 0.1 % over the ±0.5° of a
/// district, ample for thicknesses compared to a tolerance of metres.
pub(super) struct Plane {
    lon0: f64,
    sin_lat0: f64,
    cos_lat0: f64,
}

impl Plane {
    pub(super) fn around(geometries: &[&MultiPolygon<f64>]) -> Option<Self> {
        let (min, max) = geometries
            .iter()
            .filter_map(|g| g.bounding_rect())
            .map(|r| (r.min(), r.max()))
            .reduce(|(a0, a1), (b0, b1)| {
                (
                    Coord {
                        x: a0.x.min(b0.x),
                        y: a0.y.min(b0.y),
                    },
                    Coord {
                        x: a1.x.max(b1.x),
                        y: a1.y.max(b1.y),
                    },
                )
            })?;
        let lat0 = ((min.y + max.y) / 2.0).to_radians();
        Some(Self {
            lon0: (min.x + max.x) / 2.0,
            sin_lat0: lat0.sin(),
            cos_lat0: lat0.cos(),
        })
    }

    pub(super) fn shape(&self, geometry: &MultiPolygon<f64>) -> Shape {
        let plane = geometry.map_coords(|c| Coord {
            x: AUTHALIC_RADIUS_M * (c.x - self.lon0).to_radians() * self.cos_lat0,
            y: AUTHALIC_RADIUS_M * (c.y.to_radians().sin() - self.sin_lat0) / self.cos_lat0,
        });
        let envelope = plane.bounding_rect().map_or_else(
            || AABB::from_point([0.0, 0.0]),
            |r| AABB::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y]),
        );
        Shape {
            area: plane.unsigned_area(),
            plane,
            envelope,
        }
    }
}

/// A geometry on the [`Plane`], in metres.
pub(super) struct Shape {
    plane: MultiPolygon<f64>,
    pub(super) area: f64,
    envelope: AABB<[f64; 2]>,
}

/// Size of a region made of pieces (the part outside a parent, an overlap, a gap).
#[derive(Debug, Clone, Copy, Default)]
struct Pieces {
    area: f64,
    /// The thickest piece, `2 · area / perimeter`.
    thickness: f64,
}

impl Pieces {
    fn of(region: &MultiPolygon<f64>) -> Self {
        region.0.iter().fold(Self::default(), |acc, piece| {
            let area = piece.unsigned_area();
            let perimeter: f64 = std::iter::once(piece.exterior())
                .chain(piece.interiors())
                .map(|r| Euclidean.length(r))
                .sum();
            let thickness = if perimeter > 0.0 {
                2.0 * area / perimeter
            } else {
                0.0
            };
            Self {
                area: acc.area + area,
                thickness: acc.thickness.max(thickness),
            }
        })
    }

    fn describe(self) -> String {
        format!("{:.0} m², up to {:.1} m thick", self.area, self.thickness)
    }
}

/// A loaded parent prepared for "is this child inside me".
struct Parent<'u> {
    unit: &'u Unit,
    shape: Shape,
    edges: RTree<Line<[f64; 2]>>,
}

impl<'u> Parent<'u> {
    fn new(unit: &'u Unit, plane: &Plane) -> Self {
        let shape = plane.shape(&unit.geometry);
        let edges = shape
            .plane
            .0
            .iter()
            .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
            .flat_map(|r| r.lines())
            .map(|l| Line::new([l.start.x, l.start.y], [l.end.x, l.end.y]))
            .collect();
        Self {
            unit,
            shape,
            edges: RTree::bulk_load(edges),
        }
    }

    /// The part of `child` outside this parent.
    fn outside(&self, child: &Shape) -> Pieces {
        // No parent edge near the child's envelope: the envelope, and the child in it, lie
        // wholly inside or wholly outside the parent, and one vertex tells which.
        let clear = self
            .edges
            .locate_in_envelope_intersecting(&child.envelope)
            .next()
            .is_none();
        let probe = child.plane.0.first().and_then(|p| p.exterior().0.first());
        if clear
            && probe.is_some_and(|c| self.shape.plane.coordinate_position(c) == CoordPos::Inside)
        {
            return Pieces::default();
        }
        Pieces::of(&child.plane.difference(&self.shape.plane))
    }
}

/// Parent containment, sibling overlaps and gaps. Gaps are only looked for when every
/// feature is in (`gaps`): a feature refused for its geometry or its code would leave a
/// false gap.
pub(super) fn check_spatial(
    candidates: &[Candidate],
    opts: &ImportOptions,
    existing: &[Unit],
    gaps: bool,
    report: &mut ImportReport,
) {
    let geometries: Vec<&MultiPolygon<f64>> = candidates.iter().map(|c| &c.geometry).collect();
    let Some(plane) = Plane::around(&geometries) else {
        return;
    };
    let tolerance = opts.tolerance_m;
    let shapes: Vec<Shape> = geometries.iter().map(|g| plane.shape(g)).collect();
    let loaded: HashMap<&UnitCode, &Unit> = existing
        .iter()
        .filter(|u| Some(u.level) == opts.level.parent())
        .map(|u| (&u.code, u))
        .collect();
    let mut parents: HashMap<&UnitCode, Parent> = HashMap::new();
    // Per parent, the area its children cover at least: Σ (child − part outside), less
    // the overlaps found below.
    let mut covered: HashMap<&UnitCode, f64> = HashMap::new();
    for (c, shape) in candidates.iter().zip(&shapes) {
        let Some(code) = &c.parent else { continue };
        let error = |report: &mut ImportReport, kind, message: String| {
            report.push(
                Some(c.feature),
                Some(c.code.as_str()),
                Severity::Error,
                kind,
                message,
            );
        };
        let Some(&unit) = loaded.get(code) else {
            error(
                report,
                FindingKind::ParentNotLoaded,
                format!(
                    "parent {code} is not loaded; import the {}s first",
                    opts.level.parent().map_or("", UnitLevel::as_str)
                ),
            );
            continue;
        };
        let parent = parents
            .entry(code)
            .or_insert_with(|| Parent::new(unit, &plane));
        let outside = parent.outside(shape);
        // A child wholly outside is wrong however thin it is.
        if outside.thickness > tolerance || outside.area >= shape.area * (1.0 - 1e-9) {
            error(
                report,
                FindingKind::OutsideParent,
                format!(
                    "lies outside its parent {} {code}: {} (tolerance {tolerance} m)",
                    unit.name,
                    outside.describe()
                ),
            );
        }
        *covered.entry(code).or_default() += shape.area - outside.area;
    }
    for (i, j, overlap) in sibling_overlaps(&shapes) {
        let (a, b) = (&candidates[i], &candidates[j]);
        // Only overlaps between children of the same parent count twice in its Σ.
        if let Some(area) = a
            .parent
            .as_ref()
            .filter(|_| a.parent == b.parent)
            .and_then(|p| covered.get_mut(p))
        {
            *area -= overlap.area;
        }
        if overlap.thickness > tolerance {
            report.push(
                Some(b.feature),
                Some(b.code.as_str()),
                Severity::Error,
                FindingKind::SiblingOverlap,
                format!(
                    "overlaps {} {} (feature {}): {} (tolerance {tolerance} m)",
                    a.name,
                    a.code,
                    a.feature,
                    overlap.describe()
                ),
            );
        }
    }
    if gaps {
        report_gaps(
            candidates, &shapes, opts, &loaded, &parents, &covered, report,
        );
    }
}

/// Pairs of shapes `(i, j)`, `i < j`, whose overlap has area.
fn sibling_overlaps(shapes: &[Shape]) -> Vec<(usize, usize, Pieces)> {
    let tree = RTree::bulk_load(
        shapes
            .iter()
            .enumerate()
            .map(|(i, s)| GeomWithData::new(Rectangle::from_aabb(s.envelope), i))
            .collect(),
    );
    let mut overlaps = Vec::new();
    for (i, shape) in shapes.iter().enumerate() {
        for other in tree.locate_in_envelope_intersecting(&shape.envelope) {
            let j = other.data;
            // Envelopes that only touch (grid cells side by side) cannot overlap.
            if j <= i || shape.envelope.intersection_area(&shapes[j].envelope) <= 0.0 {
                continue;
            }
            let overlap = Pieces::of(&shape.plane.intersection(&shapes[j].plane));
            if overlap.area > 0.0 {
                overlaps.push((i, j, overlap));
            }
        }
    }
    overlaps
}

fn report_gaps(
    candidates: &[Candidate],
    shapes: &[Shape],
    opts: &ImportOptions,
    loaded: &HashMap<&UnitCode, &Unit>,
    parents: &HashMap<&UnitCode, Parent>,
    covered: &HashMap<&UnitCode, f64>,
    report: &mut ImportReport,
) {
    let level = opts.level;
    let tolerance = opts.tolerance_m;
    let mut children: BTreeMap<&UnitCode, Vec<&MultiPolygon<f64>>> = BTreeMap::new();
    for (c, s) in candidates.iter().zip(shapes) {
        if let Some(p) = &c.parent {
            children.entry(p).or_default().push(&s.plane);
        }
    }
    let mut childless: Vec<&&Unit> = loaded
        .values()
        .filter(|u| !children.contains_key(&u.code))
        .collect();
    childless.sort_by_key(|u| &u.code);
    for unit in childless {
        report.push(
            None,
            Some(unit.code.as_str()),
            Severity::Warning,
            FindingKind::SiblingGap,
            format!(
                "no {level} of this import lies in {} {}: points there resolve only to it",
                unit.name, unit.code
            ),
        );
    }
    for (code, members) in children {
        let Some(parent) = parents.get(code) else {
            continue;
        };
        // Every gap piece of area A is at most √(A/π) thick (isoperimetric inequality), so
        // a parent whose uncovered area is at most π·tolerance² has no gap to report.
        let uncovered_at_most = parent.shape.area - covered.get(code).copied().unwrap_or(0.0);
        if uncovered_at_most <= PI * tolerance * tolerance {
            continue;
        }
        let gap = Pieces::of(&parent.shape.plane.difference(&unary_union(members)));
        if gap.thickness > tolerance {
            report.push(
                None,
                Some(code.as_str()),
                Severity::Warning,
                FindingKind::SiblingGap,
                format!(
                    "part of {} {code} is in no {level}: {} (tolerance {tolerance} m); \
                     points there resolve only to the {}",
                    parent.unit.name,
                    gap.describe(),
                    parent.unit.level
                ),
            );
        }
    }
}

/// Units loaded at the level below that name a parent the import does not contain: the
/// import replaces the level, so they would be left without one.
pub(super) fn report_orphans(
    candidates: &[Candidate],
    opts: &ImportOptions,
    existing: &[Unit],
    report: &mut ImportReport,
) {
    let Some(child_level) = opts.level.child() else {
        return;
    };
    let imported: HashSet<&UnitCode> = candidates.iter().map(|c| &c.code).collect();
    let mut orphans: BTreeMap<&UnitCode, usize> = BTreeMap::new();
    for u in existing.iter().filter(|u| u.level == child_level) {
        if let Some(p) = u.parent.as_ref().filter(|p| !imported.contains(p)) {
            *orphans.entry(p).or_default() += 1;
        }
    }
    for (parent, n) in orphans {
        report.push(
            None,
            Some(parent.as_str()),
            Severity::Warning,
            FindingKind::OrphanedChildren,
            format!(
                "{n} loaded {child_level} unit(s) name parent {parent}, which this import \
                 drops; re-import the {child_level}s"
            ),
        );
    }
}
