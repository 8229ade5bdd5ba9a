//! The living demo (issue 11): `serve --demo` gives staff for every role and a year of
//! synthetic history that went through the workflow; demo sign-in hands out their tokens.

use std::collections::{BTreeMap, BTreeSet};

use chrono::Utc;
use citysnap::api::demo::DemoSignIn;
use citysnap::demo::jurisdiction::{build_demo, demo_district, interior_point_of};
use citysnap::demo::{DemoPlan, populate};
use citysnap::domain::workflow::case::{Role, State, fold};
use citysnap::store::{CaseQuery, CaseScope};
use serde_json::json;

use crate::both_backends;
use crate::helpers::*;

/// A smaller history on PostGIS keeps the suite quick; the shape is the same.
fn plan_for(backend: Backend) -> DemoPlan {
    DemoPlan {
        reports: match backend {
            Backend::Sqlite => 20_000,
            Backend::Postgres => 3_000,
        },
        ..DemoPlan::standard(Utc::now())
    }
}

async fn demo_app(backend: Backend, sign_in: DemoSignIn) -> TestApp {
    let units = build_demo(&demo_district());
    TestApp::spawn_with(backend, &units, |c| c.api.demo_sign_in = sign_in).await
}

both_backends!(
    the_demo_history_went_through_the_workflow_and_every_log_folds,
    |backend| async move {
        let app = demo_app(backend, DemoSignIn::Open).await;
        let plan = plan_for(backend);
        let j = app.state.jurisdiction().unwrap();
        let stored = populate(
            app.store.as_ref(),
            app.state.media.as_ref(),
            &j,
            &app.state.settings,
            plan,
        )
        .await
        .expect("populate");
        assert_eq!(stored, Some(plan.reports));
        // A second start leaves it as it is.
        let again = populate(
            app.store.as_ref(),
            app.state.media.as_ref(),
            &j,
            &app.state.settings,
            plan,
        )
        .await
        .expect("populate again");
        assert_eq!(again, None);

        let now = Utc::now();
        let cases = app
            .store
            .list_cases(&CaseQuery {
                scope: CaseScope::All,
                states: Vec::new(),
                warning: None,
                unit: None,
                category: None,
                bbox: None,
                supervision_queue: false,
                now,
                limit: 1_000_000,
                after: None,
                submitted_from: None,
                submitted_until: None,
            })
            .await
            .unwrap();
        assert_eq!(cases.len(), plan.reports);
        let mut states: BTreeMap<State, usize> = BTreeMap::new();
        let mut warnings: BTreeMap<&str, usize> = BTreeMap::new();
        let (mut supervised, mut escalated_red, mut open) = (0, 0, 0);
        let mut categories = BTreeSet::new();
        for c in &cases {
            let events = app.store.case_events(&c.case_id).await.unwrap();
            let case = fold(events.iter().map(|e| &e.event))
                .unwrap_or_else(|e| panic!("{} does not fold: {e}", c.case_id));
            assert_eq!(case.state.as_str(), c.state, "{}", c.case_id);
            assert!(events.iter().all(|e| e.event.at <= now), "{}", c.case_id);
            *states.entry(case.state).or_default() += 1;
            if case.state.is_open() {
                open += 1;
                *warnings.entry(c.warning_level(now).as_str()).or_default() += 1;
            }
            supervised += usize::from(events.iter().any(|e| e.event.role == Role::Leader));
            escalated_red += usize::from(case.escalated_red);
            categories.insert(c.category.clone());
        }
        let n = plan.reports as f64;
        let share = |s: State| *states.get(&s).unwrap_or(&0) as f64 / n;
        assert!(
            share(State::Closed) + share(State::Rated) > 0.7,
            "{states:?}"
        );
        assert!(share(State::Rated) > 0.4, "{states:?}");
        assert!(share(State::Merged) > 0.01, "{states:?}");
        assert!(states.contains_key(&State::Invalid), "{states:?}");
        assert!(open as f64 > 0.01 * n, "open {open} {states:?}");
        assert!(
            warnings.get("yellow").copied().unwrap_or(0) > 0,
            "{warnings:?}"
        );
        assert!(
            warnings.get("red").copied().unwrap_or(0) > 0,
            "{warnings:?}"
        );
        assert!(
            supervised > 0 && escalated_red > supervised,
            "{supervised} {escalated_red}"
        );
        assert!(categories.len() >= 30, "{categories:?}");
        // Nothing is left for the deadline job to escalate.
        assert!(
            app.store
                .due_for_escalation(now, 10)
                .await
                .unwrap()
                .is_empty()
        );
        // Marked synthetic, clustered: the busiest tenth of the grids with cases holds well
        // over a tenth of the reports.
        let mut per_grid: BTreeMap<&str, usize> = BTreeMap::new();
        for c in &cases {
            *per_grid
                .entry(c.grid.as_deref().unwrap_or("-"))
                .or_default() += 1;
        }
        let mut counts: Vec<usize> = per_grid.values().copied().collect();
        counts.sort_unstable_by(|a, b| b.cmp(a));
        let top: usize = counts[..counts.len() / 10].iter().sum();
        assert!(
            top as f64 > 0.35 * n,
            "top tenth of grids hold {top} of {n}"
        );
        let dispatcher = app.token("dispatcher", None).await;
        let (status, body, _) = app
            .get_as(&format!("/v1/reports/{}", cases[0].case_id), &dispatcher)
            .await;
        assert_eq!(status, 200, "{body}");
        assert!(
            body["description"].as_str().unwrap().contains("演示数据"),
            "{body}"
        );

        // Live intake continues after the history and reaches the demo's staff.
        let p = interior_point_of(j.units(), "渤海街道").unwrap();
        let (status, body, _) = app
            .post_json(
                "/v1/reports",
                &json!({"description": "井盖缺失", "category": "0302", "location": {"lon": p.x, "lat": p.y}}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        let id = body["case_id"].as_str().unwrap().to_owned();
        assert!(cases.iter().all(|c| c.case_id != id), "{id} was taken");
        let (status, case, _) = app.get_as(&format!("/v1/cases/{id}"), &dispatcher).await;
        assert_eq!(status, 200, "{case}");
        assert_eq!(case["state"], "dispatched", "{case}");
        assert!(
            case["assignee"].as_str().unwrap().starts_with("u-demo-"),
            "{case}"
        );
    }
);

both_backends!(
    demo_sign_in_lists_every_role_and_hands_out_working_tokens,
    |backend| async move {
        let app = demo_app(backend, DemoSignIn::Open).await;
        let j = app.state.jurisdiction().unwrap();
        let plan = DemoPlan {
            reports: 300,
            ..DemoPlan::standard(Utc::now())
        };
        populate(
            app.store.as_ref(),
            app.state.media.as_ref(),
            &j,
            &app.state.settings,
            plan,
        )
        .await
        .unwrap();
        let (status, body, _) = app.get("/v1/demo/principals").await;
        assert_eq!(status, 200, "{body}");
        for role in [
            "dispatcher",
            "leader",
            "planner",
            "admin",
            "handler",
            "grid_worker",
            "resident",
        ] {
            assert!(
                body["roles"][role]
                    .as_array()
                    .is_some_and(|a| !a.is_empty()),
                "{role} missing: {body}"
            );
        }
        let handlers = body["roles"]["handler"].as_array().unwrap();
        for unit in ["CGJ", "ZJJ", "JJDD", "HWC"] {
            assert!(handlers.iter().any(|h| h["unit"] == unit), "{unit}");
        }
        let street = handlers
            .iter()
            .find(|h| h["unit"].as_str().is_some_and(|u| u.len() == 9))
            .unwrap();
        assert!(
            street["unit_name"].as_str().unwrap().ends_with("街道"),
            "{street}"
        );

        let id = body["roles"]["dispatcher"][0]["id"].as_str().unwrap();
        let (status, signed, _) = app
            .post_json("/v1/demo/sign-in", &json!({"principal": id}))
            .await;
        assert_eq!(status, 200, "{signed}");
        let token = signed["token"].as_str().unwrap();
        let (status, me, _) = app.get_as("/v1/me", token).await;
        assert_eq!(status, 200, "{me}");
        assert_eq!(me["role"], "dispatcher", "{me}");

        // A real principal never gets a token this way.
        let real = app.token("admin", None).await;
        let (_, me, _) = app.get_as("/v1/me", &real).await;
        let resp = app
            .post_json("/v1/demo/sign-in", &json!({"principal": me["id"]}))
            .await;
        assert_problem(&resp, 422, "invalid_principal");
    }
);

both_backends!(
    demo_sign_in_is_refused_off_loopback_and_absent_without_demo,
    |backend| async move {
        let app = demo_app(backend, DemoSignIn::Refused("0.0.0.0:8080".into())).await;
        let resp = app.get("/v1/demo/principals").await;
        assert_problem(&resp, 403, "forbidden");
        assert!(
            resp.1["detail"]
                .as_str()
                .unwrap()
                .contains("--demo-sign-in-anywhere"),
            "{}",
            resp.1
        );
        let resp = app
            .post_json("/v1/demo/sign-in", &json!({"principal": "u-demo-admin"}))
            .await;
        assert_problem(&resp, 403, "forbidden");

        let app = demo_app(backend, DemoSignIn::Off).await;
        let resp = app.get("/v1/demo/principals").await;
        assert_problem(&resp, 404, "not_found");
    }
);

both_backends!(
    a_store_that_took_reports_gets_the_demo_staff_but_no_history,
    |backend| async move {
        let app = demo_app(backend, DemoSignIn::Open).await;
        let j = app.state.jurisdiction().unwrap();
        let p = interior_point_of(j.units(), "渤海街道").unwrap();
        let (status, body, _) = app
            .post_json(
                "/v1/reports",
                &json!({"description": "路灯不亮", "category": "0303", "location": {"lon": p.x, "lat": p.y}}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        let plan = DemoPlan {
            reports: 500,
            ..DemoPlan::standard(Utc::now())
        };
        let stored = populate(
            app.store.as_ref(),
            app.state.media.as_ref(),
            &j,
            &app.state.settings,
            plan,
        )
        .await
        .unwrap();
        assert_eq!(stored, Some(0));
        let (status, body, _) = app.get("/v1/demo/principals").await;
        assert_eq!(status, 200, "{body}");
        assert!(
            body["roles"]["dispatcher"]
                .as_array()
                .is_some_and(|a| !a.is_empty()),
            "{body}"
        );
    }
);
