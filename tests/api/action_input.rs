//! Case actions take only what intake would (issue 8, "Input"): assignees who work for the
//! target, text without control characters and of bounded length, reply-by times ahead;
//! and every refusal names the field the client sent and what it should be.

use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::*;
use crate::workflow::{OTHER_STREET, POINT, STREET, act, act_ok, report_at, small_deployment};

/// A report of 0303 (street lights, sent to 城管局 on intake) and its case id.
async fn street_light_case(app: &TestApp) -> String {
    let (status, body, _) = app
        .post_json("/v1/reports", &report_at("0303", "路灯坏了", POINT))
        .await;
    assert_eq!(status, 201, "{body}");
    body["case_id"].as_str().unwrap().to_owned()
}

async fn id_of(app: &TestApp, token: &str) -> String {
    let (_, me, _) = app.get_as("/v1/me", token).await;
    me["id"].as_str().unwrap().to_owned()
}

/// The problem's detail, after checking status, code and the `field` it names.
fn refused(answer: &(u16, Value, reqwest::header::HeaderMap), code: &str, field: &str) -> String {
    assert_problem(answer, 422, code);
    assert_eq!(answer.1["field"], field, "{}", answer.1);
    answer.1["detail"].as_str().unwrap().to_owned()
}

both_backends!(
    an_assignee_must_work_for_the_target_unit,
    |backend| async move {
        let app = TestApp::spawn(backend, &small_deployment()).await;
        let dispatcher = app.token("dispatcher", None).await;
        app.staff(&["CGJ"]).await;
        let street = app.token("handler", Some(STREET)).await;
        let other = app.token("handler", Some(OTHER_STREET)).await;
        let id = street_light_case(&app).await;
        let dispatch = |assignee: Value| json!({"action": "dispatch", "target": {"unit": STREET}, "assignee": assignee});
        let long = "u".repeat(10_000);
        for assignee in [
            json!("u-nobody"),
            json!(long),
            json!(""),
            json!(id_of(&app, &other).await),
            json!(id_of(&app, &dispatcher).await),
        ] {
            let answer = act(&app, &dispatcher, &id, dispatch(assignee.clone())).await;
            let detail = refused(&answer, "invalid_assignee", "assignee");
            assert!(detail.chars().count() < 300, "{detail}");
        }
        let (_, c, _) = app.get_as(&format!("/v1/cases/{id}"), &dispatcher).await;
        assert_eq!(c["state"], "dispatched", "nothing was appended: {c}");
        assert_eq!(c["unit"], json!({"department": "CGJ"}), "{c}");
        let street_id = id_of(&app, &street).await;
        let c = act_ok(&app, &dispatcher, &id, dispatch(json!(street_id))).await;
        assert_eq!(c["assignee"], street_id, "{c}");
    }
);

both_backends!(
    reasons_notes_and_comments_refuse_control_characters_and_excess_length,
    |backend| async move {
        let app = TestApp::spawn(backend, &small_deployment()).await;
        let dispatcher = app.token("dispatcher", None).await;
        let cgj = app.token("handler", Some("CGJ")).await;
        let id = street_light_case(&app).await;
        for bad in [
            "坏了\u{0}",
            "\u{1b}[31m红色\u{1b}[0m",
            "\u{7}",
            &"长".repeat(4_001),
        ] {
            let answer = act(
                &app,
                &dispatcher,
                &id,
                json!({"action": "park", "reason": bad}),
            )
            .await;
            refused(&answer, "invalid_reason", "reason");
            let answer = act(&app, &cgj, &id, json!({"action": "return", "reason": bad})).await;
            refused(&answer, "invalid_reason", "reason");
        }
        act_ok(&app, &cgj, &id, json!({"action": "accept"})).await;
        let answer = act(
            &app,
            &cgj,
            &id,
            json!({"action": "progress", "note": "已到场\u{1b}[2J"}),
        )
        .await;
        let detail = refused(&answer, "invalid_payload", "note");
        assert!(detail.contains("control character"), "{detail}");
        // Line breaks are text, not control: a note may have several lines.
        let c = act_ok(
            &app,
            &cgj,
            &id,
            json!({"action": "progress", "note": "已到场\n正在更换灯泡"}),
        )
        .await;
        assert_eq!(c["state"], "in_progress");
        let (_, log, _) = app
            .get_as(&format!("/v1/cases/{id}/events"), &dispatcher)
            .await;
        assert!(!log.to_string().contains("\\u001b"), "{log}");
    }
);

both_backends!(
    a_reply_by_time_must_lie_ahead_and_be_a_time,
    |backend| async move {
        let app = TestApp::spawn(backend, &small_deployment()).await;
        let leader = app.token("leader", None).await;
        app.staff(&["CGJ"]).await;
        let id = street_light_case(&app).await;
        let supervise = |reply_by: &str| json!({"action": "supervise", "opinion": "请尽快处理", "reply_by": reply_by});
        let answer = act(&app, &leader, &id, supervise("1970-01-01T00:00:00Z")).await;
        let detail = refused(&answer, "invalid_reply_by", "reply_by");
        assert!(detail.contains("past"), "{detail}");
        let answer = act(&app, &leader, &id, supervise("tomorrow")).await;
        let detail = refused(&answer, "invalid_payload", "reply_by");
        assert!(detail.contains("RFC 3339"), "{detail}");
        assert!(detail.contains("\"tomorrow\""), "{detail}");
        assert!(!detail.contains("invalid characters"), "{detail}");
        let soon = (chrono::Utc::now() + chrono::TimeDelta::days(2)).to_rfc3339();
        let c = act_ok(&app, &leader, &id, supervise(&soon)).await;
        assert_eq!(c["open_supervisions"], 1, "{c}");
    }
);

both_backends!(
    a_refused_action_names_the_field_sent_and_what_it_should_be,
    |backend| async move {
        let app = TestApp::spawn(backend, &small_deployment()).await;
        let dispatcher = app.token("dispatcher", None).await;
        let cgj = app.token("handler", Some("CGJ")).await;
        let id = street_light_case(&app).await;
        // A merge without `into`: the field it lacks, not serde's `payload`.
        let answer = act(&app, &dispatcher, &id, json!({"action": "merge"})).await;
        let detail = refused(&answer, "invalid_payload", "into");
        assert!(detail.contains("`into`"), "{detail}");
        assert!(!detail.contains("payload"), "{detail}");
        // A field an action does not take: named, and what the action takes instead.
        let answer = act(&app, &cgj, &id, json!({"action": "accept", "note": "好的"})).await;
        let detail = refused(&answer, "invalid_payload", "note");
        assert!(detail.contains("accept takes no fields"), "{detail}");
        assert!(!detail.contains("variant"), "{detail}");
        let answer = act(
            &app,
            &dispatcher,
            &id,
            json!({"action": "merge", "into": "XL-1", "priority": 1}),
        )
        .await;
        let detail = refused(&answer, "invalid_payload", "priority");
        assert!(detail.contains("`into`"), "{detail}");
        // A wrong type names the field and the type.
        let answer = act(
            &app,
            &dispatcher,
            &id,
            json!({"action": "dispatch", "target": {"unit": STREET}, "time_limit": "two days"}),
        )
        .await;
        let detail = refused(&answer, "invalid_payload", "time_limit");
        assert!(detail.contains("ISO-8601"), "{detail}");
        // An unknown action lists the actions there are.
        let answer = act(&app, &dispatcher, &id, json!({"action": "fix"})).await;
        assert_problem(&answer, 422, "invalid_action");
        assert_eq!(answer.1["field"], "action", "{}", answer.1);
        assert!(
            answer.1["detail"].as_str().unwrap().contains("dispatch"),
            "{}",
            answer.1
        );
    }
);
