//! OGC API – Features under `/ogc` (issue 12): the documents GIS clients read, items with
//! bbox, datetime, property filters and keyset paging, and reports as the caller may see
//! them. GDAL and owslib read the same endpoints in `scripts/check_ogc.py`.

use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::*;
use crate::workflow::{GRID, OTHER_GRID, POINT, STREET, small_deployment};

async fn report(app: &TestApp, (lon, lat): (f64, f64), category: &str) {
    let body = json!({"description": "OGC 测试", "category": category, "location": {"lon": lon, "lat": lat},
        "contact": {"phone": "13800138000"}});
    let (status, body, _) = app.post_json("/v1/reports", &body).await;
    assert_eq!(status, 201, "{body}");
}

fn next_link(page: &Value) -> Option<String> {
    page["links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["rel"] == "next")
        .map(|l| l["href"].as_str().unwrap().to_owned())
}

/// The path and query of an absolute link.
fn path_of(href: &str) -> String {
    let rest = href.split_once("://").unwrap().1;
    rest[rest.find('/').unwrap()..].to_owned()
}

both_backends!(
    landing_conformance_and_collections_describe_the_service,
    |backend| async move {
        let app = TestApp::spawn(backend, &small_deployment()).await;
        let (status, landing, _) = app.get("/ogc").await;
        assert_eq!(status, 200, "{landing}");
        let rels: Vec<&str> = landing["links"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["rel"].as_str().unwrap())
            .collect();
        for rel in ["self", "service-desc", "service-doc", "conformance", "data"] {
            assert!(rels.contains(&rel), "{rel} missing: {landing}");
        }
        let (_, conformance, _) = app.get("/ogc/conformance").await;
        assert_eq!(
            conformance["conformsTo"],
            json!([
                "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
                "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson"
            ])
        );
        let (_, collections, _) = app.get("/ogc/collections").await;
        let ids: Vec<&str> = collections["collections"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap())
            .collect();
        assert_eq!(
            ids,
            [
                "districts",
                "streets",
                "communities",
                "grids",
                "reports",
                "hotspots"
            ]
        );
        let (status, grids, _) = app.get("/ogc/collections/grids").await;
        assert_eq!(status, 200);
        let bbox = &grids["extent"]["spatial"]["bbox"][0];
        assert!(
            bbox[0].as_f64().unwrap() < 122.07 && bbox[2].as_f64().unwrap() > 122.07,
            "{bbox}"
        );
        assert_eq!(
            grids["crs"][0],
            "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
        );
        assert_problem(&app.get("/ogc/collections/parcels").await, 404, "not_found");
        assert_problem(
            &app.get("/ogc/collections/parcels/items").await,
            404,
            "not_found",
        );
    }
);

both_backends!(
    unit_items_page_by_keyset_with_bbox_and_parent,
    |backend| async move {
        let app = TestApp::spawn(backend, &small_deployment()).await;
        let (status, page, headers) = app.get("/ogc/collections/grids/items?limit=1").await;
        assert_eq!(status, 200, "{page}");
        assert_eq!(headers["content-type"], "application/geo+json");
        assert_eq!(
            headers["content-crs"],
            "<http://www.opengis.net/def/crs/OGC/1.3/CRS84>"
        );
        assert_eq!(
            (
                page["numberReturned"].as_u64(),
                page["numberMatched"].as_u64()
            ),
            (Some(1), Some(2))
        );
        assert_eq!(page["features"][0]["id"], GRID);
        assert_eq!(page["features"][0]["properties"]["level"], "grid");
        assert_eq!(page["features"][0]["geometry"]["type"], "MultiPolygon");
        let next = next_link(&page).expect("a next link");
        let (_, second, _) = app.get(&path_of(&next)).await;
        assert_eq!(second["features"][0]["id"], OTHER_GRID);
        assert!(next_link(&second).is_none(), "{second}");
        // A box around the first grid only; the parent filter.
        let (_, boxed, _) = app
            .get("/ogc/collections/grids/items?bbox=122.0695,41.1195,122.0705,41.1205")
            .await;
        assert_eq!(boxed["numberMatched"], 1, "{boxed}");
        let (_, streets, _) = app
            .get("/ogc/collections/streets/items?parent=211103")
            .await;
        assert!(
            streets["features"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["id"] == STREET)
        );
        let (status, one, _) = app
            .get(&format!("/ogc/collections/grids/items/{GRID}"))
            .await;
        assert_eq!(
            (status, one["properties"]["code"].as_str()),
            (200, Some(GRID))
        );
        assert_problem(
            &app.get(&format!("/ogc/collections/streets/items/{GRID}"))
                .await,
            404,
            "not_found",
        );
        assert_problem(
            &app.get("/ogc/collections/grids/items/nothing").await,
            404,
            "not_found",
        );
    }
);

both_backends!(
    invalid_and_unknown_parameters_are_400_problems,
    |backend| async move {
        let app = TestApp::spawn(backend, &small_deployment()).await;
        for query in [
            "limit=0",
            "limit=10001",
            "limit=ten",
            "bbox=1,2,3",
            "bbox=122.1,41,122.0,41.2",
            "datetime=yesterday",
            "datetime=../..",
            "datetime=2026-12-01T00:00:00Z/2026-11-01T00:00:00Z",
            "colour=red",
            "category=0301",
            "cursor=xyz",
        ] {
            assert_problem(
                &app.get(&format!("/ogc/collections/grids/items?{query}"))
                    .await,
                400,
                "invalid_query",
            );
        }
        for query in ["parent=211103", "state=nonsense", "cursor=00", "unit=abc"] {
            assert_problem(
                &app.get(&format!("/ogc/collections/reports/items?{query}"))
                    .await,
                400,
                "invalid_query",
            );
        }
    }
);

both_backends!(
    the_public_sees_coarse_reports_without_ids_and_staff_see_their_scope,
    |backend| async move {
        let app = TestApp::spawn(backend, &small_deployment()).await;
        report(&app, POINT, "0301").await;
        report(&app, (122.0701, 41.1201), "0302").await;
        let (status, page, _) = app.get("/ogc/collections/reports/items").await;
        assert_eq!(status, 200, "{page}");
        let features = page["features"].as_array().unwrap();
        assert_eq!(features.len(), 2);
        assert!(
            page.get("numberMatched").is_none(),
            "no count over reports: {page}"
        );
        for f in features {
            assert!(f.get("id").is_none(), "{f}");
            let keys: Vec<&String> = f["properties"].as_object().unwrap().keys().collect();
            assert_eq!(
                keys,
                ["category", "community", "day", "grid", "state"],
                "{f}"
            );
            let c = &f["geometry"]["coordinates"];
            let (lon, lat) = (c[0].as_f64().unwrap(), c[1].as_f64().unwrap());
            assert_eq!(
                Some((lon, lat)),
                citysnap::api::ogc::coarsened(lon, lat),
                "a cell centre"
            );
            assert!(!page.to_string().contains("13800138000"));
        }
        assert!(!page.to_string().contains("XL-"), "no case ids: {page}");
        // A planner is the public here; a box too small to hold the coarsened point finds
        // nothing even though it holds the exact one.
        let planner = app.token("planner", None).await;
        let tiny = "bbox=122.06999,41.11999,122.07001,41.12001";
        let (_, small, _) = app
            .get_as(&format!("/ogc/collections/reports/items?{tiny}"), &planner)
            .await;
        assert_eq!(small["features"], json!([]), "{small}");
        // Staff: exact points and case ids, within scope.
        let dispatcher = app.token("dispatcher", None).await;
        let (_, staff, _) = app
            .get_as(
                &format!("/ogc/collections/reports/items?{tiny}"),
                &dispatcher,
            )
            .await;
        assert_eq!(staff["features"].as_array().unwrap().len(), 1, "{staff}");
        let f = &staff["features"][0];
        assert_eq!(f["geometry"]["coordinates"], json!([POINT.0, POINT.1]));
        let id = f["id"].as_str().unwrap();
        let (status, one, _) = app
            .get_as(&format!("/ogc/collections/reports/items/{id}"), &dispatcher)
            .await;
        assert_eq!((status, &one["id"]), (200, &f["id"]));
        assert_problem(
            &app.get(&format!("/ogc/collections/reports/items/{id}"))
                .await,
            404,
            "not_found",
        );
        let elsewhere = app.token("grid_worker", Some(OTHER_GRID)).await;
        let (_, none, _) = app
            .get_as("/ogc/collections/reports/items", &elsewhere)
            .await;
        assert_eq!(
            none["features"],
            json!([]),
            "outside the grid worker's grid: {none}"
        );
        assert_problem(
            &app.get_as(&format!("/ogc/collections/reports/items/{id}"), &elsewhere)
                .await,
            404,
            "not_found",
        );
        // Filters.
        let (_, lights, _) = app
            .get_as("/ogc/collections/reports/items?category=0302", &dispatcher)
            .await;
        assert_eq!(lights["features"].as_array().unwrap().len(), 1);
        let (_, in_grid, _) = app
            .get_as(
                &format!("/ogc/collections/reports/items?unit={GRID}&state=dispatched"),
                &dispatcher,
            )
            .await;
        assert!(in_grid["features"].as_array().unwrap().len() <= 2);
    }
);

both_backends!(
    report_pages_stay_stable_while_reports_arrive_and_datetime_filters,
    |backend| async move {
        let app = TestApp::spawn(backend, &small_deployment()).await;
        let before = chrono::Utc::now() - chrono::TimeDelta::seconds(1);
        for i in 0..5 {
            report(&app, (POINT.0 + f64::from(i) * 1e-4, POINT.1), "0301").await;
        }
        let dispatcher = app.token("dispatcher", None).await;
        let (_, first, _) = app
            .get_as("/ogc/collections/reports/items?limit=2", &dispatcher)
            .await;
        let mut seen: Vec<String> = first["features"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["id"].as_str().unwrap().to_owned())
            .collect();
        let mut next = next_link(&first);
        assert!(
            next.as_ref().is_some_and(|n| !n.contains("XL-")),
            "an opaque cursor: {next:?}"
        );
        // Two more reports arrive while the client pages.
        report(&app, POINT, "0301").await;
        report(&app, POINT, "0301").await;
        while let Some(href) = next {
            let (status, page, _) = app.get_as(&path_of(&href), &dispatcher).await;
            assert_eq!(status, 200, "{page}");
            seen.extend(
                page["features"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|f| f["id"].as_str().unwrap().to_owned()),
            );
            next = next_link(&page);
        }
        let mut sorted = seen.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted, seen, "in case-id order, none twice");
        assert_eq!(
            seen.len(),
            7,
            "the reports that arrived are on the last pages: {seen:?}"
        );
        let at =
            |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let (_, all, _) = app
            .get_as(
                &format!("/ogc/collections/reports/items?datetime={}/..", at(before)),
                &dispatcher,
            )
            .await;
        assert_eq!(all["features"].as_array().unwrap().len(), 7);
        let (_, none, _) = app
            .get_as(
                &format!("/ogc/collections/reports/items?datetime=../{}", at(before)),
                &dispatcher,
            )
            .await;
        assert_eq!(none["features"], json!([]), "{none}");
    }
);

both_backends!(
    the_hotspots_collection_serves_the_gi_star_cells_of_the_analytics,
    |backend| async move {
        let app = TestApp::spawn(backend, &small_deployment()).await;
        for i in 0..10 {
            let f = f64::from(i);
            report(
                &app,
                (POINT.0 - 0.004 + f * 0.0009, POINT.1 + f * 0.0002),
                "0301",
            )
            .await;
        }
        let planner = app.token("planner", None).await;
        let (status, described, _) = app.get("/ogc/collections/hotspots").await;
        assert_eq!(status, 200, "{described}");
        assert!(
            described["description"]
                .as_str()
                .unwrap()
                .contains("k-ring 1"),
            "{described}"
        );
        let (_, analytics, _) = app.get_as("/v1/analytics/hotspots?res=9", &planner).await;
        let want: Vec<(String, Value, Value)> = analytics["features"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                let p = &f["properties"];
                (
                    p["cell"].as_str().unwrap().to_owned(),
                    p["z"].clone(),
                    p["significance"].clone(),
                )
            })
            .collect();
        assert!(want.len() > 2, "{analytics}");
        // Page through, as GDAL does with PAGE_SIZE.
        let mut got = Vec::new();
        let per_page = want.len().div_ceil(3);
        let mut next = Some(format!(
            "/ogc/collections/hotspots/items?resolution=9&limit={per_page}"
        ));
        let mut pages = 0;
        let mut matched = None;
        while let Some(path) = next {
            let (status, page, _) = app.get_as(&path, &planner).await;
            assert_eq!(status, 200, "{page}");
            matched = page["numberMatched"].as_u64();
            for f in page["features"].as_array().unwrap() {
                let p = &f["properties"];
                assert_eq!(f["id"], p["cell"]);
                assert_eq!(p["resolution"], 9);
                got.push((
                    p["cell"].as_str().unwrap().to_owned(),
                    p["z"].clone(),
                    p["significance"].clone(),
                ));
            }
            next = next_link(&page).map(|h| path_of(&h));
            pages += 1;
        }
        assert!(pages > 1, "several pages of {} cells", want.len());
        assert_eq!(matched, Some(want.len() as u64));
        let mut want_sorted = want.clone();
        want_sorted.sort_by(|a, b| a.0.cmp(&b.0));
        got.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(got, want_sorted, "the same cells, z and significance");
        // One cell by its id; the public sees no z.
        let cell = &want[0].0;
        let (status, one, _) = app
            .get(&format!("/ogc/collections/hotspots/items/{cell}"))
            .await;
        assert_eq!(status, 200, "{one}");
        assert_eq!(one["properties"]["cell"], json!(cell));
        assert!(one["properties"].get("z").is_none(), "{one}");
        assert_problem(
            &app.get("/ogc/collections/hotspots/items/8a2a1072b59ffff")
                .await,
            404,
            "not_found",
        );
        for query in [
            "resolution=11",
            "resolution=x",
            "parent=211103",
            "cursor=zz",
        ] {
            assert_problem(
                &app.get(&format!("/ogc/collections/hotspots/items?{query}"))
                    .await,
                400,
                "invalid_query",
            );
        }
        assert_problem(
            &app.get("/ogc/collections/grids/items?resolution=9").await,
            400,
            "invalid_query",
        );
    }
);
