//! The demo jurisdiction: the real outline of 兴隆台区 (Xinglongtai district, Panjin, code
//! 211103), subdivided deterministically into streets (街道), communities (社区) and unit
//! grids of about 100 m × 100 m (万米单元网格, CJ/T 213), coded in the 15-digit scheme.
//!
//! Everything below district level is **synthetic**: the street names and the first
//! community names are real names used in the district, but every shape, code and grid is
//! invented, and such units carry `synthetic = true`.
//!
//! How the subdivision stays an exact tiling:
//! - A lattice of meridians and parallels 100 m apart (a local equirectangular metric frame
//!   around the district's mid-latitude) covers the district. Every street and community
//!   is a lattice-aligned rectangle intersected with the district, found by recursive
//!   bisection along lattice lines that balances grid counts; every grid is one lattice
//!   cell intersected with the district. So all cuts are axis-aligned in lon/lat and the
//!   corners where units meet are exact, with no reprojection error.
//! - Cells the outline does not touch are plain squares; only the cells on the outline,
//!   and the streets and communities, are clipped (geo `BooleanOps`).
//! - The clipper works on a snapped integer grid and returns coordinates a fraction of a
//!   millimetre off. Each returned vertex is therefore replaced by its exact, canonical
//!   value: a lattice corner, an outline vertex, or the crossing of an outline edge with a
//!   lattice line computed by one formula from that edge alone. Neighbours, and parents and
//!   children, thus share bit-identical vertices. The lattice is shifted so that no outline
//!   vertex lies within [`CLEARANCE_DEG`] of a lattice line, which makes that
//!   classification unambiguous.

use geo::orient::{Direction, Orient};
use geo::{BooleanOps, BoundingRect, Coord, CoordsIter, InteriorPoint, LineString};
use geo::{MultiPolygon, Polygon};

use crate::domain::spatial::datum::Datum;
use crate::domain::spatial::units::{Unit, UnitCode, UnitLevel};

/// 兴隆台区, Panjin: the district of the demo.
pub const DEMO_DISTRICT_CODE: &str = "211103";

/// The real outlines of Panjin's districts (GCJ-02), shipped with the crate; see
/// `data/boundaries/README.md` for their source and licence.
const PANJIN_DISTRICTS: &str = include_str!("../../data/boundaries/panjin_districts.gcj02.geojson");

/// The side of a unit grid: 万米单元网格 are about 10,000 m² (CJ/T 213).
const GRID_SIDE_M: f64 = 100.0;

/// Metres per degree of latitude on the mean-radius sphere (2πR / 360, R = 6,371,008.8 m).
const M_PER_DEG: f64 = 111_195.08;

/// Real street (街道) names of 兴隆台区; the demo has exactly one street per name.
const STREET_NAMES: [&str; 10] = [
    "兴隆", "渤海", "振兴", "兴海", "曙光", "惠宾", "新工", "创新", "友谊", "茨采",
];

/// Real community (社区) names of 兴隆台区, given to the first communities.
const REAL_COMMUNITY_NAMES: [&str; 5] = ["景园", "兴油", "恒大", "瀚新", "团结"];

/// Characters that combine into plausible generated community names (锦园, 康乐, 瑞泉 …).
const NAME_FIRST: [char; 20] = [
    '锦', '华', '惠', '康', '和', '安', '福', '祥', '瑞', '泰', '润', '明', '阳', '金', '春', '盛',
    '宏', '嘉', '欣', '丽',
];
const NAME_SECOND: [char; 20] = [
    '园', '苑', '城', '湖', '林', '泉', '河', '丰', '乐', '兴', '华', '海', '景', '庭', '湾', '馨',
    '居', '都', '港', '源',
];
/// Step through the 400 combinations in a scattered but fixed order (coprime with 400),
/// so consecutive communities do not all start with the same character.
const NAME_STRIDE: usize = 137;

/// A community gets about this many grids; the 15-digit scheme allows at most
/// [`MAX_GRIDS_PER_COMMUNITY`] (3 digits of sequence), and bisection stays well under it.
const COMMUNITY_TARGET_GRIDS: u32 = 800;
const MAX_GRIDS_PER_COMMUNITY: u32 = 999;

/// A clipped vertex this close to a lattice line or an outline vertex is taken to be on it.
/// The clipper's integer grid over the district's extent (under a degree) is finer than
/// 1e-9°, so 1e-8° (about 1 mm) is a wide margin that still tells distinct points apart.
const SNAP_DEG: f64 = 1e-8;

/// No outline vertex may lie this close to a lattice line (the lattice is shifted until
/// none does), so a vertex near a lattice line is never an outline vertex.
const CLEARANCE_DEG: f64 = 4.0 * SNAP_DEG;

/// Loads the real outline of 兴隆台区 shipped in
/// `data/boundaries/panjin_districts.gcj02.geojson`, converts it from GCJ-02 to WGS-84, and
/// returns it as the district unit (exterior rings counter-clockwise, RFC 7946 §3.1.6).
///
/// # Panics
/// Only if the file embedded at compile time lacks the district, which the tests rule out.
pub fn demo_district() -> Unit {
    let collection: geojson::FeatureCollection = PANJIN_DISTRICTS
        .parse()
        .expect("the embedded Panjin outlines are a valid FeatureCollection");
    let feature = collection
        .features
        .into_iter()
        .find(|f| f.property("code").and_then(|c| c.as_str()) == Some(DEMO_DISTRICT_CODE))
        .expect("the embedded Panjin outlines contain 兴隆台区");
    let name = feature
        .property("name")
        .and_then(|n| n.as_str())
        .unwrap_or("兴隆台区")
        .to_owned();
    let gcj02 = MultiPolygon::<f64>::try_from(feature)
        .expect("兴隆台区 is a (Multi)Polygon in the embedded outlines");
    let wgs84 = geo::MapCoords::map_coords(&gcj02, |c| {
        let (x, y) = Datum::Gcj02.to_wgs84(c.x, c.y);
        Coord { x, y }
    });
    Unit {
        code: UnitCode::parse(DEMO_DISTRICT_CODE).expect("a 6-digit code"),
        name,
        level: UnitLevel::District,
        parent: None,
        geometry: wgs84.orient(Direction::Default),
        synthetic: false,
    }
}

/// All units of the demo: the district itself, then its streets, communities and grids
/// (each level in code order). Deterministic: the same district gives the same units.
///
/// # Panics
/// If the district is so large that a street would need more than 999 communities (some
/// 8,000 km²), which the 15-digit scheme cannot code.
pub fn build_demo(district: &Unit) -> Vec<Unit> {
    let Some(outline) = Outline::new(&district.geometry) else {
        return vec![district.clone()];
    };
    let cells = outline.cells();
    let grids = CellCounts::new(outline.lattice.nx(), outline.lattice.ny(), |c| {
        cells[c].is_grid()
    });
    let all = Region {
        i0: 0,
        i1: outline.lattice.nx(),
        j0: 0,
        j1: outline.lattice.ny(),
    };
    let mut streets = Vec::new();
    grids.bisect(all, STREET_NAMES.len() as u32, u32::MAX, &mut streets);

    let mut community_names = community_names();
    let mut street_units = Vec::new();
    let mut community_units = Vec::new();
    let mut grid_units = Vec::new();
    for (s, (&street, street_name)) in streets.iter().zip(STREET_NAMES).enumerate() {
        let street_code = child_code(&district.code, s);
        let street_geometry = outline.clip(&district.geometry, street);
        let parts = grids.count(street).div_ceil(COMMUNITY_TARGET_GRIDS).max(1);
        let mut communities = Vec::new();
        grids.bisect(street, parts, MAX_GRIDS_PER_COMMUNITY, &mut communities);
        for (c, &community) in communities.iter().enumerate() {
            let community_code = child_code(&street_code, c);
            let community_name = format!(
                "{}社区",
                community_names
                    .next()
                    .expect("the name generator never ends")
            );
            let cells_north_to_south = (community.j0..community.j1)
                .rev()
                .flat_map(|j| (community.i0..community.i1).map(move |i| (i, j)));
            let mut seq = 0;
            for (i, j) in cells_north_to_south {
                let geometry = match &cells[outline.lattice.cell(i, j)] {
                    Cell::Inside => MultiPolygon(vec![outline.lattice.rect(Region::cell(i, j))]),
                    Cell::Boundary(clipped) if !clipped.0.is_empty() => clipped.clone(),
                    _ => continue,
                };
                grid_units.push(Unit {
                    code: child_code(&community_code, seq),
                    name: format!("{community_name}第{:03}网格", seq + 1),
                    level: UnitLevel::Grid,
                    parent: Some(community_code.clone()),
                    geometry,
                    synthetic: true,
                });
                seq += 1;
            }
            community_units.push(Unit {
                code: community_code,
                name: community_name,
                level: UnitLevel::Community,
                parent: Some(street_code.clone()),
                geometry: outline.clip(&street_geometry, community),
                synthetic: true,
            });
        }
        street_units.push(Unit {
            code: street_code,
            name: format!("{street_name}街道"),
            level: UnitLevel::Street,
            parent: Some(district.code.clone()),
            geometry: street_geometry,
            synthetic: true,
        });
    }
    let mut units =
        Vec::with_capacity(1 + street_units.len() + community_units.len() + grid_units.len());
    units.push(district.clone());
    units.extend(street_units);
    units.extend(community_units);
    units.extend(grid_units);
    units
}

/// A point inside the unit named `name` (geo `InteriorPoint`), so tests and examples can
/// find, say, a point in 渤海街道 without hard-coded coordinates.
pub fn interior_point_of(units: &[Unit], name: &str) -> Option<Coord<f64>> {
    units
        .iter()
        .find(|u| u.name == name)?
        .geometry
        .interior_point()
        .map(|p| p.0)
}

/// The code of the `index`-th child (0-based) of `parent`.
fn child_code(parent: &UnitCode, index: usize) -> UnitCode {
    u32::try_from(index + 1)
        .ok()
        .and_then(|seq| parent.child(seq))
        .expect("at most 999 children per unit, guaranteed by the partition")
}

/// Community names: the real ones first, then generated two-character names, scattered
/// over [`NAME_FIRST`] × [`NAME_SECOND`]; should a huge district exhaust them, they repeat
/// with a number appended, so names stay unique.
fn community_names() -> impl Iterator<Item = String> {
    let combinations = NAME_FIRST.len() * NAME_SECOND.len();
    let generated: Vec<String> = (0..combinations)
        .filter_map(|k| {
            let at = k * NAME_STRIDE % combinations;
            let (a, b) = (
                NAME_FIRST[at / NAME_SECOND.len()],
                NAME_SECOND[at % NAME_SECOND.len()],
            );
            (a != b).then(|| format!("{a}{b}"))
        })
        .filter(|n| {
            !REAL_COMMUNITY_NAMES.contains(&n.as_str()) && !STREET_NAMES.contains(&n.as_str())
        })
        .collect();
    let real = REAL_COMMUNITY_NAMES.iter().map(|n| (*n).to_owned());
    real.chain((0..).map(move |k: usize| {
        let name = &generated[k % generated.len()];
        match k / generated.len() {
            0 => name.clone(),
            round => format!("{name}{}", round + 1),
        }
    }))
}

/// A rectangle of lattice cells, half-open: columns `i0..i1`, rows `j0..j1` (south to
/// north).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Region {
    i0: usize,
    i1: usize,
    j0: usize,
    j1: usize,
}

impl Region {
    fn cell(i: usize, j: usize) -> Self {
        Self {
            i0: i,
            i1: i + 1,
            j0: j,
            j1: j + 1,
        }
    }

    /// The two halves of a region at least two cells wide or high, split across its
    /// longer side.
    fn halves(self) -> [Region; 2] {
        if self.width() >= self.height() {
            let k = self.i0 + self.width() / 2;
            [Region { i1: k, ..self }, Region { i0: k, ..self }]
        } else {
            let k = self.j0 + self.height() / 2;
            [Region { j1: k, ..self }, Region { j0: k, ..self }]
        }
    }

    fn width(self) -> usize {
        self.i1 - self.i0
    }

    fn height(self) -> usize {
        self.j1 - self.j0
    }
}

/// Meridians `x[i]` and parallels `y[j]` 100 m apart, covering the district.
struct Lattice {
    x: Vec<f64>,
    y: Vec<f64>,
}

impl Lattice {
    fn covering(district: &MultiPolygon<f64>) -> Option<Self> {
        let bbox = district.bounding_rect()?;
        let dy = GRID_SIDE_M / M_PER_DEG;
        let dx = dy / ((bbox.min().y + bbox.max().y) / 2.0).to_radians().cos();
        let xs: Vec<f64> = district.coords_iter().map(|c| c.x).collect();
        let ys: Vec<f64> = district.coords_iter().map(|c| c.y).collect();
        Some(Self {
            x: lattice_lines(bbox.min().x, bbox.max().x, dx, &xs),
            y: lattice_lines(bbox.min().y, bbox.max().y, dy, &ys),
        })
    }

    fn nx(&self) -> usize {
        self.x.len() - 1
    }

    fn ny(&self) -> usize {
        self.y.len() - 1
    }

    fn cell(&self, i: usize, j: usize) -> usize {
        j * self.nx() + i
    }

    /// The column holding longitude `x` (clamped to the lattice).
    fn col(&self, x: f64) -> usize {
        index_of(&self.x, x)
    }

    fn row(&self, y: f64) -> usize {
        index_of(&self.y, y)
    }

    /// The rectangle of `r`, counter-clockwise (RFC 7946 §3.1.6).
    fn rect(&self, r: Region) -> Polygon<f64> {
        let (x0, x1, y0, y1) = (self.x[r.i0], self.x[r.i1], self.y[r.j0], self.y[r.j1]);
        Polygon::new(
            LineString::from(vec![(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]),
            vec![],
        )
    }
}

/// The cell of sorted `lines` that holds `v`, clamped to the first and last cell.
fn index_of(lines: &[f64], v: f64) -> usize {
    lines
        .partition_point(|&l| l <= v)
        .saturating_sub(1)
        .min(lines.len() - 2)
}

/// Lattice lines `origin + k·step` covering `[min, max]`. The origin is shifted by a
/// fraction of a step (tried in a fixed, golden-ratio order) until no vertex coordinate
/// lies within [`CLEARANCE_DEG`] of a line; failing that, the best shift found is used.
fn lattice_lines(min: f64, max: f64, step: f64, vertices: &[f64]) -> Vec<f64> {
    const GOLDEN: f64 = 0.618_033_988_749_895;
    let clearance = |origin: f64| {
        vertices
            .iter()
            .map(|&v| {
                let t = (v - origin) / step;
                (t - t.round()).abs() * step
            })
            .fold(f64::INFINITY, f64::min)
    };
    let mut best = (f64::NEG_INFINITY, min - step / 2.0);
    for k in 1..=64 {
        let origin = min - step * (k as f64 * GOLDEN).fract();
        let c = clearance(origin);
        if c > best.0 {
            best = (c, origin);
        }
        if c >= CLEARANCE_DEG {
            break;
        }
    }
    let origin = best.1;
    let n = ((max - origin) / step).ceil().max(1.0) as usize;
    (0..=n).map(|k| origin + k as f64 * step).collect()
}

/// A lattice cell's relation to the district.
#[derive(Debug, Clone)]
enum Cell {
    Outside,
    /// Wholly inside: the grid is the cell's square.
    Inside,
    /// Touched by the outline: the grid is the cell clipped to the district (empty if the
    /// outline only grazes the cell from outside).
    Boundary(MultiPolygon<f64>),
}

impl Cell {
    fn is_grid(&self) -> bool {
        match self {
            Cell::Outside => false,
            Cell::Inside => true,
            Cell::Boundary(g) => !g.0.is_empty(),
        }
    }
}

/// The district outline on its lattice, with the outline edges near each cell, for
/// clipping and for restoring exact vertices after clipping.
struct Outline<'a> {
    district: &'a MultiPolygon<f64>,
    lattice: Lattice,
    edges: Vec<(Coord<f64>, Coord<f64>)>,
    /// Per cell, the outline edges that touch it (cells within [`SNAP_DEG`]).
    cell_edges: Vec<Vec<u32>>,
}

impl<'a> Outline<'a> {
    fn new(district: &'a MultiPolygon<f64>) -> Option<Self> {
        let lattice = Lattice::covering(district)?;
        let edges: Vec<(Coord<f64>, Coord<f64>)> = district
            .0
            .iter()
            .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
            .flat_map(|ring| ring.0.windows(2).map(|w| (w[0], w[1])))
            .filter(|(a, b)| a != b)
            .collect();
        let mut cell_edges = vec![Vec::new(); lattice.nx() * lattice.ny()];
        for (e, &(a, b)) in edges.iter().enumerate() {
            let (i0, i1) = (
                lattice.col(a.x.min(b.x) - SNAP_DEG),
                lattice.col(a.x.max(b.x) + SNAP_DEG),
            );
            let (j0, j1) = (
                lattice.row(a.y.min(b.y) - SNAP_DEG),
                lattice.row(a.y.max(b.y) + SNAP_DEG),
            );
            for j in j0..=j1 {
                for i in i0..=i1 {
                    let (x0, x1) = (lattice.x[i] - SNAP_DEG, lattice.x[i + 1] + SNAP_DEG);
                    let (y0, y1) = (lattice.y[j] - SNAP_DEG, lattice.y[j + 1] + SNAP_DEG);
                    if segment_meets_rect(a, b, (x0, x1), (y0, y1)) {
                        cell_edges[lattice.cell(i, j)].push(e as u32);
                    }
                }
            }
        }
        Some(Self {
            district,
            lattice,
            edges,
            cell_edges,
        })
    }

    /// Every lattice cell, classified and, on the outline, clipped. Cells off the outline
    /// are inside or outside as a whole: the even-odd count of outline crossings left of
    /// their centre, along their row's centre line, says which.
    fn cells(&self) -> Vec<Cell> {
        let l = &self.lattice;
        let mut cells = Vec::with_capacity(l.nx() * l.ny());
        let mut crossings = Vec::new();
        for j in 0..l.ny() {
            let yc = (l.y[j] + l.y[j + 1]) / 2.0;
            crossings.clear();
            crossings.extend(
                self.edges
                    .iter()
                    .filter(|(a, b)| (a.y > yc) != (b.y > yc))
                    .map(|(a, b)| a.x + (yc - a.y) * (b.x - a.x) / (b.y - a.y)),
            );
            crossings.sort_by(f64::total_cmp);
            let mut left = 0;
            for i in 0..l.nx() {
                let xc = (l.x[i] + l.x[i + 1]) / 2.0;
                while left < crossings.len() && crossings[left] < xc {
                    left += 1;
                }
                cells.push(if !self.cell_edges[l.cell(i, j)].is_empty() {
                    Cell::Boundary(MultiPolygon(vec![]))
                } else if left % 2 == 1 {
                    Cell::Inside
                } else {
                    Cell::Outside
                });
            }
        }
        let on_outline = CellCounts::new(l.nx(), l.ny(), |c| matches!(cells[c], Cell::Boundary(_)));
        let all = Region {
            i0: 0,
            i1: l.nx(),
            j0: 0,
            j1: l.ny(),
        };
        let clipped = self.clip(self.district, all);
        self.clip_outline_cells(all, &clipped, &on_outline, &mut cells);
        cells
    }

    /// Clips the cells on the outline, given `piece`, the district clipped to `r`: halves
    /// `r` and clips `piece` to each half that holds outline cells, down to single cells.
    /// Each clip then works on a small piece of the outline rather than all of it.
    fn clip_outline_cells(
        &self,
        r: Region,
        piece: &MultiPolygon<f64>,
        on_outline: &CellCounts,
        cells: &mut [Cell],
    ) {
        if r.width() == 1 && r.height() == 1 {
            cells[self.lattice.cell(r.i0, r.j0)] = Cell::Boundary(piece.clone());
            return;
        }
        for half in r.halves() {
            if on_outline.count(half) > 0 {
                let sub = self.clip(piece, half);
                self.clip_outline_cells(half, &sub, on_outline, cells);
            }
        }
    }

    /// `piece` (the district, or the district clipped to a lattice rectangle around `r`)
    /// clipped to the lattice rectangle `r`, with exact vertices.
    fn clip(&self, piece: &MultiPolygon<f64>, r: Region) -> MultiPolygon<f64> {
        let clipped = piece.intersection(&self.lattice.rect(r));
        let polygons = clipped
            .0
            .iter()
            .filter_map(|p| {
                let exterior = self.exact_ring(p.exterior(), r)?;
                let holes = p
                    .interiors()
                    .iter()
                    .filter_map(|h| self.exact_ring(h, r))
                    .collect();
                Some(Polygon::new(exterior, holes))
            })
            .collect();
        MultiPolygon(polygons).orient(Direction::Default)
    }

    /// `ring` with every vertex replaced by its exact value; `None` if it collapses.
    fn exact_ring(&self, ring: &LineString<f64>, r: Region) -> Option<LineString<f64>> {
        let mut coords: Vec<Coord<f64>> = Vec::with_capacity(ring.0.len());
        for &c in ring.0.iter() {
            let exact = self.exact_vertex(c, r);
            if coords.last() != Some(&exact) {
                coords.push(exact);
            }
        }
        while coords.len() > 1 && coords.first() == coords.last() {
            coords.pop();
        }
        if coords.len() < 3 {
            return None;
        }
        coords.push(coords[0]);
        Some(LineString(coords))
    }

    /// The exact value of a vertex of the district clipped to `r`: a corner of `r`, the
    /// crossing of an outline edge with a side of `r`, or an outline vertex inside `r`.
    fn exact_vertex(&self, c: Coord<f64>, r: Region) -> Coord<f64> {
        let l = &self.lattice;
        let on_meridian = [r.i0, r.i1]
            .into_iter()
            .find(|&i| (c.x - l.x[i]).abs() <= SNAP_DEG);
        let on_parallel = [r.j0, r.j1]
            .into_iter()
            .find(|&j| (c.y - l.y[j]).abs() <= SNAP_DEG);
        // Each lookup below only fails if the clipper returned a vertex that is none of
        // these (it never does on the demo district); its own value is then off by less
        // than SNAP_DEG, so keeping it costs at most a sliver that thin.
        match (on_meridian, on_parallel) {
            (Some(i), Some(j)) => Coord {
                x: l.x[i],
                y: l.y[j],
            },
            (Some(i), None) => self
                .crossing(c, l.x[i], |p| p.x, |p| p.y)
                .map_or(c, |y| Coord { x: l.x[i], y }),
            (None, Some(j)) => self
                .crossing(c, l.y[j], |p| p.y, |p| p.x)
                .map_or(c, |x| Coord { x, y: l.y[j] }),
            (None, None) => self.outline_vertex(c).unwrap_or(c),
        }
    }

    /// The outline edges near `c`: those of its cell and the eight around it.
    fn edges_near(&self, c: Coord<f64>) -> impl Iterator<Item = (Coord<f64>, Coord<f64>)> + '_ {
        let l = &self.lattice;
        let (i, j) = (l.col(c.x), l.row(c.y));
        let cols = i.saturating_sub(1)..=(i + 1).min(l.nx() - 1);
        let rows = j.saturating_sub(1)..=(j + 1).min(l.ny() - 1);
        rows.flat_map(move |j| cols.clone().map(move |i| l.cell(i, j)))
            .flat_map(|cell| &self.cell_edges[cell])
            .map(|&e| self.edges[e as usize])
    }

    /// Where the outline edge through `c` crosses the line `along(p) = at` (a meridian or
    /// a parallel): the other coordinate. The edge is the one nearest to `c` among those
    /// that cross the line; distance to the edge, not to its crossing, so that an edge
    /// running almost along the line is still found.
    fn crossing(
        &self,
        c: Coord<f64>,
        at: f64,
        along: impl Fn(Coord<f64>) -> f64,
        across: impl Fn(Coord<f64>) -> f64,
    ) -> Option<f64> {
        let (a, b) = self
            .edges_near(c)
            .filter(|&(a, b)| along(a).min(along(b)) < at && at < along(a).max(along(b)))
            .map(|(a, b)| ((a, b), segment_distance(c, a, b)))
            .filter(|&(_, d)| d <= SNAP_DEG)
            .min_by(|x, y| x.1.total_cmp(&y.1))?
            .0;
        // One formula from the edge alone, with its ends in a fixed order, so every clip
        // that meets this edge on this line gets the same bits.
        let (a, b) = if (along(a), across(a)) <= (along(b), across(b)) {
            (a, b)
        } else {
            (b, a)
        };
        Some(across(a) + (at - along(a)) * (across(b) - across(a)) / (along(b) - along(a)))
    }

    /// The outline vertex within [`SNAP_DEG`] of `c`, if any.
    fn outline_vertex(&self, c: Coord<f64>) -> Option<Coord<f64>> {
        self.edges_near(c)
            .flat_map(|(a, b)| [a, b])
            .map(|v| (v, (v.x - c.x).abs().max((v.y - c.y).abs())))
            .filter(|&(_, d)| d <= SNAP_DEG)
            .min_by(|x, y| x.1.total_cmp(&y.1))
            .map(|(v, _)| v)
    }
}

/// Planar distance from `c` to segment `ab`, in degrees (only compared with [`SNAP_DEG`]).
fn segment_distance(c: Coord<f64>, a: Coord<f64>, b: Coord<f64>) -> f64 {
    let (ab, ac) = (b - a, c - a);
    let t = ((ac.x * ab.x + ac.y * ab.y) / (ab.x * ab.x + ab.y * ab.y)).clamp(0.0, 1.0);
    let d = ac - ab * t;
    d.x.hypot(d.y)
}

/// Whether segment `ab` meets the closed rectangle `[x0, x1] × [y0, y1]` (Liang–Barsky).
fn segment_meets_rect(
    a: Coord<f64>,
    b: Coord<f64>,
    (x0, x1): (f64, f64),
    (y0, y1): (f64, f64),
) -> bool {
    let d = b - a;
    let (mut t0, mut t1) = (0.0_f64, 1.0_f64);
    for (p, q) in [
        (-d.x, a.x - x0),
        (d.x, x1 - a.x),
        (-d.y, a.y - y0),
        (d.y, y1 - a.y),
    ] {
        if p == 0.0 {
            if q < 0.0 {
                return false;
            }
        } else if p < 0.0 {
            t0 = t0.max(q / p);
        } else {
            t1 = t1.min(q / p);
        }
    }
    t0 <= t1
}

/// Counts of lattice cells with some property (being a grid, being on the outline) in any
/// lattice rectangle, from 2-D prefix sums.
struct CellCounts {
    nx: usize,
    /// `prefix[j * (nx + 1) + i]` = counted cells in columns `..i`, rows `..j`.
    prefix: Vec<u32>,
}

impl CellCounts {
    /// Counts the cells `c` (numbered row by row) for which `counted(c)` holds.
    fn new(nx: usize, ny: usize, counted: impl Fn(usize) -> bool) -> Self {
        let mut prefix = vec![0u32; (nx + 1) * (ny + 1)];
        for j in 0..ny {
            for i in 0..nx {
                let here = u32::from(counted(j * nx + i));
                prefix[(j + 1) * (nx + 1) + i + 1] =
                    here + prefix[j * (nx + 1) + i + 1] + prefix[(j + 1) * (nx + 1) + i]
                        - prefix[j * (nx + 1) + i];
            }
        }
        Self { nx, prefix }
    }

    fn count(&self, r: Region) -> u32 {
        let at = |i: usize, j: usize| self.prefix[j * (self.nx + 1) + i];
        at(r.i1, r.j1) + at(r.i0, r.j0) - at(r.i0, r.j1) - at(r.i1, r.j0)
    }

    /// `r` shrunk to the rows and columns that hold grids.
    fn tighten(&self, mut r: Region) -> Region {
        if self.count(r) == 0 {
            return r;
        }
        while self.count(Region { i1: r.i0 + 1, ..r }) == 0 {
            r.i0 += 1;
        }
        while self.count(Region { i0: r.i1 - 1, ..r }) == 0 {
            r.i1 -= 1;
        }
        while self.count(Region { j1: r.j0 + 1, ..r }) == 0 {
            r.j0 += 1;
        }
        while self.count(Region { j0: r.j1 - 1, ..r }) == 0 {
            r.j1 -= 1;
        }
        r
    }

    /// Splits `r` into `parts` regions of nearly equal grid counts by cutting along
    /// lattice lines, the longer side first, and splits on while a region holds more than
    /// `cap` grids. Appends the regions in order: west before east, north before south.
    fn bisect(&self, r: Region, parts: u32, cap: u32, out: &mut Vec<Region>) {
        let r = self.tighten(r);
        let n = self.count(r);
        if n < 2 || (parts <= 1 && n <= cap) {
            out.push(r);
            return;
        }
        let parts = parts.max(2);
        let first_parts = parts / 2;
        // The cut whose first part comes closest to first_parts / parts of the grids,
        // compared in integers so that ties resolve the same way everywhere.
        let miss = |first: Region| {
            (i64::from(self.count(first)) * i64::from(parts)
                - i64::from(n) * i64::from(first_parts))
            .abs()
        };
        let (first, second) = if r.width() >= r.height() {
            let k = (r.i0 + 1..r.i1)
                .min_by_key(|&k| miss(Region { i1: k, ..r }))
                .expect("a region with two grids and width ≥ height is at least 2 wide");
            (Region { i1: k, ..r }, Region { i0: k, ..r })
        } else {
            let k = (r.j0 + 1..r.j1)
                .rev()
                .min_by_key(|&k| miss(Region { j0: k, ..r }))
                .expect("a region taller than wide is at least 2 high");
            (Region { j0: k, ..r }, Region { j1: k, ..r })
        };
        self.bisect(first, first_parts, cap, out);
        self.bisect(second, parts - first_parts, cap, out);
    }
}

#[cfg(test)]
mod tests;
