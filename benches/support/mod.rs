//! Inputs shared by the criterion benchmark (`benches/resolve.rs`) and the cross-check
//! example (`examples/bench_data.rs`), so both measure the very same polygons and points.

use std::path::Path;

use citysnap::cli::resolve::load_polygons;
use citysnap::demo::jurisdiction::{build_demo, demo_district};
use citysnap::domain::spatial::datum::Datum;
use citysnap::domain::spatial::resolver::{Jurisdiction, PolygonIndex, ResolverSettings};
use citysnap::domain::spatial::units::{Unit, UnitLevel};
use geo::{BoundingRect, Coord, MultiPolygon, Rect};

/// Number of points per run: large enough that one pass takes milliseconds.
pub const POINTS: usize = 100_000;

/// Fixed seed, so every run and every tool sees the same points.
pub const SEED: u64 = 0x5eed_c175_0a9b_2026;

/// Marsaglia's xorshift64 (J. Stat. Softw. 8(14), 2003, triple 13/7/17): tiny and
/// deterministic, which is all a benchmark needs from a generator.
struct Xorshift64(u64);

impl Xorshift64 {
    fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Uniform in [0, 1): the top 53 bits as the mantissa of a double.
    fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// `n` pseudo-random points, uniform in `bbox`.
pub fn random_points(bbox: Rect<f64>, n: usize, seed: u64) -> Vec<Coord<f64>> {
    let mut rng = Xorshift64(seed.max(1));
    (0..n)
        .map(|_| Coord {
            x: bbox.min().x + rng.next_f64() * bbox.width(),
            y: bbox.min().y + rng.next_f64() * bbox.height(),
        })
        .collect()
}

/// The demo jurisdiction (兴隆台区 with its synthetic streets, communities and ~80,000
/// grids), and [`POINTS`] points in the district's bounding box.
pub fn demo() -> (Vec<Unit>, Vec<Coord<f64>>) {
    let district = demo_district();
    let bbox = district
        .geometry
        .bounding_rect()
        .expect("the district has an outline");
    let units = build_demo(&district);
    (units, random_points(bbox, POINTS, SEED))
}

/// Indexes the demo units with the service's default settings.
pub fn jurisdiction(units: Vec<Unit>) -> Jurisdiction {
    Jurisdiction::new(units, None, ResolverSettings::default())
        .expect("the demo units form a valid hierarchy")
}

/// The grids alone, with their codes, indexed as shapely's STRtree and the PostGIS table of
/// `scripts/bench_resolve.py` hold them: the like-for-like comparison. Units come in code
/// order, so the rank for the shared-edge rule is the position, as in the service.
pub fn grid_index(units: &[Unit]) -> (Vec<(String, MultiPolygon<f64>)>, PolygonIndex) {
    let grids: Vec<(String, MultiPolygon<f64>)> = units
        .iter()
        .filter(|u| u.level == UnitLevel::Grid)
        .map(|u| (u.code.to_string(), u.geometry.clone()))
        .collect();
    let index = PolygonIndex::new(
        grids.iter().map(|(_, g)| g.clone()).collect(),
        (0..grids.len() as u32).collect(),
    );
    (grids, index)
}

/// The real outlines of Panjin's four districts, converted from GCJ-02 to WGS-84, with
/// their codes.
pub fn panjin_districts() -> (Vec<String>, PolygonIndex) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data/boundaries/panjin_districts.gcj02.geojson");
    load_polygons(&path, Datum::Gcj02, "code").expect("the shipped Panjin outlines load")
}
