//! Heat-map tiles over one million seeded synthetic reports (benches/support/synthetic.rs:
//! clusters on streets and markets plus noise over 兴隆台区) kept in the embedded SQLite
//! store's aggregate, drawn by the same function the tile endpoint calls (store read, H3
//! roll-up, k-anonymity, encoding), without HTTP. Target (issue 4): median under 20 ms.
//! HTTP throughput is `scripts/bench_tiles_http.sh`; numbers are in benches/README.md.
//!
//!     cargo bench --bench tiles

use std::time::{Duration, Instant};

use citysnap::api::tiles::{Format, Layer, TileFilters, TileRequest, Viewer, render};
use citysnap::app::Config;
use citysnap::domain::workflow::categories::{CategoryCode, CategoryKind};
use criterion::{Criterion, criterion_group, criterion_main};

#[allow(dead_code)]
#[path = "support/synthetic.rs"]
mod synthetic;

fn tiles(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let config = Config::new(None, dir.path().to_owned());
    let (state, reports) = rt.block_on(async {
        let store = config.open_store().await.expect("store");
        let categories: Vec<String> = store
            .categories()
            .await
            .expect("categories")
            .into_iter()
            .filter(|c| c.kind == CategoryKind::Problem && c.parent.is_some())
            .map(|c| c.code.as_str().to_owned())
            .collect();
        let district = synthetic::xinglongtai();
        let reports = synthetic::reports(&district, 20_240_601);
        let rows = synthetic::aggregate_rows(&reports, &categories, 7);
        let started = Instant::now();
        store.add_to_aggregate(&rows).await.expect("bulk load");
        eprintln!(
            "loaded {} reports into the aggregate in {:.1} s",
            rows.len(),
            started.elapsed().as_secs_f64()
        );
        (config.state(store).await.expect("state"), reports)
    });

    let mut group = c.benchmark_group("tiles_1m_reports_sqlite");
    group
        .sample_size(50)
        .measurement_time(Duration::from_secs(8));
    for (z, format) in [
        (14, Format::Mvt),
        (14, Format::GeoJson),
        (12, Format::Mvt),
        (10, Format::Mvt),
    ] {
        let (tile, n) = synthetic::busiest_tile(&reports, z);
        let req = TileRequest {
            layer: Layer::Hexbins,
            tile,
            format,
            filters: TileFilters::default(),
        };
        let first = rt
            .block_on(render(&state, &req, Viewer::Public))
            .expect("render")
            .expect("a non-empty tile");
        eprintln!(
            "z{z} {format:?} tile {}/{}/{}: {n} reports, {} bytes",
            tile.z,
            tile.x,
            tile.y,
            first.body.len()
        );
        group.bench_function(format!("hexbins_z{z}_{format:?}_busiest"), |b| {
            b.iter(|| rt.block_on(render(&state, &req, Viewer::Public)))
        });
    }
    // A filtered heat-map: one month and one major category.
    let (tile, _) = synthetic::busiest_tile(&reports, 14);
    let req = TileRequest {
        layer: Layer::Hexbins,
        tile,
        format: Format::Mvt,
        filters: TileFilters {
            from: chrono::NaiveDate::from_ymd_opt(2026, 3, 1),
            to: chrono::NaiveDate::from_ymd_opt(2026, 3, 31),
            category: CategoryCode::parse("01").ok(),
            ..TileFilters::default()
        },
    };
    group.bench_function("hexbins_z14_Mvt_busiest_march_category_01", |b| {
        b.iter(|| rt.block_on(render(&state, &req, Viewer::Public)))
    });
    // The whole district at zoom 10, March and major category 01: whole months and a major
    // category read the coarse aggregate; a day range (2–31 March) must read the fine one.
    let (tile, _) = synthetic::busiest_tile(&reports, 10);
    for (name, from) in [("march", 1), ("march_from_day_2", 2)] {
        let req = TileRequest {
            layer: Layer::Hexbins,
            tile,
            format: Format::Mvt,
            filters: TileFilters {
                from: chrono::NaiveDate::from_ymd_opt(2026, 3, from),
                to: chrono::NaiveDate::from_ymd_opt(2026, 3, 31),
                category: CategoryCode::parse("01").ok(),
                ..TileFilters::default()
            },
        };
        group.bench_function(format!("hexbins_z10_Mvt_busiest_{name}_category_01"), |b| {
            b.iter(|| rt.block_on(render(&state, &req, Viewer::Public)))
        });
    }
    group.finish();
}

criterion_group!(benches, tiles);
criterion_main!(benches);
