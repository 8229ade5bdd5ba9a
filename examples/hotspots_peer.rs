//! The Rust side of `scripts/bench_hotspots.py`: builds the resolution-10 study area of
//! 兴隆台区 with one million seeded synthetic reports, times Gi* over it, writes
//! `DIR/hotspots.csv` (`cell,count,z`) for esda to recompute and `DIR/outline.geojson` (the
//! WGS-84 outline, for h3-py's polygon-to-cells), and prints the timings as one JSON line.
//!
//!     cargo run --release --example hotspots_peer -- DIR [REPEATS]

use std::io::Write;
use std::time::Instant;

use citysnap::domain::analytics::hotspots::{KRing, StudyArea, gi_star, study_area_cells};
use h3o::Resolution;

#[path = "../benches/support/synthetic.rs"]
mod synthetic;

/// Median of `repeats` timings of `f`, in milliseconds.
fn median_ms<T>(repeats: usize, mut f: impl FnMut() -> T) -> f64 {
    let mut times: Vec<f64> = (0..repeats)
        .map(|_| {
            let start = Instant::now();
            std::hint::black_box(f());
            start.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = std::path::PathBuf::from(args.next().ok_or("usage: hotspots_peer DIR [REPEATS]")?);
    let repeats: usize = args.next().map_or(Ok(21), |s| s.parse())?;

    let district = synthetic::xinglongtai();
    let k = KRing::new(1)?;
    let cells = study_area_cells(&district, Resolution::Ten)?;
    let area = StudyArea::new(cells.clone(), k)?;
    let reports = synthetic::reports(&district, 20_240_601);
    let counts = synthetic::counts(&area, &reports);

    let polyfill_ms = median_ms(repeats.min(5), || {
        study_area_cells(&district, Resolution::Ten)
    });
    let neighbours_ms = median_ms(repeats, || StudyArea::new(cells.clone(), k));
    let gi_ms = median_ms(repeats, || gi_star(&area, &counts, None));
    let total_ms = median_ms(repeats, || {
        let area = StudyArea::new(cells.clone(), k)?;
        gi_star(&area, &counts, None)
    });

    let result = gi_star(&area, &counts, None)?;
    let outline = geojson::Geometry::from(&district);
    std::fs::write(dir.join("outline.geojson"), outline.to_string())?;
    let mut csv = std::io::BufWriter::new(std::fs::File::create(dir.join("hotspots.csv"))?);
    writeln!(csv, "cell,count,z")?;
    for r in &result {
        writeln!(csv, "{},{},{:?}", r.cell, r.count, r.z)?;
    }
    csv.flush()?;

    let hot = result.iter().filter(|r| r.significance.is_hot()).count();
    let cold = result.iter().filter(|r| r.significance.is_cold()).count();
    println!(
        "{{\"cells\":{},\"reports_in_area\":{},\"hot\":{hot},\"cold\":{cold},\
         \"polyfill_ms\":{polyfill_ms:.3},\"neighbours_ms\":{neighbours_ms:.3},\
         \"gi_star_ms\":{gi_ms:.3},\"neighbours_and_gi_star_ms\":{total_ms:.3}}}",
        area.len(),
        counts.iter().sum::<f64>(),
    );
    Ok(())
}
