//! `GET /v1/export/reports.{parquet,arrow}` (issue 12): GeoParquet 1.1 and Arrow IPC read
//! back with the Parquet and Arrow readers, the rows compared with the reports sent, and
//! what each caller may see. `scripts/check_export.py` reads the same files with pyarrow,
//! geopandas and DuckDB.

use arrow_array::{Array, BinaryArray, RecordBatch, StringArray};
use bytes::Bytes;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::*;
use crate::workflow::{GRID, OTHER_GRID, POINT, small_deployment};

const PHONE: &str = "13912345678";

/// Reports at `points` (lon, lat), alternating two categories.
async fn reports(app: &TestApp, points: &[(f64, f64)]) {
    for (i, (lon, lat)) in points.iter().enumerate() {
        let category = if i % 2 == 0 { "0301" } else { "0302" };
        let body = json!({"description": "导出测试 秘密描述", "category": category,
            "location": {"lon": lon, "lat": lat}, "contact": {"phone": PHONE}});
        let (status, body, _) = app.post_json("/v1/reports", &body).await;
        assert_eq!(status, 201, "{body}");
    }
}

async fn fetch(app: &TestApp, path: &str, token: Option<&str>) -> (u16, String, Bytes) {
    let mut req = app.client.get(app.url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.expect("GET");
    let status = r.status().as_u16();
    let media = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, media, r.bytes().await.expect("body"))
}

struct Parquet {
    batches: Vec<RecordBatch>,
    geo: Value,
}

fn read_parquet(bytes: Bytes) -> Parquet {
    let builder = ParquetRecordBatchReaderBuilder::try_new(bytes).expect("a Parquet file");
    let kv = builder
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .expect("file metadata")
        .clone();
    let geo = kv
        .iter()
        .find(|k| k.key == "geo")
        .and_then(|k| k.value.as_deref())
        .expect("the geo key");
    let batches = builder
        .build()
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    Parquet {
        batches,
        geo: serde_json::from_str(geo).unwrap(),
    }
}

fn column_names(b: &RecordBatch) -> Vec<String> {
    b.schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect()
}

fn rows(batches: &[RecordBatch]) -> usize {
    batches.iter().map(RecordBatch::num_rows).sum()
}

/// The points of the WKB `geometry` column.
fn points(batches: &[RecordBatch]) -> Vec<(f64, f64)> {
    let mut out = Vec::new();
    for b in batches {
        let g = b
            .column_by_name("geometry")
            .unwrap()
            .as_any()
            .downcast_ref::<BinaryArray>()
            .unwrap();
        for i in 0..g.len() {
            let wkb = g.value(i);
            assert_eq!(
                (wkb.len(), wkb[0], &wkb[1..5]),
                (21, 1, &[1u8, 0, 0, 0][..])
            );
            let x = f64::from_le_bytes(wkb[5..13].try_into().unwrap());
            let y = f64::from_le_bytes(wkb[13..21].try_into().unwrap());
            out.push((x, y));
        }
    }
    out
}

fn strings(batches: &[RecordBatch], name: &str) -> Vec<String> {
    let mut out = Vec::new();
    for b in batches {
        let c = b
            .column_by_name(name)
            .unwrap_or_else(|| panic!("column {name}"))
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap();
        out.extend((0..c.len()).map(|i| c.value(i).to_owned()));
    }
    out
}

fn spread() -> Vec<(f64, f64)> {
    (0..12)
        .map(|i| {
            let f = f64::from(i);
            // Five decimals, as a phone sends them: the store keeps them as sent.
            let round = |x: f64| (x * 1e5).round() / 1e5;
            (
                round(POINT.0 - 0.0009 + f * 0.00035),
                round(POINT.1 - 0.0006 + f * 0.0001),
            )
        })
        .collect()
}

both_backends!(
    staff_export_every_report_exactly_with_geoparquet_metadata,
    |backend| async move {
        let app = TestApp::spawn(backend, &small_deployment()).await;
        let sent = spread();
        reports(&app, &sent).await;
        let dispatcher = app.token("dispatcher", None).await;
        let (status, media, bytes) =
            fetch(&app, "/v1/export/reports.parquet", Some(&dispatcher)).await;
        assert_eq!(status, 200);
        assert_eq!(media, "application/vnd.apache.parquet");
        let p = read_parquet(bytes);
        assert_eq!(rows(&p.batches), sent.len());
        assert_eq!(
            column_names(&p.batches[0]),
            [
                "case_id",
                "category",
                "state",
                "submitted_at",
                "day",
                "district",
                "street",
                "community",
                "grid",
                "target",
                "deadline_at",
                "warning",
                "geometry"
            ]
        );
        let mut got = points(&p.batches);
        got.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let mut want = sent.clone();
        want.sort_by(|a, b| a.partial_cmp(b).unwrap());
        assert_eq!(got, want, "exact points for staff");
        let ids = strings(&p.batches, "case_id");
        assert!(ids.iter().all(|id| id.starts_with("XL")), "{ids:?}");
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted, "in case-id order");
        let g = &p.geo;
        assert_eq!(g["version"], "1.1.0");
        assert_eq!(g["primary_column"], "geometry");
        let col = &g["columns"]["geometry"];
        assert_eq!(col["encoding"], "WKB");
        assert_eq!(col["geometry_types"], json!(["Point"]));
        assert_eq!(
            col["crs"]["id"],
            json!({"authority": "OGC", "code": "CRS84"})
        );
        let (min_lon, max_lon) = sent
            .iter()
            .fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p.0), b.max(p.0)));
        assert_eq!(col["bbox"][0].as_f64().unwrap(), min_lon);
        assert_eq!(col["bbox"][2].as_f64().unwrap(), max_lon);
        // A grid worker exports the reports of their own grid only.
        let in_other: usize = sent
            .iter()
            .filter(|(lon, lat)| (122.071..122.073).contains(lon) && (41.119..41.121).contains(lat))
            .count();
        let worker = app.token("grid_worker", Some(OTHER_GRID)).await;
        let (_, _, bytes) = fetch(&app, "/v1/export/reports.parquet", Some(&worker)).await;
        let mine = read_parquet(bytes);
        assert_eq!(rows(&mine.batches), in_other);
        assert!(
            strings(&mine.batches, "grid")
                .iter()
                .all(|g| g == OTHER_GRID)
        );
    }
);

both_backends!(
    the_public_export_has_no_ids_no_personal_data_and_coarse_points,
    |backend| async move {
        let app = TestApp::spawn(backend, &small_deployment()).await;
        let sent = spread();
        reports(&app, &sent).await;
        let planner = app.token("planner", None).await;
        for token in [None, Some(planner.as_str())] {
            let (status, _, bytes) = fetch(&app, "/v1/export/reports.parquet", token).await;
            assert_eq!(status, 200);
            let raw = String::from_utf8_lossy(&bytes).to_string();
            for secret in [PHONE, "秘密描述"] {
                assert!(!raw.contains(secret), "{secret} in the public export");
            }
            let p = read_parquet(bytes);
            assert_eq!(rows(&p.batches), sent.len());
            assert_eq!(
                column_names(&p.batches[0]),
                ["category", "state", "day", "community", "grid", "geometry"]
            );
            for (lon, lat) in points(&p.batches) {
                assert_eq!(
                    Some((lon, lat)),
                    citysnap::api::ogc::coarsened(lon, lat),
                    "a cell centre"
                );
            }
        }
    }
);

both_backends!(
    exports_take_the_analytics_filters_and_refuse_bad_ones,
    |backend| async move {
        let app = TestApp::spawn(backend, &small_deployment()).await;
        let sent = spread();
        reports(&app, &sent).await;
        let dispatcher = app.token("dispatcher", None).await;
        let today = deployment_today();
        let count = |query: String| {
            let app = &app;
            let dispatcher = dispatcher.clone();
            async move {
                let (status, _, bytes) = fetch(
                    app,
                    &format!("/v1/export/reports.parquet?{query}"),
                    Some(&dispatcher),
                )
                .await;
                assert_eq!(status, 200, "{query}");
                rows(&read_parquet(bytes).batches)
            }
        };
        assert_eq!(count("category=0301".into()).await, sent.len().div_ceil(2));
        assert_eq!(count("category=03".into()).await, sent.len());
        assert_eq!(count(format!("from={today}&to={today}")).await, sent.len());
        assert_eq!(
            count("to=2026-01-01".into()).await,
            0,
            "an empty export is a valid file"
        );
        assert_eq!(count(format!("unit={GRID}")).await, {
            sent.iter()
                .filter(|(lon, lat)| {
                    (122.069..122.071).contains(lon) && (41.119..41.121).contains(lat)
                })
                .count()
        });
        let states = strings(
            &read_parquet(
                fetch(&app, "/v1/export/reports.parquet", Some(&dispatcher))
                    .await
                    .2,
            )
            .batches,
            "state",
        );
        let state = &states[0];
        let n = states.iter().filter(|s| *s == state).count();
        assert_eq!(count(format!("status={state}")).await, n);
        assert_problem(
            &app.get("/v1/export/reports.parquet?colour=red").await,
            400,
            "invalid_query",
        );
        assert_problem(
            &app.get("/v1/export/reports.parquet?from=2026-13-01").await,
            422,
            "invalid_date",
        );
        assert_problem(
            &app.get("/v1/export/reports.arrow?status=lost").await,
            422,
            "invalid_status",
        );
        assert_problem(
            &app.get("/v1/export/reports.parquet?from=2026-06-02&to=2026-06-01")
                .await,
            422,
            "invalid_date_range",
        );
    }
);

both_backends!(
    the_arrow_stream_holds_the_same_rows_as_the_parquet_file,
    |backend| async move {
        let app = TestApp::spawn(backend, &small_deployment()).await;
        let sent = spread();
        reports(&app, &sent).await;
        let dispatcher = app.token("dispatcher", None).await;
        let (status, media, bytes) =
            fetch(&app, "/v1/export/reports.arrow", Some(&dispatcher)).await;
        assert_eq!(status, 200);
        assert_eq!(media, "application/vnd.apache.arrow.stream");
        let reader =
            arrow_ipc::reader::StreamReader::try_new(std::io::Cursor::new(bytes.to_vec()), None)
                .expect("an Arrow IPC stream");
        let schema = reader.schema();
        let geometry = schema.field_with_name("geometry").unwrap();
        assert_eq!(
            geometry
                .metadata()
                .get("ARROW:extension:name")
                .map(String::as_str),
            Some("geoarrow.wkb")
        );
        let batches = reader.collect::<Result<Vec<_>, _>>().unwrap();
        let (_, _, parquet) = fetch(&app, "/v1/export/reports.parquet", Some(&dispatcher)).await;
        let p = read_parquet(parquet);
        assert_eq!(strings(&batches, "case_id"), strings(&p.batches, "case_id"));
        assert_eq!(points(&batches), points(&p.batches));
    }
);
