//! Who may hold which unit and who sees reporters' personal data (issue 8, "Access").

use std::process::Command;

use serde_json::json;

use crate::both_backends;
use crate::helpers::*;
use crate::workflow::{COMMUNITY, GRID, STREET, small_deployment};

/// `citysnap token create` against the test's own store; its exit status and stderr.
fn cli_token(app: &TestApp, args: &[&str]) -> (bool, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_citysnap"));
    cmd.args(["token", "create"]).args(args);
    cmd.arg("--data-dir").arg(&app.config.data_dir);
    match &app.config.database_url {
        Some(url) => cmd.env("DATABASE_URL", url),
        None => cmd.env_remove("DATABASE_URL"),
    };
    let out = cmd.output().expect("citysnap token create");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

both_backends!(
    a_grid_worker_patrols_a_grid_or_a_community_never_a_street_or_district,
    |backend| async move {
        let app = TestApp::spawn(backend, &small_deployment()).await;
        let admin = app.token("admin", None).await;
        for unit in ["211103", STREET] {
            let refused = app
                .post_as(
                    "/v1/tokens",
                    &admin,
                    &json!({"role": "grid_worker", "unit": unit}),
                )
                .await;
            assert_problem(&refused, 422, "invalid_unit");
            assert!(
                refused.1["detail"]
                    .as_str()
                    .is_some_and(|d| d.contains("grid or a community")),
                "{}",
                refused.1
            );
            let (ok, stderr) = cli_token(&app, &["--role", "grid_worker", "--unit", unit]);
            assert!(!ok, "token create accepted a grid worker of {unit}");
            assert!(stderr.contains("grid or a community"), "{stderr}");
        }
        for unit in [GRID, COMMUNITY] {
            let (status, body, _) = app
                .post_as(
                    "/v1/tokens",
                    &admin,
                    &json!({"role": "grid_worker", "unit": unit}),
                )
                .await;
            assert_eq!(status, 201, "{body}");
            assert_eq!(body["principal"]["unit"], unit);
        }
        let (ok, stderr) = cli_token(&app, &["--role", "grid_worker", "--unit", GRID]);
        assert!(ok, "{stderr}");
    }
);

both_backends!(
    the_reporters_contact_goes_to_the_unit_handling_the_case_and_the_dispatchers_only,
    |backend| async move {
        let app = TestApp::spawn(backend, &small_deployment()).await;
        let admin = app.token("admin", None).await;
        crate::workflow::add_category(
            &app,
            &admin,
            json!({
                "code": "9811", "name": "测试部门问题", "kind": "problem",
                "handler": {"department": "CGJ"}, "time_limit": "P1D", "calendar": "natural"
            }),
        )
        .await;
        let resident = app.resident("13800000011").await;
        let grid_worker = app.token("grid_worker", Some(GRID)).await;
        let dispatcher = app.token("dispatcher", None).await;
        let leader = app.token("leader", None).await;
        let (status, body, _) = app
            .post_as(
                "/v1/reports",
                &resident,
                &crate::workflow::report_at("9811", "测试：路灯不亮", crate::workflow::POINT),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        let id = body["case_id"].as_str().unwrap().to_owned();
        let case = |token: String| {
            let (app, id) = (&app, &id);
            async move {
                let (status, c, _) = app.get_as(&format!("/v1/cases/{id}"), &token).await;
                assert_eq!(status, 200, "{c}");
                c
            }
        };
        // Nobody works for CGJ yet: the case waits in the dispatchers' queue. The grid
        // worker of its grid sees the case (their area) but not who reported it.
        let c = case(grid_worker.clone()).await;
        assert_eq!(c["state"], "submitted", "{c}");
        assert!(c.get("reporter_contact").is_none(), "{c}");
        assert!(!c.to_string().contains("13800000011"), "{c}");
        let c = case(dispatcher.clone()).await;
        assert_eq!(c["reporter_contact"]["phone"], "13800000011", "{c}");
        assert!(case(leader.clone()).await.get("reporter_contact").is_none());
        // Sent to the department: its handler calls back; the grid worker still does not.
        let cgj = app.token("handler", Some("CGJ")).await;
        let street = app.token("handler", Some(STREET)).await;
        crate::workflow::act_ok(
            &app,
            &dispatcher,
            &id,
            json!({"action": "dispatch", "target": {"department": "CGJ"}}),
        )
        .await;
        let c = case(cgj.clone()).await;
        assert_eq!(c["reporter_contact"]["phone"], "13800000011", "{c}");
        assert!(
            case(grid_worker.clone())
                .await
                .get("reporter_contact")
                .is_none()
        );
        // Sent to the grid: now the grid worker handles it and sees the contact; the
        // department no longer sees the case at all.
        crate::workflow::act_ok(
            &app,
            &dispatcher,
            &id,
            json!({"action": "dispatch", "target": {"unit": GRID}}),
        )
        .await;
        let c = case(grid_worker.clone()).await;
        assert_eq!(c["reporter_contact"]["phone"], "13800000011", "{c}");
        let c = case(street.clone()).await;
        assert_eq!(c["reporter_contact"]["phone"], "13800000011", "{c}");
        assert_problem(
            &app.get_as(&format!("/v1/cases/{id}"), &cgj).await,
            404,
            "case_not_found",
        );
    }
);

/// Every route that needs a signed-in caller, each with a query or body that does not parse.
const SIGNED_IN_ROUTES: &[(&str, &str, &str)] = &[
    ("GET", "/v1/stats?from=yesterday&group_by=mood", ""),
    ("GET", "/v1/cases?colour=red", ""),
    ("GET", "/v1/cases/XL-20260101-000001", ""),
    ("GET", "/v1/cases/XL-20260101-000001/events", ""),
    (
        "POST",
        "/v1/cases/XL-20260101-000001/actions",
        "{\"action\":",
    ),
    ("GET", "/v1/supervision?limit=zero", ""),
    ("POST", "/v1/tokens", "{\"role\": 7, \"mayor\": true}"),
    ("GET", "/v1/me", ""),
    ("DELETE", "/v1/principals/u-nobody/tokens", ""),
    ("GET", "/v1/events/stream", ""),
    ("GET", "/v1/me/rewards", ""),
    ("GET", "/v1/rewards/export", ""),
    ("POST", "/v1/categories", "{\"code\": []}"),
    ("PUT", "/v1/categories/0101", "{\"code\": []}"),
    ("DELETE", "/v1/categories/0101", ""),
    ("GET", "/v1/dispatch-rules", ""),
    ("PUT", "/v1/dispatch-rules", "[1, 2"),
    ("GET", "/v1/reports/XL-20260101-000001", ""),
    ("POST", "/v1/media", "not a photo"),
    ("GET", "/v1/reports/XL-20260101-000001/media/1", ""),
    (
        "GET",
        "/v1/cases/XL-20260101-000001/media/media/0000.jpg",
        "",
    ),
];

/// Some routes anyone may call, with bad input: anonymous callers get the parse error.
const PUBLIC_ROUTES: &[(&str, &str, &str)] = &[
    ("GET", "/healthz", ""),
    ("GET", "/v1/resolve?lon=east&lat=north", ""),
    ("POST", "/v1/resolve", "{\"type\": \"Nothing\"}"),
    ("GET", "/v1/categories?include_retired=perhaps", ""),
    ("POST", "/v1/reports", "{\"description\": 1}"),
    ("POST", "/v1/residents", "{\"phone\": 1}"),
    ("GET", "/v1/analytics/hexbins?res=99", ""),
    ("GET", "/v1/analytics/hotspots?res=99", ""),
    ("GET", "/tiles/hexbins/7/0/0.mvt?from=never", ""),
];

async fn call(
    app: &TestApp,
    (method, path, body): (&str, &str, &str),
    authorization: Option<&str>,
) -> reqwest::Response {
    let method: reqwest::Method = method.parse().unwrap();
    let mut r = app
        .client
        .request(method, app.url(path))
        .header("content-type", "application/json");
    if !body.is_empty() {
        r = r.body(body.to_owned());
    }
    if let Some(a) = authorization {
        r = r.header("authorization", a);
    }
    r.send().await.unwrap()
}

both_backends!(
    authentication_is_decided_before_any_query_or_body_is_parsed,
    |backend| async move {
        let app = TestApp::spawn(backend, &small_deployment()).await;
        let admin = app.token("admin", None).await;
        let revoked = app.token("dispatcher", None).await;
        let (_, me, _) = app.get_as("/v1/me", &revoked).await;
        let (status, body, _) = app
            .delete_as(
                &format!("/v1/principals/{}/tokens", me["id"].as_str().unwrap()),
                &admin,
            )
            .await;
        assert_eq!(status, 200, "{body}");
        let revoked = format!("Bearer {revoked}");
        let malformed = "Bearer cs_not-a-token";
        let admin = format!("Bearer {admin}");
        for &route in SIGNED_IN_ROUTES {
            let answer = read(call(&app, route, None).await).await;
            assert_problem(&answer, 401, "unauthenticated");
            assert!(
                answer.2.contains_key("www-authenticate"),
                "{route:?} without WWW-Authenticate"
            );
            for bad in [revoked.as_str(), malformed] {
                let answer = read(call(&app, route, Some(bad)).await).await;
                assert_problem(&answer, 401, "invalid_token");
            }
            // The route exists and answers a signed-in caller (not 401, 404 or 405).
            let status = call(&app, route, Some(&admin)).await.status().as_u16();
            assert!(
                ![401, 405].contains(&status),
                "{route:?} answered an admin {status}"
            );
        }
        for &route in PUBLIC_ROUTES {
            let status = call(&app, route, None).await.status().as_u16();
            assert!(
                status != 401 && status != 404 && status != 405,
                "{route:?}: anonymous got {status}"
            );
            for bad in [revoked.as_str(), malformed] {
                let answer = read(call(&app, route, Some(bad)).await).await;
                assert_problem(&answer, 401, "invalid_token");
            }
        }
    }
);
