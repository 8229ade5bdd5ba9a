//! Prepares a data directory for `scripts/bench_tiles_http.sh`: the demo jurisdiction and
//! the aggregate of the one million synthetic reports of `benches/tiles.rs` (same seeds) in
//! the embedded SQLite store, then prints the busiest tile per zoom as JSON lines
//! (`{"z":14,"x":…,"y":…,"reports":…}`) for the load generator to ask for.
//!
//!     cargo run --release --example tiles_data -- DIR

#[allow(dead_code)]
#[path = "../benches/support/synthetic.rs"]
mod synthetic;

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, bail};
use citysnap::app::{self, Config};
use citysnap::domain::workflow::categories::CategoryKind;

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .context("usage: tiles_data DATA_DIR")?,
    );
    if dir.exists() {
        bail!("{} exists: give a new directory", dir.display());
    }
    let config = Config::new(None, dir.clone());
    let store = config.open_store().await?;
    app::load_demo_if_empty(store.as_ref()).await?;
    let categories: Vec<String> = store
        .categories()
        .await?
        .into_iter()
        .filter(|c| c.kind == CategoryKind::Problem && c.parent.is_some())
        .map(|c| c.code.as_str().to_owned())
        .collect();
    let district = synthetic::xinglongtai();
    let reports = synthetic::reports(&district, 20_240_601);
    let rows = synthetic::aggregate_rows(&reports, &categories, 7);
    let started = Instant::now();
    store.add_to_aggregate(&rows).await?;
    eprintln!(
        "{}: demo jurisdiction and {} reports in the aggregate ({:.1} s)",
        dir.display(),
        rows.len(),
        started.elapsed().as_secs_f64()
    );
    for z in [10u8, 12, 14, 16] {
        let (t, n) = synthetic::busiest_tile(&reports, z);
        println!(
            "{}",
            serde_json::json!({"z": t.z, "x": t.x, "y": t.y, "reports": n})
        );
    }
    Ok(())
}
