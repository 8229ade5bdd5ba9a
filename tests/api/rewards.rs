//! The rewards export for the city's payment system (issue 8, item 15).

use crate::both_backends;
use crate::helpers::*;

/// The columns of `GET /v1/rewards/export`, as the README documents them.
const HEADER: &str = "case_id,resident,category,at,day,points,cash_fen";

both_backends!(
    an_empty_rewards_export_still_has_its_header,
    |backend| async move {
        let app = TestApp::spawn(backend, &xinglongtai()).await;
        let admin = app.token("admin", None).await;
        for query in ["", "?from=2026-01-01&to=2026-01-31"] {
            let r = app
                .client
                .get(app.url(&format!("/v1/rewards/export{query}")))
                .bearer_auth(&admin)
                .send()
                .await
                .expect("GET");
            assert_eq!(r.status(), 200);
            assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
            let csv = r.text().await.expect("body");
            assert_eq!(csv, format!("{HEADER}\n"), "query {query:?}");
        }
    }
);

both_backends!(
    concurrent_awards_to_one_resident_never_pass_the_daily_cap,
    |backend| async move {
        use citysnap::domain::workflow::categories::Category;
        use citysnap::domain::workflow::rewards::verified_credit;
        use citysnap::store::LedgerRow;

        let app = TestApp::spawn(backend, &xinglongtai()).await;
        let (_, registered) = app.confirm_registration("13900000009").await;
        let token = registered["token"].as_str().unwrap().to_owned();
        let resident = registered["principal"]["id"].as_str().unwrap().to_owned();
        let mut cases = Vec::new();
        for i in 0..20 {
            let body = serde_json::json!({"description": format!("奖励 {i}"), "category": "0301",
                "location": {"lon": 122.07, "lat": 41.12}});
            let (status, body, _) = app.post_as("/v1/reports", &token, &body).await;
            assert_eq!(status, 201, "{body}");
            cases.push(body["case_id"].as_str().unwrap().to_owned());
        }
        // Each case offers 10 points and 5 yuan; the cap is 100 points and 50 yuan a day.
        let category = Category {
            points: 10,
            cash_reward_fen: 500,
            ..citysnap::domain::workflow::categories::parse_category_file(
                citysnap::domain::workflow::categories::SHIPPED_CATEGORIES,
            )
            .expect("the shipped categories")
            .into_iter()
            .find(|c| c.code.as_str() == "0301")
            .expect("0301 ships")
        };
        let day = chrono::Utc::now().date_naive();
        let awards = cases.iter().map(|case_id| {
            let store = app.store.clone();
            let category = category.clone();
            let row = LedgerRow {
                case_id: case_id.clone(),
                resident: resident.clone(),
                category: "0301".into(),
                at: chrono::Utc::now(),
                day,
                points: 0,
                cash_fen: 0,
            };
            tokio::spawn(async move {
                let decide = move |points: i64, cash: i64| verified_credit(&category, points, cash);
                store.record_award(&row, &decide).await.expect("award")
            })
        });
        let results = futures::future::join_all(awards).await;
        let earned: Vec<LedgerRow> = results
            .into_iter()
            .filter_map(|r| r.expect("task"))
            .collect();
        let points: i32 = earned.iter().map(|r| r.points).sum();
        let cash: i32 = earned.iter().map(|r| r.cash_fen).sum();
        assert_eq!((earned.len(), points, cash), (10, 100, 5000), "{earned:?}");
        let ledger = app.store.ledger(Some(&resident), day, day).await.unwrap();
        assert_eq!(ledger.iter().map(|r| r.points).sum::<i32>(), 100);
    }
);

both_backends!(
    parallel_verifications_credit_each_with_its_event_and_never_pass_the_daily_cap,
    |backend| async move {
        use crate::workflow::{GRID, POINT, act, report_at, small_deployment};
        let app = TestApp::spawn(backend, &small_deployment()).await;
        let resident = app.resident("13600000002").await;
        let grid_worker = app.token("grid_worker", Some(GRID)).await;
        // 私搭乱建 (0701) is verified on site first and earns 10 points; the cap is 100.
        let mut cases = Vec::new();
        for i in 0..14 {
            let (status, body, _) = app
                .post_as(
                    "/v1/reports",
                    &resident,
                    &report_at("0701", &format!("楼下空地搭建铁皮房 {i}"), POINT),
                )
                .await;
            assert_eq!(status, 201, "{body}");
            cases.push(body["case_id"].as_str().unwrap().to_owned());
        }
        let verifications = cases.iter().map(|id| {
            let (app, token) = (&app, &grid_worker);
            async move { act(app, token, id, serde_json::json!({"action": "verify"})).await }
        });
        for (status, body, _) in futures::future::join_all(verifications).await {
            assert_eq!(status, 200, "{body}");
        }
        let (_, r, _) = app.get_as("/v1/me/rewards", &resident).await;
        assert_eq!(r["points"], 100, "{r}");
        let entries = r["entries"].as_array().unwrap();
        assert_eq!(entries.len(), 10, "{r}");
        // Each credit carries the moment of the verification that earned it: they were
        // written together.
        for entry in entries {
            let id = entry["case_id"].as_str().unwrap();
            let (_, t, _) = app
                .get_as(&format!("/v1/cases/{id}/events"), &grid_worker)
                .await;
            let verified = t["events"]
                .as_array()
                .unwrap()
                .iter()
                .find(|e| e["action"] == "verify")
                .unwrap_or_else(|| panic!("{t}"));
            let at = |v: &serde_json::Value| {
                chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap()).unwrap()
            };
            assert_eq!(
                at(&entry["at"]).timestamp_millis(),
                at(&verified["at"]).timestamp_millis(),
                "{entry} / {verified}"
            );
        }
    }
);
