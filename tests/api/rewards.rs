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
