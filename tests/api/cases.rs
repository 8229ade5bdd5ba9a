//! Cases on intake: auto-dispatch by the shipped plan library, verification first, the
//! dispatchers' queue, `GET /v1/cases/{case_id}` with its warning level, and the public
//! timeline `GET /v1/cases/{case_id}/events`.

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::*;

/// A point inside 兴隆台区 (WGS-84), the same as the intake tests use.
const XINGLONGTAI: (f64, f64) = (122.07, 41.12);

fn report(category: &str, description: &str) -> Value {
    json!({
        "description": description,
        "category": category,
        "location": {"lon": XINGLONGTAI.0, "lat": XINGLONGTAI.1},
        "contact": {"name": "王女士", "phone": "139 0427 1234"}
    })
}

fn instant(v: &Value) -> DateTime<Utc> {
    v.as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .unwrap_or_else(|| panic!("not an RFC 3339 instant: {v}"))
        .with_timezone(&Utc)
}

/// Submits a report and returns the 201 body.
async fn submit(app: &TestApp, category: &str, description: &str) -> Value {
    let (status, body, _) = app
        .post_json("/v1/reports", &report(category, description))
        .await;
    assert_eq!(status, 201, "{body}");
    body
}

async fn case(app: &TestApp, case_id: &str) -> Value {
    let dispatcher = app.token("dispatcher", None).await;
    let (status, body, _) = app
        .get_as(&format!("/v1/cases/{case_id}"), &dispatcher)
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

both_backends!(
    a_missing_manhole_cover_is_dispatched_by_the_shipped_rule_with_its_deadline,
    |backend| async move {
        let app = TestApp::spawn(backend, &xinglongtai()).await;
        app.staff(&["ZJJ", "CGJ", "HWC"]).await;
        // data/dispatch_rules.json, rule `manhole-missing` v1: 0302 with "丢失" goes to
        // 住建局 (ZJJ) with a 1-hour natural limit instead of the category's 2 hours.
        let body = submit(&app, "0302", "井盖丢失了，晚上很危险").await;
        assert_eq!(body["status"], "submitted");
        assert_eq!(body["state"], "dispatched");
        let c = case(&app, body["case_id"].as_str().unwrap()).await;
        assert_eq!(c["state"], "dispatched");
        assert_eq!(c["unit"], json!({"department": "ZJJ"}));
        assert_eq!(c["rule"], json!({"id": "manhole-missing", "version": 1}));
        assert_eq!(
            instant(&c["deadline"]) - instant(&c["submitted_at"]),
            TimeDelta::hours(1)
        );
        assert_eq!(c["warning_level"], "green");
        // Assigned to the department's only handler.
        assert!(
            c["assignee"].as_str().is_some_and(|a| a.starts_with("u-")),
            "{c}"
        );
    }
);

both_backends!(
    without_a_matching_rule_the_category_default_handler_and_limit_apply,
    |backend| async move {
        let app = TestApp::spawn(backend, &xinglongtai()).await;
        app.staff(&["ZJJ", "CGJ", "HWC"]).await;
        // 0302 井盖 in data/categories.json: handler ZJJ, PT2H natural; no rule keyword.
        let body = submit(&app, "0302", "井盖松动，车过有响声").await;
        let c = case(&app, body["case_id"].as_str().unwrap()).await;
        assert_eq!(c["unit"], json!({"department": "ZJJ"}));
        assert_eq!(c["rule"], Value::Null);
        assert_eq!(
            instant(&c["deadline"]) - instant(&c["submitted_at"]),
            TimeDelta::hours(2)
        );
    }
);

both_backends!(
    a_verify_first_category_waits_for_verification_without_dispatch,
    |backend| async move {
        let app = TestApp::spawn(backend, &xinglongtai()).await;
        app.staff(&["ZJJ", "CGJ", "HWC"]).await;
        // 0301 道路破损 is `verify_first` in data/categories.json (Dongguan: 核实 first).
        let body = submit(&app, "0301", "人行道地砖破损，老人容易绊倒").await;
        assert_eq!(body["state"], "pending_verification");
        let case_id = body["case_id"].as_str().unwrap();
        let c = case(&app, case_id).await;
        assert_eq!(c["state"], "pending_verification");
        assert_eq!(c["unit"], Value::Null);
        assert_eq!(c["deadline"], Value::Null);
        let dispatcher = app.token("dispatcher", None).await;
        let (_, events, _) = app
            .get_as(&format!("/v1/cases/{case_id}/events"), &dispatcher)
            .await;
        let actions: Vec<&Value> = events["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| &e["action"])
            .collect();
        assert_eq!(actions, [&json!("submit")]);
    }
);

both_backends!(
    a_case_whose_handler_level_is_missing_waits_in_the_dispatchers_queue,
    |backend| async move {
        // Only the district is loaded; 0101 暴露垃圾 goes to the community, which is absent.
        let app = TestApp::spawn(backend, &xinglongtai()).await;
        app.staff(&["ZJJ", "CGJ", "HWC"]).await;
        let body = submit(&app, "0101", "路边堆着一堆垃圾").await;
        assert_eq!(body["state"], "submitted");
        let c = case(&app, body["case_id"].as_str().unwrap()).await;
        assert_eq!(c["state"], "submitted");
        assert_eq!(c["unit"], Value::Null);
        let queue = c["queue"].as_str().unwrap_or_default();
        assert!(queue.contains("community"), "{c}");
    }
);

both_backends!(
    the_public_timeline_lists_submit_then_dispatch_without_personal_data,
    |backend| async move {
        let app = TestApp::spawn(backend, &xinglongtai()).await;
        app.staff(&["ZJJ", "CGJ", "HWC"]).await;
        let resident = app.resident("13904271234").await;
        let (status, body, _) = app
            .post_as(
                "/v1/reports",
                &resident,
                &report("0302", "井盖丢失了，晚上很危险"),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        let case_id = body["case_id"].as_str().unwrap();
        let (status, t, _) = app
            .get_as(&format!("/v1/cases/{case_id}/events"), &resident)
            .await;
        assert_eq!(status, 200, "{t}");
        let events = t["events"].as_array().unwrap();
        assert_eq!(events.len(), 2, "{t}");
        assert_eq!(events[0]["seq"], 1);
        assert_eq!(events[0]["action"], "submit");
        assert_eq!(events[0]["role"], "resident");
        assert_eq!(events[1]["seq"], 2);
        assert_eq!(events[1]["action"], "dispatch");
        assert_eq!(events[1]["role"], "system");
        assert_eq!(events[1]["details"]["unit"], json!({"department": "ZJJ"}));
        let text = t.to_string();
        for private in ["王女士", "1234", "u-", "actor"] {
            assert!(!text.contains(private), "{private} leaked: {text}");
        }
    }
);

both_backends!(
    a_department_nobody_works_for_leaves_the_case_in_the_dispatchers_queue,
    |backend| async move {
        let app = TestApp::spawn(backend, &xinglongtai()).await;
        // 路灯 goes to 城管局 (CGJ) by default; no handler works there yet.
        let body = submit(&app, "0303", "路灯不亮").await;
        assert_eq!(body["state"], "submitted", "{body}");
        let c = case(&app, body["case_id"].as_str().unwrap()).await;
        assert_eq!(c["unit"], Value::Null);
        let queue = c["queue"].as_str().unwrap_or_default();
        assert!(queue.contains("CGJ"), "{c}");
        // Once someone works there, new cases go straight to it.
        app.staff(&["CGJ"]).await;
        let body = submit(&app, "0303", "另一盏路灯不亮").await;
        assert_eq!(body["state"], "dispatched", "{body}");
    }
);

both_backends!(unknown_cases_are_case_not_found, |backend| async move {
    let app = TestApp::spawn(backend, &xinglongtai()).await;
    let dispatcher = app.token("dispatcher", None).await;
    for path in [
        "/v1/cases/XL-20990101-000001",
        "/v1/cases/XL-20990101-000001/events",
    ] {
        assert_problem(&app.get_as(path, &dispatcher).await, 404, "case_not_found");
        // Without a token nothing is said about the case at all.
        assert_problem(&app.get(path).await, 401, "unauthenticated");
    }
});

/// Adds a problem category handled by 城管局 (CGJ) with a natural limit of `limit`.
async fn add_category(app: &TestApp, backend: Backend, code: &str, limit: &str) {
    let body = json!({
        "code": code, "name": "限时测试", "kind": "problem",
        "handler": {"department": "CGJ"}, "time_limit": limit, "calendar": "natural"
    });
    const INSERT: &str =
        "insert into categories (code, name, kind, body) values ($1, '限时测试', 'problem', $2)";
    match backend {
        Backend::Sqlite => {
            let path = app.config.data_dir.join("citysnap.sqlite");
            let store = citysnap::store::SqliteStore::open(&path).await.unwrap();
            sqlx::query(INSERT)
                .bind(code)
                .bind(sqlx::types::Json(body))
                .execute(store.pool())
                .await
                .unwrap();
        }
        Backend::Postgres => {
            let url = app.config.database_url.as_deref().unwrap();
            let store = citysnap::store::PgStore::connect(url).await.unwrap();
            sqlx::query(INSERT)
                .bind(code)
                .bind(sqlx::types::Json(body))
                .execute(store.pool())
                .await
                .unwrap();
        }
    }
}

/// Sleeps until `submitted + offset`.
async fn sleep_until(submitted: DateTime<Utc>, offset: TimeDelta) {
    let wait = (submitted + offset - Utc::now())
        .to_std()
        .unwrap_or_default();
    tokio::time::sleep(wait).await;
}

both_backends!(
    a_case_turns_yellow_after_its_deadline_and_red_after_one_more_limit,
    |backend| async move {
        let app = TestApp::spawn(backend, &xinglongtai()).await;
        app.staff(&["ZJJ", "CGJ", "HWC"]).await;
        add_category(&app, backend, "9901", "PT3S").await;
        let body = submit(&app, "9901", "测试用的限时问题").await;
        let case_id = body["case_id"].as_str().unwrap();
        let c = case(&app, case_id).await;
        let submitted = instant(&c["submitted_at"]);
        assert_eq!(instant(&c["deadline"]) - submitted, TimeDelta::seconds(3));
        assert_eq!(c["warning_level"], "green");
        // Yellow from the deadline (3 s) until one more limit has passed (6 s): red margin
        // defaults to one more time limit (issue 3).
        sleep_until(submitted, TimeDelta::milliseconds(4_000)).await;
        assert_eq!(case(&app, case_id).await["warning_level"], "yellow");
        sleep_until(submitted, TimeDelta::milliseconds(6_500)).await;
        assert_eq!(case(&app, case_id).await["warning_level"], "red");
    }
);
