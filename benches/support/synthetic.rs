//! Benchmark inputs shared by `benches/hotspots.rs` and `examples/hotspots_peer.rs`: the
//! real 兴隆台区 outline and one million synthetic reports spread like real ones.

use std::f64::consts::TAU;

use citysnap::domain::analytics::hotspots::StudyArea;
use citysnap::domain::spatial::datum::Datum;
use geo::{BoundingRect, Contains, Coord, MapCoords, MultiPolygon, Point};
use h3o::LatLng;

/// The demo district's administrative code.
pub const XINGLONGTAI: &str = "211103";

/// Reports in the synthetic benchmark.
pub const REPORTS: usize = 1_000_000;

/// The 兴隆台区 outline in WGS-84, read from the shipped GCJ-02 boundaries.
pub fn xinglongtai() -> MultiPolygon<f64> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/data/boundaries/panjin_districts.gcj02.geojson"
    );
    let text = std::fs::read_to_string(path).expect("the shipped boundaries are readable");
    let collection: geojson::FeatureCollection = text.parse().expect("valid GeoJSON");
    let feature = collection
        .features
        .into_iter()
        .find(|f| f.property("code").and_then(|c| c.as_str()) == Some(XINGLONGTAI))
        .expect("兴隆台区 is in the file");
    let gcj02: MultiPolygon<f64> = feature
        .geometry
        .expect("the district has a geometry")
        .value
        .try_into()
        .expect("a (multi)polygon");
    gcj02.map_coords(|c| {
        let (x, y) = Datum::Gcj02.to_wgs84(c.x, c.y);
        Coord { x, y }
    })
}

/// A standard normal draw (Box–Muller).
fn normal(rng: &mut fastrand::Rng) -> f64 {
    let u = 1.0 - rng.f64();
    (-2.0 * u.ln()).sqrt() * (TAU * rng.f64()).cos()
}

/// `REPORTS` report locations (lon, lat) inside `area`, seeded: 25 % around 40 "markets"
/// (Gaussian, σ ≈ 150 m), 45 % along 30 "streets" (straight segments, σ ≈ 25 m across) and
/// 30 % spread uniformly, the mix a city's 随手拍 map shows.
pub fn reports(area: &MultiPolygon<f64>, seed: u64) -> Vec<(f64, f64)> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let bbox = area.bounding_rect().expect("a non-empty outline");
    let (w, h) = (bbox.width(), bbox.height());
    // Degrees per metre at Panjin's latitude (41.1° N).
    let (dx, dy) = (1.0 / 84_000.0, 1.0 / 111_000.0);
    let inside = |rng: &mut fastrand::Rng| loop {
        let p = (bbox.min().x + rng.f64() * w, bbox.min().y + rng.f64() * h);
        if area.contains(&Point::new(p.0, p.1)) {
            return p;
        }
    };
    let markets: Vec<(f64, f64)> = (0..40).map(|_| inside(&mut rng)).collect();
    let streets: Vec<((f64, f64), (f64, f64))> = (0..30)
        .map(|_| (inside(&mut rng), inside(&mut rng)))
        .collect();
    let mut out = Vec::with_capacity(REPORTS);
    while out.len() < REPORTS {
        let roll = rng.f64();
        let p = if roll < 0.25 {
            let (x, y) = markets[rng.usize(..markets.len())];
            (
                x + normal(&mut rng) * 150.0 * dx,
                y + normal(&mut rng) * 150.0 * dy,
            )
        } else if roll < 0.70 {
            let ((x0, y0), (x1, y1)) = streets[rng.usize(..streets.len())];
            let t = rng.f64();
            (
                x0 + t * (x1 - x0) + normal(&mut rng) * 25.0 * dx,
                y0 + t * (y1 - y0) + normal(&mut rng) * 25.0 * dy,
            )
        } else {
            inside(&mut rng)
        };
        if area.contains(&Point::new(p.0, p.1)) {
            out.push(p);
        }
    }
    out
}

/// Per-cell counts of the synthetic reports over `study`'s cells.
pub fn counts(study: &StudyArea, reports: &[(f64, f64)]) -> Vec<f64> {
    let res = study.resolution();
    study.counts(
        reports
            .iter()
            .filter_map(|&(lon, lat)| LatLng::new(lat, lon).ok().map(|ll| (ll.to_cell(res), 1))),
    )
}

/// The synthetic reports as rows of the heat-map aggregate (one row per served resolution
/// and report, as intake writes them): the report's cell at each resolution, a day of 2026
/// and one of `categories`, both drawn uniformly with `seed`. Used by `benches/tiles.rs` and
/// `examples/tiles_data.rs`, not by every file that includes this one.
#[allow(dead_code)]
pub fn aggregate_rows(
    reports: &[(f64, f64)],
    categories: &[String],
    seed: u64,
) -> Vec<citysnap::store::analytics::AggregateRow> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let first = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).expect("a valid date");
    reports
        .iter()
        .flat_map(|&(lon, lat)| {
            let day = first + chrono::Days::new(rng.u64(..365));
            let category = &categories[rng.usize(..categories.len())];
            citysnap::store::analytics::aggregate_rows_of(lon, lat, day, category)
                .unwrap_or_default()
        })
        .collect()
}

/// The zoom-`z` tile holding the most of `reports`, and how many it holds: the heaviest
/// heat-map tile a map of the district asks for at that zoom.
#[allow(dead_code)]
pub fn busiest_tile(
    reports: &[(f64, f64)],
    z: u8,
) -> (citysnap::domain::spatial::tiles::TileId, usize) {
    let mut per_tile = std::collections::HashMap::new();
    for &(lon, lat) in reports {
        *per_tile
            .entry(citysnap::domain::spatial::tiles::TileId::containing(
                lon, lat, z,
            ))
            .or_insert(0) += 1;
    }
    per_tile
        .into_iter()
        .max_by_key(|&(t, n)| (n, t))
        .expect("some reports")
}
