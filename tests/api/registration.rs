//! Resident registration (issue 8): the answer never tells whether a number is registered;
//! the code sent to the phone, confirmed, is what gives a token.

use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::*;

/// The answer's status, content type and set of fields: what may not differ between a known
/// and a new number.
fn shape(answer: &(u16, Value, reqwest::header::HeaderMap)) -> (u16, Option<String>, Vec<String>) {
    let (status, body, headers) = answer;
    let mut keys: Vec<String> = body
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    keys.sort();
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (*status, content_type, keys)
}

both_backends!(
    registering_a_known_number_answers_exactly_like_a_new_one,
    |backend| async move {
        let app = TestApp::spawn(backend, &[]).await;
        let (status, first) = app.confirm_registration("13900000001").await;
        assert_eq!(status, 201, "{first}");
        let resident = first["principal"]["id"].as_str().unwrap().to_owned();
        assert_eq!(first["principal"]["role"], "resident");

        let known = app
            .post_json("/v1/residents", &json!({"phone": "+86 139 0000 0001"}))
            .await;
        let new = app
            .post_json("/v1/residents", &json!({"phone": "13900000002"}))
            .await;
        assert_eq!(known.0, 202, "{}", known.1);
        assert_eq!(shape(&known), shape(&new));
        assert_ne!(known.1["registration"], new.1["registration"]);
        // Both numbers were sent a code: the phone, not the answer, tells its owner.
        let sent: Vec<String> = app.sms.sent().into_iter().map(|(p, _)| p).collect();
        assert_eq!(sent, ["13900000001", "13900000001", "13900000002"]);

        // Confirming the known number gives the same resident a new token.
        let code = app.sms.last_code("13900000001").unwrap();
        let (status, again, _) = app
            .post_json(
                "/v1/residents/confirm",
                &json!({"registration": known.1["registration"], "code": code}),
            )
            .await;
        assert_eq!(status, 200, "{again}");
        assert_eq!(again["principal"]["id"], resident.as_str());
        let token = again["token"].as_str().unwrap();
        let (_, me, _) = app.get_as("/v1/me", token).await;
        assert_eq!(me["id"], resident.as_str());
        // The first token still works.
        let (status, _, _) = app.get_as("/v1/me", first["token"].as_str().unwrap()).await;
        assert_eq!(status, 200);
    }
);

both_backends!(
    a_code_is_single_use_and_a_registration_takes_five_guesses,
    |backend| async move {
        let app = TestApp::spawn(backend, &[]).await;
        let register = |phone: &'static str| {
            let app = &app;
            async move {
                let (status, body, _) = app
                    .post_json("/v1/residents", &json!({"phone": phone}))
                    .await;
                assert_eq!(status, 202, "{body}");
                let code = app.sms.last_code(phone).unwrap();
                (body["registration"].as_str().unwrap().to_owned(), code)
            }
        };
        let confirm = |registration: String, code: String| {
            let app = &app;
            async move {
                app.post_json(
                    "/v1/residents/confirm",
                    &json!({"registration": registration, "code": code}),
                )
                .await
            }
        };
        let wrong = |code: &str| format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000);

        let (id, code) = register("13700000001").await;
        let answer = confirm(id.clone(), wrong(&code)).await;
        assert_problem(&answer, 422, "invalid_code");
        let answer = confirm(id.clone(), code.clone()).await;
        assert_eq!(answer.0, 201, "{}", answer.1);
        // Used once: the same code again is refused like a wrong one.
        assert_problem(
            &confirm(id.clone(), code.clone()).await,
            422,
            "invalid_code",
        );
        assert_problem(
            &confirm("r-nosuchregistration".into(), code.clone()).await,
            422,
            "invalid_code",
        );

        // Five wrong guesses use a registration up; the right code is refused after them.
        let (id, code) = register("13700000002").await;
        for _ in 0..5 {
            assert_problem(
                &confirm(id.clone(), wrong(&code)).await,
                422,
                "invalid_code",
            );
        }
        assert_problem(&confirm(id.clone(), code).await, 422, "invalid_code");
    }
);

both_backends!(
    one_number_is_sent_at_most_five_codes_an_hour_known_or_not,
    |backend| async move {
        let app = TestApp::spawn(backend, &[]).await;
        app.resident("13600000001").await;
        for phone in ["13600000001", "13600000002"] {
            let already = app.sms.sent().iter().filter(|(p, _)| p == phone).count();
            for _ in already..5 {
                let (status, body, _) = app
                    .post_json("/v1/residents", &json!({"phone": phone}))
                    .await;
                assert_eq!(status, 202, "{body}");
            }
            let answer = app
                .post_json("/v1/residents", &json!({"phone": phone}))
                .await;
            assert_problem(&answer, 429, "too_many_requests");
        }
        assert_problem(
            &app.post_json("/v1/residents", &json!({"phone": "12345"}))
                .await,
            422,
            "invalid_phone",
        );
    }
);
