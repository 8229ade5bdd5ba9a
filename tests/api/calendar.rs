//! The working calendar's coverage (issue 8): `/readyz` tells how far it reaches, and a
//! working-time deadline past it is marked provisional in the case.

use citysnap::domain::workflow::calendar::{CalendarConfig, WorkingCalendar};
use serde_json::json;

use crate::both_backends;
use crate::helpers::*;
use crate::workflow::{POINT, add_category, report_at, small_deployment};

fn local_today() -> chrono::NaiveDate {
    chrono::NaiveDate::parse_from_str(&deployment_today(), "%Y-%m-%d").unwrap()
}

both_backends!(
    readyz_reports_the_last_day_the_calendar_covers,
    |backend| async move {
        let app = TestApp::spawn(backend, &small_deployment()).await;
        let (status, ready, _) = app.get("/readyz").await;
        assert_eq!(status, 200, "{ready}");
        let until = chrono::NaiveDate::from_ymd_opt(2026, 12, 31).unwrap();
        assert_eq!(ready["calendar"]["covers_from"], "2025-01-01", "{ready}");
        assert_eq!(ready["calendar"]["covers_until"], "2026-12-31", "{ready}");
        let left = (until - local_today()).num_days();
        assert_eq!(ready["calendar"]["days_left"], left, "{ready}");
        assert_eq!(
            ready["calendar"]["warning"].is_string(),
            left <= 60,
            "{ready}"
        );
    }
);

both_backends!(
    a_working_time_deadline_past_the_covered_period_is_provisional,
    |backend| async move {
        // A calendar whose coverage ends three days from now.
        let mut config = CalendarConfig::china();
        config.holidays.clear();
        config.extra_working_days.clear();
        config.covers = format!("2025-01-01/{}", local_today() + chrono::TimeDelta::days(3));
        let calendar = WorkingCalendar::try_from(config).unwrap();
        let app = TestApp::spawn_with(backend, &small_deployment(), |c| {
            c.api.calendar = calendar;
        })
        .await;
        let admin = app.token("admin", None).await;
        app.staff(&["CGJ"]).await;
        for (code, limit, calendar) in [
            ("9821", "P10D", "working"),
            ("9822", "PT1H", "working"),
            ("9823", "P10D", "natural"),
        ] {
            add_category(
                &app,
                &admin,
                json!({
                    "code": code, "name": "日历测试", "kind": "problem",
                    "handler": {"department": "CGJ"}, "time_limit": limit, "calendar": calendar
                }),
            )
            .await;
        }
        let dispatcher = app.token("dispatcher", None).await;
        let mut provisional = Vec::new();
        for code in ["9821", "9822", "9823"] {
            let (status, body, _) = app
                .post_json("/v1/reports", &report_at(code, "日历测试", POINT))
                .await;
            assert_eq!(status, 201, "{body}");
            let id = body["case_id"].as_str().unwrap();
            let (_, c, _) = app.get_as(&format!("/v1/cases/{id}"), &dispatcher).await;
            assert!(c["deadline"].is_string(), "{c}");
            provisional.push(c["deadline_provisional"].as_bool().expect("a flag"));
        }
        // Ten working days run past the covered period; an hour does not; natural time
        // needs no calendar.
        assert_eq!(provisional, [true, false, false]);
    }
);
