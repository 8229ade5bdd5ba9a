//! The hexagons of `scripts/bench_tiles_http.sh`'s peer, PostGIS serving `ST_AsMVT`
//! directly: the one million synthetic reports of `benches/tiles.rs` (same seed) counted per
//! H3 cell (`latLngToCell(point, res)`, as citysnap counts them) at the resolutions of the
//! benchmarked zooms, written as CSV `res,cell,n,wkt` (the hexagon in WGS-84) for
//! `\copy … csv`.
//!
//!     cargo run --release --example tiles_peer_data -- OUT.csv 7 8 10 11

#[allow(dead_code)]
#[path = "../benches/support/synthetic.rs"]
mod synthetic;

use std::collections::HashMap;
use std::io::{BufWriter, Write};

use anyhow::Context;
use h3o::{CellIndex, LatLng, Resolution};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let out = args
        .next()
        .context("usage: tiles_peer_data OUT.csv RES...")?;
    let resolutions = args
        .map(|r| Resolution::try_from(r.parse::<u8>()?).map_err(anyhow::Error::from))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let reports = synthetic::reports(&synthetic::xinglongtai(), 20_240_601);
    let mut file = BufWriter::new(std::fs::File::create(&out)?);
    for res in resolutions {
        let mut counts: HashMap<CellIndex, i64> = HashMap::new();
        for &(lon, lat) in &reports {
            *counts
                .entry(LatLng::new(lat, lon)?.to_cell(res))
                .or_default() += 1;
        }
        for (cell, n) in &counts {
            let ring: Vec<String> = cell
                .boundary()
                .iter()
                .chain(cell.boundary().iter().take(1))
                .map(|ll| format!("{} {}", ll.lng(), ll.lat()))
                .collect();
            writeln!(
                file,
                "{},{},{n},\"POLYGON(({}))\"",
                u8::from(res),
                u64::from(*cell),
                ring.join(",")
            )?;
        }
        eprintln!("{out}: {} cells at resolution {res}", counts.len());
    }
    file.flush()?;
    Ok(())
}
