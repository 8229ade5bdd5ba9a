//! The dispatch workflow over HTTP (issue 3): roles and scope for every action, the deadline
//! job with two replicas, the leaders' supervision queue, live events, case lists.
//!
//! The deployment is a small hand-made hierarchy inside the real outline of 兴隆台区: street
//! 211103001 holds community 211103001001 with grids …001 (holding the report point) and
//! …002; street 211103002 is elsewhere, for principals whose scope excludes the case.

use std::collections::BTreeMap;

use citysnap::domain::spatial::units::{Unit, UnitCode, UnitLevel};
use geo::{MultiPolygon, Rect};
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::*;

pub const STREET: &str = "211103001";
pub const COMMUNITY: &str = "211103001001";
pub const GRID: &str = "211103001001001";
pub const OTHER_GRID: &str = "211103001001002";
pub const OTHER_STREET: &str = "211103002";
pub const OTHER_COMMUNITY: &str = "211103002001";
/// Inside [`GRID`].
pub const POINT: (f64, f64) = (122.07, 41.12);

fn unit(code: &str, level: UnitLevel, parent: &str, rect: (f64, f64, f64, f64)) -> Unit {
    let (x0, y0, x1, y1) = rect;
    Unit {
        code: UnitCode::parse(code).unwrap(),
        name: format!("测试{code}"),
        level,
        parent: Some(UnitCode::parse(parent).unwrap()),
        geometry: MultiPolygon(vec![
            Rect::new(geo::coord! {x: x0, y: y0}, geo::coord! {x: x1, y: y1}).to_polygon(),
        ]),
        synthetic: true,
    }
}

/// 兴隆台区 with two streets, a community and two grids (see the module comment).
pub fn small_deployment() -> Vec<Unit> {
    let mut units = xinglongtai();
    units.extend([
        unit(
            STREET,
            UnitLevel::Street,
            "211103",
            (122.05, 41.10, 122.09, 41.14),
        ),
        unit(
            COMMUNITY,
            UnitLevel::Community,
            STREET,
            (122.06, 41.11, 122.08, 41.13),
        ),
        unit(
            GRID,
            UnitLevel::Grid,
            COMMUNITY,
            (122.069, 41.119, 122.071, 41.121),
        ),
        unit(
            OTHER_GRID,
            UnitLevel::Grid,
            COMMUNITY,
            (122.071, 41.119, 122.073, 41.121),
        ),
        unit(
            OTHER_STREET,
            UnitLevel::Street,
            "211103",
            (122.09, 41.10, 122.11, 41.14),
        ),
        unit(
            OTHER_COMMUNITY,
            UnitLevel::Community,
            OTHER_STREET,
            (122.095, 41.11, 122.105, 41.13),
        ),
    ]);
    units
}

pub fn report_at(category: &str, description: &str, at: (f64, f64)) -> Value {
    json!({
        "description": description,
        "category": category,
        "location": {"lon": at.0, "lat": at.1},
        "contact": {"name": "李先生", "phone": "13912345678"}
    })
}

/// Adds a category through the admin API.
pub async fn add_category(app: &TestApp, admin: &str, category: Value) {
    let (status, body, _) = app.post_as("/v1/categories", admin, &category).await;
    assert_eq!(status, 201, "{body}");
}

/// Everyone the matrix needs, by a short name.
pub struct People {
    pub tokens: BTreeMap<&'static str, String>,
}

impl People {
    pub async fn new(app: &TestApp) -> People {
        let mut tokens = BTreeMap::new();
        tokens.insert("resident", app.resident("13800000001").await);
        tokens.insert("other_resident", app.resident("13800000002").await);
        tokens.insert("grid_worker", app.token("grid_worker", Some(GRID)).await);
        tokens.insert(
            "other_grid_worker",
            app.token("grid_worker", Some(OTHER_GRID)).await,
        );
        tokens.insert("handler", app.token("handler", Some(STREET)).await);
        tokens.insert(
            "community_handler",
            app.token("handler", Some(COMMUNITY)).await,
        );
        tokens.insert(
            "other_handler",
            app.token("handler", Some(OTHER_STREET)).await,
        );
        tokens.insert("dispatcher", app.token("dispatcher", None).await);
        tokens.insert("leader", app.token("leader", None).await);
        tokens.insert("planner", app.token("planner", None).await);
        tokens.insert("admin", app.token("admin", None).await);
        People { tokens }
    }

    pub fn get(&self, who: &str) -> &str {
        &self.tokens[who]
    }
}

/// Posts an action and returns the whole answer.
pub async fn act(
    app: &TestApp,
    token: &str,
    case_id: &str,
    body: Value,
) -> (u16, Value, reqwest::header::HeaderMap) {
    app.post_as(&format!("/v1/cases/{case_id}/actions"), token, &body)
        .await
}

/// Posts an action that must succeed; returns the case after it.
pub async fn act_ok(app: &TestApp, token: &str, case_id: &str, body: Value) -> Value {
    let (status, answer, _) = act(app, token, case_id, body.clone()).await;
    assert_eq!(status, 200, "{body} → {answer}");
    answer
}

/// Uploads a real JPEG as an "after" photo and returns its key.
pub async fn upload_photo(app: &TestApp, token: &str) -> String {
    use crate::media::fixtures;
    let jpeg = fixtures::jpeg(&[fixtures::jfif()]);
    let r = app
        .client
        .post(app.url("/v1/media"))
        .bearer_auth(token)
        .header("content-type", "image/jpeg")
        .body(jpeg)
        .send()
        .await
        .unwrap();
    let (status, body, _) = read(r).await;
    assert_eq!(status, 201, "{body}");
    body["key"].as_str().unwrap().to_owned()
}

/// Problem category handled by the street, natural 1-hour limit, no verification.
const STREET_CATEGORY: &str = "9801";
/// The same, verified by a grid worker first.
const VERIFIED_CATEGORY: &str = "9802";

async fn matrix_categories(app: &TestApp, admin: &str) {
    for (code, verify) in [(STREET_CATEGORY, false), (VERIFIED_CATEGORY, true)] {
        add_category(
            app,
            admin,
            json!({
                "code": code, "name": "测试问题", "kind": "problem",
                "handler": {"level": "street"}, "time_limit": "PT1H", "calendar": "natural",
                "verify_first": verify, "points": 5
            }),
        )
        .await;
    }
}

/// A fresh case of the resident's, brought into `state` by the people whose work that is.
async fn case_in(app: &TestApp, people: &People, state: &str) -> String {
    let (category, kind_state) = match state {
        "pending_verification" => (VERIFIED_CATEGORY, state),
        "praise" => ("90", "submitted"),
        "consultation" => ("91", "submitted"),
        _ => (STREET_CATEGORY, "dispatched"),
    };
    let (status, body, _) = app
        .post_as(
            "/v1/reports",
            people.get("resident"),
            &report_at(category, "测试：人行道上有问题", POINT),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["state"], kind_state, "{body}");
    let id = body["case_id"].as_str().unwrap().to_owned();
    let h = people.get("handler");
    let d = people.get("dispatcher");
    let photo = upload_photo(app, h).await;
    let steps: Vec<(&str, Value)> = match state {
        "pending_verification" | "praise" | "consultation" | "dispatched" => vec![],
        "accepted" => vec![(h, json!({"action": "accept"}))],
        "resolved" => vec![
            (h, json!({"action": "accept"})),
            (
                h,
                json!({"action": "resolve", "note": "已修复", "after_photos": [photo]}),
            ),
        ],
        "closed" => vec![
            (h, json!({"action": "accept"})),
            (
                h,
                json!({"action": "resolve", "note": "已修复", "after_photos": [photo]}),
            ),
            (d, json!({"action": "close"})),
        ],
        "supervised" => vec![(
            people.get("leader"),
            json!({"action": "supervise", "opinion": "请尽快处理"}),
        )],
        other => panic!("no set-up for {other}"),
    };
    for (token, body) in steps {
        act_ok(app, token, &id, body).await;
    }
    id
}

/// Per action: the state the case must be in, the body, the roles allowed (the issue's
/// table, written out here rather than taken from the code under test), and the state after.
fn matrix() -> Vec<(
    &'static str,
    &'static str,
    Value,
    &'static [&'static str],
    &'static str,
)> {
    vec![
        (
            "verify",
            "pending_verification",
            json!({}),
            &["grid_worker", "dispatcher"],
            "dispatched",
        ),
        (
            "invalidate",
            "pending_verification",
            json!({"reason": "现场无此问题"}),
            &["grid_worker", "dispatcher"],
            "invalid",
        ),
        (
            "dispatch",
            "dispatched",
            json!({"target": {"unit": COMMUNITY}}),
            &["handler", "dispatcher"],
            "dispatched",
        ),
        (
            "accept",
            "dispatched",
            json!({}),
            &["grid_worker", "handler"],
            "accepted",
        ),
        (
            "return",
            "dispatched",
            json!({"reason": "不属于本单位"}),
            &["grid_worker", "handler"],
            "returned",
        ),
        (
            "progress",
            "accepted",
            json!({"note": "正在处理"}),
            &["grid_worker", "handler"],
            "in_progress",
        ),
        (
            "resolve",
            "accepted",
            json!({"note": "已修复", "after_photos": ["PHOTO"]}),
            &["grid_worker", "handler"],
            "resolved",
        ),
        (
            "reinspect",
            "resolved",
            json!({"note": "复查合格"}),
            &["grid_worker"],
            "closed",
        ),
        ("close", "resolved", json!({}), &["dispatcher"], "closed"),
        (
            "rework",
            "resolved",
            json!({"reason": "没修好"}),
            &["grid_worker", "dispatcher"],
            "in_progress",
        ),
        (
            "rate",
            "closed",
            json!({"score": 5, "comment": "很快"}),
            &["resident"],
            "rated",
        ),
        (
            "reopen",
            "closed",
            json!({"reason": "又坏了"}),
            &["resident", "dispatcher", "leader"],
            "reopened",
        ),
        (
            "merge",
            "dispatched",
            json!({"into": "MASTER"}),
            &["dispatcher"],
            "merged",
        ),
        (
            "park",
            "dispatched",
            json!({"reason": "需要专项资金"}),
            &["dispatcher"],
            "parked",
        ),
        (
            "cancel",
            "dispatched",
            json!({"reason": "重复提交"}),
            &["resident", "dispatcher", "admin"],
            "cancelled",
        ),
        (
            "supervise",
            "dispatched",
            json!({"opinion": "请尽快处理"}),
            &["leader"],
            "dispatched",
        ),
        (
            "reply",
            "supervised",
            json!({"text": "已安排人员"}),
            &["grid_worker", "handler"],
            "dispatched",
        ),
        (
            "acknowledge",
            "praise",
            json!({}),
            &["dispatcher", "handler"],
            "closed",
        ),
        (
            "answer",
            "consultation",
            json!({"text": "请拨打12345"}),
            &["dispatcher", "handler"],
            "closed",
        ),
    ]
}

/// The roles, each by the principal in scope of a case at [`POINT`] dispatched to [`STREET`].
const ROLES: [&str; 7] = [
    "resident",
    "grid_worker",
    "handler",
    "dispatcher",
    "leader",
    "planner",
    "admin",
];

/// Whether the in-scope principal of `role` sees a case in `state` (praise and consultation
/// are never dispatched, so no handler sees them; a planner sees no case at all).
fn sees(role: &str, state: &str) -> bool {
    match role {
        "planner" => false,
        "handler" => !matches!(state, "praise" | "consultation" | "pending_verification"),
        _ => true,
    }
}

both_backends!(
    every_role_may_do_what_its_table_says_and_nobody_learns_of_cases_out_of_scope,
    |backend| async move {
        let app = TestApp::spawn(backend, &small_deployment()).await;
        let people = People::new(&app).await;
        matrix_categories(&app, people.get("admin")).await;
        for (action, state, body, allowed, after) in matrix() {
            // One case for the refusals (they change nothing), a fresh one per success.
            let shared = case_in(&app, &people, state).await;
            let master = case_in(&app, &people, "dispatched").await;
            for role in ROLES {
                let case_id = if sees(role, state) && allowed.contains(&role) {
                    case_in(&app, &people, state).await
                } else {
                    shared.clone()
                };
                let mut body = body.clone();
                body["action"] = json!(action);
                if action == "merge" {
                    body["into"] = json!(master);
                }
                if action == "resolve" {
                    body["after_photos"] = json!([upload_photo(&app, people.get("handler")).await]);
                }
                let answer = act(&app, people.get(role), &case_id, body.clone()).await;
                let what = format!("{role} {action} on a {state} case");
                if !sees(role, state) {
                    assert_problem(&answer, 404, "case_not_found");
                } else if allowed.contains(&role) {
                    assert_eq!(answer.0, 200, "{what}: {}", answer.1);
                    assert_eq!(answer.1["state"], after, "{what}: {}", answer.1);
                } else {
                    assert_problem(&answer, 403, "forbidden");
                }
            }
            // Out of scope: another resident, a grid worker of another grid, a handler of
            // another street — the same 404 as a case that does not exist.
            for outsider in ["other_resident", "other_grid_worker", "other_handler"] {
                let mut body = body.clone();
                body["action"] = json!(action);
                let answer = act(&app, people.get(outsider), &shared, body).await;
                assert_problem(&answer, 404, "case_not_found");
                let (status, _, _) = app
                    .get_as(&format!("/v1/cases/{shared}"), people.get(outsider))
                    .await;
                assert_eq!(status, 404, "{outsider} reads {shared}");
            }
        }
    }
);

both_backends!(
    illegal_transitions_are_409_naming_state_and_action,
    |backend| async move {
        let app = TestApp::spawn(backend, &small_deployment()).await;
        let people = People::new(&app).await;
        matrix_categories(&app, people.get("admin")).await;
        let id = case_in(&app, &people, "dispatched").await;
        let answer = act(
            &app,
            people.get("dispatcher"),
            &id,
            json!({"action": "close"}),
        )
        .await;
        assert_problem(&answer, 409, "illegal_transition");
        assert_eq!(answer.1["state"], "dispatched");
        assert_eq!(answer.1["action"], "close");
        // Refusals of the input itself.
        for (body, code) in [
            (json!({"action": "fly"}), "invalid_action"),
            (json!({"action": "escalated_red"}), "invalid_action"),
            (json!({"action": "return"}), "reason_required"),
            (
                json!({"action": "dispatch", "target": {"unit": "211103999"}}),
                "invalid_target",
            ),
            (
                json!({"action": "dispatch", "target": {"department": "NOPE"}}),
                "invalid_target",
            ),
            (
                json!({"action": "accept", "note": "unexpected"}),
                "invalid_payload",
            ),
        ] {
            let answer = act(&app, people.get("handler"), &id, body.clone()).await;
            assert_eq!(answer.1["code"], code, "{body}: {}", answer.1);
        }
        let answer = act(
            &app,
            people.get("handler"),
            &id,
            json!({"action": "dispatch", "target": {"unit": OTHER_COMMUNITY}}),
        )
        .await;
        assert_problem(&answer, 403, "forbidden");
        act_ok(
            &app,
            people.get("handler"),
            &id,
            json!({"action": "accept"}),
        )
        .await;
        let answer = act(
            &app,
            people.get("handler"),
            &id,
            json!({"action": "resolve", "note": "修好了", "after_photos": ["media/0000.jpg"]}),
        )
        .await;
        assert_problem(&answer, 422, "unknown_media");
        let answer = act(
            &app,
            people.get("handler"),
            &id,
            json!({"action": "resolve", "note": "修好了", "after_photos": []}),
        )
        .await;
        assert_problem(&answer, 422, "invalid_payload");
        assert_eq!(answer.1["field"], "after_photos", "{}", answer.1);
        // Nothing is said without a token; a bad token is refused outright.
        assert_problem(
            &app.post_json(
                &format!("/v1/cases/{id}/actions"),
                &json!({"action": "accept"}),
            )
            .await,
            401,
            "unauthenticated",
        );
        assert_problem(
            &act(&app, "cs_not-a-token", &id, json!({"action": "accept"})).await,
            401,
            "invalid_token",
        );
    }
);

both_backends!(
    a_case_goes_yellow_then_red_is_escalated_once_and_lands_in_the_leaders_queue,
    |backend| async move {
        let app = TestApp::spawn(backend, &small_deployment()).await;
        let admin = app.token("admin", None).await;
        // Two seconds to the deadline, two more to red.
        add_category(
            &app,
            &admin,
            json!({
                "code": "9803", "name": "限时测试", "kind": "problem",
                "handler": {"department": "CGJ"}, "time_limit": "PT2S", "calendar": "natural"
            }),
        )
        .await;
        // A second instance on the same store runs its own deadline job.
        let replica = app.replica().await;
        let leader = app.token("leader", None).await;
        let handler = app.token("handler", Some("CGJ")).await;
        let (status, body, _) = app
            .post_json("/v1/reports", &report_at("9803", "限时问题", POINT))
            .await;
        assert_eq!(status, 201, "{body}");
        let id = body["case_id"].as_str().unwrap().to_owned();
        let (_, queue, _) = app.get_as("/v1/supervision", &leader).await;
        assert_eq!(queue["cases"], json!([]), "{queue}");

        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let (_, c, _) = replica.get_as(&format!("/v1/cases/{id}"), &leader).await;
            if c["warning_level"] == "red" {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "never went red: {c}");
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        // Give both jobs several more sweeps to (wrongly) record anything twice.
        tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
        let (_, log, _) = app.get_as(&format!("/v1/cases/{id}/events"), &leader).await;
        let actions: Vec<&str> = log["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["action"].as_str().unwrap())
            .collect();
        assert_eq!(
            actions,
            ["submit", "dispatch", "escalated_yellow", "escalated_red"],
            "{log}"
        );

        let (_, queue, _) = replica.get_as("/v1/supervision", &leader).await;
        let ids: Vec<&str> = queue["cases"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["case_id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, [id.as_str()], "{queue}");
        assert_eq!(queue["cases"][0]["warning_level"], "red");
        let (_, red, _) = app.get_as("/v1/cases?warning=red", &leader).await;
        assert_eq!(red["cases"].as_array().unwrap().len(), 1, "{red}");
        let (_, green, _) = app.get_as("/v1/cases?warning=green", &leader).await;
        assert_eq!(green["cases"], json!([]), "{green}");

        // 督办: the leader's opinion is an event the unit must answer.
        let c = act_ok(
            &app,
            &leader,
            &id,
            json!({"action": "supervise", "opinion": "今天下班前处理完毕"}),
        )
        .await;
        assert_eq!(c["open_supervisions"], 1);
        assert_problem(
            &act(&app, &leader, &id, json!({"action": "reply", "text": "好"})).await,
            403,
            "forbidden",
        );
        let c = act_ok(
            &app,
            &handler,
            &id,
            json!({"action": "reply", "text": "已派人处理"}),
        )
        .await;
        assert_eq!(c["open_supervisions"], 0);
        let answer = act(
            &app,
            &handler,
            &id,
            json!({"action": "reply", "text": "再说一次"}),
        )
        .await;
        assert_problem(&answer, 409, "no_open_supervision");
        // A planner sees aggregates only.
        let planner = app.token("planner", None).await;
        assert_problem(
            &app.get_as("/v1/supervision", &planner).await,
            403,
            "forbidden",
        );
        assert_problem(&app.get_as("/v1/cases", &planner).await, 403, "forbidden");
    }
);

both_backends!(
    case_lists_filter_by_state_unit_category_and_bbox_within_the_callers_scope,
    |backend| async move {
        let app = TestApp::spawn(backend, &small_deployment()).await;
        let people = People::new(&app).await;
        matrix_categories(&app, people.get("admin")).await;
        let here = case_in(&app, &people, "accepted").await;
        let pending = case_in(&app, &people, "pending_verification").await;
        let (status, body, _) = app
            .post_as(
                "/v1/reports",
                people.get("other_resident"),
                &report_at(STREET_CATEGORY, "另一处", (122.1, 41.12)),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        let there = body["case_id"].as_str().unwrap().to_owned();
        let ids = |v: &Value| -> Vec<String> {
            v["cases"]
                .as_array()
                .unwrap_or_else(|| panic!("{v}"))
                .iter()
                .map(|c| c["case_id"].as_str().unwrap().to_owned())
                .collect()
        };
        let d = people.get("dispatcher");
        let (_, all, _) = app.get_as("/v1/cases", d).await;
        assert_eq!(ids(&all), [here.clone(), pending.clone(), there.clone()]);
        let (_, v, _) = app
            .get_as("/v1/cases?state=accepted,pending_verification", d)
            .await;
        assert_eq!(ids(&v), [here.clone(), pending.clone()]);
        let (_, v, _) = app
            .get_as(&format!("/v1/cases?unit={OTHER_STREET}"), d)
            .await;
        assert_eq!(ids(&v), [there.clone()]);
        let (_, v, _) = app
            .get_as(&format!("/v1/cases?category={VERIFIED_CATEGORY}"), d)
            .await;
        assert_eq!(ids(&v), [pending.clone()]);
        let (_, v, _) = app
            .get_as("/v1/cases?bbox=122.09,41.10,122.11,41.14", d)
            .await;
        assert_eq!(ids(&v), [there.clone()]);
        let (_, v, _) = app.get_as("/v1/cases?limit=2", d).await;
        assert_eq!(ids(&v), [here.clone(), pending.clone()]);
        let next = v["next_after"].as_str().unwrap().to_owned();
        let (_, v, _) = app
            .get_as(&format!("/v1/cases?limit=2&after={next}"), d)
            .await;
        assert_eq!(ids(&v), [there.clone()]);
        // Scope: each sees only their own.
        let (_, v, _) = app.get_as("/v1/cases", people.get("resident")).await;
        assert_eq!(ids(&v), [here.clone(), pending.clone()]);
        let (_, v, _) = app.get_as("/v1/cases", people.get("handler")).await;
        assert_eq!(ids(&v), [here.clone()]);
        let (_, v, _) = app.get_as("/v1/cases", people.get("other_handler")).await;
        assert_eq!(ids(&v), [there.clone()]);
        let (_, v, _) = app.get_as("/v1/cases", people.get("grid_worker")).await;
        assert_eq!(ids(&v), [here.clone(), pending.clone()]);
        for (query, code) in [
            ("state=sleeping", "invalid_state"),
            ("warning=orange", "invalid_warning"),
            ("bbox=1,2,3", "invalid_bbox"),
            ("limit=0", "invalid_limit"),
            ("unit=../x", "invalid_unit"),
            ("colour=red", "invalid_query"),
        ] {
            let answer = app.get_as(&format!("/v1/cases?{query}"), d).await;
            assert_eq!(answer.1["code"], code, "{query}: {}", answer.1);
        }
        // The handling unit sees the reporter's registered number; the leader does not.
        let (_, c, _) = app
            .get_as(&format!("/v1/cases/{here}"), people.get("handler"))
            .await;
        assert_eq!(c["reporter_contact"]["phone"], "13800000001", "{c}");
        let (_, c, _) = app
            .get_as(&format!("/v1/cases/{here}"), people.get("leader"))
            .await;
        assert!(c.get("reporter_contact").is_none(), "{c}");
        assert!(!c.to_string().contains("13800000001"), "{c}");
    }
);

both_backends!(
    dispatch_consoles_receive_live_events_in_their_scope,
    |backend| async move {
        let app = TestApp::spawn(backend, &small_deployment()).await;
        let people = People::new(&app).await;
        matrix_categories(&app, people.get("admin")).await;
        let open = |token: String| {
            let client = app.client.clone();
            let url = app.url("/v1/events/stream");
            async move {
                let r = client.get(url).bearer_auth(token).send().await.unwrap();
                assert_eq!(r.status(), 200);
                assert_eq!(r.headers()["content-type"], "text/event-stream");
                r
            }
        };
        let mut dispatcher = open(people.get("dispatcher").to_owned()).await;
        let mut other = open(people.get("other_handler").to_owned()).await;
        let id = case_in(&app, &people, "dispatched").await;
        act_ok(
            &app,
            people.get("handler"),
            &id,
            json!({"action": "accept"}),
        )
        .await;
        // The dispatcher sees submit, dispatch and accept of the case, in order.
        let mut text = String::new();
        let wait = tokio::time::timeout(std::time::Duration::from_secs(10), async {
            while !text.contains("\"action\":\"accept\"") {
                let chunk = dispatcher.chunk().await.unwrap().expect("stream open");
                text.push_str(&String::from_utf8_lossy(&chunk));
            }
        })
        .await;
        assert!(wait.is_ok(), "no accept event: {text}");
        let submit = text.find("\"action\":\"submit\"").expect(&text);
        let dispatch = text.find("\"action\":\"dispatch\"").expect(&text);
        let accept = text.find("\"action\":\"accept\"").unwrap();
        assert!(submit < dispatch && dispatch < accept, "{text}");
        assert!(text.contains(&format!("\"case_id\":\"{id}\"")), "{text}");
        // A handler of another street hears nothing of it.
        let heard =
            tokio::time::timeout(std::time::Duration::from_millis(700), other.chunk()).await;
        if let Ok(Ok(Some(chunk))) = heard {
            assert!(
                !String::from_utf8_lossy(&chunk).contains(&id),
                "leaked to another street"
            );
        }
        assert_problem(&app.get("/v1/events/stream").await, 401, "unauthenticated");
    }
);

both_backends!(
    admins_add_change_and_retire_categories_without_a_restart,
    |backend| async move {
        let app = TestApp::spawn(backend, &small_deployment()).await;
        let admin = app.token("admin", None).await;
        let dispatcher = app.token("dispatcher", None).await;
        let cat = json!({
            "code": "0109", "name": "动物尸体", "kind": "problem"
        });
        // Exists already (shipped).
        assert_problem(
            &app.post_as("/v1/categories", &admin, &cat).await,
            409,
            "category_exists",
        );
        let new = json!({
            "code": "0120", "name": "共享单车乱停放", "name_en": "Dockless bikes", "kind": "problem",
            "parent": "01", "handler": {"level": "community"}, "time_limit": "P1D",
            "calendar": "working", "verify_first": false, "points": 2
        });
        assert_problem(
            &app.post_as("/v1/categories", &dispatcher, &new).await,
            403,
            "forbidden",
        );
        assert_problem(
            &app.post_json("/v1/categories", &new).await,
            401,
            "unauthenticated",
        );
        add_category(&app, &admin, new.clone()).await;
        let (status, body, _) = app
            .post_json("/v1/reports", &report_at("0120", "单车堵住了路口", POINT))
            .await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["state"], "dispatched", "{body}");
        let (_, c, _) = app
            .get_as(
                &format!("/v1/cases/{}", body["case_id"].as_str().unwrap()),
                &dispatcher,
            )
            .await;
        assert_eq!(c["unit"], json!({"unit": COMMUNITY}), "{c}");
        // Change: handled by the street from now on.
        let mut changed = new.clone();
        changed["handler"] = json!({"level": "street"});
        let (status, _, _) = app
            .client
            .put(app.url("/v1/categories/0120"))
            .bearer_auth(&admin)
            .json(&changed)
            .send()
            .await
            .map(|r| (r.status().as_u16(), (), ()))
            .unwrap();
        assert_eq!(status, 200);
        let (_, body, _) = app
            .post_json("/v1/reports", &report_at("0120", "又一辆", POINT))
            .await;
        let (_, c, _) = app
            .get_as(
                &format!("/v1/cases/{}", body["case_id"].as_str().unwrap()),
                &dispatcher,
            )
            .await;
        assert_eq!(c["unit"], json!({"unit": STREET}), "{c}");
        // Retire: gone from the resident's list, refused on intake, kept for admins.
        let (status, body, _) = app.delete_as("/v1/categories/0120", &admin).await;
        assert_eq!(status, 200, "{body}");
        let (_, list, _) = app.get("/v1/categories").await;
        assert!(
            !list.to_string().contains("0120"),
            "retired category still offered"
        );
        let (_, list, _) = app.get("/v1/categories?include_retired=true").await;
        assert!(list.to_string().contains("共享单车乱停放"));
        assert_problem(
            &app.post_json("/v1/reports", &report_at("0120", "再一辆", POINT))
                .await,
            422,
            "unknown_category",
        );
        for (bad, code) in [
            (
                json!({"code": "0121", "name": "x", "kind": "problem", "parent": "02"}),
                "invalid_category",
            ),
            (
                json!({"code": "0122", "name": "x", "kind": "problem", "handler": {"department": "NOPE"}}),
                "invalid_category",
            ),
            (
                json!({"code": "0123", "name": "x", "kind": "weather"}),
                "invalid_body",
            ),
            (
                json!({"code": "0124", "name": "x", "kind": "problem", "time_limit": "two hours"}),
                "invalid_body",
            ),
        ] {
            let answer = app.post_as("/v1/categories", &admin, &bad).await;
            assert_eq!(answer.1["code"], code, "{bad}: {}", answer.1);
        }
    }
);

fn today() -> String {
    (chrono::Utc::now() + chrono::TimeDelta::hours(8))
        .date_naive()
        .to_string()
}

both_backends!(
    xinglongtai_path_street_passes_to_community_grid_worker_fixes_resident_scores,
    |backend| async move {
        use citysnap::demo::jurisdiction::{build_demo, demo_district, interior_point_of};
        let units = build_demo(&demo_district());
        let p = interior_point_of(&units, "渤海街道").expect("渤海街道");
        let app = TestApp::spawn(backend, &units).await;
        let resident = app.resident("13700000001").await;
        // 1. The resident reports a car parked on the pavement.
        let (status, body, _) = app
            .post_as(
                "/v1/reports",
                &resident,
                &report_at("0201", "小区门口机动车占用人行道", (p.x, p.y)),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        let id = body["case_id"].as_str().unwrap().to_owned();
        let street = body["units"]["street"]["code"].as_str().unwrap().to_owned();
        let community = body["units"]["community"]["code"]
            .as_str()
            .unwrap()
            .to_owned();
        let grid = body["units"]["grid"]["code"].as_str().unwrap().to_owned();
        // 2. The plan library sends it to the street (rule xinglongtai-street-parking).
        let street_handler = app.token("handler", Some(&street)).await;
        let grid_worker = app.token("grid_worker", Some(&grid)).await;
        let (_, c, _) = app
            .get_as(&format!("/v1/cases/{id}"), &street_handler)
            .await;
        assert_eq!(c["state"], "dispatched", "{c}");
        assert_eq!(c["unit"], json!({"unit": street}));
        assert_eq!(
            c["rule"],
            json!({"id": "xinglongtai-street-parking", "version": 1})
        );
        // 3. The street passes it down to the community; the grid worker of the report's
        //    grid is assigned automatically.
        let me = |t: &str| {
            let app = &app;
            let t = t.to_owned();
            async move {
                app.get_as("/v1/me", &t).await.1["id"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            }
        };
        let gw_id = me(&grid_worker).await;
        let c = act_ok(
            &app,
            &street_handler,
            &id,
            json!({"action": "dispatch", "target": {"unit": community}}),
        )
        .await;
        assert_eq!(c["unit"], json!({"unit": community}));
        assert_eq!(c["assignee"], gw_id, "{c}");
        // 4. The grid worker fixes it and sends the "after" photo.
        act_ok(&app, &grid_worker, &id, json!({"action": "accept"})).await;
        act_ok(
            &app,
            &grid_worker,
            &id,
            json!({"action": "progress", "note": "已联系车主"}),
        )
        .await;
        let photo = upload_photo(&app, &grid_worker).await;
        let c = act_ok(
            &app,
            &grid_worker,
            &id,
            json!({"action": "resolve", "note": "车辆已挪走", "after_photos": [photo]}),
        )
        .await;
        assert_eq!(c["state"], "resolved");
        let dispatcher = app.token("dispatcher", None).await;
        act_ok(&app, &dispatcher, &id, json!({"action": "close"})).await;
        // 5. The resident sees the progress (no staff notes) and scores it.
        let (_, t, _) = app
            .get_as(&format!("/v1/cases/{id}/events"), &resident)
            .await;
        let actions: Vec<&str> = t["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["action"].as_str().unwrap())
            .collect();
        assert_eq!(
            actions,
            [
                "submit", "dispatch", "dispatch", "accept", "progress", "resolve", "close"
            ],
            "{t}"
        );
        assert_eq!(
            t["events"][2]["details"]["unit"],
            json!({"unit": community})
        );
        assert!(
            !t.to_string().contains("车辆已挪走") && !t.to_string().contains(&gw_id),
            "{t}"
        );
        let c = act_ok(
            &app,
            &resident,
            &id,
            json!({"action": "rate", "score": 5, "comment": "处理很快"}),
        )
        .await;
        assert_eq!(c["state"], "rated");
        let (_, rewards, _) = app.get_as("/v1/me/rewards", &resident).await;
        assert_eq!(rewards["points"], 3, "{rewards}");
        // The planner's indicators count it: received, filed, closed on time, scored 5.
        let planner = app.token("planner", None).await;
        let day = today();
        let (_, s, _) = app
            .get_as(
                &format!("/v1/stats?from={day}&to={day}&group_by=unit"),
                &planner,
            )
            .await;
        assert_eq!(s["total"]["received"], 1, "{s}");
        assert_eq!(s["total"]["closed"], 1, "{s}");
        assert_eq!(s["total"]["closure_rate"], 1.0, "{s}");
        assert_eq!(s["total"]["on_time_rate"], 1.0, "{s}");
        assert_eq!(s["total"]["mean_satisfaction"], 5.0, "{s}");
        assert_eq!(s["groups"][0]["key"], community, "{s}");
    }
);

both_backends!(
    dongguan_path_grid_worker_verifies_town_dispatches_department_fixes_reinspected_points_awarded,
    |backend| async move {
        let app = TestApp::spawn(backend, &small_deployment()).await;
        let resident = app.resident("13600000001").await;
        let grid_worker = app.token("grid_worker", Some(GRID)).await;
        let town_centre = app.token("dispatcher", None).await;
        let cgj = app.token("handler", Some("CGJ")).await;
        // 1. A resident reports an illegal shed (私搭乱建: verified on site first, 10 points).
        let (status, body, _) = app
            .post_as(
                "/v1/reports",
                &resident,
                &report_at("0701", "楼下空地有人搭建铁皮房", POINT),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["state"], "pending_verification");
        let id = body["case_id"].as_str().unwrap().to_owned();
        let (_, r, _) = app.get_as("/v1/me/rewards", &resident).await;
        assert_eq!(r["points"], 0, "nothing before verification: {r}");
        // 2. The grid worker verifies on site; the town centre's plan library dispatches it
        //    to the department (城管局) with its deadline.
        let c = act_ok(&app, &grid_worker, &id, json!({"action": "verify"})).await;
        assert_eq!(c["state"], "dispatched", "{c}");
        assert_eq!(c["unit"], json!({"department": "CGJ"}));
        assert_eq!(
            c["target"],
            json!({"kind": "department", "code": "CGJ", "name": "城市管理综合行政执法局", "level": null}),
            "{c}"
        );
        assert!(c["deadline"].is_string(), "{c}");
        let (_, r, _) = app.get_as("/v1/me/rewards", &resident).await;
        assert_eq!(r["points"], 10, "{r}");
        // The town centre may re-dispatch by hand, too (same department, fresh deadline).
        act_ok(
            &app,
            &town_centre,
            &id,
            json!({"action": "dispatch", "target": {"department": "CGJ"}, "time_limit": "P2D"}),
        )
        .await;
        // 3. The department handles it.
        act_ok(&app, &cgj, &id, json!({"action": "accept"})).await;
        let photo = upload_photo(&app, &cgj).await;
        act_ok(
            &app,
            &cgj,
            &id,
            json!({"action": "resolve", "note": "已拆除", "after_photos": [photo]}),
        )
        .await;
        // 4. The grid worker re-inspects (复查) and closes it.
        let c = act_ok(
            &app,
            &grid_worker,
            &id,
            json!({"action": "reinspect", "note": "现场已恢复"}),
        )
        .await;
        assert_eq!(c["state"], "closed");
        // 5. Points were awarded once, and the admin's export lists them.
        let (_, r, _) = app.get_as("/v1/me/rewards", &resident).await;
        assert_eq!(r["points"], 10, "{r}");
        assert_eq!(r["entries"].as_array().unwrap().len(), 1, "{r}");
        assert_eq!(r["entries"][0]["case_id"], id.as_str());
        let admin = app.token("admin", None).await;
        let csv = app
            .client
            .get(app.url("/v1/rewards/export"))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            csv.lines()
                .next()
                .unwrap()
                .starts_with("case_id,resident,category"),
            "{csv}"
        );
        // 私搭乱建 also offers ¥20 (2000 fen) in the shipped tree.
        assert!(
            csv.contains(&format!("{id},")) && csv.contains(",10,2000"),
            "{csv}"
        );
        let c = act_ok(
            &app,
            &resident,
            &id,
            json!({"action": "rate", "score": 2, "comment": "太慢了"}),
        )
        .await;
        // A low score reopens it for review.
        assert_eq!(c["state"], "reopened");
    }
);

both_backends!(
    duplicates_are_offered_merged_and_followed_by_their_reporter,
    |backend| async move {
        let app = TestApp::spawn(backend, &small_deployment()).await;
        let first = app.resident("13500000001").await;
        let second = app.resident("13500000002").await;
        let dispatcher = app.token("dispatcher", None).await;
        let report = |who: &str, at: (f64, f64)| {
            let app = &app;
            let who = who.to_owned();
            async move {
                let (status, body, _) = app
                    .post_as("/v1/reports", &who, &report_at("0303", "路灯不亮", at))
                    .await;
                assert_eq!(status, 201, "{body}");
                body["case_id"].as_str().unwrap().to_owned()
            }
        };
        let master = report(&first, POINT).await;
        // 20 m east: a candidate; 300 m away: not one.
        let dup = report(&second, (POINT.0 + 0.00024, POINT.1)).await;
        let far = report(&second, (POINT.0 + 0.0036, POINT.1)).await;
        let (_, c, _) = app.get_as(&format!("/v1/cases/{dup}"), &dispatcher).await;
        let candidates = c["duplicate_candidates"].as_array().unwrap();
        assert_eq!(candidates.len(), 1, "{c}");
        assert_eq!(candidates[0]["case_id"], master.as_str());
        let d = candidates[0]["distance_m"].as_f64().unwrap();
        assert!((15.0..25.0).contains(&d), "{d}");
        assert!(!c.to_string().contains(&far));
        // The candidates are staff-only.
        let (_, own, _) = app.get_as(&format!("/v1/cases/{dup}"), &second).await;
        assert!(own.get("duplicate_candidates").is_none(), "{own}");
        // Merge: the duplicate's reporter now follows the master, which counts two reporters.
        let c = act_ok(
            &app,
            &dispatcher,
            &dup,
            json!({"action": "merge", "into": master}),
        )
        .await;
        assert_eq!(c["state"], "merged");
        let (_, m, _) = app
            .get_as(&format!("/v1/cases/{master}"), &dispatcher)
            .await;
        assert_eq!(m["reporters"], 2, "{m}");
        assert_eq!(m["duplicates"], json!([{"case_id": dup}]), "{m}");
        let (status, _, _) = app.get_as(&format!("/v1/cases/{master}"), &second).await;
        assert_eq!(status, 200, "the duplicate's reporter follows the master");
        let (_, mine, _) = app.get_as("/v1/cases", &second).await;
        let ids: Vec<&str> = mine["cases"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["case_id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, [master.as_str(), dup.as_str(), far.as_str()]);
        // Merging into a merged or unrelated case is refused.
        let answer = act(
            &app,
            &dispatcher,
            &far,
            json!({"action": "merge", "into": dup}),
        )
        .await;
        assert_problem(&answer, 422, "invalid_merge");
    }
);

both_backends!(
    the_plan_library_is_edited_by_revision_and_every_dispatch_names_its_rule_version,
    |backend| async move {
        let app = TestApp::spawn(backend, &small_deployment()).await;
        let admin = app.token("admin", None).await;
        let dispatcher = app.token("dispatcher", None).await;
        app.staff(&["GDGS"]).await;
        let (status, plan, _) = app.get_as("/v1/dispatch-rules", &dispatcher).await;
        assert_eq!(status, 200, "{plan}");
        assert_eq!(plan["revision"], 1);
        assert_eq!(plan["author"], "shipped");
        let handler = app.token("handler", Some(STREET)).await;
        assert_problem(
            &app.get_as("/v1/dispatch-rules", &handler).await,
            403,
            "forbidden",
        );
        // A new first rule: a whole street dark goes to the power company within the hour.
        let mut rules = plan["rules"].as_array().unwrap().clone();
        let rule = json!({"id": "street-dark", "version": 1, "note": "整条街路灯不亮",
            "when": {"categories": ["0303"], "keywords": ["全黑", "整条街"]},
            "target": {"department": "GDGS"},
            "time_limit": {"duration": "PT1H", "calendar": "natural"}});
        rules.insert(0, rule.clone());
        let put = |body: Value| {
            let app = &app;
            let admin = admin.clone();
            async move {
                let r = app
                    .client
                    .put(app.url("/v1/dispatch-rules"))
                    .bearer_auth(admin)
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                read(r).await
            }
        };
        let (status, v, _) = put(json!({"revision": 1, "rules": rules})).await;
        assert_eq!(status, 200, "{v}");
        assert_eq!(v["revision"], 2);
        let (status, body, _) = app
            .post_json("/v1/reports", &report_at("0303", "整条街路灯全黑", POINT))
            .await;
        assert_eq!(status, 201, "{body}");
        let (_, c, _) = app
            .get_as(
                &format!("/v1/cases/{}", body["case_id"].as_str().unwrap()),
                &dispatcher,
            )
            .await;
        assert_eq!(c["unit"], json!({"department": "GDGS"}), "{c}");
        assert_eq!(c["rule"], json!({"id": "street-dark", "version": 1}));
        // A changed rule must raise its version; an edit of a stale revision is refused.
        rules[0]["time_limit"]["duration"] = json!("PT2H");
        assert_problem(
            &put(json!({"revision": 2, "rules": rules})).await,
            422,
            "invalid_rules",
        );
        rules[0]["version"] = json!(2);
        assert_problem(
            &put(json!({"revision": 1, "rules": rules})).await,
            409,
            "plan_changed",
        );
        let (status, v, _) = put(json!({"revision": 2, "rules": rules})).await;
        assert_eq!(status, 200, "{v}");
        let (_, body, _) = app
            .post_json("/v1/reports", &report_at("0303", "整条街路灯全黑了", POINT))
            .await;
        let (_, c, _) = app
            .get_as(
                &format!("/v1/cases/{}", body["case_id"].as_str().unwrap()),
                &dispatcher,
            )
            .await;
        assert_eq!(c["rule"], json!({"id": "street-dark", "version": 2}));
        rules[1]["id"] = json!("BAD ID");
        assert_problem(
            &put(json!({"revision": 3, "rules": rules})).await,
            422,
            "invalid_rules",
        );
        let r = app
            .client
            .put(app.url("/v1/dispatch-rules"))
            .bearer_auth(&dispatcher)
            .json(&json!({"revision": 3, "rules": []}))
            .send()
            .await
            .unwrap();
        assert_problem(&read(r).await, 403, "forbidden");
    }
);

/// The case a report just opened, as a dispatcher sees it.
async fn reported_case(app: &TestApp, dispatcher: &str, description: &str) -> Value {
    let (status, body, _) = app
        .post_json("/v1/reports", &report_at("0303", description, POINT))
        .await;
    assert_eq!(status, 201, "{body}");
    let id = body["case_id"].as_str().unwrap();
    app.get_as(&format!("/v1/cases/{id}"), dispatcher).await.1
}

both_backends!(
    a_plan_change_through_the_api_is_seen_by_the_very_next_report,
    |backend| async move {
        let app = TestApp::spawn(backend, &small_deployment()).await;
        let admin = app.token("admin", None).await;
        let dispatcher = app.token("dispatcher", None).await;
        app.staff(&["GDGS", "CGJ"]).await;
        // A first report: intake now holds the shipped rules.
        let before = reported_case(&app, &dispatcher, "整条街路灯全黑").await;
        assert_ne!(before["unit"], json!({"department": "GDGS"}), "{before}");
        let (_, plan, _) = app.get_as("/v1/dispatch-rules", &dispatcher).await;
        let mut rules = plan["rules"].as_array().unwrap().clone();
        rules.insert(
            0,
            json!({"id": "street-dark", "version": 1, "note": "整条街路灯不亮",
            "when": {"categories": ["0303"], "keywords": ["全黑"]},
            "target": {"department": "GDGS"}}),
        );
        let r = app
            .client
            .put(app.url("/v1/dispatch-rules"))
            .bearer_auth(&admin)
            .json(&json!({"revision": plan["revision"], "rules": rules}))
            .send()
            .await
            .unwrap();
        let (status, v, _) = read(r).await;
        assert_eq!(status, 200, "{v}");
        let after = reported_case(&app, &dispatcher, "整条街路灯全黑").await;
        assert_eq!(after["unit"], json!({"department": "GDGS"}), "{after}");
        assert_eq!(after["rule"], json!({"id": "street-dark", "version": 1}));
    }
);

both_backends!(
    a_department_staffed_through_the_api_is_seen_by_the_very_next_report,
    |backend| async move {
        let app = TestApp::spawn(backend, &small_deployment()).await;
        let admin = app.token("admin", None).await;
        let dispatcher = app.token("dispatcher", None).await;
        // Nobody works for 城管局 yet: intake holds a staff list without it.
        let before = reported_case(&app, &dispatcher, "路灯坏了").await;
        assert_ne!(before["unit"], json!({"department": "CGJ"}), "{before}");
        let (status, v, _) = app
            .post_as(
                "/v1/tokens",
                &admin,
                &json!({"role": "handler", "unit": "CGJ"}),
            )
            .await;
        assert_eq!(status, 201, "{v}");
        let after = reported_case(&app, &dispatcher, "路灯又坏了").await;
        assert_eq!(after["unit"], json!({"department": "CGJ"}), "{after}");
        assert_eq!(after["state"], "dispatched", "{after}");
    }
);

both_backends!(
    a_returned_case_suggests_the_next_candidate_and_goes_back_to_dispatch,
    |backend| async move {
        let app = TestApp::spawn(backend, &small_deployment()).await;
        let dispatcher = app.token("dispatcher", None).await;
        let cgj = app.token("handler", Some("CGJ")).await;
        let (status, body, _) = app
            .post_json("/v1/reports", &report_at("0303", "路灯坏了", POINT))
            .await;
        assert_eq!(status, 201, "{body}");
        let id = body["case_id"].as_str().unwrap().to_owned();
        let c = act_ok(
            &app,
            &cgj,
            &id,
            json!({"action": "return", "reason": "这段路灯归街道管"}),
        )
        .await;
        assert_eq!(c["state"], "returned");
        // 城管局 returned it: the next candidate is the street the report lies in.
        let (_, c, _) = app.get_as(&format!("/v1/cases/{id}"), &dispatcher).await;
        assert_eq!(c["suggested_target"]["kind"], "unit", "{c}");
        assert_eq!(c["suggested_target"]["code"], STREET, "{c}");
        assert_eq!(c["suggested_target"]["level"], "street", "{c}");
        let c = act_ok(
            &app,
            &dispatcher,
            &id,
            json!({"action": "dispatch", "target": {"unit": STREET}}),
        )
        .await;
        assert_eq!(c["state"], "dispatched");
        assert_eq!(c["unit"], json!({"unit": STREET}));
        assert_eq!(
            c["target"],
            json!({"kind": "unit", "code": STREET, "name": format!("测试{STREET}"), "level": "street"}),
            "{c}"
        );
        let (_, list, _) = app.get_as("/v1/cases?state=dispatched", &dispatcher).await;
        let row = list["cases"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["case_id"] == id.as_str());
        assert_eq!(row.map(|r| &r["target"]), Some(&c["target"]), "{list}");
        // The returning department no longer sees it; the street does.
        assert_eq!(app.get_as(&format!("/v1/cases/{id}"), &cgj).await.0, 404);
        let street = app.token("handler", Some(STREET)).await;
        assert_eq!(app.get_as(&format!("/v1/cases/{id}"), &street).await.0, 200);
    }
);

both_backends!(
    revoked_tokens_stop_working_and_token_issue_checks_units,
    |backend| async move {
        let app = TestApp::spawn(backend, &small_deployment()).await;
        let admin = app.token("admin", None).await;
        let (status, body, _) = app
            .post_as(
                "/v1/tokens",
                &admin,
                &json!({"role": "handler", "unit": STREET, "name": "张三"}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        let token = body["token"].as_str().unwrap().to_owned();
        let id = body["principal"]["id"].as_str().unwrap().to_owned();
        let (_, me, _) = app.get_as("/v1/me", &token).await;
        assert_eq!(
            me,
            json!({"id": id, "role": "handler", "unit": STREET, "name": "张三"})
        );
        assert_eq!(
            app.delete_as(&format!("/v1/principals/{id}/tokens"), &admin)
                .await
                .1["revoked"],
            1
        );
        assert_problem(&app.get_as("/v1/me", &token).await, 401, "invalid_token");
        for (body, status, code) in [
            (json!({"role": "handler"}), 422, "invalid_unit"),
            (
                json!({"role": "handler", "unit": "211103999"}),
                422,
                "invalid_unit",
            ),
            (
                json!({"role": "grid_worker", "unit": "CGJ"}),
                422,
                "invalid_unit",
            ),
            (
                json!({"role": "dispatcher", "unit": STREET}),
                422,
                "invalid_unit",
            ),
            (json!({"role": "resident"}), 422, "invalid_role"),
            (json!({"role": "system"}), 422, "invalid_role"),
            (json!({"role": "mayor"}), 422, "invalid_role"),
        ] {
            assert_problem(
                &app.post_as("/v1/tokens", &admin, &body).await,
                status,
                code,
            );
        }
        let dispatcher = app.token("dispatcher", None).await;
        assert_problem(
            &app.post_as("/v1/tokens", &dispatcher, &json!({"role": "admin"}))
                .await,
            403,
            "forbidden",
        );
        // Malformed numbers are refused (registration itself: tests/api/registration.rs).
        assert_problem(
            &app.post_json("/v1/residents", &json!({"phone": "12345"}))
                .await,
            422,
            "invalid_phone",
        );
    }
);
