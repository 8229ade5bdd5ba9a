//! Following a report without an account (issue 8, item 11): the secret intake answers
//! opens the reporter's view and rating of that case, and nothing else does.

use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::*;
use crate::workflow::{POINT, STREET, act_ok, report_at, small_deployment, upload_photo};

/// `GET /v1/follow-up` with this secret header value (or none).
async fn follow(app: &TestApp, secret: Option<&str>) -> (u16, Value, reqwest::header::HeaderMap) {
    let mut r = app.client.get(app.url("/v1/follow-up"));
    if let Some(s) = secret {
        r = r.header("follow-up-secret", s);
    }
    read(r.send().await.expect("GET")).await
}

async fn rate(
    app: &TestApp,
    secret: &str,
    body: Value,
) -> (u16, Value, reqwest::header::HeaderMap) {
    let r = app
        .client
        .post(app.url("/v1/follow-up/rating"))
        .header("follow-up-secret", secret)
        .json(&body)
        .send()
        .await
        .expect("POST");
    read(r).await
}

/// An anonymous report of graffiti at [`POINT`]: its case id and follow-up secret.
async fn anonymous_report(app: &TestApp) -> (String, String) {
    anonymous_report_of(app, "0106", "墙上有涂鸦").await
}

/// An anonymous report of `category` at [`POINT`]: its case id and follow-up secret.
async fn anonymous_report_of(app: &TestApp, category: &str, description: &str) -> (String, String) {
    let (status, body, _) = app
        .post_json("/v1/reports", &report_at(category, description, POINT))
        .await;
    assert_eq!(status, 201, "{body}");
    let secret = body["follow_up_secret"]
        .as_str()
        .expect("intake answers a follow-up secret")
        .to_owned();
    assert!(secret.starts_with("fu_") && secret.len() == 67, "{secret}");
    (
        body["case_id"].as_str().expect("case_id").to_owned(),
        secret,
    )
}

fn actions(view: &Value) -> Vec<&str> {
    view["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["action"].as_str().expect("action"))
        .collect()
}

both_backends!(
    an_anonymous_reporter_follows_and_rates_the_case_with_its_secret,
    |backend| async move {
        let app = TestApp::spawn(backend, &small_deployment()).await;
        let handler = app.token("handler", Some(STREET)).await;
        let dispatcher = app.token("dispatcher", None).await;
        let (id, secret) = anonymous_report(&app).await;
        // The reporter's view: the state and the public timeline, no personal data.
        let (status, view, _) = follow(&app, Some(&secret)).await;
        assert_eq!(status, 200, "{view}");
        assert_eq!(view["case_id"], id.as_str());
        assert_eq!(view["state"], "dispatched");
        assert_eq!(view["can_rate"], false);
        assert_eq!(actions(&view), ["submit", "dispatch"]);
        assert!(view["events"][0].get("actor").is_none(), "{view}");
        assert!(!view.to_string().contains("13912345678"), "{view}");
        // Rating before the case is closed is refused by the state machine.
        assert_problem(
            &rate(&app, &secret, json!({"score": 5})).await,
            409,
            "illegal_transition",
        );
        // The unit handles and closes it; the reporter sees it and rates it.
        let photo = upload_photo(&app, &handler).await;
        act_ok(&app, &handler, &id, json!({"action": "accept"})).await;
        act_ok(
            &app,
            &handler,
            &id,
            json!({"action": "resolve", "note": "已清除", "after_photos": [photo]}),
        )
        .await;
        act_ok(&app, &dispatcher, &id, json!({"action": "close"})).await;
        let (_, view, _) = follow(&app, Some(&secret)).await;
        assert_eq!(view["state"], "closed");
        assert_eq!(view["can_rate"], true);
        let (status, rated, _) = rate(&app, &secret, json!({"score": 5, "comment": "很快"})).await;
        assert_eq!(status, 200, "{rated}");
        assert_eq!(rated["state"], "rated");
        assert_eq!(rated["can_rate"], false);
        let last = rated["events"].as_array().expect("events").last().cloned();
        assert_eq!(
            last.as_ref().map(|e| e["action"].clone()),
            Some(json!("rate"))
        );
        assert_eq!(last.map(|e| e["details"]["score"].clone()), Some(json!(5)));
        // Staff see the rating in the case's log, by the anonymous reporter.
        let (_, log, _) = app
            .get_as(&format!("/v1/cases/{id}/events"), &dispatcher)
            .await;
        let rating = log["events"].as_array().expect("events").last().cloned();
        assert_eq!(
            rating.as_ref().map(|e| e["actor"].clone()),
            Some(json!("anonymous"))
        );
        // A second rating is refused.
        assert_problem(
            &rate(&app, &secret, json!({"score": 1})).await,
            409,
            "illegal_transition",
        );
    }
);

both_backends!(
    a_case_id_or_a_wrong_secret_opens_nothing,
    |backend| async move {
        let app = TestApp::spawn(backend, &small_deployment()).await;
        let (id, secret) = anonymous_report(&app).await;
        assert_problem(&follow(&app, None).await, 401, "follow_up_required");
        let wrong = format!("fu_{}", "0".repeat(64));
        for bad in [
            wrong.as_str(),
            "fu_short",
            id.as_str(),
            &secret[..secret.len() - 1],
        ] {
            assert_problem(&follow(&app, Some(bad)).await, 404, "follow_up_not_found");
            assert_problem(
                &rate(&app, bad, json!({"score": 5})).await,
                404,
                "follow_up_not_found",
            );
        }
        // The case id alone: every read of it still needs a token.
        for path in [
            format!("/v1/cases/{id}"),
            format!("/v1/cases/{id}/events"),
            format!("/v1/reports/{id}"),
        ] {
            assert_problem(&app.get(&path).await, 401, "unauthenticated");
        }
        // A resident's scoped reads are unchanged: someone else's case is 404.
        let stranger = app.resident("13700000009").await;
        let (status, _, _) = app.get_as(&format!("/v1/cases/{id}"), &stranger).await;
        assert_eq!(status, 404);
        // The secret is no bearer token.
        let (status, _, _) = app.get_as(&format!("/v1/cases/{id}"), &secret).await;
        assert_eq!(status, 401);
        // Secrets are per report: another report's secret opens the other case only.
        let (other, other_secret) = anonymous_report(&app).await;
        let (_, view, _) = follow(&app, Some(&other_secret)).await;
        assert_eq!(view["case_id"], other.as_str());
    }
);

both_backends!(
    a_replayed_intake_answers_a_secret_for_the_same_case,
    |backend| async move {
        let app = TestApp::spawn(backend, &small_deployment()).await;
        let send = || {
            let app = &app;
            async move {
                read(
                    app.client
                        .post(app.url("/v1/reports"))
                        .header("idempotency-key", "follow-retry")
                        .json(&report_at("0106", "墙上有涂鸦", POINT))
                        .send()
                        .await
                        .expect("POST"),
                )
                .await
            }
        };
        let (_, first, _) = send().await;
        let (_, again, headers) = send().await;
        assert_eq!(headers["idempotent-replayed"], "true");
        assert_eq!(first["case_id"], again["case_id"]);
        for answer in [&first, &again] {
            let secret = answer["follow_up_secret"].as_str().expect("secret");
            let (status, view, _) = follow(&app, Some(secret)).await;
            assert_eq!(status, 200, "{view}");
            assert_eq!(view["case_id"], first["case_id"]);
        }
    }
);

both_backends!(
    a_duplicates_reporter_follows_the_master_it_was_merged_into,
    |backend| async move {
        let app = TestApp::spawn(backend, &small_deployment()).await;
        let dispatcher = app.token("dispatcher", None).await;
        let (master, _) = anonymous_report(&app).await;
        let (dup, secret) = anonymous_report(&app).await;
        act_ok(
            &app,
            &dispatcher,
            &dup,
            json!({"action": "merge", "into": master}),
        )
        .await;
        let (status, view, _) = follow(&app, Some(&secret)).await;
        assert_eq!(status, 200, "{view}");
        assert_eq!(view["state"], "merged");
        assert_eq!(view["merged_into"], master.as_str());
        assert_eq!(view["master"]["case_id"], master.as_str());
        assert_eq!(view["master"]["state"], "dispatched");
        assert_eq!(actions(&view["master"]), ["submit", "dispatch"]);
    }
);

both_backends!(a_closed_praise_offers_no_rating, |backend| async move {
    let app = TestApp::spawn(backend, &small_deployment()).await;
    let dispatcher = app.token("dispatcher", None).await;
    let (id, secret) = anonymous_report_of(&app, "90", "感谢环卫工人及时清扫").await;
    act_ok(&app, &dispatcher, &id, json!({"action": "acknowledge"})).await;
    let (status, view, _) = follow(&app, Some(&secret)).await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["state"], "closed");
    // A praise closes when acknowledged and is not rated: nothing to offer the reporter.
    assert_eq!(view["can_rate"], false, "{view}");
    assert_problem(
        &rate(&app, &secret, json!({"score": 5})).await,
        409,
        "illegal_transition",
    );
});
