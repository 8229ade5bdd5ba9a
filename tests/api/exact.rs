//! Exact hexagon counts (issue 10): at every served resolution a hexagon counts the reports
//! whose point lies in it, `latLngToCell(point, res)`, as Uber's `h3` package (PyPI, run by
//! scripts/h3_cells.py) bins the same points. The points lie a few centimetres from cell
//! edges at every resolution, where the parent of a fine cell and the cell of the point
//! part; heat-maps, hexbin tiles, hotspots and emerging hotspots agree with each other.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::process::{Command, Stdio};

use citysnap::domain::spatial::tiles::{TileId, hexbin_resolution};
use geo::{Contains, MultiPolygon, Point};
use h3o::{CellIndex, LatLng, Resolution};
use serde_json::Value;

use crate::both_backends;
use crate::helpers::*;

/// The served resolutions.
const RESOLUTIONS: std::ops::RangeInclusive<u8> = 5..=12;

/// Degrees to either side of an edge crossing (about 10 cm).
const NUDGE: f64 = 1e-6;

fn district() -> MultiPolygon<f64> {
    MultiPolygon(
        xinglongtai()
            .into_iter()
            .flat_map(|u| u.geometry.0)
            .collect(),
    )
}

fn cell(lon: f64, lat: f64, res: u8) -> CellIndex {
    LatLng::new(lat, lon)
        .expect("valid point")
        .to_cell(Resolution::try_from(res).expect("resolution"))
}

/// Where the ray from `from` in direction `(dx, dy)` (degrees a step) first leaves `from`'s
/// cell at `res`, found by bisection to a millimetre.
fn edge_crossing(from: (f64, f64), (dx, dy): (f64, f64), res: u8) -> Option<(f64, f64)> {
    let home = cell(from.0, from.1, res);
    let at = |t: f64| (from.0 + t * dx, from.1 + t * dy);
    let mut far = 1.0;
    while cell(at(far).0, at(far).1, res) == home {
        far *= 2.0;
        if far > 4096.0 {
            return None;
        }
    }
    let mut near = 0.0;
    for _ in 0..60 {
        let mid = (near + far) / 2.0;
        if cell(at(mid).0, at(mid).1, res) == home {
            near = mid;
        } else {
            far = mid;
        }
    }
    Some(at(near))
}

/// Points on both sides of the edges of the cells around the middle of 兴隆台区 at every
/// resolution (eight rays from two starting points), inside the district.
fn near_edge_points() -> Vec<(f64, f64)> {
    let area = district();
    let mut points = Vec::new();
    for start in [(122.07, 41.12), (122.0512, 41.1337)] {
        for res in RESOLUTIONS {
            for k in 0..8 {
                let angle = (f64::from(k) * 45.0 + 10.0).to_radians();
                let step = (angle.cos() * 1e-4, angle.sin() * 1e-4);
                let Some((x, y)) = edge_crossing(start, step, res) else {
                    continue;
                };
                let (ux, uy) = (angle.cos() * NUDGE, angle.sin() * NUDGE);
                for (px, py) in [(x - ux, y - uy), (x + ux, y + uy), (x - uy, y + ux)] {
                    if area.contains(&Point::new(px, py)) {
                        points.push((px, py));
                    }
                }
            }
        }
    }
    points
}

/// Each point's cells at resolutions 5..12 by the Python `h3` package.
fn h3_py_cells(points: &[(f64, f64)]) -> Vec<Vec<CellIndex>> {
    let mut child = Command::new("python3")
        .arg(repo_path("scripts/h3_cells.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 runs scripts/h3_cells.py");
    {
        let mut stdin = child.stdin.take().expect("stdin");
        for (lon, lat) in points {
            // Rust prints the shortest decimal that reads back as the same f64.
            writeln!(stdin, "{lon} {lat}").expect("write a point");
        }
    }
    let out = child.wait_with_output().expect("h3_cells.py finishes");
    assert!(out.status.success(), "scripts/h3_cells.py failed");
    let text = String::from_utf8(out.stdout).expect("UTF-8");
    let rows: Vec<Vec<CellIndex>> = text
        .lines()
        .map(|line| {
            line.split(' ')
                .map(|hex| {
                    CellIndex::try_from(u64::from_str_radix(hex, 16).expect("hex")).expect("cell")
                })
                .collect()
        })
        .collect();
    assert_eq!(rows.len(), points.len(), "one line per point");
    rows
}

fn hex(c: CellIndex) -> String {
    format!("{:x}", u64::from(c))
}

fn feature_counts(fc: &Value, key: &str) -> BTreeMap<String, u64> {
    fc["features"]
        .as_array()
        .expect("features")
        .iter()
        .filter_map(|f| {
            let n = f["properties"][key].as_u64()?;
            (n > 0).then(|| {
                (
                    f["properties"]["cell"].as_str().expect("cell").to_owned(),
                    n,
                )
            })
        })
        .collect()
}

both_backends!(
    every_count_at_every_resolution_is_the_reports_whose_point_lies_in_the_cell,
    |backend| async move {
        let app = TestApp::spawn(backend, &xinglongtai()).await;
        let points = near_edge_points();
        assert!(points.len() > 100, "{} points", points.len());
        crate::hotspots::submit(&app, &points).await;
        let reference = h3_py_cells(&points);
        let planner = app.token("planner", None).await;
        let mut parents_differ = 0;
        for (i, res) in RESOLUTIONS.enumerate() {
            let mut expected: BTreeMap<String, u64> = BTreeMap::new();
            for (p, cells) in points.iter().zip(&reference) {
                // The Python package and h3o agree on every point …
                assert_eq!(cells[i], cell(p.0, p.1, res), "{p:?} at {res}");
                *expected.entry(hex(cells[i])).or_default() += 1;
                // … and these points are where counting parents would go wrong.
                let r = Resolution::try_from(res).expect("resolution");
                let parent = cell(p.0, p.1, 15).parent(r).expect("coarser");
                parents_differ += usize::from(parent != cells[i]);
            }

            let (status, fc, _) = app
                .get_as(&format!("/v1/analytics/hexbins?res={res}"), &planner)
                .await;
            assert_eq!(status, 200, "{fc}");
            assert_eq!(feature_counts(&fc, "count"), expected, "hexbins at {res}");

            // The hexbin tiles at the zoom of this resolution, each hexagon from the tile
            // holding its centre.
            let z = (7..=17)
                .find(|&z| hexbin_resolution(z).map(u8::from) == Some(res))
                .expect("a zoom for every served resolution");
            let mut tiles: HashMap<TileId, BTreeMap<String, u64>> = HashMap::new();
            for hex_cell in expected.keys() {
                let c = CellIndex::try_from(u64::from_str_radix(hex_cell, 16).unwrap()).unwrap();
                let centre = LatLng::from(c);
                let t = TileId::containing(centre.lng(), centre.lat(), z);
                if !tiles.contains_key(&t) {
                    let path = format!("/tiles/hexbins/{}/{}/{}.geojson", t.z, t.x, t.y);
                    let (status, tile, _) = app.get_as(&path, &planner).await;
                    assert_eq!(status, 200, "{path}: {tile}");
                    tiles.insert(t, feature_counts(&tile, "count"));
                }
                assert_eq!(
                    tiles[&t].get(hex_cell),
                    expected.get(hex_cell),
                    "tile z{z} at {res}, {hex_cell}"
                );
            }

            // Hotspots and emerging hotspots count the same (over the study area: the cells
            // whose centre lies in the district; resolutions 11 and 12 are over the caps).
            if res <= 10 {
                let (status, hot, _) = app
                    .get_as(&format!("/v1/analytics/hotspots?res={res}"), &planner)
                    .await;
                assert_eq!(status, 200, "{hot}");
                let hot = feature_counts(&hot, "count");
                let (status, emerging, _) = app
                    .get_as(
                        &format!("/v1/analytics/hotspots/emerging?res={res}&period=week"),
                        &planner,
                    )
                    .await;
                assert_eq!(status, 200, "{emerging}");
                let emerging = feature_counts(&emerging, "total");
                assert_eq!(hot, emerging, "hotspots and emerging at {res}");
                assert!(!hot.is_empty());
                for (c, n) in &hot {
                    assert_eq!(expected.get(c), Some(n), "hotspots at {res}, {c}");
                }
            }
        }
        assert!(
            parents_differ > 0,
            "the points should include some whose parent cell is not their cell"
        );
    }
);

both_backends!(
    a_store_counted_by_parents_is_recounted_exactly_on_upgrade,
    |backend| async move {
        let app = TestApp::spawn(backend, &xinglongtai()).await;
        let points: Vec<(f64, f64)> = near_edge_points().into_iter().step_by(5).collect();
        crate::hotspots::submit(&app, &points).await;
        // The store as it was before migration 0015: one row per report at the
        // resolution-12 parent of its resolution-15 cell, and 0015 not applied.
        let day = deployment_today();
        let mut statements = vec![
            "delete from report_cells".to_owned(),
            "delete from report_cells_coarse".to_owned(),
            "delete from _sqlx_migrations where version = 15".to_owned(),
        ];
        for (lon, lat) in &points {
            let old = cell(*lon, *lat, 15)
                .parent(Resolution::Twelve)
                .expect("parent");
            let c = LatLng::from(old);
            statements.push(format!(
                "insert into report_cells (cell, day, category, lon, lat, n)
                 values ({}, '{day}', '0301', {}, {}, 1)
                 on conflict (cell, day, category) do update set n = report_cells.n + 1",
                u64::from(old),
                c.lng(),
                c.lat()
            ));
        }
        crate::hotspots::run_sql(&app, backend, &statements).await;
        // The restart applies 0015, finds the aggregate behind and rebuilds it exactly.
        let app = app.restart().await;
        let planner = app.token("planner", None).await;
        for res in RESOLUTIONS {
            let expected: BTreeMap<String, u64> =
                points.iter().fold(BTreeMap::new(), |mut m, (lon, lat)| {
                    *m.entry(hex(cell(*lon, *lat, res))).or_default() += 1;
                    m
                });
            let (_, fc, _) = app
                .get_as(&format!("/v1/analytics/hexbins?res={res}"), &planner)
                .await;
            assert_eq!(feature_counts(&fc, "count"), expected, "res {res}");
        }
        // Rebuilding again is idempotent.
        assert_eq!(
            app.store.rebuild_report_cells().await.expect("rebuild"),
            points.len() as u64
        );
        assert!(!app.store.report_cells_behind().await.expect("totals"));
    }
);
