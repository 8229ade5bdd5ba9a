//! `GET/POST /v1/resolve` over the real outline of 兴隆台区.

use serde_json::json;

use crate::both_backends;
use crate::helpers::*;

both_backends!(
    a_point_inside_the_district_resolves_to_it,
    |backend| async move {
        let app = TestApp::spawn(backend, &xinglongtai()).await;
        let (status, body, _) = app.get("/v1/resolve?lon=122.07&lat=41.12").await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            body["units"]["district"],
            json!({"kind": "unit", "code": "211103", "name": "兴隆台区", "level": "district"})
        );
        assert_eq!(body["snapped"], false);
        assert_eq!(body["location"], json!({"lon": 122.07, "lat": 41.12}));
    }
);

both_backends!(
    a_report_from_jining_is_refused_with_where_the_service_is,
    |backend| async move {
        let app = TestApp::spawn(backend, &xinglongtai()).await;
        let resp = app
            .get(&format!("/v1/resolve?lon={}&lat={}", JINING.0, JINING.1))
            .await;
        assert_problem(&resp, 422, "out_of_area");
        let body = &resp.1;
        assert_eq!(body["service_area"], "兴隆台区");
        assert_eq!(
            body["nearest_unit"],
            json!({"kind": "unit", "code": "211103", "name": "兴隆台区", "level": "district"})
        );
        // Independently: the haversine distance from this point to the nearest vertex of the
        // GCJ-02 outline file is 740.9 km (Python over the raw vertices); the datum shift and
        // the nearest point lying between vertices move that by under a kilometre.
        let d = body["distance_m"].as_f64().unwrap();
        assert!((739_000.0..741_000.0).contains(&d), "distance {d}");
        assert!(body["detail"].as_str().unwrap().contains("兴隆台区"));
    }
);

both_backends!(
    gps_error_just_outside_the_edge_is_snapped_but_a_kilometre_is_not,
    |backend| async move {
        let district = xinglongtai();
        let east = easternmost_vertex(&district[0]);
        let app = TestApp::spawn(backend, &district).await;
        // 0.0002° of longitude at 41° N is about 16.8 m east of the easternmost vertex.
        let (status, body, _) = app
            .get(&format!(
                "/v1/resolve?lon={}&lat={}",
                east.x + 0.0002,
                east.y
            ))
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["snapped"], true);
        let d = body["snapped_m"].as_f64().unwrap();
        assert!(d > 0.0 && d <= 16.9, "snapped {d} m");
        assert_eq!(body["units"]["district"]["code"], "211103");
        // 0.01° east is about 840 m: refused, and the distance says so.
        let resp = app
            .get(&format!("/v1/resolve?lon={}&lat={}", east.x + 0.01, east.y))
            .await;
        assert_problem(&resp, 422, "out_of_area");
        let d = resp.1["distance_m"].as_f64().unwrap();
        assert!((700.0..=841.0).contains(&d), "distance {d}");
    }
);

both_backends!(
    a_gcj02_point_is_converted_before_resolving,
    |backend| async move {
        let app = TestApp::spawn(backend, &xinglongtai()).await;
        let (wlon, wlat) = (122.07, 41.12);
        let (glon, glat) = citysnap::domain::spatial::datum::Datum::Gcj02.from_wgs84(wlon, wlat);
        let (status, body, _) = app
            .get(&format!("/v1/resolve?lon={glon}&lat={glat}&datum=gcj02"))
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            body["location"],
            json!({"lon": wlon, "lat": wlat}),
            "stored in WGS-84"
        );
        assert_eq!(body["input"]["datum"], "gcj02");
    }
);

both_backends!(
    bad_query_strings_are_refused_with_stable_codes,
    |backend| async move {
        let app = TestApp::spawn(backend, &xinglongtai()).await;
        for (query, status, code) in [
            ("lon=NaN&lat=41.1", 422, "invalid_coordinates"),
            ("lon=inf&lat=41.1", 422, "invalid_coordinates"),
            ("lon=41.12&lat=122.07", 422, "invalid_coordinates"),
            ("lon=abc&lat=41.1", 400, "invalid_query"),
            ("lat=41.1", 400, "invalid_query"),
            ("lon=122&lat=41&datum=osgb36", 400, "invalid_query"),
            ("lon=122&lat=41&zoom=3", 400, "invalid_query"),
        ] {
            let resp = app.get(&format!("/v1/resolve?{query}")).await;
            assert_problem(&resp, status, code);
        }
    }
);

both_backends!(
    a_feature_collection_comes_back_annotated_point_by_point,
    |backend| async move {
        let district = xinglongtai();
        let east = easternmost_vertex(&district[0]);
        let app = TestApp::spawn(backend, &district).await;
        let fc = json!({"type": "FeatureCollection", "features": [
            {"type": "Feature", "id": "in", "properties": {"note": "kept"}, "geometry": {"type": "Point", "coordinates": [122.07, 41.12]}},
            {"type": "Feature", "id": "jining", "properties": null, "geometry": {"type": "Point", "coordinates": [JINING.0, JINING.1]}},
            {"type": "Feature", "id": "edge", "properties": {}, "geometry": {"type": "Point", "coordinates": [east.x + 0.0002, east.y]}},
        ]});
        let (status, body, headers) = app.post_json("/v1/resolve", &fc).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(headers["content-type"], "application/geo+json");
        let f = body["features"].as_array().unwrap();
        assert_eq!(f.len(), 3);
        assert_eq!(f[0]["id"], "in");
        assert_eq!(f[0]["properties"]["note"], "kept");
        assert_eq!(f[0]["properties"]["units"]["district"]["code"], "211103");
        assert_eq!(
            f[1]["properties"]["out_of_area"]["nearest_unit"]["code"],
            "211103"
        );
        assert!(f[1]["properties"].get("units").is_none());
        assert_eq!(f[2]["properties"]["snapped"], true);
    }
);

both_backends!(
    batch_resolution_refuses_bad_geojson_and_more_than_ten_thousand_points,
    |backend| async move {
        let app = TestApp::spawn(backend, &xinglongtai()).await;
        let line = json!({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {}, "geometry": {"type": "LineString", "coordinates": [[122.0, 41.0], [122.1, 41.1]]}}]});
        assert_problem(
            &app.post_json("/v1/resolve", &line).await,
            422,
            "invalid_geojson",
        );
        assert_problem(
            &app.post_json("/v1/resolve", &json!({"type": "Feature"}))
                .await,
            422,
            "invalid_geojson",
        );
        let nan_ish = json!({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {}, "geometry": {"type": "Point", "coordinates": [122.07, 141.12]}}]});
        assert_problem(
            &app.post_json("/v1/resolve", &nan_ish).await,
            422,
            "invalid_geojson",
        );
        // RFC 7946 §3.2: an id is a string or a number, properties an object or null
        // (found by schemathesis: `"id": {}` and `"properties": [null]` were answered 200).
        for bad in [
            json!({"type": "Feature", "id": {}, "properties": {}, "geometry": {"type": "Point", "coordinates": [122.07, 41.12]}}),
            json!({"type": "Feature", "properties": [null, null], "geometry": {"type": "Point", "coordinates": [122.07, 41.12]}}),
            json!({"type": "Feature", "properties": {}, "geometry": {"type": "Point", "coordinates": [122.07, 41.12, 0.0, 0.0]}}),
            json!({"type": "Feature", "properties": {}, "geometry": {"type": "Point", "coordinates": [122.07]}}),
            json!({"type": "Feature", "properties": {}, "geometry": null}),
        ] {
            let body = json!({"type": "FeatureCollection", "features": [bad]});
            assert_problem(
                &app.post_json("/v1/resolve", &body).await,
                422,
                "invalid_geojson",
            );
        }
        let point = json!({"type": "Feature", "properties": {}, "geometry": {"type": "Point", "coordinates": [122.07, 41.12]}});
        let many = json!({"type": "FeatureCollection", "features": vec![point; 10_001]});
        assert_problem(
            &app.post_json("/v1/resolve", &many).await,
            422,
            "too_many_items",
        );
        assert_problem(
            &app.post_raw("/v1/resolve", "application/json", "{\"type\": ")
                .await,
            400,
            "malformed_json",
        );
    }
);

both_backends!(a_store_without_boundaries_says_so, |backend| async move {
    let app = TestApp::spawn(backend, &[]).await;
    let (status, body, _) = app.get("/healthz").await;
    assert_eq!((status, body["status"].as_str()), (200, Some("ok")));
    assert_problem(
        &app.get("/v1/resolve?lon=122.07&lat=41.12").await,
        503,
        "no_boundaries",
    );
    assert_problem(&app.get("/readyz").await, 503, "no_boundaries");
});
