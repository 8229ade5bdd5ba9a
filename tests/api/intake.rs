//! `POST /v1/reports` and `GET /v1/reports/{case_id}`.

use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::*;

fn report(lon: f64, lat: f64) -> Value {
    json!({
        "description": "人行道地砖破损，老人容易绊倒",
        "category": "0301",
        "location": {"lon": lon, "lat": lat, "accuracy_m": 8.0, "address": "兴隆台区 石油大街"},
        "contact": {"name": "王女士", "phone": "139 0427 1234"}
    })
}

fn is_case_id(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 3
        && parts[0] == "XL"
        && parts[1].len() == 8
        && parts[1].bytes().all(|b| b.is_ascii_digit())
        && parts[2].len() == 6
        && parts[2].bytes().all(|b| b.is_ascii_digit())
}

both_backends!(
    a_report_inside_the_area_becomes_a_case_with_its_units,
    |backend| async move {
        let app = TestApp::spawn(backend, &xinglongtai()).await;
        let (status, body, headers) = app.post_json("/v1/reports", &report(122.07, 41.12)).await;
        assert_eq!(status, 201, "{body}");
        let case_id = body["case_id"].as_str().unwrap().to_owned();
        assert!(is_case_id(&case_id), "{case_id}");
        assert_eq!(headers["location"], format!("/v1/reports/{case_id}"));
        assert_eq!(body["status"], "submitted");
        assert_eq!(
            body["category"],
            json!({"code": "0301", "name": "道路破损", "kind": "problem"})
        );
        assert_eq!(
            body["units"]["district"],
            json!({"kind": "unit", "code": "211103", "name": "兴隆台区", "level": "district"})
        );

        let dispatcher = app.token("dispatcher", None).await;
        let (status, shown, _) = app
            .get_as(&format!("/v1/reports/{case_id}"), &dispatcher)
            .await;
        assert_eq!(status, 200);
        assert_eq!(shown["case_id"], case_id);
        assert_eq!(shown["description"], "人行道地砖破损，老人容易绊倒");
        assert_eq!(shown["location"]["lon"], 122.07);
        let text = shown.to_string();
        assert!(
            !text.contains("1234") && !text.contains("王女士"),
            "contact leaked: {text}"
        );
        assert!(shown.get("contact").is_none());
    }
);

both_backends!(a_gcj02_report_is_stored_in_wgs84, |backend| async move {
    let app = TestApp::spawn(backend, &xinglongtai()).await;
    let (glon, glat) = citysnap::domain::spatial::datum::Datum::Gcj02.from_wgs84(122.07, 41.12);
    let mut r = report(glon, glat);
    r["location"]["datum"] = json!("gcj02");
    let (status, body, _) = app.post_json("/v1/reports", &r).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["location"]["lon"], 122.07);
    assert_eq!(body["location"]["lat"], 41.12);
});

both_backends!(
    every_bad_input_gets_a_problem_with_a_stable_code,
    |backend| async move {
        let app = TestApp::spawn(backend, &xinglongtai()).await;
        let good = report(122.07, 41.12);
        let with = |path: &[&str], v: Value| {
            let mut r = good.clone();
            let mut cur = &mut r;
            for p in &path[..path.len() - 1] {
                cur = &mut cur[*p];
            }
            cur[path[path.len() - 1]] = v;
            r
        };
        let cases: Vec<(&str, Value, u16, &str)> = vec![
            (
                "lat out of range",
                with(&["location", "lat"], json!(141.12)),
                422,
                "invalid_coordinates",
            ),
            (
                "swapped lon/lat",
                with(&["location"], json!({"lon": 41.12, "lat": 122.07})),
                422,
                "invalid_coordinates",
            ),
            (
                "empty description",
                with(&["description"], json!("")),
                422,
                "invalid_description",
            ),
            (
                "blank description",
                with(&["description"], json!("   \n ")),
                422,
                "invalid_description",
            ),
            (
                "oversized description",
                with(&["description"], json!("坏".repeat(2001))),
                422,
                "invalid_description",
            ),
            (
                "unknown category",
                with(&["category"], json!("9999")),
                422,
                "unknown_category",
            ),
            (
                "unknown datum",
                with(&["location", "datum"], json!("osgb36")),
                422,
                "invalid_body",
            ),
            (
                "negative accuracy",
                with(&["location", "accuracy_m"], json!(-3)),
                422,
                "invalid_accuracy",
            ),
            (
                "bad phone",
                with(&["contact", "phone"], json!("call me")),
                422,
                "invalid_contact",
            ),
            (
                "unknown field",
                with(&["severity"], json!("high")),
                422,
                "invalid_body",
            ),
            (
                "unknown nested field",
                with(&["location", "alt"], json!(3)),
                422,
                "invalid_body",
            ),
            (
                "lon as string",
                with(&["location", "lon"], json!("122.07")),
                422,
                "invalid_body",
            ),
            (
                "from Jining",
                report(JINING.0, JINING.1),
                422,
                "out_of_area",
            ),
        ];
        for (what, body, status, code) in cases {
            let resp = app.post_json("/v1/reports", &body).await;
            assert_eq!(resp.0, status, "{what}: {}", resp.1);
            assert_problem(&resp, status, code);
        }
        let missing = json!({"description": "x", "category": "0301"});
        assert_problem(
            &app.post_json("/v1/reports", &missing).await,
            422,
            "invalid_body",
        );
        let raw: Vec<(&str, &str, u16, &str)> = vec![
            (
                "application/json",
                r#"{"description": "x", "category": "0301", "location": {"lon": NaN, "lat": 41.1}}"#,
                400,
                "malformed_json",
            ),
            (
                "application/json",
                r#"{"description": "x", "category": "0301", "location": {"lon": 1e999, "lat": 41.1}}"#,
                400,
                "malformed_json",
            ),
            (
                "application/json",
                r#"{"description": "x", "#,
                400,
                "malformed_json",
            ),
            ("application/json", "", 400, "malformed_json"),
            (
                "text/plain",
                r#"{"description": "x"}"#,
                415,
                "unsupported_content_type",
            ),
            (
                "application/x-www-form-urlencoded",
                "description=x",
                415,
                "unsupported_content_type",
            ),
        ];
        for (ct, body, status, code) in raw {
            assert_problem(
                &app.post_raw("/v1/reports", ct, body.to_owned()).await,
                status,
                code,
            );
        }
        // Nothing was stored by any of them: the next good report is the day's first case.
        let (status, body, _) = app.post_json("/v1/reports", &good).await;
        assert_eq!(status, 201);
        assert!(
            body["case_id"].as_str().unwrap().ends_with("-000001"),
            "{body}"
        );
    }
);

both_backends!(
    a_retried_submission_returns_the_original_case,
    |backend| async move {
        let app = TestApp::spawn(backend, &xinglongtai()).await;
        let body = report(122.07, 41.12);
        let send = |key: &'static str, body: Value| {
            let app = &app;
            async move {
                let r = app
                    .client
                    .post(app.url("/v1/reports"))
                    .header("idempotency-key", key)
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                read(r).await
            }
        };
        let (s1, first, h1) = send("retry-7f3a", body.clone()).await;
        let (s2, second, h2) = send("retry-7f3a", body.clone()).await;
        assert_eq!((s1, s2), (201, 201));
        assert_eq!(first["case_id"], second["case_id"]);
        assert!(h1.get("idempotent-replayed").is_none());
        assert_eq!(h2["idempotent-replayed"], "true");

        // Concurrent retries of one submission also make a single case.
        let retries = (0..6).map(|_| send("burst-91c2", body.clone()));
        let answers = futures::future::join_all(retries).await;
        let ids: std::collections::BTreeSet<String> = answers
            .iter()
            .map(|(s, b, _)| {
                assert_eq!(*s, 201, "{b}");
                b["case_id"].as_str().unwrap().to_owned()
            })
            .collect();
        assert_eq!(ids.len(), 1, "{ids:?}");

        // Two cases in all so far: the next one is the third of the day.
        let (_, third, _) = app.post_json("/v1/reports", &body).await;
        assert!(
            third["case_id"].as_str().unwrap().ends_with("-000003"),
            "{third}"
        );

        // The same key with a different request is refused.
        let mut other = body.clone();
        other["description"] = json!("另一个问题");
        assert_problem(
            &send("retry-7f3a", other).await,
            422,
            "idempotency_key_reused",
        );
    }
);

both_backends!(reports_survive_a_restart, |backend| async move {
    let app = TestApp::spawn(backend, &xinglongtai()).await;
    let (status, body, _) = app.post_json("/v1/reports", &report(122.07, 41.12)).await;
    assert_eq!(status, 201);
    let case_id = body["case_id"].as_str().unwrap().to_owned();
    let app = app.restart().await;
    let dispatcher = app.token("dispatcher", None).await;
    let (status, shown, _) = app
        .get_as(&format!("/v1/reports/{case_id}"), &dispatcher)
        .await;
    assert_eq!(status, 200, "{shown}");
    assert_eq!(shown["units"]["district"]["code"], "211103");
    // The sequence continues after the restart rather than reusing a number.
    let (_, next, _) = app.post_json("/v1/reports", &report(122.07, 41.12)).await;
    assert!(
        next["case_id"].as_str().unwrap().ends_with("-000002"),
        "{next}"
    );
});

both_backends!(an_unknown_case_is_404, |backend| async move {
    let app = TestApp::spawn(backend, &xinglongtai()).await;
    let dispatcher = app.token("dispatcher", None).await;
    assert_problem(
        &app.get_as("/v1/reports/XL-20260101-999999", &dispatcher)
            .await,
        404,
        "report_not_found",
    );
    // A report someone else sent is as invisible to a resident as a missing one.
    let (status, body, _) = app.post_json("/v1/reports", &report(122.07, 41.12)).await;
    assert_eq!(status, 201, "{body}");
    let other = app.resident("13800000001").await;
    assert_problem(
        &app.get_as(
            &format!("/v1/reports/{}", body["case_id"].as_str().unwrap()),
            &other,
        )
        .await,
        404,
        "report_not_found",
    );
});

both_backends!(categories_ship_with_every_new_store, |backend| async move {
    let app = TestApp::spawn(backend, &[]).await;
    let (status, body, _) = app.get("/v1/categories").await;
    assert_eq!(status, 200);
    let cats = body.as_array().unwrap();
    assert!(
        cats.iter()
            .any(|c| c["code"] == "0101" && c["name"] == "暴露垃圾" && c["kind"] == "problem")
    );
    assert!(cats.iter().any(|c| c["kind"] == "praise"));
});

both_backends!(
    an_oversized_body_and_an_unknown_route_are_problems_too,
    |backend| async move {
        let app =
            TestApp::spawn_with(backend, &xinglongtai(), |c| c.api.max_body_bytes = 4096).await;
        let mut big = report(122.07, 41.12);
        big["description"] = json!("x".repeat(5000));
        assert_problem(
            &app.post_json("/v1/reports", &big).await,
            413,
            "payload_too_large",
        );
        let fc = json!({"type": "FeatureCollection", "features": [], "padding": "y".repeat(5000)});
        assert_problem(
            &app.post_json("/v1/resolve", &fc).await,
            413,
            "payload_too_large",
        );
        assert_problem(&app.get("/v1/nothing-here").await, 404, "not_found");
        // A known path with a method it does not take: a problem document with `Allow`.
        let r = app
            .client
            .delete(app.url("/v1/reports"))
            .send()
            .await
            .unwrap();
        let resp = read(r).await;
        assert_problem(&resp, 405, "method_not_allowed");
        assert_eq!(resp.2["allow"], "POST", "{:?}", resp.2);
    }
);

both_backends!(
    a_category_an_admin_adds_or_retires_applies_to_the_next_report,
    |backend| async move {
        let app = TestApp::spawn(backend, &xinglongtai()).await;
        let admin = app.token("admin", None).await;
        // An intake first, so the categories are held in memory before they change.
        let (status, body, _) = app.post_json("/v1/reports", &report(122.07, 41.12)).await;
        assert_eq!(status, 201, "{body}");
        let mut bikes = report(122.07, 41.12);
        bikes["category"] = json!("0120");
        assert_problem(
            &app.post_json("/v1/reports", &bikes).await,
            422,
            "unknown_category",
        );
        let category =
            json!({"code": "0120", "name": "共享单车乱停放", "kind": "problem", "parent": "01"});
        let (status, body, _) = app.post_as("/v1/categories", &admin, &category).await;
        assert_eq!(status, 201, "{body}");
        let (status, body, _) = app.post_json("/v1/reports", &bikes).await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["category"]["name"], "共享单车乱停放", "{body}");
        let (status, body, _) = app.delete_as("/v1/categories/0120", &admin).await;
        assert_eq!(status, 200, "{body}");
        assert_problem(
            &app.post_json("/v1/reports", &bikes).await,
            422,
            "unknown_category",
        );
    }
);

both_backends!(
    the_answer_to_a_report_is_the_report_as_stored,
    |backend| async move {
        let app = TestApp::spawn(backend, &xinglongtai()).await;
        let (status, posted, _) = app.post_json("/v1/reports", &report(122.07, 41.12)).await;
        assert_eq!(status, 201, "{posted}");
        let dispatcher = app.token("dispatcher", None).await;
        let case_id = posted["case_id"].as_str().unwrap();
        let (status, shown, _) = app
            .get_as(&format!("/v1/reports/{case_id}"), &dispatcher)
            .await;
        assert_eq!(status, 200, "{shown}");
        let shown = shown.as_object().unwrap();
        for (field, value) in posted.as_object().unwrap() {
            if let Some(stored) = shown.get(field) {
                assert_eq!(value, stored, "{field}");
            }
        }
        for field in ["created_at", "location", "units", "category", "status"] {
            assert!(shown.contains_key(field), "{field} not shown");
        }
    }
);
