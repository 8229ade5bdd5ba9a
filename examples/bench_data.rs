//! Writes the resolution benchmark's inputs for other tools and times the Rust side on
//! them, so `scripts/bench_resolve.py` can run shapely and PostGIS on the same polygons and
//! points and compute ratios in one run.
//!
//! `cargo run --release --example bench_data -- DIR` writes into `DIR`:
//! - `grids.tsv`: `code<TAB>WKT` of every demo grid (WGS-84, lon lat);
//! - `districts.tsv`: the same for the real outlines of Panjin's four districts;
//! - `points.csv`: `id,lon,lat`, the 100,000 benchmark points;
//! - `rust_grids.csv`: `id,code`, the grid Rust puts each point in (empty: none);
//!
//! and prints one JSON line with the single-thread throughputs (points/s, best of 5).
//! Coordinates are written with Rust's shortest round-trip formatting, so every reader
//! parses back the very same doubles.

#[path = "../benches/support/mod.rs"]
mod support;

use std::fmt::Write as _;
use std::hint::black_box;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use citysnap::domain::spatial::resolver::Resolution;
use citysnap::domain::spatial::units::UnitLevel;
use geo::{Coord, LineString, MultiPolygon};

/// Runs per measurement; the best one counts (the least disturbed by other processes).
const RUNS: usize = 5;

fn main() -> anyhow::Result<()> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .context("usage: bench_data OUTPUT_DIR")?,
    );
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;

    let built = Instant::now();
    let (units, points) = support::demo();
    let build_s = built.elapsed().as_secs_f64();
    let (grids, grid_index) = support::grid_index(&units);
    let jurisdiction = support::jurisdiction(units);
    let (district_codes, districts) = support::panjin_districts();

    write_polygons(&dir.join("grids.tsv"), &grids)?;
    let district_polygons: Vec<(String, MultiPolygon<f64>)> = district_codes
        .iter()
        .enumerate()
        .map(|(i, code)| (code.clone(), districts.polygon(i as u32).clone()))
        .collect();
    write_polygons(&dir.join("districts.tsv"), &district_polygons)?;
    write_csv(&dir.join("points.csv"), "id,lon,lat", &points, |i, p| {
        format!("{i},{},{}", p.x, p.y)
    })?;
    write_csv(&dir.join("rust_grids.csv"), "id,code", &points, |i, &p| {
        let code = jurisdiction
            .locate(p)
            .map(|u| jurisdiction.unit(u))
            .filter(|u| u.level == UnitLevel::Grid)
            .map_or("", |u| u.code.as_str());
        format!("{i},{code}")
    })?;

    let grid_matches = points
        .iter()
        .filter(|&&p| grid_index.locate(p).is_some())
        .count();
    let result = serde_json::json!({
        "points": points.len(),
        "grids": grids.len(),
        "grid_matches": grid_matches,
        "demo_build_s": build_s,
        "grid_index_locate_pps": best_rate(&points, |p| grid_index.locate(p).is_some()),
        "jurisdiction_locate_pps": best_rate(&points, |p| jurisdiction.locate(p).is_some()),
        "jurisdiction_resolve_pps": best_rate(&points, |p| {
            matches!(jurisdiction.resolve(p), Resolution::Inside(_))
        }),
        "districts_locate_pps": best_rate(&points, |p| districts.locate(p).is_some()),
    });
    let mut out = std::io::stdout().lock();
    writeln!(out, "{result}")?;
    Ok(())
}

/// Points per second of `resolve` over all `points` on this thread, best of [`RUNS`].
fn best_rate(points: &[Coord<f64>], resolve: impl Fn(Coord<f64>) -> bool) -> f64 {
    let best = (0..RUNS)
        .map(|_| {
            let start = Instant::now();
            let hits = points.iter().filter(|&&p| resolve(black_box(p))).count();
            black_box(hits);
            start.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min);
    points.len() as f64 / best
}

fn write_csv<T>(
    path: &Path,
    header: &str,
    rows: &[T],
    line: impl Fn(usize, &T) -> String,
) -> anyhow::Result<()> {
    let mut out = BufWriter::new(
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
    );
    writeln!(out, "{header}")?;
    for (i, row) in rows.iter().enumerate() {
        writeln!(out, "{}", line(i, row))?;
    }
    out.flush()?;
    Ok(())
}

fn write_polygons(path: &Path, polygons: &[(String, MultiPolygon<f64>)]) -> anyhow::Result<()> {
    write_csv(path, "code\twkt", polygons, |_, (code, mp)| {
        format!("{code}\t{}", wkt(mp))
    })
}

/// OGC Simple Features WKT (06-103r4 §7) of a multipolygon, coordinates as lon lat.
fn wkt(mp: &MultiPolygon<f64>) -> String {
    let ring = |out: &mut String, ls: &LineString<f64>| {
        out.push('(');
        for (i, c) in ls.0.iter().enumerate() {
            let sep = if i == 0 { "" } else { "," };
            let _ = write!(out, "{sep}{} {}", c.x, c.y);
        }
        out.push(')');
    };
    let mut out = String::from("MULTIPOLYGON(");
    for (i, polygon) in mp.0.iter().enumerate() {
        out.push_str(if i == 0 { "(" } else { ",(" });
        ring(&mut out, polygon.exterior());
        for hole in polygon.interiors() {
            out.push(',');
            ring(&mut out, hole);
        }
        out.push(')');
    }
    out.push(')');
    out
}
