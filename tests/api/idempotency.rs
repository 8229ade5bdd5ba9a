//! `Idempotency-Key` on intake (issue 8, items 2 and 3): a key belongs to the caller that
//! sent it (a principal, or an anonymous client's address), and a retry is recognised by
//! what it says, not by its bytes.

use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::*;
use crate::media::fixtures;

fn report() -> Value {
    json!({
        "description": "井盖缺失，很危险",
        "category": "0301",
        "location": {"lon": 122.07, "lat": 41.12, "accuracy_m": 8.0},
        "contact": {"name": "赵先生", "phone": "13904271234"}
    })
}

/// Posts `body` as it is (bytes chosen by the caller) with an idempotency key, as `token`
/// (or anonymously).
async fn post(
    app: &TestApp,
    token: Option<&str>,
    key: &str,
    body: String,
) -> (u16, Value, reqwest::header::HeaderMap) {
    let mut r = app
        .client
        .post(app.url("/v1/reports"))
        .header("idempotency-key", key)
        .header("content-type", "application/json")
        .body(body);
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    read(r.send().await.expect("POST")).await
}

fn case_id(answer: &(u16, Value, reqwest::header::HeaderMap)) -> String {
    assert_eq!(answer.0, 201, "{}", answer.1);
    answer.1["case_id"].as_str().expect("case_id").to_owned()
}

fn replayed(answer: &(u16, Value, reqwest::header::HeaderMap)) -> bool {
    answer.2.get("idempotent-replayed").is_some()
}

both_backends!(
    another_callers_idempotency_key_is_an_unrelated_key,
    |backend| async move {
        let app = TestApp::spawn(backend, &xinglongtai()).await;
        let body = report().to_string();
        let alice = app.resident("13600000001").await;
        let bob = app.resident("13600000002").await;
        let anonymous = post(&app, None, "K", body.clone()).await;
        let anonymous_case = case_id(&anonymous);
        // A resident sending the same body with the same key makes a case of their own.
        let a = post(&app, Some(&alice), "K", body.clone()).await;
        assert!(!replayed(&a), "{:?}", a.2);
        let alice_case = case_id(&a);
        assert_ne!(alice_case, anonymous_case);
        let (status, mine, _) = app
            .get_as(&format!("/v1/reports/{alice_case}"), &alice)
            .await;
        assert_eq!(status, 200, "{mine}");
        // So does another resident; and a different body under someone else's key is not
        // "reused".
        let b = post(&app, Some(&bob), "K", body.clone()).await;
        let bob_case = case_id(&b);
        assert!(!replayed(&b));
        assert!(![&anonymous_case, &alice_case].contains(&&bob_case));
        let mut other = report();
        other["description"] = json!("另一处井盖也缺了");
        let third = post(
            &app,
            Some(&app.resident("13600000003").await),
            "K",
            other.to_string(),
        )
        .await;
        assert!(!replayed(&third));
        case_id(&third);
        // Each caller's own retry still replays their own case.
        for (token, case) in [
            (None, &anonymous_case),
            (Some(alice.as_str()), &alice_case),
            (Some(bob.as_str()), &bob_case),
        ] {
            let again = post(&app, token, "K", body.clone()).await;
            assert!(replayed(&again), "{:?}", again.1);
            assert_eq!(&case_id(&again), case);
        }
        // Alice does not see the anonymous case through her key.
        let (status, _, _) = app
            .get_as(&format!("/v1/reports/{anonymous_case}"), &alice)
            .await;
        assert_eq!(status, 404);
    }
);

both_backends!(
    the_same_json_reformatted_replays_and_a_changed_one_is_refused,
    |backend| async move {
        let app = TestApp::spawn(backend, &xinglongtai()).await;
        let compact = report().to_string();
        let first = post(&app, None, "reindent-1", compact.clone()).await;
        let case = case_id(&first);
        // Re-indented, fields in another order, a default spelled out, a number written
        // differently: the same request.
        let reformatted = r#"{
            "location": {
                "lat": 41.120,   "lon": 122.07,
                "accuracy_m": 8,
                "datum": "wgs84"
            },
            "contact": {"phone": "13904271234", "name": "赵先生"},
            "category": "0301",
            "description": "井盖缺失，很危险"
        }"#;
        let pretty = serde_json::to_string_pretty(&report()).expect("json");
        for body in [pretty, reformatted.to_owned()] {
            let again = post(&app, None, "reindent-1", body.clone()).await;
            assert!(replayed(&again), "{body} → {}", again.1);
            assert_eq!(case_id(&again), case);
        }
        // A different request under the same key is still refused.
        let mut changed = report();
        changed["location"]["lon"] = json!(122.0701);
        assert_problem(
            &post(&app, None, "reindent-1", changed.to_string()).await,
            422,
            "idempotency_key_reused",
        );
    }
);

fn multipart(report: &str, photo: Vec<u8>) -> Form {
    Form::new()
        .part(
            "report",
            Part::text(report.to_owned())
                .mime_str("application/json")
                .expect("mime"),
        )
        .part("photo", Part::bytes(photo).file_name("photo.jpg"))
}

both_backends!(
    a_multipart_retry_is_recognised_by_its_report_and_media,
    |backend| async move {
        let app = TestApp::spawn(backend, &xinglongtai()).await;
        let send = |form: Form| {
            let app = &app;
            async move {
                read(
                    app.client
                        .post(app.url("/v1/reports"))
                        .header("idempotency-key", "photo-retry")
                        .multipart(form)
                        .send()
                        .await
                        .expect("POST"),
                )
                .await
            }
        };
        let photo = fixtures::jpeg(&[fixtures::jfif()]);
        let first = send(multipart(&report().to_string(), photo.clone())).await;
        let case = case_id(&first);
        // The same report re-indented, the same photo (another boundary, another file name).
        let pretty = serde_json::to_string_pretty(&report()).expect("json");
        let again = send(multipart(&pretty, photo.clone())).await;
        assert!(replayed(&again), "{}", again.1);
        assert_eq!(case_id(&again), case);
        // Another photo is another request, even one whose stored copy (location metadata
        // stripped) is byte for byte the first one's.
        let other_photo = fixtures::jpeg(&[
            fixtures::jfif(),
            fixtures::exif_app1(&fixtures::exif_tiff(&fixtures::xinglongtai_gps())),
        ]);
        assert_problem(
            &send(multipart(&report().to_string(), other_photo)).await,
            422,
            "idempotency_key_reused",
        );
    }
);
