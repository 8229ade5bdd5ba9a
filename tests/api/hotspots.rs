//! `GET /v1/analytics/hotspots` and `/v1/analytics/hotspots/emerging`, and the start-up
//! backfill of the heat-map aggregate (issue 4).

use std::collections::{BTreeMap, BTreeSet};

use citysnap::domain::analytics::hotspots::{KRing, StudyArea, gi_star};
use geo::MultiPolygon;
use h3o::{CellIndex, LatLng, Resolution};
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::*;

/// The analyses run at resolution 8 (about 0.74 km² a cell): 兴隆台区 holds a few hundred
/// such cells, so every request stays quick.
const RES: Resolution = Resolution::Eight;

/// Reports per cell of the planted cluster.
const CLUSTER_REPORTS: usize = 4;

/// The cluster's centre cell, in the middle of 兴隆台区.
fn hub() -> CellIndex {
    LatLng::new(41.12, 122.07).expect("valid").to_cell(RES)
}

fn hex(cell: CellIndex) -> String {
    format!("{:x}", u64::from(cell))
}

/// The planted reports: `CLUSTER_REPORTS` at the centre of the hub and of each of its six
/// neighbours, and one at every other cell of the ring four cells out (scattered noise).
fn planted() -> Vec<(f64, f64)> {
    let mut points = Vec::new();
    for cell in hub().grid_disk::<Vec<_>>(1) {
        let c = LatLng::from(cell);
        points.extend(std::iter::repeat_n((c.lng(), c.lat()), CLUSTER_REPORTS));
    }
    for cell in hub()
        .grid_ring_fast(4)
        .map(|c| c.expect("no pentagon here"))
        .step_by(2)
    {
        let c = LatLng::from(cell);
        points.push((c.lng(), c.lat()));
    }
    points
}

/// Reports of 0301 at each point, each accepted.
pub(crate) async fn submit(app: &TestApp, points: &[(f64, f64)]) {
    for &(lon, lat) in points {
        let body = json!({
            "description": "热点测试",
            "category": "0301",
            "location": {"lon": lon, "lat": lat},
        });
        let (status, body, _) = app.post_json("/v1/reports", &body).await;
        assert_eq!(status, 201, "{body}");
    }
}

/// The deployment area of the test jurisdiction: 兴隆台区's outline.
fn district() -> MultiPolygon<f64> {
    MultiPolygon(
        xinglongtai()
            .into_iter()
            .flat_map(|u| u.geometry.0)
            .collect(),
    )
}

/// Reports per cell at `RES`, computed here with h3o from the points: the cell holding each
/// point (`latLngToCell`).
fn expected_counts(points: &[(f64, f64)]) -> BTreeMap<CellIndex, u64> {
    let mut m = BTreeMap::new();
    for &(lon, lat) in points {
        let cell = LatLng::new(lat, lon).expect("valid").to_cell(RES);
        *m.entry(cell).or_default() += 1;
    }
    m
}

/// Reads an analytics answer as a planner, who sees every count, z-score and p-value (the
/// public's view is tested in tests/api/analytics.rs and below).
async fn planner_get(app: &TestApp, path: &str) -> (u16, Value, reqwest::header::HeaderMap) {
    let token = app.token("planner", None).await;
    app.get_as(path, &token).await
}

fn features(fc: &Value) -> &Vec<Value> {
    fc["features"].as_array().expect("features")
}

fn cell_of(feature: &Value) -> CellIndex {
    let hex = feature["properties"]["cell"].as_str().expect("cell");
    CellIndex::try_from(u64::from_str_radix(hex, 16).expect("hex")).expect("cell index")
}

both_backends!(
    a_planted_cluster_is_hot_at_its_cells_with_the_z_scores_of_the_domain,
    |backend| async move {
        let app = TestApp::spawn(backend, &xinglongtai()).await;
        let points = planted();
        submit(&app, &points).await;

        let (status, fc, headers) = planner_get(&app, "/v1/analytics/hotspots?res=8&k=1").await;
        assert_eq!(status, 200, "{fc}");
        assert_eq!(headers["content-type"], "application/geo+json");
        assert_eq!(fc["type"], "FeatureCollection");

        // The same analysis computed here: the study area from the outline, the counts
        // from the points.
        let study = StudyArea::from_area(&district(), RES, KRing::new(1).unwrap()).unwrap();
        let counted = expected_counts(&points);
        let counts = study.counts(counted.iter().map(|(c, n)| (*c, *n)));
        let expected = gi_star(&study, &counts, None).unwrap();
        let by_cell: BTreeMap<CellIndex, &Value> =
            features(&fc).iter().map(|f| (cell_of(f), f)).collect();
        assert_eq!(by_cell.len(), study.len(), "every cell, zeros included");
        for e in &expected {
            let p = &by_cell[&e.cell]["properties"];
            assert_eq!(p["count"].as_f64(), Some(e.count), "{}", e.cell);
            let z = p["z"].as_f64().expect("z");
            assert!((z - e.z).abs() < 1e-9, "{}: z {z} vs {}", e.cell, e.z);
            assert!((p["p"].as_f64().unwrap() - e.p).abs() < 1e-9);
            assert!((p["p_fdr"].as_f64().unwrap() - e.p_fdr).abs() < 1e-9);
            assert_eq!(p["significance"], e.significance.get());
            assert!(p.get("p_sim").is_none());
        }

        // Hot at 99 % on every cell of the cluster, and nowhere far from it.
        for cell in hub().grid_disk::<Vec<_>>(1) {
            assert_eq!(by_cell[&cell]["properties"]["significance"], 3, "{cell}");
        }
        let hot: BTreeSet<CellIndex> = by_cell
            .iter()
            .filter(|(_, f)| f["properties"]["significance"].as_i64().unwrap() > 0)
            .map(|(c, _)| *c)
            .collect();
        for cell in &hot {
            assert!(cell.grid_distance(hub()).unwrap() <= 2, "{cell} is hot");
        }
        let summary = &fc["summary"];
        assert_eq!(summary["cells"], study.len());
        assert_eq!(summary["hot"], hot.len());
        assert_eq!(summary["cold"], 0);
        assert_eq!(
            (summary["res"].clone(), summary["k"].clone()),
            (json!(8), json!(1))
        );
        assert!(summary["moran_i"].as_f64().unwrap() > 0.0, "{summary}");
        assert!(summary["moran_z"].as_f64().unwrap() > 3.0, "{summary}");

        // Only the significant cells on request.
        let (status, only, _) =
            planner_get(&app, "/v1/analytics/hotspots?res=8&significant=true").await;
        assert_eq!(status, 200, "{only}");
        let shown: BTreeSet<CellIndex> = features(&only).iter().map(cell_of).collect();
        assert_eq!(shown, hot);
        assert!(
            features(&only)
                .iter()
                .all(|f| f["geometry"]["type"] == "Polygon")
        );

        // Filters apply: no dirty-road reports, no hotspot.
        let (status, none, _) =
            planner_get(&app, "/v1/analytics/hotspots?res=8&category=0102").await;
        assert_eq!(status, 200, "{none}");
        assert_eq!(none["summary"]["hot"], 0);
        assert!(
            features(&none)
                .iter()
                .all(|f| f["properties"]["count"] == 0)
        );
    }
);

both_backends!(
    permutations_give_reproducible_pseudo_p_values,
    |backend| async move {
        let app = TestApp::spawn(backend, &xinglongtai()).await;
        submit(&app, &planted()).await;
        let url = "/v1/analytics/hotspots?res=8&permutations=99&seed=7";
        let (status, first, _) = planner_get(&app, url).await;
        assert_eq!(status, 200, "{first}");
        let (_, second, _) = planner_get(&app, url).await;
        assert_eq!(first, second, "the same seed gives the same answer");
        assert!(
            features(&first)
                .iter()
                .all(|f| f["properties"]["p_sim"].is_number())
        );
        let centre = features(&first)
            .iter()
            .find(|f| cell_of(f) == hub())
            .expect("the hub");
        // No random draw of six other cells holds as many reports as the hub's ring.
        assert_eq!(centre["properties"]["p_sim"], 0.01);
        assert_eq!(first["summary"]["permutations"], 99);
        assert_eq!(first["summary"]["seed"], 7);
    }
);

both_backends!(
    an_emerging_hotspot_planted_this_week_is_new,
    |backend| async move {
        let app = TestApp::spawn(backend, &xinglongtai()).await;
        submit(&app, &planted()).await;
        // Ten weeks ending today: the reports, all made today, fall in the last one.
        let (status, fc, headers) =
            planner_get(&app, "/v1/analytics/hotspots/emerging?res=8&period=week").await;
        assert_eq!(status, 200, "{fc}");
        assert_eq!(headers["content-type"], "application/geo+json");
        let periods = fc["periods"].as_array().expect("periods");
        assert_eq!(periods.len(), 10);
        assert_eq!(periods[9]["to"], deployment_today());
        assert_eq!(fc["summary"]["period"], "week");

        let by_cell: BTreeMap<CellIndex, &Value> =
            features(&fc).iter().map(|f| (cell_of(f), f)).collect();
        for cell in hub().grid_disk::<Vec<_>>(1) {
            let p = &by_cell[&cell]["properties"];
            assert_eq!(p["pattern"], "new_hot_spot", "{cell}: {p}");
            let counts: Vec<i64> = serde_json::from_value(p["counts"].clone()).unwrap();
            assert_eq!(counts.len(), 10);
            assert_eq!(counts[9], CLUSTER_REPORTS as i64);
            assert!(counts[..9].iter().all(|&n| n == 0));
            assert_eq!(p["total"], CLUSTER_REPORTS);
            assert_eq!(p["bins"].as_array().unwrap().len(), 10);
            assert!(p["trend"]["z"].is_number() && p["trend"]["p"].is_number());
        }
        for (cell, f) in &by_cell {
            let pattern = f["properties"]["pattern"].as_str().unwrap();
            if pattern != "no_pattern" {
                assert_eq!(pattern, "new_hot_spot", "{cell}");
                assert!(cell.grid_distance(hub()).unwrap() <= 2, "{cell}");
            }
        }
        let new = fc["summary"]["patterns"]["new_hot_spot"].as_u64().unwrap();
        assert!(new >= 7, "{}", fc["summary"]);

        // Only cells with a pattern on request; by month the range is ten months.
        let (status, only, _) = planner_get(
            &app,
            "/v1/analytics/hotspots/emerging?res=8&period=month&significant=true",
        )
        .await;
        assert_eq!(status, 200, "{only}");
        assert_eq!(only["periods"].as_array().unwrap().len(), 10);
        assert_eq!(features(&only).len() as u64, new);
        assert!(
            features(&only)
                .iter()
                .all(|f| f["properties"]["pattern"] == "new_hot_spot")
        );
    }
);

both_backends!(
    every_bad_hotspot_parameter_gets_its_own_problem_code,
    |backend| async move {
        let app = TestApp::spawn(backend, &xinglongtai()).await;
        for (query, code) in [
            ("", "invalid_resolution"),
            ("res=4", "invalid_resolution"),
            ("res=8&k=0", "invalid_k"),
            ("res=8&k=11", "invalid_k"),
            ("res=8&k=one", "invalid_k"),
            ("res=8&permutations=10000", "invalid_permutations"),
            ("res=8&permutations=-1", "invalid_permutations"),
            ("res=8&permutations=99&seed=x", "invalid_seed"),
            ("res=8&seed=1", "invalid_seed"),
            ("res=8&significant=yes", "invalid_significant"),
            ("res=8&from=2026-02-30", "invalid_date"),
            ("res=8&from=2026-03-02&to=2026-03-01", "invalid_date_range"),
            ("res=8&category=03%25", "invalid_category"),
            // About 3.9 million cells at resolution 12.
            ("res=12", "too_many_cells"),
            // About 80,000 cells × 9,999 permutations.
            ("res=10&permutations=9999", "too_many_cells"),
        ] {
            let resp = planner_get(&app, &format!("/v1/analytics/hotspots?{query}")).await;
            assert_problem(&resp, 422, code);
        }
        for (query, code) in [
            ("res=8&period=day", "invalid_period"),
            ("res=8&k=0", "invalid_k"),
            ("res=8&from=2026-03-03&to=2026-03-04", "too_few_periods"),
            ("res=8&from=2000-01-01&to=2026-01-01", "too_many_periods"),
            ("res=8&to=2026-13-01", "invalid_date"),
            ("res=12", "too_many_cells"),
            ("res=8&significant=1", "invalid_significant"),
        ] {
            let resp = planner_get(&app, &format!("/v1/analytics/hotspots/emerging?{query}")).await;
            assert_problem(&resp, 422, code);
        }
        let resp = planner_get(&app, "/v1/analytics/hotspots?res=8&radius=1").await;
        assert_problem(&resp, 400, "invalid_query");
    }
);

both_backends!(hotspots_need_boundaries, |backend| async move {
    let app = TestApp::spawn(backend, &[]).await;
    let resp = planner_get(&app, "/v1/analytics/hotspots?res=8").await;
    assert_problem(&resp, 503, "no_boundaries");
});

/// Runs `statements` on the test's database behind the service's back.
pub(crate) async fn run_sql(app: &TestApp, backend: Backend, statements: &[String]) {
    use sqlx::Connection;
    match backend {
        Backend::Sqlite => {
            let path = app.config.data_dir.join("citysnap.sqlite");
            let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
                .await
                .expect("open SQLite");
            for sql in statements {
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql.as_str()))
                    .execute(&mut conn)
                    .await
                    .expect(sql);
            }
        }
        Backend::Postgres => {
            let url = app.config.database_url.as_deref().expect("PostgreSQL URL");
            let mut conn = sqlx::PgConnection::connect(url).await.expect("connect");
            for sql in statements {
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql.as_str()))
                    .execute(&mut conn)
                    .await
                    .expect(sql);
            }
        }
    }
}

/// Empties the aggregate, as in a store whose reports were stored before migration 0003.
async fn empty_report_cells(app: &TestApp, backend: Backend) {
    run_sql(app, backend, &["delete from report_cells".to_owned()]).await;
}

both_backends!(
    a_cluster_growing_week_by_week_is_an_intensifying_hotspot,
    |backend| async move {
        let app =
            TestApp::spawn_with(backend, &xinglongtai(), |c| c.api.analytics_cube = false).await;
        // Ten weeks of history written straight into the aggregate (as reports of those
        // weeks would have left it), which only the store's path reads (`serve
        // --no-analytics-cube`); the report cube counts cases. The cluster's cells get t + 1 reports in week t, the
        // scattered cells one report every week. Gi* of the hub rises every week.
        let monday = chrono::NaiveDate::from_ymd_opt(2026, 1, 5).unwrap();
        let row = |cell: CellIndex, week: u64, n: u64| {
            // The aggregate's rows of the analysis' resolution.
            let fine = cell;
            let c = LatLng::from(fine);
            let day = monday + chrono::Days::new(7 * week);
            format!(
                "insert into report_cells (cell, day, category, lon, lat, n)
                 values ({}, '{day}', '0301', {}, {}, {n})",
                u64::from(fine),
                c.lng(),
                c.lat()
            )
        };
        let mut statements = Vec::new();
        for week in 0..10 {
            for cell in hub().grid_disk::<Vec<_>>(1) {
                statements.push(row(cell, week, week + 1));
            }
            for cell in hub().grid_ring_fast(4).map(Option::unwrap).step_by(2) {
                statements.push(row(cell, week, 1));
            }
        }
        run_sql(&app, backend, &statements).await;

        let (status, fc, _) = planner_get(
            &app,
            "/v1/analytics/hotspots/emerging?res=8&period=week&from=2026-01-05&to=2026-03-15",
        )
        .await;
        assert_eq!(status, 200, "{fc}");
        assert_eq!(fc["periods"].as_array().unwrap().len(), 10);
        let hub_feature = features(&fc)
            .iter()
            .find(|f| cell_of(f) == hub())
            .expect("the hub");
        let p = &hub_feature["properties"];
        assert_eq!(p["pattern"], "intensifying_hot_spot", "{p}");
        let counts: Vec<i64> = serde_json::from_value(p["counts"].clone()).unwrap();
        assert_eq!(counts, (1..=10).collect::<Vec<i64>>());
        assert!(p["trend"]["z"].as_f64().unwrap() > 0.0);
        assert!(p["trend"]["p"].as_f64().unwrap() < 0.05);
        assert!(
            p["bins"]
                .as_array()
                .unwrap()
                .iter()
                .all(|b| b.as_i64().unwrap() > 0)
        );
    }
);

both_backends!(
    reports_missing_from_the_aggregate_are_backfilled_at_start_up,
    |backend| async move {
        // The aggregate (which tiles read) is what is rebuilt: the heat-map reads it when
        // the report cube is off (`serve --no-analytics-cube`).
        let app =
            TestApp::spawn_with(backend, &xinglongtai(), |c| c.api.analytics_cube = false).await;
        let points = planted();
        submit(&app, &points).await;
        let url = "/v1/analytics/hexbins?res=8";
        let counts = |fc: &Value| -> BTreeMap<String, i64> {
            features(fc)
                .iter()
                .map(|f| (hex(cell_of(f)), f["properties"]["count"].as_i64().unwrap()))
                .collect()
        };
        let expected: BTreeMap<String, i64> = expected_counts(&points)
            .into_iter()
            .map(|(c, n)| (hex(c), n as i64))
            .collect();
        let (_, before, _) = planner_get(&app, url).await;
        assert_eq!(counts(&before), expected);
        assert!(!app.store.report_cells_behind().await.unwrap());

        empty_report_cells(&app, backend).await;
        let (_, emptied, _) = planner_get(&app, url).await;
        assert!(features(&emptied).is_empty(), "{emptied}");
        assert!(app.store.report_cells_behind().await.unwrap());

        // A restart finds the aggregate behind and rebuilds it.
        let app = app.restart().await;
        let (status, after, _) = planner_get(&app, url).await;
        assert_eq!(status, 200, "{after}");
        assert_eq!(counts(&after), expected);
        assert!(!app.store.report_cells_behind().await.unwrap());

        // Rebuilding again changes nothing, and new reports still count once.
        assert_eq!(
            app.store.rebuild_report_cells().await.unwrap(),
            points.len() as u64
        );
        let app = app.restart().await;
        submit(&app, &points[..1]).await;
        let (_, again, _) = planner_get(&app, url).await;
        let mut plus_one = expected.clone();
        *plus_one.get_mut(&hex(hub())).unwrap() += 1;
        assert_eq!(counts(&again), plus_one);
    }
);

/// Reports whose cases land in different states on intake (see tests/api/cases.rs): broken
/// pavement waits for verification, garbage waits in the queue (no community is loaded to
/// send it to), a missing manhole cover is sent on by the plan library when it can be. The
/// test reads each case's state from the intake answer rather than assuming it.
const BY_STATE: [(f64, f64, &str, &str); 4] = [
    (122.07, 41.12, "0302", "井盖丢失了，晚上很危险"),
    (122.0702, 41.1201, "0302", "井盖丢失了"),
    (122.06, 41.13, "0301", "人行道地砖破损"),
    (122.08, 41.11, "0101", "路边堆着一堆垃圾"),
];

both_backends!(
    heat_maps_and_hotspots_filter_by_unit_and_case_state,
    |backend| async move {
        let app = TestApp::spawn(backend, &xinglongtai()).await;
        let mut states: Vec<(f64, f64, String)> = Vec::new();
        for (lon, lat, category, description) in BY_STATE {
            let body = json!({
                "description": description,
                "category": category,
                "location": {"lon": lon, "lat": lat},
            });
            let (status, body, _) = app.post_json("/v1/reports", &body).await;
            assert_eq!(status, 201, "{body}");
            let state = body["state"].as_str().expect("state").to_owned();
            states.push((lon, lat, state));
        }
        let seen: BTreeSet<&str> = states.iter().map(|(_, _, s)| s.as_str()).collect();
        assert!(seen.len() >= 2, "{seen:?}");
        // The first case's state, and every other state seen.
        let one = states[0].2.clone();
        let others: Vec<&str> = seen.iter().copied().filter(|s| *s != one).collect();

        let expected = |keep: &dyn Fn(&str) -> bool| -> BTreeMap<String, i64> {
            let points: Vec<(f64, f64)> = states
                .iter()
                .filter(|(_, _, s)| keep(s))
                .map(|(lon, lat, _)| (*lon, *lat))
                .collect();
            expected_counts(&points)
                .into_iter()
                .map(|(c, n)| (hex(c), n as i64))
                .collect()
        };
        let hexbins = |query: String| {
            let app = &app;
            async move {
                let (status, fc, _) =
                    planner_get(&app, &format!("/v1/analytics/hexbins?res=8&{query}")).await;
                assert_eq!(status, 200, "{query}: {fc}");
                features(&fc)
                    .iter()
                    .map(|f| (hex(cell_of(f)), f["properties"]["count"].as_i64().unwrap()))
                    .collect::<BTreeMap<String, i64>>()
            }
        };
        let all = expected(&|_| true);
        assert_eq!(hexbins("".into()).await, all);
        assert_eq!(
            hexbins(format!("status={one}")).await,
            expected(&|s| s == one)
        );
        assert_eq!(
            hexbins(format!("status={}", others.join(","))).await,
            expected(&|s| s != one)
        );
        assert!(hexbins("status=cancelled".into()).await.is_empty());
        // A district code, read from the per-case model: the same counts as the aggregate.
        assert_eq!(hexbins("unit=211103".into()).await, all);
        assert!(hexbins("unit=211102".into()).await.is_empty());
        assert_eq!(
            hexbins(format!("unit=211103&status={one}")).await,
            expected(&|s| s == one)
        );
        assert!(
            hexbins(format!("status={one}&to=2020-01-01"))
                .await
                .is_empty()
        );

        // Hotspots and emerging hotspots count the same cases.
        let dispatched = states.iter().filter(|(_, _, s)| *s == one).count();
        let (status, fc, _) =
            planner_get(&app, &format!("/v1/analytics/hotspots?res=8&status={one}")).await;
        assert_eq!(status, 200, "{fc}");
        let total: i64 = features(&fc)
            .iter()
            .map(|f| f["properties"]["count"].as_i64().unwrap())
            .sum();
        assert_eq!(total, dispatched as i64);
        let (status, fc, _) = planner_get(
            &app,
            &format!("/v1/analytics/hotspots/emerging?res=8&unit=211103&status={one}"),
        )
        .await;
        assert_eq!(status, 200, "{fc}");
        let total: i64 = features(&fc)
            .iter()
            .map(|f| f["properties"]["total"].as_i64().unwrap())
            .sum();
        assert_eq!(total, dispatched as i64);

        for path in [
            "/v1/analytics/hexbins",
            "/v1/analytics/hotspots",
            "/v1/analytics/hotspots/emerging",
        ] {
            for (query, code) in [
                ("status=open", "invalid_status"),
                ("status=dispatched,", "invalid_status"),
                ("unit=abc", "invalid_unit"),
                ("unit=2111", "invalid_unit"),
            ] {
                let resp = app.get(&format!("{path}?res=8&{query}")).await;
                assert_problem(&resp, 422, code);
            }
        }
    }
);

both_backends!(
    an_area_without_a_cell_centre_at_the_resolution_is_refused,
    |backend| async move {
        use citysnap::domain::spatial::units::{Unit, UnitCode, UnitLevel};
        // A district of about 110 m × 110 m: no resolution-5 cell (about 250 km²) has its
        // centre inside, while at resolution 12 (about 300 m²) dozens do.
        let square = geo::Polygon::new(
            geo::LineString::from(vec![
                (122.070, 41.120),
                (122.0713, 41.120),
                (122.0713, 41.121),
                (122.070, 41.121),
                (122.070, 41.120),
            ]),
            vec![],
        );
        let tiny = Unit {
            code: UnitCode::parse("211199").unwrap(),
            name: "小区".into(),
            level: UnitLevel::District,
            parent: None,
            geometry: MultiPolygon(vec![square]),
            synthetic: true,
        };
        let app = TestApp::spawn(backend, &[tiny]).await;
        let resp = planner_get(&app, "/v1/analytics/hotspots?res=5").await;
        assert_problem(&resp, 422, "empty_study_area");
        let resp = planner_get(&app, "/v1/analytics/hotspots/emerging?res=5").await;
        assert_problem(&resp, 422, "empty_study_area");
        let (status, fc, _) = planner_get(&app, "/v1/analytics/hotspots?res=12").await;
        assert_eq!(status, 200, "{fc}");
        assert!(
            fc["summary"]["cells"].as_u64().unwrap() > 10,
            "{}",
            fc["summary"]
        );
    }
);

both_backends!(
    the_hotspots_tile_layer_shows_the_planted_cluster_as_the_endpoint_computes_it,
    |backend| async move {
        let app = TestApp::spawn(backend, &xinglongtai()).await;
        submit(&app, &planted()).await;
        let (_, fc, _) = planner_get(
            &app,
            &format!("/v1/analytics/hotspots?res={}&k=1", u8::from(RES)),
        )
        .await;
        let z_of: BTreeMap<CellIndex, f64> = features(&fc)
            .iter()
            .map(|f| (cell_of(f), f["properties"]["z"].as_f64().unwrap()))
            .collect();
        // Zoom 12 draws resolution-8 hexagons; ask for the tile holding the hub's centre.
        assert_eq!(u8::from(RES), 8, "the tile zoom below assumes resolution 8");
        let c = LatLng::from(hub());
        let n = 4096f64;
        let x = ((c.lng() + 180.0) / 360.0 * n).floor() as u32;
        let lat = c.lat().to_radians();
        let y = ((1.0 - (lat.tan() + 1.0 / lat.cos()).ln() / std::f64::consts::PI) / 2.0 * n)
            .floor() as u32;
        let path = format!("/tiles/hotspots/12/{x}/{y}.geojson");
        let (status, tile, _) = app.get(&path).await;
        assert_eq!(status, 200, "{tile}");
        let hub_feature = features(&tile)
            .iter()
            .find(|f| cell_of(f) == hub())
            .unwrap_or_else(|| panic!("the hub is not in {path}: {tile}"));
        let p = &hub_feature["properties"];
        assert_eq!(p["significance"], 3, "{p}");
        // The public sees the bin, not the statistics (they can be solved back to counts),
        // and a count only of k (3) reports or more: the hub holds 4.
        for key in ["z", "p", "p_fdr"] {
            assert!(p.get(key).is_none(), "the public sees no {key}: {p}");
        }
        assert_eq!(p["count"], CLUSTER_REPORTS);
        // Only significant cells are drawn.
        assert!(
            features(&tile)
                .iter()
                .all(|f| f["properties"]["significance"] != 0)
        );
        // Planners see the statistics of the endpoint.
        let planner = app.token("planner", None).await;
        let (_, tile, _) = app.get_as(&path, &planner).await;
        let hub_feature = features(&tile)
            .iter()
            .find(|f| cell_of(f) == hub())
            .unwrap();
        let p = &hub_feature["properties"];
        assert_eq!(p["count"], CLUSTER_REPORTS);
        assert!(
            (p["z"].as_f64().unwrap() - z_of[&hub()]).abs() < 1e-9,
            "{p}"
        );
        // The MVT of the same tile decodes; TileJSON lists the layer's fields.
        let r = app
            .client
            .get(app.url(&path.replace(".geojson", ".mvt")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert!(!r.bytes().await.unwrap().is_empty());
        let (status, doc, _) = app.get("/tiles/hotspots.json").await;
        assert_eq!(status, 200, "{doc}");
        assert_eq!(doc["vector_layers"][0]["id"], "hotspots");
        assert!(
            doc["vector_layers"][0]["fields"]
                .get("significance")
                .is_some(),
            "{doc}"
        );
        assert_problem(
            &app.get("/tiles/hotspots/15/0/0.geojson").await,
            404,
            "zoom_out_of_range",
        );
    }
);

both_backends!(
    the_public_sees_hotspot_bins_and_counts_of_k_or_more_without_statistics,
    |backend| async move {
        let app = TestApp::spawn(backend, &xinglongtai()).await;
        let points = planted();
        submit(&app, &points).await;
        let counted = expected_counts(&points);
        for url in [
            "/v1/analytics/hotspots?res=8",
            "/v1/analytics/hotspots?res=8&permutations=99",
        ] {
            let (status, public, _) = app.get(url).await;
            assert_eq!(status, 200, "{public}");
            let (_, planner, _) = planner_get(&app, url).await;
            assert_eq!(features(&public).len(), features(&planner).len());
            for (f, full) in features(&public).iter().zip(features(&planner)) {
                let p = &f["properties"];
                let n = counted.get(&cell_of(f)).copied().unwrap_or(0);
                // Counts below k = 3 (the noise cells hold 1, empty cells 0) are null.
                if n >= 3 {
                    assert_eq!(p["count"], n, "{p}");
                } else {
                    assert!(p["count"].is_null(), "{p}");
                }
                for key in ["z", "p", "p_fdr", "p_sim"] {
                    assert!(p.get(key).is_none(), "{key} in {p}");
                }
                assert_eq!(p["significance"], full["properties"]["significance"]);
                assert_eq!(full["properties"]["count"], n);
            }
            assert_eq!(public["summary"], planner["summary"]);
        }
        let (status, public, _) = app
            .get("/v1/analytics/hotspots/emerging?res=8&period=week")
            .await;
        assert_eq!(status, 200, "{public}");
        for f in features(&public) {
            let p = &f["properties"];
            let n = counted.get(&cell_of(f)).copied().unwrap_or(0);
            let last = &p["counts"][9];
            if n >= 3 {
                assert_eq!((last, &p["total"]), (&json!(n), &json!(n)), "{p}");
            } else {
                assert!(last.is_null() && p["total"].is_null(), "{p}");
            }
        }
    }
);
