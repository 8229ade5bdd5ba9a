//! Merging duplicates under real concurrency (issue 8, item 1): two dispatchers merging two
//! cases into each other at the same moment must never leave both merged.

use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::*;
use crate::workflow::{POINT, report_at, small_deployment};

/// Files an anonymous report of graffiti (category 0106) and returns its case id.
async fn graffiti(app: &TestApp, at: (f64, f64)) -> String {
    let (status, body, _) = app
        .post_json("/v1/reports", &report_at("0106", "墙上有涂鸦", at))
        .await;
    assert_eq!(status, 201, "{body}");
    body["case_id"].as_str().expect("case_id").to_owned()
}

/// The answers a losing merge may get: the master is no longer open (422), the case was
/// merged already (409), or it kept changing (409).
fn assert_lost(answer: &(u16, Value, reqwest::header::HeaderMap)) {
    let code = answer.1["code"].as_str().unwrap_or_default();
    match (answer.0, code) {
        (422, "invalid_merge") => {
            let detail = answer.1["detail"].as_str().unwrap_or_default();
            assert!(detail.contains("open case"), "{}", answer.1);
        }
        (409, "illegal_transition" | "case_busy") => {}
        _ => panic!(
            "unexpected answer to a losing merge: {} {}",
            answer.0, answer.1
        ),
    }
}

both_backends!(
    opposite_merges_sent_at_once_leave_exactly_one_open_master,
    |backend| async move {
        let app = TestApp::spawn(backend, &small_deployment()).await;
        let dispatcher = app.token("dispatcher", None).await;
        for round in 0..4 {
            let x = graffiti(&app, POINT).await;
            let y = graffiti(&app, (POINT.0 + 0.0001, POINT.1)).await;
            // 5 merges of X into Y and 5 of Y into X, all in flight together.
            let sends = (0..10).map(|i| {
                let (from, into) = if i % 2 == 0 { (&x, &y) } else { (&y, &x) };
                let app = &app;
                let dispatcher = &dispatcher;
                async move {
                    let answer = app
                        .post_as(
                            &format!("/v1/cases/{from}/actions"),
                            dispatcher,
                            &json!({"action": "merge", "into": into}),
                        )
                        .await;
                    (from.clone(), answer)
                }
            });
            let answers = futures::future::join_all(sends).await;
            let winners: Vec<&String> = answers
                .iter()
                .filter(|(_, a)| a.0 == 200)
                .map(|(from, _)| from)
                .collect();
            assert!(!winners.is_empty(), "round {round}: no merge went through");
            assert!(
                winners.iter().all(|w| *w == winners[0]),
                "round {round}: both directions succeeded"
            );
            for (_, a) in answers.iter().filter(|(_, a)| a.0 != 200) {
                assert_lost(a);
            }
            let (merged, master) = if winners[0] == &x { (&x, &y) } else { (&y, &x) };
            let (_, m, _) = app
                .get_as(&format!("/v1/cases/{merged}"), &dispatcher)
                .await;
            assert_eq!(m["state"], "merged", "round {round}: {m}");
            assert_eq!(m["merged_into"], master.as_str(), "round {round}: {m}");
            let (_, open, _) = app
                .get_as(&format!("/v1/cases/{master}"), &dispatcher)
                .await;
            assert_ne!(open["state"], "merged", "round {round}: {open}");
            assert!(open["merged_into"].is_null(), "round {round}: {open}");
            assert_eq!(open["duplicates"], json!([{"case_id": merged}]), "{open}");
            // Exactly one merge event was recorded.
            let (_, log, _) = app
                .get_as(&format!("/v1/cases/{merged}/events"), &dispatcher)
                .await;
            let merges = log["events"]
                .as_array()
                .expect("events")
                .iter()
                .filter(|e| e["action"] == "merge")
                .count();
            assert_eq!(merges, 1, "round {round}: {log}");
        }
    }
);
