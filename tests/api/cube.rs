//! The report cube (issue 10, "interactive speed"): heat-maps and hotspots count from the
//! cases held in memory. Its counts are the store's under every filter, it sees a change
//! in the answer to the change, it comes back whole after a restart, and on PostGIS a
//! change made on one replica reaches another's cube.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use citysnap::domain::spatial::units::UnitCode;
use citysnap::domain::workflow::case::State;
use citysnap::domain::workflow::categories::CategoryCode;
use citysnap::store::analytics::CellCountQuery;
use h3o::Resolution;
use serde_json::json;

use crate::analytics::counts;
use crate::both_backends;
use crate::helpers::*;
use crate::workflow::{OTHER_STREET, STREET, act_ok, small_deployment};

const CATEGORIES: [&str; 4] = ["0301", "0302", "0101", "0102"];

/// Points spread over two streets of the small deployment and beyond them, with a
/// category each (a fixed golden-ratio walk: deterministic, no clusters at cell edges).
fn points() -> Vec<(f64, f64, &'static str)> {
    (0..36)
        .map(|i| {
            let k = f64::from(i);
            let lon = 122.05 + (k * 0.618_034).fract() * 0.06;
            let lat = 41.10 + (k * 0.414_214).fract() * 0.04;
            (lon, lat, CATEGORIES[i as usize % CATEGORIES.len()])
        })
        .collect()
}

async fn submit(app: &TestApp) -> Vec<String> {
    let mut ids = Vec::new();
    for (lon, lat, category) in points() {
        let body = json!({
            "description": "立方体测试",
            "category": category,
            "location": {"lon": lon, "lat": lat},
        });
        let (status, body, _) = app.post_json("/v1/reports", &body).await;
        assert_eq!(status, 201, "{body}");
        ids.push(body["case_id"].as_str().expect("case id").to_owned());
    }
    ids
}

/// What the store itself counts for the same query, read past the cube.
async fn store_counts(app: &TestApp, q: &CellCountQuery) -> BTreeMap<String, i64> {
    let mut out = BTreeMap::new();
    for row in app.store.cell_counts(q).await.expect("store counts") {
        *out.entry(format!("{:x}", u64::from(row.cell))).or_default() += row.n;
    }
    out.retain(|_, n| *n > 0);
    out
}

/// The filters compared: (query string, the same as a store query at `res`).
fn filters(res: Resolution) -> Vec<(String, CellCountQuery)> {
    let today: NaiveDate = deployment_today().parse().expect("today");
    let base = CellCountQuery {
        res,
        from: None,
        to: None,
        category: None,
        bbox: None,
        unit: None,
        states: Vec::new(),
    };
    vec![
        (String::new(), base.clone()),
        (
            "&category=03".into(),
            CellCountQuery {
                category: CategoryCode::parse("03").ok(),
                ..base.clone()
            },
        ),
        (
            "&category=0102".into(),
            CellCountQuery {
                category: CategoryCode::parse("0102").ok(),
                ..base.clone()
            },
        ),
        (
            format!("&unit={STREET}"),
            CellCountQuery {
                unit: UnitCode::parse(STREET).ok(),
                ..base.clone()
            },
        ),
        (
            format!("&unit={OTHER_STREET}&category=01"),
            CellCountQuery {
                unit: UnitCode::parse(OTHER_STREET).ok(),
                category: CategoryCode::parse("01").ok(),
                ..base.clone()
            },
        ),
        (
            "&status=cancelled".into(),
            CellCountQuery {
                states: vec![State::Cancelled],
                ..base.clone()
            },
        ),
        (
            "&status=submitted,dispatched".into(),
            CellCountQuery {
                states: vec![State::Submitted, State::Dispatched],
                ..base.clone()
            },
        ),
        (
            format!("&from={today}&to={today}"),
            CellCountQuery {
                from: Some(today),
                to: Some(today),
                ..base.clone()
            },
        ),
        (
            "&from=2020-01-01&to=2020-12-31".into(),
            CellCountQuery {
                from: NaiveDate::from_ymd_opt(2020, 1, 1),
                to: NaiveDate::from_ymd_opt(2020, 12, 31),
                ..base
            },
        ),
    ]
}

async fn assert_cube_matches_store(app: &TestApp, planner: &str) {
    for res in [5u8, 8, 10, 12] {
        let res = Resolution::try_from(res).expect("res");
        for (params, q) in filters(res) {
            let url = format!("/v1/analytics/hexbins?res={}{params}", u8::from(res));
            let (status, fc, _) = app.get_as(&url, planner).await;
            assert_eq!(status, 200, "{url}: {fc}");
            assert_eq!(counts(&fc), store_counts(app, &q).await, "{url}");
        }
    }
}

both_backends!(
    the_cube_counts_what_the_store_counts_under_every_filter,
    |backend| async move {
        let app = TestApp::spawn(backend, &small_deployment()).await;
        assert!(app.state.analytics.ready(), "the test app loads the cube");
        let ids = submit(&app).await;
        let dispatcher = app.token("dispatcher", None).await;
        for id in ids.iter().step_by(3) {
            act_ok(
                &app,
                &dispatcher,
                id,
                json!({"action": "cancel", "reason": "重复上报"}),
            )
            .await;
        }
        let planner = app.token("planner", None).await;
        let (_, cancelled, _) = app
            .get_as("/v1/analytics/hexbins?res=5&status=cancelled", &planner)
            .await;
        assert_eq!(
            counts(&cancelled).values().sum::<i64>(),
            ids.iter().step_by(3).count() as i64,
            "each cancellation is counted at once: {cancelled}"
        );
        assert_cube_matches_store(&app, &planner).await;
        // After a restart the cube is loaded from the store and still agrees.
        let app = app.restart().await;
        let planner = app.token("planner", None).await;
        assert_cube_matches_store(&app, &planner).await;
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgis_a_report_on_one_replica_reaches_the_others_cube() {
    let app = TestApp::spawn(Backend::Postgres, &small_deployment()).await;
    let replica = app.replica().await;
    let planner = replica.token("planner", None).await;
    let url = "/v1/analytics/hexbins?res=8";
    let (_, before, _) = replica.get_as(url, &planner).await;
    assert!(counts(&before).is_empty(), "{before}");
    submit(&app).await;
    let expected = points().len() as i64;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, fc, _) = replica.get_as(url, &planner).await;
        assert_eq!(status, 200, "{fc}");
        let seen = counts(&fc).values().sum::<i64>();
        if seen == expected {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the replica counts {seen} of {expected} reports: {fc}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
