//! `GET /v1/analytics/hexbins`: report counts per H3 hexagon as GeoJSON (issue 4).

use std::collections::BTreeMap;

use h3o::{LatLng, Resolution};
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::*;

/// Reports in 兴隆台区 (WGS-84): two pavement reports on one spot, garbage a few metres
/// away, and dirty road about 1.4 km to the north-west.
const REPORTS: [(f64, f64, &str); 4] = [
    (122.07, 41.12, "0301"),
    (122.07, 41.12, "0301"),
    (122.0702, 41.1201, "0101"),
    (122.06, 41.13, "0102"),
];

async fn submit_all(app: &TestApp) {
    for (lon, lat, category) in REPORTS {
        let body = json!({
            "description": "热力图测试",
            "category": category,
            "location": {"lon": lon, "lat": lat},
        });
        let (status, body, _) = app.post_json("/v1/reports", &body).await;
        assert_eq!(status, 201, "{body}");
    }
}

/// The expected hexagon of a report at `res`, computed here with h3o: the cell holding the
/// point (`latLngToCell`, issue 10).
fn expected_cell(lon: f64, lat: f64, res: Resolution) -> String {
    let cell = LatLng::new(lat, lon).expect("valid point").to_cell(res);
    format!("{:x}", u64::from(cell))
}

/// Expected counts per hexagon (hex index → count) for the reports matching `keep`.
fn expected_counts(res: Resolution, keep: impl Fn(&str) -> bool) -> BTreeMap<String, i64> {
    let mut m = BTreeMap::new();
    for (lon, lat, category) in REPORTS {
        if keep(category) {
            *m.entry(expected_cell(lon, lat, res)).or_default() += 1;
        }
    }
    m
}

pub(crate) fn counts(fc: &Value) -> BTreeMap<String, i64> {
    fc["features"]
        .as_array()
        .expect("features")
        .iter()
        .map(|f| {
            (
                f["properties"]["cell"].as_str().expect("cell").to_owned(),
                f["properties"]["count"].as_i64().expect("count"),
            )
        })
        .collect()
}

/// RFC 7946: a FeatureCollection of Polygons whose exterior rings are closed (§3.1.6),
/// counter-clockwise (§3.1.6) and in lon/lat order (§3.1.1), with at most 6 decimals.
fn assert_valid_hexagons(fc: &Value) {
    assert_eq!(fc["type"], "FeatureCollection");
    for f in fc["features"].as_array().expect("features") {
        assert_eq!(f["type"], "Feature");
        assert_eq!(f["geometry"]["type"], "Polygon");
        let ring: Vec<[f64; 2]> =
            serde_json::from_value(f["geometry"]["coordinates"][0].clone()).expect("ring");
        assert!(
            ring.len() >= 7,
            "a hexagon has six vertices plus the closing one"
        );
        assert_eq!(ring.first(), ring.last(), "ring not closed");
        let twice_area: f64 = ring
            .windows(2)
            .map(|w| w[0][0] * w[1][1] - w[1][0] * w[0][1])
            .sum();
        assert!(twice_area > 0.0, "exterior ring is clockwise: {ring:?}");
        for [lon, lat] in &ring {
            // Panjin is at about 122° E, 41° N: a swapped pair would show up here.
            assert!(
                (121.0..123.0).contains(lon) && (40.5..41.5).contains(lat),
                "{lon},{lat}"
            );
            assert_eq!((lon * 1e6).round() / 1e6, *lon, "more than 6 decimals");
        }
        let cell = f["properties"]["cell"].as_str().expect("cell");
        let centre = LatLng::from(
            h3o::CellIndex::try_from(u64::from_str_radix(cell, 16).expect("hex")).expect("cell"),
        );
        let (min_lon, max_lon) = ring
            .iter()
            .fold((f64::MAX, f64::MIN), |(a, b), p| (a.min(p[0]), b.max(p[0])));
        assert!(
            (min_lon..=max_lon).contains(&centre.lng()),
            "geometry is not the cell's"
        );
    }
}

both_backends!(
    hexbins_count_each_report_in_the_cell_holding_its_point,
    |backend| async move {
        let app = TestApp::spawn(backend, &xinglongtai()).await;
        submit_all(&app).await;
        let planner = app.token("planner", None).await;
        for res in [Resolution::Five, Resolution::Nine, Resolution::Twelve] {
            let (status, fc, headers) = app
                .get_as(
                    &format!("/v1/analytics/hexbins?res={}", u8::from(res)),
                    &planner,
                )
                .await;
            assert_eq!(status, 200, "{fc}");
            assert_eq!(headers["content-type"], "application/geo+json");
            assert_valid_hexagons(&fc);
            assert_eq!(counts(&fc), expected_counts(res, |_| true), "res {res}");
        }
    }
);

both_backends!(
    by_category_splits_each_hexagon_count_per_category,
    |backend| async move {
        let app = TestApp::spawn(backend, &xinglongtai()).await;
        submit_all(&app).await;
        let planner = app.token("planner", None).await;
        let (status, fc, _) = app
            .get_as("/v1/analytics/hexbins?res=8&by=category", &planner)
            .await;
        assert_eq!(status, 200, "{fc}");
        let here = expected_cell(122.07, 41.12, Resolution::Eight);
        assert_eq!(here, expected_cell(122.0702, 41.1201, Resolution::Eight));
        let feature = fc["features"]
            .as_array()
            .expect("features")
            .iter()
            .find(|f| f["properties"]["cell"] == here.as_str())
            .expect("the hexagon of the first reports");
        assert_eq!(feature["properties"]["count"], 3);
        assert_eq!(
            feature["properties"]["counts"],
            json!({"0301": 2, "0101": 1})
        );
    }
);

both_backends!(
    filters_select_reports_by_category_day_and_bbox,
    |backend| async move {
        let app = TestApp::spawn(backend, &xinglongtai()).await;
        submit_all(&app).await;
        let planner = app.token("planner", None).await;
        let get_counts = |query: String| {
            let (app, planner) = (&app, &planner);
            async move {
                let (status, fc, _) = app
                    .get_as(&format!("/v1/analytics/hexbins?res=10&{query}"), planner)
                    .await;
                assert_eq!(status, 200, "{query}: {fc}");
                counts(&fc)
            }
        };
        let res = Resolution::Ten;
        // A full code and a major category's prefix.
        assert_eq!(
            get_counts("category=0301".into()).await,
            expected_counts(res, |c| c == "0301")
        );
        assert_eq!(
            get_counts("category=01".into()).await,
            expected_counts(res, |c| c.starts_with("01"))
        );
        // Reports are dated by the deployment's day (+08:00); none were made before today.
        let day = deployment_today();
        assert_eq!(
            get_counts(format!("from={day}&to={day}")).await,
            expected_counts(res, |_| true)
        );
        assert!(get_counts("to=2020-01-01".into()).await.is_empty());
        // A box around the north-western report only (it lies 1.4 km from the others).
        let north_west = get_counts("bbox=122.055,41.125,122.065,41.135".into()).await;
        assert_eq!(
            north_west,
            BTreeMap::from([(expected_cell(122.06, 41.13, res), 1)])
        );
    }
);

both_backends!(
    every_bad_parameter_gets_its_own_problem_code,
    |backend| async move {
        let app = TestApp::spawn(backend, &xinglongtai()).await;
        for (query, code) in [
            ("res=4", "invalid_resolution"),
            ("res=13", "invalid_resolution"),
            ("res=nine", "invalid_resolution"),
            ("", "invalid_resolution"),
            ("res=9&bbox=122,41,122.1", "invalid_bbox"),
            ("res=9&bbox=41,122,41.1,122.1", "invalid_bbox"),
            ("res=9&bbox=122.1,41,122,41.1", "invalid_bbox"),
            ("res=9&from=2026-13-01", "invalid_date"),
            ("res=9&to=yesterday", "invalid_date"),
            ("res=9&from=2026-03-02&to=2026-03-01", "invalid_date_range"),
            ("res=9&category=03%25", "invalid_category"),
            ("res=9&by=street", "invalid_group_by"),
        ] {
            let resp = app.get(&format!("/v1/analytics/hexbins?{query}")).await;
            assert_problem(&resp, 422, code);
        }
    }
);

/// Three pavement reports and one garbage report on one spot, and one dirty-road report
/// alone 1.4 km away: with k = 3 the public may see the spot's hexagon and its pavement
/// count, nothing else.
const SPARSE: [(f64, f64, &str); 5] = [
    (122.07, 41.12, "0301"),
    (122.07, 41.12, "0301"),
    (122.07, 41.12, "0301"),
    (122.07, 41.12, "0101"),
    (122.06, 41.13, "0102"),
];

both_backends!(
    the_public_sees_only_counts_of_k_reports_or_more_planners_and_staff_see_all,
    |backend| async move {
        let app = TestApp::spawn(backend, &xinglongtai()).await;
        for (lon, lat, category) in SPARSE {
            let body = json!({
                "description": "k-匿名测试",
                "category": category,
                "location": {"lon": lon, "lat": lat},
            });
            let (status, body, _) = app.post_json("/v1/reports", &body).await;
            assert_eq!(status, 201, "{body}");
        }
        let spot = expected_cell(122.07, 41.12, Resolution::Twelve);
        let alone = expected_cell(122.06, 41.13, Resolution::Twelve);
        let resident = app.resident("13800138000").await;
        let planner = app.token("planner", None).await;
        let dispatcher = app.token("dispatcher", None).await;
        let url = "/v1/analytics/hexbins?res=12&by=category";
        // Anonymous callers and residents get the public view.
        for token in [None, Some(&resident)] {
            let (status, fc, _) = match token {
                None => app.get(url).await,
                Some(t) => app.get_as(url, t).await,
            };
            assert_eq!(status, 200, "{fc}");
            assert_eq!(counts(&fc), BTreeMap::from([(spot.clone(), 4)]), "{fc}");
            assert_eq!(
                fc["features"][0]["properties"]["counts"],
                json!({"0301": 3}),
                "a category of one report is not shown: {fc}"
            );
            // Filtering down to the single report shows nothing either.
            let (_, one, _) = app.get("/v1/analytics/hexbins?res=12&category=0102").await;
            assert!(counts(&one).is_empty(), "{one}");
            let (_, one, _) = app.get("/v1/analytics/hexbins?res=12&category=0101").await;
            assert!(counts(&one).is_empty(), "{one}");
        }
        let states = "submitted,pending_verification,verified,dispatched,accepted";
        let (_, by_state, _) = app
            .get(&format!("/v1/analytics/hexbins?res=12&status={states}"))
            .await;
        assert!(!counts(&by_state).contains_key(&alone), "{by_state}");
        // Planners and staff see every count.
        for token in [&planner, &dispatcher] {
            let (status, fc, _) = app.get_as(url, token).await;
            assert_eq!(status, 200, "{fc}");
            assert_eq!(
                counts(&fc),
                BTreeMap::from([(spot.clone(), 4), (alone.clone(), 1)])
            );
            let at_spot = fc["features"]
                .as_array()
                .expect("features")
                .iter()
                .find(|f| f["properties"]["cell"] == spot.as_str())
                .expect("the spot");
            assert_eq!(
                at_spot["properties"]["counts"],
                json!({"0301": 3, "0101": 1})
            );
        }
    }
);
