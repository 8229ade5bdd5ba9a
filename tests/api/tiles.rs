//! `GET /tiles/{layer}/{z}/{x}/{y}.{geojson,mvt,pbf}` and `GET /tiles/{layer}.json`
//! (issue 4): Web Mercator tiles of hexagon counts, report points and boundaries.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;

use citysnap::api::tiles::Format;

/// A tile body read over HTTP.
struct Rendered {
    body: Vec<u8>,
}
use chrono::Datelike;
use citysnap::domain::spatial::tiles::{TileId, hexbin_resolution};
use geozero::mvt::{Message, Tile};
use h3o::{CellIndex, LatLng, Resolution};
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::*;

/// A spot in 兴隆台区 (WGS-84) the tests place reports around.
pub(crate) const HERE: (f64, f64) = (122.07, 41.12);

/// Degrees per metre at Panjin's latitude (41.1° N).
pub(crate) const DX: f64 = 1.0 / 84_000.0;
pub(crate) const DY: f64 = 1.0 / 111_000.0;

pub(crate) async fn submit(app: &TestApp, lon: f64, lat: f64, category: &str) {
    let body = json!({
        "description": "瓦片测试 (tile test)",
        "category": category,
        "location": {"lon": lon, "lat": lat},
        "contact": {"name": "张三", "phone": "13800138000"},
    });
    let (status, body, _) = app.post_json("/v1/reports", &body).await;
    assert_eq!(status, 201, "{body}");
}

/// GET with extra headers, the body as bytes.
pub(crate) async fn get_raw(
    app: &TestApp,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let mut req = app.client.get(app.url(path));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let r = req.send().await.expect("GET");
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    (status, headers, r.bytes().await.expect("body").to_vec())
}

pub(crate) fn tile_path(layer: &str, t: TileId, ext: &str) -> String {
    format!("/tiles/{layer}/{}/{}/{}.{ext}", t.z, t.x, t.y)
}

fn cell_of(hex: &str) -> CellIndex {
    CellIndex::try_from(u64::from_str_radix(hex, 16).expect("hex")).expect("cell")
}

/// `cell → count` of a GeoJSON hexbins tile (a 204 is no hexagons).
pub(crate) async fn geojson_counts(app: &TestApp, t: TileId, query: &str) -> BTreeMap<String, i64> {
    let (status, fc, headers) = app
        .get(&format!("{}{query}", tile_path("hexbins", t, "geojson")))
        .await;
    if status == 204 {
        return BTreeMap::new();
    }
    assert_eq!(status, 200, "{fc}");
    assert_eq!(headers["content-type"], "application/geo+json");
    assert_eq!(fc["type"], "FeatureCollection");
    fc["features"]
        .as_array()
        .expect("features")
        .iter()
        .map(|f| {
            let cell = f["properties"]["cell"].as_str().expect("cell").to_owned();
            // The hexagon's centre is in this very tile.
            let centre = LatLng::from(cell_of(&cell));
            assert_eq!(
                TileId::containing(centre.lng(), centre.lat(), t.z),
                t,
                "{cell}"
            );
            (cell, f["properties"]["count"].as_i64().expect("count"))
        })
        .collect()
}

/// Decodes MVT geometry commands (MVT 2.1 §4.3) into rings (polygons) or points.
fn decode_geometry(g: &[u32]) -> Vec<Vec<(i64, i64)>> {
    let zigzag = |v: u32| i64::from((v >> 1) as i32 ^ -((v & 1) as i32));
    let (mut x, mut y) = (0i64, 0i64);
    let mut parts: Vec<Vec<(i64, i64)>> = Vec::new();
    let mut i = 0;
    while i < g.len() {
        let (id, count) = (g[i] & 7, (g[i] >> 3) as usize);
        i += 1;
        match id {
            1 | 2 => {
                for _ in 0..count {
                    x += zigzag(g[i]);
                    y += zigzag(g[i + 1]);
                    i += 2;
                    if id == 1 {
                        parts.push(Vec::new());
                    }
                    parts.last_mut().expect("MoveTo first").push((x, y));
                }
            }
            7 => {}
            other => panic!("unknown command {other}"),
        }
    }
    parts
}

/// Twice the surveyor's-formula area of a ring in tile units (y down): positive is
/// clockwise on screen.
fn area2(ring: &[(i64, i64)]) -> i64 {
    ring.iter()
        .zip(ring.iter().cycle().skip(1))
        .map(|(a, b)| a.0 * b.1 - b.0 * a.1)
        .sum()
}

/// An MVT feature: geometry type, rings or points, properties.
pub(crate) type DecodedFeature = (i32, Vec<Vec<(i64, i64)>>, BTreeMap<String, Value>);

/// The features of the one layer of an MVT tile, with their properties, after checking
/// what MVT 2.1 asks of the layer.
pub(crate) fn decode_mvt(bytes: &[u8], layer_name: &str) -> Vec<DecodedFeature> {
    let tile = Tile::decode(bytes).expect("a protobuf vector tile");
    assert_eq!(tile.layers.len(), 1);
    let layer = &tile.layers[0];
    assert_eq!(layer.name, layer_name);
    assert_eq!(layer.version, 2);
    assert_eq!(layer.extent, Some(4096));
    layer
        .features
        .iter()
        .map(|f| {
            let props = f
                .tags
                .chunks(2)
                .map(|kv| {
                    let v = &layer.values[kv[1] as usize];
                    let value = if let Some(s) = &v.string_value {
                        json!(s)
                    } else if let Some(u) = v.uint_value {
                        json!(u)
                    } else {
                        panic!("unexpected value type {v:?}")
                    };
                    (layer.keys[kv[0] as usize].clone(), value)
                })
                .collect();
            (
                f.r#type.expect("geometry type"),
                decode_geometry(&f.geometry),
                props,
            )
        })
        .collect()
}

both_backends!(
    a_hexagon_is_counted_once_across_four_adjacent_geojson_tiles,
    |backend| async move {
        let app = TestApp::spawn_with(backend, &xinglongtai(), |c| c.api.tile_min_count = 1).await;
        // Reports on a 7 × 7 lattice 60 m apart around the corner four zoom-14 tiles share, so
        // that many resolution-10 hexagons (about 130 m across) straddle the tiles' edges.
        let t = TileId::containing(HERE.0, HERE.1, 14);
        let corner = t.bounds(0.0);
        let (cx, cy) = (corner.west, corner.north);
        let mut total = 0;
        for i in -3..=3 {
            for j in -3..=3 {
                submit(
                    &app,
                    cx + f64::from(i) * 60.0 * DX,
                    cy + f64::from(j) * 60.0 * DY,
                    "0301",
                )
                .await;
                total += 1;
            }
        }
        let quad = [
            TileId::new(14, t.x - 1, t.y - 1).expect("tile"),
            TileId::new(14, t.x, t.y - 1).expect("tile"),
            TileId::new(14, t.x - 1, t.y).expect("tile"),
            t,
        ];
        assert_eq!(hexbin_resolution(14), Some(Resolution::Ten));
        let mut seen = BTreeSet::new();
        let mut sum = 0;
        for q in quad {
            let counts = geojson_counts(&app, q, "").await;
            assert!(!counts.is_empty(), "every tile holds some hexagons: {q:?}");
            for (cell, n) in counts {
                assert_eq!(cell_of(&cell).resolution(), Resolution::Ten);
                assert!(seen.insert(cell.clone()), "{cell} appears in two tiles");
                sum += n;
            }
        }
        assert_eq!(sum, total, "the four tiles count every report once");
    }
);

both_backends!(
    public_tiles_leave_out_hexagons_with_fewer_than_k_reports,
    |backend| async move {
        let app = TestApp::spawn(backend, &xinglongtai()).await;
        // One report at A, two at B, three at C, 600 m apart (different zoom-14 hexagons).
        let spot = |k: f64| (HERE.0 + k * 600.0 * DX, HERE.1);
        for (k, n) in [(0.0, 1), (1.0, 2), (2.0, 3)] {
            for _ in 0..n {
                let (lon, lat) = spot(k);
                submit(&app, lon, lat, "0101").await;
            }
        }
        let cell = |k: f64| {
            let (lon, lat) = spot(k);
            let c = LatLng::new(lat, lon)
                .expect("point")
                .to_cell(Resolution::Ten);
            format!("{:x}", u64::from(c))
        };
        let tile_of = |k: f64| {
            let (lon, lat) = spot(k);
            TileId::containing(lon, lat, 14)
        };
        let mut public = BTreeMap::new();
        for t in BTreeSet::from([tile_of(0.0), tile_of(1.0), tile_of(2.0)]) {
            public.extend(geojson_counts(&app, t, "").await);
        }
        assert_eq!(
            public,
            BTreeMap::from([(cell(2.0), 3)]),
            "1 and 2 reports are hidden"
        );

        // The same through MVT.
        let t = tile_of(1.0);
        let (status, _, body) = get_raw(&app, &tile_path("hexbins", t, "mvt"), &[]).await;
        if status == 200 {
            for (_, _, props) in decode_mvt(&body, "hexbins") {
                assert!(props["count"].as_u64().expect("count") >= 3, "{props:?}");
            }
        } else {
            assert_eq!(status, 204);
        }

        // Staff tokens see every hexagon.
        let token = app.token("dispatcher", None).await;
        let bearer = format!("Bearer {token}");
        let mut staff = BTreeMap::new();
        for t in BTreeSet::from([tile_of(0.0), tile_of(1.0), tile_of(2.0)]) {
            let (status, _, body) = get_raw(
                &app,
                &tile_path("hexbins", t, "geojson"),
                &[("authorization", bearer.as_str())],
            )
            .await;
            if status == 204 {
                continue;
            }
            assert_eq!(status, 200);
            let fc: Value = serde_json::from_slice(&body).expect("json");
            for f in fc["features"].as_array().expect("features") {
                staff.insert(
                    f["properties"]["cell"].as_str().expect("cell").to_owned(),
                    f["properties"]["count"].as_i64().expect("count"),
                );
            }
        }
        assert_eq!(
            staff,
            BTreeMap::from([(cell(0.0), 1), (cell(1.0), 2), (cell(2.0), 3)])
        );
    }
);

both_backends!(
    mvt_tiles_decode_with_extent_4096_and_clockwise_exterior_rings,
    |backend| async move {
        let app = TestApp::spawn_with(backend, &xinglongtai(), |c| c.api.tile_min_count = 1).await;
        for i in 0..5 {
            submit(&app, HERE.0 + f64::from(i) * 150.0 * DX, HERE.1, "0301").await;
        }
        let t = TileId::containing(HERE.0, HERE.1, 13);
        let (status, headers, body) = get_raw(&app, &tile_path("hexbins", t, "mvt"), &[]).await;
        assert_eq!(status, 200);
        assert_eq!(
            headers["content-type"],
            "application/vnd.mapbox-vector-tile"
        );
        let features = decode_mvt(&body, "hexbins");
        let mut total = 0;
        for (kind, rings, props) in &features {
            assert_eq!(*kind, 3, "polygons");
            assert_eq!(rings.len(), 1, "a hexagon is one ring");
            assert!(
                area2(&rings[0]) > 0,
                "exterior ring not clockwise: {rings:?}"
            );
            for &(x, y) in &rings[0] {
                assert!(
                    (-64..=4160).contains(&x) && (-64..=4160).contains(&y),
                    "{x},{y}"
                );
            }
            let cell = cell_of(props["cell"].as_str().expect("cell"));
            assert_eq!(cell.resolution(), Resolution::Nine);
            total += props["count"].as_u64().expect("count");
        }
        assert_eq!(total, 5);
        // `.pbf` is the same tile.
        let (_, _, pbf) = get_raw(&app, &tile_path("hexbins", t, "pbf"), &[]).await;
        assert_eq!(pbf, body);

        // The district outline, clipped to a tile it overflows (buffer 64 units).
        let t = TileId::containing(HERE.0, HERE.1, 12);
        let (status, _, body) = get_raw(&app, &tile_path("districts", t, "mvt"), &[]).await;
        assert_eq!(status, 200);
        let features = decode_mvt(&body, "districts");
        assert_eq!(features.len(), 1);
        let (kind, rings, props) = &features[0];
        assert_eq!(*kind, 3);
        assert_eq!(props["code"], "211103");
        assert!(area2(&rings[0]) > 0, "exterior ring not clockwise");
        let xs: Vec<i64> = rings.iter().flatten().map(|p| p.0).collect();
        assert!(
            xs.iter().all(|x| (-64..=4160).contains(x)),
            "clipped to the buffer"
        );
    }
);

both_backends!(
    geojson_boundaries_are_whole_rfc7946_outlines,
    |backend| async move {
        let app = TestApp::spawn(backend, &xinglongtai()).await;
        let t = TileId::containing(HERE.0, HERE.1, 9);
        let (status, fc, _) = app.get(&tile_path("districts", t, "geojson")).await;
        assert_eq!(status, 200, "{fc}");
        let features = fc["features"].as_array().expect("features");
        assert_eq!(features.len(), 1);
        assert_eq!(features[0]["properties"]["code"], "211103");
        assert_eq!(features[0]["properties"]["level"], "district");
        let polygons = features[0]["geometry"]["coordinates"]
            .as_array()
            .expect("polygons");
        for p in polygons {
            let ring: Vec<[f64; 2]> = serde_json::from_value(p[0].clone()).expect("ring");
            assert_eq!(ring.first(), ring.last(), "closed");
            let twice: f64 = ring
                .windows(2)
                .map(|w| w[0][0] * w[1][1] - w[1][0] * w[0][1])
                .sum();
            assert!(twice > 0.0, "counter-clockwise (RFC 7946 §3.1.6)");
        }
    }
);

both_backends!(
    report_points_carry_public_fields_only_and_only_for_staff,
    |backend| async move {
        let app = TestApp::spawn(backend, &xinglongtai()).await;
        submit(&app, HERE.0, HERE.1, "0301").await;
        let t = TileId::containing(HERE.0, HERE.1, 15);
        let public = app.get(&tile_path("reports", t, "geojson")).await;
        assert_problem(&public, 403, "staff_only");
        assert_problem(&app.get("/tiles/reports.json").await, 403, "staff_only");
        // Planners see aggregates only: no case ids, no exact points.
        let planner = app.token("planner", None).await;
        assert_problem(
            &app.get_as(&tile_path("reports", t, "geojson"), &planner)
                .await,
            403,
            "staff_only",
        );
        assert_problem(
            &app.get_as(&tile_path("reports", t, "mvt"), &planner).await,
            403,
            "staff_only",
        );
        assert_problem(
            &app.get_as("/tiles/reports.json", &planner).await,
            403,
            "staff_only",
        );
        let token = app.token("dispatcher", None).await;
        let bearer = format!("Bearer {token}");
        for format in [Format::GeoJson, Format::Mvt] {
            let ext = if format == Format::Mvt {
                "mvt"
            } else {
                "geojson"
            };
            let (status, _, body) = get_raw(
                &app,
                &tile_path("reports", t, ext),
                &[("authorization", bearer.as_str())],
            )
            .await;
            assert_eq!(status, 200, "staff read the reports layer");
            let r = Rendered { body };
            let props: BTreeMap<String, Value> = match format {
                Format::GeoJson => {
                    let fc: Value = serde_json::from_slice(&r.body).expect("json");
                    assert_eq!(
                        fc["features"][0]["geometry"]["coordinates"],
                        json!([HERE.0, HERE.1])
                    );
                    serde_json::from_value(fc["features"][0]["properties"].clone()).expect("props")
                }
                Format::Mvt => {
                    let features = decode_mvt(&r.body, "reports");
                    assert_eq!(features[0].0, 1, "a point");
                    features[0].2.clone()
                }
            };
            let keys: Vec<&str> = props.keys().map(String::as_str).collect();
            assert_eq!(keys, ["case_id", "category", "day", "status"], "{format:?}");
            assert!(
                props["case_id"]
                    .as_str()
                    .expect("case id")
                    .starts_with("XL-")
            );
            // The case's current state (0301 waits for a grid worker's verification), not
            // the intake API's constant `submitted` (issue 8, item 4).
            assert_eq!(props["status"], "pending_verification");
            let text = String::from_utf8_lossy(&r.body);
            assert!(
                !text.contains("张三") && !text.contains("13800138000") && !text.contains("瓦片")
            );
        }
    }
);

both_backends!(
    tiles_answer_204_404_400_304_and_gzip,
    |backend| async move {
        let app = TestApp::spawn_with(backend, &xinglongtai(), |c| c.api.tile_min_count = 1).await;
        submit(&app, HERE.0, HERE.1, "0301").await;
        let t = TileId::containing(HERE.0, HERE.1, 12);
        let path = tile_path("hexbins", t, "geojson");

        // Empty: a tile far from any report.
        let (status, _, body) = get_raw(&app, "/tiles/hexbins/12/0/0.mvt", &[]).await;
        assert_eq!((status, body.len()), (204, 0));
        for (path, status, code) in [
            (
                "/tiles/hexbins/3/0/0.mvt".to_owned(),
                404,
                "zoom_out_of_range",
            ),
            (
                "/tiles/grids/12/0/0.mvt".to_owned(),
                404,
                "zoom_out_of_range",
            ),
            ("/tiles/heat/12/0/0.mvt".to_owned(), 404, "unknown_layer"),
            ("/tiles/heat.json".to_owned(), 404, "unknown_layer"),
            (
                "/tiles/hexbins/12/0/0.png".to_owned(),
                404,
                "unknown_tile_format",
            ),
            (
                "/tiles/hexbins/12/4096/0.mvt".to_owned(),
                400,
                "invalid_tile",
            ),
            ("/tiles/hexbins/12/x/0.mvt".to_owned(), 400, "invalid_tile"),
            (format!("{path}?res=13"), 422, "invalid_resolution"),
            (format!("{path}?res=11"), 422, "invalid_resolution"),
            (format!("{path}?from=yesterday"), 422, "invalid_date"),
            (format!("{path}?colour=red"), 400, "invalid_query"),
        ] {
            assert_problem(&app.get(&path).await, status, code);
        }

        // ETag and Cache-Control; the same ETag → 304 with no body.
        let (status, headers, _) = get_raw(&app, &path, &[]).await;
        assert_eq!(status, 200);
        let etag = headers["etag"].to_str().expect("etag").to_owned();
        assert!(etag.starts_with("W/\""), "{etag}");
        assert_eq!(headers["cache-control"], "public, max-age=60");
        let (status, headers, empty) = get_raw(&app, &path, &[("if-none-match", &etag)]).await;
        assert_eq!((status, empty.len()), (304, 0));
        assert_eq!(headers["etag"].to_str().expect("etag"), etag);
        let (status, _, _) = get_raw(&app, &path, &[("if-none-match", "W/\"other\"")]).await;
        assert_eq!(status, 200);

        // A new report changes the tile, so the old ETag no longer matches.
        submit(&app, HERE.0, HERE.1, "0301").await;
        let (status, headers, _) = get_raw(&app, &path, &[("if-none-match", &etag)]).await;
        assert_eq!(status, 200);
        assert_ne!(headers["etag"].to_str().expect("etag"), etag);

        // gzip when asked, the same bytes once inflated.
        for tile in [path.clone(), tile_path("hexbins", t, "mvt")] {
            let (_, plain_headers, plain) = get_raw(&app, &tile, &[]).await;
            assert!(plain_headers.get("content-encoding").is_none());
            let (status, headers, gz) = get_raw(&app, &tile, &[("accept-encoding", "gzip")]).await;
            assert_eq!(status, 200);
            assert_eq!(headers["content-encoding"], "gzip", "{tile}");
            let mut inflated = Vec::new();
            flate2::read::GzDecoder::new(&gz[..])
                .read_to_end(&mut inflated)
                .expect("gzip");
            assert_eq!(inflated, plain, "{tile}");
        }
    }
);

both_backends!(tilejson_describes_each_layer, |backend| async move {
    let app = TestApp::spawn(backend, &xinglongtai()).await;
    let (status, doc, headers) = app.get("/tiles/hexbins.json?category=03").await;
    assert_eq!(status, 200, "{doc}");
    assert_eq!(headers["content-type"], "application/json");
    assert!(headers.get("etag").is_some());
    assert_eq!(doc["tilejson"], "3.0.0");
    assert_eq!(doc["scheme"], "xyz");
    let host = app.base.trim_start_matches("http://");
    assert_eq!(
        doc["tiles"],
        json!([format!(
            "http://{host}/tiles/hexbins/{{z}}/{{x}}/{{y}}.mvt?category=03"
        )])
    );
    assert_eq!(
        (doc["minzoom"].as_u64(), doc["maxzoom"].as_u64()),
        (Some(7), Some(17))
    );
    assert_eq!(doc["vector_layers"][0]["id"], "hexbins");
    assert_eq!(
        doc["vector_layers"][0]["fields"],
        json!({"cell": "String", "count": "Number"})
    );
    // The bounds are the district's: about 121.9–122.2° E, 40.9–41.3° N.
    let b: [f64; 4] = serde_json::from_value(doc["bounds"].clone()).expect("bounds");
    assert!(
        b[0] < HERE.0 && HERE.0 < b[2] && b[1] < HERE.1 && HERE.1 < b[3],
        "{b:?}"
    );
    assert!(b[2] - b[0] < 1.0 && b[3] - b[1] < 1.0, "{b:?}");

    let (status, grids, _) = app.get("/tiles/grids.json").await;
    assert_eq!(status, 200);
    assert_eq!(
        (grids["minzoom"].as_u64(), grids["maxzoom"].as_u64()),
        (Some(13), Some(18))
    );
    assert_eq!(grids["vector_layers"][0]["fields"]["code"], "String");
    assert_problem(
        &app.get("/tiles/grids.json?res=9").await,
        422,
        "invalid_resolution",
    );
});

both_backends!(
    zoomed_out_tiles_read_the_coarse_aggregate_and_agree_with_the_fine_one,
    |backend| async move {
        let app = TestApp::spawn_with(backend, &xinglongtai(), |c| c.api.tile_min_count = 1).await;
        // Reports in several places and two categories.
        for (i, category) in ["0301", "0301", "0101", "0301", "0101", "0301"]
            .iter()
            .enumerate()
        {
            let body = json!({
                "description": "粗聚合测试",
                "category": category,
                "location": {"lon": HERE.0 + 0.004 * i as f64, "lat": HERE.1 - 0.003 * i as f64},
            });
            let (status, body, _) = app.post_json("/v1/reports", &body).await;
            assert_eq!(status, 201, "{body}");
        }
        let month_start = (chrono::Utc::now() + chrono::TimeDelta::hours(8))
            .date_naive()
            .with_day(1)
            .unwrap();
        let month_end = (month_start + chrono::Months::new(1)).pred_opt().unwrap();
        for z in [10u8, 12] {
            let t = TileId::containing(HERE.0, HERE.1, z);
            // Each pair: read by the coarse aggregate (whole months, a major category or
            // none) and by the fine one (a day-aligned range, a full category code).
            for (coarse, fine) in [
                (String::new(), "?from=2000-01-02".to_owned()),
                ("?category=03".to_owned(), "?category=0301".to_owned()),
                (
                    format!("?from={month_start}&to={month_end}"),
                    format!("?from={}&to={month_end}", month_start.pred_opt().unwrap()),
                ),
            ] {
                let a = geojson_counts(&app, t, &coarse).await;
                let b = geojson_counts(&app, t, &fine).await;
                assert!(!a.is_empty(), "z{z} {coarse}: no hexagons");
                assert_eq!(a, b, "z{z}: {coarse} vs {fine}");
            }
        }
        // The zoom-10 tile (about 30 km across) holds all six.
        let t = TileId::containing(HERE.0, HERE.1, 10);
        let all: i64 = geojson_counts(&app, t, "").await.values().sum();
        assert_eq!(all, 6, "every report once");
    }
);
