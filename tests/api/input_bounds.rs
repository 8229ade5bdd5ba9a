//! What the service takes and echoes back (issue 8, "Input"): days in a sane range,
//! whatever the endpoint; long values never sent back whole.

use serde_json::json;

use crate::both_backends;
use crate::helpers::*;

both_backends!(
    days_outside_the_services_range_are_refused_alike_on_both_sides,
    |backend| async move {
        let app = TestApp::spawn(backend, &xinglongtai()).await;
        let planner = app.token("planner", None).await;
        for day in [
            "-99999-01-01",
            "99999-01-01",
            "+2026-01-01",
            "1999-12-31",
            "2100-01-01",
        ] {
            for path in [
                format!("/v1/analytics/hexbins?res=8&from={day}"),
                format!("/v1/analytics/hexbins?res=8&to={day}"),
                format!("/v1/analytics/hotspots?res=8&from={day}"),
                format!("/tiles/hexbins/10/0/0.geojson?from={day}"),
            ] {
                let answer = app.get(&path).await;
                assert_problem(&answer, 422, "invalid_date");
                assert!(
                    answer.1["detail"]
                        .as_str()
                        .is_some_and(|d| d.contains("2000-01-01") || d.contains("YYYY-MM-DD")),
                    "{path}: {}",
                    answer.1
                );
            }
            let answer = app
                .get_as(&format!("/v1/stats?from={day}&to=2026-01-31"), &planner)
                .await;
            assert_problem(&answer, 422, "invalid_date");
            assert!(
                answer.1["detail"].as_str().unwrap().starts_with("from "),
                "{}",
                answer.1
            );
        }
        let (status, body, _) = app
            .get("/v1/analytics/hexbins?res=8&from=2000-01-01&to=2099-12-31")
            .await;
        assert_eq!(status, 200, "{body}");
    }
);

both_backends!(
    a_ten_thousand_character_value_is_not_echoed_whole,
    |backend| async move {
        let app = TestApp::spawn(backend, &xinglongtai()).await;
        let long = "9".repeat(10_000);
        for answer in [
            app.get(&format!("/v1/analytics/hexbins?res=8&category={long}"))
                .await,
            app.post_json(
                "/v1/reports",
                &json!({
                    "description": "测试", "category": long,
                    "location": {"lon": 122.07, "lat": 41.12}
                }),
            )
            .await,
            app.post_json("/v1/residents", &json!({ long.clone(): 1 }))
                .await,
        ] {
            let detail = answer.1["detail"].as_str().expect("a problem document");
            assert!(answer.0 >= 400, "{detail}");
            assert!(
                detail.chars().count() < 300,
                "{} characters: {detail}",
                detail.len()
            );
            assert!(detail.contains("10000 characters"), "{detail}");
        }
    }
);
