//! Single-thread resolution throughput (points per second), on the same inputs as
//! `scripts/bench_resolve.py`: 100,000 seeded pseudo-random points in the bounding box of
//! 兴隆台区, resolved against the ~80,000 demo grids (with their streets, communities and
//! district) and against the real outlines of Panjin's four districts.
//!
//! `cargo bench --bench resolve`; numbers and machine in `benches/README.md`.

mod support;

use std::hint::black_box;
use std::time::Duration;

use citysnap::domain::spatial::resolver::Resolution;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use geo::Coord;

/// A benchmark's name and what it does with one point (true: the point was placed).
type Case<'a> = (&'a str, &'a dyn Fn(Coord<f64>) -> bool);

fn resolution(c: &mut Criterion) {
    let (units, points) = support::demo();
    let (_, grids) = support::grid_index(&units);
    let jurisdiction = support::jurisdiction(units);
    let (_, districts) = support::panjin_districts();

    let mut group = c.benchmark_group("resolve");
    // One iteration resolves every point, so a sample takes tens of milliseconds: ten
    // samples over a few seconds give a stable mean without a minutes-long run.
    group
        .throughput(Throughput::Elements(points.len() as u64))
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    let cases: [Case; 4] = [
        ("polygon_index_locate/demo_grids", &|p| {
            grids.locate(p).is_some()
        }),
        ("jurisdiction_locate/demo_grids", &|p| {
            jurisdiction.locate(p).is_some()
        }),
        ("jurisdiction_resolve/demo_grids", &|p| {
            matches!(jurisdiction.resolve(p), Resolution::Inside(_))
        }),
        ("polygon_index_locate/panjin_districts", &|p| {
            districts.locate(p).is_some()
        }),
    ];
    for (name, resolve) in cases {
        group.bench_function(name, |b| {
            b.iter(|| points.iter().filter(|&&p| resolve(black_box(p))).count())
        });
    }
    group.finish();
}

criterion_group!(benches, resolution);
criterion_main!(benches);
