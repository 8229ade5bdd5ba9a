//! Hotspot statistics over every resolution-10 cell of 兴隆台区 (about 80,000 cells) with
//! one million seeded synthetic reports. The peer comparison with esda is
//! `scripts/bench_hotspots.py`; numbers and commands are in benches/README.md.
//!
//!     cargo bench --bench hotspots

use std::time::Duration;

use citysnap::domain::analytics::hotspots::{
    DEFAULT_TREND_ALPHA, KRing, Permutations, StudyArea, analyse, emerging_hotspots, gi_star,
    study_area_cells,
};
use criterion::{Criterion, criterion_group, criterion_main};
use h3o::Resolution;

#[path = "support/synthetic.rs"]
mod synthetic;

fn hotspots(c: &mut Criterion) {
    let district = synthetic::xinglongtai();
    let cells = study_area_cells(&district, Resolution::Ten).expect("a valid outline");
    let k1 = KRing::new(1).expect("1 is a valid k");
    let area = StudyArea::new(cells.clone(), k1).expect("cells of one resolution");
    let reports = synthetic::reports(&district, 20_240_601);
    let counts = synthetic::counts(&area, &reports);

    let mut group = c.benchmark_group("hotspots_xinglongtai_res10");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(5));
    group.bench_function("study_area_cells", |b| {
        b.iter(|| study_area_cells(&district, Resolution::Ten))
    });
    group.bench_function("neighbours_k1", |b| {
        b.iter(|| StudyArea::new(cells.clone(), k1))
    });
    group.bench_function("gi_star_k1", |b| b.iter(|| gi_star(&area, &counts, None)));
    group.bench_function("neighbours_and_gi_star_k1", |b| {
        b.iter(|| {
            let area = StudyArea::new(cells.clone(), k1)?;
            gi_star(&area, &counts, None)
        })
    });
    group.bench_function("gi_star_and_moran_k1", |b| {
        b.iter(|| analyse(&area, &counts, None))
    });
    let k2 = KRing::new(2).expect("2 is a valid k");
    let area2 = StudyArea::new(cells.clone(), k2).expect("cells of one resolution");
    group.bench_function("gi_star_k2", |b| b.iter(|| gi_star(&area2, &counts, None)));
    group.finish();

    let mut slow = c.benchmark_group("hotspots_xinglongtai_res10_slow");
    slow.sample_size(10)
        .measurement_time(Duration::from_secs(10));
    let perms = Permutations::new(99, 7).expect("99 is a valid count");
    slow.bench_function("gi_star_k1_99_permutations", |b| {
        b.iter(|| gi_star(&area, &counts, Some(perms)))
    });
    // Twelve monthly periods: the year's reports dealt out in order.
    let months: Vec<Vec<f64>> = reports
        .chunks(reports.len().div_ceil(12))
        .map(|chunk| synthetic::counts(&area, chunk))
        .collect();
    slow.bench_function("emerging_12_periods_k1", |b| {
        b.iter(|| emerging_hotspots(&area, &months, DEFAULT_TREND_ALPHA))
    });
    slow.finish();
}

criterion_group!(benches, hotspots);
criterion_main!(benches);
